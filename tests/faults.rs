//! Fault injection against a real server: the runner killed with SIGKILL at 20+ points
//! across apply and rollback, the server stopped with `pg_ctl stop -m immediate` at
//! several points, eight concurrent applies, and a conflicting lock. After each fault
//! the database holds all or none of the step, the ledger agrees, `status` names the
//! interrupted run, and rerunning reaches a correct end.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use stepgate::core::approval::Action;
use stepgate::db::cluster::{Cluster, ClusterOptions};
use stepgate::engine::{self, Options};

const STEP: &str = "CREATE TABLE public.fault_probe (id int PRIMARY KEY, v text NOT NULL);\nINSERT INTO public.fault_probe VALUES (1, 'a');\nINSERT INTO public.fault_probe VALUES (2, 'b');";
const ROLLBACK_BODY: &str = "DELETE FROM public.fault_probe WHERE id = 2;\nDELETE FROM public.fault_probe WHERE id = 1;\nDROP TABLE public.fault_probe;";

/// A small pack on an empty database: a two-step chain (2 requires nothing; it is independent).
fn pack_on(ci: &str, db: &str) -> (tempfile::TempDir, tempfile::TempDir, std::path::PathBuf) {
    install_ledger(ci);
    let (keys, key, signers) = register_owner(ci, &["owner"]);
    let steps = format!(
        "[gate.owner]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n\
[[step]]\nid = \"1\"\nname = \"probe\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"table public.fault_probe\"]\nrows = {{ \"public.fault_probe\" = {{ insert = 2 }} }}\n\
[[step]]\nid = \"2\"\nname = \"other\"\nfile = \"02.sql\"\nrollback = \"rollback/02.sql\"\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"table public.fault_other\"]\n"
    );
    let m = manifest(db, &steps).replace(
        "[pack.target]",
        "allowed_signers = \"allowed_signers\"\n[pack.target]",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("allowed_signers", &signers),
        ("01.sql", &step_file("SELECT 1;", STEP)),
        (
            "02.sql",
            &step_file(
                "SELECT 1;",
                "CREATE TABLE public.fault_other (id int PRIMARY KEY);",
            ),
        ),
        ("rollback/01.sql", &rollback_file(ROLLBACK_BODY)),
        (
            "rollback/02.sql",
            &rollback_file("DROP TABLE public.fault_other;"),
        ),
    ]);
    (dir, keys, key)
}

fn opts(dir: &Path, ci: &str) -> Options {
    Options {
        pack: dir.to_path_buf(),
        db: Some(ci.to_string()),
    }
}

fn run_bin(dir: &Path, ci: &str, args: &[&str], envs: &[(&str, String)]) -> std::process::Output {
    let mut c = Command::new(bin());
    c.args(args)
        .arg("--db")
        .arg(ci)
        .arg("-p")
        .arg(dir)
        .arg("-q");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run stepgate")
}

fn probe_state(ci: &str) -> (bool, i64) {
    let exists = count(
        ci,
        "SELECT count(*) FROM pg_class WHERE relname = 'fault_probe'",
    ) == 1;
    let rows = if exists {
        count(ci, "SELECT count(*) FROM public.fault_probe")
    } else {
        0
    };
    (exists, rows)
}

fn ledger_says(ci: &str, verb: &str) -> i64 {
    count(ci, &format!("SELECT count(*) FROM stepgate.events WHERE step = '1' AND verb = '{verb}' AND result = 'committed'"))
}

fn prepare_apply(dir: &Path, ci: &str, key: &Path) {
    assert!(
        engine::rehearse::run(&opts(dir, ci), "1", false)
            .unwrap()
            .passed
    );
    approve(dir, "1", "owner", Action::Apply, key);
}

fn prepare_rollback(dir: &Path, ci: &str, key: &Path) {
    prepare_apply(dir, ci, key);
    assert!(
        engine::apply::run(&opts(dir, ci), "1", &Default::default())
            .unwrap()
            .committed
    );
    assert!(
        engine::rehearse::run(&opts(dir, ci), "1", true)
            .unwrap()
            .passed
    );
    approve(dir, "1", "owner", Action::Rollback, key);
}

#[test]
fn sigkill_at_every_point_of_apply_and_rollback() {
    // Body statements: 3 SET LOCAL + CREATE + 2 INSERT = 6 (apply); 3 SET LOCAL + 3 (rollback).
    let apply_points: Vec<(String, bool)> = ["apply:after-intent", "apply:before-begin"]
        .iter()
        .map(|p| (p.to_string(), false))
        .chain((1..=6).map(|i| (format!("apply:after-statement-{i}"), false)))
        .chain([
            ("apply:after-ledger-row".to_string(), false),
            ("apply:after-commit".to_string(), true),
            ("apply:during-verify".to_string(), true),
        ])
        .collect();
    let rollback_points: Vec<(String, bool)> = ["rollback:after-intent"]
        .iter()
        .map(|p| (p.to_string(), false))
        .chain((1..=6).map(|i| (format!("rollback:after-statement-{i}"), false)))
        .chain([
            ("rollback:after-ledger-row".to_string(), false),
            ("rollback:after-commit".to_string(), true),
        ])
        .collect();
    assert!(apply_points.len() + rollback_points.len() >= 20);
    // The probe table before and after the verb: apply creates it (2 rows), rollback removes it.
    let runs = [
        ("apply", (false, 0), (true, 2), apply_points),
        ("rollback", (true, 2), (false, 0), rollback_points),
    ];
    for (verb, before, after, points) in runs {
        for (point, committed) in &points {
            let (db, ci) = empty_db("fk_kill");
            let (dir, _k, key) = pack_on(&ci, &db);
            if verb == "apply" {
                prepare_apply(dir.path(), &ci, &key);
            } else {
                prepare_rollback(dir.path(), &ci, &key);
            }
            let out = run_bin(
                dir.path(),
                &ci,
                &[verb, "--step", "1"],
                &[("STEPGATE_FAULT", point.clone())],
            );
            assert_eq!(
                out.status.code(),
                None,
                "{point}: not killed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                probe_state(&ci),
                if *committed { after } else { before },
                "{point}: all or nothing"
            );
            assert_eq!(
                ledger_says(&ci, verb),
                i64::from(*committed),
                "{point}: the ledger agrees"
            );
            let st = engine::status::run(&opts(dir.path(), &ci)).unwrap();
            assert!(
                st.steps[0].interrupted_run.is_some(),
                "{point}: status names the interrupted run"
            );
            let out = run_bin(dir.path(), &ci, &[verb, "--step", "1"], &[]);
            let code = out.status.code();
            // Committed before the kill: the rerun is an idempotent repeat, exit 0 and
            // "nothing to do"; otherwise the rerun does the work, exit 0.
            assert_eq!(
                code,
                Some(0),
                "{point}: rerun: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).contains("nothing to do"),
                *committed,
                "{point}: rerun: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            assert_eq!(probe_state(&ci), after, "{point}: correct end");
            assert_eq!(ledger_says(&ci, verb), 1, "{point}");
            assert!(
                engine::status::run(&opts(dir.path(), &ci)).unwrap().steps[0]
                    .interrupted_run
                    .is_none(),
                "{point}: reconciled"
            );
            assert!(
                engine::ledger_cmd::verify(&opts(dir.path(), &ci))
                    .unwrap()
                    .problems
                    .is_empty(),
                "{point}"
            );
        }
    }
}

#[test]
fn server_stopped_immediately_mid_apply_keeps_all_or_nothing() {
    // A cluster of its own (this test stops it), with durable commits.
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![
            ("fsync".into(), "on".into()),
            ("synchronous_commit".into(), "on".into()),
        ],
        keep: false,
    })
    .unwrap();
    for (i, (point, committed)) in [
        ("apply:before-begin", false),
        ("apply:after-statement-5", false),
        ("apply:after-ledger-row", false),
        ("apply:after-commit", true),
    ]
    .iter()
    .enumerate()
    {
        let db = format!("crash_{i}");
        cluster.create_database(&db, None).unwrap();
        let ci = cluster.conninfo(&db);
        let (dir, _k, key) = pack_on(&ci, &db);
        prepare_apply(dir.path(), &ci, &key);
        let flag = dir.path().join("paused");
        let mut child = Command::new(bin())
            .args(["apply", "--step", "1", "-q", "--db", &ci, "-p"])
            .arg(dir.path())
            .env("STEPGATE_FAULT_PAUSE", point)
            .env("STEPGATE_FAULT_FILE", &flag)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        while !flag.exists() {
            assert!(t0.elapsed().as_secs() < 60, "{point}: never paused");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        cluster.stop_immediate().unwrap();
        cluster.restart().unwrap();
        std::fs::remove_file(&flag).unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "{point}: the runner lost its server and must not report success"
        );
        assert_eq!(
            probe_state(&ci),
            if *committed { (true, 2) } else { (false, 0) },
            "{point}: all or nothing after crash recovery"
        );
        assert_eq!(
            ledger_says(&ci, "apply"),
            i64::from(*committed),
            "{point}: the ledger agrees"
        );
        // Rerun reaches a correct end.
        let r = engine::apply::run(&opts(dir.path(), &ci), "1", &Default::default());
        if *committed {
            assert!(r.is_err(), "{point}: already committed");
        } else {
            assert!(r.unwrap().committed, "{point}");
        }
        assert_eq!(probe_state(&ci), (true, 2));
        assert_eq!(ledger_says(&ci, "apply"), 1);
        assert!(engine::ledger_cmd::verify(&opts(dir.path(), &ci))
            .unwrap()
            .problems
            .is_empty());
    }
}

#[test]
fn eight_concurrent_applies_commit_each_step_exactly_once() {
    let (db, ci) = empty_db("fk_concurrent");
    let (dir, _k, key) = pack_on(&ci, &db);
    prepare_apply(dir.path(), &ci, &key);
    assert!(
        engine::rehearse::run(&opts(dir.path(), &ci), "2", false)
            .unwrap()
            .passed
    );
    approve(dir.path(), "2", "owner", Action::Apply, &key);
    let children: Vec<_> = (0..8)
        .map(|i| {
            let step = if i % 2 == 0 { "1" } else { "2" };
            Command::new(bin())
                .args(["apply", "--step", step, "-q", "--db", &ci, "-p"])
                .arg(dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<Option<i32>> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code())
        .collect();
    // Every run either committed (0), found the step already committed (0, nothing to do), was refused (3) or found the pack busy (7).
    assert!(
        codes
            .iter()
            .all(|c| matches!(c, Some(0) | Some(3) | Some(7))),
        "{codes:?}"
    );
    for step in ["1", "2"] {
        let n = count(&ci, &format!("SELECT count(*) FROM stepgate.events WHERE step = '{step}' AND verb = 'apply' AND result = 'committed'"));
        assert!(n <= 1, "step {step} committed {n} times");
    }
    // At most one mutated at a time: apply-intent .. apply-end intervals never overlap.
    let mut c = client(&ci);
    let rows = c.query("SELECT run_id, min(id), max(id) FROM stepgate.events WHERE verb IN ('apply-intent', 'apply-end') GROUP BY run_id ORDER BY 2", &[]).unwrap();
    let spans: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(1), r.get(2))).collect();
    for w in spans.windows(2) {
        assert!(w[0].1 < w[1].0, "overlapping runs: {spans:?}");
    }
    // Sequential reruns finish the job: each step exactly once.
    for step in ["1", "2"] {
        let _ = engine::apply::run(&opts(dir.path(), &ci), step, &Default::default());
        assert_eq!(count(&ci, &format!("SELECT count(*) FROM stepgate.events WHERE step = '{step}' AND verb = 'apply' AND result = 'committed'")), 1);
    }
}

#[test]
fn conflicting_lock_ends_within_the_retry_budget_and_leaves_nothing() {
    let (db, ci) = empty_db("fk_lock");
    client(&ci)
        .batch_execute("CREATE TABLE public.busy (id int)")
        .unwrap();
    install_ledger(&ci);
    let (_keys, key, signers) = register_owner(&ci, &["owner"]);
    let steps = format!("[gate.owner]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n[[step]]\nid = \"1\"\nname = \"alter busy\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"column public.busy.note\"]\n");
    let m = manifest(&db, &steps).replace(
        "[pack.target]",
        "allowed_signers = \"allowed_signers\"\n[pack.target]",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("allowed_signers", &signers),
        (
            "01.sql",
            &step_file("SELECT 1;", "ALTER TABLE public.busy ADD COLUMN note text;"),
        ),
        (
            "rollback/01.sql",
            &rollback_file("ALTER TABLE public.busy DROP COLUMN note;"),
        ),
    ]);
    let o = opts(dir.path(), &ci);
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    // A long reader holds ACCESS SHARE: the ALTER would queue behind it and stall everyone.
    let mut holder = client(&ci);
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("SELECT * FROM public.busy").unwrap();
    let holders = engine::locks::conflicting_holders(&o, "1").unwrap();
    assert!(
        holders.iter().any(|h| h.relation == "public.busy"),
        "{holders:?}"
    );
    let t0 = std::time::Instant::now();
    let err = engine::apply::run(
        &o,
        "1",
        &engine::apply::ApplyOptions {
            retries: 2,
            auto_backup: true,
            progress: false,
            ..Default::default()
        },
    )
    .unwrap_err();
    let elapsed = t0.elapsed();
    assert!(err.to_string().contains("3 attempt(s)"), "{err}");
    // lock_timeout 1s × 3 attempts + backoff (≤ 0.5 s + 0.9 s): it ends, it does not hang.
    assert!(elapsed.as_secs() < 30, "{elapsed:?}");
    tx.rollback().unwrap();
    assert_eq!(count(&ci, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'note'"), 0);
    assert_eq!(count(&ci, "SELECT count(*) FROM stepgate.events WHERE verb = 'apply-attempt' AND result = 'lock_timeout'"), 2);
    assert_eq!(count(&ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"), 0);
    // With the reader gone, the same apply goes through.
    assert!(
        engine::apply::run(&o, "1", &Default::default())
            .unwrap()
            .committed
    );
}

#[test]
fn tampered_ledger_makes_apply_refuse() {
    let (db, ci) = empty_db("fk_tamper");
    let (dir, _k, key) = pack_on(&ci, &db);
    prepare_apply(dir.path(), &ci, &key);
    client(&ci)
        .batch_execute("UPDATE stepgate.events SET result = 'passed' WHERE verb = 'install'")
        .unwrap();
    let out = run_bin(dir.path(), &ci, &["apply", "--step", "1"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tampered"));
    assert_eq!(probe_state(&ci), (false, 0));
}
