//! SG022 protected-table: DDL on a table listed in `[pack] protected`, or an UPDATE /
//! DELETE on one without a WHERE clause.
//!
//! Why: some tables are load-bearing for everything else — the seed plans' "NO ALTER
//! of governance_relations", the shared reuse-tables that must only ever be changed by
//! governance-scoped key ("never blanket", doc 97.4). Listing them as `protected`
//! makes that mechanical: no step or rollback may create, alter, drop or truncate them
//! or their columns, constraints, triggers, policies and indexes, and every UPDATE or
//! DELETE on them must be limited by a WHERE clause. INSERTs stay allowed: adding
//! vocabulary rows is how the plans extend such tables.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};
use crate::core::objects::{ObjKind, Verb};
use crate::core::sql::{Statement, Touch};

pub struct Protected;

/// The table a touch lands on, where it can be known.
fn table_of(t: &Touch, st: &Statement) -> Option<String> {
    match t.object.kind {
        ObjKind::Table => Some(t.object.name.clone()),
        k if k.is_table_member() => t.object.table(),
        // CREATE INDEX names its table in the statement's references.
        ObjKind::Index if t.verb == Verb::Create => st
            .references
            .iter()
            .find(|r| r.kind == ObjKind::Table)
            .map(|r| r.name.clone()),
        _ => None,
    }
}

impl Rule for Protected {
    fn code(&self) -> &'static str {
        "SG022"
    }
    fn name(&self) -> &'static str {
        "protected-table"
    }
    fn summary(&self) -> &'static str {
        "DDL on a protected table, or UPDATE/DELETE on one without WHERE"
    }
    fn explanation(&self) -> &'static str {
        "Tables listed in `[pack] protected = [...]` may not be created, altered, dropped or truncated by any step or rollback — nor may their columns, constraints, triggers, policies or indexes. UPDATE and DELETE on them must carry a WHERE clause that scopes the change (doc 97.4: by governance-scoped key, never blanket). INSERT is allowed. If the change really must touch the table's structure, take it out of `protected` in a reviewed manifest change, so the approvers see it."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        if ctx.pack.protected.is_empty() {
            return;
        }
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Step(_) | FileRole::Rollback(_)))
        {
            for st in &f.sql.statements {
                for t in &st.touches {
                    let Some(table) = table_of(t, st).filter(|t| ctx.pack.protected.contains(t))
                    else {
                        continue;
                    };
                    match t.verb {
                        Verb::Create | Verb::Alter | Verb::Drop | Verb::Truncate => out.stmt(
                            f,
                            st,
                            format!("{} `{}` on protected table {table}", t.verb, t.object),
                            Some("protected tables take no DDL and no TRUNCATE; change `[pack] protected` in review if this is really intended".into()),
                        ),
                        Verb::Update | Verb::Delete if !t.has_where => out.stmt(
                            f,
                            st,
                            format!("{} on protected table {table} without a WHERE clause", t.verb.as_str().to_uppercase()),
                            Some("scope the change by key with a WHERE clause (doc 97.4: never blanket)".into()),
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const PACK: &str = "protected = [\"governance_relations\"]";

    #[test]
    fn fires_on_ddl_and_blanket_dml() {
        let body = "ALTER TABLE governance_relations ADD COLUMN c int;\nCREATE INDEX gr_i ON governance_relations (c);\nUPDATE governance_relations SET c = 1;\nCREATE TRIGGER trg AFTER INSERT ON public.governance_relations FOR EACH ROW EXECUTE FUNCTION f();";
        let d = of(
            "SG022",
            &lint_step(
                PACK,
                "",
                body,
                "DELETE FROM governance_relations;\nTRUNCATE governance_relations;",
            ),
        );
        assert_eq!(d.len(), 6, "{d:?}");
        assert!(
            d.iter().any(|x| x
                .message
                .contains("UPDATE on protected table public.governance_relations without a WHERE")),
            "{d:?}"
        );
        assert_eq!(
            d.iter().filter(|x| x.file == "rollback/01.sql").count(),
            2,
            "{d:?}"
        );
    }

    #[test]
    fn quiet_on_scoped_dml_and_other_tables() {
        let body = "INSERT INTO governance_relations VALUES (9);\nUPDATE governance_relations SET c = 1 WHERE id = 9;\nALTER TABLE other ADD COLUMN c int;";
        let d = of(
            "SG022",
            &lint_step(
                PACK,
                "",
                body,
                "DELETE FROM governance_relations WHERE id = 9;",
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
