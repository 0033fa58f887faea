//! SG032 rollback-drop-order: a rollback drops an object before the objects that depend
//! on it — a table before the view that reads it, an FK parent before its child, a
//! trigger function before the trigger that calls it.
//!
//! Why: doc 97.4 — "DROP order: always child/dependent first, parent last". PostgreSQL
//! refuses to drop an object something else depends on, so a rollback written parent
//! first fails half-way, in the middle of an incident; the tempting "fix" is CASCADE,
//! which silently drops whatever else depends on it, including objects of other steps.
//! The dependencies come from the pack's own CREATE statements: a view's base
//! relations, a table's FK parents (inline or ALTER TABLE … ADD CONSTRAINT) and
//! inheritance parents, an index's table, a trigger's function.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};
use crate::core::objects::{ObjKind, ObjectRef, Verb};
use std::collections::BTreeSet;

pub struct RollbackOrder;

/// Relations compare by name whatever their kind (a view's base may itself be a view);
/// functions by name without argument types.
fn key(o: &ObjectRef) -> String {
    if o.kind.is_relation() {
        format!("relation {}", o.name)
    } else if o.kind == ObjKind::Function {
        format!("function {}", o.name.split('(').next().unwrap_or(&o.name))
    } else {
        o.to_string()
    }
}

/// `dependent` (or anything in `satisfied_by`, e.g. its table) must be dropped before `dependency`.
struct Edge {
    dependent: ObjectRef,
    satisfied_by: Vec<String>,
    dependency: String,
}

fn edges(ctx: &LintContext) -> Vec<Edge> {
    let mut out = Vec::new();
    for f in ctx
        .files
        .iter()
        .filter(|f| matches!(f.role, FileRole::Step(_)))
    {
        for st in f.sql.statements.iter().filter(|s| !s.is_do) {
            for t in st.touches.iter().filter(|t| t.verb == Verb::Create) {
                let own_table = t.object.table();
                for r in &st.references {
                    let dep = key(r);
                    if dep == key(&t.object) {
                        continue;
                    }
                    // An index, trigger or constraint goes away with its own table.
                    let on_own_table = r.kind.is_relation()
                        && (own_table.as_deref() == Some(r.name.as_str())
                            || t.object.kind == ObjKind::Index);
                    if on_own_table {
                        continue;
                    }
                    let mut satisfied_by = vec![key(&t.object)];
                    if let Some(tb) = &own_table {
                        satisfied_by.push(format!("relation {tb}"));
                    }
                    // Dropping the FK constraint itself first is as good as dropping the child.
                    satisfied_by.extend(
                        t.owned
                            .iter()
                            .filter(|o| o.kind == ObjKind::Constraint)
                            .map(key),
                    );
                    out.push(Edge {
                        dependent: t.object.clone(),
                        satisfied_by,
                        dependency: dep,
                    });
                }
            }
        }
    }
    out
}

impl Rule for RollbackOrder {
    fn code(&self) -> &'static str {
        "SG032"
    }
    fn name(&self) -> &'static str {
        "rollback-drop-order"
    }
    fn summary(&self) -> &'static str {
        "a rollback drops an object before the objects that depend on it"
    }
    fn explanation(&self) -> &'static str {
        "Drop dependents first, parents last (doc 97.4): views before the tables they read, FK children before their parents, triggers before their functions. PostgreSQL refuses the parent-first order, so such a rollback fails half-way when it is needed; CASCADE is not the fix, as it drops whatever else depends on the object, other steps' objects included. Dependencies are read from the pack's own CREATE statements (view bases, REFERENCES, INHERITS, trigger functions)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let edges = edges(ctx);
        if edges.is_empty() {
            return;
        }
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Rollback(_)))
        {
            // (statement position, key, object) of every drop, in file order.
            let mut drops: Vec<(usize, String, &ObjectRef)> = Vec::new();
            for (pos, st) in f.sql.statements.iter().enumerate() {
                for t in st.touches.iter().filter(|t| t.verb == Verb::Drop) {
                    drops.push((pos, key(&t.object), &t.object));
                }
            }
            let mut reported = BTreeSet::new();
            for e in &edges {
                for (p, _, y) in drops.iter().filter(|(_, k, _)| *k == e.dependency) {
                    if drops
                        .iter()
                        .any(|(q, k, _)| q < p && e.satisfied_by.contains(k))
                    {
                        continue;
                    }
                    let Some((_, xk, x)) = drops
                        .iter()
                        .find(|(q, k, _)| q > p && e.satisfied_by.contains(k))
                    else {
                        continue;
                    };
                    if !reported.insert((xk.clone(), e.dependency.clone())) {
                        continue;
                    }
                    let st = &f.sql.statements[*p];
                    let why = if **x == e.dependent {
                        format!("{x} depends on {y}")
                    } else {
                        format!("{x} holds {}, which depends on {y}", e.dependent)
                    };
                    out.stmt(
                        f,
                        st,
                        format!("drop {x} before {y} ({why})"),
                        Some("reorder the rollback: dependents first, parents last (doc 97.4); do not reach for CASCADE".into()),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const EFFECTS: &str = "[step.effects]\ncreate = [\"table public.p\", \"table public.c\", \"view public.v\", \"function public.f()\", \"trigger public.c.trg\"]";
    const STEP: &str = "CREATE TABLE p (id int PRIMARY KEY);\nCREATE TABLE c (id int, p_id int REFERENCES p(id));\nCREATE VIEW v AS SELECT * FROM c JOIN p ON p.id = c.p_id;\nCREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\nCREATE TRIGGER trg BEFORE INSERT ON c FOR EACH ROW EXECUTE FUNCTION f();";

    #[test]
    fn fires_on_parent_first() {
        let rb = "DROP TABLE p;\nDROP FUNCTION f();\nDROP TABLE c;\nDROP VIEW v;";
        let d = of("SG032", &lint_step("", EFFECTS, STEP, rb));
        assert!(d.iter().any(|x| x.message.contains("drop table public.c before table public.p (table public.c depends on table public.p)") && x.line == 5), "{d:?}");
        assert!(
            d.iter().any(|x| x
                .message
                .contains("drop view public.v before table public.c")),
            "{d:?}"
        );
        assert!(
            d.iter().any(|x| x
                .message
                .contains("drop view public.v before table public.p")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("before function public.f()")
                    && x.message.contains("trigger public.c.trg")
                    && x.line == 6),
            "{d:?}"
        );
        assert_eq!(d.len(), 4, "{d:?}");
    }

    #[test]
    fn quiet_on_child_first() {
        let rb = "DROP VIEW v;\nDROP TABLE c;\nDROP FUNCTION f();\nDROP TABLE p;";
        assert!(of("SG032", &lint_step("", EFFECTS, STEP, rb)).is_empty());
        let rb = "DROP VIEW v;\nDROP TRIGGER trg ON c;\nDROP FUNCTION f;\nALTER TABLE c DROP CONSTRAINT c_fk;\nDROP TABLE p, c;";
        assert!(of("SG032", &lint_step("", EFFECTS, STEP, rb)).is_empty());
    }
}
