//! Gated commit against a real server: refusals, approvals (including ssh-keygen
//! interop), apply with its in-transaction ledger row, kill points, halt/resume,
//! and the runner role's limits.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use stepgate::core::approval::Action;
use stepgate::engine::{self, Error, Options};

const OWNER: &str = "owner@example.org";

struct Fixture {
    dir: tempfile::TempDir,
    ci: String,
    key: std::path::PathBuf,
    _keys: tempfile::TempDir,
}

impl Fixture {
    fn o(&self) -> Options {
        Options {
            pack: self.dir.path().to_path_buf(),
            db: Some(self.ci.clone()),
        }
    }
    fn approve(&self, step: &str, action: Action) {
        let loaded = engine::pack::load(self.dir.path()).unwrap();
        let req = engine::approve::Request {
            step,
            gate: "owner",
            principal: OWNER,
            action,
            expires: std::time::Duration::from_secs(3600),
        };
        engine::approve::approve(
            &loaded,
            &req,
            &self.key,
            None,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    }
    fn stepgate(&self, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
        let mut c = Command::new(bin());
        c.args(args)
            .arg("--db")
            .arg(&self.ci)
            .arg("-p")
            .arg(self.dir.path());
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    }
}

fn keypair(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let key =
        ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
    let p = dir.join(name);
    std::fs::write(
        &p,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = key.public_key().to_openssh().unwrap();
    std::fs::write(dir.join(format!("{name}.pub")), &public).unwrap();
    (p, public)
}

/// A two-step pack on a fresh world copy: step 1 creates a table and writes a row
/// (two statements), step 2 requires it.
fn setup(prefix: &str) -> Fixture {
    let (db, ci) = world_db(prefix);
    install_ledger(&ci);
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = keypair(keys.path(), "owner");
    let o = Options {
        pack: ".".into(),
        db: Some(ci.clone()),
    };
    engine::signers_cmd::add(
        &o,
        OWNER,
        &public,
        &["owner".into(), "resume".into(), "restore".into()],
    )
    .unwrap();
    let signers = format!("{OWNER} {}\n", public.trim());
    let steps = format!(
        r#"allowed_signers_placeholder
[gate.owner]
kind = "signature"
signers = ["{OWNER}"]
[gate.resume]
kind = "signature"
signers = ["{OWNER}"]
[[invariant]]
name = "relations"
sql = "SELECT count(*) FROM governance_relations"
expect = "8"
[[step]]
id = "1"
name = "ruleset"
file = "01.sql"
rollback = "rollback/01.sql"
gates = ["owner"]
[step.effects]
create = ["table public.governance_ruleset"]
rows = {{ "public.governance_ruleset" = {{ insert = 1 }} }}
[[step]]
id = "2"
name = "candidates"
file = "02.sql"
rollback = "rollback/02.sql"
requires = ["1"]
gates = ["owner"]
[step.effects]
create = ["table public.governance_candidate_state"]
"#
    );
    let m = manifest(&db, &steps)
        .replace(
            "[pack.target]",
            "allowed_signers = \"allowed_signers\"\n[pack.target]",
        )
        .replace("allowed_signers_placeholder", "");
    let s1 = step_file("SELECT 1;", "CREATE TABLE public.governance_ruleset (version text PRIMARY KEY, status text NOT NULL DEFAULT 'draft');\nINSERT INTO public.governance_ruleset (version) VALUES ('v1');");
    let s2 = step_file("SELECT 1;", "CREATE TABLE public.governance_candidate_state (id bigint PRIMARY KEY, ruleset_version text NOT NULL REFERENCES public.governance_ruleset(version));");
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", &s1),
        ("02.sql", &s2),
        (
            "rollback/01.sql",
            &rollback_file("DROP TABLE public.governance_ruleset;"),
        ),
        (
            "rollback/02.sql",
            &rollback_file("DROP TABLE public.governance_candidate_state;"),
        ),
        ("allowed_signers", &signers),
    ]);
    Fixture {
        dir,
        ci,
        key,
        _keys: keys,
    }
}

fn table_exists(ci: &str, t: &str) -> bool {
    count(
        ci,
        &format!("SELECT count(*) FROM pg_class WHERE relname = '{t}'"),
    ) == 1
}

fn committed_rows(ci: &str, step: &str) -> i64 {
    count(ci, &format!("SELECT count(*) FROM stepgate.events WHERE verb = 'apply' AND result = 'committed' AND step = '{step}'"))
}

#[test]
fn one_step_through_rehearse_refuse_approve_apply_verify_status() {
    let f = setup("apply_walk");
    let o = f.o();
    // No rehearsal, no approval: refused with both reasons, nothing executed.
    let err = engine::apply::run(&o, "1", &Default::default()).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("no rehearsal of the current step file"),
        "{msg}"
    );
    assert!(msg.contains("gate owner: 0 of 1"), "{msg}");
    assert!(!table_exists(&f.ci, "governance_ruleset"));
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    // Rehearsed but not approved: still refused, exit 3.
    let out = f.stepgate(&["apply", "--step", "1"], &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    f.approve("1", Action::Apply);
    let out = f.stepgate(&["apply", "--step", "1"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table_exists(&f.ci, "governance_ruleset"));
    assert_eq!(committed_rows(&f.ci, "1"), 1);
    // Verify and status.
    let v = engine::verify::verify(&o, "1").unwrap();
    assert!(v.ok, "{v:?}");
    let st = engine::status::run(&o).unwrap();
    assert_eq!(st.steps[0].state, "committed");
    assert_eq!(st.steps[1].state, "not applied");
    // A backup was taken automatically and recorded.
    assert_eq!(count(&f.ci, "SELECT count(*) FROM stepgate.events WHERE verb = 'backup' AND result = 'verified' AND step = '1'"), 1);
    // Applying again does nothing: one step, one commit; a script sees exit 0.
    assert!(matches!(
        engine::apply::run(&o, "1", &Default::default()).unwrap_err(),
        Error::NothingToDo(_)
    ));
    let again = f.stepgate(&["apply", "--step", "1"], &[]);
    assert_eq!(again.status.code(), Some(0));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("nothing to do: step 1 is already committed (at "),
        "{text}"
    );
    let again = f.stepgate(&["apply", "--step", "1", "--json"], &[]);
    assert_eq!(again.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["nothing_to_do"], true, "{v}");
    assert_eq!(committed_rows(&f.ci, "1"), 1);
    assert!(engine::ledger_cmd::verify(&o).unwrap().problems.is_empty());
}

#[test]
fn killed_at_any_point_leaves_all_or_nothing_and_is_reconciled() {
    // Step 1 has two body statements; kill after each, after the ledger row, just after COMMIT.
    for (point, expect_committed) in [
        ("apply:after-intent", false),
        ("apply:before-begin", false),
        ("apply:after-statement-3", false),
        ("apply:after-statement-4", false),
        ("apply:after-ledger-row", false),
        ("apply:after-commit", true),
        ("apply:during-verify", true),
    ] {
        let f = setup("apply_kill");
        assert!(engine::rehearse::run(&f.o(), "1", false).unwrap().passed);
        f.approve("1", Action::Apply);
        let out = f.stepgate(&["apply", "--step", "1"], &[("STEPGATE_FAULT", point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the process should have been killed"
        );
        // All or nothing, and the ledger agrees.
        assert_eq!(
            table_exists(&f.ci, "governance_ruleset"),
            expect_committed,
            "{point}"
        );
        assert_eq!(
            committed_rows(&f.ci, "1"),
            i64::from(expect_committed),
            "{point}"
        );
        assert_eq!(count(&f.ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"), 0);
        // status names the interrupted run.
        let st = engine::status::run(&f.o()).unwrap();
        assert!(
            st.steps[0].interrupted_run.is_some(),
            "{point}: {:?}",
            st.steps[0]
        );
        // Rerunning reaches a correct end.
        let r = engine::apply::run(&f.o(), "1", &Default::default());
        if expect_committed {
            assert!(
                matches!(r, Err(Error::NothingToDo(ref m)) if m.contains("already committed")),
                "{point}: {r:?}"
            );
        } else {
            let r = r.unwrap_or_else(|e| panic!("{point}: {e}"));
            assert!(r.committed, "{point}");
        }
        assert!(table_exists(&f.ci, "governance_ruleset"));
        assert_eq!(committed_rows(&f.ci, "1"), 1, "{point}");
        assert!(
            engine::status::run(&f.o()).unwrap().steps[0]
                .interrupted_run
                .is_none(),
            "{point}: reconciled"
        );
        assert!(engine::ledger_cmd::verify(&f.o())
            .unwrap()
            .problems
            .is_empty());
    }
}

#[test]
fn edited_files_and_manifest_void_approvals() {
    let f = setup("apply_edit");
    let o = f.o();
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    f.approve("1", Action::Apply);
    // Step file edited after approval (a comment is enough).
    let p = f.dir.path().join("01.sql");
    let orig = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, format!("{orig}-- sneaky\n")).unwrap();
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("step file changed since signing"), "{msg}");
    std::fs::write(&p, &orig).unwrap();
    // Rollback file edited after approval.
    let rp = f.dir.path().join("rollback/01.sql");
    let rorig = std::fs::read_to_string(&rp).unwrap();
    std::fs::write(&rp, format!("{rorig}-- sneaky\n")).unwrap();
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("rollback file changed"), "{msg}");
    std::fs::write(&rp, &rorig).unwrap();
    // A gate removed from the manifest: the manifest sha changes, every approval is void,
    // and the floor policy still demands a registry signature.
    let mp = f.dir.path().join("stepgate.toml");
    let morig = std::fs::read_to_string(&mp).unwrap();
    std::fs::write(&mp, morig.replacen("gates = [\"owner\"]", "gates = []", 1)).unwrap();
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("floor policy"), "{msg}");
    std::fs::write(&mp, &morig).unwrap();
    // The runner's own key added to allowed_signers: refused (not in the registry).
    let keys = tempfile::tempdir().unwrap();
    let (_k, public) = keypair(keys.path(), "agent");
    let sp = f.dir.path().join("allowed_signers");
    let sorig = std::fs::read_to_string(&sp).unwrap();
    std::fs::write(&sp, format!("{sorig}{OWNER} {public}\n")).unwrap();
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("signer registry does not hold"), "{msg}");
    std::fs::write(&sp, &sorig).unwrap();
    // A malformed signature.
    let sig = f
        .dir
        .path()
        .join(format!("approvals/1.owner.{OWNER}.approval.sig"));
    let sorig = std::fs::read_to_string(&sig).unwrap();
    std::fs::write(&sig, &sorig[..sorig.len() / 2]).unwrap();
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.to_lowercase().contains("signature"), "{msg}");
    std::fs::write(&sig, &sorig).unwrap();
    // Everything restored: it commits.
    assert!(
        engine::apply::run(&o, "1", &Default::default())
            .unwrap()
            .committed
    );
}

#[test]
fn ssh_keygen_signed_approval_is_accepted() {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        panic!("ssh-keygen is required (openssh-client)");
    }
    let f = setup("apply_sshkeygen");
    let o = f.o();
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    let out = f.stepgate(
        &[
            "approval-text",
            "--step",
            "1",
            "--gate",
            "owner",
            "--principal",
            OWNER,
        ],
        &[],
    );
    assert!(out.status.success());
    let path = f
        .dir
        .path()
        .join(format!("approvals/1.owner.{OWNER}.approval"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &out.stdout).unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", "stepgate", "-f"])
        .arg(&f.key)
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(f
        .dir
        .path()
        .join(format!("approvals/1.owner.{OWNER}.approval.sig"))
        .exists());
    let r = engine::apply::run(&o, "1", &Default::default()).unwrap();
    assert!(r.committed);
}

#[test]
fn halt_refuses_mutations_until_a_signed_resume_and_preflight() {
    let f = setup("apply_halt");
    let o = f.o();
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    f.approve("1", Action::Apply);
    let halt_id = engine::halt::halt(&o, "counts cannot be reconciled").unwrap();
    let out = f.stepgate(&["apply", "--step", "1"], &[]);
    assert_eq!(out.status.code(), Some(4));
    // Read-only verbs still work.
    assert!(engine::status::run(&o).unwrap().halted.is_some());
    // A forged resume appended by hand (no signatures) lifts nothing.
    let mut c = client(&f.ci);
    c.execute("SELECT stepgate.append_event('test-pack', NULL, 'resume', 'resumed', 'x', 'y', NULL, 'forged', $1::text::jsonb)", &[&format!("{{\"halt_event\": {halt_id}}}")]).unwrap();
    assert!(matches!(
        engine::apply::run(&o, "1", &Default::default()).unwrap_err(),
        Error::Halted(_)
    ));
    // An unsigned resume is refused.
    assert!(matches!(
        engine::halt::resume(&o).unwrap_err(),
        Error::Refused(_)
    ));
    // Signed for the halt event: resumed.
    let loaded = engine::pack::load(f.dir.path()).unwrap();
    let subject = format!("halt-{halt_id}");
    let req = engine::approve::Request {
        step: &subject,
        gate: "resume",
        principal: OWNER,
        action: Action::Resume,
        expires: std::time::Duration::from_secs(600),
    };
    engine::approve::approve(&loaded, &req, &f.key, None, time::OffsetDateTime::now_utc()).unwrap();
    engine::halt::resume(&o).unwrap();
    // Back through preflight first.
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("run `stepgate preflight`"), "{msg}");
    let pf = engine::preflight::run(&o, None).unwrap();
    assert!(
        pf.passed,
        "{:?}",
        pf.checks.iter().filter(|c| !c.ok).collect::<Vec<_>>()
    );
    assert!(
        engine::apply::run(&o, "1", &Default::default())
            .unwrap()
            .committed
    );
}

#[test]
fn runner_role_cannot_edit_the_ledger_or_the_registry() {
    let (_db, ci) = world_db("runner_role");
    let mut admin = client(&ci);
    admin.batch_execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sg_runner') THEN CREATE ROLE sg_runner LOGIN; END IF; END $$").unwrap();
    let o = Options {
        pack: ".".into(),
        db: Some(ci.clone()),
    };
    engine::ledger_cmd::install(
        &o,
        &stepgate::db::ledger::InstallOptions {
            environment: Some("test".into()),
            runner_role: Some("sg_runner".into()),
            floor_min_signatures: 1,
            guard: true,
        },
    )
    .unwrap();
    let runner_ci = ci.replace("user=postgres", "user=sg_runner");
    let mut runner = client(&runner_ci);
    // Appending through the function works.
    runner.execute("SELECT stepgate.append_event('p', '1', 'rehearse', 'failed', 'u', 'h', NULL, 'r', '{}'::jsonb)", &[]).unwrap();
    for sql in [
        "UPDATE stepgate.events SET result = 'passed'",
        "DELETE FROM stepgate.events",
        "INSERT INTO stepgate.events (id, at, pack, verb, result, db_role, prev_hash, row_hash) VALUES (99, now(), 'p', 'approve', 'ok', 'x', 'x', 'x')",
        "INSERT INTO stepgate.signers (principal, key_type, key_base64, gates) VALUES ('agent', 'ssh-ed25519', 'AAAA', '{*}')",
        "UPDATE stepgate.meta SET value = '0' WHERE key = 'floor_min_signatures'",
        "SELECT stepgate.append_event('-', NULL, 'signer-add', 'added', 'u', 'h', NULL, 'r', '{}'::jsonb)",
    ] {
        let e = runner.batch_execute(sql).unwrap_err();
        assert_eq!(e.code(), Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {e}");
    }
    // `stepgate signers add` as the runner is refused with a clear reason.
    let ro = Options {
        pack: ".".into(),
        db: Some(runner_ci.clone()),
    };
    let err = engine::signers_cmd::add(
        &ro,
        "agent@x",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHUh0RP1sZQy5nw/TbW59sRDmnV4KmhxN8H3fTyODBwb",
        &["*".into()],
    )
    .unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(engine::ledger_cmd::verify(&o).unwrap().problems.is_empty());
}

#[test]
fn second_apply_while_one_runs_is_refused() {
    let f = setup("apply_twice");
    assert!(engine::rehearse::run(&f.o(), "1", false).unwrap().passed);
    f.approve("1", Action::Apply);
    let _held =
        engine::session::Session::open(&f.o(), "apply", engine::session::Lock::Pack).unwrap();
    let out = f.stepgate(&["apply", "--step", "1"], &[]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!table_exists(&f.ci, "governance_ruleset"));
}

#[test]
fn rollback_refuses_parent_then_cascades() {
    let f = setup("rollback_cascade");
    let o = f.o();
    for s in ["1", "2"] {
        assert!(
            engine::rehearse::run(&o, s, false).unwrap().passed,
            "rehearse {s}"
        );
        f.approve(s, Action::Apply);
        assert!(
            engine::apply::run(&o, s, &Default::default())
                .unwrap()
                .committed
        );
    }
    let before = engine::status::run(&o).unwrap();
    assert_eq!(before.steps[1].state, "committed");
    // Step 1's rollback cannot be rehearsed alone while step 2's table references it…
    let alone = engine::rehearse::run(&o, "1", true).unwrap();
    assert!(!alone.passed);
    assert!(
        alone
            .failure
            .as_ref()
            .is_some_and(|f| f.sqlstate == "2BP01"),
        "{:?}",
        alone.failure
    );
    // …but with --cascade it is rehearsed after its dependents, in one rolled-back transaction.
    assert!(engine::rehearse::run_cascade(&o, "1")
        .unwrap()
        .iter()
        .all(|r| r.passed));
    for s in ["1", "2"] {
        f.approve(s, Action::Rollback);
    }
    let err = engine::rollback::run(&o, "1", false, true).unwrap_err();
    assert!(
        err.to_string().contains("committed step(s) 2 require it"),
        "{err}"
    );
    let r = engine::rollback::run(&o, "1", true, true).unwrap();
    assert_eq!(
        r.iter().map(|x| x.step.as_str()).collect::<Vec<_>>(),
        vec!["2", "1"]
    );
    assert!(r.iter().all(|x| x.committed));
    assert!(!table_exists(&f.ci, "governance_ruleset"));
    assert!(!table_exists(&f.ci, "governance_candidate_state"));
    // Rolling back again does nothing (exit 0 for a script).
    let again = engine::rollback::run(&o, "1", false, true).unwrap_err();
    assert!(
        matches!(&again, Error::NothingToDo(m) if m.contains("step 1 is already rolled back")),
        "{again:?}"
    );
    assert_eq!(again.exit_code(), 0);
    // Drift is clean: the live catalog equals the fingerprint recorded after the rollback.
    assert!(!engine::verify::drift(&o).unwrap().drifted);
    // A manual ALTER outside stepgate is drift, named.
    client(&f.ci)
        .batch_execute("ALTER TABLE public.governance_relations ADD COLUMN drift_probe text")
        .unwrap();
    let d = engine::verify::drift(&o).unwrap();
    assert!(d.drifted);
    assert!(
        d.diff
            .added
            .iter()
            .any(|x| x.to_string() == "column public.governance_relations.drift_probe"),
        "{:?}",
        d.diff
    );
}

#[test]
fn a_rehearsal_counts_only_for_the_manifest_it_ran_under() {
    let f = setup("apply_rehearsal_manifest");
    let o = f.o();
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    // An invariant changed after the rehearsal: the plan changed, the rehearsal is stale.
    let mp = f.dir.path().join("stepgate.toml");
    let m = std::fs::read_to_string(&mp).unwrap();
    std::fs::write(
        &mp,
        m.replace(
            "sql = \"SELECT count(*) FROM governance_relations\"",
            "sql = \"SELECT count(*) FROM public.governance_relations\"",
        ),
    )
    .unwrap();
    f.approve("1", Action::Apply);
    let msg = engine::apply::run(&o, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("under the current manifest"), "{msg}");
    assert!(!table_exists(&f.ci, "governance_ruleset"));
    // Rehearsed again under this manifest, it commits.
    assert!(engine::rehearse::run(&o, "1", false).unwrap().passed);
    assert!(
        engine::apply::run(&o, "1", &Default::default())
            .unwrap()
            .committed
    );
}

#[test]
fn approve_refuses_what_the_gate_would_not_count() {
    let f = setup("approve_checks");
    let loaded = engine::pack::load(f.dir.path()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let req = |principal: &'static str| engine::approve::Request {
        step: "1",
        gate: "owner",
        principal,
        action: Action::Apply,
        expires: std::time::Duration::from_secs(60),
    };
    // A principal the gate does not name.
    let e = engine::approve::approve(&loaded, &req("mallory@example.org"), &f.key, None, now)
        .unwrap_err();
    assert!(
        e.to_string().contains("not a signer of gate `owner`"),
        "{e}"
    );
    // The right principal with a key the pack's allowed_signers does not list for them.
    let keys = tempfile::tempdir().unwrap();
    let (other, _) = keypair(keys.path(), "other");
    let e = engine::approve::approve(&loaded, &req(OWNER), &other, None, now).unwrap_err();
    assert!(e.to_string().contains("not listed for"), "{e}");
    assert!(!f.dir.path().join("approvals").exists());
    // The registered key signs.
    engine::approve::approve(&loaded, &req(OWNER), &f.key, None, now).unwrap();
}
