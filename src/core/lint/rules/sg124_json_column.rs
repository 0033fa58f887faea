//! SG124 json-column: a new column of type `json`.
//!
//! Why: `json` keeps the text as written and has no equality operator, so `SELECT
//! DISTINCT`, `UNION`, `GROUP BY` and unique indexes over it fail, and every access
//! re-parses the text. `jsonb` is parsed once, supports equality, containment
//! (`@>`) and GIN indexes. Use `jsonb` unless key order and duplicate keys must be kept
//! byte for byte. (strong_migrations' add_column :json check.)

use crate::core::lint::hazard::{base_type, check_new_columns};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct JsonColumn;

impl Rule for JsonColumn {
    fn code(&self) -> &'static str {
        "SG124"
    }
    fn name(&self) -> &'static str {
        "json-column"
    }
    fn summary(&self) -> &'static str {
        "a new column of type json instead of jsonb"
    }
    fn explanation(&self) -> &'static str {
        "json has no equality operator (SELECT DISTINCT, UNION, GROUP BY over it fail) and is re-parsed on every access. Use jsonb unless the exact text must be kept."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        check_new_columns(
            ctx,
            out,
            |c, t| {
                (base_type(t) == "json").then(|| {
                    format!("column `{}` of {} is json: it has no equality operator, so DISTINCT, UNION and GROUP BY over it fail", c.column.colname, c.table())
                })
            },
            "use jsonb",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG124", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_json() {
        assert_eq!(run("CREATE TABLE t (doc json);"), 1);
        assert_eq!(
            run("ALTER TABLE t ADD COLUMN doc json NOT NULL DEFAULT '{}';"),
            1
        );
    }

    #[test]
    fn quiet_on_jsonb() {
        assert_eq!(run("CREATE TABLE t (doc jsonb);"), 0);
    }
}
