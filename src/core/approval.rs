//! Approvals: the signed statement, sshsig signing/verification, the OpenSSH
//! `allowed_signers` trust format, and the evaluation of one gate's approvals.
//!
//! Pure: no clock reads (callers pass `now`), no file I/O (functions take text).
//!
//! An approval is a small, strict, line-oriented *statement* (see [`Statement`])
//! signed with an SSH key in the `sshsig` format under the namespace
//! [`NAMESPACE`] (`stepgate`), hash sha512, so that
//! `ssh-keygen -Y sign -n stepgate` and `ssh-keygen -Y verify -n stepgate`
//! interoperate with [`sign`] and [`verify`] in both directions.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use std::collections::HashMap;
use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The sshsig namespace every stepgate approval is signed under.
pub const NAMESPACE: &str = "stepgate";

/// First line of every version-1 statement.
pub const VERSION_LINE: &str = "stepgate approval v2";

/// The statement's fields, in their one permitted order.
const FIELDS: [&str; 13] = [
    "pack",
    "step",
    "gate",
    "action",
    "step-sha256",
    "rollback-sha256",
    "plan-sha256",
    "manifest-sha256",
    "target-database",
    "target-environment",
    "principal",
    "issued-at",
    "expires-at",
];

/// sha256 of some bytes as 64 lowercase hex digits (the form a statement binds).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------
// Action
// ---------------------------------------------------------------------------

/// What the approval allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Apply,
    Rollback,
    Resume,
    Restore,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Apply,
        Action::Rollback,
        Action::Resume,
        Action::Restore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Rollback => "rollback",
            Action::Resume => "resume",
            Action::Restore => "restore",
        }
    }

    /// Exact, lowercase parse (`apply`, `rollback`, `resume`, `restore`).
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Statement
// ---------------------------------------------------------------------------

/// A statement failed to parse. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct StatementError {
    pub line: usize,
    pub message: String,
}

impl StatementError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        StatementError {
            line,
            message: message.into(),
        }
    }
}

/// The text an approver signs. See the module docs for the format; [`Statement::render`]
/// produces it and [`Statement::parse`] accepts exactly that and nothing else.
///
/// ```text
/// stepgate approval v2
/// pack: <pack id>
/// step: <step id>
/// gate: <gate name>
/// action: <apply|rollback|resume|restore>
/// step-sha256: <64 lowercase hex, or "-">
/// rollback-sha256: <64 lowercase hex, or "-">
/// plan-sha256: <64 lowercase hex: the execution plan, see `core::plan`>
/// manifest-sha256: <64 lowercase hex>
/// target-database: <db name>
/// target-environment: <label, or "-">
/// principal: <principal>
/// issued-at: <YYYY-MM-DDTHH:MM:SSZ>
/// expires-at: <YYYY-MM-DDTHH:MM:SSZ>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub pack: String,
    /// Step id; for a resume approval, the halt event as `halt-<id>`.
    pub step: String,
    pub gate: String,
    pub action: Action,
    /// `None` renders as `-`.
    pub step_sha256: Option<String>,
    /// `None` renders as `-`.
    pub rollback_sha256: Option<String>,
    /// sha256 of the canonical execution plan (`core::plan`): what the server checks.
    pub plan_sha256: String,
    pub manifest_sha256: String,
    pub target_database: String,
    /// `None` renders as `-`.
    pub target_environment: Option<String>,
    pub principal: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Statement {
    /// The statement that would satisfy `expected` for `gate`, signed by `principal`.
    pub fn for_expected(
        expected: &Expected<'_>,
        gate: &str,
        principal: &str,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Statement {
        Statement {
            pack: expected.pack.to_string(),
            step: expected.step.to_string(),
            gate: gate.to_string(),
            action: expected.action,
            step_sha256: expected.step_sha256.map(str::to_string),
            rollback_sha256: expected.rollback_sha256.map(str::to_string),
            plan_sha256: expected.plan_sha256.to_string(),
            manifest_sha256: expected.manifest_sha256.to_string(),
            target_database: expected.database.to_string(),
            target_environment: expected.environment.map(str::to_string),
            principal: principal.to_string(),
            issued_at,
            expires_at,
        }
    }

    /// The canonical text (LF endings, trailing newline). Timestamps are rendered in
    /// UTC at seconds precision (sub-second parts are dropped). Rendering does not
    /// validate the field values; a statement built from bad values will not parse
    /// back, so callers signing fresh statements should `parse(&render())` first
    /// ([`sign`] does).
    pub fn render(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        let values: [String; 13] = [
            self.pack.clone(),
            self.step.clone(),
            self.gate.clone(),
            self.action.as_str().to_string(),
            dash(&self.step_sha256),
            dash(&self.rollback_sha256),
            self.plan_sha256.clone(),
            self.manifest_sha256.clone(),
            self.target_database.clone(),
            dash(&self.target_environment),
            self.principal.clone(),
            render_timestamp(self.issued_at),
            render_timestamp(self.expires_at),
        ];
        let mut out = String::with_capacity(512);
        out.push_str(VERSION_LINE);
        out.push('\n');
        for (key, value) in FIELDS.iter().zip(values.iter()) {
            out.push_str(key);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        }
        out
    }

    /// Strict parse of the canonical text. Rejects anything [`Statement::render`]
    /// would not produce: missing, extra, duplicate or reordered fields, an unknown
    /// version line, bad hex, bad timestamps, CR characters, a missing final newline,
    /// values with surrounding whitespace, and `expires-at` not after `issued-at`.
    pub fn parse(text: &str) -> Result<Statement, StatementError> {
        if text.is_empty() {
            return Err(StatementError::new(
                1,
                format!("empty statement; the first line must be `{VERSION_LINE}`"),
            ));
        }
        if let Some(pos) = text.find('\r') {
            let line = text[..pos].matches('\n').count() + 1;
            return Err(StatementError::new(
                line,
                "carriage return found (CRLF line ending?); statements use LF line endings only",
            ));
        }
        let Some(body) = text.strip_suffix('\n') else {
            let line = text.matches('\n').count() + 1;
            return Err(StatementError::new(
                line,
                "the statement must end with a newline (LF) after `expires-at`",
            ));
        };
        let lines: Vec<&str> = body.split('\n').collect();

        let first = lines.first().copied().unwrap_or("");
        if first != VERSION_LINE {
            let message = match first.strip_prefix("stepgate approval ") {
                Some("v1") => format!(
                    "unsupported statement version `v1`: v1 approvals do not bind the execution plan the database checks; sign again (`stepgate approve`) to get `{VERSION_LINE}`"
                ),
                Some(v) if v.starts_with('v') && v.trim() == v => format!(
                    "unsupported statement version `{v}`; this stepgate understands only `{VERSION_LINE}`"
                ),
                _ => format!(
                    "not a stepgate approval statement: the first line must be exactly `{VERSION_LINE}`"
                ),
            };
            return Err(StatementError::new(1, message));
        }

        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut values: Vec<&str> = Vec::with_capacity(FIELDS.len());
        for (idx, raw) in lines.iter().enumerate().skip(1) {
            let lineno = idx + 1;
            let slot = idx - 1;
            let parsed = split_field(raw, lineno);
            if slot >= FIELDS.len() {
                if let Ok((key, _)) = &parsed {
                    if let Some(prev) = seen.get(key) {
                        return Err(StatementError::new(
                            lineno,
                            format!("duplicate field `{key}` (already given on line {prev})"),
                        ));
                    }
                }
                return Err(StatementError::new(
                    lineno,
                    "unexpected extra line: the statement must end after `expires-at`",
                ));
            }
            let (key, value) = parsed?;
            if let Some(prev) = seen.get(key) {
                return Err(StatementError::new(
                    lineno,
                    format!("duplicate field `{key}` (already given on line {prev})"),
                ));
            }
            if !FIELDS.contains(&key) {
                return Err(StatementError::new(
                    lineno,
                    format!("unknown field `{key}`; expected `{}` here", FIELDS[slot]),
                ));
            }
            let want = FIELDS[slot];
            if key != want {
                let later = lines[idx..]
                    .iter()
                    .any(|l| l.split_once(": ").map(|(k, _)| k) == Some(want));
                let message = if later {
                    format!(
                        "field `{key}` is out of order: `{want}` must come here (fields must appear in the fixed order {})",
                        FIELDS.join(", ")
                    )
                } else {
                    format!("missing field `{want}` (found `{key}` where `{want}` belongs)")
                };
                return Err(StatementError::new(lineno, message));
            }
            check_value(key, value, lineno)?;
            seen.insert(key, lineno);
            values.push(value);
        }
        if values.len() < FIELDS.len() {
            return Err(StatementError::new(
                lines.len() + 1,
                format!(
                    "missing field `{}`: the statement ended early",
                    FIELDS[values.len()]
                ),
            ));
        }

        // Line numbers: version is line 1, FIELDS[i] is line i + 2.
        let at = |i: usize| i + 2;
        let hash_or_dash = |i: usize| -> Option<String> {
            match values[i] {
                "-" => None,
                v => Some(v.to_string()),
            }
        };
        let action = Action::parse(values[3]).ok_or_else(|| {
            StatementError::new(
                at(3),
                format!(
                    "unknown action `{}`; expected one of apply, rollback, resume, restore",
                    values[3]
                ),
            )
        })?;
        let issued_at = parse_timestamp(values[11]).map_err(|m| StatementError::new(at(11), m))?;
        let expires_at = parse_timestamp(values[12]).map_err(|m| StatementError::new(at(12), m))?;
        if expires_at <= issued_at {
            return Err(StatementError::new(
                at(12),
                format!(
                    "expires-at {} is not after issued-at {}",
                    values[12], values[11]
                ),
            ));
        }
        Ok(Statement {
            pack: values[0].to_string(),
            step: values[1].to_string(),
            gate: values[2].to_string(),
            action,
            step_sha256: hash_or_dash(4),
            rollback_sha256: hash_or_dash(5),
            plan_sha256: values[6].to_string(),
            manifest_sha256: values[7].to_string(),
            target_database: values[8].to_string(),
            target_environment: hash_or_dash(9),
            principal: values[10].to_string(),
            issued_at,
            expires_at,
        })
    }
}

/// Split `key: value`, with exactly one space after the colon.
fn split_field(line: &str, lineno: usize) -> Result<(&str, &str), StatementError> {
    if line.is_empty() {
        return Err(StatementError::new(
            lineno,
            "blank line; every line after the first must be `key: value`",
        ));
    }
    if line.starts_with(char::is_whitespace) {
        return Err(StatementError::new(lineno, "line starts with whitespace"));
    }
    let Some((key, rest)) = line.split_once(':') else {
        return Err(StatementError::new(
            lineno,
            format!("expected `key: value`, found `{line}`"),
        ));
    };
    if rest.is_empty() {
        return Err(StatementError::new(
            lineno,
            format!("field `{key}` has an empty value"),
        ));
    }
    let Some(value) = rest.strip_prefix(' ') else {
        return Err(StatementError::new(
            lineno,
            format!("expected exactly one space after `{key}:`"),
        ));
    };
    Ok((key, value))
}

fn check_value(key: &str, value: &str, lineno: usize) -> Result<(), StatementError> {
    if value.is_empty() {
        return Err(StatementError::new(
            lineno,
            format!("field `{key}` has an empty value"),
        ));
    }
    if value.trim() != value {
        return Err(StatementError::new(
            lineno,
            format!("the value of `{key}` has leading or trailing whitespace"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(StatementError::new(
            lineno,
            format!("the value of `{key}` contains a control character"),
        ));
    }
    match key {
        "step-sha256" | "rollback-sha256" if value == "-" => Ok(()),
        "step-sha256" | "rollback-sha256" | "manifest-sha256" | "plan-sha256" => {
            if is_sha256_hex(value) {
                Ok(())
            } else {
                let dash = if matches!(key, "manifest-sha256" | "plan-sha256") {
                    ""
                } else {
                    " or `-`"
                };
                Err(StatementError::new(
                    lineno,
                    format!("`{key}` must be 64 lowercase hex digits{dash}, found `{value}`"),
                ))
            }
        }
        _ => Ok(()),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `YYYY-MM-DDTHH:MM:SSZ`, UTC, seconds precision.
fn render_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Strict `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_timestamp(s: &str) -> Result<OffsetDateTime, String> {
    let bad = || {
        format!("bad timestamp `{s}`; expected RFC 3339 UTC at seconds precision, like 2026-11-23T10:00:00Z")
    };
    let b = s.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter()
            .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
    };
    let year = i32::try_from(num(0..4)).map_err(|_| bad())?;
    let month = u8::try_from(num(5..7))
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(num(8..10)).map_err(|_| bad())?;
    let hour = u8::try_from(num(11..13)).map_err(|_| bad())?;
    let minute = u8::try_from(num(14..16)).map_err(|_| bad())?;
    let second = u8::try_from(num(17..19)).map_err(|_| bad())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let time = Time::from_hms(hour, minute, second).map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

// ---------------------------------------------------------------------------
// Keys, signing, verification
// ---------------------------------------------------------------------------

/// Errors from key loading, signing and verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the approval statement is malformed: {0}")]
    Statement(#[from] StatementError),
    #[error("the signature is malformed or truncated: {0}")]
    MalformedSignature(String),
    #[error(
        "the signature was made for namespace `{found}`, not `{NAMESPACE}`; sign with `ssh-keygen -Y sign -n {NAMESPACE}`"
    )]
    WrongNamespace { found: String },
    #[error("the signature was made by key {found}, not by the expected key {expected}")]
    KeyMismatch { expected: String, found: String },
    #[error("the signature does not match the statement (the statement was altered, or the signature belongs to another text)")]
    BadSignature,
    #[error("{algorithm} keys are not supported for stepgate approvals; use {KEY_POLICY}")]
    UnsupportedAlgorithm { algorithm: String },
    #[error("the private key is encrypted; supply its passphrase")]
    EncryptedKey,
    #[error("wrong passphrase for the private key")]
    WrongPassphrase,
    #[error("cannot read the private key: {0}")]
    MalformedKey(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// What stepgate accepts, in words (error messages, docs).
pub const KEY_POLICY: &str =
    "an ed25519 key, an ECDSA key (nistp256, nistp384, nistp521) or an RSA key of 2048 to 8192 bits with exponent 65537";

/// The key types and sizes stepgate accepts: the same rule in the client ([`sign`], [`verify`]),
/// at registration (`stepgate signers add`) and in the server (`src/db/sql/rsa.sql`,
/// `ecdsa.sql`, `ed25519.sql`), so that an approval valid in one place is valid in all.
/// RSA: e = 65537 only (small exponents are what makes lenient-padding forgeries practical;
/// OpenSSH generates nothing else) and 2048 to 8192 bits (the server bounds its work).
pub fn check_key_policy(key: &ssh_key::public::KeyData) -> Result<(), ApprovalError> {
    use ssh_key::public::KeyData;
    match key {
        KeyData::Ed25519(_) => Ok(()),
        // Uncompressed points only, as OpenSSH (and the server) read them.
        KeyData::Ecdsa(ec) if ec.as_sec1_bytes().first() == Some(&4) => Ok(()),
        KeyData::Ecdsa(ec) => Err(ApprovalError::UnsupportedAlgorithm {
            algorithm: format!("{} (compressed point)", ec.algorithm()),
        }),
        KeyData::Rsa(rsa) => {
            let bits = mpint_bits(&rsa.n);
            let e_ok = rsa.e.as_positive_bytes() == Some(&[1, 0, 1][..]);
            if e_ok && (2048..=8192).contains(&bits) {
                Ok(())
            } else {
                Err(ApprovalError::UnsupportedAlgorithm {
                    algorithm: if e_ok {
                        format!("ssh-rsa {bits}-bit")
                    } else {
                        "ssh-rsa (exponent other than 65537)".to_string()
                    },
                })
            }
        }
        other => Err(ApprovalError::UnsupportedAlgorithm {
            algorithm: other.algorithm().to_string(),
        }),
    }
}

/// Significant bits of a non-negative mpint (0 for a negative or empty one).
fn mpint_bits(m: &ssh_key::Mpint) -> usize {
    let Some(bytes) = m.as_positive_bytes() else {
        return 0;
    };
    let Some(pos) = bytes.iter().position(|b| *b != 0) else {
        return 0;
    };
    (bytes.len() - pos) * 8 - bytes[pos].leading_zeros() as usize
}

/// Parse an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), decrypting it
/// with `passphrase` when it is encrypted. A passphrase given for an unencrypted key
/// is ignored.
pub fn load_private_key(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, ApprovalError> {
    let key = PrivateKey::from_openssh(text).map_err(|e| {
        let mut why = e.to_string();
        if why.contains("length invalid") {
            // ssh-key 0.6 reads a P-521 private scalar only at its full width; OpenSSH writes
            // it without leading zero bytes (about one key in five).
            why.push_str(
                "; if this is an ECDSA P-521 key, its file cannot be read here: sign through \
                 ssh-agent (`ssh-add KEY`, then `--key KEY.pub`) or use an ed25519 key",
            );
        }
        ApprovalError::MalformedKey(why)
    })?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    let Some(pass) = passphrase else {
        return Err(ApprovalError::EncryptedKey);
    };
    key.decrypt(pass).map_err(|e| match e {
        ssh_key::Error::Crypto => ApprovalError::WrongPassphrase,
        other => ApprovalError::MalformedKey(other.to_string()),
    })
}

/// Sign a statement: returns the armored `-----BEGIN SSH SIGNATURE-----` text, as
/// `ssh-keygen -Y sign -n stepgate` writes it to `<file>.sig`. The text must be a
/// well-formed statement (it is parsed first), and is signed byte for byte.
pub fn sign(statement_text: &str, key: &PrivateKey) -> Result<String, ApprovalError> {
    Statement::parse(statement_text)?;
    if key.is_encrypted() {
        return Err(ApprovalError::EncryptedKey);
    }
    check_key_policy(key.public_key().key_data())?;
    if let ssh_key::private::KeypairData::Rsa(rsa) = key.key_data() {
        return armor(&sign_rsa(statement_text, rsa)?);
    }
    let sig = key
        .sign(NAMESPACE, HashAlg::Sha512, statement_text.as_bytes())
        .map_err(|e| match e {
            ssh_key::Error::AlgorithmUnsupported { algorithm } => {
                ApprovalError::UnsupportedAlgorithm {
                    algorithm: algorithm.to_string(),
                }
            }
            other => ApprovalError::Signing(other.to_string()),
        })?;
    armor(&sig)
}

/// rsa-sha2-512 signing through OpenSSL. ssh-key 0.6.7 cannot sign with RSA keys: its
/// conversion to the `rsa` crate's key passes the prime p twice (instead of p and q), which
/// fails validation ("cryptographic error"), so the private operation is done here from the
/// key's own components (n, e, d, p, q, iqmp; the CRT exponents are derived).
fn sign_rsa(
    statement_text: &str,
    rsa: &ssh_key::private::RsaKeypair,
) -> Result<SshSig, ApprovalError> {
    use openssl::bn::{BigNum, BigNumContext};
    let fail = |e: openssl::error::ErrorStack| ApprovalError::Signing(e.to_string());
    let bn = |m: &ssh_key::Mpint| -> Result<BigNum, ApprovalError> {
        let bytes = m.as_positive_bytes().ok_or_else(|| {
            ApprovalError::MalformedKey("an RSA key component is negative".to_string())
        })?;
        BigNum::from_slice(bytes).map_err(fail)
    };
    let (p, q, d) = (
        bn(&rsa.private.p)?,
        bn(&rsa.private.q)?,
        bn(&rsa.private.d)?,
    );
    let mut ctx = BigNumContext::new().map_err(fail)?;
    let crt_exponent = |prime: &BigNum, ctx: &mut BigNumContext| -> Result<BigNum, ApprovalError> {
        let one = BigNum::from_u32(1).map_err(fail)?;
        let mut minus_one = BigNum::new().map_err(fail)?;
        minus_one.checked_sub(prime, &one).map_err(fail)?;
        let mut r = BigNum::new().map_err(fail)?;
        r.nnmod(&d, &minus_one, ctx).map_err(fail)?;
        Ok(r)
    };
    let (dmp1, dmq1) = (crt_exponent(&p, &mut ctx)?, crt_exponent(&q, &mut ctx)?);
    let private = openssl::rsa::Rsa::from_private_components(
        bn(&rsa.public.n)?,
        bn(&rsa.public.e)?,
        bn(&rsa.private.d)?,
        p,
        q,
        dmp1,
        dmq1,
        bn(&rsa.private.iqmp)?,
    )
    .map_err(fail)?;
    let pkey = openssl::pkey::PKey::from_rsa(private).map_err(fail)?;
    let data = SshSig::signed_data(NAMESPACE, HashAlg::Sha512, statement_text.as_bytes())
        .map_err(|e| ApprovalError::Signing(e.to_string()))?;
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha512(), &pkey).map_err(fail)?;
    let raw = signer.sign_oneshot_to_vec(&data).map_err(fail)?;
    let sig = ssh_key::Signature::new(
        ssh_key::Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        raw,
    )
    .map_err(|e| ApprovalError::Signing(e.to_string()))?;
    let public = ssh_key::public::KeyData::Rsa(rsa.public.clone());
    SshSig::new(public, NAMESPACE, HashAlg::Sha512, sig)
        .map_err(|e| ApprovalError::Signing(e.to_string()))
}

fn armor(sig: &SshSig) -> Result<String, ApprovalError> {
    let mut pem = sig
        .to_pem(LineEnding::LF)
        .map_err(|e| ApprovalError::Signing(e.to_string()))?;
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    Ok(pem)
}

/// The bytes an sshsig signer signs for `statement_text` (PROTOCOL.sshsig: the `SSHSIG`
/// preamble, namespace, hash algorithm sha512 and the statement's hash): what an ssh-agent
/// is asked to sign.
pub fn signed_data(statement_text: &str) -> Result<Vec<u8>, ApprovalError> {
    Statement::parse(statement_text)?;
    SshSig::signed_data(NAMESPACE, HashAlg::Sha512, statement_text.as_bytes())
        .map_err(|e| ApprovalError::Signing(e.to_string()))
}

/// Wraps a raw ssh signature blob (string(algorithm) || string(signature), as an ssh-agent
/// returns it) made by `key` over [`signed_data`] into the armored sshsig, and verifies the
/// result before returning it: a misbehaving agent must not produce a file that fails later.
pub fn armor_signature(
    statement_text: &str,
    key: &PublicKey,
    signature_blob: &[u8],
) -> Result<String, ApprovalError> {
    check_key_policy(key.key_data())?;
    let sig = ssh_key::Signature::try_from(signature_blob)
        .map_err(|e| ApprovalError::Signing(format!("the agent's signature is malformed: {e}")))?;
    let sig = SshSig::new(key.key_data().clone(), NAMESPACE, HashAlg::Sha512, sig)
        .map_err(|e| ApprovalError::Signing(e.to_string()))?;
    let pem = armor(&sig)?;
    verify(statement_text, &pem, key).map_err(|e| {
        ApprovalError::Signing(format!("the agent's signature does not verify: {e}"))
    })?;
    Ok(pem)
}

fn parse_sig(sig_pem: &str) -> Result<SshSig, ApprovalError> {
    let trimmed = sig_pem.trim();
    if trimmed.is_empty() {
        return Err(ApprovalError::MalformedSignature(
            "the signature file is empty".to_string(),
        ));
    }
    if !trimmed.starts_with("-----BEGIN SSH SIGNATURE-----") {
        return Err(ApprovalError::MalformedSignature(
            "expected `-----BEGIN SSH SIGNATURE-----`".to_string(),
        ));
    }
    if !trimmed.ends_with("-----END SSH SIGNATURE-----") {
        return Err(ApprovalError::MalformedSignature(
            "missing `-----END SSH SIGNATURE-----` (truncated?)".to_string(),
        ));
    }
    SshSig::from_pem(trimmed).map_err(|e| ApprovalError::MalformedSignature(e.to_string()))
}

fn fingerprint_of(key: &ssh_key::public::KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Check that the signature's embedded key, its namespace, and the bytes it signs
/// match, and that the embedded key is the given key (compared by key data).
fn verify_sig(statement_text: &str, sig: &SshSig) -> Result<(), ApprovalError> {
    if sig.namespace() != NAMESPACE {
        return Err(ApprovalError::WrongNamespace {
            found: sig.namespace().to_string(),
        });
    }
    check_key_policy(sig.public_key())?;
    // RSA: only the SHA-2 signature algorithms, as the server (`rsa.sql`); `ssh-rsa` is SHA-1.
    if let ssh_key::Algorithm::Rsa { hash: None } = sig.signature().algorithm() {
        return Err(ApprovalError::UnsupportedAlgorithm {
            algorithm: "ssh-rsa (SHA-1) signature".to_string(),
        });
    }
    let key = PublicKey::new(sig.public_key().clone(), "");
    key.verify(NAMESPACE, statement_text.as_bytes(), sig)
        .map_err(|e| match e {
            ssh_key::Error::AlgorithmUnsupported { algorithm } => {
                ApprovalError::UnsupportedAlgorithm {
                    algorithm: algorithm.to_string(),
                }
            }
            _ => ApprovalError::BadSignature,
        })
}

/// Verify an armored sshsig over `statement_text` (its exact bytes) made by `key`
/// in the `stepgate` namespace.
pub fn verify(statement_text: &str, sig_pem: &str, key: &PublicKey) -> Result<(), ApprovalError> {
    let sig = parse_sig(sig_pem)?;
    if sig.public_key() != key.key_data() {
        return Err(ApprovalError::KeyMismatch {
            expected: fingerprint_of(key.key_data()),
            found: fingerprint_of(sig.public_key()),
        });
    }
    verify_sig(statement_text, &sig)
}

/// The public key embedded in an armored sshsig (not yet trusted: check it against
/// an allowed-signers list).
pub fn signer_key_of(sig_pem: &str) -> Result<PublicKey, ApprovalError> {
    let sig = parse_sig(sig_pem)?;
    Ok(PublicKey::new(sig.public_key().clone(), ""))
}

// ---------------------------------------------------------------------------
// allowed_signers
// ---------------------------------------------------------------------------

/// An `allowed_signers` file failed to parse. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AllowedSignersError {
    pub line: usize,
    pub message: String,
}

/// One line of an OpenSSH `allowed_signers` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSigner {
    /// Principal patterns (OpenSSH pattern-list syntax: `*`, `?`, `!negation`).
    pub principals: Vec<String>,
    /// `namespaces="..."`: pattern list the key may sign for; `None` = any.
    pub namespaces: Option<Vec<String>>,
    pub key: PublicKey,
    /// `valid-after=`: the key is not trusted before this instant.
    pub valid_after: Option<OffsetDateTime>,
    /// `valid-before=`: the key is not trusted from this instant on.
    pub valid_before: Option<OffsetDateTime>,
    /// 1-based line in the source text (0 for entries built in code).
    pub line: usize,
}

impl AllowedSigner {
    /// An entry trusting `key` for exactly these principals, any namespace, no window.
    pub fn new(principals: Vec<String>, key: PublicKey) -> Self {
        AllowedSigner {
            principals,
            namespaces: None,
            key,
            valid_after: None,
            valid_before: None,
            line: 0,
        }
    }

    /// Whether `principal` matches this entry's principal patterns.
    pub fn matches_principal(&self, principal: &str) -> bool {
        match_pattern_list(principal, &self.principals)
    }

    /// Whether this entry allows signatures in `namespace`.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        match &self.namespaces {
            None => true,
            Some(list) => match_pattern_list(namespace, list),
        }
    }

    /// Whether the key is inside its validity window at `now`.
    pub fn valid_at(&self, now: OffsetDateTime) -> bool {
        self.valid_after.is_none_or(|a| now >= a) && self.valid_before.is_none_or(|b| now < b)
    }

    /// Render as one `allowed_signers` line (for `ssh-keygen -Y verify -f`).
    /// Timestamps are written in UTC with a `Z` suffix.
    pub fn to_line(&self) -> String {
        let mut opts = Vec::new();
        if let Some(ns) = &self.namespaces {
            opts.push(format!("namespaces=\"{}\"", ns.join(",")));
        }
        let ts = |t: OffsetDateTime| {
            let t = t.to_offset(UtcOffset::UTC);
            format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        };
        if let Some(a) = self.valid_after {
            opts.push(format!("valid-after=\"{}\"", ts(a)));
        }
        if let Some(b) = self.valid_before {
            opts.push(format!("valid-before=\"{}\"", ts(b)));
        }
        let key = PublicKey::new(self.key.key_data().clone(), "")
            .to_openssh()
            .unwrap_or_default();
        let mut out = self.principals.join(",");
        if !opts.is_empty() {
            out.push(' ');
            out.push_str(&opts.join(","));
        }
        out.push(' ');
        out.push_str(key.trim_end());
        out
    }
}

/// Parse an OpenSSH `allowed_signers` file: one `principals [options] keytype base64
/// [comment]` per line; `#` comments and blank lines are skipped. Supported options:
/// `namespaces="..."`, `valid-after="..."`, `valid-before="..."` (times as
/// `YYYYMMDD[HHMM[SS]][Z]`; stepgate reads them as UTC with or without the `Z`,
/// where OpenSSH would read a time without `Z` as local time). `cert-authority`
/// and certificate keys are rejected as unsupported.
pub fn parse_allowed_signers(text: &str) -> Result<Vec<AllowedSigner>, AllowedSignersError> {
    let mut out = Vec::new();
    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let err = |message: String| AllowedSignersError {
            line: lineno,
            message,
        };
        let rest = line.trim_start_matches([' ', '\t']);
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let (principals_field, rest) = take_token(rest).map_err(err)?;
        let principals: Vec<String> = principals_field.split(',').map(str::to_string).collect();
        if principals.iter().any(|p| p.is_empty() || p == "!") {
            return Err(err(format!("empty principal in `{principals_field}`")));
        }
        let rest = rest.trim_start_matches([' ', '\t']);
        let (options, rest) = if looks_like_key_type(first_word(rest)) {
            (None, rest)
        } else {
            let (opts, after) = split_options(rest).map_err(err)?;
            (Some(opts), after.trim_start_matches([' ', '\t']))
        };
        let key_type = first_word(rest);
        if key_type.is_empty() {
            return Err(err("no key after the principals and options".to_string()));
        }
        if key_type.contains("-cert-v01@openssh.com") {
            return Err(err(format!(
                "certificate keys ({key_type}) are not supported; list the signer's plain public key"
            )));
        }
        let after_type = rest[key_type.len()..].trim_start_matches([' ', '\t']);
        let b64 = first_word(after_type);
        if b64.is_empty() {
            return Err(err(format!("`{key_type}` key has no base64 key data")));
        }
        let comment = after_type[b64.len()..].trim_matches([' ', '\t']);
        let mut key = PublicKey::from_openssh(&format!("{key_type} {b64}"))
            .map_err(|e| err(format!("invalid `{key_type}` public key: {e}")))?;
        key.set_comment(comment);

        let mut entry = AllowedSigner {
            principals,
            namespaces: None,
            key,
            valid_after: None,
            valid_before: None,
            line: lineno,
        };
        if let Some(opts) = options {
            apply_options(&mut entry, opts).map_err(err)?;
        }
        out.push(entry);
    }
    Ok(out)
}

fn first_word(s: &str) -> &str {
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    &s[..end]
}

fn looks_like_key_type(word: &str) -> bool {
    ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"]
        .iter()
        .any(|p| word.starts_with(p))
}

/// One whitespace-delimited token, or a `"quoted"` one (quotes removed).
fn take_token(s: &str) -> Result<(&str, &str), String> {
    if let Some(inner) = s.strip_prefix('"') {
        let Some(end) = inner.find('"') else {
            return Err("unterminated quote in the principals field".to_string());
        };
        let after = &inner[end + 1..];
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            return Err("expected whitespace after the quoted principals".to_string());
        }
        Ok((&inner[..end], after))
    } else {
        let end = s.find([' ', '\t']).unwrap_or(s.len());
        Ok((&s[..end], &s[end..]))
    }
}

/// Split the options field off: up to the first whitespace outside double quotes.
fn split_options(s: &str) -> Result<(&str, &str), String> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            ' ' | '\t' if !in_quote => return Ok((&s[..i], &s[i..])),
            _ => {}
        }
    }
    if in_quote {
        Err("unterminated quote in the options".to_string())
    } else {
        Err(format!("no key after the options `{s}`"))
    }
}

fn apply_options(entry: &mut AllowedSigner, opts: &str) -> Result<(), String> {
    let mut rest = opts;
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        let value = if let Some(r) = rest.strip_prefix('=') {
            let Some(r) = r.strip_prefix('"') else {
                return Err(format!("option `{name}`: value must be in double quotes"));
            };
            let mut val = String::new();
            let mut chars = r.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => val.push(c),
                }
            }
            let Some(end) = end else {
                return Err(format!("option `{name}`: missing closing quote"));
            };
            rest = &r[end + 1..];
            Some(val)
        } else {
            None
        };
        match (name.as_str(), value) {
            ("cert-authority", None) => {
                return Err(
                    "`cert-authority` is not supported: stepgate trusts individual signer keys, not certificate authorities"
                        .to_string(),
                )
            }
            ("namespaces", Some(v)) => {
                if entry.namespaces.is_some() {
                    return Err("`namespaces` given more than once".to_string());
                }
                let list: Vec<String> = v.split(',').map(str::to_string).collect();
                if list.iter().any(String::is_empty) {
                    return Err(format!("empty namespace in `namespaces=\"{v}\"`"));
                }
                entry.namespaces = Some(list);
            }
            ("valid-after", Some(v)) => {
                if entry.valid_after.is_some() {
                    return Err("`valid-after` given more than once".to_string());
                }
                entry.valid_after = Some(parse_ssh_time(&v)?);
            }
            ("valid-before", Some(v)) => {
                if entry.valid_before.is_some() {
                    return Err("`valid-before` given more than once".to_string());
                }
                entry.valid_before = Some(parse_ssh_time(&v)?);
            }
            ("namespaces" | "valid-after" | "valid-before", None) => {
                return Err(format!("option `{name}` needs a value: {name}=\"...\""))
            }
            ("", _) => return Err(format!("malformed options `{opts}`")),
            (other, _) => return Err(format!("unsupported option `{other}`")),
        }
        if let Some(r) = rest.strip_prefix(',') {
            if r.is_empty() {
                return Err("trailing comma in the options".to_string());
            }
            rest = r;
        } else if !rest.is_empty() {
            return Err(format!("malformed options `{opts}`"));
        }
    }
    Ok(())
}

/// OpenSSH `YYYYMMDD[HHMM[SS]][Z]`, read as UTC.
fn parse_ssh_time(v: &str) -> Result<OffsetDateTime, String> {
    let bad = || {
        format!("bad time `{v}`; expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z")
    };
    let digits = v.strip_suffix('Z').unwrap_or(v);
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| -> Result<u32, String> {
        digits.get(r).and_then(|s| s.parse().ok()).ok_or_else(bad)
    };
    let year = i32::try_from(n(0..4)?).map_err(|_| bad())?;
    let month = u8::try_from(n(4..6)?)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or_else(bad)?;
    let day = u8::try_from(n(6..8)?).map_err(|_| bad())?;
    let (hour, minute, second) = match digits.len() {
        8 => (0, 0, 0),
        12 => (n(8..10)?, n(10..12)?, 0),
        _ => (n(8..10)?, n(10..12)?, n(12..14)?),
    };
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let time = Time::from_hms(
        u8::try_from(hour).map_err(|_| bad())?,
        u8::try_from(minute).map_err(|_| bad())?,
        u8::try_from(second).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

/// OpenSSH `match_pattern`: `*` any run, `?` any one character, case-sensitive.
fn match_pattern(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// OpenSSH `match_pattern_list`: any positive pattern matches and no `!negated` one does.
fn match_pattern_list(s: &str, patterns: &[String]) -> bool {
    let mut positive = false;
    for pat in patterns {
        if let Some(neg) = pat.strip_prefix('!') {
            if match_pattern(s, neg) {
                return false;
            }
        } else if match_pattern(s, pat) {
            positive = true;
        }
    }
    positive
}

// ---------------------------------------------------------------------------
// Gate evaluation
// ---------------------------------------------------------------------------

/// A gate of the manifest: who may sign and how many must.
#[derive(Debug, Clone, Copy)]
pub struct GateSpec<'a> {
    pub name: &'a str,
    pub signers: &'a [String],
    pub quorum: u32,
}

/// What a valid approval must bind.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub pack: &'a str,
    pub step: &'a str,
    pub action: Action,
    pub step_sha256: Option<&'a str>,
    pub rollback_sha256: Option<&'a str>,
    /// sha256 of the execution plan the server will check (`core::plan`).
    pub plan_sha256: &'a str,
    pub manifest_sha256: &'a str,
    pub database: &'a str,
    pub environment: Option<&'a str>,
}

/// One approval found on disk: a statement and (maybe) its signature.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// File path, for messages.
    pub source: String,
    pub statement_text: String,
    pub sig_pem: Option<String>,
}

/// Why an approval does not count. `Display` says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    MissingSignature,
    MalformedStatement(String),
    MalformedSignature(String),
    /// Signed under another sshsig namespace than `stepgate`.
    WrongNamespace {
        found: String,
    },
    BadSignature,
    /// The signing key's algorithm cannot be verified by this build.
    UnsupportedAlgorithm {
        algorithm: String,
    },
    /// The signing key is not in the trusted signer list at all.
    UnknownPrincipal {
        principal: String,
        fingerprint: String,
        /// The principal is trusted, but with other keys.
        principal_known: bool,
    },
    /// The key is trusted, but for other principals.
    KeyPrincipalMismatch {
        principal: String,
        fingerprint: String,
        key_principals: Vec<String>,
    },
    /// The key is trusted for the principal, but not for the `stepgate` namespace or not now.
    SignerRestricted {
        principal: String,
        fingerprint: String,
        detail: String,
    },
    NotASignerOfGate {
        principal: String,
        gate: String,
        signers: Vec<String>,
    },
    OtherPack {
        signed: String,
        expected: String,
    },
    OtherStep {
        signed: String,
        expected: String,
    },
    OtherGate {
        signed: String,
        expected: String,
    },
    OtherAction {
        signed: Action,
        expected: Action,
    },
    /// Database or environment differ; values rendered as `db` / `db (env)`.
    OtherTarget {
        signed: String,
        expected: String,
    },
    StepFileChanged {
        signed: Option<String>,
        current: Option<String>,
    },
    RollbackFileChanged {
        signed: Option<String>,
        current: Option<String>,
    },
    ManifestChanged {
        signed: String,
        current: String,
    },
    /// The statements, gates or target the approval was signed over are not the ones
    /// that would run now.
    PlanChanged {
        signed: String,
        current: String,
    },
    Expired {
        expires_at: String,
        now: String,
    },
    NotYetValid {
        issued_at: String,
        now: String,
    },
    DuplicatePrincipal {
        principal: String,
        counted: String,
    },
}

impl Reason {
    /// Stable snake_case code (used in `--json`).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::MissingSignature => "missing_signature",
            Reason::MalformedStatement(_) => "malformed_statement",
            Reason::MalformedSignature(_) => "malformed_signature",
            Reason::WrongNamespace { .. } => "wrong_namespace",
            Reason::BadSignature => "bad_signature",
            Reason::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Reason::UnknownPrincipal { .. } => "unknown_principal",
            Reason::KeyPrincipalMismatch { .. } => "key_principal_mismatch",
            Reason::SignerRestricted { .. } => "signer_restricted",
            Reason::NotASignerOfGate { .. } => "not_a_signer_of_gate",
            Reason::OtherPack { .. } => "other_pack",
            Reason::OtherStep { .. } => "other_step",
            Reason::OtherGate { .. } => "other_gate",
            Reason::OtherAction { .. } => "other_action",
            Reason::OtherTarget { .. } => "other_target",
            Reason::StepFileChanged { .. } => "step_file_changed",
            Reason::RollbackFileChanged { .. } => "rollback_file_changed",
            Reason::ManifestChanged { .. } => "manifest_changed",
            Reason::PlanChanged { .. } => "plan_changed",
            Reason::Expired { .. } => "expired",
            Reason::NotYetValid { .. } => "not_yet_valid",
            Reason::DuplicatePrincipal { .. } => "duplicate_principal",
        }
    }
}

fn short_hash(h: &Option<String>) -> String {
    match h {
        None => "none".to_string(),
        Some(h) => short(h),
    }
}

fn short(h: &str) -> String {
    if h.chars().count() > 12 {
        format!("{}…", h.chars().take(12).collect::<String>())
    } else {
        h.to_string()
    }
}

const RESIGN: &str = "ask the approver to re-sign";

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MissingSignature => write!(
                f,
                "no signature file next to the statement; the approver must sign it (ssh-keygen -Y sign -n {NAMESPACE}) and add the .sig"
            ),
            Reason::MalformedStatement(m) => write!(
                f,
                "the statement is not a valid stepgate approval ({m}); regenerate it and {RESIGN}"
            ),
            Reason::MalformedSignature(m) => write!(
                f,
                "the signature file is malformed or truncated ({m}); {RESIGN}"
            ),
            Reason::WrongNamespace { found } => write!(
                f,
                "the signature was made for namespace `{found}`, not `{NAMESPACE}`; {RESIGN} with `-n {NAMESPACE}`"
            ),
            Reason::BadSignature => write!(
                f,
                "the signature does not match the statement: the statement was edited after signing, or the .sig belongs to another statement; {RESIGN}"
            ),
            Reason::UnsupportedAlgorithm { algorithm } => write!(
                f,
                "the approval is signed with a {algorithm} key, which stepgate cannot verify; sign with {KEY_POLICY}"
            ),
            Reason::UnknownPrincipal {
                principal,
                fingerprint,
                principal_known,
            } => {
                if *principal_known {
                    write!(
                        f,
                        "signed with key {fingerprint}, which is not a trusted key of `{principal}` (the signer registry lists other keys for them); sign with the registered key, or register this one"
                    )
                } else {
                    write!(
                        f,
                        "neither `{principal}` nor the signing key {fingerprint} is in the trusted signer registry; register the signer first"
                    )
                }
            }
            Reason::KeyPrincipalMismatch {
                principal,
                fingerprint,
                key_principals,
            } => write!(
                f,
                "the statement claims principal `{principal}`, but signing key {fingerprint} is registered to {}; the statement must name the key's owner",
                key_principals.join(", ")
            ),
            Reason::SignerRestricted {
                principal,
                fingerprint,
                detail,
            } => write!(
                f,
                "key {fingerprint} of `{principal}` may not sign stepgate approvals now: {detail}; fix the signer registry entry or sign with another registered key"
            ),
            Reason::NotASignerOfGate {
                principal,
                gate,
                signers,
            } => write!(
                f,
                "`{principal}` is not a signer of gate `{gate}` (signers: {}); ask one of them to approve",
                if signers.is_empty() {
                    "none".to_string()
                } else {
                    signers.join(", ")
                }
            ),
            Reason::OtherPack { signed, expected } => write!(
                f,
                "the approval is for pack `{signed}`, not `{expected}`; it does not apply here"
            ),
            Reason::OtherStep { signed, expected } => write!(
                f,
                "the approval is for step `{signed}`, not `{expected}`; it does not apply here"
            ),
            Reason::OtherGate { signed, expected } => write!(
                f,
                "the approval is for gate `{signed}`, not `{expected}`; it does not apply here"
            ),
            Reason::OtherAction { signed, expected } => write!(
                f,
                "the approval allows `{signed}`, not `{expected}`; ask for a `{expected}` approval"
            ),
            Reason::OtherTarget { signed, expected } => write!(
                f,
                "the approval targets {signed}, but this run targets {expected}; ask for an approval for this target"
            ),
            Reason::StepFileChanged { signed, current } => write!(
                f,
                "step file changed since signing: the approval binds sha256 {}, the file is now {}; review the change and {RESIGN}",
                short_hash(signed),
                short_hash(current)
            ),
            Reason::RollbackFileChanged { signed, current } => write!(
                f,
                "rollback file changed since signing: the approval binds sha256 {}, the file is now {}; review the change and {RESIGN}",
                short_hash(signed),
                short_hash(current)
            ),
            Reason::ManifestChanged { signed, current } => write!(
                f,
                "stepgate.toml changed since signing: the approval binds sha256 {}, the manifest is now {}; review the change and {RESIGN}",
                short(signed),
                short(current)
            ),
            Reason::PlanChanged { signed, current } => write!(
                f,
                "the execution plan changed since signing (statements, gates, timeouts or target): the approval binds plan sha256 {}, the plan is now {}; review it (`stepgate review`) and {RESIGN}",
                short(signed),
                short(current)
            ),
            Reason::Expired { expires_at, now } => write!(
                f,
                "the approval expired at {expires_at} (now {now}); {RESIGN} with a new expiry"
            ),
            Reason::NotYetValid { issued_at, now } => write!(
                f,
                "the approval is issued at {issued_at}, in the future (now {now}); check the approver's clock, or wait"
            ),
            Reason::DuplicatePrincipal { principal, counted } => write!(
                f,
                "`{principal}` already approved this gate ({counted}); one principal counts once toward the quorum, so ask another signer"
            ),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Reason", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

/// Whether one approval counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Invalid(Reason),
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid)
    }
}

/// One candidate's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluated {
    pub source: String,
    /// The principal the statement names (claimed; authenticated only if `Valid`).
    pub principal: Option<String>,
    pub verdict: Verdict,
}

/// The outcome for one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateResult {
    pub gate: String,
    pub quorum: u32,
    pub valid: u32,
    pub satisfied: bool,
    pub approvals: Vec<Evaluated>,
}

fn target_label(db: &str, env: Option<&str>) -> String {
    match env {
        Some(e) => format!("database `{db}` (environment `{e}`)"),
        None => format!("database `{db}` (no environment)"),
    }
}

/// Evaluate the candidates for one gate. Checks, in order: statement parses;
/// signature present, well-formed, in the `stepgate` namespace and valid over the
/// statement bytes with its embedded key; that key trusted for the statement's
/// principal; pack, step, gate, action, target and hashes as expected; the principal
/// a signer of the gate; `issued-at <= now < expires-at`; and one count per principal
/// (the first valid approval, in `candidates` order, counts).
pub fn evaluate_gate(
    gate: &GateSpec<'_>,
    expected: &Expected<'_>,
    candidates: &[Candidate],
    trusted: &[AllowedSigner],
    now: OffsetDateTime,
) -> GateResult {
    let mut counted: HashMap<String, String> = HashMap::new();
    let mut approvals = Vec::with_capacity(candidates.len());
    let mut valid = 0u32;
    for c in candidates {
        let (principal, verdict) = match evaluate_one(gate, expected, c, trusted, now) {
            Ok(st) => match counted.get(&st.principal) {
                Some(first) => (
                    Some(st.principal.clone()),
                    Verdict::Invalid(Reason::DuplicatePrincipal {
                        principal: st.principal,
                        counted: first.clone(),
                    }),
                ),
                None => {
                    counted.insert(st.principal.clone(), c.source.clone());
                    valid += 1;
                    (Some(st.principal), Verdict::Valid)
                }
            },
            Err((principal, reason)) => (principal, Verdict::Invalid(reason)),
        };
        approvals.push(Evaluated {
            source: c.source.clone(),
            principal,
            verdict,
        });
    }
    GateResult {
        gate: gate.name.to_string(),
        quorum: gate.quorum,
        valid,
        satisfied: valid >= gate.quorum,
        approvals,
    }
}

fn evaluate_one(
    gate: &GateSpec<'_>,
    expected: &Expected<'_>,
    c: &Candidate,
    trusted: &[AllowedSigner],
    now: OffsetDateTime,
) -> Result<Statement, (Option<String>, Reason)> {
    let st = Statement::parse(&c.statement_text)
        .map_err(|e| (None, Reason::MalformedStatement(e.to_string())))?;
    let who = Some(st.principal.clone());
    let fail = |r: Reason| (who.clone(), r);

    // Signature: present, parses, right namespace, verifies with its own key.
    let Some(pem) = &c.sig_pem else {
        return Err(fail(Reason::MissingSignature));
    };
    let sig = parse_sig(pem).map_err(|e| match e {
        ApprovalError::MalformedSignature(m) => fail(Reason::MalformedSignature(m)),
        other => fail(Reason::MalformedSignature(other.to_string())),
    })?;
    verify_sig(&c.statement_text, &sig).map_err(|e| {
        fail(match e {
            ApprovalError::WrongNamespace { found } => Reason::WrongNamespace { found },
            ApprovalError::UnsupportedAlgorithm { algorithm } => {
                Reason::UnsupportedAlgorithm { algorithm }
            }
            _ => Reason::BadSignature,
        })
    })?;

    // Trust: the embedded key is registered for the statement's principal.
    let key = sig.public_key();
    let fingerprint = fingerprint_of(key);
    let key_lines: Vec<&AllowedSigner> =
        trusted.iter().filter(|s| s.key.key_data() == key).collect();
    if key_lines.is_empty() {
        return Err(fail(Reason::UnknownPrincipal {
            principal: st.principal.clone(),
            fingerprint,
            principal_known: trusted.iter().any(|s| s.matches_principal(&st.principal)),
        }));
    }
    let for_principal: Vec<&AllowedSigner> = key_lines
        .iter()
        .copied()
        .filter(|s| s.matches_principal(&st.principal))
        .collect();
    if for_principal.is_empty() {
        let mut key_principals: Vec<String> = key_lines
            .iter()
            .flat_map(|s| s.principals.iter().cloned())
            .collect();
        key_principals.dedup();
        return Err(fail(Reason::KeyPrincipalMismatch {
            principal: st.principal.clone(),
            fingerprint,
            key_principals,
        }));
    }
    if !for_principal
        .iter()
        .any(|s| s.allows_namespace(NAMESPACE) && s.valid_at(now))
    {
        let detail = if !for_principal.iter().any(|s| s.allows_namespace(NAMESPACE)) {
            let ns: Vec<String> = for_principal
                .iter()
                .filter_map(|s| s.namespaces.as_ref())
                .flatten()
                .cloned()
                .collect();
            format!("it is trusted only for namespaces {}", ns.join(", "))
        } else {
            let s = for_principal.iter().find(|s| s.allows_namespace(NAMESPACE));
            let window = |t: Option<OffsetDateTime>| t.map_or("-".to_string(), render_timestamp);
            format!(
                "it is trusted only from {} until {} (now {})",
                window(s.and_then(|s| s.valid_after)),
                window(s.and_then(|s| s.valid_before)),
                render_timestamp(now)
            )
        };
        return Err(fail(Reason::SignerRestricted {
            principal: st.principal.clone(),
            fingerprint,
            detail,
        }));
    }

    // Binding: what the approval is for.
    if st.pack != expected.pack {
        return Err(fail(Reason::OtherPack {
            signed: st.pack.clone(),
            expected: expected.pack.to_string(),
        }));
    }
    if st.step != expected.step {
        return Err(fail(Reason::OtherStep {
            signed: st.step.clone(),
            expected: expected.step.to_string(),
        }));
    }
    if st.gate != gate.name {
        return Err(fail(Reason::OtherGate {
            signed: st.gate.clone(),
            expected: gate.name.to_string(),
        }));
    }
    if st.action != expected.action {
        return Err(fail(Reason::OtherAction {
            signed: st.action,
            expected: expected.action,
        }));
    }
    if st.target_database != expected.database
        || st.target_environment.as_deref() != expected.environment
    {
        return Err(fail(Reason::OtherTarget {
            signed: target_label(&st.target_database, st.target_environment.as_deref()),
            expected: target_label(expected.database, expected.environment),
        }));
    }
    if st.step_sha256.as_deref() != expected.step_sha256 {
        return Err(fail(Reason::StepFileChanged {
            signed: st.step_sha256.clone(),
            current: expected.step_sha256.map(str::to_string),
        }));
    }
    if st.rollback_sha256.as_deref() != expected.rollback_sha256 {
        return Err(fail(Reason::RollbackFileChanged {
            signed: st.rollback_sha256.clone(),
            current: expected.rollback_sha256.map(str::to_string),
        }));
    }
    if st.manifest_sha256 != expected.manifest_sha256 {
        return Err(fail(Reason::ManifestChanged {
            signed: st.manifest_sha256.clone(),
            current: expected.manifest_sha256.to_string(),
        }));
    }
    if st.plan_sha256 != expected.plan_sha256 {
        return Err(fail(Reason::PlanChanged {
            signed: st.plan_sha256.clone(),
            current: expected.plan_sha256.to_string(),
        }));
    }

    // Authority: the principal may sign this gate.
    if !gate.signers.iter().any(|s| s == &st.principal) {
        return Err(fail(Reason::NotASignerOfGate {
            principal: st.principal.clone(),
            gate: gate.name.to_string(),
            signers: gate.signers.to_vec(),
        }));
    }

    // Time window.
    if now < st.issued_at {
        return Err(fail(Reason::NotYetValid {
            issued_at: render_timestamp(st.issued_at),
            now: render_timestamp(now),
        }));
    }
    if now >= st.expires_at {
        return Err(fail(Reason::Expired {
            expires_at: render_timestamp(st.expires_at),
            now: render_timestamp(now),
        }));
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssh_key::Algorithm;
    use time::macros::datetime;

    const STEP: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const RB: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    const MF: &str = "3333333333333333333333333333333333333333333333333333333333333333";
    const PLAN: &str = "4444444444444444444444444444444444444444444444444444444444444444";
    const NOW: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn new_key() -> PrivateKey {
        PrivateKey::random(&mut rand_core::OsRng, Algorithm::Ed25519).unwrap()
    }

    fn expected() -> Expected<'static> {
        Expected {
            pack: "2026-11-orders",
            step: "010-add-column",
            action: Action::Apply,
            step_sha256: Some(STEP),
            rollback_sha256: Some(RB),
            plan_sha256: PLAN,
            manifest_sha256: MF,
            database: "orders",
            environment: Some("prod"),
        }
    }

    fn statement(principal: &str) -> Statement {
        Statement::for_expected(
            &expected(),
            "dba",
            principal,
            datetime!(2026-11-23 10:00 UTC),
            datetime!(2026-11-24 10:00 UTC),
        )
    }

    fn text() -> String {
        statement("alice@example.org").render()
    }

    fn parse_err(t: &str) -> StatementError {
        Statement::parse(t).unwrap_err()
    }

    /// Replace line `n` (1-based) of the canonical text.
    fn with_line(n: usize, new: &str) -> String {
        let t = text();
        let mut lines: Vec<&str> = t.lines().collect();
        lines[n - 1] = new;
        lines.join("\n") + "\n"
    }

    fn without_line(n: usize) -> String {
        let t = text();
        let mut lines: Vec<&str> = t.lines().collect();
        lines.remove(n - 1);
        lines.join("\n") + "\n"
    }

    // ---- statement ------------------------------------------------------

    #[test]
    fn render_is_the_exact_format() {
        let expect = "stepgate approval v2
pack: 2026-11-orders
step: 010-add-column
gate: dba
action: apply
step-sha256: 1111111111111111111111111111111111111111111111111111111111111111
rollback-sha256: 2222222222222222222222222222222222222222222222222222222222222222
plan-sha256: 4444444444444444444444444444444444444444444444444444444444444444
manifest-sha256: 3333333333333333333333333333333333333333333333333333333333333333
target-database: orders
target-environment: prod
principal: alice@example.org
issued-at: 2026-11-23T10:00:00Z
expires-at: 2026-11-24T10:00:00Z
";
        assert_eq!(text(), expect);
    }

    #[test]
    fn parse_round_trips() {
        let st = statement("alice@example.org");
        assert_eq!(Statement::parse(&st.render()).unwrap(), st);
    }

    #[test]
    fn dashes_are_none() {
        let mut st = statement("alice@example.org");
        st.step_sha256 = None;
        st.rollback_sha256 = None;
        st.target_environment = None;
        st.step = "halt-42".to_string();
        st.action = Action::Resume;
        let t = st.render();
        assert!(t.contains("step-sha256: -\nrollback-sha256: -\n"));
        assert!(t.contains("target-environment: -\n"));
        assert_eq!(Statement::parse(&t).unwrap(), st);
    }

    #[test]
    fn render_normalizes_time_to_utc_seconds() {
        let mut st = statement("a");
        st.issued_at = datetime!(2026-11-23 12:00:00.75 +02:00);
        let t = st.render();
        assert!(t.contains("issued-at: 2026-11-23T10:00:00Z\n"), "{t}");
    }

    #[test]
    fn rejects_empty() {
        let e = parse_err("");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("empty statement"));
    }

    #[test]
    fn rejects_unknown_version() {
        let e = parse_err(&with_line(1, "stepgate approval v1"));
        assert_eq!(e.line, 1);
        assert!(
            e.message.contains("unsupported statement version `v1`")
                && e.message.contains("execution plan"),
            "{e}"
        );
        let e = parse_err(&with_line(1, "hello"));
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not a stepgate approval"), "{e}");
        let e = parse_err(&with_line(1, "stepgate approval v2 "));
        assert!(e.message.contains("not a stepgate approval"), "{e}");
    }

    #[test]
    fn rejects_missing_field_in_the_middle() {
        let e = parse_err(&without_line(3)); // step
        assert_eq!(e.line, 3);
        assert!(e.message.contains("missing field `step`"), "{e}");
    }

    #[test]
    fn rejects_missing_last_field() {
        let e = parse_err(&without_line(14)); // expires-at
        assert_eq!(e.line, 14);
        assert!(e.message.contains("missing field `expires-at`"), "{e}");
    }

    #[test]
    fn rejects_extra_field() {
        let e = parse_err(&(text() + "comment: hi\n"));
        assert_eq!(e.line, 15);
        assert!(e.message.contains("unexpected extra line"), "{e}");
        let e = parse_err(&(text() + "\n"));
        assert_eq!(e.line, 15);
        let e = parse_err(&with_line(4, "gait: dba"));
        assert_eq!(e.line, 4);
        assert!(e.message.contains("unknown field `gait`"), "{e}");
    }

    #[test]
    fn rejects_reordered_fields() {
        let t = text();
        let mut lines: Vec<&str> = t.lines().collect();
        lines.swap(1, 2); // pack <-> step
        let e = parse_err(&(lines.join("\n") + "\n"));
        assert_eq!(e.line, 2);
        assert!(e.message.contains("out of order"), "{e}");
    }

    #[test]
    fn rejects_duplicate_field() {
        let e = parse_err(&with_line(3, "pack: again"));
        assert_eq!(e.line, 3);
        assert!(
            e.message
                .contains("duplicate field `pack` (already given on line 2)"),
            "{e}"
        );
        let e = parse_err(&(text() + "principal: mallory@example.org\n"));
        assert_eq!(e.line, 15);
        assert!(e.message.contains("duplicate field `principal`"), "{e}");
    }

    #[test]
    fn rejects_bad_hex() {
        for (line, bad) in [
            (6, format!("step-sha256: {}", "A".repeat(64))),
            (6, "step-sha256: 1234".to_string()),
            (7, format!("rollback-sha256: {}", "g".repeat(64))),
            (8, "plan-sha256: -".to_string()),
            (9, "manifest-sha256: -".to_string()),
            (9, format!("manifest-sha256: {MF}0")),
        ] {
            let e = parse_err(&with_line(line, &bad));
            assert_eq!(e.line, line, "{bad}");
            assert!(e.message.contains("64 lowercase hex"), "{e}");
        }
    }

    #[test]
    fn rejects_bad_timestamp() {
        for bad in [
            "2026-11-23T10:00:00+00:00",
            "2026-11-23 10:00:00Z",
            "2026-11-23T10:00:00.5Z",
            "2026-02-30T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-23t10:00:00z",
            "+2026-11-23T10:00:00Z",
            "yesterday",
        ] {
            let e = parse_err(&with_line(13, &format!("issued-at: {bad}")));
            assert_eq!(e.line, 13, "{bad}");
            assert!(e.message.contains("bad timestamp"), "{bad}: {e}");
        }
    }

    #[test]
    fn rejects_bad_action() {
        let e = parse_err(&with_line(5, "action: Apply"));
        assert_eq!(e.line, 5);
        assert!(e.message.contains("unknown action `Apply`"), "{e}");
    }

    #[test]
    fn rejects_crlf() {
        let e = parse_err(&text().replace('\n', "\r\n"));
        assert_eq!(e.line, 1);
        assert!(e.message.contains("CRLF"), "{e}");
        let e = parse_err(&with_line(5, "action: apply\r"));
        assert_eq!(e.line, 5);
    }

    #[test]
    fn rejects_missing_trailing_newline() {
        let t = text();
        let e = parse_err(t.trim_end_matches('\n'));
        assert_eq!(e.line, 14);
        assert!(e.message.contains("must end with a newline"), "{e}");
    }

    #[test]
    fn rejects_surrounding_whitespace() {
        let e = parse_err(&with_line(2, "pack:  2026-11-orders"));
        assert_eq!(e.line, 2);
        assert!(e.message.contains("leading or trailing whitespace"), "{e}");
        let e = parse_err(&with_line(2, "pack: 2026-11-orders "));
        assert!(e.message.contains("leading or trailing whitespace"), "{e}");
        let e = parse_err(&with_line(2, " pack: 2026-11-orders"));
        assert!(e.message.contains("starts with whitespace"), "{e}");
        let e = parse_err(&with_line(2, "pack:2026-11-orders"));
        assert!(e.message.contains("exactly one space"), "{e}");
        let e = parse_err(&with_line(2, "pack:"));
        assert!(e.message.contains("empty value"), "{e}");
        let e = parse_err(&with_line(2, "pack: a\tb"));
        assert!(e.message.contains("control character"), "{e}");
        let e = parse_err(&with_line(2, "no colon here"));
        assert!(e.message.contains("expected `key: value`"), "{e}");
        let e = parse_err(&with_line(2, ""));
        assert!(e.message.contains("blank line"), "{e}");
    }

    #[test]
    fn rejects_expiry_not_after_issue() {
        let e = parse_err(&with_line(14, "expires-at: 2026-11-23T09:59:59Z"));
        assert_eq!(e.line, 14);
        assert!(e.message.contains("is not after issued-at"), "{e}");
        let e = parse_err(&with_line(14, "expires-at: 2026-11-23T10:00:00Z"));
        assert_eq!(e.line, 14);
    }

    #[test]
    fn error_display_has_line() {
        assert_eq!(
            parse_err(&with_line(5, "action: x")).to_string(),
            "line 5: unknown action `x`; expected one of apply, rollback, resume, restore"
        );
    }

    // ---- signing ----------------------------------------------------------

    #[test]
    fn sign_then_verify() {
        let k = new_key();
        let t = text();
        let pem = sign(&t, &k).unwrap();
        assert!(pem.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(pem.ends_with("-----END SSH SIGNATURE-----\n"));
        verify(&t, &pem, k.public_key()).unwrap();
        let sig = SshSig::from_pem(&pem).unwrap();
        assert_eq!(sig.hash_alg(), HashAlg::Sha512);
        assert_eq!(sig.namespace(), "stepgate");
        assert_eq!(
            signer_key_of(&pem).unwrap().key_data(),
            k.public_key().key_data()
        );
    }

    #[test]
    fn verify_ignores_key_comment() {
        let k = new_key();
        let t = text();
        let pem = sign(&t, &k).unwrap();
        let mut pk = k.public_key().clone();
        pk.set_comment("some comment");
        verify(&t, &pem, &pk).unwrap();
    }

    #[test]
    fn sign_refuses_malformed_statement() {
        let k = new_key();
        let e = sign("hello\n", &k).unwrap_err();
        assert!(
            matches!(e, ApprovalError::Statement(ref s) if s.line == 1),
            "{e}"
        );
    }

    #[test]
    fn verify_rejects_other_key() {
        let t = text();
        let pem = sign(&t, &new_key()).unwrap();
        let e = verify(&t, &pem, new_key().public_key()).unwrap_err();
        assert!(matches!(e, ApprovalError::KeyMismatch { .. }), "{e}");
    }

    #[test]
    fn verify_rejects_tampered_statement() {
        let k = new_key();
        let t = text();
        let pem = sign(&t, &k).unwrap();
        let t2 = t.replace("action: apply", "action: rollback");
        assert_eq!(
            verify(&t2, &pem, k.public_key()).unwrap_err(),
            ApprovalError::BadSignature
        );
    }

    #[test]
    fn verify_rejects_other_namespace() {
        let k = new_key();
        let t = text();
        let pem = k
            .sign("other", HashAlg::Sha512, t.as_bytes())
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap();
        let e = verify(&t, &pem, k.public_key()).unwrap_err();
        assert_eq!(
            e,
            ApprovalError::WrongNamespace {
                found: "other".into()
            }
        );
        assert!(e.to_string().contains("-n stepgate"));
    }

    #[test]
    fn verify_accepts_sha256_hash() {
        let k = new_key();
        let t = text();
        let pem = k
            .sign(NAMESPACE, HashAlg::Sha256, t.as_bytes())
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap();
        verify(&t, &pem, k.public_key()).unwrap();
    }

    #[test]
    fn malformed_pem_is_its_own_error() {
        let k = new_key();
        let t = text();
        let pem = sign(&t, &k).unwrap();
        let lines: Vec<&str> = pem.lines().collect();
        let truncated = lines[..lines.len() - 2].join("\n") + "\n";
        let cut_body = format!(
            "{}\n{}\n{}\n",
            lines[0],
            &lines[1][..10],
            lines[lines.len() - 1]
        );
        for bad in [
            "",
            "not a signature",
            truncated.as_str(),
            cut_body.as_str(),
            "-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n",
        ] {
            let e = verify(&t, bad, k.public_key()).unwrap_err();
            assert!(
                matches!(e, ApprovalError::MalformedSignature(_)),
                "{bad:?}: {e:?}"
            );
            assert!(matches!(
                signer_key_of(bad),
                Err(ApprovalError::MalformedSignature(_))
            ));
        }
    }

    fn encrypted(k: &PrivateKey, pass: &str) -> String {
        let kdf = ssh_key::Kdf::Bcrypt {
            salt: vec![7u8; 16],
            rounds: 1,
        };
        k.encrypt_with(ssh_key::Cipher::Aes256Ctr, kdf, 42, pass)
            .unwrap()
            .to_openssh(LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn load_private_key_plain_and_encrypted() {
        let k = new_key();
        let plain = k.to_openssh(LineEnding::LF).unwrap();
        let loaded = load_private_key(&plain, None).unwrap();
        assert_eq!(loaded.public_key().key_data(), k.public_key().key_data());
        assert!(load_private_key(&plain, Some("ignored")).is_ok());

        let enc = encrypted(&k, "hunter2");
        let e = load_private_key(&enc, None).unwrap_err();
        assert_eq!(e, ApprovalError::EncryptedKey);
        assert!(e.to_string().contains("passphrase"));
        assert_eq!(
            load_private_key(&enc, Some("wrong")).unwrap_err(),
            ApprovalError::WrongPassphrase
        );
        let dec = load_private_key(&enc, Some("hunter2")).unwrap();
        let t = text();
        verify(&t, &sign(&t, &dec).unwrap(), k.public_key()).unwrap();

        // Signing with a still-encrypted key is refused.
        let still = PrivateKey::from_openssh(&enc).unwrap();
        assert_eq!(sign(&t, &still).unwrap_err(), ApprovalError::EncryptedKey);

        assert!(matches!(
            load_private_key("garbage", None),
            Err(ApprovalError::MalformedKey(_))
        ));
    }

    // ---- allowed_signers ----------------------------------------------------

    fn publine(k: &PrivateKey) -> String {
        k.public_key().to_openssh().unwrap()
    }

    #[test]
    fn parses_allowed_signers() {
        let a = new_key();
        let b = new_key();
        let text = format!(
            "# trusted signers\n\n  alice@example.org {} laptop key\nbob@example.org,carol@example.org namespaces=\"stepgate,git\",valid-after=\"20260101\",valid-before=\"202701021030Z\" {}\n\"dave@example.org\"\t{}\n",
            publine(&a),
            publine(&b),
            publine(&a)
        );
        let s = parse_allowed_signers(&text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].principals, vec!["alice@example.org"]);
        assert_eq!(s[0].line, 3);
        assert_eq!(s[0].key.comment(), "laptop key");
        assert_eq!(s[0].namespaces, None);
        assert_eq!(
            s[1].principals,
            vec!["bob@example.org", "carol@example.org"]
        );
        assert_eq!(
            s[1].namespaces,
            Some(vec!["stepgate".to_string(), "git".to_string()])
        );
        assert_eq!(s[1].valid_after, Some(datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(s[1].valid_before, Some(datetime!(2027-01-02 10:30 UTC)));
        assert_eq!(s[1].key.key_data(), b.public_key().key_data());
        assert_eq!(s[2].principals, vec!["dave@example.org"]);
        assert_eq!(s[2].line, 5);
    }

    #[test]
    fn allowed_signers_to_line_round_trips() {
        let a = new_key();
        let mut s = AllowedSigner::new(vec!["alice@example.org".into()], a.public_key().clone());
        s.namespaces = Some(vec!["stepgate".into()]);
        s.valid_after = Some(datetime!(2026-01-01 0:00 UTC));
        s.valid_before = Some(datetime!(2027-01-01 12:34:56 UTC));
        let parsed = parse_allowed_signers(&s.to_line()).unwrap();
        assert_eq!(parsed.len(), 1);
        let p = &parsed[0];
        assert_eq!(p.principals, s.principals);
        assert_eq!(p.namespaces, s.namespaces);
        assert_eq!(p.valid_after, s.valid_after);
        assert_eq!(p.valid_before, s.valid_before);
        assert_eq!(p.key.key_data(), s.key.key_data());
    }

    #[test]
    fn allowed_signers_rejections() {
        let k = publine(&new_key());
        for (text, want) in [
            (format!("# c\nalice cert-authority {k}"), "not supported"),
            (format!("alice foo=\"bar\" {k}"), "unsupported option `foo`"),
            (format!("alice namespaces=stepgate {k}"), "double quotes"),
            (
                format!("alice namespaces=\"stepgate {k}"),
                "unterminated quote",
            ),
            (
                format!("alice namespaces=\"a\",namespaces=\"b\" {k}"),
                "more than once",
            ),
            (format!("alice valid-after=\"2026\" {k}"), "bad time"),
            ("alice".to_string(), "no key"),
            ("alice ssh-ed25519".to_string(), "no base64"),
            ("alice ssh-ed25519 AAAAnotbase64!!".to_string(), "invalid"),
            (
                "alice ssh-ed25519-cert-v01@openssh.com AAAA".to_string(),
                "not supported",
            ),
            (format!("alice,,bob {k}"), "empty principal"),
            (format!("\"alice {k}"), "unterminated quote"),
        ] {
            let e = parse_allowed_signers(&text).unwrap_err();
            let line = if text.starts_with("# c\n") { 2 } else { 1 };
            assert_eq!(e.line, line, "{text}");
            assert!(e.message.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn principal_patterns() {
        let k = new_key();
        let s = AllowedSigner::new(
            vec!["*@example.org".into(), "!mallory@example.org".into()],
            k.public_key().clone(),
        );
        assert!(s.matches_principal("alice@example.org"));
        assert!(!s.matches_principal("mallory@example.org"));
        assert!(!s.matches_principal("alice@example.com"));
        assert!(match_pattern("abc", "a?c"));
        assert!(match_pattern("abc", "*"));
        assert!(match_pattern("", "*"));
        assert!(!match_pattern("ab", "a?c"));
        assert!(match_pattern("a.b.c", "a*c"));
        assert!(!match_pattern("Alice", "alice"));
    }

    // ---- gate evaluation -----------------------------------------------------

    struct World {
        alice: PrivateKey,
        bob: PrivateKey,
        trusted: Vec<AllowedSigner>,
        signers: Vec<String>,
    }

    fn world() -> World {
        let alice = new_key();
        let bob = new_key();
        let trusted = parse_allowed_signers(&format!(
            "alice@example.org {}\nbob@example.org {}\n",
            publine(&alice),
            publine(&bob)
        ))
        .unwrap();
        World {
            alice,
            bob,
            trusted,
            signers: vec!["alice@example.org".into(), "bob@example.org".into()],
        }
    }

    fn signed(st: &Statement, key: &PrivateKey, source: &str) -> Candidate {
        let t = st.render();
        Candidate {
            source: source.into(),
            sig_pem: Some(sign(&t, key).unwrap()),
            statement_text: t,
        }
    }

    fn eval(w: &World, quorum: u32, cands: &[Candidate]) -> GateResult {
        let gate = GateSpec {
            name: "dba",
            signers: &w.signers,
            quorum,
        };
        evaluate_gate(&gate, &expected(), cands, &w.trusted, NOW)
    }

    /// Evaluate one candidate and return its reason (panics if valid).
    fn reason_of(w: &World, c: Candidate) -> Reason {
        let r = eval(w, 1, &[c]);
        assert!(!r.satisfied);
        assert_eq!(r.valid, 0);
        match &r.approvals[0].verdict {
            Verdict::Invalid(reason) => reason.clone(),
            Verdict::Valid => panic!("unexpectedly valid"),
        }
    }

    fn alice_with(f: impl FnOnce(&mut Statement)) -> Statement {
        let mut st = statement("alice@example.org");
        f(&mut st);
        st
    }

    #[test]
    fn valid_approvals_meet_quorum() {
        let w = world();
        let a = signed(&statement("alice@example.org"), &w.alice, "a");
        let b = signed(&statement("bob@example.org"), &w.bob, "b");
        let r = eval(&w, 2, &[a.clone(), b]);
        assert!(r.satisfied, "{r:?}");
        assert_eq!(r.valid, 2);
        assert_eq!(
            r.approvals[0].principal.as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(r.approvals[1].verdict, Verdict::Valid);
        let r = eval(&w, 2, &[a]);
        assert!(!r.satisfied);
        assert_eq!(r.valid, 1);
    }

    #[test]
    fn duplicate_principal_counts_once() {
        let w = world();
        let a1 = signed(&statement("alice@example.org"), &w.alice, "a1");
        let a2 = signed(
            &alice_with(|s| s.issued_at = datetime!(2026-11-23 11:00 UTC)),
            &w.alice,
            "a2",
        );
        let r = eval(&w, 2, &[a1, a2]);
        assert!(!r.satisfied);
        assert_eq!(r.valid, 1);
        assert_eq!(r.approvals[0].verdict, Verdict::Valid);
        let Verdict::Invalid(reason) = &r.approvals[1].verdict else {
            panic!("second should be invalid")
        };
        assert_eq!(
            reason,
            &Reason::DuplicatePrincipal {
                principal: "alice@example.org".into(),
                counted: "a1".into()
            }
        );
        assert!(reason.to_string().contains("counts once"));
    }

    #[test]
    fn missing_signature() {
        let w = world();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        c.sig_pem = None;
        let r = eval(&w, 1, std::slice::from_ref(&c));
        assert_eq!(
            r.approvals[0].principal.as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(reason_of(&w, c), Reason::MissingSignature);
    }

    #[test]
    fn malformed_statement() {
        let w = world();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        c.statement_text = c.statement_text.replace('\n', "\r\n");
        let r = eval(&w, 1, std::slice::from_ref(&c));
        assert_eq!(r.approvals[0].principal, None);
        let reason = reason_of(&w, c);
        assert!(
            matches!(&reason, Reason::MalformedStatement(m) if m.contains("line 1")),
            "{reason}"
        );
    }

    #[test]
    fn malformed_signature() {
        let w = world();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        c.sig_pem = Some("-----BEGIN SSH SIGNATURE-----\nAAAA\n".into());
        assert!(matches!(reason_of(&w, c), Reason::MalformedSignature(_)));
    }

    #[test]
    fn wrong_namespace() {
        let w = world();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        c.sig_pem = Some(
            w.alice
                .sign("git", HashAlg::Sha512, c.statement_text.as_bytes())
                .unwrap()
                .to_pem(LineEnding::LF)
                .unwrap(),
        );
        assert_eq!(
            reason_of(&w, c),
            Reason::WrongNamespace {
                found: "git".into()
            }
        );
    }

    #[test]
    fn bad_signature() {
        let w = world();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        // Still a well-formed statement, but not the bytes that were signed.
        c.statement_text = c.statement_text.replace("gate: dba", "gate: dbb");
        let reason = reason_of(&w, c);
        assert_eq!(reason, Reason::BadSignature);
        assert!(reason.to_string().contains("edited after signing"));
    }

    #[test]
    fn unsupported_algorithm() {
        // A 1024-bit RSA key: below the 2048-bit floor the server also enforces.
        let w = world();
        let rsa = PublicKey::from_openssh("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDSJY2+LUG/2/kiFxWZ6kpMCydPbeoC734qKIokYNI2FZrHa/O9chLH0q2zRznz5dLjEvXSZm7g3ChwxHzeVUUA5hLENE3YFrifLj6VHz198SryGX+B7dWuFXAlCgh6A41/1QH0j81Coa+zcDbNFu3QFqqwRika7pjcAPAP64WDew==").unwrap();
        let fake = ssh_key::Signature::new(
            Algorithm::Rsa {
                hash: Some(HashAlg::Sha512),
            },
            vec![0u8; 128],
        )
        .unwrap();
        let sig = SshSig::new(rsa.key_data().clone(), NAMESPACE, HashAlg::Sha512, fake).unwrap();
        let mut c = signed(&statement("alice@example.org"), &w.alice, "a");
        c.sig_pem = Some(sig.to_pem(LineEnding::LF).unwrap());
        let reason = reason_of(&w, c);
        assert!(
            matches!(&reason, Reason::UnsupportedAlgorithm { algorithm } if algorithm == "ssh-rsa 1024-bit"),
            "{reason:?}"
        );
    }

    #[test]
    fn unknown_principal() {
        let w = world();
        let mallory = new_key();
        let reason = reason_of(&w, signed(&statement("mallory@example.org"), &mallory, "m"));
        assert!(
            matches!(
                &reason,
                Reason::UnknownPrincipal {
                    principal_known: false,
                    ..
                }
            ),
            "{reason:?}"
        );
        assert!(reason.to_string().contains("register the signer"));
        // Claims to be alice, but with an unregistered key.
        let reason = reason_of(&w, signed(&statement("alice@example.org"), &mallory, "m"));
        assert!(
            matches!(
                &reason,
                Reason::UnknownPrincipal {
                    principal_known: true,
                    ..
                }
            ),
            "{reason:?}"
        );
        assert!(reason
            .to_string()
            .contains("not a trusted key of `alice@example.org`"));
    }

    #[test]
    fn key_principal_mismatch() {
        let w = world();
        // Bob's key, statement claims alice.
        let reason = reason_of(&w, signed(&statement("alice@example.org"), &w.bob, "x"));
        let Reason::KeyPrincipalMismatch {
            principal,
            key_principals,
            ..
        } = &reason
        else {
            panic!("{reason:?}")
        };
        assert_eq!(principal, "alice@example.org");
        assert_eq!(key_principals, &vec!["bob@example.org".to_string()]);
        assert!(reason.to_string().contains("registered to bob@example.org"));
    }

    #[test]
    fn signer_restricted_by_namespace_or_window() {
        let mut w = world();
        w.trusted[0].namespaces = Some(vec!["git".into()]);
        let reason = reason_of(&w, signed(&statement("alice@example.org"), &w.alice, "a"));
        assert!(
            matches!(&reason, Reason::SignerRestricted { detail, .. } if detail.contains("namespaces git")),
            "{reason:?}"
        );
        w.trusted[0].namespaces = Some(vec!["step*".into()]);
        assert!(
            eval(
                &w,
                1,
                &[signed(&statement("alice@example.org"), &w.alice, "a")]
            )
            .satisfied
        );
        w.trusted[0].valid_before = Some(datetime!(2026-11-23 11:00 UTC));
        let reason = reason_of(&w, signed(&statement("alice@example.org"), &w.alice, "a"));
        assert!(
            matches!(&reason, Reason::SignerRestricted { detail, .. } if detail.contains("until 2026-11-23T11:00:00Z")),
            "{reason:?}"
        );
        w.trusted[0].valid_before = None;
        w.trusted[0].valid_after = Some(datetime!(2026-11-23 13:00 UTC));
        assert!(matches!(
            reason_of(&w, signed(&statement("alice@example.org"), &w.alice, "a")),
            Reason::SignerRestricted { .. }
        ));
    }

    #[test]
    fn trusted_by_pattern() {
        let mut w = world();
        w.trusted[0].principals = vec!["*@example.org".into()];
        w.signers.push("carol@example.org".into());
        // alice's key is trusted for any @example.org principal by that line.
        assert!(
            eval(
                &w,
                1,
                &[signed(&statement("carol@example.org"), &w.alice, "c")]
            )
            .satisfied
        );
    }

    #[test]
    fn not_a_signer_of_gate() {
        let mut w = world();
        w.signers = vec!["bob@example.org".into()];
        let reason = reason_of(&w, signed(&statement("alice@example.org"), &w.alice, "a"));
        assert_eq!(
            reason,
            Reason::NotASignerOfGate {
                principal: "alice@example.org".into(),
                gate: "dba".into(),
                signers: vec!["bob@example.org".into()]
            }
        );
        assert!(reason.to_string().contains("not a signer of gate `dba`"));
    }

    #[test]
    fn binding_mismatches() {
        let w = world();
        let cases: Vec<(Statement, &str)> = vec![
            (alice_with(|s| s.pack = "other-pack".into()), "other_pack"),
            (alice_with(|s| s.step = "020-other".into()), "other_step"),
            (alice_with(|s| s.gate = "security".into()), "other_gate"),
            (alice_with(|s| s.action = Action::Rollback), "other_action"),
            (
                alice_with(|s| s.target_database = "staging".into()),
                "other_target",
            ),
            (alice_with(|s| s.target_environment = None), "other_target"),
            (
                alice_with(|s| s.step_sha256 = Some("a".repeat(64))),
                "step_file_changed",
            ),
            (alice_with(|s| s.step_sha256 = None), "step_file_changed"),
            (
                alice_with(|s| s.rollback_sha256 = Some("b".repeat(64))),
                "rollback_file_changed",
            ),
            (
                alice_with(|s| s.manifest_sha256 = "c".repeat(64)),
                "manifest_changed",
            ),
        ];
        for (st, code) in cases {
            let reason = reason_of(&w, signed(&st, &w.alice, "a"));
            assert_eq!(reason.code(), code, "{reason}");
        }
    }

    #[test]
    fn binding_messages() {
        let w = world();
        let r = reason_of(
            &w,
            signed(
                &alice_with(|s| s.step_sha256 = Some("a".repeat(64))),
                &w.alice,
                "a",
            ),
        );
        assert_eq!(
            r.to_string(),
            "step file changed since signing: the approval binds sha256 aaaaaaaaaaaa…, the file is now 111111111111…; review the change and ask the approver to re-sign"
        );
        let r = reason_of(
            &w,
            signed(
                &alice_with(|s| s.target_environment = Some("staging".into())),
                &w.alice,
                "a",
            ),
        );
        assert!(r.to_string().contains("environment `staging`"), "{r}");
        assert!(r.to_string().contains("environment `prod`"), "{r}");
        let r = reason_of(
            &w,
            signed(&alice_with(|s| s.action = Action::Restore), &w.alice, "a"),
        );
        assert!(
            r.to_string().contains("allows `restore`, not `apply`"),
            "{r}"
        );
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let w = world();
        let st = alice_with(|s| {
            s.issued_at = datetime!(2026-11-22 10:00 UTC);
            s.expires_at = datetime!(2026-11-23 12:00 UTC); // == NOW: expired
        });
        let reason = reason_of(&w, signed(&st, &w.alice, "a"));
        assert_eq!(
            reason,
            Reason::Expired {
                expires_at: "2026-11-23T12:00:00Z".into(),
                now: "2026-11-23T12:00:00Z".into()
            }
        );
        let st = alice_with(|s| {
            s.issued_at = datetime!(2026-11-23 12:00:01 UTC);
            s.expires_at = datetime!(2026-11-24 12:00 UTC);
        });
        assert!(matches!(
            reason_of(&w, signed(&st, &w.alice, "a")),
            Reason::NotYetValid { .. }
        ));
        // issued exactly now is valid.
        let st = alice_with(|s| s.issued_at = NOW);
        assert!(eval(&w, 1, &[signed(&st, &w.alice, "a")]).satisfied);
    }

    #[test]
    fn every_reason_has_a_message_and_code() {
        let reasons = vec![
            Reason::MissingSignature,
            Reason::MalformedStatement("line 1: x".into()),
            Reason::MalformedSignature("x".into()),
            Reason::WrongNamespace {
                found: "git".into(),
            },
            Reason::BadSignature,
            Reason::UnsupportedAlgorithm {
                algorithm: "ssh-rsa".into(),
            },
            Reason::UnknownPrincipal {
                principal: "p".into(),
                fingerprint: "SHA256:x".into(),
                principal_known: false,
            },
            Reason::KeyPrincipalMismatch {
                principal: "p".into(),
                fingerprint: "f".into(),
                key_principals: vec!["q".into()],
            },
            Reason::SignerRestricted {
                principal: "p".into(),
                fingerprint: "f".into(),
                detail: "d".into(),
            },
            Reason::NotASignerOfGate {
                principal: "p".into(),
                gate: "g".into(),
                signers: vec![],
            },
            Reason::OtherPack {
                signed: "a".into(),
                expected: "b".into(),
            },
            Reason::OtherStep {
                signed: "a".into(),
                expected: "b".into(),
            },
            Reason::OtherGate {
                signed: "a".into(),
                expected: "b".into(),
            },
            Reason::OtherAction {
                signed: Action::Apply,
                expected: Action::Rollback,
            },
            Reason::OtherTarget {
                signed: "a".into(),
                expected: "b".into(),
            },
            Reason::StepFileChanged {
                signed: None,
                current: Some(STEP.into()),
            },
            Reason::RollbackFileChanged {
                signed: Some(RB.into()),
                current: None,
            },
            Reason::ManifestChanged {
                signed: MF.into(),
                current: STEP.into(),
            },
            Reason::Expired {
                expires_at: "t".into(),
                now: "n".into(),
            },
            Reason::NotYetValid {
                issued_at: "t".into(),
                now: "n".into(),
            },
            Reason::DuplicatePrincipal {
                principal: "p".into(),
                counted: "f".into(),
            },
        ];
        let mut codes = std::collections::HashSet::new();
        for r in &reasons {
            assert!(codes.insert(r.code()), "duplicate code {}", r.code());
            let msg = r.to_string();
            assert!(msg.len() > 30, "{msg}");
            let json = serde_json::to_value(r).unwrap();
            assert_eq!(json["code"], r.code());
            assert_eq!(json["message"], msg);
        }
    }

    #[test]
    fn result_serializes() {
        let w = world();
        let a = signed(
            &statement("alice@example.org"),
            &w.alice,
            "approvals/a.approval",
        );
        let mut b = signed(
            &statement("bob@example.org"),
            &w.bob,
            "approvals/b.approval",
        );
        b.sig_pem = None;
        let r = eval(&w, 2, &[a, b]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["gate"], "dba");
        assert_eq!(json["quorum"], 2);
        assert_eq!(json["valid"], 1);
        assert_eq!(json["satisfied"], false);
        assert_eq!(json["approvals"][0]["verdict"]["status"], "valid");
        assert_eq!(json["approvals"][1]["verdict"]["status"], "invalid");
        assert_eq!(
            json["approvals"][1]["verdict"]["reason"]["code"],
            "missing_signature"
        );
        assert_eq!(json["approvals"][1]["principal"], "bob@example.org");
        assert_eq!(json["approvals"][1]["source"], "approvals/b.approval");
    }

    #[test]
    fn sha256_hex_is_lowercase_64() {
        let h = sha256_hex(b"abc");
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_sha256_hex(&h));
    }
}
