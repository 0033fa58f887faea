//! The execution plan: every statement stepgate will send for one action on one step,
//! in order, with the gates and target that authorize it.
//!
//! An approval binds the sha256 of the plan's canonical bytes (`plan-sha256`), and the
//! server hashes the bytes it is given itself before it issues a permit. `approve`,
//! `review`, `apply`, `rollback` and `resume` all derive the plan from the same files
//! with [`build`], so the bytes an approver signed are the bytes the server checks and
//! the statements the guard lets through are exactly those, in that order — never "text
//! that appears somewhere in the signed file".
//!
//! Pure: takes the pack and file texts, returns JSON text (compact, fields in a fixed
//! order, which `serde_json` guarantees for a struct).

use crate::core::approval::{sha256_hex, Action};
use crate::core::error::SourceError;
use crate::core::manifest::{GateKind, Pack, RowCounts};
use crate::core::sql::{self, SqlFile, Statement, StmtClass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// First field of every plan; the server refuses any other.
pub const FORMAT: &str = "stepgate plan v1";

/// The `search_path` every statement of a plan runs under, exactly as PostgreSQL shows it.
/// Built-in names resolve first, then `public`; the guard refuses a guarded statement run
/// under any other (a runner-set path would put the approved objects somewhere else).
pub const SEARCH_PATH: &str = "pg_catalog, public, pg_temp";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTarget {
    pub database: String,
    pub environment: Option<String>,
    pub system_identifier: Option<String>,
}

/// A signature gate as the server enforces it: who may sign and how many must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanGate {
    pub name: String,
    pub quorum: u32,
    /// Principals the manifest names (empty = any registered signer of the gate).
    pub signers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTimeouts {
    pub statement_ms: u64,
    pub lock_ms: u64,
    pub idle_in_transaction_ms: u64,
}

/// The canonical plan. Field order is the wire order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub pack: String,
    /// Step id, or `halt-<event>` for a resume.
    pub step: String,
    pub action: String,
    pub target: PlanTarget,
    pub manifest_sha256: String,
    /// sha256 of the file whose statements run (the step file or its rollback), if any.
    pub file_sha256: Option<String>,
    pub transactional: bool,
    pub hold: bool,
    pub gates: Vec<PlanGate>,
    /// SQL gates are evaluated by the client (feedback); their text is bound here.
    pub sql_gates: Vec<String>,
    pub timeouts: PlanTimeouts,
    /// Read-only assertions run before the transaction (section B).
    pub pre: Vec<String>,
    /// The statements the permitted transaction runs, in order.
    pub statements: Vec<String>,
    /// Per statement: does it fire the server's DDL guard? The guard requires a guarded
    /// committer to reach the last such statement before COMMIT.
    pub ddl: Vec<bool>,
    /// Per statement: the tables it writes rows of (schema.table); the guard requires a
    /// guarded committer to run each statement that writes a guarded table.
    pub writes: Vec<Vec<String>>,
    pub search_path: String,
    /// Invariant queries checked inside the transaction.
    pub invariants: Vec<String>,
    /// Negative tests, each in a savepoint inside the transaction, after the statements.
    pub negatives: Vec<String>,
    /// Post-commit checks (section H), then the pack's verify file.
    pub post: Vec<String>,
    pub verify: Vec<String>,
    /// Side-effect measurements, captured before and after the commit.
    pub measures: Vec<String>,
    /// For a restore: the sha256 of the dump that will be loaded.
    pub dump_sha256: Option<String>,
    /// A batched step: the server lets its one write repeat, each run in its own
    /// transaction. Absent for every other plan, whose bytes stay what they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<PlanBatch>,
}

/// What the approvers sign for a batched step, and what the server enforces per batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBatch {
    /// 1-based index in `statements` of the write that repeats (the others are SET LOCAL).
    pub repeat: usize,
    /// The server refuses a batch past this number (0 = no bound).
    pub max_batches: u32,
    /// Batches the rehearsal runs before it rolls back.
    pub rehearse: u32,
    /// Tables whose rows the server counts in each batch (schema.table).
    pub tables: Vec<String>,
    /// The exact totals the server requires before it records the commit (apply only;
    /// a rollback's totals are whatever reverses the apply).
    pub expect_rows: Option<BTreeMap<String, RowCounts>>,
}

impl Plan {
    /// The canonical bytes (what is hashed, signed over and sent to the server).
    pub fn canonical(&self) -> String {
        // A struct of strings, numbers and vectors always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn sha256(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }

    /// Statements the guard admits under this plan's permit, in the order it admits them.
    pub fn permitted(&self) -> Vec<String> {
        self.statements
            .iter()
            .chain(self.negatives.iter())
            .cloned()
            .collect()
    }
}

/// Where a piece of user-written SQL runs, for the refusal message.
#[derive(Debug, Clone, Copy)]
pub enum Context {
    /// Inside the step's transaction (statements, negatives, invariants).
    Transaction,
    /// In a READ ONLY transaction (section B, section H, verify, preflight, gates, measures).
    ReadOnly,
    /// Each statement on its own, outside any transaction block (transactional = false).
    NoTransaction,
}

/// Splits user-written SQL into single statements, refusing anything that would end or
/// reshape stepgate's own transaction. `origin` names where the text came from.
pub fn executable(origin: &str, text: &str, ctx: Context) -> Result<Vec<Statement>, SourceError> {
    let file = sql::parse_file(origin, text)?;
    for st in &file.statements {
        if let Some(why) = refusal(st, ctx) {
            return Err(file.error_at(st.start, st.head_len(), why));
        }
    }
    Ok(file.statements)
}

/// Settings that would change the transaction stepgate opened (its access mode, its
/// isolation) or what fires inside it (replication role skips triggers).
const TRANSACTION_SETTINGS: [&str; 7] = [
    "transaction",
    "transaction_read_only",
    "default_transaction_read_only",
    "transaction_isolation",
    "transaction_deferrable",
    "session_replication_role",
    "session_authorization",
];

/// Why a single statement may not run in `ctx`, if it may not.
pub fn refusal(st: &Statement, ctx: Context) -> Option<String> {
    let setting = match &st.class {
        StmtClass::SetLocal { name, .. } | StmtClass::SetSession { name, .. } => Some(name),
        _ => None,
    };
    if let Some(name) = setting.filter(|n| TRANSACTION_SETTINGS.contains(&n.as_str())) {
        return Some(format!(
            "`SET {name}` would change the transaction stepgate runs this in; it is refused here"
        ));
    }
    if matches!(&st.node, Some(pg_query::NodeEnum::ConstraintsSetStmt(_))) {
        return Some(
            "`SET CONSTRAINTS` would fire the commit-time checks early; it is refused here".into(),
        );
    }
    if st.is_transaction_control() {
        return Some(format!(
            "`{}` ends or reshapes the transaction stepgate runs this in; stepgate opens, commits and rolls back its transactions itself, so transaction control is refused here",
            first_words(&st.text)
        ));
    }
    if matches!(ctx, Context::ReadOnly)
        && !matches!(
            st.class,
            StmtClass::ReadOnly | StmtClass::SetLocal { .. } | StmtClass::SetSession { .. }
        )
    {
        return Some(format!(
            "`{}` is not read-only; this SQL runs in a READ ONLY transaction",
            first_words(&st.text)
        ));
    }
    None
}

fn first_words(text: &str) -> String {
    text.split_whitespace()
        .take(4)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The texts of a file's statements, excluding the transaction frame stepgate supplies.
pub fn statement_texts(stmts: &[&Statement]) -> Vec<String> {
    stmts.iter().map(|s| s.text.clone()).collect()
}

/// Everything [`build`] needs that lives in files.
pub struct Inputs<'a> {
    pub pack: &'a Pack,
    pub manifest_sha256: &'a str,
    /// The parsed file that runs (step or rollback file), with its sha256.
    pub file: Option<(&'a SqlFile, &'a str)>,
    /// The pack's verify file, if any, parsed.
    pub verify: Option<&'a SqlFile>,
}

/// The plan for `action` on step `step_idx` (apply, rollback, restore).
pub fn build(
    inputs: &Inputs<'_>,
    step_idx: usize,
    action: Action,
    dump_sha256: Option<&str>,
) -> Result<Plan, SourceError> {
    let pack = inputs.pack;
    let step = &pack.manifest.step[step_idx];
    let mut gate_names = match action {
        Action::Rollback => step.rollback_gate_names(),
        _ => step.gate_names(),
    };
    if step.one_way && action == Action::Apply && pack.manifest.gate.contains_key("one_way") {
        gate_names.push("one_way".into());
    }
    if action == Action::Restore {
        gate_names = vec!["restore".into()];
    }
    let (pre, body, post) = match inputs.file {
        Some((file, _)) => split(file),
        None => (vec![], vec![], vec![]),
    };
    let transactional = match (action, inputs.file) {
        (Action::Apply, _) => step.transactional,
        (_, Some((file, _))) => !runs_outside_transaction(file),
        _ => true,
    };

    if let Some((file, _)) = inputs.file {
        no_meta(file)?;
        check_read_only_section(file, &pre)?;
        check(file, &body, tx_ctx(transactional, action))?;
        check_read_only_section(file, &post)?;
    }
    if let Some(v) = inputs.verify {
        no_meta(v)?;
        check(
            v,
            &v.statements.iter().collect::<Vec<_>>(),
            Context::ReadOnly,
        )?;
    }
    let mut measures = Vec::new();
    for m in &step.measure {
        let one = snippet(&format!("measure `{}`", m.name), &m.sql, Context::ReadOnly)?;
        if one.len() != 1 {
            return Err(SourceError::new(
                format!("measure `{}`", m.name),
                m.sql.clone(),
                format!(
                    "a measure must be exactly one query; this one has {}",
                    one.len()
                ),
            ));
        }
        measures.extend(one);
    }
    let mut gate_sql = Vec::new();
    for (i, q) in sql_gates(pack, &gate_names).iter().enumerate() {
        gate_sql.extend(snippet(
            &format!("SQL gate {}", i + 1),
            q,
            Context::ReadOnly,
        )?);
    }
    let batch = match inputs.file {
        Some((file, _)) => batch_of(pack, step_idx, action, file, &body)?,
        None => None,
    };
    let ddl = body.iter().map(|s| fires_ddl_guard(s)).collect();
    let writes = body.iter().map(|s| written_tables(s)).collect();
    let statements = body.iter().map(|s| s.text.clone()).collect();
    let pre = pre.iter().map(|s| s.text.clone()).collect();
    let post = post.iter().map(|s| s.text.clone()).collect();
    let tx_ctx = tx_ctx(transactional, action);
    let mut invariants = Vec::new();
    for (i, inv) in pack.manifest.invariant.iter().enumerate() {
        invariants.extend(snippet(
            &format!("invariant {} ({})", i + 1, inv.name),
            &inv.sql,
            Context::ReadOnly,
        )?);
    }
    let mut negatives = Vec::new();
    if action == Action::Apply {
        for n in &step.negative {
            negatives.extend(snippet(
                &format!("negative test `{}`", n.name),
                &n.sql,
                tx_ctx,
            )?);
        }
    }
    let verify = inputs
        .verify
        .map(|f| f.statements.iter().map(|s| s.text.clone()).collect())
        .unwrap_or_default();
    Ok(Plan {
        format: FORMAT.to_string(),
        pack: pack.id().to_string(),
        step: step.id().to_string(),
        action: action.as_str().to_string(),
        target: target_of(pack),
        manifest_sha256: inputs.manifest_sha256.to_string(),
        file_sha256: inputs.file.map(|(_, sha)| sha.to_string()),
        transactional,
        hold: step.hold,
        gates: signature_gates(pack, &gate_names),
        sql_gates: gate_sql,
        timeouts: timeouts_of(&pack.timeouts_for(step_idx)),
        pre,
        statements,
        ddl,
        writes,
        search_path: SEARCH_PATH.to_string(),
        invariants,
        negatives,
        post,
        verify,
        measures,
        dump_sha256: dump_sha256.map(str::to_string),
        batch,
    })
}

/// The batch part of the plan, when `action` on this step is batched: the body must be
/// exactly one INSERT, UPDATE or DELETE (beside SET LOCAL), the statement that repeats.
fn batch_of(
    pack: &Pack,
    step_idx: usize,
    action: Action,
    file: &SqlFile,
    body: &[&Statement],
) -> Result<Option<PlanBatch>, SourceError> {
    let step = &pack.manifest.step[step_idx];
    let Some(spec) = step.batch.as_ref().map(|b| b.get_ref()) else {
        return Ok(None);
    };
    if !(action == Action::Apply || (action == Action::Rollback && spec.rollback)) {
        return Ok(None);
    }
    let (repeat, st) = batch_statement(file, body)?;
    let mut tables = written_tables(st);
    let expect_rows = (action == Action::Apply).then(|| pack.effects[step_idx].rows.clone());
    for t in expect_rows.iter().flat_map(|r| r.keys()) {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    tables.sort();
    Ok(Some(PlanBatch {
        repeat,
        max_batches: spec.max_batches,
        rehearse: spec.rehearse,
        tables,
        expect_rows,
    }))
}

/// The one statement of a batched file that repeats (1-based position in the body), or
/// the reason, located, why the file cannot be batched.
pub fn batch_statement<'a>(
    file: &SqlFile,
    body: &[&'a Statement],
) -> Result<(usize, &'a Statement), SourceError> {
    let mut found = None;
    for (i, st) in body.iter().enumerate() {
        if matches!(st.class, StmtClass::SetLocal { .. }) {
            continue;
        }
        if let Some(why) = not_batchable(st) {
            return Err(file.error_at(st.start, st.head_len(), why));
        }
        if found.is_some() {
            return Err(file.error_at(
                st.start,
                st.head_len(),
                "a batched step holds exactly one write, the statement that repeats; this is a second one: move it to its own step",
            ));
        }
        found = Some((i + 1, *st));
    }
    found.ok_or_else(|| {
        SourceError::new(
            file.path.clone(),
            file.src.clone(),
            "a batched step needs one INSERT, UPDATE or DELETE between BEGIN and the terminal keyword: the statement that repeats",
        )
    })
}

/// Why a statement cannot be the repeated write of a batched step, if it cannot.
pub fn not_batchable(st: &Statement) -> Option<String> {
    use pg_query::NodeEnum;
    let dml = matches!(
        &st.node,
        Some(NodeEnum::UpdateStmt(_) | NodeEnum::DeleteStmt(_) | NodeEnum::InsertStmt(_))
    );
    if !dml || st.is_do {
        return Some(format!(
            "`{}` cannot be batched: a batched step repeats one INSERT, UPDATE or DELETE until a run changes no row (DDL, DO blocks and reads have no rows to count)",
            first_words(&st.text)
        ));
    }
    if written_tables(st).is_empty() {
        return Some(format!(
            "`{}` writes no table stepgate can name: the server could not count its rows",
            first_words(&st.text)
        ));
    }
    None
}

fn tx_ctx(transactional: bool, _action: Action) -> Context {
    if transactional {
        Context::Transaction
    } else {
        Context::NoTransaction
    }
}

/// A file with no BEGIN that holds a statement PostgreSQL refuses inside a transaction
/// block (`DROP INDEX CONCURRENTLY …`) runs statement by statement, like a
/// `transactional = false` step: a rollback file may be such a file.
pub fn runs_outside_transaction(file: &SqlFile) -> bool {
    !file.statements.iter().any(|s| s.class == StmtClass::Begin)
        && file
            .statements
            .iter()
            .any(|s| matches!(s.class, StmtClass::NonTransactional { .. }))
}

/// A file with psql backslash lines never runs, whatever SG018's severity: psql and the
/// server would read a backslash line inside a string literal as part of the literal,
/// stepgate's parser as a blanked line, and what runs must be what the reviewer read.
fn no_meta(file: &SqlFile) -> Result<(), SourceError> {
    match file.meta_commands.first() {
        Some(m) => Err(file.error_at(
            m.start,
            m.text.len().max(1),
            format!(
                "`{}` is a psql command, not SQL: stepgate runs no file that holds one (SG018), whatever the lint settings",
                m.text
            ),
        )),
        None => Ok(()),
    }
}

/// Every statement of a file part must be allowed in the context it runs in.
fn check(file: &SqlFile, stmts: &[&Statement], ctx: Context) -> Result<(), SourceError> {
    for st in stmts {
        if let Some(why) = refusal(st, ctx) {
            return Err(file.error_at(st.start, st.head_len(), why));
        }
    }
    Ok(())
}

/// Sections B and H run in a READ ONLY transaction stepgate opens (after a first query,
/// so nothing inside can turn it read-write): there an opaque statement that is known to
/// write nothing (dynamic SQL, CALL, another language) is admitted — PostgreSQL refuses
/// any write it hides. SG012 and SG013 warn about it.
fn check_read_only_section(file: &SqlFile, stmts: &[&Statement]) -> Result<(), SourceError> {
    let known: Vec<&Statement> = stmts
        .iter()
        .copied()
        .filter(|s| !opaque_read_only(s))
        .collect();
    check(file, &known, Context::ReadOnly)
}

/// Opaque (its footprint cannot be read statically), yet nothing in it is known to write.
pub fn opaque_read_only(st: &Statement) -> bool {
    st.opaque && st.touches.is_empty() && st.class == StmtClass::Write
}

/// The plan a resume of halt event `halt_event` is signed over: no statements, the
/// pack's `resume` gate.
pub fn resume(pack: &Pack, manifest_sha256: &str, halt_event: i64) -> Plan {
    let gates = vec!["resume".to_string()];
    Plan {
        format: FORMAT.to_string(),
        pack: pack.id().to_string(),
        step: format!("halt-{halt_event}"),
        action: Action::Resume.as_str().to_string(),
        target: target_of(pack),
        manifest_sha256: manifest_sha256.to_string(),
        file_sha256: None,
        transactional: true,
        hold: false,
        gates: signature_gates(pack, &gates),
        sql_gates: sql_gates(pack, &gates),
        timeouts: timeouts_of(&pack.timeouts),
        pre: vec![],
        statements: vec![],
        ddl: vec![],
        writes: vec![],
        search_path: SEARCH_PATH.to_string(),
        invariants: vec![],
        negatives: vec![],
        post: vec![],
        verify: vec![],
        measures: vec![],
        dump_sha256: None,
        batch: None,
    }
}

fn snippet(origin: &str, text: &str, ctx: Context) -> Result<Vec<String>, SourceError> {
    Ok(executable(origin, text, ctx)?
        .into_iter()
        .map(|s| s.text)
        .collect())
}

/// The tables whose rows the statement writes (DML, including writable CTEs).
fn written_tables(st: &Statement) -> Vec<String> {
    use crate::core::objects::Verb;
    let mut out: Vec<String> = st
        .touches
        .iter()
        .filter(|t| {
            matches!(
                t.verb,
                Verb::Insert | Verb::Update | Verb::Delete | Verb::Truncate
            )
        })
        .map(|t| t.object.name.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether PostgreSQL fires `ddl_command_start` for the statement: everything that is
/// not a query, DML, a utility read or session/transaction control.
fn fires_ddl_guard(st: &Statement) -> bool {
    use pg_query::NodeEnum as N;
    match &st.node {
        Some(
            N::SelectStmt(_)
            | N::InsertStmt(_)
            | N::UpdateStmt(_)
            | N::DeleteStmt(_)
            | N::MergeStmt(_)
            | N::VariableSetStmt(_)
            | N::VariableShowStmt(_)
            | N::ExplainStmt(_)
            | N::TransactionStmt(_)
            | N::CopyStmt(_)
            | N::DoStmt(_)
            | N::CallStmt(_)
            | N::LockStmt(_)
            | N::VacuumStmt(_)
            | N::CheckPointStmt(_)
            | N::NotifyStmt(_)
            | N::ListenStmt(_)
            | N::UnlistenStmt(_)
            | N::ConstraintsSetStmt(_)
            | N::DiscardStmt(_)
            | N::PrepareStmt(_)
            | N::ExecuteStmt(_)
            | N::DeallocateStmt(_)
            | N::CreatedbStmt(_)
            | N::DropdbStmt(_)
            | N::CreateRoleStmt(_)
            | N::AlterRoleStmt(_)
            | N::DropRoleStmt(_)
            | N::CreateTableSpaceStmt(_)
            | N::DropTableSpaceStmt(_)
            | N::ClusterStmt(_)
            | N::ReindexStmt(_)
            | N::LoadStmt(_),
        ) => false,
        Some(_) => true,
        None => false,
    }
}

/// Section B, the body between BEGIN and the terminal keyword, and section H.
/// The statements between BEGIN and the terminal keyword (the whole file when it has no BEGIN).
pub fn body_of(file: &SqlFile) -> Vec<&Statement> {
    split(file).1
}

fn split(file: &SqlFile) -> (Vec<&Statement>, Vec<&Statement>, Vec<&Statement>) {
    let begin = file
        .statements
        .iter()
        .position(|s| s.class == StmtClass::Begin);
    let term = file
        .statements
        .iter()
        .position(|s| matches!(s.class, StmtClass::Rollback | StmtClass::Commit));
    let (mut pre, mut body, mut post) = (vec![], vec![], vec![]);
    for (i, s) in file.statements.iter().enumerate() {
        if Some(i) == begin || Some(i) == term {
            continue;
        }
        if term.is_some_and(|t| i > t) {
            post.push(s);
        } else if begin.is_none_or(|b| i > b) {
            body.push(s);
        } else {
            pre.push(s);
        }
    }
    (pre, body, post)
}

fn target_of(pack: &Pack) -> PlanTarget {
    let t = &pack.manifest.pack.target;
    PlanTarget {
        database: t.database.clone(),
        environment: t.environment.clone(),
        system_identifier: t.system_identifier.clone(),
    }
}

fn timeouts_of(t: &crate::core::manifest::TimeoutValues) -> PlanTimeouts {
    PlanTimeouts {
        statement_ms: t.statement.as_millis() as u64,
        lock_ms: t.lock.as_millis() as u64,
        idle_in_transaction_ms: t.idle_in_transaction.as_millis() as u64,
    }
}

fn signature_gates(pack: &Pack, names: &[String]) -> Vec<PlanGate> {
    names
        .iter()
        .filter_map(|n| pack.manifest.gate.get(n).map(|g| (n, g)))
        .filter(|(_, g)| g.kind == GateKind::Signature)
        .map(|(n, g)| PlanGate {
            name: n.clone(),
            quorum: g.quorum(),
            signers: g.signers.clone(),
        })
        .collect()
}

fn sql_gates(pack: &Pack, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| pack.manifest.gate.get(n))
        .filter(|g| g.kind == GateKind::Sql)
        .map(|g| g.sql.clone().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_refused_in_every_context() {
        for ctx in [
            Context::Transaction,
            Context::ReadOnly,
            Context::NoTransaction,
        ] {
            for sql in [
                "COMMIT",
                "SELECT 1; COMMIT; CREATE TABLE t()",
                "ROLLBACK",
                "END",
                "BEGIN",
                "SAVEPOINT a",
                "PREPARE TRANSACTION 'x'",
                "SET TRANSACTION READ WRITE",
                "SET transaction_read_only = off",
                "SET LOCAL session_replication_role = replica",
                "SET CONSTRAINTS ALL IMMEDIATE",
            ] {
                let e = executable("negative", sql, ctx);
                assert!(e.is_err(), "{sql} accepted in {ctx:?}");
            }
        }
    }

    #[test]
    fn read_only_context_refuses_writes_and_splits_statements() {
        assert!(executable("verify", "SELECT 1; CREATE TABLE t()", Context::ReadOnly).is_err());
        let ok = executable("verify", "SELECT 1;\nSELECT 2", Context::ReadOnly).expect("ok");
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].text, "SELECT 2");
    }

    #[test]
    fn a_file_with_a_psql_command_never_runs() {
        let f = crate::core::sql::parse_file("s.sql", "SELECT 1;\n\\set x 1\nSELECT 2;\n")
            .expect("parses");
        let e = no_meta(&f).expect_err("refused");
        assert!(e.message.contains("psql command"), "{}", e.message);
        let f = crate::core::sql::parse_file("s.sql", "SELECT 1;\n").expect("parses");
        assert!(no_meta(&f).is_ok());
    }
}
