//! SG105 renaming: `ALTER TABLE … RENAME TO …` or `ALTER TABLE … RENAME COLUMN …`.
//!
//! Why: a rename is not backward compatible. The moment it commits, every client,
//! report and job that still uses the old name fails, and during a rolling deploy old and new code run side by side, so one of them is
//! always wrong. (The rename itself is a quick catalog change, but it takes an ACCESS
//! EXCLUSIVE lock.) Do it expand/contract instead: add the new name alongside the old
//! one — a new column kept in sync by a trigger or dual writes, or a view under the
//! old table name — move clients over, and drop the old name in a later pack.
//! Column renames on views and materialized views are reported as well: clients select
//! those columns just the same. Tables created earlier in the same pack are exempt:
//! no client knows them yet.

use crate::core::lint::{rel_name, tables_created_in_pack, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

pub struct Rename;

impl Rule for Rename {
    fn code(&self) -> &'static str {
        "SG105"
    }
    fn name(&self) -> &'static str {
        "renaming"
    }
    fn summary(&self) -> &'static str {
        "RENAME of a table or column"
    }
    fn explanation(&self) -> &'static str {
        "Not backward compatible: every client still using the old name breaks the moment the rename commits, and old and new code cannot run side by side. Add the new name alongside the old one (new column kept in sync, or a view under the old table name), move clients over, then drop the old name in a later pack."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = tables_created_in_pack(ctx);
        let help = "expand/contract: add the new name alongside the old one, move clients over, drop the old name in a later pack";
        for (_, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                let Some(NodeEnum::RenameStmt(r)) = &st.node else {
                    continue;
                };
                let Some(rv) = &r.relation else { continue };
                let table = rel_name(rv);
                if created.contains(&table) {
                    continue;
                }
                if r.rename_type == ObjectType::ObjectTable as i32 {
                    out.stmt(
                        f,
                        st,
                        format!("renaming table {table} to `{}` breaks every client still using the old name", r.newname),
                        Some(help.into()),
                    );
                } else if r.rename_type == ObjectType::ObjectColumn as i32 {
                    out.stmt(
                        f,
                        st,
                        format!("renaming column `{}` of {table} to `{}` breaks every client still using the old name", r.subname, r.newname),
                        Some(help.into()),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG105", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_table_and_column_renames() {
        assert_eq!(run("ALTER TABLE a RENAME TO b;"), 1);
        assert_eq!(run("ALTER TABLE app.a RENAME COLUMN c TO d;"), 1);
        assert_eq!(run("ALTER TABLE a RENAME c TO d;"), 1);
        assert_eq!(run("ALTER VIEW v RENAME COLUMN c TO d;"), 1);
    }

    #[test]
    fn quiet_on_other_renames_or_new_table() {
        assert_eq!(
            run("ALTER TABLE a RENAME CONSTRAINT a_c_check TO a_c_positive;"),
            0
        );
        assert_eq!(run("ALTER INDEX a_c_idx RENAME TO a_c_index;"), 0);
        assert_eq!(run("ALTER FUNCTION f() RENAME TO g;"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n RENAME COLUMN c TO d;"),
            0
        );
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n RENAME TO m;"),
            0
        );
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step("", "", "SELECT 1;", "ALTER TABLE b RENAME TO a;");
        assert_eq!(of("SG105", &d).len(), 0);
    }
}
