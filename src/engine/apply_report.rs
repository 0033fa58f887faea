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
    pub post: Option<PostVerify>,
    pub halted: Option<String>,
    pub rollback_command: Option<String>,
    pub measurements: Vec<crate::engine::measure::MeasureSummary>,
    pub elapsed_ms: u128,
    /// A batched step: batches, rows and rate, as the server counted them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<crate::engine::batch::BatchSummary>,
}
