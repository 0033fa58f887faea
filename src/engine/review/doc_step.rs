//! One step's section: only what is the step's own.

use super::doc::*;
use super::doc_step_parts as parts;
use super::model::*;

pub(super) fn step(m: &ReviewModel, s: &StepReview) -> StepDoc {
    let anchor = format!("step-{}", anchor_safe(&s.id));
    let mut list: Vec<(&str, Vec<Block>)> = vec![
        ("What it changes", parts::changes(s)),
        ("What it sets off and locks", parts::fires_and_locks(s)),
        ("The execution plan your approval binds", parts::plan(s)),
        ("Files", parts::files(s)),
        ("Gates", parts::gates(m, s)),
        ("Safety checks for this step", parts::safety(s)),
        ("Tests and measurements", parts::tests(s)),
        ("Rollback", parts::rollback(s)),
        ("Lint findings", parts::lint(s)),
        ("The statement you will sign", parts::sign(s)),
    ];
    list.retain(|(_, blocks)| !blocks.is_empty());
    let parts = list
        .into_iter()
        .enumerate()
        .map(|(i, (title, blocks))| Part {
            title: format!("{}. {title}", i + 1),
            anchor: format!("{anchor}-{}", anchor_safe(&title.to_lowercase())),
            blocks,
        })
        .collect();
    StepDoc {
        kicker: format!(
            "Step {} of {} · pack {} · {}",
            s.position,
            m.overview.len(),
            m.pack.id,
            m.pack.database
        ),
        title: format!("Step {} — {}", s.id, s.name),
        anchor,
        badges: badges(m, s),
        fields: fields(s),
        parts,
        signoff_title: format!("Reviewer sign-off — step {}", s.id),
        signoff_text: signoff(m, s),
    }
}

fn badges(m: &ReviewModel, s: &StepReview) -> Vec<(Tone, String)> {
    let mut out = Vec::new();
    if s.one_way {
        out.push((Tone::Danger, "ONE-WAY DOOR".to_string()));
    }
    match s.kind {
        StepKind::Hold => out.push((Tone::Info, "HOLD".to_string())),
        StepKind::NonTransactional => out.push((Tone::Warn, "NOT TRANSACTIONAL".to_string())),
        StepKind::Transactional => {}
    }
    if m.database.halted.is_some() {
        out.push((Tone::Danger, "PACK HALTED".to_string()));
    }
    out
}

fn file_line(f: &Option<FileFacts>, none: &str) -> Line {
    match f {
        Some(FileFacts {
            path,
            sha256: Some(h),
            ..
        }) => vec![c(path), t(" sha256 "), c(h)],
        Some(FileFacts { path, .. }) => vec![c(path), t(" (could not be read)")],
        None => vec![t(none)],
    }
}

fn fields(s: &StepReview) -> Vec<(String, Line)> {
    let mut f = vec![
        (
            "Step file".to_string(),
            file_line(&s.file, "none (hold step)"),
        ),
        ("Rollback file".to_string(), file_line(&s.rollback, "none")),
    ];
    if !s.requires.is_empty() {
        f.push((
            "Requires".into(),
            vec![t(format!("steps {}", s.requires.join(", ")))],
        ));
    }
    let gates: Vec<String> = s.gates.iter().map(|g| g.name.clone()).collect();
    f.push((
        "Gates".into(),
        vec![t(if gates.is_empty() {
            "none".to_string()
        } else {
            gates.join(", ")
        })],
    ));
    if let Some(tv) = &s.timeouts {
        f.push((
            "Own timeouts".into(),
            vec![
                c(format!("statement_timeout = {}", tv.statement)),
                t(", "),
                c(format!("lock_timeout = {}", tv.lock)),
                t(", "),
                c(format!(
                    "idle_in_transaction_session_timeout = {}",
                    tv.idle_in_transaction
                )),
            ],
        ));
    }
    if let Some(l) = &s.ledger {
        let mut line = vec![b(&l.state)];
        if let Some(at) = &l.at {
            line.push(t(format!(" at {at}")));
        }
        if let Some(i) = &l.interrupted {
            line.push(t(format!("; {i}")));
        }
        f.push(("Ledger state".into(), line));
    }
    if s.lint.is_empty() && (s.file.is_some() || s.rollback.is_some()) {
        f.push(("Lint".into(), vec![t("clean")]));
    }
    f
}

fn signoff(m: &ReviewModel, s: &StepReview) -> Line {
    let sha = |f: &Option<FileFacts>| {
        f.as_ref()
            .and_then(|f| f.sha256.clone())
            .unwrap_or_else(|| "-".into())
    };
    vec![
        t(format!(
            "I have read this review of step {} of pack {}: plan sha256 ",
            s.id, m.pack.id
        )),
        c(s.plan.sha256.clone().unwrap_or_else(|| "-".into())),
        t(", step file sha256 "),
        c(sha(&s.file)),
        t(", rollback file sha256 "),
        c(sha(&s.rollback)),
        t(", manifest sha256 "),
        c(&m.pack.manifest_sha256),
        t("."),
    ]
}
