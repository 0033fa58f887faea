//! SG030 rollback-missing: a step names no `rollback` file and is not marked `one_way`.
//!
//! Why: doc 99.1/97 — every step has a rollback mirror, staged and reviewed before its
//! COMMIT, because the time to write a reversal is not in the middle of an incident.
//! A step that truly cannot be undone (a data migration that destroys information, a
//! vocabulary that downstream rows now reference) says so explicitly with `one_way =
//! true` and an `irreversible_reason`, which also makes it need an extra sign-off. A
//! missing rollback that is merely forgotten is neither. Hold steps build nothing and
//! need no rollback.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct RollbackMissing;

impl Rule for RollbackMissing {
    fn code(&self) -> &'static str {
        "SG030"
    }
    fn name(&self) -> &'static str {
        "rollback-missing"
    }
    fn summary(&self) -> &'static str {
        "a step has no rollback file and is not marked one_way"
    }
    fn explanation(&self) -> &'static str {
        "Each step names its rollback mirror (`rollback = \"rollback/01_….sql\"`, doc 97): its own BEGIN … COMMIT that undoes exactly that step, dependents first. If a step cannot be undone, say so: `one_way = true` with an `irreversible_reason`, which makes the step need an extra sign-off. Hold steps need neither."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in &ctx.pack.manifest.step {
            if s.hold || s.one_way || s.rollback.is_some() {
                continue;
            }
            out.manifest(
                ctx,
                s.id.span(),
                format!("step `{}` has no rollback file", s.id()),
                Some("add `rollback = \"rollback/<step>.sql\"` (doc 97), or mark the step `one_way = true` with an `irreversible_reason`".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn manifest(extra: &str) -> String {
        manifest_with("", "").replace("rollback = \"rollback/01.sql\"\n", extra)
    }

    #[test]
    fn fires_without_rollback() {
        let d = of(
            "SG030",
            &lint(&manifest(""), &[("01.sql", &step_sql("SELECT 1;"))]),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].file.as_str(), d[0].line), ("stepgate.toml", 12));
    }

    #[test]
    fn quiet_with_rollback_one_way_or_hold() {
        assert!(of("SG030", &lint_step("", "", "SELECT 1;", "SELECT 1;")).is_empty());
        let m = manifest("one_way = true\nirreversible_reason = \"data is destroyed\"\n");
        assert!(of("SG030", &lint(&m, &[("01.sql", &step_sql("SELECT 1;"))])).is_empty());
        let m = format!(
            "{}[[step]]\nid = \"hold\"\nname = \"wait\"\nhold = true\n",
            manifest_with("", "")
        );
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert!(of("SG030", &d).is_empty(), "{d:?}");
    }
}
