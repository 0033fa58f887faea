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
///
/// `key_path` is the approver's OpenSSH private key, or just its public half (`.pub`) when the
/// key lives in ssh-agent. Everything that can be checked without the private key is checked
/// first (gate, principal, key type, the pack's `allowed_signers`), so nobody types a
/// passphrase for an approval that would not count. Then: through ssh-agent when
/// `SSH_AUTH_SOCK` is set and the agent holds the key; otherwise with the key file, decrypted
/// with `passphrase` or, failing that, a passphrase read from the terminal without echo.
pub fn approve(
    loaded: &LoadedPack,
    req: &Request,
    key_path: &Path,
    passphrase: Option<&str>,
    now: OffsetDateTime,
) -> Result<(PathBuf, PathBuf)> {
    let key_text = std::fs::read_to_string(key_path)
        .map_err(|e| Error::BadInput(format!("{}: {e}", key_path.display())))?;
    let public = public_key_of(&key_text)
        .map_err(|e| Error::BadInput(format!("{}: {e}", key_path.display())))?;
    approval::check_key_policy(public.key_data())
        .map_err(|e| Error::BadInput(format!("{}: {e}", key_path.display())))?;
    let st = statement(loaded, req, now)?;
    check_allowed_signer(loaded, req.principal, &public)?;
    let text = st.render();
    let sig = sign_statement(&text, &key_text, &public, key_path, passphrase)?;
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

/// The public half of a private key file (readable even when the key is encrypted: OpenSSH
/// stores it in the clear), or of a `.pub` line.
fn public_key_of(key_text: &str) -> std::result::Result<ssh_key::PublicKey, String> {
    if key_text
        .trim_start()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    {
        let key = ssh_key::PrivateKey::from_openssh(key_text).map_err(|e| {
            format!("cannot read the private key: {e} (stepgate reads OpenSSH-format keys, as `ssh-keygen` writes them)")
        })?;
        return Ok(key.public_key().clone());
    }
    ssh_key::PublicKey::from_openssh(key_text.trim())
        .map_err(|e| format!("neither an OpenSSH private key nor a public key line: {e}"))
}

fn sign_statement(
    text: &str,
    key_text: &str,
    public: &ssh_key::PublicKey,
    key_path: &Path,
    passphrase: Option<&str>,
) -> Result<String> {
    let shown = key_path.display();
    if let Some(sig) = sign_with_agent(text, public)? {
        return Ok(sig);
    }
    if !key_text
        .trim_start()
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    {
        return Err(Error::BadInput(format!(
            "{shown} is a public key and no ssh-agent holds its private half (SSH_AUTH_SOCK {}); `ssh-add` the key, or give --key the private key file",
            if std::env::var_os("SSH_AUTH_SOCK").is_some() { "is set" } else { "is not set" }
        )));
    }
    let mut key = ssh_key::PrivateKey::from_openssh(key_text)
        .map_err(|e| Error::BadInput(format!("{shown}: {e}")))?;
    if key.is_encrypted() {
        let typed;
        let pass = match passphrase {
            Some(p) => p,
            None => {
                typed = prompt_passphrase(key_path)?;
                typed.as_str()
            }
        };
        key = approval::load_private_key(key_text, Some(pass))
            .map_err(|e| Error::BadInput(format!("{shown}: {e}")))?;
    }
    approval::sign(text, &key).map_err(|e| Error::BadInput(format!("{shown}: {e}")))
}

/// Signs through ssh-agent when `SSH_AUTH_SOCK` is set and the agent holds `public`; `None`
/// when there is no agent, it cannot be reached, or it does not hold the key (then the key
/// file is used). An agent that holds the key but refuses to sign is an error, not a fallback:
/// a declined confirmation must not turn into a passphrase prompt.
fn sign_with_agent(text: &str, public: &ssh_key::PublicKey) -> Result<Option<String>> {
    let Some(sock) = std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let Ok(mut agent) = crate::engine::agent::Agent::connect(Path::new(&sock)) else {
        return Ok(None);
    };
    let blob = public
        .to_bytes()
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let held = agent.identities().unwrap_or_default();
    if !held.contains(&blob) {
        return Ok(None);
    }
    let data = approval::signed_data(text).map_err(|e| Error::BadInput(e.to_string()))?;
    let sig_blob = agent
        .sign(&blob, &data)
        .map_err(|e| Error::BadInput(format!("ssh-agent: {e}")))?;
    approval::armor_signature(text, public, &sig_blob)
        .map(Some)
        .map_err(|e| Error::BadInput(format!("ssh-agent: {e}")))
}

/// Reads the key's passphrase from the terminal with echo off. Only when standard input is a
/// terminal: a script or CI job must not hang on a prompt nobody sees.
fn prompt_passphrase(key_path: &Path) -> Result<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::BadInput(format!(
            "{} is encrypted and there is no terminal to ask for its passphrase: load the key into ssh-agent (`ssh-add {}`) and run again with SSH_AUTH_SOCK set, or set STEPGATE_KEY_PASSPHRASE",
            key_path.display(),
            key_path.display()
        )));
    }
    read_hidden(&format!("Passphrase for {}: ", key_path.display()))
        .map_err(|e| Error::BadInput(format!("cannot read the passphrase from the terminal: {e}")))
}

/// Prompts on the controlling terminal (`/dev/tty`, not stdout: `--json` output stays clean)
/// and reads one line with echo off; the terminal's settings are restored however this ends.
fn read_hidden(prompt: &str) -> std::io::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    use std::io::{BufRead, Write};
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    let original = tcgetattr(&tty).map_err(std::io::Error::from)?;
    let mut silent = original.clone();
    silent.local_flags.remove(LocalFlags::ECHO);
    silent.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(&tty, SetArg::TCSAFLUSH, &silent).map_err(std::io::Error::from)?;
    struct Restore<'a>(&'a std::fs::File, nix::sys::termios::Termios);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = tcsetattr(self.0, SetArg::TCSAFLUSH, &self.1);
        }
    }
    let guard = Restore(&tty, original);
    let mut line = String::new();
    {
        let mut out = guard.0;
        out.write_all(prompt.as_bytes())?;
        out.flush()?;
        std::io::BufReader::new(guard.0).read_line(&mut line)?;
    }
    drop(guard);
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The `ssh-keygen` way to sign, for approvers who do not run `stepgate approve`: the exact
/// shell command (run in the pack's directory) and the two files it produces, which are the
/// files `stepgate gates` and `apply` read (`approvals/<step>.<gate>.<principal>.approval` and
/// its `.approval.sig`; see `engine::gates::approval_path`). `key` is shown as given (e.g.
/// `~/.ssh/id_ed25519`, left unquoted so the shell expands `~`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKeygenRecipe {
    pub command: String,
    /// Relative to the pack directory.
    pub statement_file: PathBuf,
    /// Relative to the pack directory.
    pub signature_file: PathBuf,
}

/// The recipe `review` and the docs show; see [`SshKeygenRecipe`].
pub fn ssh_keygen_recipe(
    step: &str,
    gate: &str,
    action: Action,
    principal: &str,
    key: &str,
) -> SshKeygenRecipe {
    let statement_file = approval_path(Path::new(""), step, gate, action, principal);
    let signature_file = statement_file.with_extension("approval.sig");
    let file = shell_quote(&statement_file.to_string_lossy());
    let action_arg = match action {
        Action::Apply => String::new(),
        other => format!(" --action {}", other.as_str()),
    };
    let command = format!(
        "mkdir -p {dir} && stepgate approval-text --step {step}{action_arg} --gate {gate} --principal {principal} > {file} && ssh-keygen -Y sign -n {ns} -f {key} {file}",
        dir = crate::engine::gates::APPROVALS_DIR,
        step = shell_quote(step),
        gate = shell_quote(gate),
        principal = shell_quote(principal),
        ns = approval::NAMESPACE,
    );
    SshKeygenRecipe {
        command,
        statement_file,
        signature_file,
    }
}

/// `s` as one shell word: unchanged when it is made of safe characters, else single-quoted.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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
