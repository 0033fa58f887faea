//! `stepgate review`: the review package, the document an approver reads before
//! signing. One step (or every step) of a pack, with what it may change, what it
//! must not touch, its exact bytes and their sha256, its gates, the checks the
//! runner enforces regardless of the file, its invariants, negative tests,
//! rollback plan, lint findings, ledger status when a database was given, and
//! the exact statement the approver's key will sign.
//!
//! Both renderings (Markdown and one self-contained HTML file) are produced from
//! the same document model, so they always carry the same content. The module is
//! pure: it reads nothing but the [`LoadedPack`] and the status/approvals it is
//! handed, and takes the generation time as a string.

use crate::core::approval::{Action, Expected, Statement};
use crate::core::lint::{self, Diagnostic, Severity};
use crate::core::manifest::{GateKind, Pack, Step};
use crate::core::objects::{ObjKind, ObjectRef};
use crate::engine::pack::LoadedPack;
use crate::engine::status::{PackStatus, StepStatus};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Duration;
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

/// Everything a review package is made from.
pub struct ReviewInput<'a> {
    pub loaded: &'a LoadedPack,
    /// `None` = every step.
    pub step: Option<&'a str>,
    /// Present when a database was given.
    pub status: Option<&'a PackStatus>,
    /// Gate results, when known.
    pub approvals: Option<&'a [GateView]>,
    pub generated_at: String,
}

/// The review package as Markdown (SQL in fenced ```sql blocks).
pub fn render_markdown(input: &ReviewInput) -> String {
    markdown::render(&build(input))
}

/// The review package as one self-contained HTML file: inline CSS, no scripts,
/// no external fonts, images or links; prints one step per page.
pub fn render_html(input: &ReviewInput) -> String {
    html::render(&build(input))
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

// ---------------------------------------------------------------------------
// Document model, shared by both renderings
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Inline {
    Text(String),
    Code(String),
    Strong(String),
}

type Line = Vec<Inline>;

fn t(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}
fn c(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}
fn b(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Info,
    Warn,
    Danger,
    Ok,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Warn => "warn",
            Tone::Danger => "danger",
            Tone::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone)]
enum Block {
    Para(Line),
    /// A call-out box: title in bold, then the body.
    Note {
        tone: Tone,
        title: String,
        body: Line,
    },
    List(Vec<Line>),
    /// Ordered list.
    Steps(Vec<Line>),
    /// Label → value pairs.
    Fields(Vec<(String, Line)>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Line>>,
    },
    Code {
        lang: &'static str,
        /// Shown above the block (file name, sha256).
        caption: Option<Line>,
        text: String,
        numbered: bool,
        /// 1-based line numbers to highlight (lint findings).
        flagged: BTreeSet<usize>,
        /// The file this block shows (HTML `data-file`), if any.
        file: Option<String>,
    },
    /// A sub-heading inside a part.
    Sub(String),
}

struct Part {
    title: String,
    anchor: String,
    blocks: Vec<Block>,
}

struct StepDoc {
    anchor: String,
    kicker: String,
    title: String,
    badges: Vec<(Tone, String)>,
    fields: Vec<(String, Line)>,
    parts: Vec<Part>,
    /// The sign-off box: its title and the attestation above the blanks.
    signoff_title: String,
    signoff_text: Line,
}

struct Doc {
    title: String,
    kicker: String,
    fields: Vec<(String, Line)>,
    intro: Vec<Block>,
    steps: Vec<StepDoc>,
}

// ---------------------------------------------------------------------------
// Building the document
// ---------------------------------------------------------------------------

fn build(input: &ReviewInput) -> Doc {
    let loaded = input.loaded;
    let pack = &loaded.pack;
    let p = &pack.manifest.pack;
    let target = &p.target;
    let diags = lint::run(pack, &loaded.sources);

    let mut fields = vec![
        ("Pack".to_string(), vec![c(pack.id())]),
        ("Title".to_string(), vec![t(p.title.clone())]),
        ("Target database".to_string(), vec![c(&target.database)]),
        (
            "Environment".to_string(),
            vec![match &target.environment {
                Some(e) => c(e),
                None => t("not pinned"),
            }],
        ),
    ];
    if let Some(sys) = &target.system_identifier {
        fields.push(("System identifier".to_string(), vec![c(sys)]));
    }
    fields.push(("Generated at".to_string(), vec![t(&input.generated_at)]));
    fields.push((
        "Manifest sha256".to_string(),
        vec![c(loaded.manifest_sha256())],
    ));
    fields.push((
        "Pack folder".to_string(),
        vec![c(loaded.dir().display().to_string())],
    ));
    if let Some(st) = input.status {
        fields.push((
            "Ledger".to_string(),
            match &st.halted {
                Some(h) => vec![
                    b("HALTED"),
                    t(format!(" since {} (event {}): {}", h.at, h.event, h.reason)),
                ],
                None => vec![t(format!("read from {}; not halted", st.target))],
            },
        ));
    } else {
        fields.push((
            "Ledger".to_string(),
            vec![t("not read (no database given)")],
        ));
    }

    let all: Vec<(usize, &Step)> = pack.manifest.step.iter().enumerate().collect();
    let selected: Vec<(usize, &Step)> = match input.step {
        None => all.clone(),
        Some(id) => all.iter().filter(|(_, s)| s.id() == id).copied().collect(),
    };

    let mut intro = Vec::new();
    if let (Some(id), true) = (input.step, selected.is_empty()) {
        intro.push(Block::Note {
            tone: Tone::Danger,
            title: format!("No step \"{id}\" in this pack."),
            body: vec![t(format!(
                "Steps: {}. Nothing below is a step to approve.",
                pack.step_ids().join(", ")
            ))],
        });
    }
    if let Some(h) = input.status.and_then(|s| s.halted.as_ref()) {
        intro.push(Block::Note {
            tone: Tone::Danger,
            title: "The pack is halted.".into(),
            body: vec![t(format!(
                "Halt event {} at {}: {}. The runner refuses every mutation until a signed resume.",
                h.event, h.at, h.reason
            ))],
        });
    }
    intro.push(Block::Para(vec![
        t("This package shows what each step will do to "),
        c(&target.database),
        t(", the exact bytes you are approving and their sha256, and the checks the runner enforces whatever the file says. "),
        t("Your signature binds the step file, its rollback file and the manifest by sha256: if any of them changes by one byte, the approval no longer counts. "),
        t("Read every part, compare the sha256 values in the statement with the ones printed beside the files, then sign."),
    ]));
    let mut rows = Vec::new();
    for (_, s) in &all {
        let state = input
            .status
            .and_then(|st| st.steps.iter().find(|x| x.id == s.id()))
            .map(|x| x.state.clone())
            .unwrap_or_else(|| "—".into());
        let mut kind = Vec::new();
        if s.hold {
            kind.push("hold");
        }
        if s.one_way {
            kind.push("one-way");
        }
        if !s.transactional {
            kind.push("not transactional");
        }
        let in_pkg = selected.iter().any(|(_, x)| x.id() == s.id());
        rows.push(vec![
            vec![c(s.id())],
            vec![t(&s.name)],
            vec![t({
                let (g, _) = apply_gates(pack, s);
                if g.is_empty() {
                    "—".to_string()
                } else {
                    g.join(", ")
                }
            })],
            vec![t(if kind.is_empty() {
                "—".to_string()
            } else {
                kind.join(", ")
            })],
            vec![t(state)],
            vec![t(if in_pkg { "yes" } else { "no" })],
        ]);
    }
    intro.push(Block::Sub("Steps of the pack".into()));
    intro.push(Block::Table {
        head: vec![
            "Step".into(),
            "Name".into(),
            "Gates".into(),
            "Kind".into(),
            "Ledger state".into(),
            "In this package".into(),
        ],
        rows,
    });

    let total = pack.manifest.step.len();
    let steps = selected
        .iter()
        .map(|(i, s)| build_step(input, &diags, *i, total, s))
        .collect();

    Doc {
        title: format!("Review package: {}", p.title),
        kicker: format!("stepgate review · pack {}", pack.id()),
        fields,
        intro,
        steps,
    }
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{}ms", d.as_millis())
    } else if s == 0 {
        "0s".into()
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// The gates `apply` evaluates for a step: its own, plus the pack's `one_way` gate
/// when the step is a one-way door. The second value is true when the step is a
/// one-way door but the pack declares no `one_way` gate (apply refuses).
fn apply_gates(pack: &Pack, step: &Step) -> (Vec<String>, bool) {
    let mut names = step.gate_names();
    let mut missing_one_way = false;
    if step.one_way {
        if pack.manifest.gate.contains_key("one_way") {
            if !names.iter().any(|n| n == "one_way") {
                names.push("one_way".into());
            }
        } else {
            missing_one_way = true;
        }
    }
    (names, missing_one_way)
}

/// The tables `stepgate backup` dumps for a step (those that exist at backup time):
/// the step's `backup` list, the tables of its `effects.rows`, and the tables its
/// `effects.alter`/`effects.drop` touch. Mirrors the backup verb's selection.
fn backup_tables(pack: &Pack, index: usize, step: &Step) -> Vec<String> {
    let mut out = BTreeSet::new();
    for b in &step.backup {
        match ObjectRef::parse(&format!("table {}", b.get_ref())) {
            Ok(r) => out.insert(r.name),
            Err(_) => out.insert(b.get_ref().clone()),
        };
    }
    if let Some(eff) = pack.effects.get(index) {
        out.extend(eff.rows.keys().cloned());
        for r in eff.alter.iter().chain(eff.drop.iter()) {
            if r.kind == ObjKind::Table {
                out.insert(r.name.clone());
            } else if let Some(t) = r.table() {
                out.insert(t);
            }
        }
    }
    out.into_iter().collect()
}

fn age_text(declared: &Option<toml::Spanned<String>>, value: Duration) -> String {
    match declared {
        Some(s) => s.get_ref().clone(),
        None => format!("{} (default)", fmt_duration(value)),
    }
}

fn sqlstate_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "23505" => "unique_violation",
        "23503" => "foreign_key_violation",
        "23514" => "check_violation",
        "23502" => "not_null_violation",
        "23P01" => "exclusion_violation",
        "22P02" => "invalid_text_representation",
        "22001" => "string_data_right_truncation",
        "22003" => "numeric_value_out_of_range",
        "42501" => "insufficient_privilege",
        "42P01" => "undefined_table",
        "42703" => "undefined_column",
        "P0001" => "raise_exception",
        "55P03" => "lock_not_available",
        "57014" => "query_canceled",
        _ => return None,
    })
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.@/+:=,".contains(ch))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn line_of(text: &str, n: usize) -> &str {
    text.lines().nth(n.saturating_sub(1)).unwrap_or("")
}

fn short_line(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 90 {
        let cut: String = s.chars().take(89).collect();
        format!("{cut}…")
    } else {
        s.to_string()
    }
}

fn file_text<'a>(loaded: &'a LoadedPack, rel: &str) -> Result<&'a str, String> {
    match loaded.sources.files.get(rel) {
        Some(Ok(t)) => Ok(t),
        Some(Err(e)) => Err(e.clone()),
        None => Err("not read".into()),
    }
}

fn build_step(
    input: &ReviewInput,
    diags: &[Diagnostic],
    index: usize,
    total: usize,
    step: &Step,
) -> StepDoc {
    let loaded = input.loaded;
    let pack: &Pack = &loaded.pack;
    let p = &pack.manifest.pack;
    let target = &p.target;
    let sid = step.id();
    let anchor = format!("step-{}", anchor_safe(sid));
    let file = step.file.as_ref().map(|f| f.get_ref().clone());
    let rollback = step.rollback.as_ref().map(|f| f.get_ref().clone());
    let file_sha = file.as_deref().and_then(|f| loaded.sha256(f));
    let rollback_sha = rollback.as_deref().and_then(|f| loaded.sha256(f));
    let status: Option<&StepStatus> = input
        .status
        .and_then(|st| st.steps.iter().find(|x| x.id == sid));
    let effects = pack.effects.get(index).cloned().unwrap_or_default();
    let (gate_names, missing_one_way) = apply_gates(pack, step);
    let backups = backup_tables(pack, index, step);
    let forbids = pack.forbids.get(index).cloned().unwrap_or_default();

    let mut badges = Vec::new();
    if step.one_way {
        badges.push((Tone::Danger, "ONE-WAY DOOR".to_string()));
    }
    if step.hold {
        badges.push((Tone::Info, "HOLD".to_string()));
    }
    if !step.transactional {
        badges.push((Tone::Warn, "NOT TRANSACTIONAL".to_string()));
    }
    if input.status.and_then(|s| s.halted.as_ref()).is_some() {
        badges.push((Tone::Danger, "PACK HALTED".to_string()));
    }

    // Step header.
    let mut fields = vec![
        (
            "Pack".to_string(),
            vec![c(pack.id()), t(" — "), t(&p.title)],
        ),
        (
            "Target".to_string(),
            vec![
                t("database "),
                c(&target.database),
                t(", environment "),
                match &target.environment {
                    Some(e) => c(e),
                    None => t("not pinned"),
                },
            ],
        ),
        ("Generated at".to_string(), vec![t(&input.generated_at)]),
        (
            "Manifest sha256".to_string(),
            vec![c(loaded.manifest_sha256())],
        ),
        (
            "Step file".to_string(),
            match (&file, file_sha) {
                (Some(f), Some(h)) => vec![c(f), t(" sha256 "), c(h)],
                (Some(f), None) => vec![c(f), t(" (could not be read)")],
                (None, _) => vec![t("none (hold step)")],
            },
        ),
        (
            "Rollback file".to_string(),
            match (&rollback, rollback_sha) {
                (Some(f), Some(h)) => vec![c(f), t(" sha256 "), c(h)],
                (Some(f), None) => vec![c(f), t(" (could not be read)")],
                (None, _) => vec![t("none")],
            },
        ),
        (
            "Requires".to_string(),
            if step.requires.is_empty() {
                vec![t("no earlier step")]
            } else {
                vec![t(format!("steps {}", step.requires_ids().join(", ")))]
            },
        ),
        (
            "Gates".to_string(),
            if gate_names.is_empty() {
                vec![t("none")]
            } else {
                vec![t(gate_names.join(", "))]
            },
        ),
    ];
    if let Some(st) = status {
        fields.push(("Ledger state".to_string(), vec![t(&st.state)]));
    }

    let mut parts = Vec::new();
    let mut part = |title: &str, blocks: Vec<Block>| {
        let n = parts.len() + 1;
        parts.push(Part {
            title: format!("{n}. {title}"),
            anchor: format!("{anchor}-{}", anchor_safe(&title.to_lowercase())),
            blocks,
        });
    };

    // 1. Scope.
    let mut scope = Vec::new();
    if step.hold {
        scope.push(Block::Para(vec![t(
            "A hold step builds nothing: applying it records in the ledger that the hold was reached.",
        )]));
    }
    let mut any = false;
    for (label, set) in [
        ("Create", &effects.create),
        ("Alter", &effects.alter),
        ("Drop", &effects.drop),
    ] {
        if !set.is_empty() {
            any = true;
            scope.push(Block::Sub(label.to_string()));
            scope.push(Block::List(
                set.iter().map(|o| vec![c(o.to_string())]).collect(),
            ));
        }
    }
    if !effects.rows.is_empty() {
        any = true;
        scope.push(Block::Sub("Rows".to_string()));
        scope.push(Block::Table {
            head: vec![
                "Table".into(),
                "Insert".into(),
                "Update".into(),
                "Delete".into(),
            ],
            rows: effects
                .rows
                .iter()
                .map(|(tbl, r)| {
                    vec![
                        vec![c(tbl)],
                        vec![t(r.insert.to_string())],
                        vec![t(r.update.to_string())],
                        vec![t(r.delete.to_string())],
                    ]
                })
                .collect(),
        });
    }
    if any {
        scope.push(Block::Para(vec![t(
            "This is the whole declared delta. The runner measures the change inside the step's transaction; if it differs from this list in any object or row count, nothing commits.",
        )]));
    } else if !step.hold {
        scope.push(Block::Note {
            tone: Tone::Warn,
            title: "No effects declared.".into(),
            body: vec![t(
                "This step declares no change at all: any measured object or row change makes it fail and nothing commits.",
            )],
        });
    }
    part("Scope", scope);

    // 2. Explicitly out of scope.
    let mut oos = Vec::new();
    oos.push(Block::Sub("Forbidden by this step".into()));
    if forbids.is_empty() {
        oos.push(Block::Para(vec![t(
            "No step-specific forbid rules are declared.",
        )]));
    } else {
        oos.push(Block::List(
            forbids.iter().map(|f| vec![c(&f.text)]).collect(),
        ));
        oos.push(Block::Para(vec![t(
            "Checked statically on the parsed SQL (lint) and again against the measured delta.",
        )]));
    }
    oos.push(Block::Sub("Protected tables of the pack".into()));
    if pack.protected.is_empty() {
        oos.push(Block::Para(vec![t("The pack protects no tables.")]));
    } else {
        oos.push(Block::List(
            pack.protected.iter().map(|n| vec![c(n)]).collect(),
        ));
        oos.push(Block::Para(vec![t(
            "No step may ALTER, DROP or TRUNCATE these tables; DML on them needs a WHERE clause.",
        )]));
    }
    oos.push(Block::Para(vec![t(
        "Anything not listed under Scope is out of scope: a change outside the declared effects stops the step before COMMIT.",
    )]));
    part("Explicitly out of scope", oos);

    // 3. Exact statements.
    let mut exact = Vec::new();
    let flagged_in = |rel: &str| -> BTreeSet<usize> {
        diags
            .iter()
            .filter(|d| d.file == rel)
            .map(|d| d.line)
            .collect()
    };
    match &file {
        None => exact.push(Block::Para(vec![t(
            "A hold step has no SQL file: nothing is executed.",
        )])),
        Some(f) => {
            exact.push(Block::Sub("Step file".into()));
            match file_text(loaded, f) {
                Ok(text) => exact.push(Block::Code {
                    lang: "sql",
                    caption: Some(vec![
                        c(f),
                        t(format!(" — {} lines — sha256 ", text.lines().count())),
                        c(file_sha.unwrap_or("-")),
                    ]),
                    text: text.to_string(),
                    numbered: true,
                    flagged: flagged_in(f),
                    file: Some(f.clone()),
                }),
                Err(e) => exact.push(Block::Note {
                    tone: Tone::Danger,
                    title: format!("{f} cannot be shown."),
                    body: vec![t(format!(
                        "{e}. Do not approve a step whose file you have not read."
                    ))],
                }),
            }
            if !step.transactional {
                exact.push(Block::Para(vec![t(
                    "The runner executes the statements of this file as they are (transactional = false).",
                )]));
            } else {
                exact.push(Block::Para(vec![
                    t("The file ends in "),
                    c("ROLLBACK;"),
                    t(": the runner alone decides the terminal keyword and issues COMMIT only when every gate holds. The bytes you approve are the bytes that were rehearsed."),
                ]));
            }
        }
    }
    exact.push(Block::Sub("Rollback file".into()));
    match &rollback {
        None => exact.push(Block::Para(vec![t("This step names no rollback file.")])),
        Some(f) => match file_text(loaded, f) {
            Ok(text) => exact.push(Block::Code {
                lang: "sql",
                caption: Some(vec![
                    c(f),
                    t(format!(" — {} lines — sha256 ", text.lines().count())),
                    c(rollback_sha.unwrap_or("-")),
                ]),
                text: text.to_string(),
                numbered: true,
                flagged: flagged_in(f),
                file: Some(f.clone()),
            }),
            Err(e) => exact.push(Block::Note {
                tone: Tone::Danger,
                title: format!("{f} cannot be shown."),
                body: vec![t(e)],
            }),
        },
    }
    part("Exact statements", exact);

    // 4. Gates.
    let mut gates = Vec::new();
    if missing_one_way {
        gates.push(Block::Note {
            tone: Tone::Danger,
            title: "Apply will refuse this step.".into(),
            body: vec![
                t("It is a one-way door, and the pack declares no "),
                c("one_way"),
                t(" gate to authorize it."),
            ],
        });
    }
    if gate_names.is_empty() {
        gates.push(Block::Note {
            tone: Tone::Warn,
            title: "No gates.".into(),
            body: vec![t(
                "This step names no gate: nothing but the runner's own checks stands before COMMIT.",
            )],
        });
    }
    for g in gate_names.iter().cloned() {
        let Some(gate) = pack.manifest.gate.get(&g) else {
            continue;
        };
        let extra =
            step.one_way && g == "one_way" && !step.gates.iter().any(|x| x.get_ref() == "one_way");
        let view = input
            .approvals
            .and_then(|v| v.iter().find(|x| x.step == sid && x.gate == g));
        gates.push(Block::Sub(format!("Gate {g}")));
        if extra {
            gates.push(Block::Para(vec![t(
                "Added by the runner because this step is a one-way door.",
            )]));
        }
        let mut f = Vec::new();
        match gate.kind {
            GateKind::Signature => {
                f.push((
                    "Kind".to_string(),
                    vec![t("signature (SSH key, namespace "), c("stepgate"), t(")")],
                ));
                f.push((
                    "Quorum".to_string(),
                    vec![t(format!(
                        "{} of {} signer(s)",
                        gate.quorum(),
                        gate.signers.len()
                    ))],
                ));
                f.push(("Signers".to_string(), join_code(&gate.signers)));
            }
            GateKind::Sql => {
                f.push((
                    "Kind".to_string(),
                    vec![t(
                        "sql (the query must return at least one row when the runner checks it)",
                    )],
                ));
            }
        }
        match view {
            Some(v) if gate.kind == GateKind::Sql => {
                f.push((
                    "Live result".to_string(),
                    if v.missing == 0 {
                        let mut l = vec![b("satisfied")];
                        if !v.present.is_empty() {
                            l.push(t(format!(" ({})", v.present.join(", "))));
                        }
                        l
                    } else {
                        vec![b("not satisfied: the query returned no row")]
                    },
                ));
            }
            Some(v) => {
                f.push((
                    "Approvals present".to_string(),
                    if v.present.is_empty() {
                        vec![t("none")]
                    } else {
                        join_code(&v.present)
                    },
                ));
                f.push((
                    "Missing".to_string(),
                    if v.missing == 0 {
                        vec![b("0 — satisfied")]
                    } else {
                        vec![b(format!("{} more needed", v.missing))]
                    },
                ));
            }
            None => f.push((
                "Approvals".to_string(),
                vec![t("not evaluated in this package")],
            )),
        }
        gates.push(Block::Fields(f));
        if let Some(v) = view {
            if !v.notes.is_empty() {
                gates.push(Block::List(v.notes.iter().map(|n| vec![t(n)]).collect()));
            }
        }
        if let Some(q) = &gate.sql {
            gates.push(Block::Code {
                lang: "sql",
                caption: Some(vec![t(format!("query of gate {g}"))]),
                text: ensure_newline(q),
                numbered: false,
                flagged: BTreeSet::new(),
                file: None,
            });
        }
    }
    if input.approvals.is_none() && !gate_names.is_empty() {
        gates.push(Block::Para(vec![
            t("Live results: "),
            c(format!("stepgate gates --step {}", shell_word(sid))),
            t("."),
        ]));
    }
    part("Gates", gates);

    // 5. Safety gates the runner enforces.
    let tv = &p.timeouts;
    let mut safety = vec![vec![
        b("Not halted. "),
        t("While a halt is in force every mutating verb refuses, until a signed resume."),
    ]];
    safety.push(vec![
        b("Identity guard. "),
        t("Before any statement runs, the connected server must be database "),
        c(&target.database),
        t(", environment label "),
        match &target.environment {
            Some(e) => c(e),
            None => t("(not pinned)"),
        },
        t(", system identifier "),
        match &target.system_identifier {
            Some(s) => c(s),
            None => t("(not pinned)"),
        },
        t("; otherwise it stops (exit 6) and executes nothing."),
    ]);
    if !step.requires.is_empty() {
        safety.push(vec![
            b("Prerequisites committed. "),
            t(format!(
                "{} {} must be committed on this target first.",
                if step.requires.len() == 1 {
                    "Step"
                } else {
                    "Steps"
                },
                step.requires_ids().join(", ")
            )),
        ]);
    }
    safety.push(vec![
        b("Gates and floor policy. "),
        t(if gate_names.is_empty() {
            "The step names no gate. ".to_string()
        } else {
            format!(
                "Every gate ({}) must hold for the current bytes at the moment of apply; signatures bind the sha256 of the step file, the rollback file and the manifest. ",
                gate_names.join(", ")
            )
        }),
        t("The target's floor policy may demand a minimum number of valid registry signatures on every apply and rollback, whatever the manifest says."),
    ]);
    safety.push(vec![
        b("Frozen plan. "),
        c("stepgate.lock"),
        t(", when present, must match the sha256 of every file."),
    ]);
    safety.push(vec![
        b("Fresh rehearsal of these exact bytes. "),
        t("A passing rehearsal on this target (BEGIN..ROLLBACK, entry fingerprint = exit fingerprint) of sha256 "),
        c(file_sha.unwrap_or("-")),
        t(" no older than "),
        c(age_text(&p.max_rehearsal_age, pack.max_rehearsal_age)),
        t(" ("),
        c("max_rehearsal_age"),
        t(")."),
    ]);
    let mut backup_line = vec![
        b("Verified backup. "),
        t("A checksummed, verified "),
        c("pg_dump -Fc"),
        t(" of the tables the step touches, no older than "),
        c(age_text(&p.max_backup_age, pack.max_backup_age)),
        t(" ("),
        c("max_backup_age"),
        t("): "),
    ];
    if backups.is_empty() {
        backup_line.push(t(
            "for this step that set is empty (no backup list, no row effects, no altered or dropped table), so there is nothing to dump.",
        ));
    } else {
        backup_line.extend(join_code(&backups));
        backup_line.push(t(" (those that exist when the backup is taken)."));
    }
    safety.push(backup_line);
    safety.push(vec![
        b("Timeouts. "),
        t("Every transaction the runner opens sets "),
        c(format!("statement_timeout = {}", tv.statement.get_ref())),
        t(", "),
        c(format!("lock_timeout = {}", tv.lock.get_ref())),
        t(", "),
        c(format!(
            "idle_in_transaction_session_timeout = {}",
            tv.idle_in_transaction.get_ref()
        )),
        t(" with SET LOCAL, whatever the file says."),
    ]);
    safety.push(vec![
        b("Measured delta = declared effects. "),
        t("The objects and row counts changed inside the transaction must equal Scope exactly, or nothing commits."),
    ]);
    safety.push(vec![
        b("Invariants before and after. "),
        t(format!(
            "The pack's {} invariant(s) are checked before the step, inside its transaction before COMMIT, and again after COMMIT.",
            pack.manifest.invariant.len()
        )),
    ]);
    safety.push(vec![
        b("Negative tests. "),
        t(format!(
            "{} negative test(s) run inside the transaction and must each fail with their declared SQLSTATE.",
            step.negative.len()
        )),
    ]);
    safety.push(vec![
        b("Ledger in the same transaction. "),
        t("The ledger row that records the commit commits in the same transaction as the step: there is no window where one exists without the other."),
    ]);
    safety.push(vec![
        b("Post-commit verify and catalog diff. "),
        t(match &p.verify {
            Some(v) => format!(
                "After COMMIT the runner runs the file's post-commit section, {}, the invariants, and a catalog diff against the pre-step state that must show only the declared effects.",
                v.get_ref()
            ),
            None => "After COMMIT the runner runs the file's post-commit section, the invariants, and a catalog diff against the pre-step state that must show only the declared effects.".to_string(),
        }),
    ]);
    safety.push(vec![
        b("Halt on any divergence. "),
        t("Any divergence before COMMIT rolls the transaction back; any divergence, before or after, halts the pack."),
    ]);
    let mut safety_blocks = vec![Block::Steps(safety)];
    if !step.transactional {
        safety_blocks.push(Block::Note {
            tone: Tone::Warn,
            title: "Not transactional.".into(),
            body: vec![t(
                "transactional = false: statements such as CREATE INDEX CONCURRENTLY commit as they run, so this step cannot be rehearsed inside BEGIN..ROLLBACK and a failure can leave partial state (an invalid index) to clean up. The checks above that rely on one transaction do not apply in the same form; read the file with that in mind.",
            )],
        });
    }
    part("Safety gates the runner enforces", safety_blocks);

    // 6. Invariants.
    let mut inv = Vec::new();
    if pack.manifest.invariant.is_empty() {
        inv.push(Block::Para(vec![t("The pack declares no invariants.")]));
    }
    for i in &pack.manifest.invariant {
        inv.push(Block::Para(vec![
            b(&i.name),
            t(" — expects "),
            c(&i.expect),
        ]));
        inv.push(sql_block(&i.sql, None));
    }
    part("Invariants", inv);

    // 7. Negative tests.
    let mut neg = Vec::new();
    if step.negative.is_empty() {
        neg.push(Block::Para(vec![t(
            "This step declares no negative tests.",
        )]));
    }
    for n in &step.negative {
        let mut l = vec![b(&n.name), t(" — must fail with SQLSTATE "), c(&n.sqlstate)];
        if let Some(name) = sqlstate_name(&n.sqlstate) {
            l.push(t(format!(" ({name})")));
        }
        neg.push(Block::Para(l));
        neg.push(sql_block(&n.sql, None));
    }
    part("Negative tests", neg);

    // 8. Side effects and measurements.
    let mut meas = Vec::new();
    if step.measure.is_empty() {
        meas.push(Block::Para(vec![t(
            "This step declares no extra measurements.",
        )]));
    } else {
        meas.push(Block::Para(vec![t(
            "Read inside the step's transaction and recorded in the ledger with the run:",
        )]));
    }
    for m in &step.measure {
        meas.push(Block::Para(vec![b(&m.name)]));
        meas.push(sql_block(&m.sql, None));
    }
    if p.fail_on_residue {
        meas.push(Block::Para(vec![t(
            "Non-transactional residue (a sequence advanced by the rehearsal) fails the rehearsal (fail_on_residue = true).",
        )]));
    } else {
        meas.push(Block::Para(vec![t(
            "Non-transactional residue (a sequence advanced by the rehearsal) is reported, not failed (fail_on_residue = false).",
        )]));
    }
    part("Side effects and measurements", meas);

    // 9. Rollback plan.
    let mut rb = Vec::new();
    if step.one_way {
        rb.push(Block::Note {
            tone: Tone::Danger,
            title: "ONE-WAY DOOR: this step cannot be undone.".into(),
            body: vec![t(step
                .irreversible_reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()))],
        });
    }
    let mut rf = vec![(
        "Rollback file".to_string(),
        match (&rollback, rollback_sha) {
            (Some(f), Some(h)) => vec![c(f), t(" sha256 "), c(h), t(" (shown in full above)")],
            (Some(f), None) => vec![c(f), t(" (could not be read)")],
            (None, _) => vec![t("none")],
        },
    )];
    rf.push((
        "Rollback gates".to_string(),
        match &step.rollback_gates {
            Some(g) if g.is_empty() => vec![t("none")],
            Some(_) => vec![t(step.rollback_gate_names().join(", "))],
            None if step.gates.is_empty() => vec![t("none (same as the step's gates)")],
            None => vec![t(format!(
                "{} (same as the step's gates)",
                step.gate_names().join(", ")
            ))],
        },
    ));
    rf.push((
        "Backup for restore".to_string(),
        if backups.is_empty() {
            vec![t("no table to dump for this step")]
        } else {
            join_code(&backups)
        },
    ));
    rf.push((
        "Organic tables".to_string(),
        if pack.organic.is_empty() {
            vec![t("none")]
        } else {
            let mut l = join_code(&pack.organic.iter().cloned().collect::<Vec<_>>());
            l.push(t(
                " — grow on their own; after a rollback their counts may differ from the baseline",
            ));
            l
        },
    ));
    rb.push(Block::Fields(rf));
    rb.push(Block::Para(vec![
        t("Before COMMIT a failure simply rolls the transaction back (nothing to undo). After COMMIT, the rollback file runs in its own transaction under its own approvals ("),
        c("action: rollback"),
        t("), child objects first; restoring a table from the backup is a separate governed action ("),
        c("action: restore"),
        t(")."),
    ]));
    if !step.hold && step.rollback.is_some() {
        rb.push(Block::Para(vec![
            t("A rollback approval is a separate statement, signed only when a reversal is authorized: "),
            c(format!(
                "stepgate approve --action rollback --step {} --gate G --key ~/.ssh/id_ed25519 --principal YOU",
                shell_word(sid)
            )),
            t("."),
        ]));
    }
    part("Rollback plan", rb);

    // 10. Lint findings.
    let mut lf = Vec::new();
    let files: Vec<&String> = file.iter().chain(rollback.iter()).collect();
    let mine: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| files.iter().any(|f| **f == d.file))
        .collect();
    if files.is_empty() {
        lf.push(Block::Para(vec![t("No files to lint.")]));
    } else if mine.is_empty() {
        let mut l = vec![t("No findings in ")];
        l.extend(join_code(
            &files.iter().map(|f| (*f).clone()).collect::<Vec<_>>(),
        ));
        l.push(t("."));
        lf.push(Block::Note {
            tone: Tone::Ok,
            title: "Lint is clean.".into(),
            body: l,
        });
    } else {
        let errors = mine
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        if errors > 0 {
            lf.push(Block::Note {
                tone: Tone::Danger,
                title: format!("{errors} lint error(s)."),
                body: vec![t(
                    "The runner refuses to rehearse or apply a file with lint errors.",
                )],
            });
        }
        lf.push(Block::Table {
            head: vec![
                "Code".into(),
                "Severity".into(),
                "File:line".into(),
                "Message".into(),
                "Source line".into(),
            ],
            rows: mine
                .iter()
                .map(|d| {
                    let src = file_text(loaded, &d.file).unwrap_or("");
                    let mut msg = vec![t(&d.message)];
                    if let Some(h) = &d.help {
                        msg.push(t(format!(" — help: {h}")));
                    }
                    vec![
                        vec![c(d.code)],
                        vec![t(d.severity.to_string())],
                        vec![c(format!("{}:{}", d.file, d.line))],
                        msg,
                        vec![c(short_line(line_of(src, d.line)))],
                    ]
                })
                .collect(),
        });
    }
    part("Lint findings", lf);

    // 11. Current status.
    let mut cs = Vec::new();
    match (input.status, status) {
        (None, _) => cs.push(Block::Para(vec![t(
            "No database was given, so the ledger was not read. The runner reads it before apply in any case.",
        )])),
        (Some(_), None) => cs.push(Block::Para(vec![t(
            "The ledger has no record of this step.",
        )])),
        (Some(ps), Some(st)) => {
            let mut f = vec![(
                "State".to_string(),
                vec![
                    b(&st.state),
                    t(st.state_at
                        .as_ref()
                        .map(|a| format!(" at {a}"))
                        .unwrap_or_default()),
                ],
            )];
            f.push((
                "Last rehearsal".to_string(),
                match &st.last_rehearsal {
                    None => vec![t("never rehearsed")],
                    Some(r) => vec![
                        t(format!("{} at {}, ", r.verdict, r.at)),
                        if r.matches_file {
                            b("of these exact bytes")
                        } else {
                            b("of DIFFERENT bytes than the file now")
                        },
                        t(r.file_sha256
                            .as_ref()
                            .map(|h| format!(" (sha256 {})", short_hash(Some(h.as_str()))))
                            .unwrap_or_default()),
                    ],
                },
            ));
            if let Some(i) = &st.interrupted_run {
                f.push(("Interrupted".to_string(), vec![b(i)]));
            }
            f.push((
                "Halted".to_string(),
                match &ps.halted {
                    Some(h) => vec![b(format!("yes, since {}: {}", h.at, h.reason))],
                    None => vec![t("no")],
                },
            ));
            cs.push(Block::Fields(f));
            if st.last_rehearsal.as_ref().is_some_and(|r| !r.matches_file) {
                cs.push(Block::Note {
                    tone: Tone::Warn,
                    title: "The last rehearsal is not of this file.".into(),
                    body: vec![t(
                        "The file changed after it was rehearsed: apply will refuse until it is rehearsed again.",
                    )],
                });
            }
        }
    }
    part("Current status", cs);

    // 12. The statement you will sign.
    let mut sign = Vec::new();
    let sig_gates: Vec<String> = gate_names
        .iter()
        .filter(|g| {
            pack.manifest
                .gate
                .get(g.as_str())
                .is_some_and(|x| x.kind == GateKind::Signature)
        })
        .cloned()
        .collect();
    if sig_gates.is_empty() {
        sign.push(Block::Para(vec![t(
            "This step has no signature gate: there is nothing to sign.",
        )]));
    } else {
        sign.push(Block::Para(vec![
            t("Check before signing: "),
            c("step-sha256"),
            t(" and "),
            c("rollback-sha256"),
            t(" equal the sha256 printed beside the files under Exact statements, and "),
            c("manifest-sha256"),
            t(" equals the one in the header. The tool fills in your principal and the validity window when you sign."),
        ]));
    }
    for g in &sig_gates {
        sign.push(Block::Sub(format!("Gate {g}")));
        sign.push(Block::Code {
            lang: "text",
            caption: Some(vec![t(format!(
                "approval statement, action apply, gate {g}"
            ))]),
            text: statement_template(loaded, step, g),
            numbered: false,
            flagged: BTreeSet::new(),
            file: None,
        });
        let sg = shell_word(sid);
        let gg = shell_word(g);
        sign.push(Block::Para(vec![t(
            "Sign it with stepgate (in the pack folder, or add --pack DIR):",
        )]));
        sign.push(Block::Code {
            lang: "sh",
            caption: None,
            text: format!(
                "stepgate approve --step {sg} --gate {gg} --key ~/.ssh/id_ed25519 --principal YOU\n"
            ),
            numbered: false,
            flagged: BTreeSet::new(),
            file: None,
        });
        sign.push(Block::Para(vec![t("or with ssh-keygen:")]));
        sign.push(Block::Code {
            lang: "sh",
            caption: None,
            text: format!(
                "stepgate approval-text --step {sg} --gate {gg} --principal YOU > s.txt && ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n stepgate s.txt\n"
            ),
            numbered: false,
            flagged: BTreeSet::new(),
            file: None,
        });
        if let Some(gate) = pack.manifest.gate.get(g) {
            let mut l = vec![t("Replace YOU with your principal; it must be one of ")];
            l.extend(join_code(&gate.signers));
            l.push(t("."));
            sign.push(Block::Para(l));
        }
    }
    part("The statement you will sign", sign);

    StepDoc {
        kicker: format!(
            "Step {} of {} · pack {} · {}",
            index + 1,
            total,
            pack.id(),
            target.database
        ),
        title: format!("Step {sid} — {}", step.name),
        anchor,
        badges,
        fields,
        parts,
        signoff_title: format!("Reviewer sign-off — step {sid}"),
        signoff_text: vec![
            t(format!(
                "I have read this review of step {sid} of pack {}: step file sha256 ",
                pack.id()
            )),
            c(file_sha.unwrap_or("-")),
            t(", rollback file sha256 "),
            c(rollback_sha.unwrap_or("-")),
            t(", manifest sha256 "),
            c(loaded.manifest_sha256()),
            t("."),
        ],
    }
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

fn sql_block(sql: &str, caption: Option<Line>) -> Block {
    Block::Code {
        lang: "sql",
        caption,
        text: ensure_newline(sql.trim_end()),
        numbered: false,
        flagged: BTreeSet::new(),
        file: None,
    }
}

fn join_code(items: &[String]) -> Line {
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(t(", "));
        }
        out.push(c(s));
    }
    if out.is_empty() {
        out.push(t("none"));
    }
    out
}

fn short_hash(h: Option<&str>) -> String {
    match h {
        Some(h) if h.len() > 16 => format!("{}…", &h[..16]),
        Some(h) => h.to_string(),
        None => "-".into(),
    }
}

fn anchor_safe(s: &str) -> String {
    s.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '-'
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

mod markdown {
    use super::{Block, Doc, Inline, Line, Tone};

    pub(super) fn render(doc: &Doc) -> String {
        let mut o = String::new();
        o.push_str(&format!("*{}*\n\n", text(&doc.kicker)));
        o.push_str(&format!("# {}\n\n", text(&doc.title)));
        fields(&mut o, &doc.fields);
        for bl in &doc.intro {
            block(&mut o, bl);
        }
        for s in &doc.steps {
            o.push_str("\n---\n\n");
            o.push_str(&format!("*{}*\n\n", text(&s.kicker)));
            o.push_str(&format!("## {}\n\n", text(&s.title)));
            if !s.badges.is_empty() {
                let b: Vec<String> = s
                    .badges
                    .iter()
                    .map(|(_, l)| format!("**[{}]**", text(l)))
                    .collect();
                o.push_str(&b.join(" "));
                o.push_str("\n\n");
            }
            fields(&mut o, &s.fields);
            for p in &s.parts {
                o.push_str(&format!("### {}\n\n", text(&p.title)));
                for bl in &p.blocks {
                    block(&mut o, bl);
                }
            }
            o.push_str(&format!("### {}\n\n", text(&s.signoff_title)));
            o.push_str(&line(&s.signoff_text, false));
            o.push_str("\n\n");
            o.push_str("Reviewed by ______________________________ date ______________\n\n");
            o.push_str("Signature ________________________________ decision: approve / reject\n\n");
        }
        o
    }

    fn fields(o: &mut String, f: &[(String, Line)]) {
        for (k, v) in f {
            o.push_str(&format!("- **{}:** {}\n", text(k), line(v, false)));
        }
        o.push('\n');
    }

    fn block(o: &mut String, bl: &Block) {
        match bl {
            Block::Para(l) => {
                o.push_str(&line(l, false));
                o.push_str("\n\n");
            }
            Block::Note { tone, title, body } => {
                let mark = match tone {
                    Tone::Danger => "**⚠ ",
                    Tone::Warn => "**Warning: ",
                    Tone::Ok => "**✓ ",
                    Tone::Info => "**",
                };
                o.push_str(&format!(
                    "> {mark}{}** {}\n\n",
                    text(title),
                    line(body, false)
                ));
            }
            Block::List(items) => {
                for i in items {
                    o.push_str(&format!("- {}\n", line(i, false)));
                }
                o.push('\n');
            }
            Block::Steps(items) => {
                for (n, i) in items.iter().enumerate() {
                    o.push_str(&format!("{}. {}\n", n + 1, line(i, false)));
                }
                o.push('\n');
            }
            Block::Fields(f) => fields(o, f),
            Block::Table { head, rows } => {
                o.push_str("| ");
                o.push_str(
                    &head
                        .iter()
                        .map(|h| text(h).replace('|', "\\|"))
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
                o.push_str(" |\n|");
                for _ in head {
                    o.push_str("---|");
                }
                o.push('\n');
                for r in rows {
                    o.push_str("| ");
                    o.push_str(
                        &r.iter()
                            .map(|cell| line(cell, true))
                            .collect::<Vec<_>>()
                            .join(" | "),
                    );
                    o.push_str(" |\n");
                }
                o.push('\n');
            }
            Block::Code {
                lang,
                caption,
                text: body,
                ..
            } => {
                if let Some(cap) = caption {
                    o.push_str(&line(cap, false));
                    o.push_str("\n\n");
                }
                let fence = fence_for(body);
                o.push_str(&fence);
                o.push_str(lang);
                o.push('\n');
                o.push_str(body);
                if !body.ends_with('\n') {
                    o.push('\n');
                }
                o.push_str(&fence);
                o.push_str("\n\n");
            }
            Block::Sub(s) => {
                o.push_str(&format!("#### {}\n\n", text(s)));
            }
        }
    }

    /// A backtick fence longer than any backtick run in the body (at least 3).
    fn fence_for(body: &str) -> String {
        "`".repeat(longest_run(body, '`').max(2) + 1)
    }

    fn longest_run(s: &str, ch: char) -> usize {
        let mut best = 0;
        let mut cur = 0;
        for x in s.chars() {
            if x == ch {
                cur += 1;
                best = best.max(cur);
            } else {
                cur = 0;
            }
        }
        best
    }

    fn line(l: &Line, in_table: bool) -> String {
        let mut s = String::new();
        for i in l {
            match i {
                Inline::Text(x) => s.push_str(&text(x)),
                Inline::Strong(x) => {
                    // `**a **` is not bold in CommonMark: keep edge spaces outside.
                    let inner = x.trim();
                    if x.starts_with(char::is_whitespace) {
                        s.push(' ');
                    }
                    if !inner.is_empty() {
                        s.push_str("**");
                        s.push_str(&text(inner));
                        s.push_str("**");
                    }
                    if x.ends_with(char::is_whitespace) {
                        s.push(' ');
                    }
                }
                Inline::Code(x) => s.push_str(&code(x)),
            }
        }
        let s = s.replace('\n', " ");
        if in_table {
            s.replace('|', "\\|")
        } else {
            s
        }
    }

    fn code(x: &str) -> String {
        let x = x.replace('\n', " ");
        let ticks = "`".repeat(longest_run(&x, '`') + 1);
        if x.starts_with('`') || x.ends_with('`') {
            format!("{ticks} {x} {ticks}")
        } else {
            format!("{ticks}{x}{ticks}")
        }
    }

    /// Escapes Markdown syntax characters in plain text; an underscore inside a word
    /// is left alone (it cannot start emphasis there).
    pub(super) fn text(x: &str) -> String {
        let chars: Vec<char> = x.chars().collect();
        let mut s = String::with_capacity(x.len());
        for (i, &ch) in chars.iter().enumerate() {
            match ch {
                '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '#' | '|' => {
                    s.push('\\');
                    s.push(ch);
                }
                '_' => {
                    let prev = i > 0 && chars[i - 1].is_alphanumeric();
                    let next = chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
                    if !(prev && next) {
                        s.push('\\');
                    }
                    s.push('_');
                }
                c => s.push(c),
            }
        }
        s
    }
}

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

mod html {
    use super::{html_escape as esc, Block, Doc, Inline, Line, Tone};

    const CSS: &str = r#"
:root { --ink:#1f2328; --muted:#59636e; --rule:#d1d9e0; --soft:#f6f8fa; --accent:#0b5cad;
        --danger:#b42318; --danger-bg:#fdecea; --warn:#8a5a00; --warn-bg:#fff5d6; --ok:#1a7f37; --ok-bg:#e9f7ee; --info-bg:#eef4fb;
        --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; }
* { box-sizing: border-box; }
html { color: var(--ink); background: #eef0f3; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 980px; margin: 24px auto; }
.page { background: #fff; border: 1px solid var(--rule); padding: 40px 48px; margin: 0 0 24px; }
.kicker { margin: 0 0 6px; color: var(--muted); font-size: 12px; letter-spacing: .06em; text-transform: uppercase; }
h1 { font-size: 28px; line-height: 1.25; margin: 0 0 18px; }
h2 { font-size: 23px; line-height: 1.3; margin: 0 0 12px; }
h3 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h4 { font-size: 14px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
p { margin: 8px 0; }
code { font-family: var(--mono); font-size: .88em; background: var(--soft); border: 1px solid #e4e8ec; border-radius: 3px; padding: 0 3px; overflow-wrap: anywhere; }
strong { font-weight: 650; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border: 1px solid var(--rule); }
th { background: var(--soft); font-weight: 600; }
table.fields th { width: 12em; white-space: nowrap; }
table.fields td, table.fields th { border-left: 0; border-right: 0; }
ul, ol { margin: 6px 0 12px; padding-left: 24px; }
li { margin: 3px 0; }
ol.safety li { margin: 6px 0; }
.badges { margin: 0 0 12px; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; letter-spacing: .05em; padding: 2px 8px; border: 2px solid; border-radius: 3px; margin-right: 6px; }
.badge.danger { color: var(--danger); } .badge.warn { color: var(--warn); } .badge.info { color: var(--accent); } .badge.ok { color: var(--ok); }
.note { border: 1px solid; border-left-width: 6px; padding: 8px 12px; margin: 10px 0; border-radius: 3px; }
.note.danger { border-color: var(--danger); background: var(--danger-bg); }
.note.danger strong.title { color: var(--danger); font-size: 16px; }
.note.warn { border-color: #d4a72c; background: var(--warn-bg); }
.note.ok { border-color: var(--ok); background: var(--ok-bg); }
.note.info { border-color: var(--accent); background: var(--info-bg); }
figure.code { margin: 8px 0 14px; }
figure.code figcaption { font-size: 13px; color: var(--muted); margin: 0 0 4px; overflow-wrap: anywhere; }
pre { font-family: var(--mono); font-size: 12.5px; line-height: 1.5; margin: 0; padding: 8px 12px; background: var(--soft); border: 1px solid var(--rule); border-radius: 3px;
      white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; tab-size: 4; }
pre code { background: none; border: 0; padding: 0; font-size: inherit; }
pre.numbered { padding-left: 0; }
pre.numbered .l { display: block; position: relative; padding-left: 4.6em; min-height: 1.5em; }
pre.numbered .l::before { content: attr(data-n); position: absolute; left: 0; width: 3.4em; text-align: right; color: #8c959f;
      padding-right: .6em; border-right: 1px solid var(--rule); -webkit-user-select: none; user-select: none; }
pre.numbered .l.flag { background: #fff1c2; }
pre.numbered .l.flag::before { color: var(--danger); font-weight: 700; }
pre.statement { background: #fff; border: 2px solid var(--ink); font-size: 13px; }
.signoff { margin-top: 36px; border: 2px solid var(--ink); padding: 14px 18px 18px; break-inside: avoid; page-break-inside: avoid; }
.signoff h3 { margin: 0 0 8px; border: 0; padding: 0; font-size: 15px; }
.signoff .attest { font-size: 13px; margin: 0 0 4px; }
.sigrow { display: flex; gap: 14px; align-items: flex-end; margin-top: 22px; font-size: 14px; }
.sigrow .lbl { white-space: nowrap; }
.sigrow .blank { flex: 1; border-bottom: 1px solid var(--ink); min-width: 6em; height: 1.4em; }
.sigrow .blank.short { flex: 0 0 11em; }
.box { display: inline-block; width: 12px; height: 12px; border: 1.5px solid var(--ink); vertical-align: -1px; margin: 0 4px 0 10px; }
nav.toc ol { columns: 2; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  html, body { background: none; }
  body { font-size: 10.5pt; }
  main { max-width: none; margin: 0; }
  .page { border: 0; padding: 0; margin: 0; }
  section.step { break-before: page; page-break-before: always; }
  *, *::before, *::after { background: none !important; box-shadow: none !important; }
  code { border: 0; padding: 0; }
  pre { border: 1px solid #999; font-size: 8.5pt; white-space: pre-wrap; overflow-wrap: anywhere; }
  pre.numbered .l.flag { border-left: 3px solid var(--danger); }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  figure.code figcaption { break-after: avoid; page-break-after: avoid; }
  tr, .note, li { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

    pub(super) fn render(doc: &Doc) -> String {
        let mut o = String::with_capacity(64 * 1024);
        o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        o.push_str("<meta name=\"generator\" content=\"stepgate review\">\n");
        o.push_str(&format!("<title>{}</title>\n", esc(&doc.title)));
        o.push_str("<style>");
        o.push_str(CSS);
        o.push_str("</style>\n</head>\n<body>\n<main>\n");

        o.push_str("<header class=\"page cover\">\n");
        o.push_str(&format!("<p class=\"kicker\">{}</p>\n", esc(&doc.kicker)));
        o.push_str(&format!("<h1>{}</h1>\n", esc(&doc.title)));
        fields(&mut o, &doc.fields);
        for bl in &doc.intro {
            block(&mut o, bl);
        }
        if !doc.steps.is_empty() {
            o.push_str("<nav class=\"toc\" aria-label=\"Steps in this package\">\n<h4>In this package</h4>\n<ol>\n");
            for s in &doc.steps {
                o.push_str(&format!(
                    "<li><a href=\"#{}\">{}</a></li>\n",
                    esc(&s.anchor),
                    esc(&s.title)
                ));
            }
            o.push_str("</ol>\n</nav>\n");
        }
        o.push_str("</header>\n");

        for s in &doc.steps {
            o.push_str(&format!(
                "<section class=\"page step\" id=\"{}\" aria-labelledby=\"{}-h\">\n",
                esc(&s.anchor),
                esc(&s.anchor)
            ));
            o.push_str("<header>\n");
            o.push_str(&format!("<p class=\"kicker\">{}</p>\n", esc(&s.kicker)));
            o.push_str(&format!(
                "<h2 id=\"{}-h\">{}</h2>\n",
                esc(&s.anchor),
                esc(&s.title)
            ));
            if !s.badges.is_empty() {
                o.push_str("<p class=\"badges\">");
                for (tone, label) in &s.badges {
                    o.push_str(&format!(
                        "<span class=\"badge {}\">{}</span>",
                        tone.class(),
                        esc(label)
                    ));
                }
                o.push_str("</p>\n");
            }
            fields(&mut o, &s.fields);
            o.push_str("</header>\n");
            for p in &s.parts {
                o.push_str(&format!(
                    "<section class=\"part\" id=\"{}\">\n<h3>{}</h3>\n",
                    esc(&p.anchor),
                    esc(&p.title)
                ));
                for bl in &p.blocks {
                    block(&mut o, bl);
                }
                o.push_str("</section>\n");
            }
            o.push_str("<div class=\"signoff\">\n");
            o.push_str(&format!("<h3>{}</h3>\n", esc(&s.signoff_title)));
            o.push_str(&format!(
                "<p class=\"attest\">{}</p>\n",
                line(&s.signoff_text)
            ));
            o.push_str("<div class=\"sigrow\"><span class=\"lbl\">Reviewed by</span><span class=\"blank\"></span><span class=\"lbl\">Date</span><span class=\"blank short\"></span></div>\n");
            o.push_str("<div class=\"sigrow\"><span class=\"lbl\">Signature</span><span class=\"blank\"></span><span class=\"lbl\">Decision<span class=\"box\"></span>approve<span class=\"box\"></span>reject</span></div>\n");
            o.push_str("</div>\n");
            o.push_str("</section>\n");
        }
        o.push_str("</main>\n</body>\n</html>\n");
        o
    }

    fn fields(o: &mut String, f: &[(String, Line)]) {
        o.push_str("<table class=\"fields\">\n<tbody>\n");
        for (k, v) in f {
            o.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
                esc(k),
                line(v)
            ));
        }
        o.push_str("</tbody>\n</table>\n");
    }

    fn line(l: &Line) -> String {
        let mut s = String::new();
        for i in l {
            match i {
                Inline::Text(x) => s.push_str(&esc(x)),
                Inline::Strong(x) => {
                    s.push_str("<strong>");
                    s.push_str(&esc(x));
                    s.push_str("</strong>");
                }
                Inline::Code(x) => {
                    s.push_str("<code>");
                    s.push_str(&esc(x));
                    s.push_str("</code>");
                }
            }
        }
        s
    }

    fn block(o: &mut String, bl: &Block) {
        match bl {
            Block::Para(l) => o.push_str(&format!("<p>{}</p>\n", line(l))),
            Block::Note { tone, title, body } => {
                let role = if *tone == Tone::Danger {
                    " role=\"alert\""
                } else {
                    ""
                };
                o.push_str(&format!(
                    "<div class=\"note {}\"{role}><strong class=\"title\">{}</strong> {}</div>\n",
                    tone.class(),
                    esc(title),
                    line(body)
                ));
            }
            Block::List(items) => {
                o.push_str("<ul>\n");
                for i in items {
                    o.push_str(&format!("<li>{}</li>\n", line(i)));
                }
                o.push_str("</ul>\n");
            }
            Block::Steps(items) => {
                o.push_str("<ol class=\"safety\">\n");
                for i in items {
                    o.push_str(&format!("<li>{}</li>\n", line(i)));
                }
                o.push_str("</ol>\n");
            }
            Block::Fields(f) => fields(o, f),
            Block::Table { head, rows } => {
                o.push_str("<table>\n<thead><tr>");
                for h in head {
                    o.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
                }
                o.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    o.push_str("<tr>");
                    for cell in r {
                        o.push_str(&format!("<td>{}</td>", line(cell)));
                    }
                    o.push_str("</tr>\n");
                }
                o.push_str("</tbody>\n</table>\n");
            }
            Block::Code {
                lang,
                caption,
                text,
                numbered,
                flagged,
                file,
            } => {
                o.push_str("<figure class=\"code\">\n");
                if let Some(cap) = caption {
                    o.push_str(&format!("<figcaption>{}</figcaption>\n", line(cap)));
                }
                let mut class = String::from("code");
                if *numbered {
                    class.push_str(" numbered");
                }
                if *lang == "text" {
                    class.push_str(" statement");
                }
                let data = file
                    .as_ref()
                    .map(|f| format!(" data-file=\"{}\"", esc(f)))
                    .unwrap_or_default();
                o.push_str(&format!(
                    "<pre class=\"{class}\"{data}><code class=\"language-{lang}\">"
                ));
                if *numbered {
                    for (n, l) in text.split_inclusive('\n').enumerate() {
                        let n = n + 1;
                        let flag = if flagged.contains(&n) { " flag" } else { "" };
                        o.push_str(&format!(
                            "<span class=\"l{flag}\" data-n=\"{n}\">{}</span>",
                            esc(l)
                        ));
                    }
                } else {
                    o.push_str(&esc(text));
                }
                o.push_str("</code></pre>\n</figure>\n");
            }
            Block::Sub(s) => o.push_str(&format!("<h4>{}</h4>\n", esc(s))),
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::status::{Halt, Rehearsal};

    const EXTRA_SQL: &str =
        "-- reviewer check: <script>alert(1)</script> & \"quotes\" 'single'\nSELECT 2 > 1 AND 'a&b' <> '<x>' AS escaped;\n";

    /// The `init` scaffold, with forbid rules, a protected table, an invariant, a
    /// negative test, a measurement and a line full of HTML metacharacters added.
    fn scaffold() -> (tempfile::TempDir, LoadedPack) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo-pack");
        crate::engine::init::run_with(
            &dir,
            &crate::engine::init::InitOptions {
                database: "db",
                environment: Some("production"),
                profile: crate::core::manifest::LintProfile::Sections,
            },
        )
        .unwrap();
        let m = dir.join("stepgate.toml");
        let src = std::fs::read_to_string(&m).unwrap();
        let src = src
            .replace(
                "protected = []",
                "protected = [\"public.apr_action_types\"]",
            )
            .replace(
                "gates = [\"owner\"]",
                "gates = [\"owner\", \"council\"]\nforbid = [\"create trigger\", \"alter table public.governance_relations\"]\n\
                 [[step.negative]]\nname = \"dup label\"\nsql = \"INSERT INTO public.example_table (id, label) VALUES (1, 'x')\"\nsqlstate = \"23505\"\n\
                 [[step.measure]]\nname = \"example rows\"\nsql = \"SELECT count(*) FROM public.example_table\"",
            )
            .replace(
                "[[step]]",
                "[gate.council]\nkind = \"sql\"\nsql = \"SELECT 1 FROM council WHERE step = '1'\"\n\n\
                 [[invariant]]\nname = \"relations\"\nsql = \"SELECT count(*) FROM pg_class WHERE relname = 'x'\"\nexpect = \"0\"\n\n[[step]]",
            );
        std::fs::write(&m, src).unwrap();
        let f = dir.join("01_example.sql");
        let sql = std::fs::read_to_string(&f)
            .unwrap()
            .replace("-- SECTION G", &format!("{EXTRA_SQL}\n-- SECTION G"));
        std::fs::write(&f, sql).unwrap();
        let loaded = crate::engine::pack::load(&dir).unwrap();
        (tmp, loaded)
    }

    fn input<'a>(loaded: &'a LoadedPack) -> ReviewInput<'a> {
        ReviewInput {
            loaded,
            step: None,
            status: None,
            approvals: None,
            generated_at: "2026-06-01T10:00:00Z".into(),
        }
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    fn strip_tags(s: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for ch in s.chars() {
            match ch {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out
    }

    /// The text content of the `<pre data-file="rel">` block, tags stripped, unescaped.
    fn pre_text(html: &str, rel: &str) -> String {
        let start = html
            .find(&format!("data-file=\"{}\"", html_escape(rel)))
            .unwrap();
        let open = start + html[start..].find('>').unwrap() + 1;
        let end = open + html[open..].find("</pre>").unwrap();
        unescape(&strip_tags(&html[open..end]))
    }

    #[test]
    fn both_renderings_carry_the_review_content() {
        let (_tmp, loaded) = scaffold();
        let inp = input(&loaded);
        let md = render_markdown(&inp);
        let html = render_html(&inp);
        let step_text = loaded.text("01_example.sql").unwrap().to_string();
        let rb_text = loaded
            .text("rollback/01_example_rollback.sql")
            .unwrap()
            .to_string();
        let step_sha = loaded.sha256("01_example.sql").unwrap().to_string();
        let rb_sha = loaded
            .sha256("rollback/01_example_rollback.sql")
            .unwrap()
            .to_string();
        assert!(step_text.contains(EXTRA_SQL));

        for doc in [&md, &html] {
            assert!(doc.contains("table public.example_table"), "effects");
            assert!(doc.contains("create trigger"), "forbid rule");
            assert!(doc.contains("alter table public.governance_relations"));
            assert!(doc.contains("public.apr_action_types"), "protected");
            assert!(doc.contains(&step_sha), "step sha256");
            assert!(doc.contains(&rb_sha), "rollback sha256");
            assert!(doc.contains(loaded.manifest_sha256()), "manifest sha256");
            assert!(doc.contains("2026-06-01T10:00:00Z"), "generated at");
            assert!(doc.contains("dup label") && doc.contains("23505"));
            assert!(doc.contains("unique_violation"));
            assert!(doc.contains("example rows"));
            assert!(doc.contains("statement_timeout = 5s"));
            assert!(doc.contains("lock_timeout = 3s"));
            assert!(doc.contains("idle_in_transaction_session_timeout = 15s"));
            assert!(doc.contains("24h (default)") && doc.contains("1h (default)"));
            assert!(doc.contains(
                "stepgate approve --step 1 --gate owner --key ~/.ssh/id_ed25519 --principal YOU"
            ));
            assert!(doc.contains("ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n stepgate s.txt"));
            assert!(doc.contains("Reviewed by"));
            assert!(doc.contains("Lint is clean"), "scaffold lints clean");
            assert!(doc.contains("Explicitly out of scope"));
            assert!(doc.contains("Safety gates the runner enforces"));
            assert!(doc.contains("not read (no database given)"));
        }

        // Markdown: exact bytes in fenced sql blocks.
        assert!(md.contains(&format!("```sql\n{step_text}```")));
        assert!(md.contains(&format!("```sql\n{rb_text}```")));
        assert!(md.contains("```sql\nSELECT 1 FROM council WHERE step = '1'\n```"));

        // HTML: escaped, numbered, and the text content is exactly the file.
        assert!(html.contains(&html_escape(EXTRA_SQL.lines().next().unwrap())));
        assert!(!html.contains("<script>alert"));
        assert_eq!(pre_text(&html, "01_example.sql"), step_text);
        assert_eq!(pre_text(&html, "rollback/01_example_rollback.sql"), rb_text);
        assert!(html.contains("data-n=\"1\""));
        let lines = step_text.lines().count();
        assert!(html.contains(&format!("data-n=\"{lines}\"")));
        assert!(!html.contains(&format!("data-n=\"{}\"", lines + 1)));
    }

    #[test]
    fn statement_to_sign_is_the_real_statement_with_placeholders() {
        let (_tmp, loaded) = scaffold();
        let step = loaded.pack.step("1").unwrap();
        let text = statement_template(&loaded, step, "owner");
        // Filling the placeholders gives a statement that parses back to the expected fields.
        let filled = text
            .replace(PRINCIPAL_PLACEHOLDER, "owner@example.org")
            .replace(ISSUED_AT_PLACEHOLDER, "2026-06-01T10:00:00Z")
            .replace(EXPIRES_AT_PLACEHOLDER, "2026-06-02T10:00:00Z");
        let st = Statement::parse(&filled).unwrap();
        assert_eq!(st.pack, "demo-pack");
        assert_eq!(st.step, "1");
        assert_eq!(st.gate, "owner");
        assert_eq!(st.action, Action::Apply);
        assert_eq!(st.step_sha256.as_deref(), loaded.sha256("01_example.sql"));
        assert_eq!(
            st.rollback_sha256.as_deref(),
            loaded.sha256("rollback/01_example_rollback.sql")
        );
        assert_eq!(st.manifest_sha256, loaded.manifest_sha256());
        assert_eq!(st.target_database, "db");
        assert_eq!(st.target_environment.as_deref(), Some("production"));

        let inp = input(&loaded);
        let md = render_markdown(&inp);
        let html = render_html(&inp);
        assert!(md.contains(&text), "{md}");
        assert!(html.contains(&html_escape(&text)));
        assert!(text.contains("principal: <your principal>\n"));
        assert!(text.contains("issued-at: <issued-at>\n"));
        assert!(text.contains("expires-at: <expires-at>\n"));
        // Only signature gates get a statement: the sql gate `council` has none.
        assert!(!md.contains("gate: council"));
        assert!(md.contains("SELECT 1 FROM council"));
    }

    #[test]
    fn html_is_self_contained_and_balanced() {
        let (_tmp, loaded) = scaffold();
        let html = render_html(&input(&loaded));
        let lower = html.to_lowercase();
        for bad in [
            "http://", "https://", "<link", "<script", "<img", "@import", "url(", "<iframe",
        ] {
            assert!(!lower.contains(bad), "found {bad}");
        }
        assert!(lower.starts_with("<!doctype html>"));
        assert!(lower.contains("@media print"));
        assert!(lower.contains("page-break-before: always"));
        for tag in [
            "section", "header", "table", "pre", "figure", "main", "ol", "ul", "div",
        ] {
            let open = html.matches(&format!("<{tag}>")).count()
                + html.matches(&format!("<{tag} ")).count();
            let close = html.matches(&format!("</{tag}>")).count();
            assert_eq!(open, close, "unbalanced <{tag}>");
        }
        // Sections nest properly: the depth never goes negative and ends at 0.
        let mut depth = 0i32;
        let mut i = 0;
        while let Some(pos) = html[i..].find("section") {
            let at = i + pos;
            if html[..at].ends_with("</") {
                depth -= 1;
            } else if html[..at].ends_with('<') {
                depth += 1;
            }
            assert!(depth >= 0);
            i = at + 7;
        }
        assert_eq!(depth, 0);
        assert!(html.contains("<h1>") && html.contains("<h2 ") && html.contains("<h3>"));
    }

    #[test]
    fn status_approvals_and_one_way_are_shown() {
        let (tmp, _) = scaffold();
        let dir = tmp.path().join("demo-pack");
        let m = dir.join("stepgate.toml");
        let src = std::fs::read_to_string(&m).unwrap().replace(
            "gates = [\"owner\", \"council\"]",
            "gates = [\"owner\", \"council\"]\none_way = true\nirreversible_reason = \"retire, never delete: FK RESTRICT\"",
        );
        std::fs::write(&m, src).unwrap();
        let loaded = crate::engine::pack::load(&dir).unwrap();
        let status = PackStatus {
            pack: "demo-pack".into(),
            title: "t".into(),
            target: "db on localhost".into(),
            environment: Some("production".into()),
            halted: Some(Halt {
                event: 7,
                at: "2026-06-01T09:00:00Z".into(),
                reason: "count mismatch <b>".into(),
            }),
            steps: vec![StepStatus {
                id: "1".into(),
                name: "create example_table".into(),
                gates: vec!["owner".into()],
                one_way: true,
                hold: false,
                last_rehearsal: Some(Rehearsal {
                    at: "2026-06-01T08:00:00Z".into(),
                    verdict: "passed".into(),
                    file_sha256: Some("ab".repeat(32)),
                    matches_file: false,
                }),
                state: "not applied".into(),
                state_at: None,
                interrupted_run: None,
            }],
        };
        let approvals = vec![
            GateView {
                step: "1".into(),
                gate: "owner".into(),
                kind: "signature".into(),
                quorum: 1,
                signers: vec!["owner@example.org".into()],
                present: vec![],
                missing: 1,
                notes: vec!["approvals/x.approval: step file changed since signing".into()],
            },
            GateView {
                step: "1".into(),
                gate: "council".into(),
                kind: "sql".into(),
                quorum: 1,
                signers: vec![],
                present: vec![],
                missing: 1,
                notes: vec![],
            },
        ];
        let inp = ReviewInput {
            loaded: &loaded,
            step: Some("1"),
            status: Some(&status),
            approvals: Some(&approvals),
            generated_at: "now".into(),
        };
        let md = render_markdown(&inp);
        let html = render_html(&inp);
        for doc in [&md, &html] {
            assert!(doc.contains("ONE-WAY DOOR"));
            assert!(doc.contains("retire, never delete: FK RESTRICT"));
            assert!(doc.contains("1 more needed"));
            assert!(doc.contains("not satisfied: the query returned no row"));
            assert!(doc.contains("step file changed since signing"));
            assert!(doc.contains("DIFFERENT bytes"));
            assert!(doc.contains("2026-06-01T08:00:00Z"));
            assert!(doc.contains("not applied"));
            assert!(doc.contains("HALTED") || doc.contains("halted"));
        }
        assert!(html.contains("count mismatch &lt;b&gt;"));
        assert!(!html.contains("count mismatch <b>"));

        // A step that is not in the pack says so instead of rendering nothing.
        let inp = ReviewInput {
            step: Some("nope"),
            ..inp
        };
        let md = render_markdown(&inp);
        assert!(md.contains("No step \"nope\" in this pack."));
    }

    #[test]
    fn lint_findings_are_listed_with_lines() {
        let (tmp, _) = scaffold();
        let dir = tmp.path().join("demo-pack");
        let f = dir.join("01_example.sql");
        // A second COMMIT boundary keyword mid-file is a lint finding.
        let sql = std::fs::read_to_string(&f)
            .unwrap()
            .replace("-- SECTION F", "COMMIT;\n-- SECTION F");
        std::fs::write(&f, sql).unwrap();
        let loaded = crate::engine::pack::load(&dir).unwrap();
        let diags: Vec<_> = lint::run(&loaded.pack, &loaded.sources)
            .into_iter()
            .filter(|d| d.file == "01_example.sql")
            .collect();
        assert!(!diags.is_empty(), "expected a lint finding");
        let md = render_markdown(&input(&loaded));
        let html = render_html(&input(&loaded));
        for d in &diags {
            assert!(md.contains(d.code));
            assert!(md.contains(&format!("01_example.sql:{}", d.line)));
            assert!(html.contains(&format!("<span class=\"l flag\" data-n=\"{}\">", d.line)));
        }
        assert!(!md.contains("Lint is clean"));
    }

    #[test]
    fn hold_and_non_transactional_steps_render() {
        let (tmp, _) = scaffold();
        let dir = tmp.path().join("demo-pack");
        let m = dir.join("stepgate.toml");
        let mut src = std::fs::read_to_string(&m).unwrap();
        src = src.replace(
            "gates = [\"owner\", \"council\"]",
            "gates = [\"owner\", \"council\"]\ntransactional = false",
        );
        src.push_str("\n[[step]]\nid = \"7\"\nname = \"HOLD\"\nhold = true\nrequires = [\"1\"]\n");
        std::fs::write(&m, src).unwrap();
        let loaded = crate::engine::pack::load(&dir).unwrap();
        let md = render_markdown(&input(&loaded));
        let html = render_html(&input(&loaded));
        for doc in [&md, &html] {
            assert!(doc.contains("NOT TRANSACTIONAL"));
            assert!(doc.contains("A hold step builds nothing"));
            assert!(doc.contains("This step has no signature gate: there is nothing to sign."));
            assert!(doc.contains("Step 1 must be committed on this target first."));
        }
        assert_eq!(html.matches("<section class=\"page step\"").count(), 2);
        let only7 = ReviewInput {
            step: Some("7"),
            ..input(&loaded)
        };
        let html7 = render_html(&only7);
        assert_eq!(html7.matches("<section class=\"page step\"").count(), 1);
        assert!(!html7.contains("id=\"step-1\""));
    }

    #[test]
    fn html_escape_escapes_everything() {
        assert_eq!(
            html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn markdown_text_escapes_syntax_but_not_intraword_underscores() {
        assert_eq!(markdown::text("example_table"), "example_table");
        assert_eq!(
            markdown::text("_x_ *y* <z> | #"),
            "\\_x\\_ \\*y\\* \\<z\\> \\| \\#"
        );
    }

    #[test]
    fn markdown_bold_keeps_edge_spaces_outside() {
        let l = vec![b("Not halted. "), t("While")];
        let doc = Doc {
            title: "x".into(),
            kicker: "k".into(),
            fields: vec![],
            intro: vec![Block::Para(l)],
            steps: vec![],
        };
        assert!(markdown::render(&doc).contains("**Not halted.** While"));
    }

    #[test]
    fn durations_format_compactly() {
        assert_eq!(fmt_duration(Duration::from_secs(86400)), "24h");
        assert_eq!(fmt_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(fmt_duration(Duration::from_secs(90)), "90s");
        assert_eq!(fmt_duration(Duration::from_secs(120)), "2m");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
    }
}
