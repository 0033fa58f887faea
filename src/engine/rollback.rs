//! `stepgate rollback --step ID [--cascade]`: reverse one committed step by its
//! rollback file, children before parents (doc 97.3/97.4), under the step's own
//! `rollback_gates` bound to the rollback file's bytes.
//!
//! Inside the rollback's transaction, before COMMIT, the runner proves the reversal:
//! every object the step created is gone, every object it altered or dropped is back
//! to its recorded pre-step definition, the row counts of the tables it wrote are
//! back to their pre-step values (except the pack's `organic` tables), and nothing
//! else in the catalog moved — all but what the step's `rollback_keeps` names
//! (retire-not-delete rows, a trigger fix that stays). Anything else rolls back and
//! halts the pack.

use crate::core::approval::Action;
use crate::core::catalog::{self, Snapshot};
use crate::core::manifest::Pack;
use crate::core::objects::ObjectRef;
use crate::db::connect::NoticeSink;
use crate::db::ledger::{self, Event, NewEvent};
use crate::db::{delta, snapshot};
use crate::engine::apply::ensure_backup;
use crate::engine::fault;
use crate::engine::gates::{self, GateReport};
use crate::engine::session::{Lock, Options, Session};
use crate::engine::status::step_state;
use crate::engine::step_tx::{self, LocatedNotice, StatementFailure};
use crate::engine::step_tx::{db_now_micros, halt, reconcile, step_sql};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub step: String,
    pub run_id: String,
    pub file_sha256: String,
    pub gates: Option<GateReport>,
    pub failure: Option<StatementFailure>,
    pub problems: Vec<String>,
    pub notices: Vec<LocatedNotice>,
    pub committed: bool,
    pub commit_event: Option<i64>,
    pub fingerprint: Option<String>,
    pub halted: Option<String>,
    pub elapsed_ms: u128,
    /// A batched rollback: batches, rows and rate, as the server counted them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::engine::batch::BatchSummary>,
}

impl RollbackReport {
    /// The report of a rollback that is about to run.
    fn started(step: &str, run_id: &str, sha: &str, gates: Option<GateReport>) -> Self {
        RollbackReport {
            step: step.to_string(),
            run_id: run_id.to_string(),
            file_sha256: sha.to_string(),
            gates,
            failure: None,
            problems: vec![],
            notices: vec![],
            committed: false,
            commit_event: None,
            fingerprint: None,
            halted: None,
            elapsed_ms: 0,
            batch: None,
        }
    }
}

/// What the step's commit recorded: its pre-step snapshot and row counts.
pub struct CommitRecord {
    pub entry: Snapshot,
    pub pre_counts: BTreeMap<String, i64>,
}

pub fn commit_record(session: &mut Session, events: &[Event], step: &str) -> Result<CommitRecord> {
    let e = events
        .iter()
        .rev()
        .find(|e| {
            e.fact
                && e.verb == "apply"
                && e.result == "committed"
                && e.step.as_deref() == Some(step)
        })
        .ok_or_else(|| {
            Error::Refused(format!("step {step} has no committed apply in the ledger"))
        })?;
    // The server's fact carries the client's measurements under `client` (a claim: the
    // snapshot it names is content-addressed, so an edited one is refused below).
    let details = e.details.get("client").unwrap_or(&e.details);
    let fp = details
        .get("entry_fingerprint")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let entry = ledger::load_snapshot(&mut session.ledger, &fp)?
        .ok_or_else(|| Error::Refused(format!("the pre-step snapshot {fp} recorded at commit (event {}) is missing or fails its hash check", e.id)))?;
    let pre_counts = details
        .get("pre_counts")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Ok(CommitRecord { entry, pre_counts })
}

/// Proves the reversal inside the rollback's transaction. Empty = proven.
pub fn reversal_problems(
    tx: &mut impl postgres::GenericClient,
    pack: &Pack,
    idx: usize,
    rec: &CommitRecord,
    committed: &Snapshot,
) -> std::result::Result<Vec<String>, postgres::Error> {
    let eff = &pack.effects[idx];
    let (keep_objs, keep_rows) = &pack.keeps[idx];
    crate::engine::session::quiet_planner(tx)?;
    let now = snapshot::take(tx)?;
    let mut problems = Vec::new();
    let kept = |o: &ObjectRef| {
        keep_objs.contains(o)
            || o.table()
                .is_some_and(|t| keep_objs.iter().any(|k| k.name == t))
    };
    for o in &eff.create {
        if kept(o) || eff.drop.contains(o) {
            continue;
        }
        if now.contains(o) {
            problems.push(format!("{o} was created by the step and is still there"));
        }
    }
    for o in eff.alter.iter().chain(eff.drop.iter()) {
        if kept(o) {
            continue;
        }
        match (rec.entry.get(o), now.get(o)) {
            (Some(before), Some(after)) if before.attrs == after.attrs => {}
            (Some(_), Some(_)) => {
                problems.push(format!("{o} is not back to its pre-step definition"))
            }
            (Some(_), None) => problems.push(format!("{o} existed before the step and is missing")),
            (None, Some(_)) => problems.push(format!(
                "{o} did not exist before the step and is still there"
            )),
            (None, None) => {}
        }
    }
    let tables: Vec<String> = eff.rows.keys().cloned().collect();
    let counts = delta::row_counts(tx, &tables)?;
    for t in &tables {
        if pack.organic.contains(t) || keep_rows.contains(t) {
            continue;
        }
        let before = rec.pre_counts.get(t);
        let after = counts.get(t);
        if before != after {
            problems.push(format!(
                "rows of {t}: {} before the step, {} now",
                before
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "absent".into()),
                after
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "absent".into())
            ));
        }
    }
    // The rollback must not have touched anything outside the step's footprint.
    let d = catalog::diff(committed, &now);
    let in_scope = |o: &ObjectRef| {
        let t = o.table();
        eff.create.contains(o)
            || eff.alter.contains(o)
            || eff.drop.contains(o)
            || t.as_ref().is_some_and(|t| {
                eff.create
                    .iter()
                    .chain(eff.drop.iter())
                    .any(|c| &c.name == t)
            })
    };
    for o in d
        .added
        .iter()
        .chain(d.removed.iter())
        .chain(d.changed.iter().map(|c| &c.object))
    {
        if !in_scope(o) && !covered_by_owned(o, committed, eff) {
            problems.push(format!("{o} changed, but the step never touched it"));
        }
    }
    Ok(problems)
}

/// Indexes and sequences owned by a table the step created.
fn covered_by_owned(
    o: &ObjectRef,
    committed: &Snapshot,
    eff: &crate::core::manifest::ResolvedEffects,
) -> bool {
    let Some(obj) = committed.get(o) else {
        return false;
    };
    let owner = obj.attrs.get("table").cloned().or_else(|| {
        obj.attrs
            .get("owned_by")
            .map(|c| c.rsplit_once('.').map(|x| x.0).unwrap_or("").to_string())
    });
    owner.is_some_and(|t| eff.create.iter().any(|c| c.name == t))
}

/// Committed steps that require `step` (transitively), latest-applied first.
pub fn committed_dependents(pack: &Pack, events: &[Event], step: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut frontier = vec![step.to_string()];
    while let Some(s) = frontier.pop() {
        for st in &pack.manifest.step {
            if st.requires_ids().contains(&s)
                && !out.contains(&st.id().to_string())
                && step_state(events, st.id()).0 == "committed"
            {
                out.push(st.id().to_string());
                frontier.push(st.id().to_string());
            }
        }
    }
    // Reverse order of the pack: children (later steps) first.
    out.sort_by_key(|id| std::cmp::Reverse(pack.step_index(id).unwrap_or(0)));
    out
}

pub fn run(
    opts: &Options,
    step_id: &str,
    cascade: bool,
    auto_backup: bool,
) -> Result<Vec<RollbackReport>> {
    let mut session = Session::open(opts, "rollback", Lock::Pack)?;
    run_in(&mut session, step_id, cascade, auto_backup)
}

pub fn run_in(
    session: &mut Session,
    step_id: &str,
    cascade: bool,
    auto_backup: bool,
) -> Result<Vec<RollbackReport>> {
    let events = session.events()?;
    reconcile(session, &events)?;
    let events = session.events()?;
    if let Some(h) = crate::engine::status::current_halt(&events) {
        return Err(Error::Halted(format!(
            "pack `{}` is halted (event {}: {}); rollback refuses until a signed resume",
            session.pack().id(),
            h.event,
            h.reason
        )));
    }
    let pack = session.pack().clone();
    let deps = committed_dependents(&pack, &events, step_id);
    if !deps.is_empty() && !cascade {
        return Err(Error::Refused(format!(
            "step {step_id} cannot be rolled back while committed step(s) {} require it; roll those back first, or pass --cascade to reverse them first in reverse order, each under its own gates",
            deps.join(", ")
        )));
    }
    let mut reports = Vec::new();
    for id in deps.iter().chain(std::iter::once(&step_id.to_string())) {
        let r = rollback_one(session, id, auto_backup)?;
        let stop = !r.committed;
        reports.push(r);
        if stop {
            break;
        }
    }
    Ok(reports)
}

pub fn rollback_one(
    session: &mut Session,
    step_id: &str,
    auto_backup: bool,
) -> Result<RollbackReport> {
    let started = Instant::now();
    let pack = session.pack().clone();
    let idx = pack
        .step_index(step_id)
        .ok_or_else(|| Error::BadInput(format!("no step `{step_id}` in pack `{}`", pack.id())))?;
    let step = pack.manifest.step[idx].clone();
    if step.one_way {
        return Err(Error::Refused(format!(
            "step {step_id} is a one-way door and cannot be rolled back: {}",
            step.irreversible_reason.as_deref().unwrap_or("")
        )));
    }
    let events = session.events()?;
    let (state, at, _) = step_state(&events, step_id);
    if state == "rolled back" {
        return Err(Error::NothingToDo(format!(
            "step {step_id} is already rolled back (at {})",
            at.unwrap_or_default()
        )));
    }
    if state != "committed" && !crate::engine::batch::partly_applied(session, step_id)? {
        return Err(Error::Refused(format!(
            "step {step_id} is {state}; only a committed step can be rolled back"
        )));
    }
    crate::engine::progress::step_header(session, "rolling back", step_id);
    let (_, file, sha) = step_sql(session, step_id, true)?;
    if session.scratch {
        return execute(session, idx, step_id, &file, &sha, None, started);
    }
    let mut refusals = crate::engine::apply::lock_file_problems(session);
    let gate_report = gates::evaluate(
        session,
        step_id,
        Action::Rollback,
        time::OffsetDateTime::now_utc(),
    )?;
    refusals.extend(gate_report.refusals());
    let now_us = db_now_micros(&mut session.ledger)?;
    let last = events.iter().rev().find(|e| {
        e.verb == "rehearse-rollback"
            && e.step.as_deref() == Some(step_id)
            && e.file_sha256.as_deref() == Some(sha.as_str())
    });
    // A transaction-less rollback cannot be rehearsed in BEGIN..ROLLBACK: its rehearsal
    // is `stepgate scratch`, on a throwaway copy.
    let outside = crate::core::plan::runs_outside_transaction(&file);
    match last {
        _ if outside => {}
        None => refusals.push(format!("no rehearsal of this rollback file: run `stepgate rehearse --rollback --step {step_id}` first")),
        Some(e) if e.result != "passed" => refusals.push(format!("the last rehearsal of this rollback file (event {}) {}", e.id, e.result)),
        Some(e) if std::time::Duration::from_micros(now_us.saturating_sub(e.at_micros).max(0) as u64) > pack.max_rehearsal_age => {
            refusals.push(format!("the rollback rehearsal (event {}) is older than max_rehearsal_age", e.id))
        }
        Some(_) => {}
    }
    if !refusals.is_empty() {
        session.event(
            Some(step_id),
            "rollback",
            "refused",
            Some(&sha),
            serde_json::json!({"reasons": refusals}),
        )?;
        return Err(Error::Refused(format!(
            "rollback of step {step_id} refused:\n  {}",
            refusals.join("\n  ")
        )));
    }
    ensure_backup(session, step_id, &events, now_us, auto_backup, false)?;
    execute(
        session,
        idx,
        step_id,
        &file,
        &sha,
        Some(gate_report),
        started,
    )
}

/// Runs the rollback file in one transaction and proves the reversal before COMMIT — or,
/// for a transaction-less rollback file, statement by statement (see
/// [`execute_without_transaction`]).
fn execute(
    session: &mut Session,
    idx: usize,
    step_id: &str,
    file: &crate::core::sql::SqlFile,
    sha: &str,
    gate_report: Option<GateReport>,
    started: Instant,
) -> Result<RollbackReport> {
    if let Some(plan) = crate::engine::batch::batched_plan(session, step_id, Action::Rollback)? {
        let mut report = RollbackReport::started(step_id, &session.run_id, sha, gate_report);
        let (summary, id, notices) = crate::engine::batch::rollback_batched(
            session,
            idx,
            (file, sha),
            &plan,
            std::io::stderr().is_terminal(),
        )?;
        (report.batch, report.commit_event, report.notices) = (Some(summary), Some(id), notices);
        report.committed = true;
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    if crate::core::plan::runs_outside_transaction(file) {
        return execute_without_transaction(session, idx, step_id, file, sha, gate_report, started);
    }
    let pack = session.pack().clone();
    let events = session.events()?;
    let rec = commit_record(session, &events, step_id)?;
    let sha = sha.to_string();
    let mut report = RollbackReport::started(step_id, &session.run_id, &sha, gate_report);
    session.event(
        Some(step_id),
        "rollback-intent",
        "started",
        Some(&sha),
        serde_json::json!({}),
    )?;
    fault::point("rollback:after-intent");
    let committed = snapshot::take(&mut session.ledger)?;
    // What the reversal changes is what the step changed: its declared effects, and what
    // the rollback file names.
    let preimage = crate::engine::proof::preimage_of(
        &mut session.ledger,
        &crate::engine::proof::step_names(&pack, idx, file),
    )?;
    let parts = step_tx::parts(file);
    let sink: NoticeSink = Default::default();
    let mut client = session.step_client("rollback", step_id, sink.clone())?;
    if let Err(f) = step_tx::run_read_only(
        &mut client,
        &pack.timeouts_for(idx),
        file,
        &parts.pre,
        &sink,
        &mut report.notices,
    )? {
        report.failure = Some(*f);
    } else {
        let mut tx = client.transaction()?;
        step_tx::set_timeouts(&mut tx, &pack.timeouts_for(idx))?;
        let plan =
            crate::engine::plan::for_action(&session.loaded, step_id, Action::Rollback, None)?;
        let (run_id, actor) = (session.run_id.clone(), session.actor.clone());
        if let step_tx::PermitOutcome::Refused(why) =
            step_tx::obtain_commit_permit(session, &mut tx, &plan)?
        {
            let _ = tx.rollback();
            drop(client);
            session.event(
                Some(step_id),
                "rollback-end",
                "refused",
                Some(&sha),
                serde_json::json!({"reasons": [why]}),
            )?;
            return Err(Error::Refused(format!(
                "the database refused the rollback of step {step_id}: {why}"
            )));
        }
        if let Some(scope) = &preimage {
            crate::db::footprint::arm(&mut tx, Some(scope))?;
        }
        for (i, st) in parts.body.iter().enumerate() {
            if let Err(f) =
                step_tx::run_statements(&mut tx, file, &[st], &sink, &mut report.notices)
            {
                report.failure = Some(*f);
                break;
            }
            fault::point(&format!("rollback:after-statement-{}", i + 1));
        }
        if report.failure.is_none() {
            report.problems = reversal_problems(&mut tx, &pack, idx, &rec, &committed)?;
            let inv = step_tx::check_invariants(&mut tx, &pack.manifest.invariant)?;
            for i in inv.iter().filter(|i| !i.ok) {
                report.problems.push(format!(
                    "invariant `{}`: expected {}, got {}",
                    i.name,
                    i.expect,
                    i.got.as_deref().unwrap_or("no row")
                ));
            }
        }
        if report.failure.is_some() || !report.problems.is_empty() {
            let _ = tx.rollback();
        } else {
            let pack_id = pack.id().to_string();
            let after = snapshot::take(&mut tx)?;
            let fingerprint = ledger::store_snapshot(&mut tx, &after)?;
            let details =
                serde_json::json!({"notices": report.notices, "fingerprint": fingerprint});
            if session.scratch {
                ledger::append_fact(
                    &mut tx,
                    &actor,
                    &NewEvent {
                        pack: &pack_id,
                        step: Some(step_id),
                        verb: "rollback",
                        result: "committed",
                        file_sha256: Some(&sha),
                        run_id: Some(&run_id),
                        details,
                    },
                )?;
            } else {
                crate::db::authority::note(&mut tx, &details)?;
            }
            fault::point("rollback:after-ledger-row");
            if let Err(e) = tx.commit() {
                if !step_tx::is_refusal(&e) {
                    return Err(e.into());
                }
                drop(client);
                session.event(
                    Some(step_id),
                    "rollback-end",
                    "refused",
                    Some(&sha),
                    serde_json::json!({"reasons": [crate::db::describe_pg_error(&e)]}),
                )?;
                return Err(Error::Refused(format!(
                    "the database refused to commit the rollback of step {step_id}: {}",
                    crate::db::describe_pg_error(&e)
                )));
            }
            report.commit_event = step_tx::fact_of_run(&mut session.ledger, &pack_id, &run_id)?;
            report.committed = true;
        }
    }
    drop(client);
    fault::point("rollback:after-commit");
    if report.committed {
        let after = snapshot::take(&mut session.ledger)?;
        let fp = ledger::store_snapshot(&mut session.ledger, &after)?;
        report.fingerprint = Some(fp.clone());
        session.event(
            Some(step_id),
            "rollback-verify",
            "passed",
            Some(&sha),
            serde_json::json!({"fingerprint": fp}),
        )?;
        session.event(
            Some(step_id),
            "rollback-end",
            "committed",
            Some(&sha),
            serde_json::json!({}),
        )?;
    } else {
        let why = match &report.failure {
            Some(f) if f.kind == "lock_timeout" => None,
            Some(f) => Some(format!("rollback of step {step_id} failed: {f}")),
            None => Some(format!(
                "rollback of step {step_id} did not return the database to its pre-step state: {}",
                report.problems.join("; ")
            )),
        };
        if let Some(w) = why {
            report.halted = Some(halt(session, Some(step_id), &w)?);
        }
        session.event(
            Some(step_id),
            "rollback-end",
            "rolled back",
            Some(&sha),
            serde_json::json!({"problems": report.problems, "failure": report.failure}),
        )?;
    }
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}

/// A transaction-less rollback file (`DROP INDEX CONCURRENTLY …`): under a session permit,
/// each statement on its own like a `transactional = false` step; then the reversal is
/// proven on the committed catalog. There is nothing to roll back to: a failure or an
/// unproven reversal halts the pack, with whatever ran left in place, and says so.
fn execute_without_transaction(
    session: &mut Session,
    idx: usize,
    step_id: &str,
    file: &crate::core::sql::SqlFile,
    sha: &str,
    gate_report: Option<GateReport>,
    started: Instant,
) -> Result<RollbackReport> {
    let pack = session.pack().clone();
    let events = session.events()?;
    let rec = commit_record(session, &events, step_id)?;
    let mut report = RollbackReport::started(step_id, &session.run_id, sha, gate_report);
    session.event(
        Some(step_id),
        "rollback-intent",
        "started",
        Some(sha),
        serde_json::json!({"transactional": false}),
    )?;
    let committed = snapshot::take(&mut session.ledger)?;
    let sink: NoticeSink = Default::default();
    let mut client = session.step_client("rollback", step_id, sink.clone())?;
    step_tx::set_session_timeouts(&mut client, &pack.timeouts_for(idx))?;
    let plan = crate::engine::plan::for_action(&session.loaded, step_id, Action::Rollback, None)?;
    let (run_id, actor) = (session.run_id.clone(), session.actor.clone());
    if let step_tx::PermitOutcome::Refused(why) =
        step_tx::obtain_commit_permit(session, &mut client, &plan)?
    {
        drop(client);
        session.event(
            Some(step_id),
            "rollback-end",
            "refused",
            Some(sha),
            serde_json::json!({"reasons": [why]}),
        )?;
        return Err(Error::Refused(format!(
            "the database refused the rollback of step {step_id}: {why}"
        )));
    }
    let stmts: Vec<&crate::core::sql::Statement> = file.statements.iter().collect();
    if let Err(f) = step_tx::run_statements(&mut client, file, &stmts, &sink, &mut report.notices) {
        report.failure = Some(*f);
    }
    if report.failure.is_none() {
        report.problems = reversal_problems(&mut client, &pack, idx, &rec, &committed)?;
    }
    if report.failure.is_none() && report.problems.is_empty() {
        let after = snapshot::take(&mut session.ledger)?;
        let fingerprint = ledger::store_snapshot(&mut session.ledger, &after)?;
        let details = serde_json::json!({"notices": report.notices, "fingerprint": fingerprint, "transactional": false});
        report.commit_event = Some(if session.scratch {
            let pack_id = pack.id().to_string();
            ledger::append_fact(
                &mut session.ledger,
                &actor,
                &NewEvent {
                    pack: &pack_id,
                    step: Some(step_id),
                    verb: "rollback",
                    result: "committed",
                    file_sha256: Some(sha),
                    run_id: Some(&run_id),
                    details,
                },
            )?
        } else {
            crate::db::authority::note(&mut client, &details)?;
            crate::db::authority::finish_session(&mut client)?
        });
        report.fingerprint = Some(fingerprint);
        report.committed = true;
        drop(client);
        session.event(
            Some(step_id),
            "rollback-end",
            "committed",
            Some(sha),
            serde_json::json!({}),
        )?;
    } else {
        drop(client);
        let why = match &report.failure {
            Some(f) => format!("transaction-less rollback of step {step_id} failed: {f}; the statements before it stay applied"),
            None => format!(
                "transaction-less rollback of step {step_id} ran but did not return the database to its pre-step state: {}",
                report.problems.join("; ")
            ),
        };
        report.halted = Some(halt(session, Some(step_id), &why)?);
        session.event(
            Some(step_id),
            "rollback-end",
            "failed",
            Some(sha),
            serde_json::json!({"problems": report.problems, "failure": report.failure}),
        )?;
    }
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}
