//! Interoperability of stepgate approvals with OpenSSH's `ssh-keygen -Y sign/verify`.
//!
//! Needs `ssh-keygen` (OpenSSH >= 8.2) on PATH; each test is skipped, with a note on
//! stderr, when it is not there.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use stepgate::core::approval::{
    evaluate_gate, load_private_key, parse_allowed_signers, sign, signer_key_of, verify, Action,
    AllowedSigner, ApprovalError, Candidate, Expected, GateSpec, Reason, Statement, Verdict,
};
use time::macros::datetime;
use time::OffsetDateTime;

const PRINCIPAL: &str = "alice@example.org";

fn have_ssh_keygen() -> bool {
    let ok = Command::new("ssh-keygen")
        .arg("-?")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        eprintln!("ssh-keygen not found on PATH: skipping OpenSSH interop test");
    }
    ok
}

fn ssh_keygen(args: &[&str], dir: &Path) -> std::process::Output {
    let out = Command::new("ssh-keygen")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    out
}

/// `ssh-keygen -t ed25519 -N <pass> -f <dir>/<name>`; returns the private key path.
fn gen_key(dir: &Path, name: &str, passphrase: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = ssh_keygen(
        &[
            "-q",
            "-t",
            "ed25519",
            "-a",
            "2",
            "-N",
            passphrase,
            "-C",
            "test key",
            "-f",
            path.to_str().unwrap(),
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "ssh-keygen -t: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn expected() -> Expected<'static> {
    Expected {
        pack: "2026-11-orders",
        step: "010-add-column",
        action: Action::Apply,
        step_sha256: Some("1111111111111111111111111111111111111111111111111111111111111111"),
        rollback_sha256: None,
        plan_sha256: "4444444444444444444444444444444444444444444444444444444444444444",
        manifest_sha256: "3333333333333333333333333333333333333333333333333333333333333333",
        database: "orders",
        environment: Some("prod"),
    }
}

const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

fn statement_text() -> String {
    Statement::for_expected(
        &expected(),
        "dba",
        PRINCIPAL,
        datetime!(2026-11-23 10:00 UTC),
        datetime!(2026-11-24 10:00 UTC),
    )
    .render()
}

/// `ssh-keygen -Y sign -f key -n <namespace> file` → contents of `file.sig`.
fn keygen_sign(dir: &Path, key: &Path, namespace: &str, text: &str) -> String {
    let file = dir.join(format!("statement-{namespace}.approval"));
    std::fs::write(&file, text).unwrap();
    let out = ssh_keygen(
        &[
            "-Y",
            "sign",
            "-f",
            key.to_str().unwrap(),
            "-n",
            namespace,
            file.to_str().unwrap(),
        ],
        dir,
    );
    assert!(
        out.status.success(),
        "ssh-keygen -Y sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig_path = file.with_extension("approval.sig");
    std::fs::read_to_string(sig_path).unwrap()
}

fn public_key(key: &Path) -> ssh_key::PublicKey {
    let text = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    ssh_key::PublicKey::from_openssh(text.trim()).unwrap()
}

#[test]
fn ssh_keygen_signature_verifies_with_stepgate() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = gen_key(dir.path(), "id_ed25519", "");
    let text = statement_text();
    let sig = keygen_sign(dir.path(), &key, "stepgate", &text);
    let pk = public_key(&key);

    verify(&text, &sig, &pk).unwrap();
    assert_eq!(signer_key_of(&sig).unwrap().key_data(), pk.key_data());

    // And it counts toward a gate when the key is trusted for the principal.
    let trusted = parse_allowed_signers(&format!(
        "{PRINCIPAL} namespaces=\"stepgate\" {}\n",
        pk.to_openssh().unwrap()
    ))
    .unwrap();
    let signers = vec![PRINCIPAL.to_string()];
    let gate = GateSpec {
        name: "dba",
        signers: &signers,
        quorum: 1,
    };
    let cand = Candidate {
        source: "approvals/alice.approval".into(),
        statement_text: text.clone(),
        sig_pem: Some(sig.clone()),
    };
    let r = evaluate_gate(&gate, &expected(), &[cand], &trusted, NOW);
    assert!(r.satisfied, "{r:?}");

    // A one-byte edit of the statement breaks it.
    let edited = text.replace("orders\n", "orderz\n");
    assert_eq!(
        verify(&edited, &sig, &pk).unwrap_err(),
        ApprovalError::BadSignature
    );
}

#[test]
fn stepgate_signature_verifies_with_ssh_keygen() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = gen_key(dir.path(), "id_ed25519", "");
    let key = load_private_key(&std::fs::read_to_string(&key_path).unwrap(), None).unwrap();
    let text = statement_text();
    let sig = sign(&text, &key).unwrap();

    let file = dir.path().join("alice.approval");
    std::fs::write(&file, &text).unwrap();
    let sig_path = dir.path().join("alice.approval.sig");
    std::fs::write(&sig_path, &sig).unwrap();

    let mut entry = AllowedSigner::new(vec![PRINCIPAL.into()], key.public_key().clone());
    entry.namespaces = Some(vec!["stepgate".into()]);
    entry.valid_after = Some(datetime!(2020-01-01 0:00 UTC));
    let allowed = dir.path().join("allowed_signers");
    std::fs::write(&allowed, entry.to_line() + "\n").unwrap();

    let run = |principal: &str, namespace: &str, message: &str| {
        let mut child = Command::new("ssh-keygen")
            .args([
                "-Y",
                "verify",
                "-f",
                allowed.to_str().unwrap(),
                "-I",
                principal,
                "-n",
                namespace,
                "-s",
                sig_path.to_str().unwrap(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ssh-keygen -Y verify");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(message.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };

    let out = run(PRINCIPAL, "stepgate", &text);
    assert!(
        out.status.success(),
        "ssh-keygen -Y verify rejected a stepgate signature: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Good \"stepgate\" signature"));

    // ssh-keygen agrees on the failures too.
    assert!(!run(PRINCIPAL, "other", &text).status.success());
    assert!(!run("bob@example.org", "stepgate", &text).status.success());
    assert!(
        !run(PRINCIPAL, "stepgate", &text.replace("apply", "restore"))
            .status
            .success()
    );

    // find-principals maps the signature back to the principal.
    let out = Command::new("ssh-keygen")
        .args([
            "-Y",
            "find-principals",
            "-f",
            allowed.to_str().unwrap(),
            "-s",
            sig_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), PRINCIPAL);
}

#[test]
fn other_namespace_is_rejected() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = gen_key(dir.path(), "id_ed25519", "");
    let text = statement_text();
    let sig = keygen_sign(dir.path(), &key, "other", &text);
    let pk = public_key(&key);

    assert_eq!(
        verify(&text, &sig, &pk).unwrap_err(),
        ApprovalError::WrongNamespace {
            found: "other".into()
        }
    );

    let trusted = vec![AllowedSigner::new(vec![PRINCIPAL.into()], pk)];
    let signers = vec![PRINCIPAL.to_string()];
    let gate = GateSpec {
        name: "dba",
        signers: &signers,
        quorum: 1,
    };
    let cand = Candidate {
        source: "approvals/alice.approval".into(),
        statement_text: text,
        sig_pem: Some(sig),
    };
    let r = evaluate_gate(&gate, &expected(), &[cand], &trusted, NOW);
    assert!(!r.satisfied);
    assert_eq!(
        r.approvals[0].verdict,
        Verdict::Invalid(Reason::WrongNamespace {
            found: "other".into()
        })
    );
}

#[test]
fn ssh_keygen_encrypted_key_loads_with_passphrase() {
    if !have_ssh_keygen() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_path = gen_key(dir.path(), "id_enc", "correct horse");
    let pem = std::fs::read_to_string(&key_path).unwrap();

    assert_eq!(
        load_private_key(&pem, None).unwrap_err(),
        ApprovalError::EncryptedKey
    );
    assert_eq!(
        load_private_key(&pem, Some("wrong")).unwrap_err(),
        ApprovalError::WrongPassphrase
    );
    let key = load_private_key(&pem, Some("correct horse")).unwrap();
    let text = statement_text();
    let sig = sign(&text, &key).unwrap();
    verify(&text, &sig, &public_key(&key_path)).unwrap();
}
