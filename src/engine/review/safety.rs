//! The checks the runner enforces before and after a step, whatever its file says —
//! only those that apply to the step's kind. A transaction-less step cannot be
//! rehearsed in BEGIN..ROLLBACK nor rolled back on a mismatch, and a hold runs no
//! SQL: listing those checks for them would tell the approver something false.

use super::model::{PackFacts, SafetyItem, StepKind, StepReview};
use crate::core::manifest::Pack;

fn item(title: &str, text: impl Into<String>) -> SafetyItem {
    SafetyItem {
        title: title.to_string(),
        text: text.into(),
    }
}

/// The safety list of one step.
pub fn for_step(pf: &PackFacts, pack: &Pack, r: &StepReview) -> Vec<SafetyItem> {
    let mut out = common(r);
    match r.kind {
        StepKind::Transactional => out.extend(transactional(pf, pack, r)),
        StepKind::NonTransactional => out.extend(non_transactional(pf, r)),
        StepKind::Hold => out.push(item(
            "Recorded, nothing run.",
            "Applying a hold runs no SQL: the database records that the hold was reached, and the steps that require it may then proceed.",
        )),
    }
    out
}

/// What every step of every kind goes through: said once, on the cover.
pub fn pack_wide() -> Vec<SafetyItem> {
    vec![
        item("Not halted.", "While a halt is in force every mutating verb refuses, until a signed resume."),
        item("Identity guard.", "The connected server must be the pack's target (database, environment label and system identifier, above); otherwise nothing runs (exit 6)."),
        item("Frozen pack.", "`stepgate.lock`, when present, must match the sha256 of every file."),
    ]
}

/// What this step goes through beyond the pack-wide checks.
fn common(r: &StepReview) -> Vec<SafetyItem> {
    let mut out = Vec::new();
    if !r.requires.is_empty() {
        out.push(item(
            "Prerequisites committed.",
            format!(
                "Step(s) {} must be committed on this target first.",
                r.requires.join(", ")
            ),
        ));
    }
    let gates: Vec<&str> = r.gates.iter().map(|g| g.name.as_str()).collect();
    out.push(item(
        "Approvals verified by the database.",
        if gates.is_empty() {
            "The step names no gate; the target's floor policy may still demand registry signatures on every apply.".to_string()
        } else {
            format!("Every gate ({}) must hold: the database verifies each signature against the execution plan's sha256 below, and the target's floor policy may demand more signatures.", gates.join(", "))
        },
    ));
    if r.one_way {
        out.push(item(
            "One-way door.",
            if r.missing_one_way_gate {
                "The pack declares no `one_way` gate, so apply refuses this step."
            } else {
                "The pack's `one_way` gate must hold as well."
            },
        ));
    }
    out
}

fn backup(pf: &PackFacts, r: &StepReview) -> SafetyItem {
    item(
        "Verified backup.",
        if r.backup_tables.is_empty() {
            "No table to dump for this step (no backup list, row effects, altered or dropped table).".to_string()
        } else {
            format!(
                "A checksummed `pg_dump -Fc` of {} (those that exist then), no older than {}.",
                r.backup_tables.join(", "),
                pf.max_backup_age
            )
        },
    )
}

fn transactional(pf: &PackFacts, pack: &Pack, r: &StepReview) -> Vec<SafetyItem> {
    let mut out = vec![
        item(
            "Fresh rehearsal of this plan.",
            format!("A passing BEGIN..ROLLBACK rehearsal of this exact plan on this target, entry fingerprint equal to exit, no older than {}.", pf.max_rehearsal_age),
        ),
        backup(pf, r),
        item("Timeouts.", "The transaction sets the timeouts with SET LOCAL, whatever the file says."),
        item("Measured delta = declared effects.", "Measured inside the transaction; any difference in objects or row counts and nothing commits."),
    ];
    if !pack.manifest.invariant.is_empty() {
        out.push(item(
            "Invariants.",
            "Checked before the step, inside its transaction before COMMIT, and after COMMIT.",
        ));
    }
    if !r.negatives.is_empty() {
        out.push(item(
            "Negative tests.",
            format!("{} test(s) run inside the transaction, each in a savepoint, and must fail with their SQLSTATE.", r.negatives.len()),
        ));
    }
    out.push(item(
        "Ledger in the same transaction.",
        "The committed fact commits with the step, or neither does.",
    ));
    out.push(item("Post-commit checks.", "Section H, the pack's verify file and a catalog diff against the pre-step state run after COMMIT."));
    out.push(item(
        "Halt on divergence.",
        "A divergence before COMMIT rolls back; any divergence, before or after, halts the pack.",
    ));
    out
}

fn non_transactional(pf: &PackFacts, r: &StepReview) -> Vec<SafetyItem> {
    vec![
        item("Preflight instead of rehearsal.", "It cannot run inside BEGIN..ROLLBACK: apply runs a passing preflight now instead. Rehearse it on a copy with `stepgate scratch`."),
        backup(pf, r),
        item("Session timeouts.", "Each statement runs on its own, under the timeouts set for the session."),
        item("Statement-by-statement permit.", "Each statement must be the next one of the plan; the halt is re-read before each; the committed fact is written when the step finishes."),
        item("Index validity.", "Every index the step builds must be valid afterwards (`pg_index.indisvalid`); an invalid one is dropped concurrently and the pack halts."),
        item("Measured delta = declared effects, afterwards.", "Compared once the statements have run: a difference cannot be rolled back, so the pack halts."),
        item("Post-commit checks.", "Section H and the pack's verify file run after the statements."),
    ]
}
