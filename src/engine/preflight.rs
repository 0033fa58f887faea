//! `stepgate preflight [--step ID]`: read-only checks, one line each with its evidence.
//! Everything runs in a READ ONLY transaction: identity, invariants, the pack's
//! preflight file, no session idle in transaction, and per step the objects its
//! effects create are absent, those it alters or drops are present, and the steps
//! it requires are committed.

use crate::core::objects::{ObjKind, ObjectRef};
use crate::core::sql;
use crate::db::snapshot;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::status::step_state;
use crate::engine::step_tx;
use crate::engine::{Error, Result};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreflightReport {
    pub pack: String,
    pub target: String,
    pub checks: Vec<Check>,
    pub passed: bool,
}

fn check(out: &mut Vec<Check>, name: impl Into<String>, ok: bool, evidence: impl Into<String>) {
    out.push(Check {
        name: name.into(),
        ok,
        evidence: evidence.into(),
    });
}

pub fn run(opts: &Options, step: Option<&str>) -> Result<PreflightReport> {
    let mut s = Session::open(opts, "preflight", Lock::None)?;
    let report = run_in(&mut s, step)?;
    let details = serde_json::to_value(&report).unwrap_or_default();
    s.event(
        step,
        "preflight",
        if report.passed { "passed" } else { "failed" },
        None,
        details,
    )?;
    Ok(report)
}

pub fn run_in(s: &mut Session, step: Option<&str>) -> Result<PreflightReport> {
    let pack = s.pack().clone();
    // Bad input is found before anything runs: the preflight file is parsed first.
    let preflight_file = match &pack.manifest.pack.preflight {
        Some(pf) => {
            let rel = pf.get_ref();
            let text = s.loaded.text(rel)?.to_string();
            Some((rel.clone(), sql::parse_file(rel, &text)?))
        }
        None => None,
    };
    let mut checks = Vec::new();
    let id = &s.identity;
    check(
        &mut checks,
        "target identity",
        true,
        format!(
            "database {} · environment {} · system identifier {} · PostgreSQL {} · role {}",
            id.database,
            id.environment.as_deref().unwrap_or("-"),
            id.system_identifier,
            id.server_version,
            id.role
        ),
    );
    let events = s.events()?;
    let halt = crate::engine::status::current_halt(&events);
    check(
        &mut checks,
        "pack not halted",
        halt.is_none(),
        match &halt {
            Some(h) => format!("halted by event {} at {}: {}", h.event, h.at, h.reason),
            None => "no halt in force".into(),
        },
    );
    let t = pack.timeouts;
    let mut tx = step_tx::begin_read_only(&mut s.ledger, &t)?;

    let idle: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
            &[],
        )?
        .get(0);
    check(
        &mut checks,
        "no session idle in transaction",
        idle == 0,
        format!("{idle} idle-in-transaction session(s)"),
    );

    for inv in step_tx::check_invariants(&mut tx, &pack.manifest.invariant)? {
        let ev = match (&inv.got, &inv.error) {
            (_, Some(e)) => format!("query failed: {e}"),
            (got, None) => format!(
                "expected {}, got {}",
                inv.expect,
                got.as_deref().unwrap_or("no row")
            ),
        };
        check(&mut checks, format!("invariant: {}", inv.name), inv.ok, ev);
    }

    if let Some((rel, file)) = &preflight_file {
        let sink: crate::db::connect::NoticeSink = Default::default();
        let stmts: Vec<&sql::Statement> = file.statements.iter().collect();
        let mut n = Vec::new();
        tx.batch_execute("SAVEPOINT stepgate_preflight")?;
        match step_tx::run_statements(&mut tx, file, &stmts, &sink, &mut n) {
            Ok(()) => check(
                &mut checks,
                format!("preflight file {rel}"),
                true,
                format!("{} statement(s) ran read-only", stmts.len()),
            ),
            Err(f) => {
                tx.batch_execute("ROLLBACK TO SAVEPOINT stepgate_preflight")?;
                check(
                    &mut checks,
                    format!("preflight file {rel}"),
                    false,
                    f.to_string(),
                )
            }
        }
    }

    let steps: Vec<usize> = match step {
        Some(id) => vec![pack
            .step_index(id)
            .ok_or_else(|| Error::BadInput(format!("no step `{id}` in pack `{}`", pack.id())))?],
        None => (0..pack.manifest.step.len()).collect(),
    };
    let snap = snapshot::take(&mut tx)?;
    for i in steps {
        let st = &pack.manifest.step[i];
        let (state, _, _) = step_state(&events, st.id());
        let eff = &pack.effects[i];
        if state == "committed" {
            check(
                &mut checks,
                format!("step {}: state", st.id()),
                true,
                "already committed; object checks skipped",
            );
            continue;
        }
        // One expectation per object, from the same ownership model lint and the rehearsal
        // use: created (then perhaps altered) in the step → absent; altered, dropped, or
        // dropped and re-created → present.
        for (o, want_present) in crate::core::effects::entry_expectations(eff) {
            let present =
                snap.contains(&o) || (o.kind == ObjKind::Function && fn_present(&snap, &o));
            check(
                &mut checks,
                format!(
                    "step {}: {o} {}",
                    st.id(),
                    if want_present { "present" } else { "absent" }
                ),
                present == want_present,
                if present { "present" } else { "absent" },
            );
        }
        for r in st.requires_ids() {
            let (rs, at, _) = step_state(&events, &r);
            // Whole-pack preflight: a later step simply waits for its requirement.
            let ok = rs == "committed" || step.is_none();
            let wait = if rs != "committed" && step.is_none() {
                " — this step waits for it"
            } else {
                ""
            };
            let at = at.map(|a| format!(" at {a}")).unwrap_or_default();
            check(
                &mut checks,
                format!("step {}: requires step {r} committed", st.id()),
                ok,
                format!("step {r}: {rs}{at}{wait}"),
            );
        }
    }
    tx.rollback()?;
    let passed = checks.iter().all(|c| c.ok);
    Ok(PreflightReport {
        pack: pack.id().to_string(),
        target: s.target.display(),
        checks,
        passed,
    })
}

fn fn_present(snap: &crate::core::catalog::Snapshot, o: &ObjectRef) -> bool {
    !o.name.contains('(')
        && snap.objects.values().any(|x| {
            x.kind == ObjKind::Function && x.name.split('(').next() == Some(o.name.as_str())
        })
}
