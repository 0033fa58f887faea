//! Running a step's statements inside a transaction and measuring what they did.
//! Shared by rehearse (which rolls back) and apply (which commits).

use crate::core::catalog::{self, Snapshot};
use crate::core::effects::{self, Measured, Mismatch};
use crate::core::manifest::{Invariant, NegativeTest, Pack, TimeoutValues};
use crate::core::sql::{SqlFile, Statement, StmtClass};
use crate::db::connect::{take_notices, NoticeSink};
use crate::db::{delta, describe_pg_error, snapshot};
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

/// Runs statements one by one (simple protocol, so DO blocks and multi-statement text
/// behave as in psql), collecting notices against each statement's line.
pub fn run_statements(
    c: &mut impl GenericClient,
    file: &SqlFile,
    stmts: &[&Statement],
    sink: &NoticeSink,
    notices: &mut Vec<LocatedNotice>,
) -> Result<(), Box<StatementFailure>> {
    for st in stmts {
        let r = c.batch_execute(&st.text);
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
    let mut tx = c.transaction()?;
    tx.batch_execute("SET TRANSACTION READ ONLY")?;
    set_timeouts(&mut tx, t)?;
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

/// First column of the first row, as text.
pub fn scalar_text(
    c: &mut impl GenericClient,
    sql: &str,
) -> Result<Option<String>, postgres::Error> {
    let rows = c.simple_query(sql)?;
    for m in rows {
        if let postgres::SimpleQueryMessage::Row(r) = m {
            return Ok(r.get(0).map(str::to_string));
        }
    }
    Ok(None)
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
    let mut tx = c.transaction()?;
    tx.batch_execute("SET TRANSACTION READ ONLY")?;
    set_timeouts(&mut tx, t)?;
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
        let r = c.batch_execute(&t.sql);
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

/// The in-transaction measurement: catalog diff against the entry snapshot + row counts.
pub struct Measurement {
    pub measured: Measured,
    pub in_tx: Snapshot,
    pub mismatches: Vec<Mismatch>,
}

pub fn measure(
    c: &mut impl GenericClient,
    pack: &Pack,
    step_index: usize,
    entry: &Snapshot,
) -> Result<Measurement, postgres::Error> {
    // Row counts first: nothing after this point may add to them.
    let rows = delta::row_delta(c)?;
    let in_tx = snapshot::take(c)?;
    let measured = Measured {
        catalog: catalog::diff(entry, &in_tx),
        rows,
    };
    let mut mismatches = effects::compare(&pack.effects[step_index], &measured, entry, &in_tx);
    mismatches.extend(effects::forbidden(&pack.forbids[step_index], &measured));

    Ok(Measurement {
        measured,
        in_tx,
        mismatches,
    })
}
