//! The pack manifest, `stepgate.toml`: its model, its loader and its validation.
//!
//! Loading is strict. Unknown keys are errors with a "did you mean" suggestion,
//! every semantic error names the file, line and column, and nothing downstream
//! ever sees a manifest that did not validate. The format is documented in full
//! in docs/pack-format.md.

use crate::core::duration;
use crate::core::error::SourceError;
use crate::core::objects::{ForbidRule, ObjKind, ObjectRef};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use toml::Spanned;

pub const MANIFEST_FILE: &str = "stepgate.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub pack: PackSection,
    #[serde(default)]
    pub invariant: Vec<Invariant>,
    #[serde(default)]
    pub gate: BTreeMap<String, Gate>,
    #[serde(default)]
    pub step: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSection {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub preflight: Option<Spanned<String>>,
    #[serde(default)]
    pub verify: Option<Spanned<String>>,
    #[serde(default)]
    pub protected: Vec<Spanned<String>>,
    #[serde(default)]
    pub organic: Vec<Spanned<String>>,
    #[serde(default)]
    pub allowed_signers: Option<Spanned<String>>,
    pub target: Target,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub lint: LintConfig,
    /// How old a passing rehearsal may be for `apply` (default 24h).
    #[serde(default)]
    pub max_rehearsal_age: Option<Spanned<String>>,
    /// How old a verified backup may be for `apply` (default 60m).
    #[serde(default)]
    pub max_backup_age: Option<Spanned<String>>,
    /// Fail a rehearsal on non-transactional residue (sequences advanced). Default false.
    #[serde(default)]
    pub fail_on_residue: bool,
    /// Where table dumps and captures go (relative to the pack folder, or absolute).
    /// Default: outside the pack, in the user's XDG state directory.
    #[serde(default)]
    pub evidence_dir: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub database: String,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub system_identifier: Option<String>,
    /// PostgreSQL version the pack is written for (`"15"`, `"11.2"`): version-dependent
    /// lint rules judge against it (unset: the newest PostgreSQL).
    #[serde(default)]
    pub server_version: Option<String>,
}

impl Target {
    /// The major version of `server_version` (`"9.6"` → 9, `"15.4"` → 15); None when unset
    /// or not a version.
    pub fn server_major(&self) -> Option<u32> {
        parse_major(self.server_version.as_deref()?)
    }
}

/// The major version in a PostgreSQL version string (`"15"`, `"15.4"`, `"9.6.24"`).
pub fn parse_major(v: &str) -> Option<u32> {
    let major = v.trim().split('.').next()?;
    major.parse().ok().filter(|m| (7..100).contains(m))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    #[serde(default = "default_statement")]
    pub statement: Spanned<String>,
    #[serde(default = "default_lock")]
    pub lock: Spanned<String>,
    #[serde(default = "default_idle")]
    pub idle_in_transaction: Spanned<String>,
}

fn default_statement() -> Spanned<String> {
    Spanned::new(0..0, "5s".into())
}
fn default_lock() -> Spanned<String> {
    Spanned::new(0..0, "3s".into())
}
fn default_idle() -> Spanned<String> {
    Spanned::new(0..0, "15s".into())
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            statement: default_statement(),
            lock: default_lock(),
            idle_in_transaction: default_idle(),
        }
    }
}

/// Timeouts resolved to durations (validated at load).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeoutValues {
    pub statement: Duration,
    pub lock: Duration,
    pub idle_in_transaction: Duration,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Comment markers section A must carry (doc 99.5), e.g. `REHEARSAL-ONLY`.
    #[serde(default)]
    pub require_header: Vec<String>,
    /// Per-rule severity overrides: `{ SG103 = "error", SG105 = "off" }`.
    #[serde(default)]
    pub severity: BTreeMap<String, Spanned<String>>,
    /// `"plain"` (the default: step files are plain SQL, the runner supplies the
    /// transaction and its timeouts) or `"sections"` (the A–I section discipline).
    #[serde(default)]
    pub profile: Option<Spanned<String>>,
}

/// Which structural discipline the linter holds step files to (`[pack.lint] profile`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LintProfile {
    /// Step and rollback files may be plain SQL: no sections, no BEGIN, no SET LOCAL.
    /// A file that does frame itself with BEGIN … ROLLBACK is still held to that shape.
    #[default]
    Plain,
    /// Sections A–I, one BEGIN with the three SET LOCAL timeouts, one terminal ROLLBACK.
    Sections,
}

/// A step's own timeouts (`[step.timeouts]`): each key overrides the pack's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepTimeouts {
    #[serde(default)]
    pub statement: Option<Spanned<String>>,
    #[serde(default)]
    pub lock: Option<Spanned<String>>,
    #[serde(default)]
    pub idle_in_transaction: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    pub name: String,
    pub sql: String,
    pub expect: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GateKind {
    Signature,
    Sql,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub kind: GateKind,
    #[serde(default)]
    pub signers: Vec<String>,
    #[serde(default)]
    pub quorum: Option<Spanned<i64>>,
    #[serde(default)]
    pub sql: Option<String>,
}

impl Gate {
    pub fn quorum(&self) -> u32 {
        self.quorum
            .as_ref()
            .map(|q| (*q.get_ref()).clamp(0, u32::MAX as i64) as u32)
            .unwrap_or(1)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Spanned<String>,
    pub name: String,
    /// The step file. Absent only for a `hold` step.
    #[serde(default)]
    pub file: Option<Spanned<String>>,
    #[serde(default)]
    pub rollback: Option<Spanned<String>>,
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    #[serde(default)]
    pub gates: Vec<Spanned<String>>,
    #[serde(default)]
    pub rollback_gates: Option<Vec<Spanned<String>>>,
    #[serde(default = "yes")]
    pub transactional: bool,
    #[serde(default)]
    pub one_way: bool,
    #[serde(default)]
    pub irreversible_reason: Option<String>,
    /// A HOLD step (doc 94 STEP 7): builds nothing; apply records that the hold was reached.
    #[serde(default)]
    pub hold: bool,
    #[serde(default)]
    pub backup: Vec<Spanned<String>>,
    #[serde(default)]
    pub forbid: Vec<Spanned<String>>,
    #[serde(default)]
    pub effects: Effects,
    #[serde(default)]
    pub negative: Vec<NegativeTest>,
    #[serde(default)]
    pub measure: Vec<Measure>,
    /// This step's timeouts, key by key overriding `[pack.timeouts]` (e.g. a long backfill).
    #[serde(default)]
    pub timeouts: Option<StepTimeouts>,
    /// What the rollback deliberately leaves in place (doc 97: retire-not-delete keeps the
    /// rows; the F-83-1 trigger fix is kept): object references, or `rows schema.table`.
    #[serde(default)]
    pub rollback_keeps: Vec<Spanned<String>>,
    /// A batched step (a large backfill): its one statement repeats, each run in its own
    /// short transaction, until a run changes no row. See docs/pack-format.md.
    #[serde(default)]
    pub batch: Option<Spanned<BatchSpec>>,
}

/// `batch = { ... }` of a step: how its single, self-limiting statement is repeated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// How many batches `rehearse` runs (in one transaction it rolls back).
    #[serde(default = "one")]
    pub rehearse: u32,
    /// A bound the server enforces: no batch past this one (0 = none).
    #[serde(default)]
    pub max_batches: u32,
    /// Is the rollback batched too (its file's one statement repeated the same way)?
    #[serde(default = "yes")]
    pub rollback: bool,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Effects {
    #[serde(default)]
    pub create: Vec<Spanned<String>>,
    #[serde(default)]
    pub alter: Vec<Spanned<String>>,
    #[serde(default)]
    pub drop: Vec<Spanned<String>>,
    #[serde(default)]
    pub rows: BTreeMap<String, RowCounts>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RowCounts {
    #[serde(default)]
    pub insert: i64,
    #[serde(default)]
    pub update: i64,
    #[serde(default)]
    pub delete: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeTest {
    pub name: String,
    pub sql: String,
    pub sqlstate: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    pub name: String,
    pub sql: String,
}

/// Effects resolved to object references (validated at load).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvedEffects {
    pub create: BTreeSet<ObjectRef>,
    pub alter: BTreeSet<ObjectRef>,
    pub drop: BTreeSet<ObjectRef>,
    /// Keyed by `schema.table`.
    pub rows: BTreeMap<String, RowCounts>,
}

/// A validated manifest plus the resolved forms the rest of the tool uses.
#[derive(Debug, Clone)]
pub struct Pack {
    pub dir: std::path::PathBuf,
    pub manifest_src: String,
    pub manifest: Manifest,
    pub timeouts: TimeoutValues,
    pub max_rehearsal_age: Duration,
    pub max_backup_age: Duration,
    pub effects: Vec<ResolvedEffects>,
    pub forbids: Vec<Vec<ForbidRule>>,
    pub protected: BTreeSet<String>,
    pub organic: BTreeSet<String>,
    /// Per step: what its rollback keeps (objects) and the tables whose row counts it keeps.
    pub keeps: Vec<(BTreeSet<ObjectRef>, BTreeSet<String>)>,
    /// Per step: the pack's timeouts with the step's `[step.timeouts]` applied.
    pub step_timeouts: Vec<TimeoutValues>,
    /// `[pack.lint] profile`.
    pub lint_profile: LintProfile,
}

impl Pack {
    pub fn id(&self) -> &str {
        self.manifest.pack.id.get_ref()
    }

    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.manifest.step.iter().position(|s| s.id.get_ref() == id)
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.manifest.step.iter().find(|s| s.id.get_ref() == id)
    }

    /// The timeouts the runner sets for step `step_idx` (the pack's, overridden key by key
    /// by the step's `[step.timeouts]`); the pack's for an index out of range.
    pub fn timeouts_for(&self, step_idx: usize) -> TimeoutValues {
        self.step_timeouts
            .get(step_idx)
            .copied()
            .unwrap_or(self.timeouts)
    }

    pub fn step_ids(&self) -> Vec<String> {
        self.manifest
            .step
            .iter()
            .map(|s| s.id.get_ref().clone())
            .collect()
    }
}

impl Step {
    pub fn id(&self) -> &str {
        self.id.get_ref()
    }
    pub fn gate_names(&self) -> Vec<String> {
        self.gates.iter().map(|g| g.get_ref().clone()).collect()
    }
    pub fn rollback_gate_names(&self) -> Vec<String> {
        match &self.rollback_gates {
            Some(g) => g.iter().map(|g| g.get_ref().clone()).collect(),
            None => self.gate_names(),
        }
    }
    pub fn requires_ids(&self) -> Vec<String> {
        self.requires.iter().map(|r| r.get_ref().clone()).collect()
    }
}

/// Every key the manifest accepts, by table, for "did you mean" suggestions.
const KNOWN_KEYS: &[&str] = &[
    "pack",
    "invariant",
    "gate",
    "step",
    "id",
    "title",
    "preflight",
    "verify",
    "protected",
    "organic",
    "allowed_signers",
    "target",
    "timeouts",
    "lint",
    "max_rehearsal_age",
    "max_backup_age",
    "fail_on_residue",
    "evidence_dir",
    "database",
    "environment",
    "system_identifier",
    "server_version",
    "statement",
    "lock",
    "idle_in_transaction",
    "require_header",
    "severity",
    "profile",
    "name",
    "sql",
    "expect",
    "kind",
    "signers",
    "quorum",
    "file",
    "rollback",
    "requires",
    "gates",
    "rollback_gates",
    "transactional",
    "one_way",
    "irreversible_reason",
    "hold",
    "backup",
    "forbid",
    "effects",
    "negative",
    "measure",
    "rollback_keeps",
    "create",
    "alter",
    "drop",
    "rows",
    "insert",
    "update",
    "delete",
    "sqlstate",
    "batch",
    "max_batches",
    "rehearse",
];

/// Closest known key, if it is close enough to be a typo.
pub fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(_, c)| c.to_string())
}

fn toml_error(file: &str, src: &str, e: toml::de::Error) -> SourceError {
    let msg = e.message().trim().to_string();
    let mut err = SourceError::new(file, src, msg.clone());
    if let Some(span) = e.span() {
        err = err.span(span.start, span.end.saturating_sub(span.start).max(1));
    }
    // "unknown field `x`, expected one of `a`, `b`": suggest the nearest expected key.
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some(end) = rest.find('`') {
            let bad = &rest[..end];
            let expected: Vec<&str> = rest[end + 1..]
                .split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect();
            let pool: Vec<&str> = if expected.is_empty() {
                KNOWN_KEYS.to_vec()
            } else {
                expected
            };
            if let Some(s) = suggest(bad, &pool) {
                err = err.help(format!("did you mean `{s}`?"));
            } else {
                err = err.help("remove the key; docs/pack-format.md lists every key");
            }
        }
    }
    err
}

/// Validation context: collects the first error with its span.
struct V<'a> {
    file: &'a str,
    src: &'a str,
}

impl V<'_> {
    fn err<T>(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> SourceError {
        let _ = std::marker::PhantomData::<T>;
        let mut e = SourceError::new(self.file, self.src, msg);
        if span.end > span.start {
            e = e.span(span.start, span.end - span.start);
        }
        e
    }
}

/// A batched step repeats one write in short transactions: it needs a transaction to
/// scope each batch to, and a hold or a transaction-less step has none.
fn check_batch(v: &V<'_>, step: &Step) -> Result<(), SourceError> {
    let Some(b) = &step.batch else {
        return Ok(());
    };
    let why = if !step.transactional {
        Some("a batched step runs each batch in its own transaction: it cannot be `transactional = false`")
    } else if step.hold {
        Some("a HOLD step runs nothing: it cannot be batched")
    } else if !step.negative.is_empty() {
        Some("a batched step has no negative tests: each batch is its own short transaction with nothing but the repeated write; test the constraint in the step that adds it")
    } else if b.get_ref().rehearse == 0 {
        Some("batch.rehearse must be at least 1: the rehearsal runs the first batch(es)")
    } else {
        None
    };
    match why {
        Some(msg) => Err(v
            .err::<()>(b.span(), format!("step `{}`: {msg}", step.id.get_ref()))
            .help("see docs/pack-format.md, \"Batched steps\"")),
        None => Ok(()),
    }
}

/// Parses and validates a manifest from text. `dir` is the pack folder (for the `Pack`).
pub fn parse(file: &str, src: &str, dir: &std::path::Path) -> Result<Pack, SourceError> {
    let manifest: Manifest = toml::from_str(src).map_err(|e| toml_error(file, src, e))?;
    let v = V { file, src };

    let id = manifest.pack.id.get_ref();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(v
            .err::<()>(
                manifest.pack.id.span(),
                format!("pack id `{id}` must match [a-z0-9-]+"),
            )
            .help("use lower-case letters, digits and dashes, e.g. `phase1-governance`"));
    }
    if manifest.pack.target.database.trim().is_empty() {
        return Err(SourceError::new(
            file,
            src,
            "[pack.target] database must not be empty",
        ));
    }

    if let Some(sv) = &manifest.pack.target.server_version {
        if parse_major(sv).is_none() {
            return Err(SourceError::new(
                file,
                src,
                format!("[pack.target] server_version `{sv}` is not a PostgreSQL version"),
            )
            .help("write the server's major version, e.g. server_version = \"15\""));
        }
    }

    let t = &manifest.pack.timeouts;
    let dur = |s: &Spanned<String>| -> Result<Duration, SourceError> {
        let d = duration::parse(s.get_ref()).map_err(|m| v.err::<()>(s.span(), m))?;
        if d.is_zero() {
            return Err(v
                .err::<()>(s.span(), "a timeout of 0 disables it")
                .help("stepgate requires every timeout to be set; give a positive duration"));
        }
        Ok(d)
    };
    let timeouts = TimeoutValues {
        statement: dur(&t.statement)?,
        lock: dur(&t.lock)?,
        idle_in_transaction: dur(&t.idle_in_transaction)?,
    };
    let age = |s: &Option<Spanned<String>>, default: Duration| -> Result<Duration, SourceError> {
        match s {
            Some(s) => duration::parse(s.get_ref()).map_err(|m| v.err::<()>(s.span(), m)),
            None => Ok(default),
        }
    };
    let max_rehearsal_age = age(
        &manifest.pack.max_rehearsal_age,
        Duration::from_secs(24 * 3600),
    )?;
    let max_backup_age = age(&manifest.pack.max_backup_age, Duration::from_secs(3600))?;

    for (code, sev) in &manifest.pack.lint.severity {
        if !["error", "warning", "off"].contains(&sev.get_ref().as_str()) {
            return Err(v.err::<()>(
                sev.span(),
                format!("severity of {code} must be \"error\", \"warning\" or \"off\""),
            ));
        }
        let codes: Vec<&str> = crate::core::lint::rules::all()
            .iter()
            .map(|r| r.code())
            .collect();
        if !codes.contains(&code.as_str()) {
            let mut e = v.err::<()>(
                sev.span(),
                format!("[pack.lint] severity names `{code}`, which is not a stepgate rule"),
            );
            e = match suggest(code, &codes) {
                Some(s) => e.help(format!("did you mean `{s}`? (`stepgate rules` lists them)")),
                None => e.help("`stepgate rules` lists the codes"),
            };
            return Err(e);
        }
        if ["SG001", "SG002"].contains(&code.as_str()) && sev.get_ref() != "error" {
            return Err(v.err::<()>(sev.span(), format!("{code} reports bad input (a file that is missing or does not parse); it cannot be downgraded")));
        }
    }
    let lint_profile = match &manifest.pack.lint.profile {
        None => LintProfile::Plain,
        Some(p) => match p.get_ref().as_str() {
            "plain" => LintProfile::Plain,
            "sections" => LintProfile::Sections,
            other => {
                return Err(v
                    .err::<()>(
                        p.span(),
                        format!("[pack.lint] profile `{other}` is not \"plain\" or \"sections\""),
                    )
                    .help("\"plain\": step files are plain SQL and the runner wraps them; \"sections\": the A–I section discipline"))
            }
        },
    };
    // Gates with a special meaning must be signed by people: a query cannot lift a halt.
    for special in ["resume", "restore", "one_way"] {
        if let Some(g) = manifest.gate.get(special) {
            if g.kind != GateKind::Signature {
                return Err(v
                    .err::<()>(
                        find_table_header(src, &format!("gate.{special}")),
                        format!("gate `{special}` must be a signature gate"),
                    )
                    .help(
                        "resume, restore and one_way authorize by signatures of registered signers",
                    ));
            }
        }
    }
    // Queries the runner executes outside the step file must parse, and the ones that
    // only observe must be read-only.
    for inv in &manifest.invariant {
        read_only_query(file, src, &format!("invariant `{}`", inv.name), &inv.sql)?;
    }

    let table_name = |s: &Spanned<String>| -> Result<String, SourceError> {
        ObjectRef::parse(&format!("table {}", s.get_ref()))
            .map(|r| r.name)
            .map_err(|e| v.err::<()>(s.span(), e.to_string()))
    };
    let protected: BTreeSet<String> = manifest
        .pack
        .protected
        .iter()
        .map(&table_name)
        .collect::<Result<_, _>>()?;
    let organic: BTreeSet<String> = manifest
        .pack
        .organic
        .iter()
        .map(&table_name)
        .collect::<Result<_, _>>()?;

    // Gates.
    for (name, gate) in &manifest.gate {
        let gate_span = find_table_header(src, &format!("gate.{name}"));
        // Gate names become parts of approval file names: nothing that could leave the folder.
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(v.err::<()>(
                gate_span,
                format!("gate name `{name}` must match [A-Za-z0-9_-]+"),
            ));
        }
        match gate.kind {
            GateKind::Signature => {
                if gate.signers.is_empty() {
                    return Err(v
                        .err::<()>(
                            gate_span,
                            format!("signature gate `{name}` names no signers"),
                        )
                        .help("add `signers = [\"principal@example.org\"]`"));
                }
                if gate.sql.is_some() {
                    return Err(v.err::<()>(
                        gate_span,
                        format!("signature gate `{name}` has a `sql` key; only sql gates do"),
                    ));
                }
                let q = gate.quorum.as_ref().map(|q| (*q.get_ref(), q.span()));
                if let Some((q, span)) = q {
                    if q < 1 {
                        return Err(v
                            .err::<()>(span, format!("quorum of gate `{name}` must be at least 1"))
                            .help("a quorum of 0 would let anyone through; delete the gate from the step instead"));
                    }
                    if q as usize > gate.signers.len() {
                        return Err(v.err::<()>(
                            span,
                            format!(
                                "quorum {q} of gate `{name}` exceeds its {} signer(s)",
                                gate.signers.len()
                            ),
                        ));
                    }
                }
            }
            GateKind::Sql => {
                if gate.sql.as_deref().map(str::trim).unwrap_or("").is_empty() {
                    return Err(v
                        .err::<()>(gate_span, format!("sql gate `{name}` has no `sql` query"))
                        .help("e.g. sql = \"SELECT 1 FROM approvals WHERE step_ref = $1\""));
                }
                if !gate.signers.is_empty() || gate.quorum.is_some() {
                    return Err(v.err::<()>(
                        gate_span,
                        format!("sql gate `{name}` cannot have signers or a quorum"),
                    ));
                }
            }
        }
    }

    // Steps.
    let mut seen = BTreeSet::new();
    let mut effects = Vec::new();
    let mut forbids = Vec::new();
    let mut keeps = Vec::new();
    let mut step_timeouts = Vec::new();
    for step in &manifest.step {
        let sid = step.id.get_ref();
        let mut st = timeouts;
        if let Some(t) = &step.timeouts {
            if let Some(s) = &t.statement {
                st.statement = dur(s)?;
            }
            if let Some(s) = &t.lock {
                st.lock = dur(s)?;
            }
            if let Some(s) = &t.idle_in_transaction {
                st.idle_in_transaction = dur(s)?;
            }
        }
        step_timeouts.push(st);
        check_batch(&v, step)?;
        if sid.is_empty()
            || !sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(v.err::<()>(
                step.id.span(),
                format!("step id `{sid}` must match [A-Za-z0-9_-]+"),
            ));
        }
        if !seen.insert(sid.clone()) {
            return Err(v.err::<()>(step.id.span(), format!("duplicate step id `{sid}`")));
        }
        if step.file.is_none() && !step.hold {
            return Err(v
                .err::<()>(step.id.span(), format!("step `{sid}` has no `file`"))
                .help("every step names its SQL file; only a `hold = true` step has none"));
        }
        if step.hold && (step.file.is_some() || step.rollback.is_some()) {
            return Err(v.err::<()>(
                step.id.span(),
                format!("hold step `{sid}` must not name a file or a rollback"),
            ));
        }
        if step.one_way
            && step
                .irreversible_reason
                .as_deref()
                .map(str::trim)
                .unwrap_or("")
                .is_empty()
        {
            return Err(v
                .err::<()>(
                    step.id.span(),
                    format!("step `{sid}` is one_way but gives no irreversible_reason"),
                )
                .help("say why it cannot be undone: irreversible_reason = \"...\""));
        }
        for g in step
            .gates
            .iter()
            .chain(step.rollback_gates.iter().flatten())
        {
            if !manifest.gate.contains_key(g.get_ref()) {
                let names: Vec<&str> = manifest.gate.keys().map(String::as_str).collect();
                let mut e = v.err::<()>(
                    g.span(),
                    format!(
                        "step `{sid}` names gate `{}`, which is not declared",
                        g.get_ref()
                    ),
                );
                e = match suggest(g.get_ref(), &names) {
                    Some(s) => e.help(format!("did you mean `{s}`?")),
                    None => e.help(format!("declare it as [gate.{}]", g.get_ref())),
                };
                return Err(e);
            }
        }
        let mut res = ResolvedEffects::default();
        for (list, out) in [
            (&step.effects.create, &mut res.create),
            (&step.effects.alter, &mut res.alter),
            (&step.effects.drop, &mut res.drop),
        ] {
            for e in list {
                let r = ObjectRef::parse(e.get_ref())
                    .map_err(|m| v.err::<()>(e.span(), m.to_string()))?;
                out.insert(r);
            }
        }
        for (table, counts) in &step.effects.rows {
            let name = ObjectRef::parse(&format!("table {table}"))
                .map_err(|m| {
                    SourceError::new(file, src, format!("step `{sid}` effects.rows: {m}"))
                })?
                .name;
            if counts.insert < 0 || counts.update < 0 || counts.delete < 0 {
                return Err(SourceError::new(
                    file,
                    src,
                    format!("step `{sid}` effects.rows `{table}`: counts cannot be negative"),
                ));
            }
            res.rows.insert(name, *counts);
        }
        effects.push(res);
        let mut fs = Vec::new();
        for f in &step.forbid {
            fs.push(ForbidRule::parse(f.get_ref()).map_err(|m| v.err::<()>(f.span(), m))?);
        }
        forbids.push(fs);
        let mut keep_objs = BTreeSet::new();
        let mut keep_rows = BTreeSet::new();
        for k in &step.rollback_keeps {
            let text = k.get_ref().trim();
            if let Some(t) = text.strip_prefix("rows ") {
                let name = ObjectRef::parse(&format!("table {t}"))
                    .map_err(|m| v.err::<()>(k.span(), m.to_string()))?
                    .name;
                keep_rows.insert(name);
            } else {
                keep_objs.insert(ObjectRef::parse(text).map_err(|m| {
                    v.err::<()>(k.span(), m.to_string()).help("rollback_keeps lists object references (`trigger public.t.trg`) or `rows schema.table`")
                })?);
            }
        }
        keeps.push((keep_objs, keep_rows));
        for m in &step.measure {
            if m.name.trim().is_empty()
                || m.name.contains(['/', '\\'])
                || m.name.contains("..")
                || m.name.chars().any(char::is_control)
            {
                return Err(v.err::<()>(
                    step.id.span(),
                    format!("step `{sid}` measure name `{}` must be a plain name (no slashes, no `..`): it names the evidence files", m.name),
                ));
            }

            read_only_query(
                file,
                src,
                &format!("step `{sid}` measure `{}`", m.name),
                &m.sql,
            )?;
        }
        for n in &step.negative {
            crate::core::sql::parse_file(file, &n.sql).map_err(|e| {
                SourceError::new(
                    file,
                    src,
                    format!("step `{sid}` negative test `{}`: {}", n.name, e.message),
                )
            })?;

            if n.sqlstate.len() != 5 || !n.sqlstate.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(SourceError::new(
                    file,
                    src,
                    format!("step `{sid}` negative test `{}`: sqlstate `{}` is not a 5-character SQLSTATE", n.name, n.sqlstate),
                )
                .help("e.g. 23505 unique_violation, 23503 foreign_key_violation, 23514 check_violation"));
            }
        }
    }
    for step in &manifest.step {
        for r in &step.requires {
            if !seen.contains(r.get_ref()) {
                let ids: Vec<&str> = seen.iter().map(String::as_str).collect();
                let mut e = v.err::<()>(
                    r.span(),
                    format!(
                        "step `{}` requires unknown step `{}`",
                        step.id.get_ref(),
                        r.get_ref()
                    ),
                );
                if let Some(s) = suggest(r.get_ref(), &ids) {
                    e = e.help(format!("did you mean `{s}`?"));
                }
                return Err(e);
            }
            if r.get_ref() == step.id.get_ref() {
                return Err(
                    v.err::<()>(r.span(), format!("step `{}` requires itself", r.get_ref()))
                );
            }
        }
    }
    if let Some(cycle) = find_cycle(&manifest.step) {
        return Err(SourceError::new(
            file,
            src,
            format!("steps require each other in a cycle: {}", cycle.join(" → ")),
        )
        .help("`requires` must form a DAG: break the cycle"));
    }

    Ok(Pack {
        dir: dir.to_path_buf(),
        manifest_src: src.to_string(),
        timeouts,
        max_rehearsal_age,
        max_backup_age,
        effects,
        forbids,
        protected,
        organic,
        keeps,
        step_timeouts,
        lint_profile,
        manifest,
    })
}

/// A query from the manifest must parse and only read.
fn read_only_query(file: &str, src: &str, what: &str, sql: &str) -> Result<(), SourceError> {
    let parsed = crate::core::sql::parse_file(file, sql)
        .map_err(|e| SourceError::new(file, src, format!("{what}: {}", e.message)))?;
    if parsed.statements.is_empty() {
        return Err(SourceError::new(
            file,
            src,
            format!("{what}: the query is empty"),
        ));
    }
    if let Some(st) = parsed.statements.iter().find(|s| !s.is_read_only()) {
        return Err(SourceError::new(
            file,
            src,
            format!(
                "{what}: `{}` is not read-only",
                st.text.lines().next().unwrap_or("")
            ),
        )
        .help("invariants and measurements observe; they must be plain SELECTs"));
    }
    Ok(())
}

fn find_table_header(src: &str, header: &str) -> std::ops::Range<usize> {
    let needle = format!("[{header}]");
    src.find(&needle)
        .map(|i| i..i + needle.len())
        .unwrap_or(0..0)
}

/// A cycle in `requires`, as step ids, if any.
pub fn find_cycle(steps: &[Step]) -> Option<Vec<String>> {
    let ids: Vec<&str> = steps.iter().map(|s| s.id.get_ref().as_str()).collect();
    let idx = |id: &str| ids.iter().position(|x| *x == id);
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut state = vec![0u8; steps.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        i: usize,
        steps: &[Step],
        idx: &dyn Fn(&str) -> Option<usize>,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for r in &steps[i].requires {
            if let Some(j) = idx(r.get_ref()) {
                if state[j] == 1 {
                    let pos = stack.iter().position(|x| *x == j).unwrap_or(0);
                    let mut c = stack[pos..].to_vec();
                    c.push(j);
                    return Some(c);
                }
                if state[j] == 0 {
                    if let Some(c) = visit(j, steps, idx, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..steps.len() {
        if state[i] == 0 {
            if let Some(c) = visit(i, steps, &idx, &mut state, &mut stack) {
                return Some(c.into_iter().map(|k| ids[k].to_string()).collect());
            }
        }
    }
    None
}

/// Reads `PACK/stepgate.toml` (UTF-8 required) and validates it.
pub fn load(dir: &std::path::Path) -> Result<Pack, SourceError> {
    let path = dir.join(MANIFEST_FILE);
    let display = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(|e| {
        let mut err = SourceError::new(&display, "", format!("cannot read the manifest: {e}"));
        if e.kind() == std::io::ErrorKind::NotFound {
            err = err.help(format!(
                "a pack is a folder with a {MANIFEST_FILE}; create one with `stepgate init {}`",
                dir.display()
            ));
        }
        err
    })?;
    let src = String::from_utf8(bytes).map_err(|e| {
        let pos = e.utf8_error().valid_up_to();
        let lossy = String::from_utf8_lossy(e.as_bytes()).to_string();
        SourceError::new(&display, lossy, "the manifest is not valid UTF-8").span(pos, 1)
    })?;
    parse(&display, &src, dir)
}

/// Kinds that can appear in effects lists, for documentation and `stepgate rules`.
pub fn effect_kinds() -> Vec<&'static str> {
    ObjKind::ALL.iter().map(|k| k.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const GOOD: &str = r#"
[pack]
id = "p1"
title = "t"
[pack.target]
database = "directus"
[gate.M-1]
kind = "signature"
signers = ["a@x"]
[[step]]
id = "1"
name = "one"
file = "01.sql"
gates = ["M-1"]
[step.effects]
create = ["table t"]
rows = { "evolution_snapshots" = { insert = 1 } }
[[step]]
id = "2"
name = "two"
file = "02.sql"
requires = ["1"]
"#;

    #[test]
    fn loads_good_manifest() {
        let p = parse("m", GOOD, Path::new(".")).unwrap();
        assert_eq!(p.id(), "p1");
        assert_eq!(p.timeouts.lock, Duration::from_secs(3));
        assert!(p.effects[0]
            .create
            .contains(&ObjectRef::parse("table public.t").unwrap()));
        assert_eq!(p.effects[0].rows["public.evolution_snapshots"].insert, 1);
    }

    #[test]
    fn unknown_key_suggests() {
        let bad = GOOD.replace("requires = [\"1\"]", "requries = [\"1\"]");
        let e = parse("m", &bad, Path::new(".")).unwrap_err();
        assert!(e.message.contains("requries"), "{}", e.message);
        assert_eq!(
            e.help.as_deref(),
            Some("did you mean `requires`?"),
            "{}",
            e.message
        );
        assert!(e.line_col().is_some());
    }

    #[test]
    fn semantic_errors_have_lines() {
        let bad = GOOD.replace("gates = [\"M-1\"]", "gates = [\"M-2\"]");
        let e = parse("m", &bad, Path::new(".")).unwrap_err();
        assert!(e.message.contains("M-2"));
        assert_eq!(e.line_col().unwrap().0, 14);
        let bad = GOOD.replace("id = \"p1\"", "id = \"P 1\"");
        assert!(parse("m", &bad, Path::new(".")).is_err());
        let bad = GOOD.replace("requires = [\"1\"]", "requires = [\"9\"]");
        assert!(parse("m", &bad, Path::new(".")).is_err());
        let bad = GOOD.replace("create = [\"table t\"]", "create = [\"tabel t\"]");
        assert!(parse("m", &bad, Path::new(".")).is_err());
    }

    #[test]
    fn detects_cycles() {
        let bad = GOOD.replace("name = \"one\"", "name = \"one\"\nrequires = [\"2\"]");
        let e = parse("m", &bad, Path::new(".")).unwrap_err();
        assert!(e.message.contains("cycle"), "{}", e.message);
    }

    #[test]
    fn quorum_zero_refused() {
        let bad = GOOD.replace("signers = [\"a@x\"]", "signers = [\"a@x\"]\nquorum = 0");
        assert!(parse("m", &bad, Path::new(".")).is_err());
    }
}
