//! SG121 char-column: a new column of type `char(n)` / `character(n)`.
//!
//! Why: `char(n)` pads every value with spaces to `n` characters, stores the padding,
//! and compares ignoring it, so `'a'` and `'a  '` are equal in the column but not once
//! cast to text, and a too-long value is an error. It is never faster than `text` or
//! `varchar` in PostgreSQL. Use `text` (with a `CHECK (length(c) <= n)` if the length
//! matters).

use crate::core::lint::hazard::{base_type, check_new_columns, has_typmod};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct CharColumn;

impl Rule for CharColumn {
    fn code(&self) -> &'static str {
        "SG121"
    }
    fn name(&self) -> &'static str {
        "char-column"
    }
    fn summary(&self) -> &'static str {
        "a new column of type char(n)/character(n)"
    }
    fn explanation(&self) -> &'static str {
        "char(n) pads values with spaces, stores the padding, compares ignoring it, and is never faster than text. Use text, with a CHECK on length() if the length matters."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        check_new_columns(
            ctx,
            out,
            |c, t| {
                let ty = base_type(t);
                // `"char"(n)` / `"character"(n)`: written as char(n), whatever the quoting.
                let quoted_char = matches!(ty, "char" | "character") && has_typmod(t);
                (ty == "bpchar" || quoted_char).then(|| {
                    format!("column `{}` of {} is char(n): values are space-padded and compare ignoring the padding", c.column.colname, c.table())
                })
            },
            "use text (with CHECK (length(c) <= n) if the length matters)",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG121", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_char() {
        assert_eq!(run("CREATE TABLE t (code char(3));"), 1);
        assert_eq!(run("CREATE TABLE t (code character(3), flag char);"), 2);
        assert_eq!(run("ALTER TABLE t ADD COLUMN code bpchar;"), 1);
        assert_eq!(run("CREATE TABLE t (c \"char\"(100));"), 1);
    }

    #[test]
    fn quiet_on_text_and_internal_char() {
        assert_eq!(run("CREATE TABLE t (code text, v varchar, k \"char\");"), 0);
    }
}
