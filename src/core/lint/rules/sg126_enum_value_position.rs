//! SG126 enum-value-without-position: `ALTER TYPE … ADD VALUE` without `BEFORE` or
//! `AFTER`.
//!
//! Why: an enum sorts in declaration order, not alphabetically, and `ORDER BY`, `<`,
//! `max()` and range partitions over the column follow that order. A value added
//! without a position goes last, which is rarely where it belongs (`'archived'` after
//! `'deleted'`), and the order cannot be changed afterwards without re-creating the
//! type. Say where it goes with `BEFORE 'x'` or `AFTER 'x'` (if last is right, write
//! `AFTER` the current last value so the reviewer sees it was meant).
//! Before PostgreSQL 12 (`[pack.target] server_version`), `ADD VALUE` also cannot run
//! inside a transaction block at all.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::NodeEnum;

pub struct EnumValuePosition;

impl Rule for EnumValuePosition {
    fn code(&self) -> &'static str {
        "SG126"
    }
    fn name(&self) -> &'static str {
        "enum-value-without-position"
    }
    fn summary(&self) -> &'static str {
        "ALTER TYPE … ADD VALUE without BEFORE/AFTER"
    }
    fn explanation(&self) -> &'static str {
        "Enums sort in declaration order; a value added without BEFORE/AFTER goes last, which changes ORDER BY and comparisons and cannot be reordered later. Say where it goes. (Before PostgreSQL 12, ADD VALUE cannot run in a transaction block.)"
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let old = ctx.server_before(12);
        for s in step_statements(ctx) {
            let Some(NodeEnum::AlterEnumStmt(e)) = &s.stmt.node else {
                continue;
            };
            if e.new_val.is_empty() || !e.old_val.is_empty() {
                continue;
            }
            if old && s.step.transactional {
                out.stmt(s.file, s.stmt, format!("ALTER TYPE … ADD VALUE '{}' cannot run inside a transaction block before PostgreSQL 12", e.new_val), Some("move it to a step with `transactional = false`".into()));
            } else if e.new_val_neighbor.is_empty() {
                out.stmt(s.file, s.stmt, format!("enum value '{}' is added without BEFORE/AFTER: it sorts last, which changes ORDER BY and comparisons on the column", e.new_val), Some("say where it goes: ADD VALUE 'x' BEFORE 'y' (or AFTER the current last value)".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG126", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_position() {
        assert_eq!(run("ALTER TYPE mood ADD VALUE 'meh';"), 1);
        assert_eq!(run("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh';"), 1);
        assert_eq!(
            of(
                "SG126",
                &lint_step_on("11", "ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';")
            )
            .len(),
            1
        );
    }

    #[test]
    fn quiet_with_position_or_rename() {
        assert_eq!(run("ALTER TYPE mood ADD VALUE 'meh' AFTER 'ok';"), 0);
        assert_eq!(run("ALTER TYPE mood ADD VALUE 'meh' BEFORE 'ok';"), 0);
        assert_eq!(run("ALTER TYPE mood RENAME VALUE 'a' TO 'b';"), 0);
    }
}
