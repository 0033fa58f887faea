//! The step transaction, shared by rehearse (which rolls back), apply and rollback (which
//! commit under a permit) and transaction-less steps: open it with the pack's timeouts,
//! obtain the server's permit, run user-written SQL one statement at a time, measure what
//! it did, and halt the pack when something diverged.
//!
//! Every piece of user-written SQL stepgate executes comes through [`run_statements`]:
//! a statement that would end or reshape stepgate's transaction is refused before it is
//! sent, and each statement is sent alone over the extended protocol, so the server
//! itself refuses a string that holds more than one.

use crate::core::lint::{self, Severity};
use crate::core::manifest::{Invariant, NegativeTest, TimeoutValues};
use crate::core::plan::Plan;
use crate::core::sql;
use crate::core::sql::{SqlFile, Statement, StmtClass};
use crate::db::authority::{self, Offered};
use crate::db::connect::{take_notices, NoticeSink};
use crate::db::describe_pg_error;
use crate::db::ledger::{Actor, Event};
use crate::engine::session::Session;
use crate::engine::{Error, Result as EngineResult};
use postgres::{Client, GenericClient};
use serde::Serialize;

/// A server message shown beside the file line of the statement that raised it.
#[derive(Debug, Clone, Serialize)]
pub struct LocatedNotice {
    pub file: String,
    pub line: usize,
    pub severity: String,
    pub code: String,
    pub message: String,
}

/// Why a statement failed, located in its file.
#[derive(Debug, Clone, Serialize)]
pub struct StatementFailure {
    pub file: String,
    pub line: usize,
    pub sqlstate: String,
    /// assertion | lock_timeout | statement_timeout | syntax | error
    pub kind: String,
    pub message: String,
    pub statement: String,
}

impl std::fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} (SQLSTATE {}): {}",
            self.file,
            self.line,
            self.kind.replace('_', " "),
            self.sqlstate,
            self.message
        )
    }
}

pub fn kind_of(sqlstate: &str) -> &'static str {
    match sqlstate {
        "55P03" => "lock_timeout",
        "57014" => "statement_timeout",
        "P0001" => "assertion",
        "42601" => "syntax",
        "25P03" => "idle_in_transaction_timeout",
        "40P01" => "deadlock",
        _ => "error",
    }
}

/// `SET LOCAL` of the pack's three timeouts: the runner sets them itself on every
/// transaction it opens, whatever the file says.
pub fn set_timeouts(c: &mut impl GenericClient, t: &TimeoutValues) -> Result<(), postgres::Error> {
    c.batch_execute(&format!(
        "SET LOCAL statement_timeout = '{}ms'; SET LOCAL lock_timeout = '{}ms'; SET LOCAL idle_in_transaction_session_timeout = '{}ms'",
        t.statement.as_millis(),
        t.lock.as_millis(),
        t.idle_in_transaction.as_millis()
    ))
}

fn failure(file: &SqlFile, st: &Statement, e: &postgres::Error) -> StatementFailure {
    let (sqlstate, line) = match e.as_db_error() {
        Some(db) => {
            let line = match db.position() {
                Some(postgres::error::ErrorPosition::Original(p)) => {
                    let upto: String = st
                        .text
                        .chars()
                        .take((*p as usize).saturating_sub(1))
                        .collect();
                    st.line + upto.matches('\n').count()
                }
                _ => st.line,
            };
            (db.code().code().to_string(), line)
        }
        None => ("08006".to_string(), st.line),
    };
    StatementFailure {
        file: file.path.clone(),
        line,
        kind: kind_of(&sqlstate).to_string(),
        sqlstate,
        message: describe_pg_error(e),
        statement: st.text.lines().next().unwrap_or("").to_string(),
    }
}

/// Runs statements one by one over the extended protocol (the server refuses a string
/// holding several), refusing transaction control and settings that would reshape the
/// transaction before anything is sent, and collecting notices against each statement.
pub fn run_statements(
    c: &mut impl GenericClient,
    file: &SqlFile,
    stmts: &[&Statement],
    sink: &NoticeSink,
    notices: &mut Vec<LocatedNotice>,
) -> Result<(), Box<StatementFailure>> {
    for st in stmts {
        if let Some(why) = crate::core::plan::refusal(st, crate::core::plan::Context::Transaction) {
            return Err(Box::new(refused(file, st, why)));
        }
        let watch = crate::engine::progress::statement_started(&file.path, st.line, &st.text);
        let r = c.execute(st.text.as_str(), &[]);
        watch.end(r.is_ok());
        for n in take_notices(sink) {
            notices.push(LocatedNotice {
                file: file.path.clone(),
                line: st.line,
                severity: n.severity,
                code: n.code,
                message: n.message,
            });
        }
        if let Err(e) = r {
            return Err(Box::new(failure(file, st, &e)));
        }
    }
    Ok(())
}

fn refused(file: &SqlFile, st: &Statement, why: String) -> StatementFailure {
    StatementFailure {
        file: file.path.clone(),
        line: st.line,
        sqlstate: "25000".into(),
        kind: "refused".into(),
        message: why,
        statement: st.text.lines().next().unwrap_or("").to_string(),
    }
}

/// Opens a READ ONLY transaction that cannot be turned read-write from inside: a first
/// query takes the snapshot, after which PostgreSQL refuses to change the access mode.
pub fn begin_read_only<'a>(
    c: &'a mut Client,
    t: &TimeoutValues,
) -> Result<postgres::Transaction<'a>, postgres::Error> {
    let mut tx = c.transaction()?;
    tx.batch_execute("SET TRANSACTION READ ONLY")?;
    set_timeouts(&mut tx, t)?;
    tx.batch_execute("SELECT 1")?;
    Ok(tx)
}

/// The parts of a transactional step file, by position relative to BEGIN and the terminal keyword.
pub struct Parts<'a> {
    /// Read-only assertions before BEGIN (section B).
    pub pre: Vec<&'a Statement>,
    /// Between BEGIN and the terminal keyword (sections C–F).
    pub body: Vec<&'a Statement>,
    /// After the terminal keyword (section H).
    pub post: Vec<&'a Statement>,
}

pub fn parts(file: &SqlFile) -> Parts<'_> {
    let begin = file
        .statements
        .iter()
        .position(|s| s.class == StmtClass::Begin);
    let term = file
        .statements
        .iter()
        .position(|s| matches!(s.class, StmtClass::Rollback | StmtClass::Commit));
    let mut p = Parts {
        pre: vec![],
        body: vec![],
        post: vec![],
    };
    for (i, s) in file.statements.iter().enumerate() {
        let after_begin = begin.is_some_and(|b| i > b);
        let after_term = term.is_some_and(|t| i > t);
        if Some(i) == begin || Some(i) == term {
            continue;
        }
        if after_term {
            p.post.push(s);
        } else if after_begin || begin.is_none() {
            p.body.push(s);
        } else {
            p.pre.push(s);
        }
    }
    p
}

/// Runs read-only statements inside a READ ONLY transaction with the pack's timeouts.
pub fn run_read_only(
    c: &mut Client,
    t: &TimeoutValues,
    file: &SqlFile,
    stmts: &[&Statement],
    sink: &NoticeSink,
    notices: &mut Vec<LocatedNotice>,
) -> Result<Result<(), Box<StatementFailure>>, postgres::Error> {
    if stmts.is_empty() {
        return Ok(Ok(()));
    }
    let mut tx = begin_read_only(c, t)?;
    let r = run_statements(&mut tx, file, stmts, sink, notices);
    tx.rollback()?;
    Ok(r)
}

/// Result of one invariant check.
#[derive(Debug, Clone, Serialize)]
pub struct InvariantResult {
    pub name: String,
    pub expect: String,
    pub got: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

/// First column of the first row of one user-written query, as text. The query is
/// checked to be a single read-only statement and sent over the extended protocol.
pub fn scalar_text(
    c: &mut impl GenericClient,
    sql: &str,
) -> Result<Option<String>, postgres::Error> {
    let body = sql.trim().trim_end_matches(';').trim_end();
    let q = format!("SELECT s.v::pg_catalog.text FROM ({body}\n) AS s(v) LIMIT 1");
    let rows = c.query(q.as_str(), &[])?;
    Ok(rows.first().and_then(|r| r.get::<_, Option<String>>(0)))
}

/// Invariants run inside a savepoint so a failing query cannot poison the transaction.
pub fn check_invariants(
    c: &mut impl GenericClient,
    invs: &[Invariant],
) -> Result<Vec<InvariantResult>, postgres::Error> {
    let mut out = Vec::new();
    for inv in invs {
        c.batch_execute("SAVEPOINT stepgate_invariant")?;
        let r = scalar_text(c, &inv.sql);
        match r {
            Ok(got) => {
                c.batch_execute("RELEASE SAVEPOINT stepgate_invariant")?;
                let ok = got.as_deref().map(str::trim) == Some(inv.expect.trim());
                out.push(InvariantResult {
                    name: inv.name.clone(),
                    expect: inv.expect.clone(),
                    got,
                    ok,
                    error: None,
                });
            }
            Err(e) => {
                c.batch_execute("ROLLBACK TO SAVEPOINT stepgate_invariant")?;
                out.push(InvariantResult {
                    name: inv.name.clone(),
                    expect: inv.expect.clone(),
                    got: None,
                    ok: false,
                    error: Some(describe_pg_error(&e)),
                });
            }
        }
    }
    Ok(out)
}

/// Invariants outside any transaction (before/after a step): each in its own read-only transaction.
pub fn check_invariants_standalone(
    c: &mut Client,
    invs: &[Invariant],
    t: &TimeoutValues,
) -> Result<Vec<InvariantResult>, postgres::Error> {
    let mut tx = begin_read_only(c, t)?;
    let r = check_invariants(&mut tx, invs)?;
    tx.rollback()?;
    Ok(r)
}

#[derive(Debug, Clone, Serialize)]
pub struct NegativeResult {
    pub name: String,
    pub expected_sqlstate: String,
    pub got_sqlstate: Option<String>,
    pub message: Option<String>,
    pub ok: bool,
}

/// Each negative test in its own savepoint; it must fail with its SQLSTATE.
pub fn run_negatives(
    c: &mut impl GenericClient,
    tests: &[NegativeTest],
) -> Result<Vec<NegativeResult>, postgres::Error> {
    let mut out = Vec::new();
    for t in tests {
        c.batch_execute("SAVEPOINT stepgate_negative")?;
        let r = run_negative(c, t);
        c.batch_execute("ROLLBACK TO SAVEPOINT stepgate_negative")?;
        let (got, msg) = match &r {
            Ok(()) => (None, None),
            Err(e) => (
                e.as_db_error().map(|d| d.code().code().to_string()),
                Some(describe_pg_error(e)),
            ),
        };
        let ok = got.as_deref() == Some(t.sqlstate.as_str());
        out.push(NegativeResult {
            name: t.name.clone(),
            expected_sqlstate: t.sqlstate.clone(),
            got_sqlstate: got,
            message: msg,
            ok,
        });
    }
    Ok(out)
}

/// A negative test's statements, one at a time; the first error is its outcome. Text that
/// does not parse, or that holds transaction control, never reaches the server (the plan
/// refuses it before the step runs).
fn run_negative(c: &mut impl GenericClient, t: &NegativeTest) -> Result<(), postgres::Error> {
    let stmts = crate::core::plan::executable(
        &format!("negative test `{}`", t.name),
        &t.sql,
        crate::core::plan::Context::Transaction,
    )
    .map(|v| v.into_iter().map(|s| s.text).collect::<Vec<_>>())
    .unwrap_or_default();
    for text in stmts {
        c.execute(text.as_str(), &[])?;
    }
    Ok(())
}

/// The database's clock in microseconds since the epoch (ages are measured on the server's clock).
pub fn db_now_micros(c: &mut postgres::Client) -> EngineResult<i64> {
    Ok(c.query_one(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
        &[],
    )?
    .get(0))
}

/// Closes runs that were interrupted (killed between intent and end): the in-transaction
/// "committed" row, present or absent, says what really happened.
pub fn reconcile(session: &mut Session, events: &[Event]) -> EngineResult<Vec<String>> {
    let mut notes = Vec::new();
    let mut open: Vec<&Event> = Vec::new();
    for e in events {
        if e.verb.ends_with("-intent") {
            open.push(e);
        } else if e.verb.ends_with("-end") {
            open.retain(|i| i.run_id != e.run_id);
        }
    }
    for intent in open {
        let base = intent.verb.trim_end_matches("-intent");
        // Only the server's fact says a run committed: a claim proves nothing.
        let committed = events.iter().any(|e| {
            e.fact && e.verb == base && e.result == "committed" && e.run_id == intent.run_id
        });
        let outcome = if committed {
            "committed"
        } else {
            "not committed"
        };
        let step = intent.step.clone();
        session.event_for_run(
            intent.run_id.as_deref().unwrap_or(""),
            step.as_deref(),
            &format!("{base}-end"),
            "reconciled",
            intent.file_sha256.as_deref(),
            serde_json::json!({"interrupted_run": intent.run_id, "outcome": outcome, "intent_event": intent.id, "reconciled_by": session.run_id}),
        )?;
        notes.push(format!(
            "interrupted {base} run {} of step {} (event {}) reconciled: {outcome}{}",
            intent.run_id.as_deref().unwrap_or("?"),
            step.as_deref().unwrap_or("?"),
            intent.id,
            if committed {
                "; its post-commit checks never ran: run `stepgate verify`"
            } else {
                ""
            }
        ));
    }
    Ok(notes)
}

/// Halts the pack (a fact, written by the server's own function) and returns the reason.
pub fn halt(session: &mut Session, step: Option<&str>, reason: &str) -> EngineResult<String> {
    let pack = session.pack().id().to_string();
    let run = session.run_id.clone();
    let actor = session.actor.clone();
    let id = crate::db::authority::halt(
        &mut session.ledger,
        &pack,
        step,
        reason,
        &actor,
        &run,
        &serde_json::json!({"run_id": run}),
    )?;
    Ok(format!(
        "{reason}\n  to resume, owners sign: {}",
        crate::engine::halt::resume_command(id)
    ))
}

/// How the step's transaction is authorized.
pub enum Permit<'a> {
    /// A rehearsal: the server admits the plan's statements and refuses the COMMIT.
    Rehearsal,
    /// A commit under the approvals offered; the server verifies them itself.
    Commit(&'a Offered),
    /// `stepgate scratch` on its own throwaway copy, where stepgate is the admin.
    Scratch,
}

/// What happened when the permit was asked for.
pub enum PermitOutcome {
    Granted(Option<i64>),
    /// The server refused: its message says why.
    Refused(String),
}

/// Asks the server for the step transaction's permit. Call it first in the transaction,
/// before any of the step's statements.
pub fn obtain_permit(
    c: &mut impl GenericClient,
    plan: &Plan,
    permit: &Permit<'_>,
    run_id: &str,
    actor: &Actor,
) -> EngineResult<PermitOutcome> {
    let r = match permit {
        Permit::Scratch => return Ok(PermitOutcome::Granted(None)),
        Permit::Rehearsal => authority::rehearsal_permit(c, plan),
        Permit::Commit(offered) => authority::authorize(c, plan, offered, run_id, actor),
    };
    match r {
        Ok(id) => Ok(PermitOutcome::Granted(Some(id))),
        Err(e) if is_refusal(&e) => Ok(PermitOutcome::Refused(describe_pg_error(&e))),
        Err(e) => Err(e.into()),
    }
}

/// The pack's timeouts at session level, for work with no transaction to scope them to
/// (transaction-less steps and rollbacks).
pub fn set_session_timeouts(c: &mut Client, t: &TimeoutValues) -> Result<(), postgres::Error> {
    c.batch_execute(&format!(
        "SET statement_timeout = '{}ms'; SET lock_timeout = '{}ms'; SET idle_in_transaction_session_timeout = '{}ms'",
        t.statement.as_millis(),
        t.lock.as_millis(),
        t.idle_in_transaction.as_millis()
    ))
}

/// Asks for the permit to commit `plan` on `client` under the approvals found in the pack
/// (on a scratch copy, where stepgate is the admin, none is needed).
pub fn obtain_commit_permit(
    session: &Session,
    client: &mut impl GenericClient,
    plan: &Plan,
) -> EngineResult<PermitOutcome> {
    let offered = crate::engine::gates::offered(&session.pack().dir, plan);
    let permit = if session.scratch {
        Permit::Scratch
    } else {
        Permit::Commit(&offered)
    };
    obtain_permit(client, plan, &permit, &session.run_id, &session.actor)
}

/// The server's refusals are insufficient-privilege errors raised by its own functions.
pub fn is_refusal(e: &postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|d| d.code().code() == "42501" || d.code().code() == "22023")
}

/// The fact the server wrote for a run (the commit of a step, a rollback, a hold).
pub fn fact_of_run(
    c: &mut impl GenericClient,
    pack: &str,
    run_id: &str,
) -> EngineResult<Option<i64>> {
    let rows = c.query(
        "SELECT id FROM stepgate.events WHERE fact AND pack = $1 AND run_id = $2 \
          AND result IN ('committed', 'reached') ORDER BY id DESC LIMIT 1",
        &[&pack, &run_id],
    )?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// Parses a step's (or its rollback's) file, refusing on lint errors in that file.
pub fn step_sql(
    session: &Session,
    step_id: &str,
    rollback: bool,
) -> EngineResult<(usize, SqlFile, String)> {
    let pack = session.pack();
    let idx = pack.step_index(step_id).ok_or_else(|| {
        Error::BadInput(format!(
            "no step `{step_id}` in pack `{}`; steps: {}",
            pack.id(),
            pack.step_ids().join(", ")
        ))
    })?;
    let step = &pack.manifest.step[idx];
    let rel = if rollback {
        step.rollback.as_ref()
    } else {
        step.file.as_ref()
    }
    .map(|f| f.get_ref().clone())
    .ok_or_else(|| {
        Error::BadInput(if step.hold {
            format!("step `{step_id}` is a HOLD: it has no file to run")
        } else {
            format!("step `{step_id}` has no rollback file")
        })
    })?;
    let text = session.loaded.text(&rel)?;
    let file = sql::parse_file(&rel, text)?;
    let diags = lint::run(pack, &session.loaded.sources);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| {
            d.severity == Severity::Error
                && (d.file == rel || d.file == crate::core::manifest::MANIFEST_FILE)
        })
        .map(|d| format!("{}:{}: [{}] {}", d.file, d.line, d.code, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has lint errors; fix them before it runs (stepgate lint):\n  {}",
            rel,
            errors.join("\n  ")
        )));
    }
    let sha = session.loaded.sha256(&rel).unwrap_or("").to_string();
    Ok((idx, file, sha))
}
