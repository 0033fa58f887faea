//! The cover: what holds for every step of the pack, said once.

use super::doc::*;
use super::model::*;

fn or_not_pinned(v: &Option<String>) -> Inline {
    match v {
        Some(x) => c(x),
        None => t("not pinned"),
    }
}

pub(super) fn cover_fields(m: &ReviewModel) -> Vec<(String, Line)> {
    let p = &m.pack;
    let mut f = vec![
        ("Pack".to_string(), vec![c(&p.id), t(" — "), t(&p.title)]),
        (
            "Target".to_string(),
            vec![
                t("database "),
                c(&p.database),
                t(", environment "),
                or_not_pinned(&p.environment),
                t(", system identifier "),
                or_not_pinned(&p.system_identifier),
            ],
        ),
        ("Ledger".to_string(), ledger_line(&m.database)),
        ("Manifest sha256".to_string(), vec![c(&p.manifest_sha256)]),
        ("Pack folder".to_string(), vec![c(&p.folder)]),
        ("Generated at".to_string(), vec![t(&m.generated_at)]),
    ];
    if let Some(v) = &p.verify_file {
        f.push(("Verify file".to_string(), vec![c(v)]));
    }
    f
}

fn ledger_line(d: &DatabaseFacts) -> Line {
    match (&d.target, &d.halted, &d.offline_reason) {
        (Some(_), Some(h), _) => vec![
            b("HALTED"),
            t(format!(" since {} (event {}): {}", h.at, h.event, h.reason)),
        ],
        (Some(target), None, _) => vec![t(format!("read from {target}; not halted"))],
        (None, _, reason) => vec![t(format!(
            "not read ({}); the runner reads it before apply in any case",
            reason.as_deref().unwrap_or("no database")
        ))],
    }
}

pub(super) fn intro(m: &ReviewModel) -> Vec<Block> {
    let mut out = notes(m);
    out.push(Block::Para(vec![
        t("What each step will do to "),
        c(&m.pack.database),
        t(", what it sets off, the execution plan your approval binds and the checks the runner enforces whatever the file says. "),
        t("Facts that hold for every step are on this page; each step's section carries only its own."),
    ]));
    out.push(Block::Sub("Rules for every step".into()));
    out.push(Block::Fields(rules(&m.pack)));
    out.push(Block::Sub("Checks before every step".into()));
    out.push(super::doc_step_parts::checks(&m.pack.checks));
    out.extend(gates(&m.pack));
    out.extend(invariants(&m.pack));
    out.push(Block::Sub("Steps of the pack".into()));
    out.push(overview(m));
    out.push(Block::Sub("How to sign".into()));
    out.push(Block::Para(vec![
        t("Each step ends with the statement its approval signs. Check before signing: "),
        c("plan-sha256"),
        t(" equals the step's plan sha256, "),
        c("step-sha256"),
        t(" and "),
        c("rollback-sha256"),
        t(" its file sha256 values, "),
        c("manifest-sha256"),
        t(" the one above. "),
        c("stepgate approve"),
        t(" fills in your principal and the validity window; with "),
        c("ssh-keygen -Y sign -n stepgate"),
        t(", sign the text "),
        c("stepgate approval-text"),
        t(" prints. Your principal must be one of the gate's signers."),
    ]));
    out
}

fn notes(m: &ReviewModel) -> Vec<Block> {
    let mut out = Vec::new();
    if let Some(id) = &m.missing_step {
        out.push(Block::Note {
            tone: Tone::Danger,
            title: format!("No step \"{id}\" in this pack."),
            body: vec![t(format!(
                "Steps: {}. Nothing below is a step to approve.",
                m.overview
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))],
        });
    }
    if let Some(h) = &m.database.halted {
        out.push(Block::Note {
            tone: Tone::Danger,
            title: "The pack is halted.".into(),
            body: vec![t(format!(
                "Halt event {} at {}: {}. The runner refuses every mutation until a signed resume.",
                h.event, h.at, h.reason
            ))],
        });
    }
    out
}

fn rules(p: &PackFacts) -> Vec<(String, Line)> {
    let tv = &p.timeouts;
    vec![
        (
            "Timeouts".into(),
            vec![
                c(format!("statement_timeout = {}", tv.statement)),
                t(", "),
                c(format!("lock_timeout = {}", tv.lock)),
                t(", "),
                c(format!(
                    "idle_in_transaction_session_timeout = {}",
                    tv.idle_in_transaction
                )),
                t(" (a step shows its own only when they differ)"),
            ],
        ),
        (
            "Freshness".into(),
            vec![
                t("rehearsal within "),
                c(&p.max_rehearsal_age),
                t(", backup within "),
                c(&p.max_backup_age),
            ],
        ),
        (
            "Residue".into(),
            vec![t(if p.fail_on_residue {
                "a sequence advanced by a rehearsal fails it (fail_on_residue = true)"
            } else {
                "a sequence advanced by a rehearsal is reported, not failed (fail_on_residue = false)"
            })],
        ),
        (
            "Protected tables".into(),
            if p.protected.is_empty() {
                vec![t("none")]
            } else {
                let mut l = join_code(&p.protected);
                l.push(t(
                    " — no step may alter, drop or truncate them; DML on them needs a WHERE clause",
                ));
                l
            },
        ),
        (
            "Organic tables".into(),
            if p.organic.is_empty() {
                vec![t("none")]
            } else {
                let mut l = join_code(&p.organic);
                l.push(t(" — grow on their own; their counts may differ from a baseline after a rollback"));
                l
            },
        ),
    ]
}

fn gates(p: &PackFacts) -> Vec<Block> {
    if p.gates.is_empty() {
        return vec![Block::Para(vec![t("The pack declares no gates.")])];
    }
    let rows = p
        .gates
        .iter()
        .map(|g| {
            let who = match g.kind.as_str() {
                "sql" => vec![t("the query below must return a row")],
                _ if g.signers.is_empty() => vec![t("any registered signer of the gate")],
                _ => join_code(&g.signers),
            };
            vec![
                vec![c(&g.name)],
                vec![t(&g.kind)],
                vec![t(if g.kind == "sql" {
                    "—".to_string()
                } else {
                    g.quorum.to_string()
                })],
                who,
            ]
        })
        .collect();
    let mut out = vec![
        Block::Sub("Gates and signers".into()),
        Block::Table {
            head: vec!["Gate".into(), "Kind".into(), "Quorum".into(), "Who".into()],
            rows,
        },
    ];
    for g in p.gates.iter().filter(|g| g.sql.is_some()) {
        out.push(code_block(
            "sql",
            Some(vec![t(format!("query of gate {}", g.name))]),
            g.sql.as_deref().unwrap_or("").trim_end(),
        ));
    }
    out
}

fn invariants(p: &PackFacts) -> Vec<Block> {
    if p.invariants.is_empty() {
        return vec![];
    }
    let mut out = vec![Block::Sub("Invariants".into())];
    for i in &p.invariants {
        out.push(code_block(
            "sql",
            Some(vec![b(&i.name), t(" — expects "), c(&i.expect)]),
            i.sql.trim_end(),
        ));
    }
    out
}

fn overview(m: &ReviewModel) -> Block {
    let dash = |v: String| if v.is_empty() { "—".to_string() } else { v };
    Block::Table {
        head: vec![
            "Step".into(),
            "Name".into(),
            "Gates".into(),
            "Kind".into(),
            "Ledger state".into(),
            "In this package".into(),
        ],
        rows: m
            .overview
            .iter()
            .map(|s| {
                vec![
                    vec![c(&s.id)],
                    vec![t(&s.name)],
                    vec![t(dash(s.gates.join(", ")))],
                    vec![t(dash(s.kind.join(", ")))],
                    vec![t(s.ledger_state.clone().unwrap_or_else(|| "—".into()))],
                    vec![t(if s.included { "yes" } else { "no" })],
                ]
            })
            .collect(),
    }
}
