//! SG025 plain-step: in the plain profile, a step or rollback file without BEGIN holds
//! no transaction control and does not set the timeouts itself.
//!
//! Why: with `[pack.lint] profile = "plain"` (the default) a step file may be plain SQL:
//! the runner opens the transaction, sets the pack's (or the step's `[step.timeouts]`)
//! statement, lock and idle timeouts, runs the statements one at a time, and rolls
//! back (rehearse) or commits (apply, behind every gate). A COMMIT, ROLLBACK or
//! SAVEPOINT in such a file would end or reshape that transaction — the runner refuses
//! it at run time, and this rule says so before anything runs. A `SET LOCAL` of one of
//! the three timeouts would quietly replace the value the approvers agreed to in the
//! manifest; put it in `[step.timeouts]` instead, where it is reviewed. A file that
//! frames itself with BEGIN … ROLLBACK is held to that shape by SG012 and SG015.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::sql::StmtClass;

pub struct PlainStep;

impl Rule for PlainStep {
    fn code(&self) -> &'static str {
        "SG025"
    }
    fn name(&self) -> &'static str {
        "plain-step"
    }
    fn summary(&self) -> &'static str {
        "a plain step file (no BEGIN) holds no transaction control and no SET LOCAL timeouts"
    }
    fn explanation(&self) -> &'static str {
        "In the plain profile (`[pack.lint] profile = \"plain\"`, the default) a step or rollback file may be plain SQL with no BEGIN: the runner wraps it in its own transaction with the timeouts of [pack.timeouts], overridden per step by [step.timeouts]. Such a file must not hold COMMIT, ROLLBACK, SAVEPOINT, RELEASE or PREPARE TRANSACTION (they would end or reshape the runner's transaction), nor `SET LOCAL statement_timeout / lock_timeout / idle_in_transaction_session_timeout` (declare them in [step.timeouts] so approvers see them). Either write the file plain, or frame it completely with BEGIN … ROLLBACK as the sections profile does."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in ctx.files.iter().filter(|f| ctx.is_plain_file(f)) {
            for st in &f.sql.statements {
                match &st.class {
                    StmtClass::Commit | StmtClass::Rollback => out.stmt(
                        f,
                        st,
                        "COMMIT/ROLLBACK in a plain step file: the runner opens, commits and rolls back the transaction",
                        Some("remove it: `stepgate rehearse` rolls the step back and `stepgate apply` commits it behind every gate (or frame the whole file with BEGIN … ROLLBACK)".into()),
                    ),
                    StmtClass::OtherTransactionControl { what } => out.stmt(
                        f,
                        st,
                        format!("{what} in a plain step file: only the runner controls the transaction"),
                        Some("split the work into steps; declare expected failures as [[step.negative]]".into()),
                    ),
                    StmtClass::SetLocal { name, .. }
                        if super::sg015_timeouts::TIMEOUT_GUCS
                            .iter()
                            .any(|(g, _)| g == name) =>
                    {
                        out.stmt(
                            f,
                            st,
                            format!("`SET LOCAL {name}` in a plain step file: the runner sets the timeouts from the manifest"),
                            Some("remove it and declare the value in [step.timeouts] (statement, lock, idle_in_transaction)".into()),
                        )
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn plain_files_lint_clean_in_the_plain_profile() {
        let m = manifest_with(
            "",
            "[step.effects]\nalter = [\"table public.t\"]\ncreate = [\"column public.t.x\"]",
        );
        let d = lint(
            &m,
            &[
                (
                    "01.sql",
                    "-- add a column\nALTER TABLE public.t ADD COLUMN x int;\n",
                ),
                ("rollback/01.sql", "ALTER TABLE public.t DROP COLUMN x;\n"),
            ],
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn fires_on_transaction_control_and_timeouts_in_a_plain_file() {
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                (
                    "01.sql",
                    "SET LOCAL lock_timeout = '1h';\nSELECT 1;\nSAVEPOINT a;\nCOMMIT;\n",
                ),
                ("rollback/01.sql", "SELECT 1;\nROLLBACK;\n"),
            ],
        );
        let d = of("SG025", &d);
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d
            .iter()
            .any(|x| x.file == "01.sql" && x.line == 1 && x.message.contains("lock_timeout")));
        assert!(d
            .iter()
            .any(|x| x.line == 3 && x.message.contains("SAVEPOINT")));
        assert!(d.iter().any(|x| x.file == "01.sql" && x.line == 4));
        assert!(d.iter().any(|x| x.file == "rollback/01.sql" && x.line == 2));
    }

    #[test]
    fn the_sections_profile_still_demands_sections_and_begin() {
        let m = manifest_with("[pack.lint]\nprofile = \"sections\"", "");
        let d = lint(
            &m,
            &[
                ("01.sql", "SELECT 1;\n"),
                ("rollback/01.sql", "SELECT 1;\n"),
            ],
        );
        assert!(!of("SG010", &d).is_empty(), "{d:?}");
        assert!(
            of("SG012", &d)
                .iter()
                .any(|x| x.message.contains("no BEGIN")),
            "{d:?}"
        );
        assert!(of("SG025", &d).is_empty(), "{d:?}");
        // A framed file in the plain profile is still held to its shape.
        let d = lint(
            &manifest_with("", ""),
            &[
                ("01.sql", "BEGIN;\nSELECT 1;\n"),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert!(
            of("SG012", &d)
                .iter()
                .any(|x| x.message.contains("no terminal")),
            "{d:?}"
        );
    }

    #[test]
    fn step_timeouts_raise_the_ceiling_for_a_framed_file() {
        let m = manifest_with("", "[step.timeouts]\nstatement = \"10min\"");
        let body = step_sql("SELECT 1;")
            .replace("statement_timeout = '5s'", "statement_timeout = '10min'");
        let d = lint(
            &m,
            &[
                ("01.sql", &body),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert!(of("SG015", &d).is_empty(), "{d:?}");
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &body),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert_eq!(of("SG015", &d).len(), 1, "{d:?}");
    }
}
