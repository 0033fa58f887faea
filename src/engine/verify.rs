//! `stepgate verify --step ID` (re-run the post-commit checks on demand) and
//! `stepgate drift` (the live catalog against the fingerprint recorded after the
//! last committed or rolled-back step, naming every object changed outside stepgate).

use crate::core::catalog::{self, CatalogDiff};
use crate::core::effects;
use crate::core::sql;
use crate::core::sql::{SqlFile, Statement};
use crate::db::connect::NoticeSink;
use crate::db::ledger::{self, Event};
use crate::db::snapshot;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::step_tx::{InvariantResult, StatementFailure};
use crate::engine::{step_tx, Error, Result};
use serde::Serialize;

/// The last recorded post-step fingerprint, from facts only: the catalog the committing
/// transaction of the last apply or rollback measured just before its COMMIT. A claim
/// (say, a `verify` row a client appended) is never a baseline.
pub fn last_recorded(events: &[Event], step: Option<&str>) -> Option<Recorded> {
    events
        .iter()
        .rev()
        .filter(|e| e.fact)
        .filter(|e| step.is_none() || e.step.as_deref() == step)
        .find(|e| {
            (e.result == "committed" && (e.verb == "apply" || e.verb == "rollback"))
                || (e.verb == "drift" && e.result == "accepted")
        })
        .map(|e| {
            let d = e.details.get("client").unwrap_or(&e.details);
            let text =
                |v: Option<&serde_json::Value>| v.and_then(|f| f.as_str()).map(str::to_string);
            Recorded {
                event: e.id,
                server: text(e.details.get("catalog_fingerprint")),
                snapshot: text(
                    d.get("in_transaction_fingerprint")
                        .or_else(|| d.get("fingerprint")),
                ),
                scope: d
                    .get("scope")
                    .and_then(|s| serde_json::from_value(s.clone()).ok()),
                baseline: text(e.details.get("catalog_baseline")),
            }
        })
}

/// Drift's baseline from the last commit fact.
pub struct Recorded {
    pub event: i64,
    /// The database's own fingerprint of its schema at that COMMIT: what decides drift.
    pub server: Option<String>,
    /// The client's snapshot noted in the same transaction (a claim): used only to name
    /// the objects that changed.
    pub snapshot: Option<String>,
    /// When the step was proven incrementally: the oids its recorded snapshot covers.
    pub scope: Option<std::collections::BTreeSet<u32>>,
    /// How the server got `server` (see [`crate::db::baseline`]): `chained` (the previous
    /// baseline moved by the step's own changes) or `recomputed`; `None` on older ledgers.
    pub baseline: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub pack: String,
    pub reference_event: Option<i64>,
    pub recorded_fingerprint: Option<String>,
    pub live_fingerprint: String,
    pub diff: CatalogDiff,
    /// (recorded at the last COMMIT, live) as the database computes them.
    pub server_fingerprint: Option<(String, String)>,
    /// How that commit's baseline was kept: `chained` or `recomputed`.
    pub baseline: Option<String>,
    pub drifted: bool,
    pub note: Option<String>,
}

pub fn drift_in(s: &mut Session, step: Option<&str>) -> Result<DriftReport> {
    let events = s.events()?;
    let recorded = last_recorded(&events, step);
    // An incremental commit recorded the objects it touched, not every object: name drift
    // among those; the server's probe says whether anything else moved.
    let scope = recorded.as_ref().and_then(|r| r.scope.clone());
    let live = match &scope {
        Some(scope) => snapshot::take_scoped(&mut s.ledger, scope)?,
        None => snapshot::take(&mut s.ledger)?,
    };
    let live_fp = live.fingerprint();
    let mut r = DriftReport {
        pack: s.pack().id().to_string(),
        reference_event: None,
        recorded_fingerprint: None,
        live_fingerprint: live_fp.clone(),
        diff: CatalogDiff::default(),
        server_fingerprint: None,
        baseline: None,
        drifted: false,
        note: None,
    };
    let Some(rec) = recorded else {
        r.note = Some(
            "no committed or rolled-back step recorded yet: nothing to compare against".into(),
        );
        return Ok(r);
    };
    r.reference_event = Some(rec.event);
    r.baseline = rec.baseline.clone();
    r.drifted = match &rec.server {
        Some(server) => {
            let live: String = s
                .ledger
                .query_one("SELECT stepgate.catalog_fingerprint()", &[])?
                .get(0);
            r.server_fingerprint = Some((server.clone(), live.clone()));
            *server != live
        }
        None => rec.snapshot.as_deref() != Some(live_fp.as_str()),
    };
    let Some(fp) = rec.snapshot else {
        // An accepted baseline (or an older fact) has the database's fingerprint only.
        r.note = Some(match r.drifted {
            false => format!("no drift: the live catalog equals the baseline the database recorded at event {}", rec.event),
            true => format!("the catalog moved since event {} (that record names no objects: `stepgate snapshot` lists every object)", rec.event),
        });
        return Ok(r);
    };
    r.recorded_fingerprint = Some(fp.clone());
    if !r.drifted {
        return Ok(r);
    }
    match ledger::load_snapshot(&mut s.ledger, &fp)? {
        Some(recorded) => {
            r.diff = catalog::diff(&recorded, &live);
            if scope.is_some() && r.diff.added.is_empty() && r.diff.removed.is_empty() && r.diff.changed.is_empty() {
                r.note = Some("the catalog moved, but not among the objects the last step touched (its baseline covers only those): `stepgate snapshot` lists every object".into());
            }
            if r.baseline.as_deref() == Some("chained") {
                let chained = "the last commit moved the baseline by its own changes only, so a change made outside stepgate before it is still reported";
                r.note = Some(match r.note.take() {
                    Some(n) => format!("{n}; {chained}"),
                    None => chained.to_string(),
                });
            }
        }
        None => r.note = Some(format!("the recorded snapshot {fp} is missing or fails its hash check; only the fingerprints can be compared")),
    }
    Ok(r)
}

/// `stepgate drift --accept`: the ledger admin makes the live catalog drift's new baseline
/// (a fact; the runner is refused by the database), then drift is measured against it.
pub fn accept_drift(opts: &Options) -> Result<DriftReport> {
    let mut s = Session::open(opts, "drift", Lock::None)?;
    let pack = s.pack().id().to_string();
    let (actor, run) = (s.actor.clone(), s.run_id.clone());
    s.ledger
        .execute(
            "SELECT stepgate.accept_drift($1, $2, $3, $4)",
            &[&pack, &actor.os_user, &actor.host, &run],
        )
        .map_err(|e| match e.code() {
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => Error::Refused(format!(
                "only the ledger admin may accept drift ({})",
                crate::db::describe_pg_error(&e)
            )),
            Some(&postgres::error::SqlState::UNDEFINED_FUNCTION) => Error::Refused(
                "this ledger predates `drift --accept`: its baseline is recomputed at every commit"
                    .into(),
            ),
            _ => e.into(),
        })?;
    drift_in(&mut s, None)
}

pub fn drift(opts: &Options) -> Result<DriftReport> {
    let mut s = Session::open(opts, "drift", Lock::None)?;
    let r = drift_in(&mut s, None)?;
    s.event(None, "drift", if r.drifted { "drifted" } else { "clean" }, None, serde_json::json!({"reference_event": r.reference_event, "live": r.live_fingerprint, "diff": r.diff}))?;
    Ok(r)
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub step: String,
    pub section_h: Option<step_tx::StatementFailure>,
    pub verify_file: Option<step_tx::StatementFailure>,
    pub invariants: Vec<step_tx::InvariantResult>,
    pub drift: DriftReport,
    pub ok: bool,
}

pub fn verify(opts: &Options, step_id: &str) -> Result<VerifyReport> {
    let mut s = Session::open(opts, "verify", Lock::None)?;
    let pack = s.pack().clone();
    let step = pack
        .step(step_id)
        .ok_or_else(|| Error::BadInput(format!("no step `{step_id}` in pack `{}`", pack.id())))?;
    let sink: crate::db::connect::NoticeSink = Default::default();
    let mut notices = Vec::new();
    let mut section_h = None;
    if let Some(f) = &step.file {
        let rel = f.get_ref().clone();
        let text = s.loaded.text(&rel)?.to_string();
        let file = sql::parse_file(&rel, &text)?;
        let parts = step_tx::parts(&file);
        if let Err(e) = step_tx::run_read_only(
            &mut s.ledger,
            &pack.timeouts,
            &file,
            &parts.post,
            &sink,
            &mut notices,
        )? {
            section_h = Some(*e);
        }
    }
    let mut verify_file = None;
    if let Some(vf) = &pack.manifest.pack.verify {
        let rel = vf.get_ref().clone();
        let text = s.loaded.text(&rel)?.to_string();
        let file = sql::parse_file(&rel, &text)?;
        let stmts: Vec<&sql::Statement> = file.statements.iter().collect();
        if let Err(e) = step_tx::run_read_only(
            &mut s.ledger,
            &pack.timeouts,
            &file,
            &stmts,
            &sink,
            &mut notices,
        )? {
            verify_file = Some(*e);
        }
    }
    let invariants = step_tx::check_invariants_standalone(
        &mut s.ledger,
        &pack.manifest.invariant,
        &pack.timeouts,
    )?;
    let drift = drift_in(&mut s, None)?;
    let ok = section_h.is_none()
        && verify_file.is_none()
        && invariants.iter().all(|i| i.ok)
        && !drift.drifted;
    let r = VerifyReport {
        step: step_id.to_string(),
        section_h,
        verify_file,
        invariants,
        drift,
        ok,
    };
    s.event(
        Some(step_id),
        "verify-on-demand",
        if ok { "passed" } else { "failed" },
        None,
        serde_json::to_value(&r).unwrap_or_default(),
    )?;
    Ok(r)
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PostVerify {
    pub section_h: Option<StatementFailure>,
    pub verify_file: Option<StatementFailure>,
    pub invariants: Vec<InvariantResult>,
    pub catalog_mismatches: Vec<effects::Mismatch>,
    pub fingerprint: String,
    pub ok: bool,
}

/// Section H, the pack's verify file, invariants, and the catalog: it must be exactly
/// the catalog the step's transaction committed (whose diff against the entry snapshot
/// was already proven equal to the declared effects), so anything else is named.
pub fn post_verify(
    session: &mut Session,
    file: &SqlFile,
    post_stmts: &[&Statement],
    committed: &crate::engine::proof::Committed,
) -> Result<PostVerify> {
    let pack = session.pack().clone();
    let mut pv = PostVerify::default();
    let sink: NoticeSink = Default::default();
    let mut notices = Vec::new();
    if let Err(f) = step_tx::run_read_only(
        &mut session.ledger,
        &pack.timeouts,
        file,
        post_stmts,
        &sink,
        &mut notices,
    )? {
        pv.section_h = Some(*f);
    }
    if let Some(vf) = &pack.manifest.pack.verify {
        let rel = vf.get_ref().clone();
        let text = session.loaded.text(&rel)?.to_string();
        let vfile = sql::parse_file(&rel, &text)?;
        let stmts: Vec<&Statement> = vfile.statements.iter().collect();
        if let Err(f) = step_tx::run_read_only(
            &mut session.ledger,
            &pack.timeouts,
            &vfile,
            &stmts,
            &sink,
            &mut notices,
        )? {
            pv.verify_file = Some(*f);
        }
    }
    pv.invariants = step_tx::check_invariants_standalone(
        &mut session.ledger,
        &pack.manifest.invariant,
        &pack.timeouts,
    )?;
    let after = committed.now(&mut session.ledger)?;
    pv.fingerprint = ledger::store_snapshot(&mut session.ledger, &after)?;
    let d = catalog::diff(&committed.snapshot, &after);
    for o in &d.added {
        pv.catalog_mismatches.push(effects::Mismatch {
            item: format!("create {o}"),
            declared: "not declared".into(),
            measured: "appeared after commit".into(),
        });
    }
    for o in &d.removed {
        pv.catalog_mismatches.push(effects::Mismatch {
            item: format!("drop {o}"),
            declared: "not declared".into(),
            measured: "vanished after commit".into(),
        });
    }
    for c in &d.changed {
        pv.catalog_mismatches.push(effects::Mismatch {
            item: format!("alter {}", c.object),
            declared: "not declared".into(),
            measured: "changed after commit".into(),
        });
    }
    pv.ok = pv.section_h.is_none()
        && pv.verify_file.is_none()
        && pv.invariants.iter().all(|i| i.ok)
        && pv.catalog_mismatches.is_empty();
    Ok(pv)
}
