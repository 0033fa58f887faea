//! SG011 read-only-file-transaction-control: the preflight and verify files carry
//! transaction control, `SET`, or a statement that is not read-only.
//!
//! Why: doc 99.3 — "00_preflight.sql and verify/post_step.sql have no BEGIN/COMMIT —
//! they are read-only". stepgate runs them inside its own `READ ONLY` transaction, so
//! a BEGIN/COMMIT/ROLLBACK/SAVEPOINT in them would end or nest that transaction and
//! let what follows run outside it, a `SET`/`SET LOCAL` would change the runner's
//! timeouts, and a write either fails at run time or — worse, after a stray COMMIT —
//! succeeds. Checks that may run "anytime" must be unable to change anything.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};
use crate::core::sql::StmtClass;

pub struct ReadOnlyFileTx;

impl Rule for ReadOnlyFileTx {
    fn code(&self) -> &'static str {
        "SG011"
    }
    fn name(&self) -> &'static str {
        "read-only-file-transaction-control"
    }
    fn summary(&self) -> &'static str {
        "preflight and verify files hold only read-only statements: no transaction control, no SET"
    }
    fn explanation(&self) -> &'static str {
        "The preflight and verify files run inside stepgate's own READ ONLY transaction, with the pack's timeouts already set. BEGIN, COMMIT, ROLLBACK, SAVEPOINT and friends would end or nest that transaction; SET and SET LOCAL would change the timeouts the runner set; anything that writes would fail (or, after a stray COMMIT, succeed outside any control). Keep these files to SELECT, SHOW, EXPLAIN and DO blocks that only read and RAISE EXCEPTION when a check fails."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Preflight | FileRole::Verify))
        {
            let which = if f.role == FileRole::Preflight {
                "preflight"
            } else {
                "verify"
            };
            for st in &f.sql.statements {
                let (msg, help) = match &st.class {
                    StmtClass::ReadOnly => continue,
                    StmtClass::Begin | StmtClass::Commit | StmtClass::Rollback | StmtClass::OtherTransactionControl { .. } => (
                        format!("transaction control in the {which} file"),
                        "remove it: stepgate runs this file inside its own READ ONLY transaction",
                    ),
                    StmtClass::SetLocal { name, .. } | StmtClass::SetSession { name, .. } => (
                        format!("`SET {name}` in the {which} file"),
                        "remove it: the runner sets the pack's timeouts on the READ ONLY transaction it opens",
                    ),
                    StmtClass::NonTransactional { what } => {
                        (format!("{what} in the {which} file, which must be read-only"), "move it into a step (transactional = false)")
                    }
                    StmtClass::Write => (
                        format!("the {which} file must be read-only, but this statement changes the database"),
                        "keep to SELECT, SHOW, EXPLAIN and DO blocks that only read; changes belong in a step",
                    ),
                };
                out.stmt(f, st, msg, Some(help.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(preflight: &str) -> Vec<crate::core::lint::Diagnostic> {
        let m = manifest_with(
            "preflight = \"00_preflight.sql\"\nverify = \"verify.sql\"",
            "",
        );
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ("00_preflight.sql", preflight),
                ("verify.sql", "SELECT 1;"),
            ],
        );
        of("SG011", &d)
    }

    #[test]
    fn fires_on_transaction_control_set_and_writes() {
        let d = run("BEGIN;\nSET LOCAL lock_timeout = '1s';\nSELECT 1;\nINSERT INTO t VALUES (1);\nCOMMIT;\n");
        assert_eq!(d.len(), 4, "{d:?}");
        assert_eq!(
            d.iter().map(|x| x.line).collect::<Vec<_>>(),
            vec![1, 2, 4, 5]
        );
    }

    #[test]
    fn quiet_on_read_only_checks() {
        let d = run("SELECT count(*) FROM t;\nSHOW server_version;\nDO $$ BEGIN IF (SELECT count(*) FROM g) <> 8 THEN RAISE EXCEPTION 'x'; END IF; END $$;\n");
        assert!(d.is_empty(), "{d:?}");
    }
}
