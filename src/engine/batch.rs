//! Batched steps (`batch = { ... }`): a large backfill as one self-limiting write that
//! repeats, each run in its own short transaction with the step's timeouts, until a run
//! changes no row.
//!
//! The server is the authority at every batch (`stepgate.batch_begin`, the `batch_commit`
//! trigger and `stepgate.finish_batches` in `authority.sql`): one approved plan, only its
//! repeating statement, halt and expiry re-checked per batch, the batches numbered and
//! their rows counted by the server itself. So a run killed at any point resumes from the
//! server's count, and the step's fact is written only when the totals are the declared
//! effects. This module is the client's side: the loop, the progress line, the report.

use crate::core::approval::Action;
use crate::core::catalog;
use crate::core::effects::{self, Measured, Mismatch};
use crate::core::manifest::RowCounts;
use crate::core::plan::Plan;
use crate::core::sql::{SqlFile, Statement};
use crate::db::connect::NoticeSink;
use crate::db::{describe_pg_error, snapshot};
use crate::engine::apply_report::{ApplyReport, Attempt};
use crate::engine::session::Session;
use crate::engine::step_tx::{self, halt, LocatedNotice, PermitOutcome, StatementFailure};
use crate::engine::{fault, Error, Result};
use postgres::{Client, GenericClient};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// What a batched run did, for the report and `--json`: the server's counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchSummary {
    /// Batches committed in all, across every invocation of the run.
    pub batches: i32,
    /// Batches committed by earlier, interrupted invocations (0 for a fresh run).
    pub resumed_from: i32,
    /// Rows changed in all (the server's per-transaction counters, summed).
    pub rows: i64,
    /// Per table: insert/update/delete totals.
    pub counts: BTreeMap<String, RowCounts>,
    /// Batches and rows this invocation committed, and how fast.
    pub batches_now: i32,
    pub rows_now: i64,
    pub rows_per_sec: f64,
    pub elapsed_ms: u128,
    /// Did the last batch change no row (the run is complete)?
    pub drained: bool,
}

/// One line for the human report.
pub fn describe(b: &BatchSummary) -> String {
    let resumed = if b.resumed_from > 0 {
        format!(", resumed after batch {}", b.resumed_from)
    } else {
        String::new()
    };
    format!(
        "batches: {} ({} now{resumed}), rows: {} ({} now, {} rows/s in {} ms){}",
        b.batches,
        b.batches_now,
        b.rows,
        b.rows_now,
        b.rows_per_sec,
        b.elapsed_ms,
        if b.drained { ", drained" } else { "" }
    )
}

/// The server's view of a run (`stepgate.batch_progress`).
#[derive(Debug, Clone, Default)]
struct Progress {
    batches: i32,
    rows: i64,
    counts: BTreeMap<String, RowCounts>,
    drained: bool,
}

fn progress(c: &mut impl GenericClient, plan: &Plan) -> Result<Progress> {
    let rows = c.query(
        "SELECT batches, rows, counts::text, drained FROM stepgate.batch_progress($1, $2, $3)",
        &[&plan.pack, &plan.step, &plan.action],
    )?;
    let Some(r) = rows.first() else {
        return Ok(Progress::default());
    };
    // The function returns one all-NULL row when no run is open.
    let counts: Option<String> = r.get(2);
    Ok(Progress {
        batches: r.get::<_, Option<i32>>(0).unwrap_or(0),
        rows: r.get::<_, Option<i64>>(1).unwrap_or(0),
        counts: counts
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
        drained: r.get::<_, Option<bool>>(3).unwrap_or(false),
    })
}

/// Is `action` on this plan batched?
pub fn is_batched(plan: &Plan) -> bool {
    plan.batch.is_some()
}

/// The rehearsal's body: once for an ordinary step, the first `rehearse` batches for a
/// batched one (all in the rehearsal's one transaction, which is rolled back).
pub fn rehearse_body(
    c: &mut impl GenericClient,
    plan: &Plan,
    file: &SqlFile,
    body: &[&Statement],
    sink: &NoticeSink,
    notices: &mut Vec<LocatedNotice>,
) -> std::result::Result<(), Box<StatementFailure>> {
    let times = plan.batch.as_ref().map_or(1, |b| b.rehearse.max(1));
    for _ in 0..times {
        step_tx::run_statements(c, file, body, sink, notices)?;
    }
    Ok(())
}

/// The rehearsal of a batched step measures only its first batch(es): the declared row
/// counts are the run's totals, so a batch may change fewer rows, never more, and never
/// rows of a kind or table the step does not declare.
pub fn rehearsal_mismatches(
    plan: &Plan,
    declared: &BTreeMap<String, RowCounts>,
    measured: &Measured,
    mismatches: Vec<Mismatch>,
) -> Vec<Mismatch> {
    if !is_batched(plan) {
        return mismatches;
    }
    let mut out: Vec<Mismatch> = mismatches
        .into_iter()
        .filter(|m| !m.item.starts_with("rows "))
        .collect();
    for (table, got) in &measured.rows {
        let want = declared.get(table).copied().unwrap_or_default();
        for (kind, g, w) in [
            ("insert", got.insert, want.insert),
            ("update", got.update, want.update),
            ("delete", got.delete, want.delete),
        ] {
            if g > w {
                out.push(Mismatch {
                    item: format!("rows {table} {kind} (first batches)"),
                    declared: format!("at most {w} in all"),
                    measured: g.to_string(),
                });
            }
        }
    }
    out
}

/// How the loop ended.
enum LoopEnd {
    Drained,
    /// The server refused a batch (halt, expiry, bound, another plan): its message.
    Refused(String),
    /// A batch kept timing out; everything before it stays committed, and the run resumes.
    TimedOut(Box<StatementFailure>),
    /// A batch failed otherwise: the step diverged.
    Failed(Box<StatementFailure>),
}

/// Everything one batched run needs.
struct Runner<'a> {
    plan: &'a Plan,
    file: &'a SqlFile,
    body: Vec<&'a Statement>,
    timeouts: crate::core::manifest::TimeoutValues,
    retries: u32,
    sink: NoticeSink,
    show: bool,
    /// Declared total rows, for the progress bar's length (0: unknown).
    total: u64,
}

/// One batch in its own transaction: the server opens it, the signed write runs, COMMIT
/// lets the server count it. `Ok(None)` when it committed.
fn one_batch(
    c: &mut Client,
    r: &Runner<'_>,
    n: i32,
    notices: &mut Vec<LocatedNotice>,
) -> Result<Option<LoopEnd>> {
    let mut tx = c.transaction()?;
    step_tx::set_timeouts(&mut tx, &r.timeouts)?;
    if let Err(e) = tx.query_one("SELECT stepgate.batch_begin($1)", &[&n]) {
        let _ = tx.rollback();
        return refusal_or(e);
    }
    if let Err(f) = step_tx::run_statements(&mut tx, r.file, &r.body, &r.sink, notices) {
        let _ = tx.rollback();
        return Ok(Some(if is_timeout(&f) {
            LoopEnd::TimedOut(f)
        } else {
            LoopEnd::Failed(f)
        }));
    }
    fault::point(&format!("batch:before-commit-{n}"));
    if let Err(e) = tx.commit() {
        return refusal_or(e);
    }
    fault::point(&format!("batch:after-commit-{n}"));
    Ok(None)
}

fn refusal_or(e: postgres::Error) -> Result<Option<LoopEnd>> {
    if step_tx::is_refusal(&e) {
        Ok(Some(LoopEnd::Refused(describe_pg_error(&e))))
    } else {
        Err(e.into())
    }
}

fn is_timeout(f: &StatementFailure) -> bool {
    matches!(
        f.kind.as_str(),
        "lock_timeout" | "statement_timeout" | "deadlock"
    )
}

/// Batches until one changes no row, the server refuses one, or one fails.
fn run_loop(
    c: &mut Client,
    r: &Runner<'_>,
    summary: &mut BatchSummary,
    notices: &mut Vec<LocatedNotice>,
) -> Result<LoopEnd> {
    let mut p = progress(c, r.plan)?;
    summary.resumed_from = p.batches;
    let start_rows = p.rows;
    let t0 = Instant::now();
    let mut line = Line::new(r, &p);
    let mut timeouts = 0;
    let end = loop {
        if p.drained {
            break LoopEnd::Drained;
        }
        match one_batch(c, r, p.batches + 1, notices)? {
            None => timeouts = 0,
            // A timed-out batch rolled back whole: wait, then the same batch again.
            Some(LoopEnd::TimedOut(_)) if timeouts < r.retries => {
                timeouts += 1;
                std::thread::sleep(Duration::from_millis(200 * (1 << timeouts.min(5))));
                continue;
            }
            Some(end) => break end,
        }
        p = progress(c, r.plan)?;
        line.show(&p, p.rows - start_rows, t0.elapsed());
    };
    line.finish();
    summary.batches = p.batches;
    summary.rows = p.rows;
    summary.counts = p.counts.clone();
    summary.drained = p.drained;
    summary.batches_now = p.batches - summary.resumed_from;
    summary.rows_now = p.rows - start_rows;
    summary.elapsed_ms = t0.elapsed().as_millis();
    summary.rows_per_sec = rate(summary.rows_now, t0.elapsed());
    Ok(end)
}

fn rate(rows: i64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        (rows as f64 / s * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// The progress line: a bar on a terminal, a plain line every two seconds otherwise;
/// nothing with `-q` or `--json`.
struct Line {
    bar: indicatif::ProgressBar,
    plain: bool,
    last: Instant,
    step: String,
}

impl Line {
    fn new(r: &Runner<'_>, p: &Progress) -> Line {
        let bar = crate::engine::progress::bar(r.show, r.total, "rows");
        bar.set_position(p.rows.max(0) as u64);
        Line {
            bar,
            plain: r.show && !std::io::stderr().is_terminal(),
            last: Instant::now(),
            step: r.plan.step.clone(),
        }
    }
    fn show(&mut self, p: &Progress, rows_now: i64, d: Duration) {
        let msg = format!("batch {} · {} rows/s", p.batches, rate(rows_now, d));
        self.bar.set_position(p.rows.max(0) as u64);
        self.bar.set_message(msg.clone());
        if self.plain && self.last.elapsed() >= Duration::from_secs(2) {
            eprintln!("stepgate: step {} {} rows, {msg}", self.step, p.rows);
            self.last = Instant::now();
        }
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `apply` of a batched step, after every gate held (rehearsal, backup, approvals).
pub fn apply_batched(
    session: &mut Session,
    idx: usize,
    (file, sha): (&SqlFile, &str),
    plan: &Plan,
    mut report: ApplyReport,
    (started, retries, show): (Instant, u32, bool),
) -> Result<ApplyReport> {
    let pack = session.pack().clone();
    let step_id = plan.step.clone();
    if session.scratch {
        return Err(Error::BadInput(format!(
            "step {step_id} is batched: `stepgate scratch` does not run batched steps yet; rehearse it instead"
        )));
    }
    session.event(
        Some(&step_id),
        "apply-intent",
        "started",
        Some(sha),
        serde_json::json!({"batched": true}),
    )?;
    let entry = snapshot::take(&mut session.ledger)?;
    report.entry_fingerprint = crate::db::ledger::store_snapshot(&mut session.ledger, &entry)?;
    let pre_counts = pre_step_counts(session, plan, &pack.effects[idx].rows)?;
    let runner = Runner {
        plan,
        file,
        body: step_tx::parts(file).body,
        timeouts: pack.timeouts_for(idx),
        retries,
        sink: NoticeSink::default(),
        show,
        total: declared_total(&pack.effects[idx].rows),
    };
    let mut client = session.step_client("apply", &step_id, runner.sink.clone())?;
    step_tx::set_session_timeouts(&mut client, &runner.timeouts)?;
    if let PermitOutcome::Refused(why) = step_tx::obtain_commit_permit(session, &mut client, plan)?
    {
        drop(client);
        return refused_end(session, &step_id, sha, "apply", why);
    }
    let mut summary = BatchSummary::default();
    let t0 = Instant::now();
    let end = run_loop(&mut client, &runner, &mut summary, &mut report.notices)?;
    report.attempts.push(Attempt {
        attempt: 1,
        outcome: loop_outcome(&end).into(),
        failure: loop_failure(&end),
        elapsed_ms: t0.elapsed().as_millis(),
    });
    report.batch = Some(summary.clone());
    match end {
        LoopEnd::Drained => {
            let ctx = (idx, (file, sha), &entry, &pre_counts);
            finish_apply(session, client, ctx, report, started)
        }
        other => stop(session, client, &step_id, sha, other, report, started),
    }
}

/// The row counts of the declared tables before the run's first batch (a rollback proves
/// them back): now, less what the batches already committed inserted and deleted.
fn pre_step_counts(
    session: &mut Session,
    plan: &Plan,
    declared: &BTreeMap<String, RowCounts>,
) -> Result<BTreeMap<String, i64>> {
    let tables: Vec<String> = declared.keys().cloned().collect();
    let mut now = crate::db::delta::row_counts(&mut session.ledger, &tables)?;
    let done = progress(&mut session.ledger, plan)?;
    for (t, n) in now.iter_mut() {
        if let Some(c) = done.counts.get(t) {
            *n -= c.insert - c.delete;
        }
    }
    Ok(now)
}

fn declared_total(rows: &BTreeMap<String, RowCounts>) -> u64 {
    rows.values()
        .map(|r| (r.insert + r.update + r.delete).max(0) as u64)
        .sum()
}

fn loop_outcome(end: &LoopEnd) -> &'static str {
    match end {
        LoopEnd::Drained => "drained",
        LoopEnd::Refused(_) => "refused",
        LoopEnd::TimedOut(_) => "timed out",
        LoopEnd::Failed(_) => "failed",
    }
}

fn loop_failure(end: &LoopEnd) -> Option<StatementFailure> {
    match end {
        LoopEnd::TimedOut(f) | LoopEnd::Failed(f) => Some((**f).clone()),
        _ => None,
    }
}

fn refused_end<T>(
    session: &mut Session,
    step: &str,
    sha: &str,
    verb: &str,
    why: String,
) -> Result<T> {
    session.event(
        Some(step),
        &format!("{verb}-end"),
        "refused",
        Some(sha),
        serde_json::json!({"reasons": [why]}),
    )?;
    Err(Error::Refused(format!(
        "the database refused a batch of step {step}: {why}"
    )))
}

/// A run that stopped before it drained: refused or timed out, it resumes with the next
/// `apply`; a failed batch halts the pack (everything before it stays committed).
fn stop(
    session: &mut Session,
    client: Client,
    step_id: &str,
    sha: &str,
    end: LoopEnd,
    mut report: ApplyReport,
    started: Instant,
) -> Result<ApplyReport> {
    drop(client);
    let done = report.batch.as_ref().map_or(0, |b| b.batches);
    match end {
        LoopEnd::Refused(why) => refused_end(session, step_id, sha, "apply", why),
        LoopEnd::TimedOut(f) => {
            session.event(
                Some(step_id),
                "apply-end",
                "timed out",
                Some(sha),
                serde_json::json!({"failure": f, "batch": report.batch}),
            )?;
            Err(Error::Failed(format!(
                "a batch of step {step_id} kept timing out ({f}); the {done} batch(es) before it stay committed: run `stepgate apply --step {step_id}` again to resume"
            )))
        }
        LoopEnd::Failed(f) => {
            let why = format!("batch {} of step {step_id} failed: {f}; the {done} batch(es) before it stay committed", done + 1);
            report.halted = Some(halt(session, Some(step_id), &why)?);
            report.rollback_command = Some(format!("stepgate rollback --step {step_id}"));
            session.event(
                Some(step_id),
                "apply-end",
                "failed",
                Some(sha),
                serde_json::json!({"failure": f, "batch": report.batch}),
            )?;
            report.elapsed_ms = started.elapsed().as_millis();
            Ok(report)
        }
        LoopEnd::Drained => Ok(report),
    }
}

/// The run drained: the totals and the catalog against the declared effects, then the
/// server's own check and fact (`finish_batches`), then the post-commit checks.
type FinishCtx<'a> = (
    usize,
    (&'a SqlFile, &'a str),
    &'a crate::core::catalog::Snapshot,
    &'a BTreeMap<String, i64>,
);

fn finish_apply(
    session: &mut Session,
    mut client: Client,
    (idx, (file, sha), entry, pre_counts): FinishCtx<'_>,
    mut report: ApplyReport,
    started: Instant,
) -> Result<ApplyReport> {
    let pack = session.pack().clone();
    let step_id = pack.manifest.step[idx].id().to_string();
    let after = snapshot::take(&mut session.ledger)?;
    let counts = report
        .batch
        .as_ref()
        .map(|b| b.counts.clone())
        .unwrap_or_default();
    let measured = Measured {
        catalog: catalog::diff(entry, &after),
        rows: counts
            .into_iter()
            .filter(|(_, c)| *c != RowCounts::default())
            .collect(),
    };
    let mut mismatches = effects::compare(&pack.effects[idx], &measured, entry, &after);
    mismatches.extend(effects::forbidden(&pack.forbids[idx], &measured));
    report.measured = Some(measured.clone());
    report.mismatches = mismatches.clone();
    if !mismatches.is_empty() {
        drop(client);
        let why = format!(
            "the batched apply of step {step_id} drained with other totals than its declared effects (the batches stay committed):\n{}",
            effects::render_mismatches(&mismatches)
        );
        report.halted = Some(halt(session, Some(&step_id), &why)?);
        report.rollback_command = Some(format!("stepgate rollback --step {step_id}"));
        session.event(
            Some(&step_id),
            "apply-end",
            "failed",
            Some(sha),
            serde_json::json!({"delta": measured, "batch": report.batch}),
        )?;
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    crate::db::ledger::store_snapshot(&mut session.ledger, &after)?;
    let details = serde_json::json!({"entry_fingerprint": report.entry_fingerprint, "pre_counts": pre_counts, "delta": measured, "batch": report.batch, "backup_event": report.backup_event, "rehearsal_event": report.rehearsal_event});
    crate::db::authority::note(&mut client, &details)?;
    let fact = client.query_one("SELECT stepgate.finish_batches()", &[]);
    drop(client);
    let id: i64 = match fact {
        Ok(r) => r.get(0),
        Err(e) if step_tx::is_refusal(&e) => {
            return refused_end(session, &step_id, sha, "apply", describe_pg_error(&e))
        }
        Err(e) => return Err(e.into()),
    };
    report.commit_event = Some(id);
    report.committed = true;
    fault::point("batch:after-finish");
    post_checks(session, file, sha, &after, &mut report)?;
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}

/// Section H, the verify file, invariants and the catalog after the fact, as for any step.
fn post_checks(
    session: &mut Session,
    file: &SqlFile,
    sha: &str,
    after: &crate::core::catalog::Snapshot,
    report: &mut ApplyReport,
) -> Result<()> {
    let parts = step_tx::parts(file);
    // The full snapshot taken after the run is the committed catalog (no incremental scope:
    // the batches ran in many transactions).
    let committed = crate::engine::proof::Committed {
        snapshot: after.clone(),
        scope: None,
    };
    let end = serde_json::json!({"batch": report.batch});
    crate::engine::apply_report::close_after_commit(
        session,
        file,
        &parts.post,
        sha,
        &committed,
        report,
        end,
    )
}

/// The rollback of a batched step, batched the same way: the server ends it when a batch
/// changes no row (a rollback's totals are whatever reverses the apply, so it checks none).
pub fn rollback_batched(
    session: &mut Session,
    idx: usize,
    (file, sha): (&SqlFile, &str),
    plan: &Plan,
    show: bool,
) -> Result<(BatchSummary, i64, Vec<LocatedNotice>)> {
    let pack = session.pack().clone();
    let step_id = plan.step.clone();
    session.event(
        Some(&step_id),
        "rollback-intent",
        "started",
        Some(sha),
        serde_json::json!({"batched": true}),
    )?;
    let runner = Runner {
        plan,
        file,
        body: step_tx::parts(file).body,
        timeouts: pack.timeouts_for(idx),
        retries: 3,
        sink: NoticeSink::default(),
        show,
        total: 0,
    };
    let mut client = session.step_client("rollback", &step_id, runner.sink.clone())?;
    step_tx::set_session_timeouts(&mut client, &runner.timeouts)?;
    if let PermitOutcome::Refused(why) = step_tx::obtain_commit_permit(session, &mut client, plan)?
    {
        drop(client);
        return refused_end(session, &step_id, sha, "rollback", why);
    }
    let mut summary = BatchSummary::default();
    let mut notices = Vec::new();
    let end = run_loop(&mut client, &runner, &mut summary, &mut notices)?;
    let why = match end {
        LoopEnd::Drained => None,
        LoopEnd::Refused(w) => Some(w),
        LoopEnd::TimedOut(f) | LoopEnd::Failed(f) => Some(f.to_string()),
    };
    if let Some(why) = why {
        drop(client);
        session.event(
            Some(&step_id),
            "rollback-end",
            "failed",
            Some(sha),
            serde_json::json!({"reason": why, "batch": summary}),
        )?;
        return Err(Error::Failed(format!(
            "the batched rollback of step {step_id} stopped after {} batch(es): {why}; run `stepgate rollback --step {step_id}` again to resume",
            summary.batches
        )));
    }
    crate::db::authority::note(&mut client, &serde_json::json!({"batch": summary}))?;
    let id: i64 = client
        .query_one("SELECT stepgate.finish_batches()", &[])?
        .get(0);
    drop(client);
    session.event(
        Some(&step_id),
        "rollback-end",
        "committed",
        Some(sha),
        serde_json::json!({"batch": summary}),
    )?;
    Ok((summary, id, notices))
}

/// A batched apply of the step committed some batches and neither finished nor was rolled
/// back: its rollback may run (the server decides; this is the client's early answer).
pub fn partly_applied(session: &mut Session, step_id: &str) -> Result<bool> {
    let Some(plan) = batched_plan(session, step_id, Action::Apply)? else {
        return Ok(false);
    };
    let p = progress(&mut session.ledger, &plan)?;
    Ok(p.batches > 0 && !p.drained)
}

/// The plan of `action` on a step, when it is batched.
pub fn batched_plan(session: &Session, step_id: &str, action: Action) -> Result<Option<Plan>> {
    let plan = crate::engine::plan::for_action(&session.loaded, step_id, action, None)?;
    Ok(is_batched(&plan).then_some(plan))
}
