//! The execution plan of an action, derived from the pack's files (see `core::plan`).
//! `approve`, `review`, `gates`, `apply`, `rollback` and `resume` all call [`for_action`],
//! so the plan an approver signs is the plan the server checks.

use crate::core::approval::Action;
use crate::core::plan::{self, Inputs, Plan};
use crate::core::sql;
use crate::engine::pack::LoadedPack;
use crate::engine::{Error, Result};

/// The subject of a resume approval is the halt event: `halt-<id>`.
pub fn halt_event_of(subject: &str) -> Option<i64> {
    subject.strip_prefix("halt-")?.parse().ok()
}

/// The plan for `action` on `subject` (a step id, or `halt-<id>` for a resume).
pub fn for_action(
    loaded: &LoadedPack,
    subject: &str,
    action: Action,
    dump_sha256: Option<&str>,
) -> Result<Plan> {
    let pack = &loaded.pack;
    if action == Action::Resume {
        let id = halt_event_of(subject).ok_or_else(|| {
            Error::BadInput(format!(
                "a resume approval is for a halt event, written `halt-<event id>` (got `{subject}`); `stepgate status` shows the halt in force"
            ))
        })?;
        return Ok(plan::resume(pack, loaded.manifest_sha256(), id));
    }
    let idx = pack.step_index(subject).ok_or_else(|| {
        Error::BadInput(format!(
            "no step `{subject}` in pack `{}`; steps: {}",
            pack.id(),
            pack.step_ids().join(", ")
        ))
    })?;
    let step = &pack.manifest.step[idx];
    let rel = match action {
        Action::Rollback => step.rollback.as_ref(),
        Action::Apply => step.file.as_ref(),
        _ => None,
    }
    .map(|f| f.get_ref().clone());
    let parsed = match &rel {
        Some(rel) => Some((
            sql::parse_file(rel, loaded.text(rel)?)?,
            loaded.sha256(rel).unwrap_or("").to_string(),
        )),
        None => None,
    };
    let verify = match &pack.manifest.pack.verify {
        Some(v) if action == Action::Apply => {
            let rel = v.get_ref();
            Some(sql::parse_file(rel, loaded.text(rel)?)?)
        }
        _ => None,
    };
    let inputs = Inputs {
        pack,
        manifest_sha256: loaded.manifest_sha256(),
        file: parsed.as_ref().map(|(f, sha)| (f, sha.as_str())),
        verify: verify.as_ref(),
    };
    Ok(plan::build(&inputs, idx, action, dump_sha256)?)
}
