//! SG116 truncate-cascade: `TRUNCATE … CASCADE`.
//!
//! Why: CASCADE also empties every table that has a foreign key to the named ones, and
//! every table referencing those, recursively — tables the statement does not name and
//! the reviewer does not see, possibly most of the database. It takes an ACCESS
//! EXCLUSIVE lock on all of them. Name every table to be emptied explicitly (TRUNCATE
//! without CASCADE fails if one is missing, which is what you want), or delete the
//! rows you mean with DELETE.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::DropBehavior;
use pg_query::NodeEnum;

pub struct TruncateCascade;

impl Rule for TruncateCascade {
    fn code(&self) -> &'static str {
        "SG116"
    }
    fn name(&self) -> &'static str {
        "truncate-cascade"
    }
    fn summary(&self) -> &'static str {
        "TRUNCATE … CASCADE"
    }
    fn explanation(&self) -> &'static str {
        "CASCADE also empties every table that references the named ones through a foreign key, recursively: tables the statement does not name, locked ACCESS EXCLUSIVE. Name every table to empty explicitly, without CASCADE."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            let Some(NodeEnum::TruncateStmt(t)) = &s.stmt.node else {
                continue;
            };
            if t.behavior != DropBehavior::DropCascade as i32 {
                continue;
            }
            out.stmt(
                s.file,
                s.stmt,
                "TRUNCATE … CASCADE also empties every table that references these through a foreign key, tables this statement does not name",
                Some("name every table to empty, without CASCADE".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG116", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_cascade() {
        assert_eq!(run("TRUNCATE a CASCADE;"), 1);
        assert_eq!(run("TRUNCATE TABLE a, b RESTART IDENTITY CASCADE;"), 1);
    }

    #[test]
    fn quiet_without_cascade() {
        assert_eq!(run("TRUNCATE a;"), 0);
        assert_eq!(run("TRUNCATE a, b RESTRICT;"), 0);
    }
}
