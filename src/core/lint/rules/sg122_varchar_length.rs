//! SG122 varchar-with-length: a new column of type `varchar(n)`.
//!
//! Why: the length limit is a business rule written into the type. Raising it later
//! is cheap, but lowering it — or changing it on a column of a view's base table, or
//! one an index covers in some versions — is `ALTER COLUMN … TYPE`, which may rewrite
//! the table under an ACCESS EXCLUSIVE lock (SG103). PostgreSQL stores `text` and
//! `varchar` the same way. Use `text` with a `CHECK (length(c) <= n)` constraint: it can
//! be replaced `NOT VALID` and validated without blocking (SG104).

use crate::core::lint::hazard::{base_type, check_new_columns, has_typmod};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct VarcharLength;

impl Rule for VarcharLength {
    fn code(&self) -> &'static str {
        "SG122"
    }
    fn name(&self) -> &'static str {
        "varchar-with-length"
    }
    fn summary(&self) -> &'static str {
        "a new column of type varchar(n) instead of text with a CHECK"
    }
    fn explanation(&self) -> &'static str {
        "A length limit in the type can only be changed with ALTER COLUMN … TYPE, which may rewrite the table under ACCESS EXCLUSIVE; text and varchar are stored alike. Use text with CHECK (length(c) <= n), which can be swapped NOT VALID and validated without blocking."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        check_new_columns(
            ctx,
            out,
            |c, t| {
                (base_type(t) == "varchar" && has_typmod(t)).then(|| {
                    format!("column `{}` of {} is varchar(n): changing the limit later is an ALTER COLUMN TYPE that may rewrite the table", c.column.colname, c.table())
                })
            },
            "use text with CHECK (length(c) <= n)",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG122", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_varchar_n() {
        assert_eq!(run("CREATE TABLE t (name varchar(100));"), 1);
        assert_eq!(
            run("ALTER TABLE t ADD COLUMN name character varying(20);"),
            1
        );
    }

    #[test]
    fn quiet_on_text_and_plain_varchar() {
        assert_eq!(run("CREATE TABLE t (name text, v varchar);"), 0);
    }
}
