//! SG021 forbidden: a statement of a step touches something the step's `forbid` rules
//! exclude.
//!
//! Why: the seed plans pair every step's allowed objects with forbidden ones ("NO ALTER
//! of governance_relations", "no event active=true", "no os_proposal_approvals INSERT").
//! A `forbid` rule (`<verb> <kind> [name]`, e.g. `alter table public.governance_relations`,
//! `create trigger`, `insert os_proposal_approvals`) states that boundary so a machine
//! holds it: the linter checks the parsed statements here, and the rehearsal checks the
//! measured delta. Objects a CREATE brings with it (inline columns and constraints)
//! are checked too, TRUNCATE counts as a delete, and adding, altering or dropping a
//! table's columns, constraints, triggers or policies counts as altering the table.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::objects::{ForbidRule, ObjKind, ObjectRef, Verb};

pub struct Forbidden;

/// The first rule `verb obj` breaks. Besides exact matches: TRUNCATE breaks `delete`
/// rules, and DDL on a table's columns, constraints, triggers or policies (which SQL
/// writes as ALTER TABLE) breaks `alter table` rules for that table.
fn violated<'a>(rules: &'a [ForbidRule], verb: Verb, obj: &ObjectRef) -> Option<&'a ForbidRule> {
    let member_of = obj
        .table()
        .filter(|_| matches!(verb, Verb::Create | Verb::Alter | Verb::Drop));
    rules.iter().find(|r| {
        r.matches(verb, obj)
            || (verb == Verb::Truncate && r.matches(Verb::Delete, obj))
            || member_of
                .as_ref()
                .is_some_and(|t| r.matches(Verb::Alter, &ObjectRef::new(ObjKind::Table, t.clone())))
    })
}

impl Rule for Forbidden {
    fn code(&self) -> &'static str {
        "SG021"
    }
    fn name(&self) -> &'static str {
        "forbidden"
    }
    fn summary(&self) -> &'static str {
        "a statement matches one of the step's `forbid` rules"
    }
    fn explanation(&self) -> &'static str {
        "`forbid = [\"alter table public.governance_relations\", \"create trigger\", \"insert os_proposal_approvals\"]` lists what a step must never do: a verb (create, alter, drop, insert, update, delete, truncate), a kind and optionally a name (no name = any object of that kind). The linter checks every object a statement touches — including what a DO block does and the columns and constraints a CREATE TABLE brings along; TRUNCATE also matches `delete` rules, and DDL on a table's columns, constraints, triggers or policies matches `alter table` rules for it — and the rehearsal checks the measured delta against the same rules. Remove the statement or, if the boundary is wrong, change the rule in review."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (i, step, f) in ctx.step_files() {
            let Some(rules) = ctx.pack.forbids.get(i).filter(|r| !r.is_empty()) else {
                continue;
            };
            for st in &f.sql.statements {
                let mut hits: Vec<(Verb, &ObjectRef, &ForbidRule)> = Vec::new();
                for t in &st.touches {
                    if let Some(r) = violated(rules, t.verb, &t.object) {
                        hits.push((t.verb, &t.object, r));
                    }
                    if t.verb == Verb::Create {
                        for o in &t.owned {
                            if let Some(r) = violated(rules, Verb::Create, o) {
                                hits.push((Verb::Create, o, r));
                            }
                        }
                    }
                }
                for (verb, obj, rule) in hits {
                    out.stmt(
                        f,
                        st,
                        format!("{verb} `{obj}` is forbidden in step `{}` by rule \"{}\"", step.id(), rule.text),
                        Some("remove the statement; the forbid rule is part of what the approvers signed".into()),
                    );
                }
            }
        }
        // The declared effects themselves must not contradict the step's forbid list.
        for (i, step) in ctx.pack.manifest.step.iter().enumerate() {
            let (Some(rules), Some(eff)) = (ctx.pack.forbids.get(i), ctx.pack.effects.get(i))
            else {
                continue;
            };
            let mut declared: Vec<(Verb, ObjectRef)> = Vec::new();
            declared.extend(eff.create.iter().map(|o| (Verb::Create, o.clone())));
            declared.extend(eff.alter.iter().map(|o| (Verb::Alter, o.clone())));
            declared.extend(eff.drop.iter().map(|o| (Verb::Drop, o.clone())));
            for (t, c) in &eff.rows {
                let table = ObjectRef::new(crate::core::objects::ObjKind::Table, t.clone());
                for (v, n) in [
                    (Verb::Insert, c.insert),
                    (Verb::Update, c.update),
                    (Verb::Delete, c.delete),
                ] {
                    if n > 0 {
                        declared.push((v, table.clone()));
                    }
                }
            }
            for (verb, obj) in declared {
                if let Some(rule) = violated(rules, verb, &obj) {
                    out.manifest(
                        ctx,
                        step.id.span(),
                        format!("step `{}` declares {verb} `{obj}` in its effects, which its own rule \"{}\" forbids", step.id(), rule.text),
                        Some("a forbidden change can never commit; remove it from [step.effects] or the rule".into()),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const FORBID: &str = "forbid = [\"alter table public.governance_relations\", \"create trigger\", \"delete os_proposal_approvals\", \"create constraint\"]";

    #[test]
    fn fires_on_forbidden_touches() {
        let body = "ALTER TABLE governance_relations ADD CONSTRAINT x CHECK (true) NOT VALID;\nALTER TABLE governance_relations OWNER TO bob;\nCREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\nTRUNCATE os_proposal_approvals;\nCREATE TABLE n (id int, CONSTRAINT n_ck CHECK (id > 0));";
        let d = of("SG021", &lint_step("", FORBID, body, "SELECT 1;"));
        assert_eq!(d.len(), 5, "{d:?}");
        assert_eq!(
            d.iter()
                .filter(|x| x
                    .message
                    .contains("\"alter table public.governance_relations\""))
                .count(),
            2,
            "{d:?}"
        );
        assert!(
            d.iter().any(|x| x.message.contains("truncate")
                && x.message.contains("delete os_proposal_approvals")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("constraint public.n.n_ck")),
            "{d:?}"
        );
    }

    #[test]
    fn quiet_on_allowed_touches() {
        let d = of("SG021", &lint_step("", FORBID, "CREATE TABLE t (id int);\nINSERT INTO os_proposal_approvals VALUES (1);\nALTER TABLE other ADD COLUMN c int;", "SELECT 1;"));
        assert!(d.is_empty(), "{d:?}");
    }
}

#[cfg(test)]
mod effect_contradiction_tests {
    use crate::core::lint::testing::*;

    #[test]
    fn effects_contradicting_forbid_fire() {
        let m = manifest_with("", "forbid = [\"insert public.event_outbox\"]\n[step.effects]\nrows = { \"public.event_outbox\" = { insert = 1 } }");
        let d = of(
            "SG021",
            &lint(
                &m,
                &[
                    (
                        "01.sql",
                        &step_sql("DO $$ BEGIN EXECUTE 'select 1'; END $$;"),
                    ),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert!(
            d.iter()
                .any(|x| x.file == "stepgate.toml" && x.message.contains("forbids")),
            "{d:?}"
        );
        let m = manifest_with("", "forbid = [\"insert public.event_outbox\"]\n[step.effects]\nrows = { \"public.other\" = { insert = 1 } }");
        let d = of(
            "SG021",
            &lint(
                &m,
                &[
                    ("01.sql", &step_sql("INSERT INTO public.other VALUES (1);")),
                    (
                        "rollback/01.sql",
                        &rollback_sql("DELETE FROM public.other WHERE true;"),
                    ),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
