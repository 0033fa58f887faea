//! `stepgate halt --reason TEXT` and `stepgate resume`.
//!
//! While a pack is halted every mutating verb refuses; read-only verbs work. Only a
//! resume signed for the pack's `resume` gate, bound to the halt event's id, lifts
//! it — and the next apply must go back through a passing preflight first (doc
//! 97.10: restart from STEP 0, never mid-step).

use crate::core::approval::Action;
use crate::core::approval::{self as appr, Statement};
use crate::db::ledger::Event;
use crate::db::signers;
use crate::engine::gates;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::status::{current_halt_with, Halt};
use crate::engine::{Error, Result};

pub fn halt(opts: &Options, reason: &str) -> Result<i64> {
    if reason.trim().is_empty() {
        return Err(Error::BadInput(
            "give a --reason: it is what the approver of the resume reads".into(),
        ));
    }
    let mut s = Session::open(opts, "halt", Lock::None)?;
    let who = format!("{}@{}", s.actor.os_user, s.actor.host);
    s.event(
        None,
        "halt",
        "halted",
        None,
        serde_json::json!({"reason": reason, "by": who}),
    )
}

/// The subject a resume approval binds: the halt event.
pub fn resume_subject(halt_event: i64) -> String {
    format!("halt-{halt_event}")
}

pub fn resume(opts: &Options) -> Result<(i64, i64)> {
    let mut s = Session::open(opts, "resume", Lock::Pack)?;
    let events = s.events()?;
    let h = halt_in_force(&mut s, &events)?
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
    // The signed approvals travel with the event so a reader can re-verify them.
    let approvals: Vec<serde_json::Value> =
        gates::candidates(&s.pack().dir, &subject, "resume", Action::Resume)
            .into_iter()
            .map(|c| serde_json::json!({"statement": c.statement_text, "sig": c.sig_pem}))
            .collect();
    let id = s.event(
        None,
        "resume",
        "resumed",
        None,
        serde_json::json!({"halt_event": h.event, "approvals": approvals, "gates": report}),
    )?;
    Ok((h.event, id))
}

/// The halt in force, re-verifying every resume event's embedded approvals against the
/// signer registry: a resume appended by hand, without valid signatures of registered
/// `resume` signers for that halt, lifts nothing.
pub fn halt_in_force(s: &mut Session, events: &[Event]) -> Result<Option<Halt>> {
    let registry = signers::list(&mut s.ledger)?;
    let trusted = gates::trusted_for(&registry, "resume");
    let quorum = s
        .pack()
        .manifest
        .gate
        .get("resume")
        .map(|g| g.quorum())
        .unwrap_or(1)
        .max(1);
    let pack_id = s.pack().id().to_string();
    let genuine = |e: &Event| -> bool {
        let Some(halt_event) = e.details.get("halt_event").and_then(|v| v.as_i64()) else {
            return false;
        };
        let subject = resume_subject(halt_event);
        let mut principals = std::collections::BTreeSet::new();
        for a in e
            .details
            .get("approvals")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let (Some(text), Some(sig)) = (
                a.get("statement").and_then(|v| v.as_str()),
                a.get("sig").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            let Ok(st) = Statement::parse(text) else {
                continue;
            };
            if st.pack != pack_id || st.step != subject || st.action != Action::Resume {
                continue;
            }
            let Ok(key) = appr::signer_key_of(sig) else {
                continue;
            };
            if appr::verify(text, sig, &key).is_err() {
                continue;
            }
            if trusted
                .iter()
                .any(|t| t.matches_principal(&st.principal) && t.key.key_data() == key.key_data())
            {
                principals.insert(st.principal);
            }
        }
        principals.len() as u32 >= quorum
    };
    Ok(current_halt_with(events, &genuine))
}
