//! What the review package reads from the database when one is reached: the ledger
//! (step states, halt, the last rehearsal of each step with its measured delta), live
//! gate results, and, for each table a step writes, the triggers and foreign-key
//! actions that writing it sets off.

use super::model::{DeltaMarker, RehearsalFacts, RowFacts};
use super::GateView;
use crate::core::approval::{Action, Verdict};
use crate::core::objects::Verb;
use crate::db::ledger::Event;
use crate::engine::session::Session;
use crate::engine::status::{Halt, PackStatus, StepStatus};
use crate::engine::Result;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Everything read from the database, keyed for the model builder.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    /// Where the connection went.
    pub target: String,
    pub halted: Option<Halt>,
    pub steps: Vec<StepStatus>,
    pub approvals: Vec<GateView>,
    /// The last `rehearse` event of each step.
    pub rehearsals: BTreeMap<String, Event>,
    /// Triggers and foreign-key actions per written table (`schema.table`).
    pub tables: BTreeMap<String, TableCatalog>,
}

impl Live {
    /// The live facts of a status read elsewhere (tests, callers that have one).
    pub fn from_status(status: &PackStatus, approvals: Vec<GateView>) -> Live {
        Live {
            target: status.target.clone(),
            halted: status.halted.clone(),
            steps: status.steps.clone(),
            approvals,
            ..Live::default()
        }
    }

    pub fn step_status(&self, id: &str) -> Option<&StepStatus> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The catalog facts of `table`; a table not read (it does not exist yet) has none.
    pub fn table(&self, table: &str) -> TableCatalog {
        self.tables.get(table).cloned().unwrap_or_default()
    }
}

/// What writing one table sets off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableCatalog {
    /// False when the table does not exist yet (the pack creates it).
    pub exists: bool,
    pub triggers: Vec<TriggerFact>,
    pub cascades: Vec<CascadeFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerFact {
    pub name: String,
    /// BEFORE, AFTER or INSTEAD OF.
    pub timing: String,
    /// `row` or `statement`.
    pub level: String,
    /// insert, update, delete, truncate.
    pub events: Vec<String>,
    pub function: String,
    pub enabled: bool,
    /// The step's writes of this table include one of its events.
    pub fires: bool,
}

/// A foreign key of another table that references this one with an action that
/// writes that other table (CASCADE, SET NULL, SET DEFAULT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CascadeFact {
    pub constraint: String,
    /// The referencing table, which the action writes.
    pub child: String,
    pub on_delete: String,
    pub on_update: String,
    /// The step deletes rows of this table and ON DELETE writes the child, or
    /// updates rows and ON UPDATE does (when the referenced key changes).
    pub fires: bool,
}

/// Reads the ledger, the gates and the catalog through an open session.
pub fn gather(
    s: &mut Session,
    steps: &[String],
    written: &BTreeMap<String, BTreeSet<Verb>>,
) -> Result<Live> {
    let events = s.events()?;
    let status = crate::engine::status::from_events(s, &events);
    let mut live = Live::from_status(&status, Vec::new());
    for e in events.iter().filter(|e| e.verb == "rehearse") {
        if let Some(step) = &e.step {
            live.rehearsals.insert(step.clone(), e.clone());
        }
    }
    for sid in steps {
        if s.pack().step(sid).is_some_and(|x| x.hold) {
            continue;
        }
        // A step whose plan cannot be built (its file does not parse) still gets its
        // package: the reason stands where the gate results would.
        match gate_views(s, sid) {
            Ok(v) => live.approvals.extend(v),
            Err(e) => live.approvals.extend(unevaluated(s, sid, &e.to_string())),
        }
    }
    for (table, verbs) in written {
        live.tables
            .insert(table.clone(), table_catalog(&mut s.ledger, table, verbs)?);
    }
    Ok(live)
}

fn gate_views(s: &mut Session, sid: &str) -> Result<Vec<GateView>> {
    let r = crate::engine::gates::evaluate(s, sid, Action::Apply, time::OffsetDateTime::now_utc())?;
    let mut out = Vec::new();
    for gr in &r.signature_gates {
        let signers = s
            .pack()
            .manifest
            .gate
            .get(&gr.gate)
            .map(|g| g.signers.clone())
            .unwrap_or_default();
        out.push(GateView {
            step: sid.to_string(),
            gate: gr.gate.clone(),
            kind: "signature".into(),
            quorum: gr.quorum,
            signers,
            present: gr
                .approvals
                .iter()
                .filter(|a| a.verdict.is_valid())
                .filter_map(|a| a.principal.clone())
                .collect(),
            missing: gr.quorum.saturating_sub(gr.valid),
            notes: gr
                .approvals
                .iter()
                .filter_map(|a| match &a.verdict {
                    Verdict::Invalid(r) => Some(format!("{}: {r}", a.source)),
                    Verdict::Valid => None,
                })
                .collect(),
        });
    }
    for q in &r.sql_gates {
        out.push(GateView {
            step: sid.to_string(),
            gate: q.gate.clone(),
            kind: "sql".into(),
            quorum: 1,
            signers: vec![],
            present: if q.satisfied {
                vec![format!("{} row(s)", q.rows)]
            } else {
                vec![]
            },
            missing: u32::from(!q.satisfied),
            notes: q.error.iter().cloned().collect(),
        });
    }
    Ok(out)
}

/// One "not evaluated" view per gate of the step, carrying why.
fn unevaluated(s: &Session, sid: &str, why: &str) -> Vec<GateView> {
    let Some(step) = s.pack().step(sid) else {
        return Vec::new();
    };
    super::model::apply_gates(s.pack(), step)
        .0
        .into_iter()
        .map(|gate| GateView {
            step: sid.to_string(),
            gate,
            kind: "unevaluated".into(),
            notes: vec![why.to_string()],
            ..GateView::default()
        })
        .collect()
}

/// `schema.table` split at the first dot (stepgate's names are always qualified).
fn split_name(table: &str) -> (&str, &str) {
    table.split_once('.').unwrap_or(("public", table))
}

const TRIGGERS: &str = "SELECT t.tgname::text, \
       CASE WHEN t.tgtype & 2 = 2 THEN 'BEFORE' WHEN t.tgtype & 64 = 64 THEN 'INSTEAD OF' ELSE 'AFTER' END, \
       t.tgtype & 1 = 1, t.tgtype & 4 = 4, t.tgtype & 16 = 16, t.tgtype & 8 = 8, t.tgtype & 32 = 32, \
       t.tgfoid::regproc::text, t.tgenabled IN ('O', 'A') \
  FROM pg_catalog.pg_trigger t \
  JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
 WHERE n.nspname = $1 AND c.relname = $2 AND NOT t.tgisinternal \
 ORDER BY t.tgname";

const CASCADES: &str = "SELECT con.conname::text, cn.nspname || '.' || cl.relname, \
       con.confdeltype::text, con.confupdtype::text \
  FROM pg_catalog.pg_constraint con \
  JOIN pg_catalog.pg_class cl ON cl.oid = con.conrelid \
  JOIN pg_catalog.pg_namespace cn ON cn.oid = cl.relnamespace \
  JOIN pg_catalog.pg_class p ON p.oid = con.confrelid \
  JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace \
 WHERE con.contype = 'f' AND pn.nspname = $1 AND p.relname = $2 \
   AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd')) \
 ORDER BY 2, 1";

const EXISTS: &str = "SELECT count(*) FROM pg_catalog.pg_class c \
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
 WHERE n.nspname = $1 AND c.relname = $2";

fn table_catalog(
    c: &mut postgres::Client,
    table: &str,
    verbs: &BTreeSet<Verb>,
) -> Result<TableCatalog> {
    let (schema, name) = split_name(table);
    let exists: i64 = c.query_one(EXISTS, &[&schema, &name])?.get(0);
    let triggers = c
        .query(TRIGGERS, &[&schema, &name])?
        .iter()
        .map(|r| trigger_fact(r, verbs))
        .collect();
    let cascades = c
        .query(CASCADES, &[&schema, &name])?
        .iter()
        .map(|r| {
            let del: String = r.get(2);
            let upd: String = r.get(3);
            CascadeFact {
                constraint: r.get(0),
                child: r.get(1),
                fires: (verbs.contains(&Verb::Delete) && writes_child(&del))
                    || (verbs.contains(&Verb::Update) && writes_child(&upd)),
                on_delete: fk_action(&del).into(),
                on_update: fk_action(&upd).into(),
            }
        })
        .collect();
    Ok(TableCatalog {
        exists: exists > 0,
        triggers,
        cascades,
    })
}

fn trigger_fact(r: &postgres::Row, verbs: &BTreeSet<Verb>) -> TriggerFact {
    let mut events = Vec::new();
    let mut fires = false;
    for (col, verb, word) in [
        (3, Some(Verb::Insert), "insert"),
        (4, Some(Verb::Update), "update"),
        (5, Some(Verb::Delete), "delete"),
        (6, None, "truncate"),
    ] {
        if r.get::<_, bool>(col) {
            events.push(word.to_string());
            fires |= verb.is_some_and(|v| verbs.contains(&v));
        }
    }
    let enabled: bool = r.get(8);
    TriggerFact {
        name: r.get(0),
        timing: r.get(1),
        level: if r.get::<_, bool>(2) {
            "row"
        } else {
            "statement"
        }
        .into(),
        events,
        function: r.get(7),
        enabled,
        fires: fires && enabled,
    }
}

fn writes_child(code: &str) -> bool {
    matches!(code, "c" | "n" | "d")
}

fn fk_action(code: &str) -> &'static str {
    match code {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    }
}

/// The part of a rehearsal event's details the review reads.
#[derive(Debug, Default, serde::Deserialize)]
struct Details {
    plan_sha256: Option<String>,
    measured: Option<MeasuredDetails>,
    #[serde(default)]
    mismatches: Vec<crate::core::effects::Mismatch>,
    elapsed_ms: Option<u64>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct MeasuredDetails {
    catalog: crate::core::catalog::CatalogDiff,
    #[serde(default)]
    rows: BTreeMap<String, crate::core::manifest::RowCounts>,
}

/// The last rehearsal of a step against the current file sha256 and plan sha256.
pub fn rehearsal_facts(
    live: Option<&Live>,
    step: &str,
    file_sha256: Option<&str>,
    plan_sha256: Option<&str>,
) -> RehearsalFacts {
    let mut f = RehearsalFacts {
        marker: DeltaMarker::Unknown,
        at: None,
        verdict: None,
        elapsed_ms: None,
        measured_objects: Vec::new(),
        measured_rows: Vec::new(),
        mismatches: Vec::new(),
    };
    let Some(live) = live else { return f };
    let Some(e) = live.rehearsals.get(step) else {
        f.marker = DeltaMarker::NeverRehearsed;
        return f;
    };
    // Details a future version wrote differently read as "not measured", never a panic.
    let d: Details = serde_json::from_value(e.details.clone()).unwrap_or_default();
    f.at = Some(e.at.clone());
    f.verdict = Some(e.result.clone());
    f.elapsed_ms = d.elapsed_ms;
    f.mismatches = d.mismatches;
    let same_bytes = e.file_sha256.as_deref() == file_sha256;
    let same_plan = d.plan_sha256.is_none() || d.plan_sha256.as_deref() == plan_sha256;
    f.marker = match &d.measured {
        _ if !(same_bytes && same_plan) => DeltaMarker::NotRehearsedSinceChange,
        None => DeltaMarker::NotMeasured,
        Some(_) if f.mismatches.is_empty() => DeltaMarker::Matches,
        Some(_) => DeltaMarker::Differs,
    };
    if let Some(m) = d.measured {
        f.measured_objects = measured_objects(&m.catalog);
        f.measured_rows = m
            .rows
            .into_iter()
            .map(|(table, r)| RowFacts {
                table,
                insert: r.insert,
                update: r.update,
                delete: r.delete,
            })
            .collect();
    }
    f
}

fn measured_objects(c: &crate::core::catalog::CatalogDiff) -> Vec<String> {
    let added = c.added.iter().map(|o| format!("create {o}"));
    let removed = c.removed.iter().map(|o| format!("drop {o}"));
    let changed = c.changed.iter().map(|o| format!("alter {}", o.object));
    added.chain(removed).chain(changed).collect()
}
