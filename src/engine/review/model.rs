//! The review package as data: everything an approver reads, built from the pack and,
//! when a database was reached, from its ledger and catalog ([`Live`]). It serialises
//! as is (`stepgate review --json`) and is the only input of both renderings, so the
//! Markdown, the HTML and the JSON always say the same things.

use super::live::{Live, TableCatalog};
use super::{safety, GateView};
use crate::core::approval::Action;
use crate::core::lint::rules::sg132_lock_report::{step_locks, StepLock};
use crate::core::lint::{self, Diagnostic, LintContext};
use crate::core::manifest::{GateKind, Pack, Step, TimeoutValues};
use crate::core::objects::{ObjKind, Verb};
use crate::engine::pack::LoadedPack;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What a review package is made from.
pub struct ReviewInput<'a> {
    pub loaded: &'a LoadedPack,
    /// `None` = every step.
    pub step: Option<&'a str>,
    /// What the database said, when one was reached.
    pub live: Option<&'a Live>,
    /// Why no database was read (said once, at the top), when none was.
    pub offline_reason: Option<String>,
    pub generated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewModel {
    /// `stepgate-review/1`.
    pub format: String,
    pub generated_at: String,
    pub pack: PackFacts,
    pub database: DatabaseFacts,
    /// Every step of the pack, one row each.
    pub overview: Vec<StepRow>,
    /// The step asked for, when the pack has no such step.
    pub missing_step: Option<String>,
    /// The steps in this package.
    pub steps: Vec<StepReview>,
}

/// Facts that hold for every step: said once, at the top.
#[derive(Debug, Clone, Serialize)]
pub struct PackFacts {
    pub id: String,
    pub title: String,
    pub database: String,
    pub environment: Option<String>,
    pub system_identifier: Option<String>,
    pub manifest_sha256: String,
    pub folder: String,
    pub timeouts: Timeouts,
    pub max_rehearsal_age: String,
    pub max_backup_age: String,
    pub fail_on_residue: bool,
    pub gates: Vec<GateFacts>,
    pub invariants: Vec<InvariantFacts>,
    pub protected: Vec<String>,
    pub organic: Vec<String>,
    pub verify_file: Option<String>,
    /// Checks the runner makes before every step, whatever its kind.
    pub checks: Vec<SafetyItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub statement: String,
    pub lock: String,
    pub idle_in_transaction: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateFacts {
    pub name: String,
    /// `signature` or `sql`.
    pub kind: String,
    pub quorum: u32,
    pub signers: Vec<String>,
    pub sql: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvariantFacts {
    pub name: String,
    pub expect: String,
    pub sql: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseFacts {
    pub connected: bool,
    /// Where the connection went (host, port, database), when it was reached.
    pub target: Option<String>,
    /// Why nothing was read from a database, when nothing was.
    pub offline_reason: Option<String>,
    pub halted: Option<crate::engine::status::Halt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub id: String,
    pub name: String,
    pub gates: Vec<String>,
    pub kind: Vec<String>,
    pub ledger_state: Option<String>,
    pub included: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// The default: one transaction, rehearsed inside BEGIN..ROLLBACK.
    Transactional,
    /// `transactional = false`: each statement commits as it runs.
    NonTransactional,
    /// Builds nothing: applying it records that the hold was reached.
    Hold,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReview {
    pub id: String,
    pub name: String,
    /// 1-based position in the pack.
    pub position: usize,
    pub kind: StepKind,
    pub one_way: bool,
    pub irreversible_reason: Option<String>,
    pub file: Option<FileFacts>,
    pub rollback: Option<FileFacts>,
    pub requires: Vec<String>,
    /// Only when `[step.timeouts]` makes them differ from the pack's.
    pub timeouts: Option<Timeouts>,
    pub gates: Vec<StepGate>,
    /// A one-way step in a pack without a `one_way` gate: apply refuses it.
    pub missing_one_way_gate: bool,
    pub effects: EffectsFacts,
    pub forbid: Vec<String>,
    pub rehearsal: RehearsalFacts,
    pub written_tables: Vec<WrittenTable>,
    pub locks: Vec<StepLock>,
    pub plan: PlanFacts,
    pub safety: Vec<SafetyItem>,
    pub negatives: Vec<NegativeFacts>,
    pub measures: Vec<MeasureFacts>,
    pub backup_tables: Vec<String>,
    /// `None`: the step's own gates.
    pub rollback_gates: Option<Vec<String>>,
    pub lint: Vec<Finding>,
    pub ledger: Option<LedgerFacts>,
    pub sign: Vec<SignFacts>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileFacts {
    pub path: String,
    pub sha256: Option<String>,
    pub text: Option<String>,
    /// Why the file could not be shown.
    pub error: Option<String>,
    /// Lines with lint findings.
    pub flagged_lines: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepGate {
    pub name: String,
    /// Added by the runner because the step is a one-way door.
    pub added_for_one_way: bool,
    /// Live result, when a database was read.
    pub live: Option<GateView>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EffectsFacts {
    pub create: Vec<String>,
    pub alter: Vec<String>,
    pub drop: Vec<String>,
    pub rows: Vec<RowFacts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RowFacts {
    pub table: String,
    pub insert: i64,
    pub update: i64,
    pub delete: i64,
}

/// How the last rehearsal's measured delta compares with the declared effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeltaMarker {
    /// No ledger was read.
    Unknown,
    /// The ledger has no rehearsal of this step.
    NeverRehearsed,
    /// A `transactional = false` step: it cannot run inside BEGIN..ROLLBACK.
    NotRehearsable,
    /// The last rehearsal was of other bytes or another plan.
    NotRehearsedSinceChange,
    /// The last rehearsal stopped before it measured anything.
    NotMeasured,
    Matches,
    Differs,
}

#[derive(Debug, Clone, Serialize)]
pub struct RehearsalFacts {
    pub marker: DeltaMarker,
    pub at: Option<String>,
    pub verdict: Option<String>,
    pub elapsed_ms: Option<u64>,
    /// `create/alter/drop <object>` measured, as the ledger recorded them.
    pub measured_objects: Vec<String>,
    pub measured_rows: Vec<RowFacts>,
    /// What the rehearsal itself found different (item, declared, measured).
    pub mismatches: Vec<crate::core::effects::Mismatch>,
}

/// A table the step writes rows of, and what writing it sets off.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenTable {
    pub table: String,
    /// `insert`, `update`, `delete`: what the step does to it.
    pub writes: Vec<String>,
    /// `None`: the catalog was not read.
    pub catalog: Option<TableCatalog>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanFacts {
    /// The sha256 every apply approval binds; `None` when the plan cannot be built.
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub statements: Vec<PlanStatement>,
    /// Read-only assertions before the transaction, and checks after it.
    pub pre: usize,
    pub post: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanStatement {
    pub n: usize,
    pub sql: String,
    pub writes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyItem {
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NegativeFacts {
    pub name: String,
    pub sqlstate: String,
    pub sqlstate_name: Option<String>,
    pub sql: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureFacts {
    pub name: String,
    pub sql: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: String,
    pub severity: String,
    pub file: String,
    pub line: usize,
    pub message: String,
    pub help: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerFacts {
    pub state: String,
    pub at: Option<String>,
    pub interrupted: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignFacts {
    pub gate: String,
    /// The statement `stepgate approve` signs, with placeholders.
    pub statement: String,
    pub signers: Vec<String>,
}

/// Builds the model.
pub fn build(input: &ReviewInput) -> ReviewModel {
    let loaded = input.loaded;
    let pack = &loaded.pack;
    let diags = lint::run(pack, &loaded.sources);
    let ctx = LintContext::new(pack, &loaded.sources);
    let selected: Vec<usize> = (0..pack.manifest.step.len())
        .filter(|i| {
            input
                .step
                .is_none_or(|id| pack.manifest.step[*i].id() == id)
        })
        .collect();
    let steps = selected
        .iter()
        .map(|&i| build_step(input, &ctx, &diags, i))
        .collect();
    ReviewModel {
        format: "stepgate-review/1".into(),
        generated_at: input.generated_at.clone(),
        pack: pack_facts(loaded),
        database: DatabaseFacts {
            connected: input.live.is_some(),
            target: input.live.map(|l| l.target.clone()),
            offline_reason: match input.live {
                Some(_) => None,
                None => Some(
                    input
                        .offline_reason
                        .clone()
                        .unwrap_or_else(|| "no database was given".into()),
                ),
            },
            halted: input.live.and_then(|l| l.halted.clone()),
        },
        overview: overview(input, &selected),
        missing_step: input
            .step
            .filter(|_| selected.is_empty())
            .map(str::to_string),
        steps,
    }
}

pub(super) fn fmt_duration(d: Duration) -> String {
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

fn timeouts(t: &TimeoutValues) -> Timeouts {
    Timeouts {
        statement: fmt_duration(t.statement),
        lock: fmt_duration(t.lock),
        idle_in_transaction: fmt_duration(t.idle_in_transaction),
    }
}

fn age_text(declared: &Option<toml::Spanned<String>>, value: Duration) -> String {
    match declared {
        Some(s) => s.get_ref().clone(),
        None => format!("{} (default)", fmt_duration(value)),
    }
}

fn pack_facts(loaded: &LoadedPack) -> PackFacts {
    let pack = &loaded.pack;
    let p = &pack.manifest.pack;
    PackFacts {
        id: pack.id().to_string(),
        title: p.title.clone(),
        database: p.target.database.clone(),
        environment: p.target.environment.clone(),
        system_identifier: p.target.system_identifier.clone(),
        manifest_sha256: loaded.manifest_sha256().to_string(),
        folder: loaded.dir().display().to_string(),
        timeouts: timeouts(&pack.timeouts),
        max_rehearsal_age: age_text(&p.max_rehearsal_age, pack.max_rehearsal_age),
        max_backup_age: age_text(&p.max_backup_age, pack.max_backup_age),
        fail_on_residue: p.fail_on_residue,
        gates: pack
            .manifest
            .gate
            .iter()
            .map(|(name, g)| GateFacts {
                name: name.clone(),
                kind: match g.kind {
                    GateKind::Signature => "signature".into(),
                    GateKind::Sql => "sql".into(),
                },
                quorum: g.quorum(),
                signers: g.signers.clone(),
                sql: g.sql.clone(),
            })
            .collect(),
        invariants: pack
            .manifest
            .invariant
            .iter()
            .map(|i| InvariantFacts {
                name: i.name.clone(),
                expect: i.expect.clone(),
                sql: i.sql.clone(),
            })
            .collect(),
        protected: pack.protected.iter().cloned().collect(),
        organic: pack.organic.iter().cloned().collect(),
        verify_file: p.verify.as_ref().map(|v| v.get_ref().clone()),
        checks: safety::pack_wide(),
    }
}

fn step_kind(step: &Step) -> StepKind {
    if step.hold {
        StepKind::Hold
    } else if !step.transactional {
        StepKind::NonTransactional
    } else {
        StepKind::Transactional
    }
}

fn overview(input: &ReviewInput, selected: &[usize]) -> Vec<StepRow> {
    let pack = &input.loaded.pack;
    pack.manifest
        .step
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut kind = Vec::new();
            match step_kind(s) {
                StepKind::Hold => kind.push("hold".to_string()),
                StepKind::NonTransactional => kind.push("not transactional".to_string()),
                StepKind::Transactional => {}
            }
            if s.one_way {
                kind.push("one-way".into());
            }
            StepRow {
                id: s.id().to_string(),
                name: s.name.clone(),
                gates: apply_gates(pack, s).0,
                kind,
                ledger_state: input
                    .live
                    .and_then(|l| l.step_status(s.id()))
                    .map(|x| x.state.clone()),
                included: selected.contains(&i),
            }
        })
        .collect()
}

/// The gates `apply` evaluates for a step: its own, plus the pack's `one_way` gate
/// when the step is a one-way door. The second value is true when the step is a
/// one-way door but the pack declares no `one_way` gate (apply refuses).
pub(super) fn apply_gates(pack: &Pack, step: &Step) -> (Vec<String>, bool) {
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

fn build_step(
    input: &ReviewInput,
    ctx: &LintContext,
    diags: &[Diagnostic],
    index: usize,
) -> StepReview {
    let loaded = input.loaded;
    let pack = &loaded.pack;
    let step = &pack.manifest.step[index];
    let (gate_names, missing_one_way_gate) = apply_gates(pack, step);
    let written = written_tables(ctx, index);
    let plan = plan_facts(loaded, step);
    let rehearsal = super::live::rehearsal_facts(
        input.live,
        step.id(),
        step.file.as_ref().and_then(|f| loaded.sha256(f.get_ref())),
        plan.sha256.as_deref(),
    );
    let backup_tables = crate::engine::backup::tables_for_step(pack, index, &|_| true);
    let kind = step_kind(step);
    let mut rehearsal = rehearsal;
    if kind == StepKind::NonTransactional && rehearsal.at.is_none() {
        rehearsal.marker = DeltaMarker::NotRehearsable;
    }
    let own_timeouts = timeouts(&pack.timeouts_for(index));
    let mut review = StepReview {
        id: step.id().to_string(),
        name: step.name.clone(),
        position: index + 1,
        kind,
        one_way: step.one_way,
        irreversible_reason: step.irreversible_reason.clone(),
        file: step
            .file
            .as_ref()
            .map(|f| file_facts(loaded, f.get_ref(), diags)),
        rollback: step
            .rollback
            .as_ref()
            .map(|f| file_facts(loaded, f.get_ref(), diags)),
        requires: step.requires_ids(),
        timeouts: (own_timeouts != timeouts(&pack.timeouts)).then_some(own_timeouts),
        gates: step_gates(input, step, &gate_names),
        missing_one_way_gate,
        effects: effects_facts(pack, index),
        forbid: pack
            .forbids
            .get(index)
            .map(|f| f.iter().map(|r| r.text.clone()).collect())
            .unwrap_or_default(),
        rehearsal,
        written_tables: written
            .into_iter()
            .map(|(table, writes)| WrittenTable {
                catalog: input.live.map(|l| l.table(&table)),
                table,
                writes: writes.into_iter().map(|v| v.as_str().to_string()).collect(),
            })
            .collect(),
        locks: step_locks(ctx, index),
        plan,
        safety: Vec::new(),
        negatives: negatives(step),
        measures: step
            .measure
            .iter()
            .map(|m| MeasureFacts {
                name: m.name.clone(),
                sql: m.sql.trim_end().to_string(),
            })
            .collect(),
        backup_tables,
        rollback_gates: step
            .rollback_gates
            .as_ref()
            .map(|_| step.rollback_gate_names()),
        lint: findings(loaded, step, diags),
        ledger: input
            .live
            .and_then(|l| l.step_status(step.id()))
            .map(|s| LedgerFacts {
                state: s.state.clone(),
                at: s.state_at.clone(),
                interrupted: s.interrupted_run.clone(),
            }),
        sign: sign_facts(loaded, step, &gate_names),
    };
    review.safety = safety::for_step(&pack_facts(loaded), pack, &review);
    review
}

fn file_facts(loaded: &LoadedPack, rel: &str, diags: &[Diagnostic]) -> FileFacts {
    let (text, error) = match loaded.sources.files.get(rel) {
        Some(Ok(t)) => (Some(t.clone()), None),
        Some(Err(e)) => (None, Some(e.clone())),
        None => (None, Some("not read".to_string())),
    };
    let flagged: BTreeSet<usize> = diags
        .iter()
        .filter(|d| d.file == rel)
        .map(|d| d.line)
        .collect();
    FileFacts {
        path: rel.to_string(),
        sha256: loaded.sha256(rel).map(str::to_string),
        text,
        error,
        flagged_lines: flagged.into_iter().collect(),
    }
}

fn step_gates(input: &ReviewInput, step: &Step, names: &[String]) -> Vec<StepGate> {
    names
        .iter()
        .map(|g| StepGate {
            name: g.clone(),
            added_for_one_way: step.one_way
                && g == "one_way"
                && !step.gates.iter().any(|x| x.get_ref() == "one_way"),
            live: input.live.and_then(|l| {
                l.approvals
                    .iter()
                    .find(|v| v.step == step.id() && v.gate == *g)
                    .cloned()
            }),
        })
        .collect()
}

fn effects_facts(pack: &Pack, index: usize) -> EffectsFacts {
    let Some(e) = pack.effects.get(index) else {
        return EffectsFacts::default();
    };
    let names = |s: &BTreeSet<crate::core::objects::ObjectRef>| -> Vec<String> {
        s.iter().map(|o| o.to_string()).collect()
    };
    EffectsFacts {
        create: names(&e.create),
        alter: names(&e.alter),
        drop: names(&e.drop),
        rows: e
            .rows
            .iter()
            .map(|(t, r)| RowFacts {
                table: t.clone(),
                insert: r.insert,
                update: r.update,
                delete: r.delete,
            })
            .collect(),
    }
}

/// The tables step `index` writes rows of, and how: from its parsed statements, and
/// from its declared row effects (a `DO` block's writes may be known only there).
pub(super) fn written_tables(ctx: &LintContext, index: usize) -> BTreeMap<String, BTreeSet<Verb>> {
    let mut out: BTreeMap<String, BTreeSet<Verb>> = BTreeMap::new();
    if let Some(f) = ctx.step_file(index) {
        for st in &f.sql.statements {
            for t in &st.touches {
                if matches!(t.verb, Verb::Insert | Verb::Update | Verb::Delete)
                    && t.object.kind == ObjKind::Table
                {
                    out.entry(t.object.name.clone()).or_default().insert(t.verb);
                }
            }
        }
    }
    if let Some(e) = ctx.pack.effects.get(index) {
        for (t, r) in &e.rows {
            let verbs = out.entry(t.clone()).or_default();
            for (n, v) in [
                (r.insert, Verb::Insert),
                (r.update, Verb::Update),
                (r.delete, Verb::Delete),
            ] {
                if n != 0 {
                    verbs.insert(v);
                }
            }
        }
    }
    out
}

fn plan_facts(loaded: &LoadedPack, step: &Step) -> PlanFacts {
    match crate::engine::plan::for_action(loaded, step.id(), Action::Apply, None) {
        Ok(p) => PlanFacts {
            sha256: Some(p.sha256()),
            error: None,
            statements: p
                .statements
                .iter()
                .enumerate()
                .map(|(i, s)| PlanStatement {
                    n: i + 1,
                    sql: one_line(s),
                    writes: p.writes.get(i).cloned().unwrap_or_default(),
                })
                .collect(),
            pre: p.pre.len(),
            post: p.post.len() + p.verify.len(),
        },
        Err(e) => PlanFacts {
            sha256: None,
            error: Some(e.to_string()),
            statements: Vec::new(),
            pre: 0,
            post: 0,
        },
    }
}

/// A statement on one line, whitespace runs folded, cut at 160 characters.
fn one_line(s: &str) -> String {
    let folded = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() > 160 {
        let cut: String = folded.chars().take(159).collect();
        format!("{cut}…")
    } else {
        folded
    }
}

fn negatives(step: &Step) -> Vec<NegativeFacts> {
    step.negative
        .iter()
        .map(|n| NegativeFacts {
            name: n.name.clone(),
            sqlstate: n.sqlstate.clone(),
            sqlstate_name: sqlstate_name(&n.sqlstate).map(str::to_string),
            sql: n.sql.trim_end().to_string(),
        })
        .collect()
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

fn findings(loaded: &LoadedPack, step: &Step, diags: &[Diagnostic]) -> Vec<Finding> {
    let files: Vec<&String> = step
        .file
        .iter()
        .chain(step.rollback.iter())
        .map(|f| f.get_ref())
        .collect();
    diags
        .iter()
        .filter(|d| files.iter().any(|f| **f == d.file))
        .map(|d| {
            let src = loaded.text(&d.file).unwrap_or("");
            let line = src.lines().nth(d.line.saturating_sub(1)).unwrap_or("");
            Finding {
                code: d.code.to_string(),
                severity: d.severity.to_string(),
                file: d.file.clone(),
                line: d.line,
                message: d.message.clone(),
                help: d.help.clone(),
                source: one_line(line),
            }
        })
        .collect()
}

fn sign_facts(loaded: &LoadedPack, step: &Step, gate_names: &[String]) -> Vec<SignFacts> {
    gate_names
        .iter()
        .filter_map(|g| {
            let gate = loaded.pack.manifest.gate.get(g.as_str())?;
            (gate.kind == GateKind::Signature).then(|| SignFacts {
                gate: g.clone(),
                statement: super::statement_template(loaded, step, g),
                signers: gate.signers.clone(),
            })
        })
        .collect()
}
