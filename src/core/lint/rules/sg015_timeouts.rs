//! SG015 timeouts: right after BEGIN, every transaction sets `statement_timeout`,
//! `lock_timeout` and `idle_in_transaction_session_timeout` with SET LOCAL, no higher
//! than the pack's `[pack.timeouts]`.
//!
//! Why: doc 99.2 section C and doc 97 ("all rollback SQL must itself run with the three
//! timeouts set"). Without a lock_timeout, an ALTER queued behind a long reader blocks
//! every query on the table behind it; without a statement_timeout a runaway backfill
//! holds its locks indefinitely; without idle_in_transaction_session_timeout a stalled
//! client keeps the transaction — and its locks — open. They must come first so no
//! statement runs unguarded, and within the pack's limits so a file cannot quietly
//! raise the ceiling the approvers agreed to.
//! Other `SET LOCAL`s (search_path, SET TRANSACTION …) may sit among the three; any
//! other statement before all three are set is an error.

use crate::core::duration::parse_guc_millis;
use crate::core::lint::{Emitter, FileRole, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::StmtClass;
use std::collections::BTreeSet;

pub struct Timeouts;

/// The three timeouts: GUC name and `[pack.timeouts]` key.
pub const TIMEOUT_GUCS: [(&str, &str); 3] = [
    ("statement_timeout", "statement"),
    ("lock_timeout", "lock"),
    ("idle_in_transaction_session_timeout", "idle_in_transaction"),
];

impl Rule for Timeouts {
    fn code(&self) -> &'static str {
        "SG015"
    }
    fn name(&self) -> &'static str {
        "timeouts"
    }
    fn summary(&self) -> &'static str {
        "the three SET LOCAL timeouts come right after BEGIN, within [pack.timeouts]"
    }
    fn explanation(&self) -> &'static str {
        "Directly after BEGIN, before any other statement, set `SET LOCAL statement_timeout`, `SET LOCAL lock_timeout` and `SET LOCAL idle_in_transaction_session_timeout` (any order). Each value must be positive and no higher than the pack's [pack.timeouts] (statement, lock, idle_in_transaction). A lock_timeout keeps an ALTER from queueing behind a long reader and blocking the table; statement_timeout bounds a runaway statement; idle_in_transaction_session_timeout closes a stalled session instead of leaving it holding locks. Rollback files follow the same rule (doc 97)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in &ctx.files {
            let applies = match f.role {
                FileRole::Step(i) => ctx
                    .pack
                    .manifest
                    .step
                    .get(i)
                    .is_some_and(|s| s.transactional),
                FileRole::Rollback(_) => {
                    !super::sg012_transaction_shape::is_non_transactional_rollback(ctx, f)
                }
                _ => false,
            };
            if applies {
                check_file(ctx, f, out);
            }
        }
    }
}

fn limit_of(ctx: &LintContext, key: &str) -> (u128, String) {
    let (d, text) = match key {
        "statement" => (
            ctx.pack.timeouts.statement,
            &ctx.pack.manifest.pack.timeouts.statement,
        ),
        "lock" => (
            ctx.pack.timeouts.lock,
            &ctx.pack.manifest.pack.timeouts.lock,
        ),
        _ => (
            ctx.pack.timeouts.idle_in_transaction,
            &ctx.pack.manifest.pack.timeouts.idle_in_transaction,
        ),
    };
    (d.as_millis(), text.get_ref().clone())
}

fn check_file(ctx: &LintContext, f: &ParsedFile, out: &mut Emitter) {
    let sts = &f.sql.statements;
    let Some(b) = sts.iter().position(|s| s.class == StmtClass::Begin) else {
        return; // SG012 reports the missing BEGIN
    };
    let mut leading = BTreeSet::new();
    for st in &sts[b + 1..] {
        match &st.class {
            StmtClass::SetLocal { name, .. } => {
                leading.insert(name.as_str());
            }
            _ => break,
        }
    }
    let mut missing = Vec::new();
    for (guc, _) in TIMEOUT_GUCS {
        if leading.contains(guc) {
            continue;
        }
        let late = sts[b + 1..]
            .iter()
            .find(|s| matches!(&s.class, StmtClass::SetLocal { name, .. } if name == guc));
        match late {
            Some(st) => out.stmt(
                f,
                st,
                format!("`SET LOCAL {guc}` comes after other statements, which run without it"),
                Some(
                    "set all three timeouts directly after BEGIN, before any other statement"
                        .into(),
                ),
            ),
            None => missing.push(guc),
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|g| format!("`SET LOCAL {g}`")).collect();
        out.stmt(
            f,
            &sts[b],
            format!("missing {} after BEGIN", list.join(", ")),
            Some("follow BEGIN with SET LOCAL statement_timeout, lock_timeout and idle_in_transaction_session_timeout, within [pack.timeouts]".into()),
        );
    }
    for st in sts {
        let StmtClass::SetLocal { name, value } = &st.class else {
            continue;
        };
        let Some((_, key)) = TIMEOUT_GUCS.iter().find(|(g, _)| g == name) else {
            continue;
        };
        let (mut limit, mut limit_text) = limit_of(ctx, key);
        // A step's own [step.timeouts] sets its ceiling.
        if let FileRole::Step(i) | FileRole::Rollback(i) = f.role {
            let t = ctx.pack.timeouts_for(i);
            let d = [t.statement, t.lock, t.idle_in_transaction][match *key {
                "statement" => 0,
                "lock" => 1,
                _ => 2,
            }];
            if d.as_millis() != limit {
                (limit, limit_text) = (d.as_millis(), format!("{}ms", d.as_millis()));
            }
        }
        match parse_guc_millis(value) {
            None => out.stmt(
                f,
                st,
                format!("cannot read `{value}` as a duration for {name}"),
                Some(format!("give an explicit value such as '{limit_text}'; DEFAULT falls back to the session's setting")),
            ),
            Some(0) => out.stmt(
                f,
                st,
                format!("{name} = 0 disables the timeout"),
                Some(format!("set a positive value, at most {limit_text} ([pack.timeouts] {key})")),
            ),
            Some(ms) if ms > limit => out.stmt(
                f,
                st,
                format!("{name} = '{value}' ({ms} ms) is higher than the pack's [pack.timeouts] {key} = \"{limit_text}\" ({limit} ms)"),
                Some("lower it, or raise [pack.timeouts] in the manifest so the approvers see the change".into()),
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(sql: &str) -> Vec<crate::core::lint::Diagnostic> {
        of(
            "SG015",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        )
    }

    #[test]
    fn fires_on_missing_late_and_too_high() {
        let d = run(&step_sql("SELECT 1;")
            .replace("SET LOCAL lock_timeout = '3s';\n", "")
            .replace("'15s'", "'1min'"));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.message.contains("missing `SET LOCAL lock_timeout`") && x.line == 6),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("60000 ms") && x.message.contains("15000 ms")),
            "{d:?}"
        );
        let d = run(&step_sql("SET LOCAL lock_timeout = 0;")
            .replace("SET LOCAL lock_timeout = '3s';\n", "SELECT 1;\n"));
        assert!(
            d.iter()
                .any(|x| x.message.contains("comes after other statements")),
            "{d:?}"
        );
        assert!(d.iter().any(|x| x.message.contains("disables")), "{d:?}");
        let m = manifest_with("", "");
        let rb =
            "BEGIN;\nSET LOCAL statement_timeout = '5s';\nDELETE FROM t WHERE id = 1;\nCOMMIT;\n";
        let d = of(
            "SG015",
            &lint(
                &m,
                &[("01.sql", &step_sql("SELECT 1;")), ("rollback/01.sql", rb)],
            ),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("lock_timeout")
                && d[0].message.contains("idle_in_transaction_session_timeout")
        );
    }

    #[test]
    fn quiet_within_limits() {
        assert!(run(&step_sql("SELECT 1;")).is_empty());
        let sql = step_sql("SELECT 1;")
            .replace("'5s'", "2000")
            .replace("'3s'", "'500ms'");
        assert!(run(&sql).is_empty(), "{:?}", run(&sql));
    }
}
