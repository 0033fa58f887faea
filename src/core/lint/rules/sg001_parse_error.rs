//! SG001 parse-error: a SQL file the manifest names does not parse.
//!
//! Why: every other check reads the statements the real PostgreSQL parser finds in a
//! file. A file that does not parse cannot be linted, rehearsed or approved — and it
//! would fail at the worst moment, half-way through an apply. The diagnostic carries
//! the parser's own message at the failing token, and marks the run as bad input
//! (exit 2). Missing, unreadable and non-UTF-8 files are SG002's business.

use crate::core::lint::{BrokenFile, Emitter, LintContext, Rule, Severity};

pub struct ParseError;

impl Rule for ParseError {
    fn code(&self) -> &'static str {
        "SG001"
    }
    fn name(&self) -> &'static str {
        "parse-error"
    }
    fn summary(&self) -> &'static str {
        "a SQL file named by the manifest does not parse"
    }
    fn explanation(&self) -> &'static str {
        "stepgate parses every step, rollback, preflight and verify file with PostgreSQL's own parser (libpg_query). A syntax error means nothing else about the file can be checked and the file would fail when run. The message is the parser's; fix the statement it points at and lint again. This is bad input: lint exits 2."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (_, rel, broken) in &ctx.broken {
            let BrokenFile::Unparsable(e) = broken else {
                continue;
            };
            let (offset, len) = e.span.unwrap_or((0, 1));
            out.at(rel, &e.src, offset, len, e.message.clone(), e.help.clone());
            out.bad_input();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_syntax_error_with_location() {
        let d = lint_step("", "", "SELECT 1;\nCREAT TABLE t (id int);", "SELECT 1;");
        let d = of("SG001", &d);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("syntax error"), "{}", d[0].message);
        assert!(d[0].bad_input);
        assert_eq!(d[0].file, "01.sql");
        assert_eq!(d[0].line, 13, "{d:?}");
    }

    #[test]
    fn quiet_on_valid_files() {
        let d = lint_step("", "", "SELECT 1;", "SELECT 1;");
        assert!(of("SG001", &d).is_empty());
    }
}
