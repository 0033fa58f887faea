//! `stepgate restore --step ID --table NAME`: the last resort of doc 97.8 — one table
//! restored from the step's pre-commit dump, table-scoped, never the whole database.
//! A restore is itself a governed mutation: it needs the pack's `restore` gate (signed
//! for this step, bound to its files and manifest), refuses while the pack is halted,
//! and is ledgered. The dump's sha256 is checked first and the row count after.

use crate::core::approval::Action;
use crate::db::backup::RestoreReport;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::{gates, Error, Result};

pub fn run(opts: &Options, step: &str, table: &str) -> Result<RestoreReport> {
    let mut s = Session::open(opts, "restore", Lock::Pack)?;
    let events = s.events()?;
    if let Some(h) = crate::engine::status::current_halt(&events) {
        return Err(Error::Halted(format!(
            "pack is halted (event {}: {}); a restore waits for a signed resume",
            h.event, h.reason
        )));
    }
    if !s.pack().manifest.gate.contains_key("restore") {
        return Err(Error::Refused(
            "the pack declares no `restore` gate: a restore is a governed mutation and needs its own authorization ([gate.restore])".into(),
        ));
    }
    let st = s
        .pack()
        .step(step)
        .ok_or_else(|| Error::BadInput(format!("no step `{step}` in pack `{}`", s.pack().id())))?;
    let sha = |f: &Option<toml::Spanned<String>>| {
        f.as_ref()
            .and_then(|f| s.loaded.sha256(f.get_ref()))
            .map(str::to_string)
    };
    let (step_sha, rb_sha) = (sha(&st.file), sha(&st.rollback));
    let g = gates::evaluate_named(
        &mut s,
        step,
        &["restore".to_string()],
        Action::Restore,
        step_sha.as_deref(),
        rb_sha.as_deref(),
        None,
        time::OffsetDateTime::now_utc(),
    )?;
    if !g.satisfied {
        return Err(Error::Refused(format!(
            "restore refused:\n  {}",
            g.refusals().join("\n  ")
        )));
    }
    crate::engine::backup::restore(&mut s, step, table)
}
