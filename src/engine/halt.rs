//! `stepgate halt --reason TEXT` and `stepgate resume`.
//!
//! While a pack is halted every mutating verb refuses; read-only verbs work. The halt
//! is a fact, recorded by the server's own function (anyone who runs stepgate may stop
//! a pack). Only a resume signed for the pack's `resume` gate, bound to the halt
//! event's id, lifts it — and the server verifies those signatures itself before it
//! records the resume. The next apply must go back through a passing preflight first
//! (restart from the first step, never mid-step).

use crate::core::approval::Action;
use crate::db::authority;
use crate::engine::gates;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::status::current_halt;
use crate::engine::{Error, Result};

pub fn halt(opts: &Options, reason: &str) -> Result<i64> {
    if reason.trim().is_empty() {
        return Err(Error::BadInput(
            "give a --reason: it is what the approver of the resume reads".into(),
        ));
    }
    let mut s = Session::open(opts, "halt", Lock::None)?;
    let who = format!("{}@{}", s.actor.os_user, s.actor.host);
    let pack = s.pack().id().to_string();
    let (actor, run) = (s.actor.clone(), s.run_id.clone());
    Ok(authority::halt(
        &mut s.ledger,
        &pack,
        None,
        reason,
        &actor,
        &run,
        &serde_json::json!({"by": who}),
    )?)
}

/// The subject a resume approval binds: the halt event.
pub fn resume_subject(halt_event: i64) -> String {
    format!("halt-{halt_event}")
}

/// The exact commands that lift a halt: the owners' signature on the resume gate, then `stepgate resume`.
pub fn resume_command(halt_event: i64) -> String {
    format!(
        "stepgate approve --step {} --gate resume --action resume --key KEY --principal YOU, then `stepgate resume`",
        resume_subject(halt_event)
    )
}

pub fn resume(opts: &Options) -> Result<(i64, i64)> {
    let mut s = Session::open(opts, "resume", Lock::Pack)?;
    let events = s.events()?;
    let h = current_halt(&events)
        .ok_or_else(|| Error::Refused(format!("pack `{}` is not halted", s.pack().id())))?;
    if !s.pack().manifest.gate.contains_key("resume") {
        return Err(Error::Refused(
            "the pack declares no `resume` gate: declare [gate.resume] (kind = \"signature\") so an owner can sign the restart".into(),
        ));
    }
    let subject = resume_subject(h.event);
    let report = gates::evaluate_named(
        &mut s,
        &subject,
        &["resume".to_string()],
        Action::Resume,
        None,
        None,
        None,
        time::OffsetDateTime::now_utc(),
    )?;
    if !report.satisfied {
        return Err(Error::Refused(format!(
            "resume of halt {} refused:\n  {}\n  sign with: stepgate approve --step {subject} --gate resume --action resume --key KEY --principal YOU",
            h.event,
            report.refusals().join("\n  ")
        )));
    }
    // The server verifies the same approvals itself and records the resume as a fact.
    let plan = crate::engine::plan::for_action(&s.loaded, &subject, Action::Resume, None)?;
    let offered = gates::offered(&s.pack().dir, &plan);
    let (actor, run) = (s.actor.clone(), s.run_id.clone());
    let id = match authority::resume(&mut s.ledger, &plan, &offered, &run, &actor) {
        Ok(id) => id,
        Err(e) if crate::engine::step_tx::is_refusal(&e) => {
            return Err(Error::Refused(format!(
                "the database refused the resume: {}",
                crate::db::describe_pg_error(&e)
            )))
        }
        Err(e) => return Err(e.into()),
    };
    Ok((h.event, id))
}
