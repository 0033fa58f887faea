//! SG023 opaque-statement: a statement whose footprint cannot be known statically —
//! dynamic SQL (`EXECUTE` / `FOR … EXECUTE`) in a DO block, a non-PL/pgSQL DO block,
//! CALL, or a statement kind stepgate does not analyse.
//!
//! Why: the static checks — declared effects (SG020), forbid rules (SG021), protected
//! tables (SG022), rollback scope (SG031) — read the objects a statement touches. For
//! these statements that list is incomplete, so those rules may miss what it does. That
//! is not fatal — the rehearsal measures the real in-transaction delta and still holds
//! it to the declared effects — but a reviewer should know the static picture has a
//! hole here. Prefer writing the statements out.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};

pub struct Opaque;

impl Rule for Opaque {
    fn code(&self) -> &'static str {
        "SG023"
    }
    fn name(&self) -> &'static str {
        "opaque-statement"
    }
    fn summary(&self) -> &'static str {
        "a statement's footprint cannot be known statically (dynamic SQL, CALL, unknown statement)"
    }
    fn explanation(&self) -> &'static str {
        "stepgate reads what each statement creates, alters, drops and writes from the parse tree, and looks into DO blocks through the PL/pgSQL parser. Dynamic SQL (EXECUTE format(...)), DO blocks in other languages, CALL and statement kinds it does not analyse hide their footprint, so the static checks (effects, forbid rules, protected tables, rollback scope) may miss what they do. The rehearsal's measured delta still checks them against the declared effects. Write the statements out where you can; otherwise set this rule's severity to \"off\" for the pack once reviewed."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Step(_) | FileRole::Rollback(_)))
        {
            for st in f.sql.statements.iter().filter(|s| s.opaque) {
                let what = if st.is_do {
                    "this DO block runs dynamic SQL (or is not PL/pgSQL)"
                } else {
                    "this statement's effects are not analysed"
                };
                out.stmt(
                    f,
                    st,
                    format!("{what}: footprint cannot be known statically; the rehearsal's measured delta still checks it"),
                    Some("write the statements out so effects, forbid rules and protected tables can be checked before anything runs".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_dynamic_sql_and_call() {
        let d = of(
            "SG023",
            &lint_step(
                "",
                "",
                "DO $$ BEGIN EXECUTE format('DROP TABLE %I', 'x'); END $$;\nCALL p();",
                "SELECT 1;",
            ),
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d
            .iter()
            .all(|x| x.severity == crate::core::lint::Severity::Warning
                && x.message.contains("footprint cannot be known statically")));
    }

    #[test]
    fn quiet_on_static_statements() {
        let d = of(
            "SG023",
            &lint_step(
                "",
                "",
                "DO $$ BEGIN INSERT INTO t VALUES (1); END $$;\nCREATE TABLE t (id int);",
                "DROP TABLE t;",
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
