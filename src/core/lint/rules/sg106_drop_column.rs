//! SG106 dropping-column: `ALTER TABLE … DROP COLUMN`.
//!
//! Why: the column's data is gone for good — a rollback can add the column back but
//! not its values — and every client that still selects, inserts or updates it breaks
//! the moment the drop commits (`SELECT *` consumers see a different row shape too).
//! `CASCADE` silently takes dependent views and constraints with it. The drop itself is
//! a quick catalog change, so this is about compatibility and data, not lock time.
//! Retire the column instead of deleting it in the same release that stops using it:
//! deploy clients that no longer read or write it, keep it (nullable) for a while,
//! back up its data if it may be needed, and drop it in a later pack.
//! Tables created earlier in the same pack are exempt: they hold no data yet.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::AlterTableType;

pub struct DropColumn;

impl Rule for DropColumn {
    fn code(&self) -> &'static str {
        "SG106"
    }
    fn name(&self) -> &'static str {
        "dropping-column"
    }
    fn summary(&self) -> &'static str {
        "ALTER TABLE … DROP COLUMN"
    }
    fn explanation(&self) -> &'static str {
        "Irreversible: a rollback can re-add the column but not its data, and every client still reading or writing it breaks when the drop commits. Stop using the column first (deploy clients without it), keep it for a release, back up its data if needed, and drop it in a later pack."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for a in alters_on_existing_tables(ctx) {
            let (c, table) = (a.cmd, &a.table);
            if c.subtype != AlterTableType::AtDropColumn as i32 {
                continue;
            }
            out.stmt(
                a.file,
                a.stmt,
                format!("dropping column `{}` of {table} destroys its data and breaks clients that still use it", c.name),
                Some("stop using the column first and drop it in a later pack, after its data is backed up if needed".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG106", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a DROP COLUMN c;"), 1);
        assert_eq!(
            run("ALTER TABLE app.a DROP COLUMN IF EXISTS c CASCADE, DROP d;"),
            2
        );
    }

    #[test]
    fn quiet_on_other_drops_or_new_table() {
        assert_eq!(run("ALTER TABLE a DROP CONSTRAINT a_c_check;"), 0);
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c DROP DEFAULT;"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int, d int);\nALTER TABLE n DROP COLUMN d;"),
            0
        );
    }

    #[test]
    fn quiet_in_rollback_files() {
        // Rolling back an ADD COLUMN drops it: that is the rollback's job.
        let d = lint_step(
            "",
            "",
            "ALTER TABLE a ADD COLUMN c int;",
            "ALTER TABLE a DROP COLUMN c;",
        );
        assert_eq!(of("SG106", &d).len(), 0);
    }
}
