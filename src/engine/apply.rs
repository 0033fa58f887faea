//! `stepgate apply --step ID`: exactly one step per invocation, never a range.
//!
//! Refuses, with the reason, unless every gate holds: pack not halted; identity
//! guard; required steps committed; every gate satisfied for the current bytes and
//! the floor policy met; a passing rehearsal of the same file sha256 on this target
//! within `max_rehearsal_age`; a verified backup younger than `max_backup_age`;
//! `stepgate.lock` matches when present. Then, in one transaction: timeouts, the
//! statements, measured delta == effects, invariants, negative tests, and the
//! ledger's "committed" row — then COMMIT. Any divergence rolls back and halts
//! the pack. After commit: section H, the pack's verify file, invariants and a
//! catalog diff that must show only the declared effects.

use crate::core::approval::Action;
use crate::core::effects::{self};
use crate::core::lint::rules::sg004_lock_mismatch::parse_lock;
use crate::core::plan::Plan;
use crate::core::sql::{SqlFile, Statement};
use crate::db::connect::NoticeSink;
use crate::db::ledger::{self, Event, NewEvent};
pub use crate::engine::apply_report::{ApplyReport, Attempt};
use crate::engine::fault;
use crate::engine::gates::{self};
use crate::engine::proof::{self, Committed, Measure, Proof};
use crate::engine::session::{Lock, Options, Session};
use crate::engine::status::step_state;
use crate::engine::step_tx::{
    self, db_now_micros, halt, reconcile, step_sql, Permit, PermitOutcome, StatementFailure,
};
pub use crate::engine::verify::{post_verify, PostVerify};
use crate::engine::{Error, Result};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub retries: u32,
    pub auto_backup: bool,
    pub progress: bool,
    /// `--wait-for-locks`: before each attempt, wait up to this long in all for the
    /// sessions holding conflicting locks to finish (see [`crate::engine::locks`]).
    pub wait_for_locks: Option<Duration>,
    /// How the step's delta is proven (`--full-proof`: every object, not just the step's).
    pub proof: crate::engine::proof::Proof,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            retries: 3,
            auto_backup: true,
            progress: false,
            wait_for_locks: None,
            proof: Default::default(),
        }
    }
}

/// `stepgate.lock`, when present, must match every file of the pack, both ways.
pub fn lock_file_problems(session: &Session) -> Vec<String> {
    let Some(lock) = &session.loaded.sources.lock else {
        return vec![];
    };
    match parse_lock(lock) {
        Err((line, msg)) => vec![format!("stepgate.lock line {line}: {msg}")],
        Ok(entries) => {
            let mut out: Vec<String> = entries
                .iter()
                .filter_map(
                    |(path, sha)| match session.loaded.sources.sha256.get(path) {
                        Some(now) if now == sha => None,
                        Some(now) => Some(format!(
                            "{path} changed since `stepgate freeze` (lock {}, now {})",
                            &sha[..12.min(sha.len())],
                            &now[..12.min(now.len())]
                        )),
                        None => Some(format!("{path} is in stepgate.lock but not in the pack")),
                    },
                )
                .collect();
            for path in session.loaded.sources.sha256.keys() {
                if !entries.iter().any(|(p, _)| p == path) {
                    out.push(format!(
                        "{path} is not in stepgate.lock: run `stepgate freeze` after review"
                    ));
                }
            }
            out
        }
    }
}

/// The latest passing rehearsal of exactly these bytes, if young enough.
fn fresh_rehearsal(
    events: &[Event],
    step: &str,
    (sha, plan_sha): (&str, &str),
    now_us: i64,
    max_age: Duration,
    verb: &str,
) -> std::result::Result<i64, String> {
    // The same file and the same plan: a manifest edit (gates, negatives, invariants,
    // timeouts) changes the plan and asks for a new rehearsal.
    let last = events.iter().rev().find(|e| {
        e.verb == verb
            && e.step.as_deref() == Some(step)
            && e.file_sha256.as_deref() == Some(sha)
            && e.details.get("plan_sha256").and_then(|p| p.as_str()) == Some(plan_sha)
    });
    match last {
        None => Err(format!("no rehearsal of the current step file (sha256 {}…) under the current manifest: run `stepgate rehearse --step {step}{}` first", &sha[..12.min(sha.len())], if verb == "rehearse-rollback" { " --rollback" } else { "" })),
        Some(e) if e.result != "passed" => Err(format!("the last rehearsal of these bytes (event {}) {}: fix the step and rehearse again", e.id, e.result)),
        Some(e) => {
            let age = Duration::from_micros(now_us.saturating_sub(e.at_micros).max(0) as u64);
            if age > max_age {
                Err(format!(
                    "the passing rehearsal (event {}) is {} old, older than max_rehearsal_age {}: rehearse again",
                    e.id,
                    humantime::format_duration(Duration::from_secs(age.as_secs())),
                    humantime::format_duration(max_age)
                ))
            } else {
                Ok(e.id)
            }
        }
    }
}

/// A verified backup younger than max_backup_age, taking one when allowed.
pub fn ensure_backup(
    session: &mut Session,
    step: &str,
    events: &[Event],
    now_us: i64,
    auto: bool,
    progress: bool,
) -> Result<i64> {
    let max = session.pack().max_backup_age;
    let idx = session.pack().step_index(step).unwrap_or(0);
    let needed = crate::engine::backup::tables_to_cover(session, idx)?;
    if let Some(e) = crate::engine::backup::current_backup(events, step) {
        let age = Duration::from_micros(now_us.saturating_sub(e.at_micros).max(0) as u64);
        // A backup event is a claim: the dumps it names must be on disk with their
        // checksums and cover every table the step writes now.
        let files_ok = backup_files_intact(e) && backup_covers(e, &needed);
        if age <= max && files_ok {
            return Ok(e.id);
        }
    }
    if !auto {
        return Err(Error::Refused(format!(
            "no verified backup of step {step} younger than max_backup_age {}: run `stepgate backup --step {step}` (or drop --no-auto-backup)",
            humantime::format_duration(max)
        )));
    }
    let r = crate::engine::backup::run(session, step, progress)?;
    Ok(r.event_id)
}

/// The backup event lists a dump of each table in `needed`.
fn backup_covers(e: &Event, needed: &[String]) -> bool {
    let held: Vec<&str> = e
        .details
        .get("files")
        .and_then(|f| f.as_array())
        .map(|files| {
            files
                .iter()
                .filter_map(|f| f.get("table").and_then(|t| t.as_str()))
                .collect()
        })
        .unwrap_or_default();
    needed.iter().all(|t| held.contains(&t.as_str()))
}

/// Every dump a backup event lists is still on disk with its recorded sha256.
fn backup_files_intact(e: &Event) -> bool {
    let dir = std::path::PathBuf::from(e.details.get("dir").and_then(|d| d.as_str()).unwrap_or(""));
    e.details
        .get("files")
        .and_then(|f| f.as_array())
        .is_some_and(|files| {
            files.iter().all(|f| {
                let (Some(file), Some(sha)) = (
                    f.get("file").and_then(|v| v.as_str()),
                    f.get("sha256").and_then(|v| v.as_str()),
                ) else {
                    return false;
                };
                crate::db::backup::verify_dump(&dir.join(file), sha).is_ok()
            })
        })
}

pub fn run(opts: &Options, step_id: &str, ao: &ApplyOptions) -> Result<ApplyReport> {
    let mut session = Session::open(opts, "apply", Lock::Pack)?;
    apply_in(&mut session, step_id, ao)
}

pub fn apply_in(session: &mut Session, step_id: &str, ao: &ApplyOptions) -> Result<ApplyReport> {
    let started = Instant::now();
    crate::engine::progress::step_header(session, "applying", step_id);
    let events = session.events()?;
    reconcile(session, &events)?;
    let events = session.events()?;
    if let Some(h) = crate::engine::status::current_halt(&events) {
        return Err(Error::Halted(format!(
            "pack `{}` is halted (event {} at {}: {}); every mutating verb refuses until a signed `stepgate resume`",
            session.pack().id(),
            h.event,
            h.at,
            h.reason
        )));
    }
    let pack = session.pack().clone();
    let idx = pack.step_index(step_id).ok_or_else(|| {
        Error::BadInput(format!(
            "no step `{step_id}` in pack `{}`; steps: {}",
            pack.id(),
            pack.step_ids().join(", ")
        ))
    })?;
    let step = pack.manifest.step[idx].clone();
    let mut report = ApplyReport {
        pack: pack.id().to_string(),
        step: step_id.to_string(),
        run_id: session.run_id.clone(),
        file_sha256: String::new(),
        gates: None,
        rehearsal_event: None,
        backup_event: None,
        attempts: vec![],
        measured: None,
        mismatches: vec![],
        invariants: vec![],
        negatives: vec![],
        notices: vec![],
        committed: false,
        commit_event: None,
        entry_fingerprint: String::new(),
        proof: ao.proof,
        proof_note: None,
        footprint: None,
        post: None,
        halted: None,
        rollback_command: None,
        measurements: vec![],
        elapsed_ms: 0,
        batch: None,
    };
    let (state, at, _) = step_state(&events, step_id);
    if state == "committed" {
        return Err(Error::NothingToDo(format!(
            "step {step_id} is already committed (at {})",
            at.unwrap_or_default()
        )));
    }
    let mut refusals = Vec::new();
    for r in step.requires_ids() {
        let (s, _, _) = step_state(&events, &r);
        if s != "committed" {
            refusals.push(format!("requires step {r}, which is {s}"));
        }
    }
    refusals.extend(lock_file_problems(session));
    // After a resume the pack restarts from STEP 0: a passing preflight must come first.
    if let Some(resume) = events
        .iter()
        .rev()
        .find(|e| e.fact && e.verb == "resume" && e.result == "resumed")
    {
        if !events
            .iter()
            .any(|e| e.id > resume.id && e.verb == "preflight" && e.result == "passed")
        {
            refusals.push(format!("the pack was resumed (event {}): run `stepgate preflight` and get it passing before the next apply", resume.id));
        }
    }
    // The plan is built (and every piece of user SQL in it checked) before anything runs.
    let plan = crate::engine::plan::for_action(&session.loaded, step_id, Action::Apply, None)?;
    let offered = gates::offered(&pack.dir, &plan);
    let permit = if session.scratch {
        Permit::Scratch
    } else {
        Permit::Commit(&offered)
    };
    if step.hold {
        if !refusals.is_empty() {
            return Err(Error::Refused(format!(
                "HOLD step {step_id} cannot be reached:\n  {}",
                refusals.join("\n  ")
            )));
        }
        report.commit_event = Some(reach_hold(session, &plan, &permit)?);
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    let (_, file, sha) = step_sql(session, step_id, false)?;
    report.file_sha256 = sha.clone();
    if session.scratch {
        // `stepgate scratch` on its own throwaway copy: gates, rehearsal and backup are
        // bypassed, and the ledger there is labelled `scratch`.
        if !refusals.is_empty() {
            return Err(Error::Refused(format!(
                "apply of step {step_id} refused:\n  {}",
                refusals.join("\n  ")
            )));
        }
    } else {
        let now = time::OffsetDateTime::now_utc();
        let gate_report = gates::evaluate(session, step_id, Action::Apply, now)?;
        refusals.extend(gate_report.refusals());
        report.gates = Some(gate_report);
        let now_us = db_now_micros(&mut session.ledger)?;
        if step.transactional {
            match fresh_rehearsal(
                &events,
                step_id,
                (&sha, &plan.sha256()),
                now_us,
                pack.max_rehearsal_age,
                "rehearse",
            ) {
                Ok(id) => report.rehearsal_event = Some(id),
                Err(e) => refusals.push(e),
            }
        } else {
            // No BEGIN..ROLLBACK is possible: a passing preflight of the step, now, instead
            // (its scratch rehearsal is `stepgate scratch`).
            let pf = crate::engine::preflight::run_in(session, Some(step_id))?;
            for c in pf.checks.iter().filter(|c| !c.ok) {
                refusals.push(format!("preflight: {} — {}", c.name, c.evidence));
            }
        }

        if !refusals.is_empty() {
            session.event(
                Some(step_id),
                "apply",
                "refused",
                Some(&sha),
                serde_json::json!({"reasons": refusals}),
            )?;
            return Err(Error::Refused(format!(
                "apply of step {step_id} refused:\n  {}",
                refusals.join("\n  ")
            )));
        }
        report.backup_event = Some(ensure_backup(
            session,
            step_id,
            &events,
            now_us,
            ao.auto_backup,
            ao.progress,
        )?);
    }

    if crate::engine::batch::is_batched(&plan) {
        let how = (started, ao.retries, ao.progress);
        return crate::engine::batch::apply_batched(
            session,
            idx,
            (&file, &sha),
            &plan,
            report,
            how,
        );
    }
    if !step.transactional {
        return crate::engine::nontx::apply_non_transactional(
            session, idx, &file, &sha, report, started,
        );
    }

    // Side-effect measurements: captured before, compared after commit.
    let evidence = crate::engine::evidence::session_dir(session)
        .join(step_id)
        .join(format!("measure-{}", session.run_id));
    let mut before_caps = Vec::new();
    for m in &step.measure {
        let cap = crate::engine::measure::capture(&mut session.ledger, &m.sql, &pack.timeouts)?;
        let sha = crate::engine::measure::write_csv(
            &evidence,
            &format!("{}.before.csv", crate::engine::measure::file_stem(&m.name)),
            &cap,
        )?;
        before_caps.push((cap, sha));
    }

    // The intent: written through the ledger session before anything runs, so a run killed
    // at any point is found and reconciled by the next command.
    session.event(
        Some(step_id),
        "apply-intent",
        "started",
        Some(&sha),
        serde_json::json!({"gates": report.gates}),
    )?;
    fault::point("apply:after-intent");

    let parts = step_tx::parts(&file);
    let sink: NoticeSink = Default::default();
    let mut attempt = 0;
    let lock_wait = crate::engine::locks::LockWaiter::new(&pack, idx, &file, ao.wait_for_locks);
    let mut proof = ao.proof;
    let committed_catalog = loop {
        attempt += 1;
        lock_wait.wait(&mut session.ledger)?;
        let t0 = Instant::now();
        let outcome = attempt_commit(
            session,
            &Run {
                idx,
                file: &file,
                sha: &sha,
                pre: &parts.pre,
                body: &parts.body,
                plan: &plan,
                permit: &permit,
                proof,
            },
            &sink,
            &mut report,
        )?;
        match outcome {
            AttemptOutcome::Refused(why) => {
                session.event(
                    Some(step_id),
                    "apply-end",
                    "refused",
                    Some(&sha),
                    serde_json::json!({"reasons": [why]}),
                )?;
                report.elapsed_ms = started.elapsed().as_millis();
                return Err(Error::Refused(format!(
                    "the database refused to commit step {step_id}: {why}"
                )));
            }
            AttemptOutcome::PreCheck(why) => {
                session.event(
                    Some(step_id),
                    "apply-end",
                    "refused",
                    Some(&sha),
                    serde_json::json!({"reasons": [why]}),
                )?;
                report.elapsed_ms = started.elapsed().as_millis();
                return Err(Error::Refused(format!(
                    "refusing to apply step {step_id}: a pre-check failed before it ran: {why}; nothing ran and nothing changed (the pack is not halted): fix the cause and run `stepgate apply` again"
                )));
            }
            AttemptOutcome::Unaccounted(why) => {
                report.attempts.push(Attempt {
                    attempt,
                    outcome: "unaccounted".into(),
                    failure: None,
                    elapsed_ms: t0.elapsed().as_millis(),
                });
                report.proof_note = Some(format!("{why}: proven in full instead"));
                proof = Proof::Full;
                continue;
            }
            AttemptOutcome::Committed(snap) => {
                report.attempts.push(Attempt {
                    attempt,
                    outcome: "committed".into(),
                    failure: None,
                    elapsed_ms: t0.elapsed().as_millis(),
                });
                break snap;
            }
            AttemptOutcome::LockTimeout(f) if attempt <= ao.retries => {
                report.attempts.push(Attempt {
                    attempt,
                    outcome: "lock_timeout".into(),
                    failure: Some(*f.clone()),
                    elapsed_ms: t0.elapsed().as_millis(),
                });
                session.event(
                    Some(step_id),
                    "apply-attempt",
                    "lock_timeout",
                    Some(&sha),
                    serde_json::json!({"attempt": attempt, "failure": f}),
                )?;
                let pause = backoff(attempt);
                lock_wait.say_attempt(
                    &mut session.ledger,
                    (attempt, ao.retries + 1),
                    Some(pause),
                    &f,
                );
                std::thread::sleep(pause);
            }
            AttemptOutcome::LockTimeout(f) => {
                lock_wait.say_attempt(&mut session.ledger, (attempt, ao.retries + 1), None, &f);
                report.attempts.push(Attempt {
                    attempt,
                    outcome: "lock_timeout".into(),
                    failure: Some(*f.clone()),
                    elapsed_ms: t0.elapsed().as_millis(),
                });
                session.event(
                    Some(step_id),
                    "apply-end",
                    "lock_timeout",
                    Some(&sha),
                    serde_json::json!({"attempts": attempt, "failure": f}),
                )?;
                report.elapsed_ms = started.elapsed().as_millis();
                return Err(Error::Failed(format!(
                    "step {step_id} could not get its locks within lock_timeout after {attempt} attempt(s); nothing was committed, nothing left behind. Last: {f}. Retry later, or let it wait for the sessions holding them (named on stderr) with `stepgate apply --wait-for-locks=5m`"
                )));
            }
            AttemptOutcome::Diverged(reason) => {
                report.attempts.push(Attempt {
                    attempt,
                    outcome: "diverged".into(),
                    failure: None,
                    elapsed_ms: t0.elapsed().as_millis(),
                });
                let h = halt(
                    session,
                    Some(step_id),
                    &format!("apply of step {step_id} diverged: {reason}"),
                )?;
                session.event(
                    Some(step_id),
                    "apply-end",
                    "rolled back",
                    Some(&sha),
                    serde_json::json!({"reason": reason}),
                )?;
                report.halted = Some(h);
                report.elapsed_ms = started.elapsed().as_millis();
                return Ok(report);
            }
        }
    };
    report.committed = true;
    fault::point("apply:after-commit");

    // A measurement that fails after COMMIT must not skip the post-commit checks: it is
    // recorded and halts the pack below.
    let mut measure_errors = Vec::new();
    for (m, (before, sha_b)) in step.measure.iter().zip(before_caps) {
        let stem = crate::engine::measure::file_stem(&m.name);
        let after = crate::engine::measure::capture(&mut session.ledger, &m.sql, &pack.timeouts)
            .and_then(|after| {
                crate::engine::measure::write_csv(&evidence, &format!("{stem}.after.csv"), &after)
                    .map(|sha| (after, sha))
            });
        match after {
            Ok((after, sha_a)) => report.measurements.push(crate::engine::measure::summarize(
                &m.name, &before, &after, sha_b, sha_a,
            )),
            Err(e) => measure_errors.push(format!("measure `{}` after commit: {e}", m.name)),
        }
    }

    if !report.measurements.is_empty() {
        session.event(Some(step_id), "measure", "captured", Some(&sha), serde_json::json!({"dir": evidence.display().to_string(), "measurements": report.measurements}))?;
    }

    // After commit: section H, the verify file, invariants, and the catalog diff.
    let post = post_verify(session, &file, &parts.post, &committed_catalog)?;
    fault::point("apply:during-verify");
    let ok = post.ok && measure_errors.is_empty();
    report.post = Some(post.clone());
    let mut verify_details = serde_json::to_value(&post).unwrap_or_default();
    verify_details["measure_errors"] = serde_json::json!(measure_errors);
    session.event(
        Some(step_id),
        "verify",
        if ok { "passed" } else { "failed" },
        Some(&sha),
        verify_details,
    )?;
    if !ok {
        let what = if measure_errors.is_empty() {
            "post-commit verification".to_string()
        } else {
            measure_errors.join("; ")
        };
        let h = halt(
            session,
            Some(step_id),
            &format!("{what} of step {step_id} failed"),
        )?;

        report.halted = Some(h);
        report.rollback_command = Some(format!("stepgate rollback --step {step_id}"));
    }
    session.event(
        Some(step_id),
        "apply-end",
        "committed",
        Some(&sha),
        serde_json::json!({"fingerprint": post.fingerprint}),
    )?;
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}

fn backoff(attempt: u32) -> Duration {
    use rand_core::RngCore;
    let base = 200u64 * (1u64 << attempt.min(6));
    let jitter = u64::from(rand_core::OsRng.next_u32() % 100);
    Duration::from_millis(base + jitter)
}

/// A HOLD step is reached under a permit like any commit: the server checks its gates and
/// writes the fact; nothing else runs.
fn reach_hold(session: &mut Session, plan: &Plan, permit: &Permit<'_>) -> Result<i64> {
    let pack_id = session.pack().id().to_string();
    let run_id = session.run_id.clone();
    let actor = session.actor.clone();
    let sink: NoticeSink = Default::default();
    // A hold runs no statement: its pre-image is of nothing the step names.
    let preimage = proof::preimage_of(&mut session.ledger, &Default::default())?;
    let mut client = session.step_client("apply", &plan.step, sink)?;
    let mut tx = client.transaction()?;
    if let PermitOutcome::Refused(why) =
        step_tx::obtain_permit(&mut tx, plan, permit, &run_id, &actor)?
    {
        return Err(Error::Refused(format!(
            "the database refused HOLD step {}: {why}",
            plan.step
        )));
    }
    if let Some(scope) = &preimage {
        crate::db::footprint::arm(&mut tx, Some(scope))?;
    }
    if matches!(permit, Permit::Scratch) {
        ledger::append_fact(
            &mut tx,
            &actor,
            &NewEvent {
                pack: &pack_id,
                step: Some(&plan.step),
                verb: "hold",
                result: "reached",
                file_sha256: None,
                run_id: Some(&run_id),
                details: serde_json::json!({}),
            },
        )?;
    }
    tx.commit()?;
    drop(client);
    step_tx::fact_of_run(&mut session.ledger, &pack_id, &run_id)?
        .ok_or_else(|| Error::Failed(format!("HOLD step {}: no fact was recorded", plan.step)))
}

/// What one commit attempt runs.
struct Run<'a> {
    idx: usize,
    file: &'a SqlFile,
    sha: &'a str,
    pre: &'a [&'a Statement],
    body: &'a [&'a Statement],
    plan: &'a Plan,
    permit: &'a Permit<'a>,
    proof: Proof,
}

enum AttemptOutcome {
    /// The server refused the permit or the commit; nothing was committed.
    Refused(String),
    /// Carries the in-transaction catalog, which the committed catalog must equal.
    Committed(Box<Committed>),
    /// The incremental proof could not account for every change; rolled back, nothing
    /// committed: the next attempt proves in full.
    Unaccounted(String),
    LockTimeout(Box<StatementFailure>),
    /// A check before the step's statements failed (an invariant, section B): nothing
    /// ran, so nothing diverged; a refusal, not a halt.
    PreCheck(String),
    Diverged(String),
}

fn attempt_commit(
    session: &mut Session,
    run: &Run<'_>,
    sink: &NoticeSink,
    report: &mut ApplyReport,
) -> Result<AttemptOutcome> {
    let (idx, file, sha, pre, body) = (run.idx, run.file, run.sha, run.pre, run.body);
    let pack = session.pack().clone();
    let step_id = pack.manifest.step[idx].id().to_string();
    let early = session.step_client_early("apply", &step_id, sink.clone());
    let names = proof::step_names(&pack, idx, file);
    let entry = proof::entry_state(&mut session.ledger, run.proof, &names, true)?;
    report.proof = entry.proof();
    report.footprint = entry.footprint();
    // Kept so a rollback can prove every object the step changed is back to its
    // pre-step definition (the step's scope holds every one of them).
    report.entry_fingerprint = ledger::store_snapshot(&mut session.ledger, &entry.snapshot)?;
    let pre_counts = crate::db::delta::row_counts(
        &mut session.ledger,
        &pack.effects[idx].rows.keys().cloned().collect::<Vec<_>>(),
    )?;
    let before = step_tx::check_invariants_standalone(
        &mut session.ledger,
        &pack.manifest.invariant,
        &pack.timeouts_for(idx),
    )?;
    if let Some(bad) = before.iter().find(|i| !i.ok) {
        return Ok(AttemptOutcome::PreCheck(format!(
            "invariant `{}` does not hold before the step (expected {}, got {})",
            bad.name,
            bad.expect,
            bad.got.as_deref().unwrap_or("no row")
        )));
    }
    let mut client = early.join()?;
    if let Err(f) = step_tx::run_read_only(
        &mut client,
        &pack.timeouts_for(idx),
        file,
        pre,
        sink,
        &mut report.notices,
    )? {
        return Ok(AttemptOutcome::PreCheck(format!(
            "section B assertion failed: {f}"
        )));
    }
    fault::point("apply:before-begin");
    let mut tx = client.transaction()?;
    step_tx::set_timeouts(&mut tx, &pack.timeouts_for(idx))?;
    let (run_id, actor) = (session.run_id.clone(), session.actor.clone());
    if let PermitOutcome::Refused(why) =
        step_tx::obtain_permit(&mut tx, run.plan, run.permit, &run_id, &actor)?
    {
        let _ = tx.rollback();
        return Ok(AttemptOutcome::Refused(why));
    }
    proof::arm(&mut tx, &entry)?;
    for (i, st) in body.iter().enumerate() {
        if let Err(f) = step_tx::run_statements(&mut tx, file, &[st], sink, &mut report.notices) {
            let _ = tx.rollback();
            if f.kind == "lock_timeout" {
                return Ok(AttemptOutcome::LockTimeout(f));
            }
            return Ok(AttemptOutcome::Diverged(format!("statement failed: {f}")));
        }
        fault::point(&format!("apply:after-statement-{}", i + 1));
    }
    let m = match proof::measure(&mut tx, &mut session.ledger, &pack, idx, &entry)? {
        Measure::Done(m) => m,
        Measure::Unaccounted(why) => {
            let _ = tx.rollback();
            return Ok(AttemptOutcome::Unaccounted(why));
        }
    };
    report.measured = Some(m.measured.clone());
    report.mismatches = m.mismatches.clone();
    // Drift's baseline: stored with the step, content-addressed.
    ledger::store_snapshot(&mut tx, &m.in_tx)?;
    if !m.mismatches.is_empty() {
        let _ = tx.rollback();
        return Ok(AttemptOutcome::Diverged(format!(
            "measured delta differs from the declared effects:\n{}",
            effects::render_mismatches(&m.mismatches)
        )));
    }
    report.invariants = step_tx::check_invariants(&mut tx, &pack.manifest.invariant)?;
    if let Some(bad) = report.invariants.iter().find(|i| !i.ok) {
        let _ = tx.rollback();
        return Ok(AttemptOutcome::Diverged(format!(
            "invariant `{}` broken inside the step (expected {}, got {})",
            bad.name,
            bad.expect,
            bad.got.as_deref().unwrap_or("no row")
        )));
    }
    report.negatives = step_tx::run_negatives(&mut tx, &pack.manifest.step[idx].negative)?;
    if let Some(bad) = report.negatives.iter().find(|n| !n.ok) {
        let _ = tx.rollback();
        return Ok(AttemptOutcome::Diverged(format!(
            "negative test `{}` did not fail with SQLSTATE {} (got {})",
            bad.name,
            bad.expected_sqlstate,
            bad.got_sqlstate.as_deref().unwrap_or("no error")
        )));
    }
    // The "committed" fact commits in the same transaction as the step, or not at all: the
    // server writes it at COMMIT from the permit; the client's measurements ride along.
    let pack_id = pack.id().to_string();
    let details = serde_json::json!({
        "entry_fingerprint": report.entry_fingerprint,
        "pre_counts": pre_counts,
        "in_transaction_fingerprint": m.in_tx.fingerprint(),
        "proof": report.proof,
        "probe": m.probe,
        "scope": m.scope,
        "delta": m.measured,
        "rehearsal_event": report.rehearsal_event,
        "backup_event": report.backup_event,
        "gates": report.gates,
        "notices": report.notices,
    });
    if matches!(run.permit, Permit::Scratch) {
        ledger::append_fact(
            &mut tx,
            &actor,
            &NewEvent {
                pack: &pack_id,
                step: Some(&step_id),
                verb: "apply",
                result: "committed",
                file_sha256: Some(sha),
                run_id: Some(&run_id),
                details,
            },
        )?;
    } else {
        crate::db::authority::note(&mut tx, &details)?;
    }
    fault::point("apply:after-ledger-row");
    if let Err(e) = tx.commit() {
        if step_tx::is_refusal(&e) {
            return Ok(AttemptOutcome::Refused(crate::db::describe_pg_error(&e)));
        }
        return Err(e.into());
    }
    report.commit_event = step_tx::fact_of_run(&mut session.ledger, &pack_id, &run_id)?;
    Ok(AttemptOutcome::Committed(Box::new(Committed {
        snapshot: m.in_tx,
        scope: m.scope,
    })))
}
