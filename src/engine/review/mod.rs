//! `stepgate review`: the review package, the document an approver reads before
//! signing. For one step (or every step) of a pack: the declared effects beside the
//! last rehearsal's measured delta, the triggers and cascades that fire on each table
//! it writes, the strongest lock per table and how long it is held, the execution plan
//! the approval binds, the checks the runner enforces for that kind of step, the files
//! in full and the exact statement to sign.
//!
//! [`model`] gathers the facts into a serialisable [`ReviewModel`] (`--json`);
//! `doc` lays them out once for both renderings ([`render_markdown`],
//! [`render_html`]), so they carry the same content. Pack-level facts are said once
//! on the cover; a step's section carries only what is its own.

mod doc;
mod doc_pack;
mod doc_step;
mod doc_step_parts;
pub mod live;
pub mod model;
mod render_html;
mod render_md;
mod safety;

pub use live::Live;
pub use model::{build as build_model, ReviewInput, ReviewModel};

use crate::core::approval::{Action, Expected, Statement};
use crate::core::lint::LintContext;
use crate::core::manifest::Step;
use crate::core::objects::Verb;
use crate::engine::pack::LoadedPack;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// What the approver reads about one gate when approvals are known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GateView {
    pub step: String,
    pub gate: String,
    /// `signature` or `sql`.
    pub kind: String,
    pub quorum: u32,
    pub signers: Vec<String>,
    /// Principals with valid approvals.
    pub present: Vec<String>,
    /// Approvals still needed to reach the quorum.
    pub missing: u32,
    /// Why approvals did not count, SQL gate results, and the like.
    pub notes: Vec<String>,
}

/// The review model of the pack at `opts.pack`. The database is found exactly as
/// every other verb finds it (`--db`, `DATABASE_URL`, the service, the libpq `PG*`
/// variables, the defaults); when none answers, or it is not this pack's target,
/// the package says so once and is built from the pack alone.
pub fn run(opts: &Options, step: Option<&str>) -> Result<ReviewModel> {
    let loaded = crate::engine::pack::load(&opts.pack)?;
    let (live, offline_reason) = match read_live(opts, &loaded, step) {
        Ok(l) => (Some(l), None),
        // A connection string that does not parse is the user's to fix (exit 2).
        Err(e @ Error::BadInput(_)) => return Err(e),
        Err(e) => (None, Some(first_line(&e.to_string()))),
    };
    let generated_at = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(build_model(&ReviewInput {
        loaded: &loaded,
        step,
        live: live.as_ref(),
        offline_reason,
        generated_at,
    }))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn read_live(opts: &Options, loaded: &LoadedPack, step: Option<&str>) -> Result<Live> {
    let mut ids = Vec::new();
    let mut written: BTreeMap<String, BTreeSet<Verb>> = BTreeMap::new();
    let ctx = LintContext::new(&loaded.pack, &loaded.sources);
    for (i, st) in loaded.pack.manifest.step.iter().enumerate() {
        if step.is_none_or(|x| x == st.id()) {
            ids.push(st.id().to_string());
            for (table, verbs) in model::written_tables(&ctx, i) {
                written.entry(table).or_default().extend(verbs);
            }
        }
    }
    let mut s = Session::open(opts, "review", Lock::None)?;
    live::gather(&mut s, &ids, &written)
}

/// The review package as Markdown (SQL in fenced ```sql blocks).
pub fn render_markdown(m: &ReviewModel) -> String {
    render_md::render(&doc::build(m))
}

/// The review package as one self-contained HTML file: inline CSS, no scripts,
/// no external fonts, images or links; prints one step per page.
pub fn render_html(m: &ReviewModel) -> String {
    render_html::render(&doc::build(m))
}

/// The principal placeholder shown in the statement to sign.
pub const PRINCIPAL_PLACEHOLDER: &str = "<your principal>";
/// The issued-at placeholder shown in the statement to sign.
pub const ISSUED_AT_PLACEHOLDER: &str = "<issued-at>";
/// The expires-at placeholder shown in the statement to sign.
pub const EXPIRES_AT_PLACEHOLDER: &str = "<expires-at>";

/// The apply statement for `gate` of `step`, exactly as `stepgate approve` builds it,
/// with the principal and both timestamps replaced by placeholders.
pub fn statement_template(loaded: &LoadedPack, step: &Step, gate: &str) -> String {
    let pack = &loaded.pack;
    let target = &pack.manifest.pack.target;
    let file_sha = step.file.as_ref().and_then(|f| loaded.sha256(f.get_ref()));
    let rollback_sha = step
        .rollback
        .as_ref()
        .and_then(|f| loaded.sha256(f.get_ref()));
    // A step whose files do not parse has no plan; lint reports why.
    let plan_sha = crate::engine::plan::for_action(loaded, step.id(), Action::Apply, None)
        .map(|p| p.sha256())
        .unwrap_or_else(|_| "0".repeat(64));
    let expected = Expected {
        pack: pack.id(),
        step: step.id(),
        action: Action::Apply,
        step_sha256: file_sha,
        rollback_sha256: rollback_sha,
        plan_sha256: &plan_sha,
        manifest_sha256: loaded.manifest_sha256(),
        database: &target.database,
        environment: target.environment.as_deref(),
    };
    let issued = OffsetDateTime::UNIX_EPOCH;
    let expires = issued + time::Duration::days(1);
    let text =
        Statement::for_expected(&expected, gate, "reviewer@placeholder", issued, expires).render();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = if line.starts_with("principal: ") {
            format!("principal: {PRINCIPAL_PLACEHOLDER}")
        } else if line.starts_with("issued-at: ") {
            format!("issued-at: {ISSUED_AT_PLACEHOLDER}")
        } else if line.starts_with("expires-at: ") {
            format!("expires-at: {EXPIRES_AT_PLACEHOLDER}")
        } else {
            line.to_string()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
