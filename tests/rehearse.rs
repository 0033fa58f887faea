//! Rehearsal against a real server: entry == exit, measured delta vs effects,
//! trigger cascades, sequence residue, each failure kind, the identity guard,
//! two runners at once.

mod common;
use common::*;
use stepgate::engine::{self, Error, Options};

fn opts(dir: &tempfile::TempDir, ci: &str) -> Options {
    Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.to_string()),
    }
}

fn one_step(db: &str, step_toml: &str, sql: &str) -> tempfile::TempDir {
    let m = manifest(db, &format!("[[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\n{step_toml}"));
    write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", sql),
        ("rollback/01.sql", &rollback_file("SELECT 1;")),
    ])
}

#[test]
fn clean_rehearsal_proves_entry_equals_exit() {
    let (db, ci) = world_db("reh_clean");
    install_ledger(&ci);
    let dir = one_step(&db, "[step.effects]\ncreate = [\"table public.governance_ruleset\"]", &step_file("SELECT 1;", "CREATE TABLE public.governance_ruleset (id bigint PRIMARY KEY, status text NOT NULL DEFAULT 'draft');"));
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).expect("rehearse");
    assert!(r.passed, "{r:#?}");
    assert!(r.entry_equals_exit);
    assert!(r
        .measured
        .as_ref()
        .unwrap()
        .catalog
        .added
        .iter()
        .any(|o| o.to_string() == "table public.governance_ruleset"));
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'governance_ruleset'"
        ),
        0
    );
    // The rehearsal left its record although its transaction rolled back.
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'rehearse' AND result = 'passed'"
        ),
        1
    );
}

#[test]
fn change_outside_effects_is_shown_and_fails() {
    let (db, ci) = world_db("reh_outside");
    install_ledger(&ci);
    let dir = one_step(
        &db,
        "[step.effects]\ncreate = [\"table public.t_new\"]",
        &step_file(
            "SELECT 1;",
            "CREATE TABLE public.t_new (id int);\nCREATE TABLE public.t_sneaky (id int);",
        ),
    );
    // Lint catches it statically…
    let lint = engine::lint::run(dir.path()).unwrap();
    assert!(
        lint.diagnostics.iter().any(|d| d.code == "SG020"),
        "{:?}",
        lint.diagnostics
    );
    // …and the CLI refuses to run a file with lint errors (bad input, nothing executed).
    let out = std::process::Command::new(bin())
        .args(["rehearse", "--step", "1", "--db", &ci, "-p"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'rehearse'"
        ),
        0
    );
}

#[test]
fn dynamic_change_outside_effects_is_measured_precisely() {
    let (db, ci) = world_db("reh_dyn");
    install_ledger(&ci);
    // Dynamic SQL hides the second table from the linter; the measured delta still catches it.
    let dir = one_step(
        &db,
        "[step.effects]\ncreate = [\"table public.t_new\"]",
        &step_file("SELECT 1;", "CREATE TABLE public.t_new (id int);\nDO $$ BEGIN EXECUTE format('CREATE TABLE public.%I (id int)', 't_sneaky'); END $$;"),
    );
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).expect("rehearse");
    assert!(!r.passed);
    assert!(r.entry_equals_exit);
    let items: Vec<&str> = r.mismatches.iter().map(|m| m.item.as_str()).collect();
    assert_eq!(
        items,
        vec!["create table public.t_sneaky"],
        "{:?}",
        r.mismatches
    );
    let out = std::process::Command::new(bin())
        .args(["rehearse", "--step", "1", "--db", &ci, "-p"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("create table public.t_sneaky") && stdout.contains("not declared"),
        "{stdout}"
    );
}

#[test]
fn trigger_cascaded_rows_are_counted_and_sequence_residue_reported() {
    let (db, ci) = world_db("reh_cascade");
    install_ledger(&ci);
    let dir = one_step(
        &db,
        "[step.effects]\nrows = { \"public.governance_registry\" = { insert = 1 }, \"public.birth_registry\" = { insert = 1 } }",
        &step_file("SELECT 1;", "INSERT INTO public.governance_registry (code, name, entity_kind) VALUES ('gov_test', 'Test', 'role');"),
    );
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).expect("rehearse");
    assert!(r.failure.is_none(), "{:?}", r.failure);
    let rows = &r.measured.as_ref().unwrap().rows;
    assert_eq!(
        rows.get("public.birth_registry").map(|c| c.insert),
        Some(1),
        "{rows:?}"
    );
    assert!(r.passed, "{r:#?}");
    assert!(
        r.residue
            .iter()
            .any(|s| s.sequence == "public.birth_registry_id_seq" && s.advanced_by == 1),
        "{:?}",
        r.residue
    );
}

#[test]
fn each_failure_kind_ends_cleanly_with_file_line() {
    let (db, ci) = world_db("reh_fail");
    install_ledger(&ci);
    // 1. A failing DO assertion in section B.
    let guard = "DO $$ BEGIN\n  IF (SELECT count(*) FROM governance_relations) <> 9 THEN\n    RAISE EXCEPTION 'governance_relations is not 9';\n  END IF;\nEND $$;";
    let dir = one_step(&db, "", &step_file(guard, "SELECT 1;"));
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap();
    let f = r.preflight_failure.expect("assertion failure");
    assert_eq!(f.kind, "assertion");
    assert_eq!(f.line, 4, "{f:?}");
    assert!(f.message.contains("governance_relations is not 9"));

    // 2. A lock_timeout: another session holds a conflicting lock.
    let mut holder = client(&ci);
    let mut tx = holder.transaction().unwrap();
    // A long-running reader: the classic cause of an ALTER TABLE pile-up.
    tx.batch_execute("LOCK TABLE public.governance_relations IN ACCESS SHARE MODE")
        .unwrap();
    let dir = one_step(&db, "[step.effects]\nalter = [\"column public.governance_relations.note\"]\ncreate = [\"column public.governance_relations.note\"]", &step_file("SELECT 1;", "ALTER TABLE public.governance_relations ADD COLUMN note text;"));
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap();
    let f = r.failure.expect("lock timeout");
    assert_eq!(f.kind, "lock_timeout", "{f:?}");
    assert_eq!(f.line, 12);
    tx.rollback().unwrap();

    // 3. A statement_timeout.
    let m = manifest(
        &db,
        "[[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"",
    );
    let sql = step_file(
        "SELECT 1;",
        "SELECT pg_sleep(0.1);\nSET LOCAL statement_timeout = '200ms';\nSELECT pg_sleep(2);",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", &sql),
        ("rollback/01.sql", &rollback_file("SELECT 1;")),
    ]);
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap();
    let f = r.failure.expect("statement timeout");
    assert_eq!(f.kind, "statement_timeout", "{f:?}");
    assert_eq!(f.line, 14);

    // 4. A syntax error the server finds (inside a PL/pgSQL body).
    let dir = one_step(
        &db,
        "",
        &step_file("SELECT 1;", "DO $$\nBEGIN\n  SELEC 1;\nEND $$;"),
    );
    let r = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap();
    let f = r.failure.expect("syntax error");
    assert_eq!(f.kind, "syntax", "{f:?}");
    // The DO statement starts on line 12; the server points at `SELEC` two lines further.
    assert_eq!(f.line, 14);
    assert!(f.message.contains("SELEC"));
    // Every failure rolled back cleanly and was ledgered.
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'rehearse' AND result = 'failed'"
        ),
        4
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"), 0);
}

#[test]
fn wrong_database_is_refused_before_any_statement() {
    let (_db, ci) = world_db("reh_wrong");
    install_ledger(&ci);
    let dir = one_step(
        "production_db",
        "[step.effects]\ncreate = [\"table public.t1\"]",
        &step_file("SELECT 1;", "CREATE TABLE public.t1 (id int);"),
    );
    let err = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap_err();
    assert!(matches!(err, Error::WrongTarget(_)), "{err}");
    assert!(
        err.to_string()
            .contains("database: the pack targets `production_db`"),
        "{err}"
    );
    let out = std::process::Command::new(bin())
        .args(["rehearse", "--step", "1", "--db", &ci, "-p"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE pack = 'test-pack'"
        ),
        0
    );
}

#[test]
fn wrong_environment_label_is_refused() {
    let (db, ci) = world_db("reh_env");
    install_ledger(&ci);
    let m = manifest(
        &db,
        "[[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"",
    )
    .replace("environment = \"test\"", "environment = \"production\"");
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", &step_file("SELECT 1;", "SELECT 1;")),
        ("rollback/01.sql", &rollback_file("SELECT 1;")),
    ]);
    let err = engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap_err();
    assert!(
        err.to_string().contains(
            "environment: the pack targets `production`, this database is labelled `test`"
        ),
        "{err}"
    );
}

#[test]
fn preflight_is_read_only() {
    let (db, ci) = world_db("pre_ro");
    install_ledger(&ci);
    let m = manifest(&db, "[[invariant]]\nname = \"relations\"\nsql = \"SELECT count(*) FROM governance_relations\"\nexpect = \"8\"").replace("[pack.target]", "preflight = \"00_preflight.sql\"\n[pack.target]");
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        (
            "00_preflight.sql",
            "SELECT 1;\nCREATE TABLE public.sneaky (id int);\n",
        ),
    ]);
    let r = engine::preflight::run(&opts(&dir, &ci), None).unwrap();
    assert!(!r.passed);
    let pf = r
        .checks
        .iter()
        .find(|c| c.name.contains("00_preflight.sql"))
        .unwrap();
    assert!(pf.evidence.contains("25006"), "{pf:?}"); // read_only_sql_transaction
    assert!(r
        .checks
        .iter()
        .any(|c| c.name == "invariant: relations" && c.ok));
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'sneaky'"
        ),
        0
    );
}

#[test]
fn second_runner_is_refused_with_who_holds_the_pack() {
    let (db, ci) = world_db("reh_busy");
    install_ledger(&ci);
    let dir = one_step(&db, "", &step_file("SELECT 1;", "SELECT 1;"));
    let o = opts(&dir, &ci);
    let _first = engine::session::Session::open(&o, "apply", engine::session::Lock::Pack).unwrap();
    let err = engine::rehearse::run(&o, "1", false).unwrap_err();
    assert!(matches!(err, Error::Busy(_)), "{err}");
    assert!(err.to_string().contains("pid"), "{err}");
    assert!(
        err.to_string().contains("stepgate apply test-pack"),
        "{err}"
    );
}

#[test]
fn ledger_tampering_is_named() {
    let (db, ci) = world_db("ledger_tamper");
    install_ledger(&ci);
    let dir = one_step(&db, "", &step_file("SELECT 1;", "SELECT 1;"));
    for _ in 0..4 {
        engine::rehearse::run(&opts(&dir, &ci), "1", false).unwrap();
    }
    let o = opts(&dir, &ci);
    assert!(engine::ledger_cmd::verify(&o).unwrap().problems.is_empty());
    let mut c = client(&ci);
    // Edit.
    c.batch_execute("UPDATE stepgate.events SET result = 'passed!' WHERE id = 3")
        .unwrap();
    let p = engine::ledger_cmd::verify(&o).unwrap().problems;
    assert!(
        p.iter().any(|x| x.id == 3 && x.problem.contains("edited")),
        "{p:?}"
    );
    c.batch_execute("UPDATE stepgate.events SET result = 'passed' WHERE id = 3")
        .unwrap();
    assert!(engine::ledger_cmd::verify(&o).unwrap().problems.is_empty());
    // Delete from the middle.
    c.batch_execute("CREATE TEMP TABLE keep AS SELECT * FROM stepgate.events WHERE id = 2; DELETE FROM stepgate.events WHERE id = 2").unwrap();
    let p = engine::ledger_cmd::verify(&o).unwrap().problems;
    assert!(
        p.iter().any(|x| x.problem.contains("row(s) 2 deleted")),
        "{p:?}"
    );
    c.batch_execute("INSERT INTO stepgate.events SELECT * FROM keep")
        .unwrap();
    // Reorder: swap two rows' ids.
    c.batch_execute("UPDATE stepgate.events SET id = -1 WHERE id = 3; UPDATE stepgate.events SET id = 3 WHERE id = 4; UPDATE stepgate.events SET id = 4 WHERE id = -1").unwrap();
    let p = engine::ledger_cmd::verify(&o).unwrap().problems;
    assert!(p.iter().any(|x| x.id == 3), "{p:?}");
    // Delete the tail.
    c.batch_execute("UPDATE stepgate.events SET id = -1 WHERE id = 3; UPDATE stepgate.events SET id = 3 WHERE id = 4; UPDATE stepgate.events SET id = 4 WHERE id = -1; DELETE FROM stepgate.events WHERE id = (SELECT max(id) FROM stepgate.events)").unwrap();
    let p = engine::ledger_cmd::verify(&o).unwrap().problems;
    assert!(
        p.iter().any(|x| x.problem.contains("deleted from the end")),
        "{p:?}"
    );
    // A verb that acts refuses while the ledger is broken.
    let e = engine::rehearse::run(&o, "1", false).unwrap_err();
    assert!(
        matches!(e, Error::Refused(_)) && e.to_string().contains("tampered"),
        "{e}"
    );
    // The CLI exits 1 and names the row.

    let out = std::process::Command::new(bin())
        .args(["ledger", "verify", "--db", &ci])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAMPERED"));
}

/// The incremental proof is the default and agrees with the full one; a change it cannot
/// account for (dynamic SQL altering a table the step does not name) hands the rehearsal
/// to the full proof, which names it; `--full-proof` asks for the full one from the start.
#[test]
fn incremental_proof_hands_over_to_the_full_one_when_it_cannot_account() {
    let (db, ci) = world_db("reh_proof");
    install_ledger(&ci);
    let clean = one_step(
        &db,
        "[step.effects]\ncreate = [\"table public.t_new\"]",
        &step_file(
            "SELECT 1;",
            "CREATE TABLE public.t_new (id int PRIMARY KEY);",
        ),
    );
    let inc = engine::rehearse::run(&opts(&clean, &ci), "1", false).expect("rehearse");
    assert!(inc.passed, "{inc:#?}");
    assert_eq!(inc.proof, engine::proof::Proof::Incremental);
    assert!(inc.proof_note.is_none(), "{:?}", inc.proof_note);
    // The ledger's install put the DDL tracker in: no catalog pass.
    assert_eq!(inc.footprint, Some(engine::proof::Footprint::Tracked));
    let full =
        engine::rehearse::run_with(&opts(&clean, &ci), "1", false, engine::proof::Proof::Full)
            .expect("rehearse --full-proof");
    assert!(full.passed, "{full:#?}");
    assert_eq!(full.proof, engine::proof::Proof::Full);
    assert_eq!(
        inc.measured.as_ref().map(|m| &m.catalog),
        full.measured.as_ref().map(|m| &m.catalog),
        "both proofs measure the same delta"
    );

    // A table the step never names, altered through format(): only the full proof sees it.
    let hidden = one_step(
        &db,
        "[step.effects]\ncreate = [\"table public.t_new\"]",
        &step_file("SELECT 1;", "CREATE TABLE public.t_new (id int PRIMARY KEY);\nDO $$ BEGIN EXECUTE format('ALTER TABLE public.%I ADD COLUMN sneaky int', 'governance_registry'); END $$;"),
    );
    let r = engine::rehearse::run(&opts(&hidden, &ci), "1", false).expect("rehearse");
    assert!(!r.passed);
    assert_eq!(r.proof, engine::proof::Proof::Full);
    assert!(
        r.proof_note
            .as_deref()
            .is_some_and(|n| n.contains("proven in full")),
        "{:?}",
        r.proof_note
    );
    assert_mismatch_names(&r, "public.governance_registry");
    let out = std::process::Command::new(bin())
        .args([
            "rehearse",
            "--step",
            "1",
            "--full-proof",
            "--json",
            "--db",
            &ci,
            "-p",
        ])
        .arg(clean.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["proof"], "full");
}

/// The DDL tracker against a step that looks plain: an INSERT whose trigger (set up before,
/// not in the step) alters a table the step never names. Event triggers fire for DDL run
/// from a trigger function too, so the tracked proof sees the unnamed table and hands over
/// to the full proof, which names it. With the tracker's event triggers gone (the guard
/// uninstalled), the same step is proven by the catalog scan, which sees it as well.
#[test]
fn tracked_proof_sees_ddl_that_a_trigger_runs_on_an_unnamed_table() {
    let (db, ci) = world_db("reh_tracked");
    install_ledger(&ci);
    {
        let mut c = postgres::Client::connect(&ci, postgres::NoTls).expect("connect");
        c.batch_execute(
            "CREATE TABLE public.inbox (id int PRIMARY KEY);
             CREATE FUNCTION public.inbox_sneak() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               EXECUTE format('ALTER TABLE public.%I ADD COLUMN sneaky int', 'governance_registry');
               RETURN NEW;
             END $$;
             CREATE TRIGGER inbox_sneak AFTER INSERT ON public.inbox
               FOR EACH ROW EXECUTE FUNCTION public.inbox_sneak();",
        )
        .expect("setup");
    }
    let pack = one_step(
        &db,
        "[step.effects]\nrows = { \"public.inbox\" = { insert = 1 } }",
        &step_file("SELECT 1;", "INSERT INTO public.inbox VALUES (1);"),
    );
    let r = engine::rehearse::run(&opts(&pack, &ci), "1", false).expect("rehearse");
    assert!(!r.passed, "{r:#?}");
    assert_eq!(r.proof, engine::proof::Proof::Full, "{r:#?}");
    // The tracker's own words: it names the object (the scan could only count rows).
    let tracker_saw = |r: &engine::rehearse::RehearsalReport| {
        r.proof_note
            .as_deref()
            .is_some_and(|n| n.contains("does not name") && n.contains("governance_registry"))
    };
    assert!(tracker_saw(&r), "{:?}", r.proof_note);
    assert_mismatch_names(&r, "public.governance_registry");

    // The step's own SQL tries to silence the tracker first: a setting it could write would
    // do, the tracker's own table it cannot.
    let silenced = one_step(
        &db,
        "[step.effects]\nrows = { \"public.inbox\" = { insert = 1 } }",
        &step_file(
            "SELECT 1;",
            "SELECT pg_catalog.set_config('stepgate.track', 'off', true), pg_catalog.set_config('stepgate.tracked', '', true);\nINSERT INTO public.inbox VALUES (2);",
        ),
    );
    let r = engine::rehearse::run(&opts(&silenced, &ci), "1", false).expect("rehearse");
    assert!(!r.passed, "{r:#?}");
    assert_eq!(r.proof, engine::proof::Proof::Full, "{r:#?}");
    assert!(tracker_saw(&r), "{:?}", r.proof_note);

    // Without the tracker: the scan.
    let mut admin = postgres::Client::connect(&ci, postgres::NoTls).expect("connect");
    admin
        .batch_execute(stepgate::db::footprint::TRACKER_UNINSTALL_SQL)
        .expect("drop the tracker");
    let r = engine::rehearse::run(&opts(&pack, &ci), "1", false).expect("rehearse");
    assert!(!r.passed, "{r:#?}");
    assert_eq!(r.proof, engine::proof::Proof::Full, "{r:#?}");
    assert_new_table_is_scanned(&db, &ci, "t_plain");
}

/// A ledger from before the DDL tracker (its functions absent): the guard still installs,
/// `guard status` says the tracker is absent, and rehearsals scan the catalog.
#[test]
fn a_ledger_without_the_tracker_takes_the_guard_and_scans() {
    let (db, ci) = world_db("reh_no_tracker");
    install_ledger(&ci);
    let mut admin = postgres::Client::connect(&ci, postgres::NoTls).expect("connect");
    admin
        .batch_execute(
            "DROP FUNCTION stepgate.track_ddl() CASCADE; DROP FUNCTION stepgate.track_drop() CASCADE;",
        )
        .expect("an older ledger");
    let o = Options {
        pack: ".".into(),
        db: Some(ci.clone()),
    };
    engine::guard_cmd::change(&o, engine::guard_cmd::Change::Install { roles: &[] })
        .expect("guard install");
    let st = engine::guard_cmd::status(&o).expect("status");
    assert!(st.installed && st.enabled, "{st:?}");
    assert!(!st.ddl_tracker, "{st:?}");
    assert_new_table_is_scanned(&db, &ci, "t_old");
}

/// The full proof named `object` among the rehearsal's mismatches.
fn assert_mismatch_names(r: &engine::rehearse::RehearsalReport, object: &str) {
    let items: Vec<&str> = r.mismatches.iter().map(|m| m.item.as_str()).collect();
    assert!(items.iter().any(|i| i.contains(object)), "{items:?}");
}

/// A step creating `public.{table}` rehearses clean, proven by the catalog scan.
fn assert_new_table_is_scanned(db: &str, ci: &str, table: &str) {
    let pack = one_step(
        db,
        &format!("[step.effects]\ncreate = [\"table public.{table}\"]"),
        &step_file(
            "SELECT 1;",
            &format!("CREATE TABLE public.{table} (id int PRIMARY KEY);"),
        ),
    );
    let r = engine::rehearse::run(&opts(&pack, ci), "1", false).expect("rehearse");
    assert!(r.passed, "{r:#?}");
    assert_eq!(r.footprint, Some(engine::proof::Footprint::Scanned));
}
