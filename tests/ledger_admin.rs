//! The ledger as the admin's: install only into the pack's target, relabel and
//! uninstall as ledgered admin acts; and a failed pre-check refuses without halting.

mod common;
use common::*;
use std::process::Command;
use stepgate::core::approval::Action;
use stepgate::db::ledger::{self, Actor, InstallOptions, NewEvent};
use stepgate::engine::{self, Error, Options};

fn opts(ci: &str) -> Options {
    Options {
        pack: ".".into(),
        db: Some(ci.to_string()),
    }
}

fn one_step_pack(db: &str) -> tempfile::TempDir {
    let m = manifest(
        db,
        "[[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\n[step.effects]\ncreate = [\"table public.ledger_admin_t\"]\n",
    );
    write_pack(&[
        ("stepgate.toml", &m),
        (
            "01.sql",
            &step_file("SELECT 1;", "CREATE TABLE public.ledger_admin_t (id int);"),
        ),
        (
            "rollback/01.sql",
            &rollback_file("DROP TABLE public.ledger_admin_t;"),
        ),
    ])
}

fn installed(ci: &str) -> bool {
    count(
        ci,
        "SELECT count(*) FROM pg_namespace WHERE nspname = 'stepgate'",
    ) == 1
}

#[test]
fn install_in_a_pack_refuses_another_database_and_defaults_the_environment() {
    let (_db, ci) = empty_db("ledger_wrong");
    let (target_db, target_ci) = empty_db("ledger_right");
    let pack = one_step_pack(&target_db);
    // Through the binary: exit 6, both databases named, nothing installed.
    let out = Command::new(bin())
        .args(["ledger", "install", "--db", &ci, "-p"])
        .arg(pack.path())
        .output()
        .expect("run stepgate");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains(&target_db), "{stderr}");
    assert!(stderr.contains(&_db), "{stderr}");
    assert!(!installed(&ci));
    // The engine says the same with its variant.
    let o = Options {
        pack: pack.path().to_path_buf(),
        db: Some(ci.clone()),
    };
    let err = engine::ledger_cmd::install(
        &o,
        &InstallOptions {
            environment: Some("test".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: false,
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::WrongTarget(_)), "{err}");
    // Into the pack's own target it installs, labelled with the manifest's environment.
    let out = Command::new(bin())
        .args(["ledger", "install", "--no-guard", "--db", &target_ci, "-p"])
        .arg(pack.path())
        .output()
        .expect("run stepgate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env: String = client(&target_ci)
        .query_one(
            "SELECT value FROM stepgate.meta WHERE key = 'environment'",
            &[],
        )
        .expect("meta")
        .get(0);
    assert_eq!(env, "test");
}

#[test]
fn a_wrong_database_does_not_suggest_installing_a_ledger_there() {
    let (_db, ci) = empty_db("ledger_nosuggest");
    let pack = one_step_pack("some_other_database");
    let o = Options {
        pack: pack.path().to_path_buf(),
        db: Some(ci),
    };
    let err = engine::preflight::run(&o, None).err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("some_other_database"), "{msg}");
    assert!(!msg.contains("ledger install"), "{msg}");
}

#[test]
fn relabel_by_the_admin_is_ledgered_and_refused_to_the_runner() {
    let (_db, ci) = empty_db("ledger_relabel");
    let mut admin = client(&ci);
    admin
        .batch_execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sg_relabel_runner') THEN CREATE ROLE sg_relabel_runner LOGIN; END IF; END $$")
        .expect("role");
    engine::ledger_cmd::install(
        &opts(&ci),
        &InstallOptions {
            environment: Some("staging".into()),
            runner_role: Some("sg_relabel_runner".into()),
            floor_min_signatures: 1,
            guard: false,
        },
    )
    .expect("install");
    let runner_ci = ci.replace("user=postgres", "user=sg_relabel_runner");
    let err = engine::ledger_cmd::relabel(&opts(&runner_ci), "production").unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    // The ledger itself refuses the record from the runner, whatever the client does.
    let e = client(&runner_ci)
        .batch_execute("SELECT stepgate.append_event('-', NULL, 'relabel', 'relabelled', 'u', 'h', NULL, 'r', '{}'::jsonb)")
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
        "{e}"
    );
    let r = engine::ledger_cmd::relabel(&opts(&ci), "production").expect("relabel");
    assert_eq!((r.old.as_str(), r.new.as_str()), ("staging", "production"));
    let mut c = client(&ci);
    assert_eq!(
        ledger::meta(&mut c, "environment")
            .expect("meta")
            .as_deref(),
        Some("production")
    );
    let row = c
        .query_one(
            "SELECT details->>'old', details->>'new' FROM stepgate.events WHERE verb = 'relabel'",
            &[],
        )
        .expect("relabel event");
    assert_eq!(row.get::<_, String>(0), "staging");
    assert_eq!(row.get::<_, String>(1), "production");
    assert!(engine::ledger_cmd::verify(&opts(&ci))
        .expect("verify")
        .problems
        .is_empty());
}

#[test]
fn uninstall_refuses_with_a_committed_step_unless_forced_and_removes_everything() {
    let (_db, ci) = world_db("ledger_uninstall");
    install_ledger(&ci);
    let guard_before = count(
        &ci,
        "SELECT count(*) FROM pg_event_trigger WHERE evtname = 'stepgate_guard'",
    );
    let mut c = client(&ci);
    ledger::append_fact(
        &mut c,
        &Actor::current(),
        &NewEvent {
            pack: "p",
            step: Some("1"),
            verb: "apply",
            result: "committed",
            details: serde_json::json!({}),
            ..Default::default()
        },
    )
    .expect("fact");
    let err = engine::ledger_cmd::uninstall(&opts(&ci), false).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(err.to_string().contains("p/1"), "{err}");
    assert!(installed(&ci));
    let r = engine::ledger_cmd::uninstall(&opts(&ci), true).expect("forced uninstall");
    assert!(r.removed && r.forced);
    assert_eq!(r.committed_steps, vec!["p/1".to_string()]);
    assert_eq!(r.head_hash.len(), 64);
    assert!(r.events >= 2);
    assert_eq!(r.guard, guard_before == 1);
    assert!(!installed(&ci));
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_event_trigger WHERE evtname = 'stepgate_guard'"
        ),
        0
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'stepgate_guard'"
        ),
        0
    );
}

#[test]
fn uninstall_without_committed_steps_needs_no_force() {
    let (_db, ci) = empty_db("ledger_uninstall_clean");
    install_ledger(&ci);
    let mut c = client(&ci);
    // A step applied then rolled back is not committed.
    for (verb, result) in [("apply", "committed"), ("rollback", "committed")] {
        ledger::append_fact(
            &mut c,
            &Actor::current(),
            &NewEvent {
                pack: "p",
                step: Some("1"),
                verb,
                result,
                details: serde_json::json!({}),
                ..Default::default()
            },
        )
        .expect("fact");
    }
    let r = engine::ledger_cmd::uninstall(&opts(&ci), false).expect("uninstall");
    assert!(r.committed_steps.is_empty());
    assert!(!installed(&ci));
}

#[test]
fn an_invariant_broken_before_the_step_refuses_and_does_not_halt() {
    let (db, ci) = world_db("precheck_refuses");
    install_ledger(&ci);
    let (_keys, key, signers) = register_owner(&ci, &["owner", "resume"]);
    let extra = format!(
        r#"[gate.owner]
kind = "signature"
signers = ["{OWNER}"]
[[invariant]]
name = "relations"
sql = "SELECT count(*) FROM governance_relations"
expect = "8"
[[step]]
id = "1"
name = "one"
file = "01.sql"
rollback = "rollback/01.sql"
gates = ["owner"]
[step.effects]
create = ["table public.ledger_admin_t"]
"#
    );
    let m = manifest(&db, &extra).replace(
        "[pack.target]",
        "allowed_signers = \"allowed_signers\"\n[pack.target]",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        (
            "01.sql",
            &step_file("SELECT 1;", "CREATE TABLE public.ledger_admin_t (id int);"),
        ),
        (
            "rollback/01.sql",
            &rollback_file("DROP TABLE public.ledger_admin_t;"),
        ),
        ("allowed_signers", &signers),
    ]);
    let o = Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.clone()),
    };
    assert!(
        engine::rehearse::run(&o, "1", false)
            .expect("rehearse")
            .passed
    );
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    client(&ci)
        .batch_execute("INSERT INTO public.governance_relations (source_code, target_code, relation_type) VALUES ('GOV-001', 'GOV-005', 'advises')")
        .expect("break the invariant");
    let out = Command::new(bin())
        .args(["apply", "--step", "1", "--db", &ci, "-p"])
        .arg(dir.path())
        .output()
        .expect("run stepgate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("relations"), "{text}");
    assert!(text.contains("pre-check failed before it ran"), "{text}");
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'apply-end' AND result = 'refused' AND details::text LIKE '%relations%'"
        ),
        1,
        "{text}"
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.pack_state WHERE pack = 'test-pack' AND halted"
        ),
        0,
        "{text}"
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'ledger_admin_t'"
        ),
        0
    );
}

/// A ledger installed by another version of stepgate is refused, not half-used, and the
/// refusal says how the administrator moves on.
#[test]
fn a_ledger_of_another_schema_version_is_refused_with_the_way_out() {
    let (db, ci) = empty_db("ledger_version");
    install_ledger(&ci);
    let dir = one_step_pack(&db);
    let o = Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.clone()),
    };
    assert!(engine::status::run(&o).is_ok(), "the current version opens");
    client(&ci)
        .batch_execute("UPDATE stepgate.meta SET value = '1' WHERE key = 'schema_version'")
        .expect("downgrade the recorded version");
    let err = engine::rehearse::run(&o, "1", false).expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, Error::Refused(_)), "{text}");
    assert!(
        text.contains("schema version 1") && text.contains(ledger::SCHEMA_VERSION),
        "{text}"
    );
    assert!(text.contains("stepgate ledger uninstall --force"), "{text}");
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'ledger_admin_t'"
        ),
        0,
        "nothing ran"
    );
}
