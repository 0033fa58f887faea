//! SG033 requires-dependency: a step uses an object another step creates, but does not
//! `require` that step (directly or transitively).
//!
//! Why: doc 99.1 — "STEP 3 asserts governance_ruleset exists", SB-10's FK points at
//! SB-12's table. `requires` is what orders steps for apply and rollback and what stops
//! a step from being applied before its foundations. A dependency the parser can see —
//! an FK parent, a view's base, a trigger function, an ALTER or INSERT on another step's
//! table — but the manifest does not state means `apply` may run the steps in an order
//! that fails, and `rollback` may reverse the parent before the child.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::objects::{ObjKind, ObjectRef, Verb};
use std::collections::{BTreeMap, BTreeSet};

pub struct Requires;

/// Relations compare by name whatever their kind; functions by name without argument types.
fn key(o: &ObjectRef) -> String {
    if o.kind.is_relation() {
        format!("relation {}", o.name)
    } else if o.kind == ObjKind::Function {
        format!("function {}", o.name.split('(').next().unwrap_or(&o.name))
    } else {
        o.to_string()
    }
}

/// Step indexes `i` requires, directly or transitively.
fn closure(ctx: &LintContext, i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![i];
    while let Some(j) = todo.pop() {
        let Some(s) = ctx.pack.manifest.step.get(j) else {
            continue;
        };
        for r in &s.requires {
            if let Some(k) = ctx.pack.step_index(r.get_ref()) {
                if seen.insert(k) {
                    todo.push(k);
                }
            }
        }
    }
    seen
}

impl Rule for Requires {
    fn code(&self) -> &'static str {
        "SG033"
    }
    fn name(&self) -> &'static str {
        "requires-dependency"
    }
    fn summary(&self) -> &'static str {
        "a step uses an object another step creates without requiring that step"
    }
    fn explanation(&self) -> &'static str {
        "When a step's SQL references an object another step of the pack creates — an FK parent, a view's base table, a trigger's function — or alters, drops or writes rows of it, the step must list the creating step in `requires` (directly, or through a step it requires). `requires` orders apply and rollback; without it the steps may run in an order that fails. Functions are matched by name, whatever their argument types."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        // key → (step index, object) for every object a step file creates.
        let mut creators: BTreeMap<String, Vec<(usize, ObjectRef)>> = BTreeMap::new();
        for (i, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                for t in st.touches.iter().filter(|t| t.verb == Verb::Create) {
                    for o in std::iter::once(&t.object).chain(&t.owned) {
                        creators.entry(key(o)).or_default().push((i, o.clone()));
                    }
                }
            }
        }
        for (j, step, f) in ctx.step_files() {
            let mut uses: Vec<String> = Vec::new();
            for st in &f.sql.statements {
                uses.extend(st.references.iter().map(key));
                for t in &st.touches {
                    if t.verb != Verb::Create {
                        uses.push(key(&t.object));
                    }
                    if let Some(tb) = t.object.table() {
                        uses.push(format!("relation {tb}"));
                    }
                }
            }
            let reach = closure(ctx, j);
            let mut reported = BTreeSet::new();
            for u in uses {
                let Some(made) = creators.get(&u) else {
                    continue;
                };
                if made.iter().any(|(k, _)| *k == j || reach.contains(k)) {
                    continue;
                }
                let Some((k, obj)) = made.first() else {
                    continue;
                };
                if !reported.insert(*k) {
                    continue;
                }
                let other = ctx
                    .pack
                    .manifest
                    .step
                    .get(*k)
                    .map(|s| s.id().to_string())
                    .unwrap_or_default();
                out.manifest(
                    ctx,
                    step.id.span(),
                    format!("step `{}` uses `{obj}`, which step `{other}` creates, but does not require `{other}`", step.id()),
                    Some(format!("add `requires = [\"{other}\"]` to step `{}` (directly or through a step it requires)", step.id())),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn manifest(requires: &str) -> String {
        format!(
            "{}[[step]]\nid = \"2\"\nname = \"two\"\nfile = \"02.sql\"\nrollback = \"rollback/02.sql\"\n{requires}\n[[step]]\nid = \"3\"\nname = \"three\"\nfile = \"03.sql\"\nrollback = \"rollback/03.sql\"\nrequires = [\"2\"]\n",
            manifest_with("", "")
        )
    }

    fn run(requires: &str, s2: &str, s3: &str) -> Vec<crate::core::lint::Diagnostic> {
        let files = [
            ("01.sql", step_sql("CREATE TABLE ruleset (id int PRIMARY KEY);\nCREATE FUNCTION s.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;")),
            ("02.sql", step_sql(s2)),
            ("03.sql", step_sql(s3)),
            ("rollback/01.sql", rollback_sql("SELECT 1;")),
            ("rollback/02.sql", rollback_sql("SELECT 1;")),
            ("rollback/03.sql", rollback_sql("SELECT 1;")),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
        of("SG033", &lint(&manifest(requires), &files))
    }

    #[test]
    fn fires_on_undeclared_dependency() {
        let d = run(
            "",
            "CREATE TABLE state (id int, r int REFERENCES ruleset(id));",
            "CREATE TRIGGER trg BEFORE INSERT ON x FOR EACH ROW EXECUTE FUNCTION s.f();",
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d.iter().any(|x| x
                .message
                .contains("step `2` uses `table public.ruleset`, which step `1` creates")
                && x.file == "stepgate.toml"),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("step `3` uses `function s.f()`")),
            "{d:?}"
        );
        let d = run("", "INSERT INTO ruleset VALUES (1);", "SELECT 1;");
        assert_eq!(d.len(), 1, "{d:?}");
    }

    #[test]
    fn quiet_when_required_transitively() {
        let d = run(
            "requires = [\"1\"]",
            "CREATE TABLE state (id int, r int REFERENCES ruleset(id));",
            "CREATE TRIGGER trg BEFORE INSERT ON state FOR EACH ROW EXECUTE FUNCTION s.f();",
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
