//! Approvals: the strict statement parser, the sshsig armor, verification with a fixed
//! key, `allowed_signers`, and a whole gate evaluation over what was parsed.
//!
//! Input: `STATEMENT \0 SIGNATURE` (everything after the first NUL is the signature; without
//! a NUL the whole input is tried as each). The whole input is also an allowed_signers file.
//!
//! Property checked besides "no panic": a statement the parser accepts is byte for byte
//! its own canonical rendering (the parser is documented to accept exactly what `render`
//! produces), because what is signed must be what is enforced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepgate::core::approval::{self, Action, AllowedSigner, Candidate, Expected, GateSpec};

/// The key the seeds in `fuzz/corpus/approval` are signed with (its private half is not kept:
/// regenerate seeds with a new key and replace this line).
const FIXED_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIL38vD2OmeE3PEQftagg3iSMPwMXxw1nRKiOjR3Fb2NO";

fn fixed_key() -> ssh_key::PublicKey {
    ssh_key::PublicKey::from_openssh(FIXED_KEY).expect("the fixed key parses")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (statement, sig) = match text.split_once('\0') {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let parsed = approval::Statement::parse(statement);
    if let Ok(st) = &parsed {
        assert_eq!(
            st.render(),
            statement,
            "Statement::parse accepted a non-canonical statement"
        );
    }
    if let Err(e) = &parsed {
        let _ = e.to_string();
    }
    let key = fixed_key();
    let _ = approval::signer_key_of(sig);
    let _ = approval::verify(statement, sig, &key);

    let now = time::macros::datetime!(2026-11-23 12:00 UTC);
    let mut trusted: Vec<AllowedSigner> = approval::parse_allowed_signers(text).unwrap_or_default();
    for t in &trusted {
        let _ = t.to_line();
        let _ = t.matches_principal(statement);
        let _ = t.allows_namespace(approval::NAMESPACE);
        let _ = t.valid_at(now);
    }
    trusted.push(AllowedSigner::new(vec!["owner@example.org".into()], key));

    let signers = vec!["owner@example.org".to_string()];
    let gate = GateSpec {
        name: "owner",
        signers: &signers,
        quorum: 1,
    };
    let h = "0000000000000000000000000000000000000000000000000000000000000000";
    let expected = Expected {
        pack: "fuzz",
        step: "1",
        action: Action::Apply,
        step_sha256: Some(h),
        rollback_sha256: None,
        manifest_sha256: h,
        database: "db",
        environment: Some("test"),
    };
    let cands = vec![
        Candidate {
            source: "a".into(),
            statement_text: statement.to_string(),
            sig_pem: Some(sig.to_string()),
        },
        Candidate {
            source: "b".into(),
            statement_text: statement.to_string(),
            sig_pem: None,
        },
    ];
    let r = approval::evaluate_gate(&gate, &expected, &cands, &trusted, now);
    for a in &r.approvals {
        if let approval::Verdict::Invalid(reason) = &a.verdict {
            let _ = (reason.to_string(), reason.code());
        }
    }
});
