//! `stepgate status`: the step ledger as in doc 94.0 — per step: gates needed,
//! last rehearsal (time, verdict, whether its checksum matches the file now),
//! committed / rolled back, and whether the pack is halted.

use crate::db::ledger::Event;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::Result;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct StepStatus {
    pub id: String,
    pub name: String,
    pub gates: Vec<String>,
    pub one_way: bool,
    pub hold: bool,
    pub last_rehearsal: Option<Rehearsal>,
    /// committed | rolled back | not applied | interrupted
    pub state: String,
    pub state_at: Option<String>,
    pub interrupted_run: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rehearsal {
    pub at: String,
    pub verdict: String,
    pub file_sha256: Option<String>,
    pub matches_file: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackStatus {
    pub pack: String,
    pub title: String,
    pub target: String,
    pub environment: Option<String>,
    pub halted: Option<Halt>,
    pub steps: Vec<StepStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Halt {
    pub event: i64,
    pub at: String,
    pub reason: String,
}

/// The halt in force, if any: the last `halt` fact not followed by a `resume` fact for it.
/// Both are written only by the server's own functions, which verify the resume's
/// signed approvals before they record it.
pub fn current_halt(events: &[Event]) -> Option<Halt> {
    let mut halt: Option<Halt> = None;
    for e in events.iter().filter(|e| e.fact) {
        if e.verb == "halt" {
            halt = Some(Halt {
                event: e.id,
                at: e.at.clone(),
                reason: e
                    .details
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .unwrap_or("")
                    .to_string(),
            });
        } else if e.verb == "resume" && e.result == "resumed" {
            if let Some(h) = &halt {
                if e.details.get("halt_event").and_then(|v| v.as_i64()) == Some(h.event) {
                    halt = None;
                }
            }
        }
    }
    halt
}

/// Committed state of each step from the ledger: the last of apply-committed / rollback-committed.
pub fn step_state(events: &[Event], step: &str) -> (String, Option<String>, Option<String>) {
    let mut state = ("not applied".to_string(), None, None);
    let mut open_intent: Option<(String, String)> = None;
    for e in events.iter().filter(|e| e.step.as_deref() == Some(step)) {
        // Commits, holds reached and rollbacks count only as facts (written by the server at
        // COMMIT); a claim appended by a client is shown elsewhere, never believed here.
        match (e.verb.as_str(), e.result.as_str(), e.fact) {
            ("apply", "committed", true) => state = ("committed".into(), Some(e.at.clone()), None),
            // A HOLD is reached once; steps that require it may then proceed.
            ("hold", "reached", true) => state = ("committed".into(), Some(e.at.clone()), None),
            ("rollback", "committed", true) => {
                state = ("rolled back".into(), Some(e.at.clone()), None)
            }
            ("apply-intent", _, _) | ("rollback-intent", _, _) => {
                open_intent = Some((e.run_id.clone().unwrap_or_default(), e.verb.clone()))
            }
            ("apply-end", _, _) | ("rollback-end", _, _)
                if open_intent.as_ref().map(|(r, _)| r.as_str()) == e.run_id.as_deref() =>
            {
                open_intent = None;
            }
            _ => {}
        }
    }
    if let Some((run, verb)) = open_intent {
        state.2 = Some(format!("{verb} run {run} did not finish"));
    }
    state
}

pub fn run(opts: &Options) -> Result<PackStatus> {
    let mut s = Session::open(opts, "status", Lock::None)?;
    let events = s.events()?;
    Ok(from_events(&s, &events))
}

/// The status of the session's pack, from its ledger events (read once by the caller).
pub fn from_events(s: &Session, events: &[Event]) -> PackStatus {
    let pack = s.pack().clone();
    let steps = pack
        .manifest
        .step
        .iter()
        .map(|st| {
            let current_sha = st
                .file
                .as_ref()
                .and_then(|f| s.loaded.sha256(f.get_ref()))
                .map(str::to_string);
            let last = events
                .iter()
                .rev()
                .find(|e| e.step.as_deref() == Some(st.id()) && e.verb == "rehearse");
            let (state, at, interrupted) = step_state(events, st.id());
            StepStatus {
                id: st.id().to_string(),
                name: st.name.clone(),
                gates: st.gate_names(),
                one_way: st.one_way,
                hold: st.hold,
                last_rehearsal: last.map(|e| Rehearsal {
                    at: e.at.clone(),
                    verdict: e.result.clone(),
                    file_sha256: e.file_sha256.clone(),
                    matches_file: e.file_sha256 == current_sha,
                }),
                state: if st.hold && state == "committed" {
                    "reached".into()
                } else {
                    state
                },
                state_at: at,
                interrupted_run: interrupted,
            }
        })
        .collect();
    PackStatus {
        pack: pack.id().to_string(),
        title: pack.manifest.pack.title.clone(),
        target: s.target.display(),
        environment: s.identity.environment.clone(),
        halted: crate::engine::status::current_halt(events),
        steps,
    }
}
