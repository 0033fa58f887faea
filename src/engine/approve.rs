//! `stepgate approve` and `stepgate approval-text`: the approver's side. Both work
//! offline from the pack alone: the statement binds the pack, the step, the gate,
//! the sha256 of the step file, its rollback and the manifest, and the target named
//! in the manifest.

use crate::core::approval::{self, Action, Expected, Statement};
use crate::engine::gates::approval_path;
use crate::engine::pack::LoadedPack;
use crate::engine::{Error, Result};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub struct Request<'a> {
    pub step: &'a str,
    pub gate: &'a str,
    pub principal: &'a str,
    pub action: Action,
    pub expires: std::time::Duration,
}

/// The exact statement for a request, with issued-at = now.
pub fn statement(loaded: &LoadedPack, req: &Request, now: OffsetDateTime) -> Result<Statement> {
    let pack = &loaded.pack;
    if !pack.manifest.gate.contains_key(req.gate) {
        let names: Vec<&str> = pack.manifest.gate.keys().map(String::as_str).collect();
        return Err(Error::BadInput(format!(
            "no gate `{}` in the manifest; gates: {}",
            req.gate,
            names.join(", ")
        )));
    }
    // Refuse now what the gate would refuse later: a principal the gate does not name.
    if let Some(gate) = pack.manifest.gate.get(req.gate) {
        if gate.kind != crate::core::manifest::GateKind::Signature {
            return Err(Error::BadInput(format!(
                "gate `{}` is a SQL gate: it is satisfied by a live query, not signed",
                req.gate
            )));
        }
        if !gate.signers.iter().any(|s| s == req.principal) {
            return Err(Error::BadInput(format!(
                "`{}` is not a signer of gate `{}` (its signers: {}); an approval from them would not count",
                req.principal,
                req.gate,
                gate.signers.join(", ")
            )));
        }
    }
    let (step_sha, rb_sha) = if req.action == Action::Resume {
        (None, None)
    } else {
        let step = pack.step(req.step).ok_or_else(|| {
            Error::BadInput(format!(
                "no step `{}` in pack `{}`; steps: {}",
                req.step,
                pack.id(),
                pack.step_ids().join(", ")
            ))
        })?;
        (
            step.file
                .as_ref()
                .and_then(|f| loaded.sha256(f.get_ref()))
                .map(str::to_string),
            step.rollback
                .as_ref()
                .and_then(|f| loaded.sha256(f.get_ref()))
                .map(str::to_string),
        )
    };
    let plan_sha = crate::engine::plan::for_action(loaded, req.step, req.action, None)?.sha256();
    let target = &pack.manifest.pack.target;
    let expected = Expected {
        pack: pack.id(),
        step: req.step,
        action: req.action,
        step_sha256: step_sha.as_deref(),
        rollback_sha256: rb_sha.as_deref(),
        plan_sha256: &plan_sha,
        manifest_sha256: loaded.manifest_sha256(),
        database: &target.database,
        environment: target.environment.as_deref(),
    };
    let secs = i64::try_from(req.expires.as_secs())
        .map_err(|_| Error::BadInput("--expires is too long".into()))?;
    if secs <= 0 {
        return Err(Error::BadInput("--expires must be positive".into()));
    }
    let now = now.replace_nanosecond(0).unwrap_or(now);
    Ok(Statement::for_expected(
        &expected,
        req.gate,
        req.principal,
        now,
        now + time::Duration::seconds(secs),
    ))
}

/// Signs with the approver's key and writes `<statement>.approval` and `.approval.sig`.
pub fn approve(
    loaded: &LoadedPack,
    req: &Request,
    key_path: &Path,
    passphrase: Option<&str>,
    now: OffsetDateTime,
) -> Result<(PathBuf, PathBuf)> {
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| Error::BadInput(format!("{}: {e}", key_path.display())))?;
    let key = approval::load_private_key(&key_text, passphrase)
        .map_err(|e| Error::BadInput(format!("{}: {e}", key_path.display())))?;
    let st = statement(loaded, req, now)?;
    check_allowed_signer(loaded, req.principal, key.public_key())?;
    let text = st.render();
    let sig = approval::sign(&text, &key).map_err(|e| Error::BadInput(e.to_string()))?;
    let path = approval_path(loaded.dir(), req.step, req.gate, req.action, req.principal);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::BadInput(format!("{}: {e}", parent.display())))?;
    }
    let sig_path = path.with_extension("approval.sig");
    std::fs::write(&path, &text)
        .map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?;
    std::fs::write(&sig_path, sig)
        .map_err(|e| Error::BadInput(format!("{}: {e}", sig_path.display())))?;
    Ok((path, sig_path))
}

/// When the pack carries an `allowed_signers` copy, the key must be listed there for the
/// principal: an approval signed with another key would be refused at `gates` and apply.
fn check_allowed_signer(
    loaded: &LoadedPack,
    principal: &str,
    key: &ssh_key::PublicKey,
) -> Result<()> {
    let Some(rel) = &loaded.pack.manifest.pack.allowed_signers else {
        return Ok(());
    };
    let text = loaded.text(rel.get_ref())?;
    let signers = approval::parse_allowed_signers(text)
        .map_err(|e| Error::BadInput(format!("{}: {e}", rel.get_ref())))?;
    if signers
        .iter()
        .any(|s| s.matches_principal(principal) && s.key.key_data() == key.key_data())
    {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "this key is not listed for `{principal}` in {}: an approval signed with it would not count; use the key registered for you, or ask the DBA to register this one (`stepgate signers add`)",
        rel.get_ref()
    )))
}
