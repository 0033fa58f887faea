//! SG123 timestamp-without-time-zone: a new column of type `timestamp` (without time
//! zone).
//!
//! Why: a `timestamp` stores a wall-clock reading with no zone. Which instant it means
//! depends on the session that wrote it; comparing it with `now()` (a `timestamptz`)
//! converts through the reading session's `TimeZone`, so results change with a
//! client's setting and jump at daylight-saving changes. `timestamptz` stores an
//! instant (UTC) and converts only for display. Use `timestamptz`.

use crate::core::lint::hazard::{base_type, check_new_columns};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct TimestampWithoutTz;

impl Rule for TimestampWithoutTz {
    fn code(&self) -> &'static str {
        "SG123"
    }
    fn name(&self) -> &'static str {
        "timestamp-without-time-zone"
    }
    fn summary(&self) -> &'static str {
        "a new column of type timestamp (without time zone)"
    }
    fn explanation(&self) -> &'static str {
        "A timestamp without time zone is a wall-clock reading whose instant depends on the writer's TimeZone; comparisons with now() shift with session settings and daylight saving. Use timestamptz, which stores an instant."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        check_new_columns(
            ctx,
            out,
            |c, t| {
                (base_type(t) == "timestamp").then(|| {
                    format!("column `{}` of {} is timestamp without time zone: the instant it means depends on the writer's TimeZone", c.column.colname, c.table())
                })
            },
            "use timestamptz",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG123", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_timestamp() {
        assert_eq!(run("CREATE TABLE t (at timestamp);"), 1);
        assert_eq!(
            run("ALTER TABLE t ADD COLUMN at timestamp(3) without time zone;"),
            1
        );
    }

    #[test]
    fn quiet_on_timestamptz() {
        assert_eq!(
            run("CREATE TABLE t (a timestamptz, b timestamp with time zone);"),
            0
        );
    }
}
