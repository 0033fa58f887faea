//! SG109 dropping-table: `DROP TABLE` of a table that was not created earlier in the
//! pack.
//!
//! Why: the table's rows are gone for good — a rollback can re-create the table but
//! not its data — and every client, view and foreign key that uses it breaks (`CASCADE`
//! silently takes the dependent objects with it). Retire, don't delete (doc 97): stop
//! writing to it, revoke access, keep the data, take a backup, and drop it in a later
//! pack once nothing reads it.
//!
//! Only step files are checked: a rollback that drops a table its step created is the
//! normal way to undo it. Order matters: a table created by an earlier statement (in
//! this step or an earlier one) may be dropped freely, but `DROP TABLE t` followed by
//! `CREATE TABLE t` replaces an existing table and loses its data, so it is reported.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::objects::{ObjKind, Verb};
use pg_query::protobuf::{Node, ObjectType};
use pg_query::NodeEnum;
use std::collections::BTreeSet;

pub struct DropTable;

/// `schema.table` of a DROP TABLE object (a list of 1–3 name parts).
fn dropped_name(n: &Node) -> Option<String> {
    let Some(NodeEnum::List(l)) = n.node.as_ref() else {
        return None;
    };
    let parts: Vec<&str> = l
        .items
        .iter()
        .filter_map(|i| match i.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [t] => Some(format!("public.{t}")),
        [.., s, t] => Some(format!("{s}.{t}")),
        [] => None,
    }
}

impl Rule for DropTable {
    fn code(&self) -> &'static str {
        "SG109"
    }
    fn name(&self) -> &'static str {
        "dropping-table"
    }
    fn summary(&self) -> &'static str {
        "DROP TABLE of a table not created earlier in the pack"
    }
    fn explanation(&self) -> &'static str {
        "Irreversible: a rollback can re-create the table but not its rows, and every client and dependent object breaks. Retire, don't delete (doc 97): stop writing to it, revoke access, keep and back up the data, and drop it in a later pack once nothing uses it. Dropping a table created earlier in the same pack is fine, and rollback files are not checked."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        // Tables created by the statements seen so far, in manifest and file order.
        let mut created: BTreeSet<String> = BTreeSet::new();
        for (_, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                if let Some(NodeEnum::DropStmt(d)) = &st.node {
                    if d.remove_type == ObjectType::ObjectTable as i32 {
                        for table in d.objects.iter().filter_map(dropped_name) {
                            if created.contains(&table) {
                                continue;
                            }
                            out.stmt(
                                f,
                                st,
                                format!("dropping table {table}, which this pack did not create, destroys its data and breaks everything that uses it"),
                                Some("retire it instead (doc 97): stop using it, keep and back up the data, drop it in a later pack".into()),
                            );
                        }
                    }
                }
                for t in &st.touches {
                    if t.verb == Verb::Create && t.object.kind == ObjKind::Table {
                        created.insert(t.object.name.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG109", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_tables() {
        assert_eq!(run("DROP TABLE a;"), 1);
        assert_eq!(run("DROP TABLE IF EXISTS app.a, b CASCADE;"), 2);
        // Dropping and re-creating replaces the existing table: its rows are lost.
        assert_eq!(run("DROP TABLE a;\nCREATE TABLE a (id int);"), 1);
        // Only the table the pack did not create.
        assert_eq!(
            run("CREATE TABLE app.n (id int);\nDROP TABLE app.n, public.m;"),
            1
        );
    }

    #[test]
    fn quiet_on_tables_created_earlier_or_other_objects() {
        assert_eq!(run("CREATE TABLE n (id int);\nDROP TABLE n;"), 0);
        assert_eq!(run("DROP VIEW v;"), 0);
        assert_eq!(run("DROP INDEX a_c_idx;"), 0);
    }

    #[test]
    fn quiet_on_table_created_in_an_earlier_step() {
        let d = lint_two_steps("CREATE TABLE n (id int);", "DROP TABLE n;");
        assert_eq!(of("SG109", &d).len(), 0);
    }

    #[test]
    fn quiet_in_rollback_files() {
        // The rollback of a step that creates a table drops it: that is normal.
        let d = lint_step("", "", "CREATE TABLE n (id int);", "DROP TABLE n;");
        assert_eq!(of("SG109", &d).len(), 0);
        let d = lint_step("", "", "SELECT 1;", "DROP TABLE a;");
        assert_eq!(of("SG109", &d).len(), 0);
    }
}
