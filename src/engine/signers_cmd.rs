//! `stepgate signers add|remove|list`: the signer registry, changed only with the
//! ledger admin role; every change is a ledger event (which only the admin may record).

use crate::db::connect::Target;
use crate::db::ledger::{self, Actor, NewEvent};
use crate::db::signers::{self, RegisteredSigner};
use crate::engine::{Error, Options, Result};

fn connect(opts: &Options, what: &str) -> Result<postgres::Client> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect(what)
        .map_err(|e| Error::Database(e.to_string()))?;
    if !ledger::installed(&mut c)? {
        return Err(Error::Refused(format!(
            "no stepgate ledger in {}",
            target.display()
        )));
    }
    Ok(c)
}

fn permission(e: postgres::Error) -> Error {
    if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
        Error::Refused(format!(
            "only the ledger admin role may change the signer registry ({})",
            crate::db::describe_pg_error(&e)
        ))
    } else {
        e.into()
    }
}

pub fn list(opts: &Options) -> Result<Vec<RegisteredSigner>> {
    let mut c = connect(opts, "stepgate signers list")?;
    Ok(signers::list(&mut c)?)
}

/// Adds (or re-scopes) a key from an OpenSSH public key line.
pub fn add(
    opts: &Options,
    principal: &str,
    public_key_line: &str,
    gates: &[String],
) -> Result<String> {
    let key = ssh_key::PublicKey::from_openssh(public_key_line.trim())
        .map_err(|e| Error::BadInput(format!("not an OpenSSH public key: {e}")))?;
    // Refuse here what the server would never verify (short or odd-exponent RSA, DSA, ...):
    // a registered key that cannot sign a counting approval is a trap for the approver.
    crate::core::approval::check_key_policy(key.key_data())
        .map_err(|e| Error::BadInput(format!("refused: {e}")))?;
    if gates.is_empty() {
        return Err(Error::BadInput(
            "name the gates this key may sign with --gates (or `*` for any)".into(),
        ));
    }
    let line = key
        .to_openssh()
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let mut parts = line.split_whitespace();
    let (kt, kb) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut c = connect(opts, "stepgate signers add")?;
    let mut tx = c.transaction()?;
    signers::add(&mut tx, principal, &kt, &kb, gates).map_err(permission)?;
    let fp = key.fingerprint(Default::default()).to_string();
    ledger::append(
        &mut tx,
        &Actor::current(),
        &NewEvent {
            pack: "-",
            verb: "signer-add",
            result: "added",
            details: serde_json::json!({"principal": principal, "key": fp, "gates": gates}),
            ..Default::default()
        },
    )
    .map_err(permission)?;
    tx.commit()?;
    Ok(fp)
}

pub fn remove(opts: &Options, principal: &str) -> Result<u64> {
    let mut c = connect(opts, "stepgate signers remove")?;
    let mut tx = c.transaction()?;
    let n = signers::remove(&mut tx, principal, None).map_err(permission)?;
    ledger::append(
        &mut tx,
        &Actor::current(),
        &NewEvent {
            pack: "-",
            verb: "signer-remove",
            result: "removed",
            details: serde_json::json!({"principal": principal, "keys": n}),
            ..Default::default()
        },
    )
    .map_err(permission)?;
    tx.commit()?;
    Ok(n)
}
