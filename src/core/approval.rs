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
pub const VERSION_LINE: &str = "stepgate approval v1";

/// The statement's fields, in their one permitted order.
const FIELDS: [&str; 12] = [
    "pack",
    "step",
    "gate",
    "action",
    "step-sha256",
    "rollback-sha256",
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
/// stepgate approval v1
/// pack: <pack id>
/// step: <step id>
/// gate: <gate name>
/// action: <apply|rollback|resume|restore>
/// step-sha256: <64 lowercase hex, or "-">
/// rollback-sha256: <64 lowercase hex, or "-">
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
        let values: [String; 12] = [
            self.pack.clone(),
            self.step.clone(),
            self.gate.clone(),
            self.action.as_str().to_string(),
            dash(&self.step_sha256),
            dash(&self.rollback_sha256),
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
                    format!(
                        "unknown field `{key}`; expected `{}` here",
                        FIELDS[slot]
                    ),
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
        let issued_at = parse_timestamp(values[10]).map_err(|m| StatementError::new(at(10), m))?;
        let expires_at =
            parse_timestamp(values[11]).map_err(|m| StatementError::new(at(11), m))?;
        if expires_at <= issued_at {
            return Err(StatementError::new(
                at(11),
                format!(
                    "expires-at {} is not after issued-at {}",
                    values[11], values[10]
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
            manifest_sha256: values[6].to_string(),
            target_database: values[7].to_string(),
            target_environment: hash_or_dash(8),
            principal: values[9].to_string(),
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
        "step-sha256" | "rollback-sha256" | "manifest-sha256" => {
            if is_sha256_hex(value) {
                Ok(())
            } else {
                let dash = if key == "manifest-sha256" {
                    ""
                } else {
                    " or `-`"
                };
                Err(StatementError::new(
                    lineno,
                    format!(
                        "`{key}` must be 64 lowercase hex digits{dash}, found `{value}`"
                    ),
                ))
            }
        }
        _ => Ok(()),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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
        b[r].iter().fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
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
    #[error("{algorithm} keys are not supported for stepgate approvals; use an ed25519 key")]
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

/// Parse an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), decrypting it
/// with `passphrase` when it is encrypted. A passphrase given for an unencrypted key
/// is ignored.
pub fn load_private_key(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, ApprovalError> {
    let key =
        PrivateKey::from_openssh(text).map_err(|e| ApprovalError::MalformedKey(e.to_string()))?;
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
    let mut pem = sig
        .to_pem(LineEnding::LF)
        .map_err(|e| ApprovalError::Signing(e.to_string()))?;
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
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
            return Err(err(format!(
                "empty principal in `{principals_field}`"
            )));
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
    let bad = || format!("bad time `{v}`; expected YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z");
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
    WrongNamespace { found: String },
    BadSignature,
    /// The signing key's algorithm cannot be verified by this build.
    UnsupportedAlgorithm { algorithm: String },
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
    OtherPack { signed: String, expected: String },
    OtherStep { signed: String, expected: String },
    OtherGate { signed: String, expected: String },
    OtherAction { signed: Action, expected: Action },
    /// Database or environment differ; values rendered as `db` / `db (env)`.
    OtherTarget { signed: String, expected: String },
    StepFileChanged {
        signed: Option<String>,
        current: Option<String>,
    },
    RollbackFileChanged {
        signed: Option<String>,
        current: Option<String>,
    },
    ManifestChanged { signed: String, current: String },
    Expired { expires_at: String, now: String },
    NotYetValid { issued_at: String, now: String },
    DuplicatePrincipal { principal: String, counted: String },
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
    if h.len() > 12 {
        format!("{}…", &h[..12])
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
                "the approval is signed with a {algorithm} key, which stepgate cannot verify; sign with an ed25519 key"
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
            format!(
                "it is trusted only for namespaces {}",
                ns.join(", ")
            )
        } else {
            let s = for_principal
                .iter()
                .find(|s| s.allows_namespace(NAMESPACE));
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
