//! `stepgate new-step NAME [--rollback]`: appends a `[[step]]` to stepgate.toml and
//! creates its SQL file (and rollback file), in the pack's lint profile.

use crate::core::manifest::{self, LintProfile, MANIFEST_FILE};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct NewStep {
    pub id: String,
    pub file: String,
    pub rollback: Option<String>,
    pub requires: Vec<String>,
    pub gates: Vec<String>,
}

fn slug(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let s = s
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if s.is_empty() {
        "step".into()
    } else {
        s.chars().take(40).collect()
    }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"step\"".into())
}

pub fn plain_step(id: &str, name: &str) -> String {
    format!(
        "-- step {id}: {name}\n-- Plain SQL. stepgate runs this file in one transaction with the timeouts of\n-- stepgate.toml: `stepgate rehearse` rolls it back, `stepgate apply` commits it.\n-- No BEGIN, COMMIT or SET LOCAL here. Declare what it changes in [step.effects].\nSELECT 1;\n"
    )
}

pub fn plain_rollback(id: &str, name: &str) -> String {
    format!("-- rollback of step {id}: {name}\n-- Plain SQL that undoes the step; run under its own approvals by `stepgate rollback`.\nSELECT 1;\n")
}

pub fn sections_step(id: &str, name: &str, rollback: Option<&str>) -> String {
    format!(
        "-- SECTION A — HEADER\n-- step {id}: {name}\n\n-- SECTION B — CHECKS BEFORE THE CHANGE (read-only)\nSELECT 1;\n\n-- SECTION C — BEGIN + TIMEOUTS\nBEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '3s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n\n-- SECTION D — FOLD-INS\n-- (none)\n\n-- SECTION E — THE CHANGE\nSELECT 1;\n\n-- SECTION F — CHECKS INSIDE THE TRANSACTION\nSELECT 1;\n\n-- SECTION G — COMMIT BOUNDARY (the runner commits only when every gate holds)\nROLLBACK;\n\n-- SECTION H — CHECKS AFTER COMMIT (read-only)\nSELECT 1;\n\n-- SECTION I — ROLLBACK REFERENCE\n-- {}\n",
        rollback.unwrap_or("no rollback file yet")
    )
}

pub fn sections_rollback(id: &str, name: &str) -> String {
    format!("-- rollback of step {id}: {name}\nBEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '3s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\nSELECT 1;\nCOMMIT;\n")
}

pub fn run(dir: &Path, name: &str, with_rollback: bool) -> Result<NewStep> {
    if name.trim().is_empty() {
        return Err(Error::BadInput("the step needs a name".into()));
    }
    let pack = manifest::load(dir).map_err(|e| Error::Source(Box::new(e)))?;
    let steps = &pack.manifest.step;
    // The next number: one past the highest numeric id, else the step count + 1.
    let mut n = steps
        .iter()
        .filter_map(|s| s.id().parse::<u64>().ok())
        .max()
        .unwrap_or(steps.len() as u64)
        .max(steps.len() as u64)
        + 1;
    while pack.step(&n.to_string()).is_some() {
        n += 1;
    }
    let id = n.to_string();
    let stem = format!("{n:02}_{}", slug(name));
    let file = format!("{stem}.sql");
    let rollback = with_rollback.then(|| format!("rollback/{stem}.sql"));
    for rel in std::iter::once(&file).chain(rollback.iter()) {
        if dir.join(rel).exists() {
            return Err(Error::BadInput(format!(
                "{}: already exists; not overwriting",
                dir.join(rel).display()
            )));
        }
    }
    let last = steps.last();
    let requires: Vec<String> = last.map(|s| vec![s.id().to_string()]).unwrap_or_default();
    let gates: Vec<String> = last.map(|s| s.gate_names()).unwrap_or_default();
    let list = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|s| toml_str(s)).collect();
        format!("[{}]", items.join(", "))
    };
    let mut add = format!(
        "\n[[step]]\nid = {}\nname = {}\nfile = {}\n",
        toml_str(&id),
        toml_str(name),
        toml_str(&file)
    );
    if let Some(r) = &rollback {
        add.push_str(&format!("rollback = {}\n", toml_str(r)));
    }
    add.push_str(&format!("requires = {}\n", list(&requires)));
    add.push_str(&format!("gates = {}\n", list(&gates)));
    add.push_str(
        "\n[step.effects] # what this step creates, alters, drops and the rows it writes\n",
    );
    let mut src = pack.manifest_src.clone();
    if !src.ends_with('\n') {
        src.push('\n');
    }
    src.push_str(&add);
    // The new manifest must load before anything is written.
    manifest::parse(MANIFEST_FILE, &src, dir).map_err(|e| Error::Source(Box::new(e)))?;
    let (step_text, rb_text) = match pack.lint_profile {
        LintProfile::Plain => (plain_step(&id, name), plain_rollback(&id, name)),
        LintProfile::Sections => (
            sections_step(&id, name, rollback.as_deref()),
            sections_rollback(&id, name),
        ),
    };
    let write = |rel: &str, text: &str| -> Result<()> {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::BadInput(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, text).map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))
    };
    write(&file, &step_text)?;
    if let Some(r) = &rollback {
        write(r, &rb_text)?;
    }
    write(MANIFEST_FILE, &src)?;
    Ok(NewStep {
        id,
        file,
        rollback,
        requires,
        gates,
    })
}
