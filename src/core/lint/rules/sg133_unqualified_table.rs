//! SG133 unqualified-table: `CREATE TABLE`, `ALTER TABLE` or `DROP TABLE` naming a
//! table without its schema.
//!
//! Why: an unqualified name is resolved through `search_path`, which is a setting of the
//! role, the database or the session — not of the pack. The rehearsal, the apply and a
//! later rollback can each see a different `search_path` and so create, alter or drop
//! a table in a different schema (or find a same-named table in an earlier schema
//! first). stepgate's own static footprint assumes `public`. Write the schema:
//! `public.orders`. Temporary tables live in their own schema and are exempt.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::{ObjectType, RangeVar};
use pg_query::NodeEnum;

pub struct UnqualifiedTable;

/// Unqualified, non-temporary relations a statement creates, alters or drops.
fn unqualified(n: &NodeEnum) -> Vec<String> {
    let bare = |rv: &RangeVar| rv.schemaname.is_empty() && rv.relpersistence != "t";
    match n {
        NodeEnum::CreateStmt(c) => c
            .relation
            .iter()
            .filter(|r| bare(r))
            .map(|r| r.relname.clone())
            .collect(),
        NodeEnum::CreateTableAsStmt(c) => c
            .into
            .as_ref()
            .and_then(|i| i.rel.as_ref())
            .filter(|r| bare(r))
            .map(|r| vec![r.relname.clone()])
            .unwrap_or_default(),
        NodeEnum::AlterTableStmt(a) if a.objtype == ObjectType::ObjectTable as i32 => a
            .relation
            .iter()
            .filter(|r| bare(r))
            .map(|r| r.relname.clone())
            .collect(),
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => d
            .objects
            .iter()
            .filter_map(|o| match o.node.as_ref() {
                Some(NodeEnum::List(l)) if l.items.len() == 1 => match l.items[0].node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Rule for UnqualifiedTable {
    fn code(&self) -> &'static str {
        "SG133"
    }
    fn name(&self) -> &'static str {
        "unqualified-table"
    }
    fn summary(&self) -> &'static str {
        "CREATE/ALTER/DROP TABLE without a schema-qualified name"
    }
    fn explanation(&self) -> &'static str {
        "An unqualified table name is resolved through search_path, a setting of the role, database or session, so rehearsal, apply and rollback can act on different schemas. Write the schema (public.orders). Temporary tables are exempt."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            let Some(n) = &s.stmt.node else { continue };
            for name in unqualified(n) {
                out.stmt(
                    s.file,
                    s.stmt,
                    format!("table `{name}` is named without its schema: which table this is depends on the session's search_path"),
                    Some(format!("qualify it, e.g. public.{name}")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG133", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_unqualified_tables() {
        assert_eq!(run("CREATE TABLE t (id bigint);"), 1);
        assert_eq!(run("CREATE TABLE t AS SELECT 1;"), 1);
        assert_eq!(run("ALTER TABLE t ADD COLUMN c text;"), 1);
        assert_eq!(run("DROP TABLE t;"), 1);
    }

    #[test]
    fn quiet_on_qualified_and_temporary_tables() {
        assert_eq!(run("CREATE TABLE public.t (id bigint);"), 0);
        assert_eq!(run("ALTER TABLE app.t ADD COLUMN c text;"), 0);
        assert_eq!(run("CREATE TEMP TABLE t (id bigint) ON COMMIT DROP;"), 0);
        assert_eq!(run("CREATE TEMPORARY TABLE t AS SELECT 1;"), 0);
    }
}
