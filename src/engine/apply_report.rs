//! What an apply did: its attempts, measurements, checks and outcome, for the report and
//! `--json`. Shared by the transactional and the transaction-less paths of `apply`.

use crate::core::effects::{self, Measured};
use crate::engine::gates::GateReport;
use crate::engine::step_tx::{InvariantResult, LocatedNotice, NegativeResult, StatementFailure};
use crate::engine::verify::PostVerify;
use serde::Serialize;

/// One attempt at committing a step.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    pub outcome: String,
    pub failure: Option<StatementFailure>,
    pub elapsed_ms: u128,
}

/// What an apply did, for the report and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub pack: String,
    pub step: String,
    pub run_id: String,
    pub file_sha256: String,
    pub gates: Option<GateReport>,
    pub rehearsal_event: Option<i64>,
    pub backup_event: Option<i64>,
    pub attempts: Vec<Attempt>,
    pub measured: Option<Measured>,
    pub mismatches: Vec<effects::Mismatch>,
    pub invariants: Vec<InvariantResult>,
    pub negatives: Vec<NegativeResult>,
    pub notices: Vec<LocatedNotice>,
    pub committed: bool,
    pub commit_event: Option<i64>,
    pub entry_fingerprint: String,
    /// How the delta was proven (see `engine::proof`).
    pub proof: crate::engine::proof::Proof,
    /// Why the incremental proof handed over to the full one, when it did.
    pub proof_note: Option<String>,
    /// How the incremental proof found what the step wrote (`tracked`: the DDL tracker
    /// reported it; `scanned`: a pass over the catalog); absent under the full proof.
    pub footprint: Option<crate::engine::proof::Footprint>,
    pub post: Option<PostVerify>,
    pub halted: Option<String>,
    pub rollback_command: Option<String>,
    pub measurements: Vec<crate::engine::measure::MeasureSummary>,
    pub elapsed_ms: u128,
    /// A batched step: batches, rows and rate, as the server counted them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::engine::batch::BatchSummary>,
}

/// After a commit made outside `apply`'s own transaction (transaction-less and batched
/// steps): the post-commit checks against the committed catalog, their `verify` event, a
/// halt when they fail, and the `apply-end` event carrying `end`.
pub fn close_after_commit(
    session: &mut crate::engine::session::Session,
    file: &crate::core::sql::SqlFile,
    post_stmts: &[&crate::core::sql::Statement],
    sha: &str,
    committed: &crate::engine::proof::Committed,
    report: &mut ApplyReport,
    end: serde_json::Value,
) -> crate::engine::Result<()> {
    let step_id = report.step.clone();
    let post = crate::engine::verify::post_verify(session, file, post_stmts, committed)?;
    let ok = post.ok;
    report.post = Some(post.clone());
    session.event(
        Some(&step_id),
        "verify",
        if ok { "passed" } else { "failed" },
        Some(sha),
        serde_json::to_value(&post).unwrap_or_default(),
    )?;
    if !ok {
        report.halted = Some(crate::engine::step_tx::halt(
            session,
            Some(&step_id),
            &format!("post-commit verification of step {step_id} failed"),
        )?);
        report.rollback_command = Some(format!("stepgate rollback --step {step_id}"));
    }
    session.event(Some(&step_id), "apply-end", "committed", Some(sha), end)?;
    Ok(())
}
