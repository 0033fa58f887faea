//! SG118 dropping-object: `DROP` of a schema, view, materialized view, function,
//! procedure, type, domain, sequence, extension or database the pack did not create.
//! (Tables are SG109, columns SG106, indexes SG111.)
//!
//! Why: whatever uses the object breaks the moment the drop commits — clients calling
//! the function, queries reading the view, columns of the type — and some drops destroy
//! data outright: a materialized view's contents, a sequence's position, a schema with
//! `CASCADE` (every table in it), a database. A rollback can re-create the definition
//! but not what was lost. Retire instead: stop using it, keep it for one release, and
//! drop it in a later pack once nothing refers to it (check `pg_depend` and the logs).
//! Objects created by a step of the same pack are exempt.

use crate::core::lint::hazard::{kind_words, names_created_in_pack, object_label, step_statements};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::ObjectType as O;
use pg_query::NodeEnum;

pub struct DroppingObject;

const KINDS: &[O] = &[
    O::ObjectSchema,
    O::ObjectView,
    O::ObjectMatview,
    O::ObjectFunction,
    O::ObjectProcedure,
    O::ObjectRoutine,
    O::ObjectAggregate,
    O::ObjectType,
    O::ObjectDomain,
    O::ObjectSequence,
    O::ObjectExtension,
    O::ObjectForeignTable,
];

impl Rule for DroppingObject {
    fn code(&self) -> &'static str {
        "SG118"
    }
    fn name(&self) -> &'static str {
        "dropping-object"
    }
    fn summary(&self) -> &'static str {
        "DROP of a schema, view, function, type, sequence, extension or database the pack did not create"
    }
    fn explanation(&self) -> &'static str {
        "Everything that uses the object breaks when the drop commits, and some drops destroy data (materialized view contents, a sequence's position, a schema with CASCADE, a database) that a rollback cannot bring back. Retire instead: stop using it, keep it a release, drop it in a later pack once nothing refers to it."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = names_created_in_pack(ctx);
        let help = "retire it instead: stop using it, keep it a release, drop it in a later pack once nothing refers to it";
        for s in step_statements(ctx) {
            match &s.stmt.node {
                Some(NodeEnum::DropStmt(d)) if KINDS.iter().any(|k| *k as i32 == d.remove_type) => {
                    let kind = kind_words(d.remove_type);
                    for name in d.objects.iter().filter_map(object_label) {
                        if created.contains(&name) || created.contains(&format!("public.{name}")) {
                            continue;
                        }
                        out.stmt(
                            s.file,
                            s.stmt,
                            format!("dropping {kind} {name}, which this pack did not create, breaks everything that uses it"),
                            Some(help.into()),
                        );
                    }
                }
                Some(NodeEnum::DropdbStmt(d)) => out.stmt(
                    s.file,
                    s.stmt,
                    format!("dropping database `{}` destroys all of its data", d.dbname),
                    Some(help.into()),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG118", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_drops_of_existing_objects() {
        assert_eq!(run("DROP SCHEMA app CASCADE;"), 1);
        assert_eq!(run("DROP VIEW IF EXISTS v, w;"), 2);
        assert_eq!(run("DROP MATERIALIZED VIEW mv;"), 1);
        assert_eq!(run("DROP FUNCTION f(int);"), 1);
        assert_eq!(run("DROP TYPE mood;"), 1);
        assert_eq!(run("DROP SEQUENCE s;"), 1);
        assert_eq!(run("DROP DATABASE old;"), 1);
    }

    #[test]
    fn quiet_on_objects_created_in_pack_or_other_kinds() {
        assert_eq!(run("CREATE VIEW v AS SELECT 1;\nDROP VIEW v;"), 0);
        assert_eq!(run("CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'select 1';\nDROP FUNCTION f(int);"), 0);
        assert_eq!(run("DROP TABLE a;"), 0);
        assert_eq!(run("DROP INDEX i;"), 0);
        assert_eq!(run("DROP TRIGGER t ON a;"), 0);
    }
}
