//! Helpers shared by the `bench_*` examples (included with `#[path = "bench_common.rs"] mod
//! common;`): writing a pack into a folder, registering a signer, approving a step, timing.
//! Run on its own it only says what it is; `bench/run` runs the real benchmarks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stepgate::engine::Options;

pub const OWNER: &str = "owner@example.org";

pub fn main() {
    eprintln!("bench_common: helpers for the bench_* examples; run `bench/run` instead");
}

/// Progress on stderr, prefixed with the example's name and the seconds since it started.
pub fn progress(what: &str, msg: impl std::fmt::Display) {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    let t0 = T0.get_or_init(Instant::now);
    eprintln!("[{what} {:>7.1}s] {msg}", t0.elapsed().as_secs_f64());
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    assert!(!v.is_empty(), "median of nothing");
    v.sort();
    v[v.len() / 2]
}

/// CPU time this thread has run so far, and time it spent runnable but waiting for a core
/// (from /proc/thread-self/schedstat): the second says how much other load stole.
pub fn thread_cpu() -> (Duration, Duration) {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
    (
        Duration::from_nanos(it.next().unwrap_or(0)),
        Duration::from_nanos(it.next().unwrap_or(0)),
    )
}

/// The 1-minute load average, as a hint of how busy the machine was.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Runs `f` `n` times and returns every duration.
pub fn time_n<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Vec<(Duration, T)> {
    (0..n)
        .map(|i| {
            let t = Instant::now();
            let r = f(i);
            (t.elapsed(), r)
        })
        .collect()
}

pub fn opts(pack: &Path, ci: &str) -> Options {
    Options {
        pack: pack.to_path_buf(),
        db: Some(ci.to_string()),
    }
}

/// Writes `files` (relative path, contents) under `dir`.
pub fn write_files(dir: &Path, files: &[(String, String)]) {
    for (rel, text) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write pack file");
    }
}

/// The three timeouts, as a step or rollback file sets them right after BEGIN.
pub fn set_locals(statement: &str, lock: &str) -> String {
    format!(
        "SET LOCAL statement_timeout = '{statement}';\nSET LOCAL lock_timeout = '{lock}';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n"
    )
}

/// A step file with sections A–I around `body`.
pub fn step_file(title: &str, pre: &str, body: &str, statement: &str, lock: &str) -> String {
    format!(
        "-- SECTION A — HEADER\n-- {title}\n-- REHEARSAL-ONLY unless every gate holds live.\n\n\
-- SECTION B — PREFLIGHT ASSERTIONS\n{pre}\n\n\
-- SECTION C — BEGIN + SESSION GUC\nBEGIN;\n{}\n\
-- SECTION D — FOLD-INS\n-- (none)\n\n\
-- SECTION E — THE DDL/DML\n{body}\n\n\
-- SECTION F — IN-TRANSACTION VERIFICATION\nSELECT 1 AS ok;\n\n\
-- SECTION G — COMMIT BOUNDARY\nROLLBACK;\n\n\
-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1 AS ok;\n\n\
-- SECTION I — ROLLBACK REFERENCE\n-- see the rollback file\n",
        set_locals(statement, lock)
    )
}

pub fn rollback_file(body: &str, statement: &str, lock: &str) -> String {
    format!(
        "-- rollback\nBEGIN;\n{}{body}\nCOMMIT;\n",
        set_locals(statement, lock)
    )
}

/// The `[pack]` part of a manifest.
pub fn manifest_head(id: &str, db: &str, statement: &str, lock: &str) -> String {
    format!(
        r#"[pack]
id = "{id}"
title = "{id} (benchmark)"
allowed_signers = "allowed_signers"

[pack.target]
database = "{db}"
environment = "bench"

[pack.timeouts]
statement = "{statement}"
lock = "{lock}"
idle_in_transaction = "15s"

[gate.owner]
kind = "signature"
signers = ["{OWNER}"]
"#
    )
}

/// Installs the ledger (environment `bench`, floor 1).
pub fn install_ledger(ci: &str) {
    stepgate::engine::ledger_cmd::install(
        &opts(Path::new("."), ci),
        &stepgate::db::ledger::InstallOptions {
            environment: Some("bench".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: true,
        },
    )
    .expect("install ledger");
}

/// An ed25519 key pair; returns (private key path, public key line).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let key = ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519)
        .expect("key");
    let p = dir.join(name);
    std::fs::write(
        &p,
        key.to_openssh(ssh_key::LineEnding::LF)
            .expect("openssh")
            .as_bytes(),
    )
    .expect("write key");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let public = key.public_key().to_openssh().expect("public");
    (p, public)
}

/// A signer: OWNER's key, registered in the target for every gate.
pub struct Signer {
    pub _dir: tempfile::TempDir,
    pub key: PathBuf,
    pub public: String,
}

impl Default for Signer {
    fn default() -> Self {
        Self::new()
    }
}

impl Signer {
    pub fn new() -> Signer {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, public) = keypair(dir.path(), "owner");
        Signer {
            _dir: dir,
            key,
            public,
        }
    }

    pub fn allowed_signers(&self) -> String {
        format!("{OWNER} {}\n", self.public.trim())
    }

    /// Registers the key in the target's signer registry (needs the ledger).
    pub fn register(&self, ci: &str) {
        stepgate::engine::signers_cmd::add(
            &opts(Path::new("."), ci),
            OWNER,
            &self.public,
            &["*".to_string()],
        )
        .expect("register signer");
    }

    /// OWNER signs `gate` of `step` for apply.
    pub fn approve(&self, pack: &Path, step: &str, gate: &str) {
        let loaded = stepgate::engine::pack::load(pack).expect("load pack");
        let req = stepgate::engine::approve::Request {
            step,
            gate,
            principal: OWNER,
            action: stepgate::core::approval::Action::Apply,
            expires: Duration::from_secs(3600),
        };
        stepgate::engine::approve::approve(
            &loaded,
            &req,
            &self.key,
            None,
            time::OffsetDateTime::now_utc(),
        )
        .expect("approve");
    }
}

/// Runs a program, failing loudly with its stderr.
pub fn run_ok(cmd: &mut std::process::Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    out
}

/// `psql -X -q -v ON_ERROR_STOP=1 [-1] -f file` against `ci`; returns the wall time.
pub fn psql_file(bindir: &Path, ci: &str, file: &Path, single_tx: bool) -> Duration {
    let mut c = std::process::Command::new(stepgate::db::cluster::client_program(bindir, "psql"));
    c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]);
    if single_tx {
        c.arg("-1");
    }
    c.arg("-d")
        .arg(ci)
        .arg("-f")
        .arg(file)
        .stdout(std::process::Stdio::null());
    let t = Instant::now();
    run_ok(&mut c, &format!("psql -f {}", file.display()));
    t.elapsed()
}

/// `psql -c sql`; returns the wall time.
pub fn psql_c(bindir: &Path, ci: &str, sql: &str) -> Duration {
    let mut c = std::process::Command::new(stepgate::db::cluster::client_program(bindir, "psql"));
    c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(ci)
        .arg("-c")
        .arg(sql)
        .stdout(std::process::Stdio::null());
    let t = Instant::now();
    run_ok(&mut c, &format!("psql -c {sql}"));
    t.elapsed()
}

/// The server version, e.g. "15.18".
pub fn server_version(c: &mut postgres::Client) -> String {
    c.query_one("SHOW server_version", &[])
        .map(|r| r.get::<_, String>(0))
        .unwrap_or_default()
}

pub fn pass(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**MISSED**"
    }
}

/// Appends one row to the summary table `bench/run` puts at the top of BENCHMARKS.md (the file
/// named by `BENCH_SUMMARY`; nothing happens without it).
pub fn summary(measurement: &str, result: &str, target: &str, verdict: &str) {
    let Ok(path) = std::env::var("BENCH_SUMMARY") else {
        return;
    };
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "| {measurement} | {result} | {target} | {verdict} |");
    }
}
