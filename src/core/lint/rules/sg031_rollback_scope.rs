//! SG031 rollback-scope: a rollback file touches something its own step does not.
//!
//! Why: doc 97.3 — "reverse exactly one step, by component". A rollback runs under its
//! own authorization, often in a hurry, and is reviewed as "the undo of step N". If it
//! also drops, alters or rewrites something step N never touched, it undoes more than
//! its step: another step's table, a shared reuse-table's unrelated rows, a trigger
//! that is meant to stay fixed (doc 97.5 "keep the F-83-1 fix"). Each statement of a
//! rollback may change only what its step changes: the same objects, the columns,
//! constraints and indexes of tables the step creates, and the rows of tables the step
//! writes (declared in `rows` or written by a statement — e.g. retire-not-delete).

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::objects::{ObjKind, ObjectRef, Verb};
use std::collections::BTreeSet;

pub struct RollbackScope;

/// Functions compare by name without argument types (`DROP FUNCTION f` names no args).
fn key(o: &ObjectRef) -> String {
    if o.kind == ObjKind::Function {
        format!("function {}", o.name.split('(').next().unwrap_or(&o.name))
    } else {
        o.to_string()
    }
}

impl Rule for RollbackScope {
    fn code(&self) -> &'static str {
        "SG031"
    }
    fn name(&self) -> &'static str {
        "rollback-scope"
    }
    fn summary(&self) -> &'static str {
        "a rollback file touches an object its step does not touch"
    }
    fn explanation(&self) -> &'static str {
        "A rollback undoes exactly its own step (doc 97.3). Each object it creates, alters or drops must be one the step itself touches (or declares in [step.effects]), or a column, constraint or index of a table the step creates; each table whose rows it writes must be one the step writes (a DML statement, or [step.effects] rows — rows added by triggers count) or creates. Anything else belongs to another step's rollback, or to no rollback at all."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (i, step, sf) in ctx.step_files() {
            let Some(rf) = ctx.rollback_file(i) else {
                continue;
            };
            let mut ddl: BTreeSet<String> = BTreeSet::new();
            let mut created_tables: BTreeSet<String> = BTreeSet::new();
            let mut row_tables: BTreeSet<String> = BTreeSet::new();
            for st in &sf.sql.statements {
                for t in &st.touches {
                    if t.verb.is_dml() {
                        row_tables.insert(t.object.name.clone());
                        continue;
                    }
                    ddl.insert(key(&t.object));
                    ddl.extend(t.owned.iter().map(key));
                    if t.verb == Verb::Create && t.object.kind == ObjKind::Table {
                        created_tables.insert(t.object.name.clone());
                        row_tables.insert(t.object.name.clone());
                    }
                }
            }
            if let Some(eff) = ctx.pack.effects.get(i) {
                for o in eff.create.iter().chain(&eff.alter).chain(&eff.drop) {
                    ddl.insert(key(o));
                    if o.kind == ObjKind::Table {
                        row_tables.insert(o.name.clone());
                    }
                }
                for o in &eff.create {
                    if o.kind == ObjKind::Table {
                        created_tables.insert(o.name.clone());
                    }
                }
                row_tables.extend(eff.rows.keys().cloned());
            }
            // Constraints the step adds with `USING INDEX`: dropping one in the rollback
            // also drops the adopted index, which the step did not build.
            let mut adopted: Vec<(ObjectRef, ObjectRef)> = Vec::new();
            for st in &sf.sql.statements {
                for t in st
                    .touches
                    .iter()
                    .filter(|t| t.verb == Verb::Create && t.object.kind == ObjKind::Constraint)
                {
                    for idx in st.references.iter().filter(|r| {
                        r.kind == ObjKind::Index
                            && t.owned.contains(r)
                            && !sf.sql.statements.iter().any(|s| {
                                s.touches
                                    .iter()
                                    .any(|c| c.verb == Verb::Create && c.object == **r)
                            })
                    }) {
                        adopted.push((t.object.clone(), idx.clone()));
                    }
                }
            }
            let rebuilt: BTreeSet<&ObjectRef> = rf
                .sql
                .statements
                .iter()
                .flat_map(|s| s.touches.iter())
                .filter(|t| t.verb == Verb::Create && t.object.kind == ObjKind::Index)
                .map(|t| &t.object)
                .collect();
            for st in &rf.sql.statements {
                for t in st.touches.iter().filter(|t| t.verb == Verb::Drop) {
                    for (con, idx) in adopted.iter().filter(|(c, _)| *c == t.object) {
                        if rebuilt.contains(idx) {
                            continue;
                        }
                        out.stmt(
                            rf,
                            st,
                            format!(
                                "dropping `{con}` also drops the index it adopted with USING INDEX (`{idx}`, renamed to the constraint's name), which step `{}` did not build: after this rollback that index is gone",
                                step.id()
                            ),
                            Some(format!(
                                "re-create `{idx}` in this rollback (CREATE UNIQUE INDEX …) so the state before step `{}` comes back; the index belongs to the earlier step that built it",
                                step.id()
                            )),
                        );
                        if let Some(d) = out.diagnostics.last_mut() {
                            d.severity = Severity::Warning;
                        }
                    }
                }
            }
            let mut reported = BTreeSet::new();
            for st in &rf.sql.statements {
                for t in &st.touches {
                    let o = &t.object;
                    let ok = if t.verb.is_dml() {
                        row_tables.contains(&o.name) || ddl.contains(&key(o))
                    } else {
                        ddl.contains(&key(o))
                            || o.table().is_some_and(|tb| created_tables.contains(&tb))
                            || (o.kind == ObjKind::Index
                                && t.verb == Verb::Create
                                && st.references.iter().any(|r| {
                                    r.kind == ObjKind::Table && created_tables.contains(&r.name)
                                }))
                    };
                    if !ok && reported.insert((t.verb, key(o))) {
                        let what = if t.verb.is_dml() {
                            format!("writes rows of table {}", o.name)
                        } else {
                            format!("{}s `{o}`", t.verb)
                        };
                        out.stmt(
                            rf,
                            st,
                            format!("the rollback {what}, which step `{}` does not touch", step.id()),
                            Some(format!("a rollback undoes exactly its own step ({}); move this to the rollback of the step that made the change", sf.rel)),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const EFFECTS: &str = "[step.effects]\ncreate = [\"table public.t\"]\nrows = { \"public.birth_registry\" = { insert = 4 }, \"public.apr_action_types\" = { insert = 1 } }";
    const STEP: &str = "CREATE TABLE t (id int PRIMARY KEY);\nCREATE FUNCTION f(x text) RETURNS int LANGUAGE sql AS 'select 1';\nINSERT INTO apr_action_types VALUES ('a');";

    #[test]
    fn fires_on_foreign_objects() {
        let rb = "DROP TABLE t;\nDROP TABLE other;\nDELETE FROM event_outbox WHERE id = 1;\nALTER TABLE apr_action_types DROP COLUMN c;";
        let d = of("SG031", &lint_step("", EFFECTS, STEP, rb));
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().all(|x| x.file == "rollback/01.sql"));
        assert!(
            d.iter()
                .any(|x| x.message.contains("drops `table public.other`")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|x| x
                .message
                .contains("writes rows of table public.event_outbox")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("column public.apr_action_types.c")),
            "{d:?}"
        );
    }

    #[test]
    fn undoing_using_index_recreates_the_adopted_index() {
        use crate::core::lint::Severity;
        let effects = "[step.effects]\ncreate = [\"constraint public.t.t_x_key\"]";
        let step = "ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_idx;";
        // Dropping the constraint takes the adopted index along; re-creating it is in scope.
        let rb = "ALTER TABLE t DROP CONSTRAINT t_x_key;\nCREATE UNIQUE INDEX t_x_idx ON t (x);";
        let d = of("SG031", &lint_step("", effects, step, rb));
        assert!(d.is_empty(), "{d:?}");
        // Forgetting it: a warning that names the index, not an error.
        let rb = "ALTER TABLE t DROP CONSTRAINT t_x_key;";
        let d = of("SG031", &lint_step("", effects, step, rb));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        assert!(
            d[0].message.contains("index public.t_x_idx") && d[0].message.contains("USING INDEX"),
            "{d:?}"
        );
        // An unrelated index is still out of scope.
        let rb = "ALTER TABLE t DROP CONSTRAINT t_x_key;\nCREATE UNIQUE INDEX t_x_idx ON t (x);\nCREATE INDEX other_idx ON t (y);";
        let d = of("SG031", &lint_step("", effects, step, rb));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Error);
        assert!(d[0].message.contains("index public.other_idx"), "{d:?}");
    }

    #[test]
    fn quiet_on_own_objects() {
        let rb = "UPDATE apr_action_types SET status = 'retired' WHERE action_code = 'a';\nDELETE FROM birth_registry WHERE entity = 'a';\nALTER TABLE t DROP CONSTRAINT t_pkey;\nDROP FUNCTION f;\nDROP TABLE t;";
        let d = of("SG031", &lint_step("", EFFECTS, STEP, rb));
        assert!(d.is_empty(), "{d:?}");
    }
}
