//! Shared test harness: one throwaway cluster per test binary, one database per test.
//! The fixture world (`fixtures/world.sql`) is loaded once into a template
//! database; each test that needs it gets its own copy by `CREATE DATABASE … TEMPLATE`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use stepgate::db::cluster::{Cluster, ClusterOptions};

pub struct Harness {
    pub cluster: Cluster,
    world_loaded: Mutex<bool>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| Harness {
        cluster: Cluster::start(ClusterOptions {
            settings: vec![("log_statement".into(), "all".into())],
            keep: false,
        })
        .expect("start throwaway cluster"),
        world_loaded: Mutex::new(false),
    })
}

/// The project's own `fixtures/` directory: a plain clone has it, so the suite never depends
/// on anything beside the checkout (`tests/fixture_copy.rs` checks it equals the shared copy
/// where that copy exists).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn unique(prefix: &str) -> String {
    format!(
        "{}_{}_{}",
        prefix,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh empty database; returns (name, conninfo).
pub fn empty_db(prefix: &str) -> (String, String) {
    let h = harness();
    let name = unique(prefix);
    h.cluster
        .create_database(&name, None)
        .expect("create database");
    let ci = h.cluster.conninfo(&name);
    (name, ci)
}

/// A fresh copy of the fixture world; returns (name, conninfo).
pub fn world_db(prefix: &str) -> (String, String) {
    let h = harness();
    {
        let mut loaded = h.world_loaded.lock().unwrap_or_else(|e| e.into_inner());
        if !*loaded {
            h.cluster
                .create_database("world_template", None)
                .expect("create template");
            h.cluster
                .psql_file("world_template", &fixtures_dir().join("world.sql"))
                .expect("load world.sql");
            *loaded = true;
        }
        let name = unique(prefix);
        h.cluster
            .create_database(&name, Some("world_template"))
            .expect("copy world");
        (name.clone(), h.cluster.conninfo(&name))
    }
}

/// Writes a pack into a fresh temporary folder: `files` are (relative path, contents).
pub fn write_pack(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write pack file");
    }
    dir
}

/// A manifest for database `db` with the given `[[step]]` tables appended.
pub fn manifest(db: &str, extra: &str) -> String {
    format!(
        r#"[pack]
id = "test-pack"
title = "test"
evidence_dir = ".stepgate/evidence"
[pack.target]
database = "{db}"
environment = "test"
[pack.timeouts]
statement = "5s"
lock = "1s"
idle_in_transaction = "15s"
{extra}
"#
    )
}

/// A step file with sections A–I around `body`.
pub fn step_file(pre: &str, body: &str) -> String {
    format!(
        "-- SECTION A — HEADER\n-- test step\n-- SECTION B — PREFLIGHT\n{pre}\n-- SECTION C — BEGIN\nBEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '1s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n-- SECTION D — FOLD-INS\n-- SECTION E — DDL/DML\n{body}\n-- SECTION F — VERIFY\n-- SECTION G — BOUNDARY\nROLLBACK;\n-- SECTION H — POST-COMMIT\n-- SECTION I — ROLLBACK REFERENCE\n"
    )
}

pub fn rollback_file(body: &str) -> String {
    format!("BEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '1s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n{body}\nCOMMIT;\n")
}

/// Installs the ledger in `conninfo` with environment `test`.
pub fn install_ledger(conninfo: &str) {
    let o = stepgate::engine::Options {
        pack: ".".into(),
        db: Some(conninfo.to_string()),
    };
    stepgate::engine::ledger_cmd::install(
        &o,
        &stepgate::db::ledger::InstallOptions {
            environment: Some("test".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: true,
        },
    )
    .expect("install ledger");
}

pub fn client(conninfo: &str) -> postgres::Client {
    postgres::Client::connect(conninfo, postgres::NoTls).expect("connect")
}

pub fn count(conninfo: &str, sql: &str) -> i64 {
    client(conninfo)
        .query_one(sql, &[])
        .expect("count query")
        .get(0)
}

/// Path of the built `stepgate` binary (integration tests only).
pub fn bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_stepgate"))
}

pub const OWNER: &str = "owner@example.org";

/// An ed25519 key pair in `dir` (private file 0600); returns (private path, public line).
pub fn keypair(dir: &std::path::Path, name: &str) -> (PathBuf, String) {
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
    std::fs::write(dir.join(format!("{name}.pub")), &public).expect("write pub");
    (p, public)
}

/// Registers OWNER's fresh key for `gates`; returns (key dir, private key path, allowed_signers line).
pub fn register_owner(ci: &str, gates: &[&str]) -> (tempfile::TempDir, PathBuf, String) {
    let keys = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(keys.path(), "owner");
    let o = stepgate::engine::Options {
        pack: ".".into(),
        db: Some(ci.to_string()),
    };
    stepgate::engine::signers_cmd::add(
        &o,
        OWNER,
        &public,
        &gates.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
    )
    .expect("register signer");
    (keys, key, format!("{OWNER} {}\n", public.trim()))
}

/// OWNER signs `gate` of `step` for `action`.
pub fn approve(
    pack: &std::path::Path,
    step: &str,
    gate: &str,
    action: stepgate::core::approval::Action,
    key: &std::path::Path,
) {
    let loaded = stepgate::engine::pack::load(pack).expect("load pack");
    let req = stepgate::engine::approve::Request {
        step,
        gate,
        principal: OWNER,
        action,
        expires: std::time::Duration::from_secs(3600),
    };
    stepgate::engine::approve::approve(&loaded, &req, key, None, time::OffsetDateTime::now_utc())
        .expect("approve");
}
