//! SG014 section-i-comments-only: section I (rollback reference) holds comments only.
//!
//! Why: doc 99.2 — section I is a "comment pointer to rollback/NN_*.sql". It is read,
//! not run. A statement there runs after the post-commit checks, outside the step's
//! transaction, and is usually a rollback pasted in "for reference" — which would undo
//! the step the moment it committed. The real rollback lives in the step's `rollback`
//! file, run only under its own authorization.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};

pub struct SectionIComments;

impl Rule for SectionIComments {
    fn code(&self) -> &'static str {
        "SG014"
    }
    fn name(&self) -> &'static str {
        "section-i-comments-only"
    }
    fn summary(&self) -> &'static str {
        "section I (rollback reference) contains comments only, no statements"
    }
    fn explanation(&self) -> &'static str {
        "Section I points at the rollback file in a comment (doc 99.2). Any statement written there would run right after the step, outside its transaction — a rollback pasted in for reference would undo the step as soon as it committed. Keep the rollback SQL in the step's `rollback` file and leave only a comment such as `-- see rollback/01_rollback.sql` here."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Step(_)))
        {
            for st in f.sql.statements.iter().filter(|s| s.section == Some('I')) {
                out.stmt(
                    f,
                    st,
                    "a statement in section I, which is a comment-only pointer to the rollback file",
                    Some("comment it out or move it to the rollback file; section I is never meant to run".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_statement_in_section_i() {
        let sql = format!("{}DROP TABLE t;\n", step_sql("SELECT 1;"));
        let d = of(
            "SG014",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].line, 21);
    }

    #[test]
    fn quiet_on_comments() {
        let sql = format!(
            "{}-- DROP TABLE t;\n/* see rollback/01.sql */\n",
            step_sql("SELECT 1;")
        );
        let d = of(
            "SG014",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
