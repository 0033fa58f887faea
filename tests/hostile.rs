//! The hostile preparer: a plain non-superuser runner role that can edit every file of
//! the pack, holds the runner's password, talks to the database with its own client, sets
//! its own role's settings, and has no approver key. The ledger and its guard are
//! installed by another role (the cluster's superuser). Every case is proven from the
//! database: the object is absent, counts are unchanged, and no fact was recorded.

mod common;
use common::*;
use postgres::Client;
use std::sync::Once;
use stepgate::core::approval::{self, Action, Expected, Statement};
use stepgate::engine::{self, Error, Options};

const RUNNER: &str = "sg_hostile";
const CREATE: &str = "CREATE TABLE public.hostile_t (id int PRIMARY KEY)";

static ROLE: Once = Once::new();

struct Hostile {
    db: String,
    admin_ci: String,
    runner_ci: String,
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
    _keys: tempfile::TempDir,
}

impl Hostile {
    /// stepgate as the runner.
    fn o(&self) -> Options {
        Options {
            pack: self.dir.path().to_path_buf(),
            db: Some(self.runner_ci.clone()),
        }
    }
    fn admin(&self) -> Client {
        client(&self.admin_ci)
    }
    /// The runner's own client, with the search_path a plan runs under (the guard refuses
    /// a permitted statement under any other).
    fn runner(&self) -> Client {
        let mut c = client(&self.runner_ci);
        c.batch_execute(&format!(
            "SET search_path = {}",
            stepgate::core::plan::SEARCH_PATH
        ))
        .expect("search_path");
        c
    }
    fn approve(&self, step: &str) {
        approve(self.dir.path(), step, "owner", Action::Apply, &self.key);
    }
    fn plan(&self, step: &str) -> stepgate::core::plan::Plan {
        let loaded = engine::pack::load(self.dir.path()).expect("load pack");
        engine::plan::for_action(&loaded, step, Action::Apply, None).expect("plan")
    }
    /// The approvals on disk for step `step`, as the runner can read them.
    fn offered(&self, step: &str) -> (String, Vec<String>, Vec<String>) {
        let plan = self.plan(step);
        let o = engine::gates::offered(self.dir.path(), &plan);
        (plan.canonical(), o.statements, o.signatures)
    }
    fn exists(&self, table: &str) -> bool {
        count(
            &self.admin_ci,
            &format!("SELECT count(*) FROM pg_class WHERE oid = to_regclass('{table}')"),
        ) == 1
    }
    fn facts(&self, verb: &str) -> i64 {
        count(
            &self.admin_ci,
            &format!("SELECT count(*) FROM stepgate.events WHERE fact AND verb = '{verb}'"),
        )
    }
}

/// The permit alone.
fn permit(
    c: &mut impl postgres::GenericClient,
    o: &(String, Vec<String>, Vec<String>),
) -> Result<i64, postgres::Error> {
    c.query_one(
        "SELECT stepgate.authorize($1, $2, $3, 'run', 'mallory', 'laptop')",
        &[&o.0, &o.1, &o.2],
    )
    .map(|r| r.get(0))
}

/// The permit, then the pre-image a commit must record where the server keeps drift's
/// baseline (an empty one: these steps create what they change).
fn authorize(
    c: &mut impl postgres::GenericClient,
    o: &(String, Vec<String>, Vec<String>),
) -> Result<i64, postgres::Error> {
    let id = permit(c, o)?;
    c.batch_execute("SELECT stepgate.track_arm('{}'::oid[])")?;
    Ok(id)
}

fn refused(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
}

/// A world copy, the ledger and guard installed by the superuser with `sg_hostile` as the
/// runner, OWNER registered, and a pack whose step 1 creates `public.hostile_t` and whose
/// step 2 creates `public.hostile_u`.
fn setup(prefix: &str, extra_step: &str) -> Hostile {
    let (db, admin_ci) = world_db(prefix);
    let mut admin = client(&admin_ci);
    ROLE.call_once(|| {
        admin
            .batch_execute(&format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{RUNNER}') THEN CREATE ROLE {RUNNER} LOGIN; END IF; END $$"
            ))
            .expect("runner role");
    });
    admin
        .batch_execute(&format!(
            "GRANT USAGE, CREATE ON SCHEMA public TO {RUNNER}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {RUNNER};"
        ))
        .expect("grants");
    let admin_o = Options {
        pack: ".".into(),
        db: Some(admin_ci.clone()),
    };
    engine::ledger_cmd::install(
        &admin_o,
        &stepgate::db::ledger::InstallOptions {
            environment: Some("test".into()),
            runner_role: Some(RUNNER.into()),
            floor_min_signatures: 1,
            guard: true,
        },
    )
    .expect("install");
    let (keys, key, _) = register_owner(&admin_ci, &["owner", "resume"]);
    let steps = format!(
        r#"[gate.owner]
kind = "signature"
signers = ["{OWNER}"]
[gate.resume]
kind = "signature"
signers = ["{OWNER}"]
[[step]]
id = "1"
name = "a table"
file = "01.sql"
rollback = "rollback/01.sql"
gates = ["owner"]
[step.effects]
create = ["table public.hostile_t"]
rows = {{ "public.hostile_t" = {{ insert = 1 }} }}
[[step]]
id = "2"
name = "another table"
file = "02.sql"
rollback = "rollback/02.sql"
gates = ["owner"]
{extra_step}
[step.effects]
create = ["table public.hostile_u"]
"#
    );
    let dir = write_pack(&[
        ("stepgate.toml", &manifest(&db, &steps)),
        (
            "01.sql",
            &step_file(
                "SELECT 1;",
                &format!("{CREATE};\nINSERT INTO public.hostile_t VALUES (1);"),
            ),
        ),
        (
            "02.sql",
            &step_file("SELECT 1;", "CREATE TABLE public.hostile_u (id int);"),
        ),
        (
            "rollback/01.sql",
            &rollback_file("DROP TABLE public.hostile_t;"),
        ),
        (
            "rollback/02.sql",
            &rollback_file("DROP TABLE public.hostile_u;"),
        ),
    ]);
    admin
        .execute("SELECT stepgate.pack_register('test-pack')", &[])
        .expect("register pack");
    Hostile {
        db,
        runner_ci: admin_ci.replace("user=postgres", &format!("user={RUNNER}")),
        admin_ci,
        dir,
        key,
        _keys: keys,
    }
}

// ---- the plain bypass -------------------------------------------------------------

#[test]
fn psql_ddl_by_the_runner_is_refused_naming_stepgate_and_the_permit() {
    let h = setup("hostile_ddl", "");
    let mut r = h.runner();
    for sql in [
        CREATE,
        "CREATE VIEW public.hostile_v AS SELECT 1 AS one",
        "CREATE FUNCTION public.hostile_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA hostile_s",
    ] {
        let e = r.batch_execute(sql).expect_err(sql);
        assert!(refused(&e), "{sql}: {e}");
        let msg = stepgate::db::describe_pg_error(&e);
        assert!(msg.contains("stepgate") && msg.contains("permit"), "{msg}");
    }
    assert!(!h.exists("public.hostile_t") && !h.exists("public.hostile_v"));
    // The same DDL inside `apply` of an approved step goes through.
    assert!(engine::rehearse::run(&h.o(), "1", false).unwrap().passed);
    h.approve("1");
    let r = engine::apply::run(&h.o(), "1", &Default::default()).unwrap();
    assert!(r.committed, "{r:#?}");
    assert!(h.exists("public.hostile_t"));
    assert_eq!(h.facts("apply"), 1);
    let role: String = h
        .admin()
        .query_one(
            "SELECT db_role FROM stepgate.events WHERE fact AND verb = 'apply'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(role, RUNNER);
}

#[test]
fn writes_to_a_guarded_table_are_refused_and_its_trigger_cannot_be_removed() {
    let h = setup("hostile_write", "");
    let mut a = h.admin();
    a.batch_execute(&format!(
        "CREATE TABLE public.hostile_guarded (id int); ALTER TABLE public.hostile_guarded OWNER TO {RUNNER};"
    ))
    .unwrap();
    let admin_o = Options {
        pack: ".".into(),
        db: Some(h.admin_ci.clone()),
    };
    engine::guard_cmd::change(
        &admin_o,
        engine::guard_cmd::Change::Protect {
            tables: &["public.hostile_guarded".to_string()],
        },
    )
    .unwrap();
    let mut r = h.runner();
    for sql in [
        "INSERT INTO public.hostile_guarded VALUES (1)",
        "DELETE FROM public.hostile_guarded",
        "TRUNCATE public.hostile_guarded",
        "ALTER TABLE public.hostile_guarded DISABLE TRIGGER stepgate_guard",
        "DROP TRIGGER stepgate_guard ON public.hostile_guarded",
        "DROP TABLE public.hostile_guarded",
        // The DDL tracker's record and its event triggers are the installer's.
        "DELETE FROM stepgate.ddl_tracked",
        "INSERT INTO stepgate.ddl_tracked (xid) VALUES (pg_catalog.pg_current_xact_id())",
        "ALTER EVENT TRIGGER stepgate_track DISABLE",
        "DROP EVENT TRIGGER stepgate_track_drop",
    ] {
        let e = r.batch_execute(sql).expect_err(sql);
        assert!(refused(&e), "{sql}: {e}");
    }
    a.batch_execute("INSERT INTO public.hostile_guarded VALUES (7)")
        .unwrap();
    assert_eq!(
        count(&h.admin_ci, "SELECT count(*) FROM public.hostile_guarded"),
        1
    );
    let st = engine::guard_cmd::status(&admin_o).unwrap();
    assert!(st.installed && st.enabled);
    assert!(st.tables.iter().any(|t| t.contains("hostile_guarded")));
    assert!(st
        .roles
        .iter()
        .any(|x| x.role == RUNNER && x.warnings.is_empty()));
}

// ---- permits ------------------------------------------------------------------------

#[test]
fn without_valid_approvals_the_database_issues_no_permit() {
    let h = setup("hostile_noperm", "");
    let mut r = h.runner();
    // No approvals at all.
    let none = (h.plan("1").canonical(), vec![], vec![]);
    assert!(refused(&authorize(&mut r, &none).unwrap_err()));
    // An approval signed by a key the registry does not know (the attacker's own).
    let keys = tempfile::tempdir().unwrap();
    let (mallory, _) = keypair(keys.path(), "mallory");
    approve(h.dir.path(), "1", "owner", Action::Apply, &mallory);
    let forged = h.offered("1");
    assert_eq!(forged.1.len(), 1);
    assert!(refused(&authorize(&mut r, &forged).unwrap_err()));
    // A real approval with one byte of its signature changed.
    std::fs::remove_dir_all(h.dir.path().join("approvals")).unwrap();
    h.approve("1");
    let mut o = h.offered("1");
    o.2[0] = o.2[0].replacen('A', "B", 1);
    assert!(refused(&authorize(&mut r, &o).unwrap_err()));
    // A real approval offered for a plan with one statement changed.
    let o = h.offered("1");
    let tampered = (
        o.0.replace("id int PRIMARY KEY", "id bigint PRIMARY KEY"),
        o.1.clone(),
        o.2.clone(),
    );
    assert!(refused(&authorize(&mut r, &tampered).unwrap_err()));
    assert!(!h.exists("public.hostile_t"));
    assert_eq!(h.facts("apply"), 0);
}

#[test]
fn a_permit_admits_exactly_the_signed_statements_in_order_and_dies_with_its_transaction() {
    let h = setup("hostile_permit", "");
    h.approve("1");
    let o = h.offered("1");
    let plan = h.plan("1");
    let mut r = h.runner();
    let mut tx = r.transaction().unwrap();
    authorize(&mut tx, &o).unwrap();
    // Not in the plan, even with the permit live.
    let e = tx
        .batch_execute("SAVEPOINT s; CREATE TABLE public.hostile_evil ()")
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    // The signed text with a comment added is another statement.
    let e = tx
        .execute(format!("{CREATE} -- same?").as_str(), &[])
        .unwrap_err();
    assert!(refused(&e), "{e}");
    tx.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    // Another session, while this permit is live, is refused the same statement.
    let mut other = h.runner();
    assert!(refused(&other.execute(CREATE, &[]).unwrap_err()));
    // The signed statement itself runs.
    tx.execute(CREATE, &[]).unwrap();
    tx.rollback().unwrap();
    // After its transaction, the permit admits nothing.
    let mut r = h.runner();
    assert!(refused(&r.execute(CREATE, &[]).unwrap_err()));
    let mut tx = r.transaction().unwrap();
    assert!(refused(&tx.execute(CREATE, &[]).unwrap_err()));
    tx.rollback().unwrap();
    assert!(!h.exists("public.hostile_t") && !h.exists("public.hostile_evil"));
    assert_eq!(h.facts("apply"), 0);
    assert!(plan.statements.iter().any(|s| s == CREATE));
}

#[test]
fn a_permit_commits_only_at_commit_and_only_after_the_signed_statements_ran() {
    let h = setup("hostile_commit", "");
    h.approve("1");
    let o = h.offered("1");
    let mut r = h.runner();
    // COMMIT straight after the permit: nothing ran, nothing is recorded.
    let mut tx = r.transaction().unwrap();
    authorize(&mut tx, &o).unwrap();
    let e = tx.commit().unwrap_err();
    assert!(refused(&e), "{e}");
    // SET CONSTRAINTS cannot fire the commit-time check early.
    let mut tx = r.transaction().unwrap();
    authorize(&mut tx, &o).unwrap();
    assert!(refused(
        &tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
            .unwrap_err()
    ));
    drop(tx);
    // A rehearsal permit never commits, whatever ran under it.
    let mut tx = r.transaction().unwrap();
    tx.execute("SELECT stepgate.rehearsal_permit($1)", &[&o.0])
        .unwrap();
    tx.execute(CREATE, &[]).unwrap();
    assert!(refused(&tx.commit().unwrap_err()));
    // REPEATABLE READ cannot get a permit (its snapshot would hide a commit).
    r.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    assert!(refused(&authorize(&mut r, &o).unwrap_err()));
    r.batch_execute("ROLLBACK").unwrap();
    assert!(!h.exists("public.hostile_t"));
    assert_eq!(h.facts("apply"), 0);
}

#[test]
fn an_expired_approval_is_refused_by_the_server_whatever_the_clients_clock() {
    let h = setup("hostile_expired", "");
    let plan = h.plan("1");
    let sha = plan.sha256();
    let loaded = engine::pack::load(h.dir.path()).unwrap();
    let step_sha = loaded.sha256("01.sql").map(str::to_string);
    let key = approval::load_private_key(&std::fs::read_to_string(&h.key).unwrap(), None).unwrap();
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let mut r = h.runner();
    for (issued, expires) in [
        (
            now - time::Duration::hours(2),
            now - time::Duration::hours(1),
        ),
        (
            now + time::Duration::hours(1),
            now + time::Duration::hours(2),
        ),
    ] {
        let expected = Expected {
            pack: "test-pack",
            step: "1",
            action: Action::Apply,
            step_sha256: step_sha.as_deref(),
            rollback_sha256: None,
            plan_sha256: &sha,
            manifest_sha256: loaded.manifest_sha256(),
            database: &h.db,
            environment: Some("test"),
        };
        let text = Statement::for_expected(&expected, "owner", OWNER, issued, expires).render();
        let sig = approval::sign(&text, &key).unwrap();
        let o = (plan.canonical(), vec![text], vec![sig]);
        assert!(refused(&authorize(&mut r, &o).unwrap_err()));
    }
    assert!(!h.exists("public.hostile_t"));
}

#[test]
fn a_halt_recorded_during_an_apply_stops_its_commit() {
    let h = setup("hostile_halt", "");
    h.approve("1");
    let o = h.offered("1");
    let plan = h.plan("1");
    let mut r = h.runner();
    let mut tx = r.transaction().unwrap();
    authorize(&mut tx, &o).unwrap();
    for s in &plan.statements {
        tx.execute(s.as_str(), &[]).unwrap();
    }
    // Anyone may halt; this one lands while the step's transaction is open.
    let mut other = h.runner();
    other
        .execute(
            "SELECT stepgate.halt('test-pack', NULL, 'stop', 'ops', 'h', 'r', '{}')",
            &[],
        )
        .unwrap();
    let e = tx.commit().unwrap_err();
    assert!(refused(&e), "{e:?}");
    assert!(stepgate::db::describe_pg_error(&e).contains("halted"));
    assert!(!h.exists("public.hostile_t"));
    assert_eq!(h.facts("apply"), 0);
    // And a permit is refused while the halt stands.
    assert!(refused(&authorize(&mut r, &o).unwrap_err()));
}

#[test]
fn a_step_is_committed_once_even_when_two_sessions_race() {
    let h = setup("hostile_twice", "");
    h.approve("1");
    let o = h.offered("1");
    let plan = h.plan("1");
    let mut a = h.runner();
    let mut tx = a.transaction().unwrap();
    authorize(&mut tx, &o).unwrap();
    let ci = h.runner_ci.clone();
    let o2 = o.clone();
    // The second session waits for the first, then sees its fact.
    let second = std::thread::spawn(move || {
        let mut b = client(&ci);
        b.batch_execute(&format!(
            "SET search_path = {}",
            stepgate::core::plan::SEARCH_PATH
        ))
        .expect("search_path");
        let mut tx = b.transaction().unwrap();
        let r = authorize(&mut tx, &o2);
        r.map_err(|e| stepgate::db::describe_pg_error(&e))
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    for s in &plan.statements {
        tx.execute(s.as_str(), &[]).unwrap();
    }
    tx.commit().unwrap();
    let msg = second.join().unwrap().unwrap_err();
    assert!(msg.contains("already committed"), "{msg}");
    assert_eq!(h.facts("apply"), 1);
    assert_eq!(
        count(&h.admin_ci, "SELECT count(*) FROM public.hostile_t"),
        1
    );
}

/// Drift's baseline is moved at each commit by the server, from a pre-image only it can
/// record: the runner can neither read its seed or tallies, nor move it, nor record a
/// second pre-image; and a change made by hand before a commit stays drift after it.
#[test]
fn drift_baseline_is_moved_by_the_server_and_keeps_a_change_made_by_hand() {
    let h = setup("hostile_baseline", "");
    let mut r = h.runner();
    for sql in [
        "SELECT stepgate.commit_fingerprint()",
        "SELECT stepgate.catalog_rebaseline()",
        "SELECT * FROM stepgate.catalog_delta()",
        "SELECT * FROM stepgate.catalog_scan()",
        "SELECT * FROM stepgate.catalog_rows('{}', 0)",
        "SELECT seed FROM stepgate.catalog_seed",
        "SELECT * FROM stepgate.catalog_tallies",
        "UPDATE stepgate.catalog_tallies SET n = 0",
        "INSERT INTO stepgate.catalog_preimage (xid) VALUES (pg_catalog.pg_current_xact_id())",
        "DELETE FROM stepgate.catalog_preimage",
    ] {
        let e = r.batch_execute(sql).expect_err(sql);
        assert!(refused(&e), "{sql}: {e}");
    }
    {
        let mut tx = r.transaction().unwrap();
        tx.batch_execute("SELECT stepgate.track_arm('{}'::oid[])")
            .unwrap();
        let e = tx
            .batch_execute("SELECT stepgate.track_arm('{}'::oid[])")
            .unwrap_err();
        assert!(refused(&e), "a second pre-image: {e}");
    }
    let baseline_of_last_apply = || -> String {
        h.admin()
            .query_one(
                "SELECT details->>'catalog_baseline' FROM stepgate.events
                  WHERE fact AND verb = 'apply' ORDER BY id DESC LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0)
    };
    h.approve("1");
    assert!(engine::rehearse::run(&h.o(), "1", false).unwrap().passed);
    engine::apply::run(&h.o(), "1", &Default::default()).unwrap();
    assert_eq!(baseline_of_last_apply(), "chained");
    assert!(!engine::verify::drift(&h.o()).unwrap().drifted);
    // By hand, outside stepgate, before the next commit.
    h.admin()
        .batch_execute("ALTER TABLE public.hostile_t ADD COLUMN by_hand int")
        .unwrap();
    assert!(engine::verify::drift(&h.o()).unwrap().drifted);
    h.approve("2");
    assert!(engine::rehearse::run(&h.o(), "2", false).unwrap().passed);
    engine::apply::run(&h.o(), "2", &Default::default()).unwrap();
    assert_eq!(baseline_of_last_apply(), "chained");
    let d = engine::verify::drift(&h.o()).unwrap();
    assert!(
        d.drifted,
        "the column added by hand before step 2 was folded into its baseline: {d:?}"
    );
    // Accepting it is the ledger admin's, recorded as a fact; the runner is refused.
    let e = engine::verify::accept_drift(&h.o()).unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    assert!(engine::verify::drift(&h.o()).unwrap().drifted);
    let admin_o = Options {
        pack: h.dir.path().to_path_buf(),
        db: Some(h.admin_ci.clone()),
    };
    let d = engine::verify::accept_drift(&admin_o).unwrap();
    assert!(!d.drifted, "{d:?}");
    assert_eq!(d.baseline.as_deref(), Some("accepted"));
    assert_eq!(h.facts("drift"), 1);
    assert!(!engine::verify::drift(&h.o()).unwrap().drifted);
}

/// Where the server keeps drift's baseline, a step's transaction must record its pre-image
/// before COMMIT: a runner that skips it (its own client) would otherwise get the baseline
/// recomputed over whatever it changed outside stepgate before.
#[test]
fn a_commit_without_a_preimage_is_refused_where_the_baseline_is_kept() {
    let h = setup("hostile_no_preimage", "");
    h.approve("1");
    let o = h.offered("1");
    let plan = h.plan("1");
    let mut r = h.runner();
    let mut tx = r.transaction().unwrap();
    permit(&mut tx, &o).unwrap();
    for s in &plan.statements {
        tx.execute(s.as_str(), &[]).unwrap();
    }
    let e = tx.commit().unwrap_err();
    assert!(refused(&e), "{e}");
    assert!(
        stepgate::db::describe_pg_error(&e).contains("pre-image"),
        "{e}"
    );
    assert!(!h.exists("public.hostile_t"));
    assert_eq!(h.facts("apply"), 0);
}

// ---- facts and claims ---------------------------------------------------------------

#[test]
fn claims_appended_by_the_runner_are_never_taken_as_facts() {
    let h = setup("hostile_claims", "");
    let mut r = h.runner();
    for (verb, result) in [
        ("apply", "committed"),
        ("rehearse", "passed"),
        ("backup", "verified"),
        ("verify", "passed"),
    ] {
        r.execute(
            "SELECT stepgate.append_event('test-pack', '1', $1, $2, 'u', 'h', NULL, 'forged', '{\"fingerprint\": \"x\"}')",
            &[&verb, &result],
        )
        .unwrap();
    }
    let st = engine::status::run(&h.o()).unwrap();
    let s1 = st.steps.iter().find(|s| s.id == "1").unwrap();
    assert_eq!(s1.state, "not applied");
    // The real apply still needs its approval and is not blocked by the forged row.
    let e = engine::apply::run(&h.o(), "1", &Default::default()).unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    assert!(!h.exists("public.hostile_t"));
    // Drift has no baseline from a claim.
    let d = engine::verify::drift(&h.o()).unwrap();
    assert!(d.reference_event.is_none(), "{d:?}");
    // A forged resume lifts no halt.
    r.execute(
        "SELECT stepgate.halt('test-pack', NULL, 'stop', 'ops', 'h', 'r', '{}')",
        &[],
    )
    .unwrap();
    let halt: i64 = h
        .admin()
        .query_one(
            "SELECT max(id) FROM stepgate.events WHERE fact AND verb = 'halt'",
            &[],
        )
        .unwrap()
        .get(0);
    r.execute(
        "SELECT stepgate.append_event('test-pack', NULL, 'resume', 'resumed', 'u', 'h', NULL, 'forged', $1::text::jsonb)",
        &[&format!("{{\"halt_event\": {halt}}}")],
    )
    .unwrap();
    assert!(engine::status::run(&h.o()).unwrap().halted.is_some());
    // Facts cannot be written by the runner directly.
    for sql in [
        "SELECT stepgate.append_fact('test-pack', '1', 'apply', 'committed', 'u', 'h', NULL, 'r', '{}')",
        "SELECT stepgate.append_row('test-pack', '1', 'apply', 'committed', 'u', 'h', NULL, 'r', '{}', true)",
        "UPDATE stepgate.events SET fact = true",
        "UPDATE stepgate.pack_state SET halted = false",
        "INSERT INTO stepgate.permits (kind, txid, backend_pid, backend_start, pack, step, action, plan_sha256, statements) VALUES ('commit', txid_current(), pg_backend_pid(), now(), 'test-pack', '1', 'apply', 'x', '{}')",
    ] {
        assert!(refused(&r.batch_execute(sql).unwrap_err()), "{sql}");
    }
    assert_eq!(h.facts("apply"), 0);
}

// ---- escapes from stepgate's own sessions ----------------------------------------------

#[test]
fn user_sql_that_would_end_stepgates_transaction_is_refused_before_anything_runs() {
    for (what, extra, manifest_extra) in [
        (
            "negative",
            "[[step.negative]]\nname = \"escape\"\nsql = \"COMMIT\"\nsqlstate = \"23505\"\n",
            "",
        ),
        (
            "negative chain",
            "[[step.negative]]\nname = \"escape\"\nsql = \"SELECT 1; COMMIT; CREATE TABLE public.escaped ()\"\nsqlstate = \"23505\"\n",
            "",
        ),
        (
            "measure",
            "[[step.measure]]\nname = \"escape\"\nsql = \"SELECT 1; COMMIT; CREATE TABLE public.escaped ()\"\n",
            "",
        ),
        (
            "verify file",
            "",
            "verify = \"verify.sql\"\n",
        ),
    ] {
        let h = setup(&format!("hostile_escape_{}", what.replace(' ', "_")), extra);
        if !manifest_extra.is_empty() {
            let p = h.dir.path().join("stepgate.toml");
            let m = std::fs::read_to_string(&p)
                .unwrap()
                .replacen("[pack.target]", &format!("{manifest_extra}[pack.target]"), 1);
            std::fs::write(&p, m).unwrap();
            std::fs::write(
                h.dir.path().join("verify.sql"),
                "SELECT 1;\nCOMMIT;\nCREATE TABLE public.escaped ();\n",
            )
            .unwrap();
        }
        // Refused as bad input (exit 2) before any statement runs: rehearse, apply, and
        // even an approver's `approve`, which derives the same plan. (A measure is already
        // refused when the manifest loads.)
        let bad = |e: &Error| matches!(e, Error::Source(_) | Error::BadInput(_));
        if let Err(e) = engine::pack::load(h.dir.path()) {
            assert!(bad(&e), "{what}: {e}");
            assert!(!h.exists("public.escaped"), "{what}");
            continue;
        }
        let r = engine::rehearse::run(&h.o(), "2", false).err();
        assert!(r.as_ref().is_some_and(bad), "{what}: {r:?}");
        let a = engine::apply::run(&h.o(), "2", &Default::default()).err();
        assert!(a.as_ref().is_some_and(bad), "{what}: {a:?}");
        let loaded = engine::pack::load(h.dir.path()).unwrap();
        let req = engine::approve::Request {
            step: "2",
            gate: "owner",
            principal: OWNER,
            action: Action::Apply,
            expires: std::time::Duration::from_secs(60),
        };
        let signed = engine::approve::approve(&loaded, &req, &h.key, None, time::OffsetDateTime::now_utc());
        assert!(signed.as_ref().is_err_and(bad), "{what}");
        assert!(!h.exists("public.escaped"), "{what}");
        assert!(!h.exists("public.hostile_u"), "{what}");
        assert_eq!(h.facts("apply"), 0, "{what}");
    }
}

// ---- small holes ------------------------------------------------------------------------

#[test]
fn turning_a_step_into_a_hold_voids_its_approvals() {
    let h = setup("hostile_hold", "");
    h.approve("2");
    let p = h.dir.path().join("stepgate.toml");
    let m = std::fs::read_to_string(&p)
        .unwrap()
        .replace(
            "file = \"02.sql\"\nrollback = \"rollback/02.sql\"\n",
            "hold = true\n",
        )
        .replace("create = [\"table public.hostile_u\"]\n", "");
    std::fs::write(&p, m).unwrap();
    let e = engine::apply::run(&h.o(), "2", &Default::default()).unwrap_err();
    assert!(matches!(e, Error::Refused(_)), "{e}");
    assert_eq!(h.facts("hold"), 0);
}

#[test]
fn a_gate_name_that_leaves_the_folder_is_bad_input() {
    let h = setup("hostile_gate_name", "");
    let p = h.dir.path().join("stepgate.toml");
    let m = std::fs::read_to_string(&p)
        .unwrap()
        .replace("[gate.owner]", "[gate.\"../../x\"]")
        .replace("gates = [\"owner\"]", "gates = [\"../../x\"]");
    std::fs::write(&p, m).unwrap();
    let e = engine::pack::load(h.dir.path()).err().expect("refused");
    assert!(e.to_string().contains("must match"), "{e}");
}

#[test]
fn the_runners_search_path_and_shadow_functions_do_not_steer_stepgate() {
    let h = setup("hostile_search_path", "");
    // Planted before the guard existed (the admin plays the past here).
    let mut a = h.admin();
    a.batch_execute(&format!(
        "CREATE FUNCTION public.pg_try_advisory_lock(integer, integer) RETURNS boolean LANGUAGE sql AS 'SELECT true';
         ALTER ROLE {RUNNER} IN DATABASE {} SET search_path = public, pg_catalog;",
        h.db
    ))
    .unwrap();
    let _held =
        engine::session::Session::open(&h.o(), "apply", engine::session::Lock::Pack).unwrap();
    let second = engine::session::Session::open(&h.o(), "apply", engine::session::Lock::Pack);
    assert!(
        matches!(second, Err(Error::Busy(_))),
        "the pack lock was bypassed"
    );
}

#[test]
fn a_sql_gate_the_runner_could_satisfy_itself_refuses() {
    let h = setup("hostile_sql_gate", "");
    let mut a = h.admin();
    a.batch_execute(&format!(
        "CREATE TABLE public.hostile_approvals (step text); GRANT SELECT, INSERT ON public.hostile_approvals TO {RUNNER};"
    ))
    .unwrap();
    let p = h.dir.path().join("stepgate.toml");
    let m = std::fs::read_to_string(&p)
        .unwrap()
        .replacen(
            "[gate.resume]",
            "[gate.council]\nkind = \"sql\"\nsql = \"SELECT 1 FROM public.hostile_approvals WHERE step = $1\"\n[gate.resume]",
            1,
        )
        .replace(
            "rollback = \"rollback/02.sql\"\ngates = [\"owner\"]",
            "rollback = \"rollback/02.sql\"\ngates = [\"owner\", \"council\"]",
        );
    std::fs::write(&p, m).unwrap();
    // The runner writes the row the gate looks for.
    h.runner()
        .execute("INSERT INTO public.hostile_approvals VALUES ('2')", &[])
        .unwrap();
    let mut s =
        engine::session::Session::open(&h.o(), "gates", engine::session::Lock::None).unwrap();
    let r = engine::gates::evaluate(&mut s, "2", Action::Apply, time::OffsetDateTime::now_utc())
        .unwrap();
    let g = &r.sql_gates[0];
    assert_eq!(g.rows, 1);
    assert!(!g.satisfied);
    assert_eq!(
        g.writable_by_runner,
        vec!["public.hostile_approvals".to_string()]
    );
    assert!(r
        .refusals()
        .iter()
        .any(|x| x.contains("could satisfy the gate itself")));
    // Once the DBA revokes the write, the same row satisfies it.
    a.batch_execute(&format!(
        "REVOKE INSERT ON public.hostile_approvals FROM {RUNNER}"
    ))
    .unwrap();
    let r = engine::gates::evaluate(&mut s, "2", Action::Apply, time::OffsetDateTime::now_utc())
        .unwrap();
    assert!(r.sql_gates[0].satisfied, "{:?}", r.sql_gates[0]);
}

#[test]
fn a_rehearsal_that_leaves_a_session_lock_behind_fails() {
    let h = setup("hostile_session_lock", "");
    std::fs::write(
        h.dir.path().join("02.sql"),
        step_file(
            "SELECT 1;",
            "SELECT pg_advisory_lock(4242);\nCREATE TABLE public.hostile_u (id int);",
        ),
    )
    .unwrap();
    match engine::rehearse::run(&h.o(), "2", false) {
        // Lint may already refuse the call (a cross-session side effect).
        Err(e) => assert!(matches!(e, Error::BadInput(_)), "{e}"),
        Ok(r) => {
            assert!(!r.passed);
            assert!(
                r.reversal_problems
                    .iter()
                    .any(|p| p.contains("advisory lock")),
                "{:?}",
                r.reversal_problems
            );
        }
    }
    assert_eq!(
        count(
            &h.admin_ci,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
        ),
        0
    );
}
