//! Gate evaluation for apply, rollback, restore and resume.
//!
//! The trust root is the target's signer registry, never the pack: a pack's
//! `allowed_signers` is a convenience copy that must agree with the registry or
//! every signature gate refuses. Each approval binds the step file, its rollback,
//! the manifest (so the gates, quorums and SQL gate queries an approver saw are
//! the ones enforced) and the target. On top of whatever the manifest declares, the
//! floor policy stored at install time demands a minimum number of valid registry
//! signatures on every apply and rollback — a manifest with its gates deleted still
//! cannot commit.

use crate::core::approval::{
    self, Action, AllowedSigner, Candidate, Expected, GateResult, GateSpec,
};
use crate::core::manifest::GateKind;
use crate::db::ledger;
use crate::db::signers::{self, RegisteredSigner};
use crate::engine::session::Session;
use crate::engine::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const APPROVALS_DIR: &str = "approvals";

/// The file-name prefix of approvals for (step, gate, action): `<step>.<gate>.` for apply,
/// `<step>.<action>.<gate>.` for rollback, resume and restore.
fn prefix(step: &str, gate: &str, action: Action) -> String {
    match action {
        Action::Apply => format!("{step}.{gate}."),
        other => format!("{step}.{}.{gate}.", other.as_str()),
    }
}

/// `approvals/<step>.<gate>.<principal>.approval` (apply) or
/// `approvals/<step>.<action>.<gate>.<principal>.approval`.
pub fn approval_path(
    pack_dir: &Path,
    step: &str,
    gate: &str,
    action: Action,
    principal: &str,
) -> PathBuf {
    let safe: String = principal
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    pack_dir
        .join(APPROVALS_DIR)
        .join(format!("{}{safe}.approval", prefix(step, gate, action)))
}

/// Every approval file on disk for (step, gate, action).
pub fn candidates(pack_dir: &Path, step: &str, gate: &str, action: Action) -> Vec<Candidate> {
    let prefix = prefix(step, gate, action);
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(pack_dir.join(APPROVALS_DIR)) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".approval"))
        })
        .collect();
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let sig = std::fs::read_to_string(p.with_extension("approval.sig")).ok();
        out.push(Candidate {
            source: p.display().to_string(),
            statement_text: text,
            sig_pem: sig,
        });
    }
    out
}

/// Every approval on disk for the plan's signature gates, offered to the server, which
/// verifies each one itself.
pub fn offered(pack_dir: &Path, plan: &crate::core::plan::Plan) -> crate::db::authority::Offered {
    let action = Action::parse(&plan.action).unwrap_or(Action::Apply);
    let mut out = crate::db::authority::Offered::default();
    for gate in &plan.gates {
        for c in candidates(pack_dir, &plan.step, &gate.name, action) {
            if let Some(sig) = c.sig_pem {
                out.statements.push(c.statement_text);
                out.signatures.push(sig);
            }
        }
    }
    out
}

/// Registry rows that may sign `gate`, as allowed-signer entries.
pub fn trusted_for(registry: &[RegisteredSigner], gate: &str) -> Vec<AllowedSigner> {
    registry
        .iter()
        .filter(|r| r.may_sign(gate))
        .filter_map(|r| {
            ssh_key::PublicKey::from_openssh(&r.openssh_key())
                .ok()
                .map(|k| AllowedSigner::new(vec![r.principal.clone()], k))
        })
        .collect()
}

/// The pack's allowed_signers copy must agree with the registry: every key it lists
/// must be registered for that principal. Returns the disagreements.
pub fn allowed_signers_disagreements(
    text: &str,
    registry: &[RegisteredSigner],
) -> std::result::Result<Vec<String>, String> {
    let lines = approval::parse_allowed_signers(text)
        .map_err(|e| format!("allowed_signers line {}: {}", e.line, e.message))?;
    let mut out = Vec::new();
    for l in lines {
        let key_b64 = l
            .key
            .to_openssh()
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_default();
        for p in &l.principals {
            if !registry
                .iter()
                .any(|r| &r.principal == p && r.key_base64 == key_b64)
            {
                out.push(format!(
                    "allowed_signers line {} lists `{p}` with key {}, which the target's signer registry does not hold",
                    l.line,
                    l.key.fingerprint(Default::default())
                ));
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct SqlGateResult {
    pub gate: String,
    pub sql: String,
    pub rows: i64,
    pub satisfied: bool,
    pub error: Option<String>,
    /// Tables the query reads that the runner itself may write: a row it inserted
    /// would satisfy the gate, so the gate refuses (unless stepgate runs as the admin).
    pub writable_by_runner: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub step: String,
    pub action: String,
    pub signature_gates: Vec<GateResult>,
    pub sql_gates: Vec<SqlGateResult>,
    pub floor_min_signatures: u32,
    pub registry_signatures: u32,
    pub floor_met: bool,
    pub signer_copy_problems: Vec<String>,
    pub one_way_door: Option<String>,
    pub satisfied: bool,
}

impl GateReport {
    /// Plain-words reasons the gates refuse.
    pub fn refusals(&self) -> Vec<String> {
        let mut out = self.signer_copy_problems.clone();
        for g in &self.signature_gates {
            if !g.satisfied {
                let mut why: Vec<String> = g
                    .approvals
                    .iter()
                    .filter_map(|a| match &a.verdict {
                        approval::Verdict::Invalid(r) => Some(format!("{}: {r}", a.source)),
                        approval::Verdict::Valid => None,
                    })
                    .collect();
                if why.is_empty() {
                    why.push("no approval files found".into());
                }
                out.push(format!(
                    "gate {}: {} of {} valid approval(s) — {}",
                    g.gate,
                    g.valid,
                    g.quorum,
                    why.join("; ")
                ));
            }
        }
        for g in &self.sql_gates {
            if !g.satisfied {
                out.push(match &g.error {
                    _ if !g.writable_by_runner.is_empty() => format!(
                        "sql gate {}: the role stepgate runs as can write {}, so it could satisfy the gate itself; a DBA revokes INSERT/UPDATE/DELETE/TRUNCATE there, or the gate becomes a signature gate",
                        g.gate,
                        g.writable_by_runner.join(", ")
                    ),
                    Some(e) => format!("sql gate {}: query failed: {e}", g.gate),
                    None => format!("sql gate {}: `{}` returned no row", g.gate, g.sql),
                });
            }
        }
        if !self.floor_met {
            out.push(format!(
                "floor policy: the target requires at least {} valid registry signature(s) on every {}, whatever the manifest says; found {}",
                self.floor_min_signatures, self.action, self.registry_signatures
            ));
        }
        out
    }
}

/// Evaluates every gate of a step for `action` (apply or rollback) against the current bytes.
pub fn evaluate(
    session: &mut Session,
    step_id: &str,
    action: Action,
    now: time::OffsetDateTime,
) -> Result<GateReport> {
    let pack = session.pack().clone();
    let idx = pack
        .step_index(step_id)
        .ok_or_else(|| Error::BadInput(format!("no step `{step_id}` in pack `{}`", pack.id())))?;
    let step = &pack.manifest.step[idx];
    let mut names = match action {
        Action::Rollback => step.rollback_gate_names(),
        _ => step.gate_names(),
    };
    let mut one_way_door = None;
    if step.one_way && action == Action::Apply {
        one_way_door = step.irreversible_reason.clone();
        if pack.manifest.gate.contains_key("one_way") {
            names.push("one_way".into());
        } else {
            return Err(Error::Refused(format!(
                "step `{step_id}` is a one-way door ({}) and the pack declares no `one_way` gate to authorize it",
                step.irreversible_reason.as_deref().unwrap_or("")
            )));
        }
    }
    let step_sha = step
        .file
        .as_ref()
        .and_then(|f| session.loaded.sha256(f.get_ref()))
        .map(str::to_string);
    let rb_sha = step
        .rollback
        .as_ref()
        .and_then(|f| session.loaded.sha256(f.get_ref()))
        .map(str::to_string);
    evaluate_named(
        session,
        step_id,
        &names,
        action,
        step_sha.as_deref(),
        rb_sha.as_deref(),
        one_way_door,
        now,
    )
}

/// Evaluates the named gates for a subject (a step, or `halt-<id>` for resume).
#[allow(clippy::too_many_arguments)]
pub fn evaluate_named(
    session: &mut Session,
    subject: &str,
    names: &[String],
    action: Action,
    step_sha: Option<&str>,
    rb_sha: Option<&str>,
    one_way_door: Option<String>,
    now: time::OffsetDateTime,
) -> Result<GateReport> {
    let pack = session.pack().clone();
    let registry = signers::list(&mut session.ledger)?;
    let floor: u32 = ledger::meta(&mut session.ledger, "floor_min_signatures")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut signer_copy_problems = Vec::new();
    if let Some(f) = &pack.manifest.pack.allowed_signers {
        let text = session.loaded.text(f.get_ref())?.to_string();
        match allowed_signers_disagreements(&text, &registry) {
            Ok(p) => signer_copy_problems.extend(p),
            Err(e) => return Err(Error::BadInput(e)),
        }
    }
    let manifest_sha = session.loaded.manifest_sha256().to_string();
    let plan_sha =
        crate::engine::plan::for_action(&session.loaded, subject, action, None)?.sha256();
    let target = pack.manifest.pack.target.clone();
    let expected = Expected {
        pack: pack.id(),
        step: subject,
        action,
        step_sha256: step_sha,
        rollback_sha256: rb_sha,
        plan_sha256: &plan_sha,
        manifest_sha256: &manifest_sha,
        database: &target.database,
        environment: target.environment.as_deref(),
    };
    let mut signature_gates = Vec::new();
    let mut sql_gates = Vec::new();
    let mut registry_principals = std::collections::BTreeSet::new();
    for name in names {
        let Some(gate) = pack.manifest.gate.get(name) else {
            return Err(Error::BadInput(format!(
                "gate `{name}` is not declared in the manifest"
            )));
        };
        match gate.kind {
            GateKind::Signature => {
                let spec = GateSpec {
                    name,
                    signers: &gate.signers,
                    quorum: gate.quorum(),
                };
                let cands = candidates(&pack.dir, subject, name, action);
                let trusted = trusted_for(&registry, name);
                let r = approval::evaluate_gate(&spec, &expected, &cands, &trusted, now);
                for a in &r.approvals {
                    if a.verdict.is_valid() {
                        if let Some(p) = &a.principal {
                            registry_principals.insert(p.clone());
                        }
                    }
                }
                signature_gates.push(r);
            }
            GateKind::Sql => {
                let sql = gate.sql.clone().unwrap_or_default();
                let (rows, error) =
                    match sql_gate_rows(&mut session.ledger, &sql, subject, &pack.timeouts) {
                        Ok(n) => (n, None),
                        Err(e) => (0, Some(crate::db::describe_pg_error(&e))),
                    };

                let writable = runner_writable_tables(&mut session.ledger, &sql)?;
                sql_gates.push(SqlGateResult {
                    gate: name.clone(),
                    sql,
                    rows,
                    satisfied: rows > 0 && error.is_none() && writable.is_empty(),
                    error,
                    writable_by_runner: writable,
                });
            }
        }
    }
    let registry_signatures = registry_principals.len() as u32;
    let floor_applies = matches!(action, Action::Apply | Action::Rollback);
    let floor_met = !floor_applies || registry_signatures >= floor;
    let satisfied = signer_copy_problems.is_empty()
        && signature_gates.iter().all(|g| g.satisfied)
        && sql_gates.iter().all(|g| g.satisfied)
        && floor_met;
    Ok(GateReport {
        step: subject.to_string(),
        action: action.as_str().to_string(),
        signature_gates,
        sql_gates,
        floor_min_signatures: floor,
        registry_signatures,
        floor_met,
        signer_copy_problems,
        one_way_door,
        satisfied,
    })
}

/// Runs a SQL gate in a READ ONLY transaction under the pack's timeouts, binding the
/// subject as `$1` when the query takes a parameter.
fn sql_gate_rows(
    c: &mut postgres::Client,
    sql: &str,
    subject: &str,
    t: &crate::core::manifest::TimeoutValues,
) -> std::result::Result<i64, postgres::Error> {
    let mut tx = crate::engine::step_tx::begin_read_only(c, t)?;
    let stmt = tx.prepare(sql)?;
    let rows = if stmt.params().is_empty() {
        tx.query(&stmt, &[])?
    } else {
        tx.query(&stmt, &[&subject])?
    };
    tx.rollback()?;
    Ok(rows.len() as i64)
}

/// The tables a SQL gate reads that the connected role may write — none when that role is
/// the ledger admin, who is trusted. The server answers (`has_table_privilege`).
fn runner_writable_tables(c: &mut postgres::Client, sql: &str) -> Result<Vec<String>> {
    let admin = ledger::meta(c, "admin_role")?.unwrap_or_default();
    let is_admin: bool = c
        .query_one(
            "SELECT pg_catalog.pg_has_role(current_user, $1, 'MEMBER')",
            &[&admin],
        )?
        .get(0);
    if is_admin {
        return Ok(vec![]);
    }
    let tables = pg_query::parse(sql, 0)
        .map(|p| p.tables())
        .unwrap_or_default();
    let mut out = Vec::new();
    for t in tables {
        let writable: bool = c
            .query_one(
                "SELECT coalesce(pg_catalog.has_table_privilege(pg_catalog.to_regclass($1), 'INSERT, UPDATE, DELETE, TRUNCATE'), false)",
                &[&t],
            )?
            .get(0);
        if writable {
            out.push(t);
        }
    }
    Ok(out)
}
