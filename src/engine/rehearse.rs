//! `stepgate rehearse --step ID`: run the step inside BEGIN..ROLLBACK, measure its
//! delta against the declared effects, check invariants and negative tests, roll
//! back, and prove the database came back exactly as it was (entry == exit).

use crate::core::approval::Action;
use crate::db::{delta, snapshot};
use crate::engine::proof::{self, Measure, Proof};
use crate::engine::session::{Lock, Options, Session};
use crate::engine::step_tx::{
    self, step_sql, InvariantResult, LocatedNotice, NegativeResult, StatementFailure,
};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct Residue {
    pub sequence: String,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub advanced_by: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RehearsalReport {
    pub pack: String,
    pub step: String,
    pub rollback_file: bool,
    pub file: String,
    pub file_sha256: String,
    /// The execution plan rehearsed (it binds the manifest too): apply accepts a
    /// rehearsal only of the plan it is about to run.
    pub plan_sha256: String,
    pub entry_fingerprint: String,
    pub exit_fingerprint: String,
    pub entry_equals_exit: bool,
    /// How the delta and the exit were proven (see `engine::proof`).
    pub proof: Proof,
    /// Why the incremental proof handed over to the full one, when it did.
    pub proof_note: Option<String>,
    /// How the incremental proof found what the step wrote (`tracked`: the DDL tracker
    /// reported it; `scanned`: a pass over the catalog); absent under the full proof.
    pub footprint: Option<crate::engine::proof::Footprint>,
    pub preflight_failure: Option<StatementFailure>,
    pub failure: Option<StatementFailure>,
    pub measured: Option<crate::core::effects::Measured>,
    pub mismatches: Vec<crate::core::effects::Mismatch>,
    pub invariants: Vec<InvariantResult>,
    pub negatives: Vec<NegativeResult>,
    /// For a rollback rehearsal of a committed step: what would not be back to the pre-step state.
    pub reversal_problems: Vec<String>,
    pub residue: Vec<Residue>,
    pub residue_fails: bool,
    pub notices: Vec<LocatedNotice>,
    pub elapsed_ms: u128,
    pub passed: bool,
    pub ledger_event: Option<i64>,
}

pub fn run(opts: &Options, step_id: &str, rollback: bool) -> Result<RehearsalReport> {
    run_with(opts, step_id, rollback, Proof::Incremental)
}

/// [`run`] under the given proof (`--full-proof` asks for [`Proof::Full`]).
pub fn run_with(
    opts: &Options,
    step_id: &str,
    rollback: bool,
    proof: Proof,
) -> Result<RehearsalReport> {
    let mut session = Session::open(
        opts,
        if rollback {
            "rehearse-rollback"
        } else {
            "rehearse"
        },
        Lock::Pack,
    )?;
    rehearse_in(&mut session, step_id, rollback, proof)
}

pub fn rehearse_in(
    session: &mut Session,
    step_id: &str,
    rollback: bool,
    proof: Proof,
) -> Result<RehearsalReport> {
    match rehearse_under(session, step_id, rollback, proof)? {
        Rehearsed::Done(r) => Ok(*r),
        Rehearsed::Unaccounted(why) => {
            let Rehearsed::Done(mut r) = rehearse_under(session, step_id, rollback, Proof::Full)?
            else {
                return Err(Error::Failed(
                    "the full proof cannot be unaccounted for".into(),
                ));
            };
            r.proof_note = Some(format!("{why}: proven in full instead"));
            Ok(*r)
        }
    }
}

enum Rehearsed {
    Done(Box<RehearsalReport>),
    /// The incremental proof could not account for every change; nothing was recorded.
    Unaccounted(String),
}

fn rehearse_under(
    session: &mut Session,
    step_id: &str,
    rollback: bool,
    proof: Proof,
) -> Result<Rehearsed> {
    let started = Instant::now();
    let doing = if rollback {
        "rehearsing the rollback of"
    } else {
        "rehearsing"
    };
    crate::engine::progress::step_header(session, doing, step_id);
    let (idx, file, sha) = step_sql(session, step_id, rollback)?;
    let action = if rollback {
        Action::Rollback
    } else {
        Action::Apply
    };
    let plan = crate::engine::plan::for_action(&session.loaded, step_id, action, None)?;
    let pack = session.pack().clone();
    let step = &pack.manifest.step[idx];
    if rollback && crate::core::plan::runs_outside_transaction(&file) {
        return Err(Error::BadInput(format!(
            "the rollback of step `{step_id}` runs outside a transaction ({}): it cannot be rehearsed inside BEGIN..ROLLBACK. \
             Rehearse it on a throwaway copy instead: `stepgate scratch --from-db`.",
            file.path
        )));
    }
    if !step.transactional && !rollback {
        return Err(Error::BadInput(format!(
            "step `{step_id}` is not transactional (transactional = false): it cannot be rehearsed inside BEGIN..ROLLBACK. \
             Rehearse it on a throwaway copy instead: `stepgate scratch --from-db`."
        )));
    }
    // A rollback's reversal is proven against the stored pre-step snapshot, object by
    // object: it reads the whole catalog.
    let proof = if rollback { Proof::Full } else { proof };
    let names = proof::step_names(&pack, idx, &file);
    // The reference for what lies outside the step's scope is the catalog after the
    // ROLLBACK, read at exit.
    let entry = proof::entry_state(&mut session.ledger, proof, &names, false)?;
    let events = session.events()?;
    let record = if rollback && crate::engine::status::step_state(&events, step_id).0 == "committed"
    {
        Some(crate::engine::rollback::commit_record(
            session, &events, step_id,
        )?)
    } else {
        None
    };
    let seq_before = delta::sequence_values(&mut session.ledger)?;
    let sink: crate::db::connect::NoticeSink = Default::default();
    let mut client = session.step_client("rehearse", step_id, sink.clone())?;
    let parts = step_tx::parts(&file);
    let mut notices = Vec::new();
    let mut report = RehearsalReport {
        pack: pack.id().to_string(),
        step: step_id.to_string(),
        rollback_file: rollback,
        file: file.path.clone(),
        file_sha256: sha.clone(),
        plan_sha256: plan.sha256(),
        entry_fingerprint: entry.fingerprint(),
        exit_fingerprint: String::new(),
        entry_equals_exit: false,
        proof: entry.proof(),
        proof_note: None,
        footprint: entry.footprint(),
        preflight_failure: None,
        failure: None,
        measured: None,
        mismatches: vec![],
        invariants: vec![],
        negatives: vec![],
        reversal_problems: vec![],
        residue: vec![],
        residue_fails: pack.manifest.pack.fail_on_residue,
        notices: vec![],
        elapsed_ms: 0,
        passed: false,
        ledger_event: None,
    };

    let mut outside = None;
    // Section B: read-only assertions in a READ ONLY transaction.
    if let Err(f) = step_tx::run_read_only(
        &mut client,
        &pack.timeouts_for(idx),
        &file,
        &parts.pre,
        &sink,
        &mut notices,
    )? {
        report.preflight_failure = Some(*f);
    } else {
        let mut tx = client.transaction()?;
        step_tx::set_timeouts(&mut tx, &pack.timeouts_for(idx))?;
        // A rehearsal permit lets a guarded runner run the plan here and makes the
        // transaction unable to commit, whatever the SQL tries.
        rehearsal_permit(&mut tx, &plan, session.scratch)?;
        proof::arm(&mut tx, &entry)?;
        let body = crate::engine::batch::rehearse_body(
            &mut tx,
            &plan,
            &file,
            &parts.body,
            &sink,
            &mut notices,
        );
        match body {
            Err(f) => report.failure = Some(*f),
            Ok(()) => {
                if let Some(rec) = &record {
                    report.reversal_problems = crate::engine::rollback::reversal_problems(
                        &mut tx,
                        &pack,
                        idx,
                        rec,
                        &entry.snapshot,
                    )?;
                }
                if !rollback {
                    let m = match proof::measure(&mut tx, &mut session.ledger, &pack, idx, &entry)?
                    {
                        Measure::Done(m) => m,
                        Measure::Unaccounted(why) => {
                            let _ = tx.rollback();
                            return Ok(Rehearsed::Unaccounted(why));
                        }
                    };
                    // A batched step's rehearsal is its first batch(es): "at most" the totals.
                    let rows = &pack.effects[idx].rows;
                    report.mismatches = crate::engine::batch::rehearsal_mismatches(
                        &plan,
                        rows,
                        &m.measured,
                        m.mismatches,
                    );
                    report.measured = Some(m.measured);
                    outside = m.outside;
                    report.negatives = step_tx::run_negatives(&mut tx, &step.negative)?;
                }
                report.invariants = step_tx::check_invariants(&mut tx, &pack.manifest.invariant)?;
            }
        }
        // Whatever happened, nothing commits.
        let _ = tx.rollback();
    }
    // What a rollback cannot take back: session-level advisory locks the step took.
    report
        .reversal_problems
        .extend(session_residue(&mut client)?);
    drop(client);
    report.notices = notices;

    let exit = entry.exit(&mut session.ledger, outside.as_ref())?;
    if let Some(why) = exit.unaccounted {
        // Something moved the catalog meanwhile: only the full proof can say what.
        return Ok(Rehearsed::Unaccounted(why));
    }
    report.exit_fingerprint = exit.fingerprint;
    report.entry_equals_exit = report.exit_fingerprint == report.entry_fingerprint;
    let seq_after = delta::sequence_values(&mut session.ledger)?;
    report.residue = delta::residue(&seq_before, &seq_after)
        .into_iter()
        .map(|(s, b, a)| Residue {
            advanced_by: a.unwrap_or(0) - b.unwrap_or(0),
            sequence: s,
            before: b,
            after: a,
        })
        .collect();
    report.passed = report.preflight_failure.is_none()
        && report.failure.is_none()
        && report.mismatches.is_empty()
        && report.reversal_problems.is_empty()
        && report.invariants.iter().all(|i| i.ok)
        && report.negatives.iter().all(|n| n.ok)
        && report.entry_equals_exit
        && (!report.residue_fails || report.residue.is_empty());
    report.elapsed_ms = started.elapsed().as_millis();
    let details = serde_json::to_value(&report).unwrap_or_default();
    let verb = if rollback {
        "rehearse-rollback"
    } else {
        "rehearse"
    };
    let result = if report.passed { "passed" } else { "failed" };
    report.ledger_event = Some(session.event(Some(step_id), verb, result, Some(&sha), details)?);
    Ok(Rehearsed::Done(Box::new(report)))
}

/// `rehearse --rollback --cascade`: the rollbacks of every committed step that requires
/// `step_id` (children first) and then its own, in ONE transaction that is rolled back —
/// the only way to rehearse a parent's rollback while its children still stand. Each
/// rollback's reversal is proven in turn; each file gets its own ledger event.
pub fn run_cascade(opts: &Options, step_id: &str) -> Result<Vec<RehearsalReport>> {
    let started = Instant::now();
    let mut session = Session::open(opts, "rehearse-rollback", Lock::Pack)?;
    let pack = session.pack().clone();
    let events = session.events()?;
    let mut chain = crate::engine::rollback::committed_dependents(&pack, &events, step_id);
    chain.push(step_id.to_string());
    let entry = snapshot::take(&mut session.ledger)?;
    let mut files = Vec::new();
    for id in &chain {
        let (idx, file, sha) = step_sql(&session, id, true)?;
        let rec = crate::engine::rollback::commit_record(&mut session, &events, id)?;
        files.push((id.clone(), idx, file, sha, rec));
    }
    let sink: crate::db::connect::NoticeSink = Default::default();
    let mut client = session.step_client("rehearse-rollback", step_id, sink.clone())?;
    let mut reports = Vec::new();
    {
        let mut tx = client.transaction()?;
        step_tx::set_timeouts(&mut tx, &pack.timeouts)?;
        let mut broken = false;
        for (id, idx, file, sha, rec) in &files {
            let mut notices = Vec::new();
            let mut r = RehearsalReport {
                pack: pack.id().to_string(),
                step: id.clone(),
                rollback_file: true,
                file: file.path.clone(),
                file_sha256: sha.clone(),
                plan_sha256: String::new(),
                entry_fingerprint: entry.fingerprint(),
                exit_fingerprint: String::new(),
                entry_equals_exit: false,
                proof: Proof::Full,
                proof_note: None,
                footprint: None,
                preflight_failure: None,
                failure: None,
                measured: None,
                mismatches: vec![],
                invariants: vec![],
                negatives: vec![],
                reversal_problems: vec![],
                residue: vec![],
                residue_fails: false,
                notices: vec![],
                elapsed_ms: 0,
                passed: false,
                ledger_event: None,
            };
            if broken {
                r.reversal_problems
                    .push("not reached: an earlier rollback in the cascade failed".into());
            } else {
                let before = snapshot::take(&mut tx)?;
                let plan =
                    crate::engine::plan::for_action(&session.loaded, id, Action::Rollback, None)?;
                rehearsal_permit(&mut tx, &plan, session.scratch)?;
                let parts = step_tx::parts(file);
                match step_tx::run_statements(&mut tx, file, &parts.body, &sink, &mut notices) {
                    Err(f) => {
                        r.failure = Some(*f);
                        broken = true;
                    }
                    Ok(()) => {
                        r.reversal_problems = crate::engine::rollback::reversal_problems(
                            &mut tx, &pack, *idx, rec, &before,
                        )?;
                        broken = !r.reversal_problems.is_empty();
                    }
                }
            }
            r.notices = notices;
            reports.push(r);
        }
        let _ = tx.rollback();
    }
    drop(client);
    let exit = snapshot::take(&mut session.ledger)?;
    for r in &mut reports {
        r.exit_fingerprint = exit.fingerprint();
        r.entry_equals_exit = r.exit_fingerprint == r.entry_fingerprint;
        r.passed = r.failure.is_none() && r.reversal_problems.is_empty() && r.entry_equals_exit;
        r.elapsed_ms = started.elapsed().as_millis();
        let details = serde_json::to_value(&*r).unwrap_or_default();
        let (step, sha) = (r.step.clone(), r.file_sha256.clone());
        r.ledger_event = Some(session.event(
            Some(&step),
            "rehearse-rollback",
            if r.passed { "passed" } else { "failed" },
            Some(&sha),
            details,
        )?);
    }
    Ok(reports)
}

fn rehearsal_permit(
    tx: &mut postgres::Transaction<'_>,
    plan: &crate::core::plan::Plan,
    scratch: bool,
) -> Result<()> {
    if !scratch {
        crate::db::authority::rehearsal_permit(tx, plan)?;
    }
    Ok(())
}

/// Session-level effects a rehearsal's ROLLBACK leaves behind on its own connection:
/// advisory locks taken with `pg_advisory_lock` (the `_xact_` ones end with the transaction).
fn session_residue(c: &mut postgres::Client) -> Result<Vec<String>> {
    let held: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()",
            &[],
        )?
        .get(0);
    if held == 0 {
        return Ok(vec![]);
    }
    c.execute("SELECT pg_catalog.pg_advisory_unlock_all()", &[])?;
    Ok(vec![format!(
        "the step took {held} session-level advisory lock(s) that outlive its transaction (pg_advisory_lock): a rehearsal must leave nothing behind; use pg_advisory_xact_lock"
    )])
}
