//! `stepgate review` against a real server: the connection found from the libpq
//! environment like every verb, the ledger state and last rehearsal shown, the
//! triggers and cascades that fire on a written table, `--json`, and the offline
//! fallback said once.

mod common;
use common::*;
use std::process::{Command, Output};

const SCHEMA: &str = "
CREATE TABLE public.items (id int PRIMARY KEY, note text, updated_at timestamptz);
CREATE TABLE public.item_tags (item_id int REFERENCES public.items (id) ON DELETE CASCADE, tag text);
CREATE FUNCTION public.set_updated_at() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER trg_items_updated_at BEFORE UPDATE ON public.items
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
CREATE TRIGGER trg_items_audit_insert AFTER INSERT ON public.items
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();
INSERT INTO public.items (id, note) VALUES (1, 'a'), (2, 'b'), (3, 'c');
";

/// A database with a table that has triggers and a cascading child, the ledger, and
/// a pack whose one step backfills that table.
fn backfill_pack() -> (String, String, tempfile::TempDir) {
    let (db, ci) = empty_db("review");
    client(&ci).batch_execute(SCHEMA).expect("schema");
    install_ledger(&ci);
    let m = manifest(
        &db,
        "[[step]]\nid = \"1\"\nname = \"backfill notes\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\n\
         [step.effects]\nrows = { \"public.items\" = { update = 3 } }\n",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        (
            "01.sql",
            &step_file(
                "SELECT 1;",
                "UPDATE public.items SET note = upper(note) WHERE id > 0;",
            ),
        ),
        ("rollback/01.sql", &rollback_file("SELECT 1;")),
    ]);
    (db, ci, dir)
}

/// `stepgate -p DIR review ARGS` with only the given libpq variables set.
fn review(dir: &std::path::Path, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("-p").arg(dir).arg("review").args(args);
    for v in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGSERVICE",
        "PGHOSTADDR",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run stepgate review")
}

fn pg_env(db: &str) -> Vec<(&'static str, String)> {
    let c = &harness().cluster;
    vec![
        ("PGHOST", c.socket_dir.display().to_string()),
        ("PGPORT", c.port.to_string()),
        ("PGDATABASE", db.to_string()),
        ("PGUSER", c.user.clone()),
    ]
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("review --json parses")
}

#[test]
fn pg_variables_find_the_database_and_the_ledger_state_is_shown() {
    let (db, _ci, dir) = backfill_pack();
    let v = json(&review(dir.path(), &pg_env(&db), &["--json"]));
    assert_eq!(v["database"]["connected"], true, "{v}");
    assert!(v["database"]["offline_reason"].is_null());
    assert_eq!(v["steps"][0]["ledger"]["state"], "not applied", "{v}");
    assert_eq!(v["overview"][0]["ledger_state"], "not applied");
    assert_eq!(v["steps"][0]["rehearsal"]["marker"], "never_rehearsed");
    let md = review(dir.path(), &pg_env(&db), &[]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("**Ledger:** read from"), "{md}");
    assert!(md.contains("Never rehearsed"));
}

#[test]
fn the_trigger_a_backfill_fires_is_listed_and_the_rehearsal_delta_shown() {
    let (db, ci, dir) = backfill_pack();
    let o = stepgate::engine::Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.clone()),
    };
    let r = stepgate::engine::rehearse::run(&o, "1", false).expect("rehearse");
    assert!(r.passed, "{r:#?}");
    let v = json(&review(dir.path(), &pg_env(&db), &["--json"]));
    let w = &v["steps"][0]["written_tables"][0];
    assert_eq!(w["table"], "public.items");
    let triggers = w["catalog"]["triggers"].as_array().expect("triggers");
    let upd = triggers
        .iter()
        .find(|t| t["name"] == "trg_items_updated_at")
        .expect("listed");
    assert_eq!(upd["fires"], true, "{upd}");
    assert_eq!(upd["timing"], "BEFORE");
    assert_eq!(upd["function"], "set_updated_at");
    let ins = triggers
        .iter()
        .find(|t| t["name"] == "trg_items_audit_insert")
        .expect("listed");
    assert_eq!(
        ins["fires"], false,
        "an UPDATE does not fire an INSERT trigger"
    );
    let fk = &w["catalog"]["cascades"][0];
    assert_eq!(fk["child"], "public.item_tags");
    assert_eq!(fk["on_delete"], "CASCADE");
    assert_eq!(fk["fires"], false, "the step deletes nothing");
    assert_eq!(
        v["steps"][0]["rehearsal"]["marker"], "matches",
        "{}",
        v["steps"][0]["rehearsal"]
    );
    assert_eq!(v["steps"][0]["locks"][0]["mode"], "ROW EXCLUSIVE");

    let md = String::from_utf8_lossy(&review(dir.path(), &pg_env(&db), &[]).stdout).to_string();
    assert!(
        md.contains("trigger trg_items_updated_at BEFORE update (row)"),
        "{md}"
    );
    assert!(md.contains("**fires**"));
    assert!(md.contains("Measured delta matches"));
    assert!(md.contains("+0 ~3 -0"));
}

#[test]
fn no_database_is_said_once_and_the_package_is_still_written() {
    let (_db, _ci, dir) = backfill_pack();
    let env = vec![
        ("PGHOST", "/nonexistent-socket-dir".to_string()),
        ("PGPORT", "1".to_string()),
    ];
    let out = review(dir.path(), &env, &[]);
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(md.matches("Ledger:** not read").count(), 1, "{md}");
    assert!(md.contains("Triggers and cascades not read"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("no ledger read").count(), 1, "{err}");
    let v = json(&review(dir.path(), &env, &["--json", "--quiet"]));
    assert_eq!(v["database"]["connected"], false);
}

#[test]
fn a_step_that_does_not_parse_still_gets_its_package_when_connected() {
    let (db, _ci, dir) = backfill_pack();
    std::fs::write(
        dir.path().join("01.sql"),
        "UPDAT public.items SET note = 'x';\n",
    )
    .unwrap();
    let out = review(dir.path(), &pg_env(&db), &["-q"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("No execution plan."), "{md}");
    assert!(md.contains("**Ledger:** read from"));
    assert!(
        md.contains("SG001"),
        "the parse error is listed as a lint finding"
    );
}
