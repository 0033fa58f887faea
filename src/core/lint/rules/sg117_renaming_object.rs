//! SG117 renaming-object: `ALTER … RENAME` of an index, constraint, function,
//! procedure, schema, type, domain, view, sequence, trigger or other named object, an
//! enum value rename, or `ALTER … SET SCHEMA` of any object. (Tables and columns are
//! SG105.)
//!
//! Why: like a table rename, it is not backward compatible. Clients call functions by
//! name, `search_path`s and qualified names point at schemas, casts and column
//! definitions name types, monitoring and `pg_hint_plan` hints name indexes, and error
//! handling matches constraint names (`unique_violation` on `users_email_key`). The
//! moment the rename commits every such user still on the old name breaks, and old and
//! new application versions cannot run side by side. Do it expand/contract: create the
//! new object alongside (a wrapper function, a view in the new schema), move users over,
//! drop the old one in a later pack — or leave the name alone. The catalog change also
//! takes an ACCESS EXCLUSIVE lock on the table an index, constraint or trigger belongs to.
//! Objects created by a step of the same pack are exempt: no one uses them yet.

use crate::core::lint::hazard::{kind_words, names_created_in_pack, object_label, step_statements};
use crate::core::lint::{rel_name, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::{ObjectType, RenameStmt};
use pg_query::NodeEnum;

pub struct RenamingObject;

/// `kind name` of a renamed object, or None for the table/column renames of SG105.
fn renamed(r: &RenameStmt) -> Option<(&'static str, String)> {
    let t = r.rename_type;
    if t == ObjectType::ObjectTable as i32 || t == ObjectType::ObjectColumn as i32 {
        return None;
    }
    let name = match (&r.relation, r.object.as_deref().and_then(object_label)) {
        (Some(rv), _) if !r.subname.is_empty() => format!("{} on {}", r.subname, rel_name(rv)),
        (Some(rv), _) => rel_name(rv),
        (None, Some(n)) => n,
        (None, None) => r.subname.clone(),
    };
    Some((kind_words(t), name))
}

impl Rule for RenamingObject {
    fn code(&self) -> &'static str {
        "SG117"
    }
    fn name(&self) -> &'static str {
        "renaming-object"
    }
    fn summary(&self) -> &'static str {
        "RENAME or SET SCHEMA of an index, constraint, function, schema, type, view or other object"
    }
    fn explanation(&self) -> &'static str {
        "Clients, hints, error handlers and other objects use these names: every user of the old name breaks the moment the rename commits, and old and new code cannot run side by side. Create the new object alongside (wrapper function, view), move users over, and drop the old one in a later pack."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = names_created_in_pack(ctx);
        let help = "expand/contract: create the new name alongside the old one, move users over, drop the old one in a later pack";
        let is_new = |name: &str, rel: Option<String>| {
            created.contains(name) || rel.is_some_and(|r| created.contains(&r))
        };
        for s in step_statements(ctx) {
            let (what, msg) = match &s.stmt.node {
                Some(NodeEnum::RenameStmt(r)) => {
                    let Some((kind, name)) = renamed(r) else {
                        continue;
                    };
                    if is_new(&name, r.relation.as_ref().map(rel_name)) {
                        continue;
                    }
                    (name.clone(), format!("renaming {kind} {name} to `{}` breaks everything still using the old name", r.newname))
                }
                Some(NodeEnum::AlterEnumStmt(e)) if !e.old_val.is_empty() => {
                    let Some(name) = object_label(&pg_query::protobuf::Node {
                        node: Some(NodeEnum::List(pg_query::protobuf::List {
                            items: e.type_name.clone(),
                        })),
                    }) else {
                        continue;
                    };
                    (name.clone(), format!("renaming value '{}' of enum {name} breaks every client and row filter still using the old value", e.old_val))
                }
                Some(NodeEnum::AlterObjectSchemaStmt(a)) => {
                    let name = a
                        .relation
                        .as_ref()
                        .map(rel_name)
                        .or_else(|| a.object.as_deref().and_then(object_label))
                        .unwrap_or_default();
                    (name.clone(), format!("moving {} {name} to schema `{}` breaks everything that names it by its schema", kind_words(a.object_type), a.newschema))
                }
                _ => continue,
            };
            if created.contains(&what) {
                continue;
            }
            out.stmt(s.file, s.stmt, msg, Some(help.into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG117", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_renames_of_other_objects() {
        assert_eq!(run("ALTER INDEX a_c_idx RENAME TO a_c_index;"), 1);
        assert_eq!(
            run("ALTER TABLE a RENAME CONSTRAINT a_c_check TO a_c_positive;"),
            1
        );
        assert_eq!(run("ALTER FUNCTION f(int) RENAME TO g;"), 1);
        assert_eq!(run("ALTER SCHEMA app RENAME TO app2;"), 1);
        assert_eq!(run("ALTER TYPE mood RENAME TO feeling;"), 1);
        assert_eq!(run("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';"), 1);
        assert_eq!(run("ALTER VIEW v RENAME TO w;"), 1);
        assert_eq!(run("ALTER SEQUENCE s RENAME TO t;"), 1);
    }

    #[test]
    fn fires_on_set_schema() {
        assert_eq!(run("ALTER TABLE a SET SCHEMA archive;"), 1);
        assert_eq!(run("ALTER FUNCTION f(int) SET SCHEMA archive;"), 1);
        assert_eq!(run("ALTER TYPE mood SET SCHEMA archive;"), 1);
    }

    #[test]
    fn quiet_on_tables_columns_and_new_objects() {
        assert_eq!(run("ALTER TABLE a RENAME TO b;"), 0);
        assert_eq!(run("ALTER TABLE a RENAME COLUMN c TO d;"), 0);
        assert_eq!(run("CREATE TABLE n (c int);\nCREATE INDEX n_c_idx ON n (c);\nALTER INDEX n_c_idx RENAME TO n_c_index;"), 0);
        assert_eq!(run("CREATE TABLE n (c int CONSTRAINT n_c_check CHECK (c > 0));\nALTER TABLE n RENAME CONSTRAINT n_c_check TO n_c_pos;"), 0);
        assert_eq!(run("CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'select 1';\nALTER FUNCTION f(int) RENAME TO g;"), 0);
    }
}
