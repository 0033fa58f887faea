//! SG115 dropping-not-null: `ALTER TABLE … ALTER COLUMN … DROP NOT NULL` on a table
//! that already exists.
//!
//! Why: the change is instant, but it is not backward compatible and not safely
//! reversible. Code that reads the column was written knowing it is never NULL; from
//! the moment the change commits, writers may store NULLs and those readers break. And
//! the rollback — `SET NOT NULL` — fails as soon as one NULL has been written, and even
//! when it works it scans the whole table under an ACCESS EXCLUSIVE lock (SG107). Make
//! sure every reader handles NULL first, and treat the change as one-way: the rollback
//! file should say so. Tables created in the same pack are exempt.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::AlterTableType;

pub struct DropNotNull;

impl Rule for DropNotNull {
    fn code(&self) -> &'static str {
        "SG115"
    }
    fn name(&self) -> &'static str {
        "dropping-not-null"
    }
    fn summary(&self) -> &'static str {
        "ALTER COLUMN … DROP NOT NULL on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Readers written for a NOT NULL column break on the first NULL, and the rollback (SET NOT NULL) fails once a NULL exists and otherwise scans the table under ACCESS EXCLUSIVE. Make every reader NULL-safe first, and treat the change as one-way."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for a in alters_on_existing_tables(ctx) {
            if a.cmd.subtype != AlterTableType::AtDropNotNull as i32 {
                continue;
            }
            out.stmt(
                a.file,
                a.stmt,
                format!("dropping NOT NULL on column `{}` of existing table {} lets NULLs in that current readers do not expect, and cannot be undone once one is written", a.cmd.name, a.table),
                Some("make every reader NULL-safe first; the rollback SET NOT NULL fails once a NULL exists".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG115", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c DROP NOT NULL;"), 1);
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(
            run("CREATE TABLE n (c int NOT NULL);\nALTER TABLE n ALTER COLUMN c DROP NOT NULL;"),
            0
        );
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c DROP DEFAULT;"), 0);
    }
}
