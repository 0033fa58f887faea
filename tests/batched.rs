//! Batched steps against a real server, with the hostile preparer of tests/hostile.rs: a
//! plain non-superuser runner (`sg_batch`) that reads the approvals on disk and talks to
//! the database with its own client; the ledger and guard installed by the superuser; the
//! backfilled table under the write guard. Every refusal is proven from the database: the
//! rows unchanged, the server's batch count unchanged, no fact recorded.

mod common;
use common::*;
use postgres::Client;
use std::process::Command;
use std::sync::Once;
use stepgate::core::approval::Action;
use stepgate::engine::{self, Options};

const RUNNER: &str = "sg_batch";
const ROWS: i64 = 3000;
const STMT: &str = "UPDATE public.bf SET w = v * 2 WHERE id IN (SELECT id FROM public.bf WHERE w IS NULL ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED)";
const UNDO: &str = "UPDATE public.bf SET w = NULL WHERE id IN (SELECT id FROM public.bf WHERE w IS NOT NULL ORDER BY id LIMIT 700)";

static ROLE: Once = Once::new();

struct Batched {
    admin_ci: String,
    runner_ci: String,
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
    _keys: tempfile::TempDir,
}

impl Batched {
    fn o(&self) -> Options {
        Options {
            pack: self.dir.path().to_path_buf(),
            db: Some(self.runner_ci.clone()),
        }
    }
    /// The runner's own client, under the plan's search_path.
    fn runner(&self) -> Client {
        let mut c = client(&self.runner_ci);
        c.batch_execute(&format!(
            "SET search_path = {}",
            stepgate::core::plan::SEARCH_PATH
        ))
        .expect("search_path");
        c
    }
    fn approve(&self, action: Action) {
        approve(self.dir.path(), "1", "owner", action, &self.key);
    }
    fn plan(&self, action: Action) -> stepgate::core::plan::Plan {
        let loaded = engine::pack::load(self.dir.path()).expect("load pack");
        engine::plan::for_action(&loaded, "1", action, None).expect("plan")
    }
    fn offered(&self, action: Action) -> (String, Vec<String>, Vec<String>) {
        let plan = self.plan(action);
        let o = engine::gates::offered(self.dir.path(), &plan);
        (plan.canonical(), o.statements, o.signatures)
    }
    fn filled(&self) -> i64 {
        count(
            &self.admin_ci,
            "SELECT count(*) FROM public.bf WHERE w IS NOT NULL",
        )
    }
    fn facts(&self, verb: &str) -> i64 {
        count(
            &self.admin_ci,
            &format!("SELECT count(*) FROM stepgate.events WHERE fact AND verb = '{verb}' AND result = 'committed'"),
        )
    }
    /// The server's count of the open run: (batches, rows).
    fn progress(&self, action: &str) -> (i32, i64) {
        let r = client(&self.admin_ci)
            .query_one(
                "SELECT COALESCE(batches, 0), COALESCE(rows, 0) FROM stepgate.batch_progress('test-pack', '1', $1)",
                &[&action],
            )
            .expect("progress");
        (r.get(0), r.get(1))
    }
    fn cli(&self, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
        let mut c = Command::new(bin());
        c.args(args)
            .arg("--db")
            .arg(&self.runner_ci)
            .arg("-p")
            .arg(self.dir.path());
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run stepgate")
    }
}

/// A database with `public.bf` (ROWS rows, `w` NULL) under the write guard, the ledger
/// installed by the superuser with `sg_batch` as the runner, OWNER registered, and a pack
/// whose step 1 backfills `w` in batches of 500 (`batch` is the step's batch table).
fn setup(prefix: &str, batch: &str, declared: i64) -> Batched {
    let (db, admin_ci) = empty_db(prefix);
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
            "CREATE TABLE public.bf (id int PRIMARY KEY, v int NOT NULL, w int);
             INSERT INTO public.bf SELECT g, g FROM generate_series(1, {ROWS}) g;
             GRANT USAGE ON SCHEMA public TO {RUNNER};
             GRANT SELECT, UPDATE ON public.bf TO {RUNNER};"
        ))
        .expect("table");
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
    admin
        .batch_execute(
            "SELECT stepgate.guard_table('public.bf'); SELECT stepgate.pack_register('test-pack');",
        )
        .expect("guard the table");
    let (keys, key, signers) = register_owner(&admin_ci, &["owner", "resume"]);
    let steps = format!(
        r#"allowed_signers = "allowed_signers"
[gate.owner]
kind = "signature"
signers = ["{OWNER}"]
[gate.resume]
kind = "signature"
signers = ["{OWNER}"]
[[step]]
id = "1"
name = "backfill w"
file = "01.sql"
rollback = "rollback/01.sql"
gates = ["owner"]
batch = {{ {batch} }}
[step.effects]
rows = {{ "public.bf" = {{ update = {declared} }} }}
"#
    );
    let m = manifest(&db, "").replace(
        "[pack.target]",
        &format!("{}\n[pack.target]", steps.lines().next().unwrap_or("")),
    );
    let m = format!("{m}{}", steps.split_once('\n').map_or("", |x| x.1));
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("allowed_signers", &signers),
        ("01.sql", &step_file("SELECT 1;", &format!("{STMT};"))),
        ("rollback/01.sql", &rollback_file(&format!("{UNDO};"))),
    ]);
    Batched {
        runner_ci: admin_ci.replace("user=postgres", &format!("user={RUNNER}")),
        admin_ci,
        dir,
        key,
        _keys: keys,
    }
}

fn refused(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
}

/// The server's message.
fn msg(e: &postgres::Error) -> String {
    stepgate::db::describe_pg_error(e)
}

fn authorize(
    c: &mut Client,
    o: &(String, Vec<String>, Vec<String>),
) -> Result<i64, postgres::Error> {
    c.query_one(
        "SELECT stepgate.authorize($1, $2, $3, 'run', 'mallory', 'laptop')",
        &[&o.0, &o.1, &o.2],
    )
    .map(|r| r.get(0))
}

/// One batch by hand, the way stepgate runs it.
fn batch(c: &mut Client, n: i32, sql: &str) -> Result<(), postgres::Error> {
    let mut tx = c.transaction()?;
    tx.query_one("SELECT stepgate.batch_begin($1)", &[&n])?;
    tx.batch_execute(sql)?;
    tx.commit()
}

fn rehearsed(h: &Batched) {
    let r = engine::rehearse::run(&h.o(), "1", false).expect("rehearse");
    assert!(r.passed, "{r:#?}");
}

// ---- the runner's own path --------------------------------------------------------

#[test]
fn a_batched_backfill_killed_mid_way_resumes_to_the_exact_total() {
    let h = setup("batch_resume", "rehearse = 2", ROWS);
    // The rehearsal runs the first two batches in one transaction and rolls them back.
    let r = engine::rehearse::run(&h.o(), "1", false).expect("rehearse");
    assert!(r.passed && r.entry_equals_exit, "{r:#?}");
    let measured = r.measured.as_ref().expect("measured");
    assert_eq!(measured.rows["public.bf"].update, 1000, "{measured:?}");
    assert_eq!(h.filled(), 0, "the rehearsal left rows behind");
    h.approve(Action::Apply);
    // Killed before the COMMIT of batch 2: batch 1 stands, batch 2 never happened.
    let out = h.cli(
        &["apply", "--step", "1", "-q"],
        &[("STEPGATE_FAULT", "batch:before-commit-2")],
    );
    assert!(!out.status.success());
    assert_eq!((h.progress("apply"), h.filled()), ((1, 500), 500));
    // Killed just after the COMMIT of batch 4.
    let out = h.cli(
        &["apply", "--step", "1", "-q"],
        &[("STEPGATE_FAULT", "batch:after-commit-4")],
    );
    assert!(!out.status.success());
    assert_eq!((h.progress("apply"), h.filled()), ((4, 2000), 2000));
    assert_eq!(h.facts("apply"), 0, "no fact before the run drained");
    // The next apply resumes from the server's count and reaches the exact total.
    let out = h.cli(&["apply", "--step", "1", "--json"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let b = j
        .pointer("/batch")
        .or_else(|| j.pointer("/report/batch"))
        .unwrap_or(&j["batch"]);
    assert_eq!(b["batches"], 7, "{j}");
    assert_eq!(
        (b["resumed_from"].as_i64(), b["rows"].as_i64()),
        (Some(4), Some(ROWS)),
        "{j}"
    );
    assert_eq!(b["rows_now"].as_i64(), Some(1000), "{j}");
    assert!(
        b["elapsed_ms"].is_u64() && b["rows_per_sec"].is_number(),
        "{j}"
    );
    assert_eq!(h.filled(), ROWS);
    assert_eq!(
        count(
            &h.admin_ci,
            "SELECT count(*) FROM public.bf WHERE w <> v * 2"
        ),
        0
    );
    assert_eq!(h.facts("apply"), 1);
    let rows = count(
        &h.admin_ci,
        "SELECT (details ->> 'rows')::bigint FROM stepgate.events WHERE fact AND verb = 'apply'",
    );
    assert_eq!(rows, ROWS, "the fact carries the server's total");
    // Done is done: another apply has nothing to do, the ledger is intact.
    let again = h.cli(&["apply", "--step", "1"], &[]);
    let said = String::from_utf8_lossy(&again.stderr).to_string()
        + &String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success() && said.contains("already committed"),
        "{said}"
    );
    assert_eq!(
        count(
            &h.admin_ci,
            "SELECT count(*) FROM stepgate.batch_runs WHERE finished_at IS NULL"
        ),
        0
    );
    assert_eq!(h.filled(), ROWS);
}

#[test]
fn the_rollback_of_a_batched_step_is_batched_too() {
    let h = setup("batch_rollback", "rehearse = 1", ROWS);
    rehearsed(&h);
    h.approve(Action::Apply);
    let r = engine::apply::run(&h.o(), "1", &Default::default()).expect("apply");
    assert!(r.committed && r.halted.is_none(), "{r:#?}");
    let b = r.batch.as_ref().expect("batch summary");
    assert_eq!((b.batches, b.rows, b.resumed_from), (7, ROWS, 0));
    let rr = engine::rehearse::run(&h.o(), "1", true).expect("rehearse rollback");
    assert!(rr.passed, "{rr:#?}");
    h.approve(Action::Rollback);
    // The hostile runner takes a rollback permit of its own before stepgate's rollback.
    let mut mallory = h.runner();
    authorize(&mut mallory, &h.offered(Action::Rollback)).expect("rollback permit");
    let reports = engine::rollback::run(&h.o(), "1", false, true).expect("rollback");
    let rb = reports[0].batch.as_ref().expect("batched rollback");
    // 3000 rows, 700 a batch: 5 batches that change rows, then one that changes none.
    assert_eq!((rb.batches, rb.rows), (6, ROWS), "{rb:?}");
    assert!(reports[0].committed);
    assert_eq!(h.filled(), 0);
    assert_eq!(h.facts("rollback"), 1);
    // Its permit is still live, but the step is rolled back: no batch, no second fact.
    let e = batch(&mut mallory, 1, UNDO).expect_err("a rollback batch after the rollback");
    assert!(
        refused(&e) && msg(&e).contains("nothing to roll back"),
        "{}",
        msg(&e)
    );
    let e = mallory
        .query_one("SELECT stepgate.finish_batches()", &[])
        .expect_err("finish");
    assert!(refused(&e), "{}", msg(&e));
    assert_eq!(h.facts("rollback"), 1);
}

#[test]
fn a_batched_apply_stopped_part_way_can_be_rolled_back_and_applied_afresh() {
    let h = setup("batch_partial", "", ROWS);
    rehearsed(&h);
    h.approve(Action::Apply);
    let out = h.cli(
        &["apply", "--step", "1", "-q"],
        &[("STEPGATE_FAULT", "batch:after-commit-3")],
    );
    assert!(!out.status.success());
    assert_eq!(h.filled(), 1500);
    let rr = engine::rehearse::run(&h.o(), "1", true).expect("rehearse rollback");
    assert!(rr.passed, "{rr:#?}");
    h.approve(Action::Rollback);
    let reports = engine::rollback::run(&h.o(), "1", false, true).expect("rollback");
    assert!(reports[0].committed, "{reports:#?}");
    assert_eq!(
        (h.filled(), h.facts("rollback"), h.facts("apply")),
        (0, 1, 0)
    );
    // The apply approvals were never spent (nothing committed): a new run starts from zero.
    let r = engine::apply::run(&h.o(), "1", &Default::default()).expect("apply");
    let b = r.batch.as_ref().expect("batch summary");
    assert!(r.committed, "{r:#?}");
    assert_eq!((b.resumed_from, b.batches, b.rows), (0, 7, ROWS));
    assert_eq!(h.filled(), ROWS);
}

#[test]
fn a_drained_run_whose_totals_differ_from_the_declared_effects_records_no_commit() {
    let h = setup("batch_total", "", ROWS - 1);
    // The rehearsal's first batch is within the declared total.
    rehearsed(&h);
    h.approve(Action::Apply);
    let r = engine::apply::run(&h.o(), "1", &Default::default()).expect("apply");
    assert!(!r.committed && r.halted.is_some(), "{r:#?}");
    assert!(
        r.mismatches.iter().any(|m| m.item.contains("public.bf")),
        "{r:#?}"
    );
    assert_eq!(h.facts("apply"), 0);
    // The runner's own client cannot get the fact either: the server compares the totals.
    let o = h.offered(Action::Apply);
    let mut c = h.runner();
    client(&h.admin_ci)
        .batch_execute("UPDATE stepgate.pack_state SET halted = false, halt_event = NULL")
        .expect("lift the halt as the admin");
    authorize(&mut c, &o).expect("permit");
    let e = c
        .query_one("SELECT stepgate.finish_batches()", &[])
        .expect_err("finish");
    assert!(
        refused(&e) && msg(&e).contains("declared 2999, counted 3000"),
        "{}",
        msg(&e)
    );
    assert_eq!(h.facts("apply"), 0);
}

// ---- the hostile preparer ---------------------------------------------------------

#[test]
fn a_batch_runs_only_the_signed_statement_once_inside_a_batch() {
    let h = setup("batch_stmt", "", ROWS);
    h.approve(Action::Apply);
    let o = h.offered(Action::Apply);
    let mut c = h.runner();
    authorize(&mut c, &o).expect("permit");
    for (what, sql) in [
        (
            "another statement",
            "UPDATE public.bf SET w = 0".to_string(),
        ),
        ("the signed one with a comment", format!("{STMT} -- x")),
        (
            "the signed one, a bigger batch",
            STMT.replace("LIMIT 500", "LIMIT 5000"),
        ),
    ] {
        let e = batch(&mut c, 1, &sql).expect_err(what);
        assert!(refused(&e), "{what}: {}", msg(&e));
    }
    // The signed statement outside a batch the server opened.
    let e = c.batch_execute(STMT).expect_err("outside a batch");
    assert!(refused(&e), "{}", msg(&e));
    // Twice in one batch: the second run is refused and the batch never commits.
    let mut tx = c.transaction().expect("tx");
    tx.query_one("SELECT stepgate.batch_begin(1)", &[])
        .expect("begin batch");
    tx.batch_execute(STMT).expect("the signed statement");
    let e = tx.batch_execute(STMT).expect_err("twice");
    assert!(refused(&e), "{}", msg(&e));
    drop(tx);
    // Two batches in one transaction.
    let mut tx = c.transaction().expect("tx");
    tx.query_one("SELECT stepgate.batch_begin(1)", &[])
        .expect("begin batch");
    let e = tx
        .query_one("SELECT stepgate.batch_begin(2)", &[])
        .expect_err("two batches");
    assert!(refused(&e), "{}", msg(&e));
    drop(tx);
    // A batch that runs nothing cannot be counted as the empty last one.
    let mut tx = c.transaction().expect("tx");
    tx.query_one("SELECT stepgate.batch_begin(1)", &[])
        .expect("begin batch");
    let e = tx.commit().expect_err("empty batch");
    assert!(refused(&e), "{}", msg(&e));
    let e = c
        .query_one("SELECT stepgate.batch_begin(1)", &[])
        .expect_err("autocommit");
    assert!(refused(&e), "{}", msg(&e));
    assert_eq!((h.progress("apply"), h.filled()), ((0, 0), 0));
    // The signed statement, in its batch, commits and is counted by the server.
    batch(&mut c, 1, STMT).expect("batch 1");
    assert_eq!((h.progress("apply"), h.filled()), ((1, 500), 500));
}

#[test]
fn batches_are_numbered_by_the_server_and_end_with_the_run() {
    let h = setup("batch_numbers", "max_batches = 10", ROWS);
    h.approve(Action::Apply);
    let o = h.offered(Action::Apply);
    let mut c = h.runner();
    authorize(&mut c, &o).expect("permit");
    for n in [0, 2, 7] {
        let e = batch(&mut c, n, STMT).expect_err("skipped batch");
        assert!(
            refused(&e) && msg(&e).contains("next batch"),
            "{n}: {}",
            msg(&e)
        );
    }
    batch(&mut c, 1, STMT).expect("batch 1");
    let e = batch(&mut c, 1, STMT).expect_err("batch 1 again");
    assert!(refused(&e), "{}", msg(&e));
    let e = c
        .query_one("SELECT stepgate.finish_batches()", &[])
        .expect_err("finish early");
    assert!(
        refused(&e) && msg(&e).contains("not complete"),
        "{}",
        msg(&e)
    );
    for n in 2..=7 {
        batch(&mut c, n, STMT).expect("batch");
    }
    assert_eq!(h.progress("apply"), (7, ROWS));
    // Drained: batch 8 would be past the end.
    let e = batch(&mut c, 8, STMT).expect_err("past the end");
    assert!(refused(&e) && msg(&e).contains("complete"), "{}", msg(&e));
    let fact: i64 = c
        .query_one("SELECT stepgate.finish_batches()", &[])
        .expect("finish")
        .get(0);
    assert!(fact > 0);
    assert_eq!(h.facts("apply"), 1);
    // The permit is spent and the step committed: no batch and no second permit.
    let e = batch(&mut c, 8, STMT).expect_err("after the fact");
    assert!(refused(&e), "{}", msg(&e));
    let e = authorize(&mut h.runner(), &o).expect_err("second permit");
    assert!(refused(&e), "{}", msg(&e));
    assert_eq!(h.facts("apply"), 1);
}

#[test]
fn an_approved_bound_on_batches_is_enforced_by_the_server() {
    let h = setup("batch_bound", "max_batches = 3", ROWS);
    h.approve(Action::Apply);
    let mut c = h.runner();
    authorize(&mut c, &h.offered(Action::Apply)).expect("permit");
    for n in 1..=3 {
        batch(&mut c, n, STMT).expect("batch");
    }
    let e = batch(&mut c, 4, STMT).expect_err("past the bound");
    assert!(refused(&e) && msg(&e).contains("bound"), "{}", msg(&e));
    assert_eq!(h.filled(), 1500);
}

#[test]
fn no_batch_runs_or_commits_under_a_halt() {
    let h = setup("batch_halt", "", ROWS);
    h.approve(Action::Apply);
    let mut c = h.runner();
    authorize(&mut c, &h.offered(Action::Apply)).expect("permit");
    batch(&mut c, 1, STMT).expect("batch 1");
    // A halt recorded while batch 2 runs stops its COMMIT.
    let mut tx = c.transaction().expect("tx");
    tx.query_one("SELECT stepgate.batch_begin(2)", &[])
        .expect("begin");
    tx.batch_execute(STMT).expect("statement");
    client(&h.admin_ci)
        .query_one(
            "SELECT stepgate.halt('test-pack', '1', 'stop', 'dba', 'host', 'r', '{}')",
            &[],
        )
        .expect("halt");
    let e = tx.commit().expect_err("commit under halt");
    assert!(refused(&e) && msg(&e).contains("halted"), "{}", msg(&e));
    let e = batch(&mut c, 2, STMT).expect_err("batch after halt");
    assert!(refused(&e), "{}", msg(&e));
    assert_eq!((h.progress("apply"), h.filled()), ((1, 500), 500));
    // stepgate itself refuses too, and says the pack is halted.
    let e = engine::apply::run(&h.o(), "1", &Default::default()).expect_err("apply halted");
    assert!(e.to_string().contains("halted"), "{e}");
    assert_eq!(h.filled(), 500);
}

#[test]
fn a_batched_plan_needs_its_own_signatures() {
    let h = setup("batch_unsigned", "", ROWS);
    let mut c = h.runner();
    // No approval at all.
    let e = authorize(&mut c, &h.offered(Action::Apply)).expect_err("unsigned");
    assert!(refused(&e), "{}", msg(&e));
    h.approve(Action::Apply);
    let (plan, st, sig) = h.offered(Action::Apply);
    // The signed plan with its batch part edited: a higher bound, another repeated
    // statement, or no batch part at all (one big UPDATE) are all other plans.
    let mut edited: serde_json::Value = serde_json::from_str(&plan).expect("plan json");
    for (what, patch) in [
        ("max_batches", serde_json::json!({"max_batches": 100000})),
        ("repeat", serde_json::json!({"repeat": 1})),
    ] {
        let mut p = edited.clone();
        for (k, v) in patch.as_object().into_iter().flatten() {
            p["batch"][k] = v.clone();
        }
        let e = authorize(&mut c, &(p.to_string(), st.clone(), sig.clone())).expect_err(what);
        assert!(refused(&e), "{what}: {}", msg(&e));
    }
    edited.as_object_mut().map(|m| m.remove("batch"));
    let e =
        authorize(&mut c, &(edited.to_string(), st.clone(), sig.clone())).expect_err("unbatched");
    assert!(refused(&e), "{}", msg(&e));
    // The signed plan itself is admitted.
    authorize(&mut c, &(plan, st, sig)).expect("the signed plan");
    assert_eq!(h.filled(), 0);
}

#[test]
fn lint_refuses_a_misused_batched_step_naming_file_and_line() {
    let h = setup("batch_lint", "", ROWS);
    let bad = step_file(
        "SELECT 1;",
        &format!("{STMT};\nUPDATE public.bf SET w = 1 WHERE id = 1;"),
    );
    std::fs::write(h.dir.path().join("01.sql"), bad).expect("write");
    let out = Command::new(bin())
        .args(["lint", "-p"])
        .arg(h.dir.path())
        .output()
        .expect("lint");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("01.sql:13") && text.contains("SG026"),
        "{text}"
    );
    let ddl = step_file("SELECT 1;", "ALTER TABLE public.bf ADD COLUMN z int;");
    std::fs::write(h.dir.path().join("01.sql"), ddl).expect("write");
    let out = Command::new(bin())
        .args(["lint", "-p"])
        .arg(h.dir.path())
        .output()
        .expect("lint");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("01.sql:12") && text.contains("SG026"),
        "{text}"
    );
    // The manifest: a transaction-less batched step.
    let m = std::fs::read_to_string(h.dir.path().join("stepgate.toml")).expect("read");
    let m = m.replace("batch = {  }", "batch = {  }\ntransactional = false");
    std::fs::write(h.dir.path().join("stepgate.toml"), m).expect("write");
    let out = Command::new(bin())
        .args(["lint", "-p"])
        .arg(h.dir.path())
        .output()
        .expect("lint");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("transactional = false"),
        "{text}"
    );
}
