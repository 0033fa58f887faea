//! SG016 session-level-timeout: a session-level `SET` (or `RESET`, or
//! `set_config(…, false)`) of statement_timeout, lock_timeout or
//! idle_in_transaction_session_timeout, anywhere in any pack file.
//!
//! Why: doc 99.3 — "SET LOCAL (not SET) so timeouts scope to the transaction and reset
//! on its end". A session-level SET outlives the transaction: it leaks into whatever
//! the runner does next on that connection (the ledger write, the next step, the
//! verification), and inside a transaction it silently overrides the SET LOCAL the
//! runner and section C established — `RESET lock_timeout` after `SET LOCAL
//! lock_timeout` puts the lock wait back to unlimited.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::sql::{Statement, StmtClass};
use pg_query::protobuf::{self, a_const};
use pg_query::{NodeEnum, NodeRef};

pub struct SessionSet;

fn is_timeout(name: &str) -> bool {
    super::sg015_timeouts::TIMEOUT_GUCS
        .iter()
        .any(|(g, _)| g.eq_ignore_ascii_case(name.trim()))
}

fn const_text(n: &protobuf::Node) -> Option<String> {
    match n.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            a_const::Val::Sval(s) => Some(s.sval.clone()),
            a_const::Val::Boolval(b) => Some(b.boolval.to_string()),
            a_const::Val::Ival(i) => Some(i.ival.to_string()),
            _ => None,
        },
        NodeEnum::TypeCast(tc) => tc.arg.as_deref().and_then(const_text),
        _ => None,
    }
}

/// `set_config('lock_timeout', …, false)` calls in a statement: the GUC names they set session-wide.
fn session_set_configs(st: &Statement) -> Vec<String> {
    let Some(node) = &st.node else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (n, _, _, _) in node.nodes() {
        let NodeRef::FuncCall(fc) = n else { continue };
        let fname = fc.funcname.last().and_then(const_or_string);
        if fname.as_deref() != Some("set_config") || fc.args.len() != 3 {
            continue;
        }
        let Some(name) = const_text(&fc.args[0]) else {
            continue;
        };
        let local = const_text(&fc.args[2]).map(|v| v.to_ascii_lowercase());
        let is_local = matches!(local.as_deref(), Some("true" | "t" | "on" | "yes" | "1"));
        if is_timeout(&name) && !is_local {
            out.push(name.to_lowercase());
        }
    }
    out
}

fn const_or_string(n: &protobuf::Node) -> Option<String> {
    match n.node.as_ref()? {
        NodeEnum::String(s) => Some(s.sval.to_lowercase()),
        _ => None,
    }
}

impl Rule for SessionSet {
    fn code(&self) -> &'static str {
        "SG016"
    }
    fn name(&self) -> &'static str {
        "session-level-timeout"
    }
    fn summary(&self) -> &'static str {
        "a timeout is set at session level (SET / RESET / set_config(…, false)) instead of SET LOCAL"
    }
    fn explanation(&self) -> &'static str {
        "statement_timeout, lock_timeout and idle_in_transaction_session_timeout are scoped to the transaction with SET LOCAL (doc 99.3). A plain SET, SET SESSION, RESET, RESET ALL or set_config(name, value, false) changes the whole session: it outlives the transaction, leaks into the runner's next statements on the same connection, and inside a transaction overrides the SET LOCAL already in force. Write `SET LOCAL name = 'value'` right after BEGIN instead."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let help =
            || Some("use `SET LOCAL` right after BEGIN: it ends with the transaction".to_string());
        for f in &ctx.files {
            for st in &f.sql.statements {
                match &st.class {
                    StmtClass::SetSession { name, value } if is_timeout(name) => {
                        let what = if value.is_empty() {
                            format!("`{name}`")
                        } else {
                            format!("`{name} = {value}`")
                        };
                        out.stmt(
                            f,
                            st,
                            format!("session-level SET/RESET of {what} outlives the transaction"),
                            help(),
                        );
                    }
                    StmtClass::SetSession { name, .. }
                        if name.is_empty()
                            && st
                                .text
                                .trim_start()
                                .to_ascii_uppercase()
                                .starts_with("RESET ALL") =>
                    {
                        out.stmt(
                            f,
                            st,
                            "RESET ALL resets the timeouts for the whole session",
                            help(),
                        );
                    }
                    _ => {
                        for name in session_set_configs(st) {
                            out.stmt(f, st, format!("set_config('{name}', …, false) sets the timeout for the whole session"), Some("pass true as the third argument, or use `SET LOCAL`".into()));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_session_set_reset_and_set_config() {
        let body = "SET lock_timeout = '1h';\nRESET statement_timeout;\nSELECT set_config('idle_in_transaction_session_timeout', '0', false);\nRESET ALL;";
        let m = manifest_with("verify = \"v.sql\"", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql(body)),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ("v.sql", "SET SESSION statement_timeout TO 0;"),
            ],
        );
        let d = of("SG016", &d);
        assert_eq!(d.len(), 5, "{d:?}");
        assert!(d.iter().any(|x| x.file == "v.sql"));
    }

    #[test]
    fn quiet_on_set_local_and_other_settings() {
        let d = of(
            "SG016",
            &lint_step(
                "",
                "",
                "SET search_path = public;\nSELECT set_config('lock_timeout', '1s', true);",
                "SELECT 1;",
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
