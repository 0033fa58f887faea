//! SG103 changing-column-type: `ALTER TABLE … ALTER COLUMN … TYPE` on a table that
//! already exists.
//!
//! Why: changing a column's type takes an ACCESS EXCLUSIVE lock — nothing, not even a
//! SELECT, can touch the table — and, unless the old and new types are
//! binary-coercible (`varchar(n)` to a wider `varchar` or to `text`, for instance),
//! rewrites every row and rebuilds every index on the table while holding it. On a
//! large table that is an outage. Clients that read the column may also break on the
//! new type. The rule cannot see the old type, so it warns on every type change.
//! Do it expand/contract instead: add a new column of the new type, keep it in sync
//! (trigger or dual writes), backfill it in batches, move clients over, and drop the
//! old column in a later pack. Tables created earlier in the same pack are exempt:
//! they are new and empty.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::AlterTableType;

pub struct ColumnTypeChange;

impl Rule for ColumnTypeChange {
    fn code(&self) -> &'static str {
        "SG103"
    }
    fn name(&self) -> &'static str {
        "changing-column-type"
    }
    fn summary(&self) -> &'static str {
        "ALTER COLUMN … TYPE on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Takes an ACCESS EXCLUSIVE lock (no reads, no writes) and, unless the types are binary-coercible, rewrites the whole table and rebuilds its indexes while holding it. Add a new column of the new type, keep it in sync, backfill it in batches, move clients over, then drop the old column in a later pack."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for a in alters_on_existing_tables(ctx) {
            let (c, table) = (a.cmd, &a.table);
            if c.subtype != AlterTableType::AtAlterColumnType as i32 {
                continue;
            }
            out.stmt(
                a.file,
                a.stmt,
                format!("column `{}` of existing table {table} changes type: ACCESS EXCLUSIVE lock and, usually, a full table rewrite", c.name),
                Some("add a new column of the new type, backfill it in batches, switch clients over, then drop the old one".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;
    use crate::core::lint::Severity;

    fn diags(extra_pack: &str, body: &str) -> Vec<crate::core::lint::Diagnostic> {
        of("SG103", &lint_step(extra_pack, "", body, "SELECT 1;"))
    }

    fn run(body: &str) -> usize {
        diags("", body).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c TYPE bigint;"), 1);
        assert_eq!(run("ALTER TABLE a ALTER c SET DATA TYPE text USING c::text, ALTER COLUMN d TYPE numeric(12,2);"), 2);
    }

    #[test]
    fn quiet_on_other_changes_or_new_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c SET DEFAULT 0;"), 0);
        assert_eq!(run("ALTER TABLE a ADD COLUMN c bigint;"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n ALTER COLUMN c TYPE bigint;"),
            0
        );
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step(
            "",
            "",
            "SELECT 1;",
            "ALTER TABLE a ALTER COLUMN c TYPE int;",
        );
        assert_eq!(of("SG103", &d).len(), 0);
    }

    #[test]
    fn pack_severity_override() {
        let body = "ALTER TABLE a ALTER COLUMN c TYPE bigint;";
        let default = diags("", body);
        assert_eq!(default.len(), 1);
        assert_eq!(default[0].severity, Severity::Warning);

        let raised = diags("lint.severity = { SG103 = \"error\" }", body);
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].severity, Severity::Error);

        assert_eq!(diags("lint.severity = { SG103 = \"off\" }", body).len(), 0);
    }
}
