//! Steps that cannot run in a transaction block (`transactional = false`), such as
//! `CREATE INDEX CONCURRENTLY`: each statement runs on its own. There is no
//! rollback to hide behind, so the runner checks afterwards that every index the
//! step built is valid (`pg_index.indisvalid`); an invalid one is dropped
//! concurrently, the pack halts, and the report says so.

use crate::core::approval::Action;
use crate::core::catalog;
use crate::core::effects::{self, Measured};
use crate::core::objects::ObjKind;
use crate::core::sql::{SqlFile, Statement, StmtClass};
use crate::db::connect::NoticeSink;
use crate::db::snapshot;
use crate::engine::apply_report::{ApplyReport, Attempt};
use crate::engine::fault;
use crate::engine::session::Session;
use crate::engine::step_tx;
use crate::engine::step_tx::halt;
use crate::engine::Result;
use std::time::Instant;

pub fn apply_non_transactional(
    session: &mut Session,
    idx: usize,
    file: &SqlFile,
    sha: &str,
    mut report: ApplyReport,
    started: Instant,
) -> Result<ApplyReport> {
    let pack = session.pack().clone();
    let step_id = pack.manifest.step[idx].id().to_string();
    session.event(
        Some(&step_id),
        "apply-intent",
        "started",
        Some(sha),
        serde_json::json!({"transactional": false}),
    )?;
    let entry = snapshot::take(&mut session.ledger)?;
    // Kept so a rollback can prove every object is back to its pre-step definition.
    report.entry_fingerprint = crate::db::ledger::store_snapshot(&mut session.ledger, &entry)?;
    let sink: NoticeSink = Default::default();
    let mut client = session.step_client("apply", &step_id, sink.clone())?;
    step_tx::set_session_timeouts(&mut client, &pack.timeouts_for(idx))?;
    // A session permit: each statement runs in its own transaction, so the permit is bound
    // to this backend until the step finishes, and the guard re-reads the halt each time.
    let plan = crate::engine::plan::for_action(&session.loaded, &step_id, Action::Apply, None)?;
    let (run_id, actor) = (session.run_id.clone(), session.actor.clone());
    if let step_tx::PermitOutcome::Refused(why) =
        step_tx::obtain_commit_permit(session, &mut client, &plan)?
    {
        drop(client);
        session.event(
            Some(&step_id),
            "apply-end",
            "refused",
            Some(sha),
            serde_json::json!({"reasons": [why]}),
        )?;
        return Err(crate::engine::Error::Refused(format!(
            "the database refused step {step_id}: {why}"
        )));
    }
    let stmts: Vec<&Statement> = file
        .statements
        .iter()
        .filter(|s| !matches!(s.class, StmtClass::SetLocal { .. }))
        .collect();
    let t0 = Instant::now();
    let mut failure = None;
    for (i, st) in stmts.iter().enumerate() {
        if let Err(f) =
            step_tx::run_statements(&mut client, file, &[st], &sink, &mut report.notices)
        {
            failure = Some(f);
            break;
        }
        fault::point(&format!("apply:after-statement-{}", i + 1));
    }
    // Every index the step was to build must be valid; an invalid one is removed.
    let mut invalid = Vec::new();
    for o in pack.effects[idx]
        .create
        .iter()
        .filter(|o| o.kind == ObjKind::Index)
    {
        let mut parts = o.name.splitn(2, '.');
        let (schema, name) = (parts.next().unwrap_or("public"), parts.next().unwrap_or(""));
        let rows = client.query(
            "SELECT x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )?;
        if let Some(r) = rows.first() {
            if !r.get::<_, bool>(0) {
                // Under the guard this clean-up is not part of the approved plan and is
                // refused: then the report says a DBA must drop the index.
                let dropped = client.batch_execute(&format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    crate::db::quote_qualified(&o.name)
                ));
                invalid.push(match dropped {
                    Ok(()) => o.name.clone(),
                    Err(e) => format!(
                        "{} (NOT dropped: {}; a DBA must run DROP INDEX CONCURRENTLY)",
                        o.name,
                        crate::db::describe_pg_error(&e)
                    ),
                });
            }
        }
    }
    let after = snapshot::take(&mut session.ledger)?;
    let measured = Measured {
        catalog: catalog::diff(&entry, &after),
        rows: Default::default(),
    };
    let mut decl = pack.effects[idx].clone();
    decl.rows.clear();
    let mismatches = if failure.is_none() && invalid.is_empty() {
        let mut m = effects::compare(&decl, &measured, &entry, &after);
        m.extend(effects::forbidden(&pack.forbids[idx], &measured));
        m
    } else {
        vec![]
    };
    report.measured = Some(measured.clone());
    report.mismatches = mismatches.clone();
    let outcome = if failure.is_some() || !invalid.is_empty() || !mismatches.is_empty() {
        "failed"
    } else {
        "committed"
    };
    report.attempts.push(Attempt {
        attempt: 1,
        outcome: outcome.into(),
        failure: failure.clone().map(|f| *f),
        elapsed_ms: t0.elapsed().as_millis(),
    });
    if outcome == "failed" {
        let mut reasons = Vec::new();
        if let Some(f) = &failure {
            reasons.push(format!("statement failed: {f}"));
        }
        if !invalid.is_empty() {
            reasons.push(format!(
                "index(es) left INVALID and dropped concurrently: {}",
                invalid.join(", ")
            ));
        }
        if !mismatches.is_empty() {
            reasons.push(format!(
                "measured delta differs from the declared effects:\n{}",
                effects::render_mismatches(&mismatches)
            ));
        }
        let reason = format!("non-transactional step {step_id}: {}", reasons.join("; "));
        report.halted = Some(halt(session, Some(&step_id), &reason)?);
        session.event(Some(&step_id), "apply-end", "failed", Some(sha), serde_json::json!({"reasons": reasons, "invalid_indexes_dropped": invalid, "delta": measured}))?;
        report.elapsed_ms = started.elapsed().as_millis();
        return Ok(report);
    }
    crate::db::ledger::store_snapshot(&mut session.ledger, &after)?;
    let details = serde_json::json!({"entry_fingerprint": report.entry_fingerprint, "in_transaction_fingerprint": after.fingerprint(), "delta": measured, "transactional": false});
    let id = if session.scratch {
        let pack_id = pack.id().to_string();
        crate::db::ledger::append_fact(
            &mut session.ledger,
            &actor,
            &crate::db::ledger::NewEvent {
                pack: &pack_id,
                step: Some(&step_id),
                verb: "apply",
                result: "committed",
                file_sha256: Some(sha),
                run_id: Some(&run_id),
                details,
            },
        )?
    } else {
        crate::db::authority::note(&mut client, &details)?;
        crate::db::authority::finish_session(&mut client)?
    };
    drop(client);
    report.commit_event = Some(id);
    report.committed = true;
    let committed = crate::engine::proof::Committed {
        snapshot: after,
        scope: None,
    };
    crate::engine::apply_report::close_after_commit(
        session,
        file,
        &[],
        sha,
        &committed,
        &mut report,
        serde_json::json!({}),
    )?;
    report.elapsed_ms = started.elapsed().as_millis();
    Ok(report)
}
