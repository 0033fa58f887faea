//! The first hour: importing Flyway, Sqitch and numbered-file migrations into packs
//! that lint (and rehearse) as they are, plain-SQL steps, `init` and `new-step`, the
//! DBA scenario example, and evidence kept outside the pack with private modes.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use stepgate::core::import::Format;
use stepgate::core::lint::Severity;
use stepgate::engine::{self, Options};

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn import(
    format: Format,
    src: &Path,
    pack: &Path,
    db: Option<&str>,
) -> engine::import::ImportReport {
    engine::import::run(&engine::import::Options {
        format,
        source: src,
        pack,
        database: db,
        environment: Some("test"),
    })
    .expect("import")
}

fn lint_errors(pack: &Path) -> Vec<String> {
    engine::lint::run(pack)
        .expect("lint")
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}:{}: {} {}", d.file, d.line, d.code, d.message))
        .collect()
}

fn o(pack: &Path, ci: &str) -> Options {
    Options {
        pack: pack.to_path_buf(),
        db: Some(ci.to_string()),
    }
}

#[test]
fn flyway_import_lints_clean_notes_repeatables_and_rehearses() {
    let (db, ci) = empty_db("imp_fw");
    install_ledger(&ci);
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("db/migration");
    write_tree(
        &src,
        &[
            ("V1__create_users.sql", "CREATE TABLE public.users (\n  id bigint PRIMARY KEY,\n  email text NOT NULL\n);\nINSERT INTO public.users (id, email) VALUES (1, 'a@example.org'), (2, 'b@example.org');\n"),
            ("U1__create_users.sql", "DROP TABLE public.users;\n"),
            ("V1.1__add_name.sql", "ALTER TABLE public.users ADD COLUMN name text;\n"),
            ("U1.1__add_name.sql", "ALTER TABLE public.users DROP COLUMN name;\n"),
            ("V1.10__orders.sql", "CREATE TABLE public.orders (id bigint PRIMARY KEY, user_id bigint NOT NULL CONSTRAINT orders_user_fk REFERENCES public.users (id));\n"),
            ("R__user_emails.sql", "CREATE OR REPLACE VIEW public.user_emails AS SELECT email FROM public.users;\n"),
        ],
    );
    let pack = t.path().join("users-pack");
    let r = import(Format::Flyway, &src, &pack, Some(&db));
    // 1, 1.1, 1.10 in numeric order (1.10 after 1.1, not between 1 and 1.1 as text).
    let ids: Vec<&str> = r.imported.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["v1", "v1_1", "v1_10"]);
    assert_eq!(r.imported.steps[1].requires, ["v1"]);
    assert_eq!(
        r.imported.steps[0].rollback.as_deref(),
        Some("rollback/U1__create_users.sql")
    );
    assert!(r.imported.steps[2].rollback.is_none());
    // The repeatable file is listed, not imported.
    assert_eq!(r.skipped().len(), 1);
    assert_eq!(r.skipped()[0].file, "R__user_emails.sql");
    assert!(!pack.join("steps/R__user_emails.sql").exists());
    // What to review: the one_way step without an undo file, the repeatable.
    let review: Vec<String> = r.review().iter().map(|x| x.to_string()).collect();
    assert!(
        review
            .iter()
            .any(|x| x.contains("v1_10") && x.contains("one_way")),
        "{review:?}"
    );
    assert!(
        review.iter().any(|x| x.contains("R__user_emails.sql")),
        "{review:?}"
    );
    assert!(r
        .next
        .iter()
        .any(|n| n.contains("rehearse") && n.contains("v1")));
    // It lints clean as it is...
    assert!(r.lint_errors.is_empty(), "{:?}", r.lint_errors);
    assert!(lint_errors(&pack).is_empty());
    // ...and rehearses against the real database, its declared effects matching.
    let rep = engine::rehearse::run(&o(&pack, &ci), "v1", false).expect("rehearse");
    assert!(rep.passed, "{rep:#?}");
    assert!(rep.entry_equals_exit);
    assert_eq!(
        count(&ci, "SELECT count(*) FROM pg_class WHERE relname = 'users'"),
        0
    );
}

#[test]
fn sqitch_import_keeps_dependencies_reverts_and_verifies() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("flipr");
    write_tree(
        &src,
        &[
            ("sqitch.conf", "[core]\n\tengine = pg\n"),
            (
                "sqitch.plan",
                "%syntax-version=1.0.0\n%project=flipr\n%uri=https://example.org/flipr/\n\nappschema 2013-12-30T23:19:28Z Marge <marge@example.com> # Add schema for all flipr objects.\nusers [appschema] 2013-12-31T00:10:30Z Marge <marge@example.com> # Creates table to track our users.\n@v1.0.0-dev1 2013-12-31T00:59:13Z Marge <marge@example.com> # Tag v1.0.0-dev1.\nflips [appschema users] 2014-01-02T10:00:00Z Marge <marge@example.com> # Adds table for storing flips.\n",
            ),
            ("deploy/appschema.sql", "-- Deploy flipr:appschema to pg\n\nBEGIN;\n\nCREATE SCHEMA flipr;\n\nCOMMIT;\n"),
            ("revert/appschema.sql", "-- Revert flipr:appschema from pg\n\nBEGIN;\n\nDROP SCHEMA flipr;\n\nCOMMIT;\n"),
            ("verify/appschema.sql", "-- Verify flipr:appschema on pg\n\nBEGIN;\n\nSELECT pg_catalog.has_schema_privilege('flipr', 'usage');\n\nROLLBACK;\n"),
            ("deploy/users.sql", "-- Deploy flipr:users to pg\n-- requires: appschema\n\nBEGIN;\n\nCREATE TABLE flipr.users (\n    nickname  TEXT        PRIMARY KEY,\n    password  TEXT        NOT NULL,\n    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW()\n);\n\nCOMMIT;\n"),
            ("revert/users.sql", "BEGIN;\nDROP TABLE flipr.users;\nCOMMIT;\n"),
            ("verify/users.sql", "BEGIN;\nSELECT nickname, password, timestamp FROM flipr.users WHERE FALSE;\nROLLBACK;\n"),
            ("deploy/flips.sql", "BEGIN;\nCREATE TABLE flipr.flips (\n    id        BIGSERIAL   PRIMARY KEY,\n    nickname  TEXT        NOT NULL CONSTRAINT flips_nickname_fk REFERENCES flipr.users(nickname),\n    body      TEXT        NOT NULL DEFAULT ''\n);\nCOMMIT;\n"),
            ("revert/flips.sql", "BEGIN;\nDROP TABLE flipr.flips;\nCOMMIT;\n"),
        ],
    );
    let pack = t.path().join("flipr-pack");
    let r = import(Format::Sqitch, &src, &pack, Some("flipr"));
    let ids: Vec<&str> = r.imported.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["appschema", "users", "flips"]);
    // Dependencies become requires; revert scripts become rollbacks.
    assert_eq!(r.imported.steps[1].requires, ["appschema"]);
    assert_eq!(r.imported.steps[2].requires, ["appschema", "users"]);
    assert_eq!(
        r.imported.steps[2].rollback.as_deref(),
        Some("rollback/flips.sql")
    );
    assert_eq!(r.imported.steps[1].create, ["table flipr.users"]);
    // The verify script became the step's post-commit checks, after the terminal ROLLBACK.
    let users = std::fs::read_to_string(pack.join("steps/users.sql")).unwrap();
    let end = users.find("ROLLBACK;").expect("framed");
    assert!(
        users[end..].contains("FROM flipr.users WHERE FALSE"),
        "{users}"
    );
    assert!(!users.lines().any(|l| l.trim() == "COMMIT;"), "{users}");
    // The sqitch BEGIN/COMMIT left the plain rollback file.
    let rb = std::fs::read_to_string(pack.join("rollback/flips.sql")).unwrap();
    assert!(!rb.lines().any(|l| l.trim() == "COMMIT;"), "{rb}");
    let manifest = std::fs::read_to_string(pack.join("stepgate.toml")).unwrap();
    assert!(manifest.contains("# sqitch tag @v1.0.0-dev1"), "{manifest}");
    assert!(manifest.contains("environment = \"test\""), "{manifest}");
    assert!(r.lint_errors.is_empty(), "{:?}", r.lint_errors);
    assert!(lint_errors(&pack).is_empty());
}

#[test]
fn numbered_dir_import_pairs_down_files_and_marks_concurrently() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("migrations");
    write_tree(
        &src,
        &[
            ("001_accounts.up.sql", "CREATE TABLE public.accounts (id bigint PRIMARY KEY, email text);\n"),
            ("001_accounts.down.sql", "DROP TABLE public.accounts;\n"),
            ("002_accounts_email_idx.sql", "CREATE INDEX CONCURRENTLY accounts_email_idx ON public.accounts (email);\n"),
            ("002_accounts_email_idx.down.sql", "DROP INDEX CONCURRENTLY public.accounts_email_idx;\n"),
            ("010_backfill.sql", "UPDATE public.accounts SET email = lower(email) WHERE email <> lower(email);\nDO $$ BEGIN EXECUTE format('ANALYZE %I.%I', 'public', 'accounts'); END $$;\n"),
            ("README.md", "not a migration\n"),
        ],
    );
    let pack = t.path().join("accounts");
    let r = import(Format::Dir, &src, &pack, None);
    let ids: Vec<&str> = r.imported.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["001", "002", "010"]);
    assert_eq!(
        r.imported.steps[0].rollback.as_deref(),
        Some("rollback/001_accounts.down.sql")
    );
    assert!(r.imported.steps[0].transactional);
    assert!(
        !r.imported.steps[1].transactional,
        "CONCURRENTLY → transactional = false"
    );
    // The backfill's row count and the dynamic SQL are marked for review, with file and line.
    let todo = &r.imported.steps[2].todo;
    assert!(
        todo.iter()
            .any(|x| x.starts_with("steps/010_backfill.sql:2:") && x.contains("update")),
        "{todo:?}"
    );
    assert!(
        todo.iter()
            .any(|x| x.starts_with("steps/010_backfill.sql:3:")),
        "{todo:?}"
    );
    let manifest = std::fs::read_to_string(pack.join("stepgate.toml")).unwrap();
    assert!(
        manifest.contains("# TODO review: steps/010_backfill.sql:3:"),
        "{manifest}"
    );
    assert!(manifest.contains("TODO review: the database"), "{manifest}");
    assert!(r
        .review()
        .iter()
        .any(|x| x.what.contains("[pack.target] database")));
    assert!(std::fs::read_to_string(pack.join(".gitignore"))
        .unwrap()
        .contains(".stepgate/"));
    assert!(r.lint_errors.is_empty(), "{:?}", r.lint_errors);
    // A second import into the same pack is refused, nothing overwritten.
    let e = engine::import::run(&engine::import::Options {
        format: Format::Dir,
        source: &src,
        pack: &pack,
        database: None,
        environment: None,
    })
    .unwrap_err();
    assert!(e.to_string().contains("already a pack"), "{e}");
}

#[test]
fn import_cli_prints_what_to_review_and_json() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("m");
    write_tree(
        &src,
        &[("1_t.sql", "CREATE TABLE public.t (id int PRIMARY KEY);\n")],
    );
    let out = std::process::Command::new(bin())
        .arg("import")
        .arg("dir")
        .arg(&src)
        .arg(t.path().join("p"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"][0]["id"], "1");
    assert!(v["review"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["what"].as_str().unwrap().contains("no down file")));
    assert!(v["next"][0].as_str().unwrap().starts_with("stepgate lint"));
    let out = std::process::Command::new(bin())
        .args(["import", "flyway"])
        .arg(t.path().join("missing"))
        .arg(t.path().join("q"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!t.path().join("q").exists());
}

#[test]
fn plain_sql_step_rehearses_and_lints() {
    let (db, ci) = world_db("plain_step");
    install_ledger(&ci);
    let m = manifest(
        &db,
        "[[step]]\nid = \"1\"\nname = \"plain\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\n[step.timeouts]\nstatement = \"1min\"\n[step.effects]\ncreate = [\"table public.plain_t\"]\n",
    );
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", "-- no sections, no BEGIN, no SET LOCAL\nCREATE TABLE public.plain_t (id int PRIMARY KEY);\n"),
        ("rollback/01.sql", "DROP TABLE public.plain_t;\n"),
    ]);
    assert!(
        lint_errors(dir.path()).is_empty(),
        "{:?}",
        lint_errors(dir.path())
    );
    let loaded = engine::pack::load(dir.path()).unwrap();
    assert_eq!(loaded.pack.timeouts_for(0).statement.as_secs(), 60);
    assert_eq!(loaded.pack.timeouts_for(0).lock, loaded.pack.timeouts.lock);
    let r = engine::rehearse::run(&o(dir.path(), &ci), "1", false).expect("rehearse");
    assert!(r.passed, "{r:#?}");
    // The same file in the sections profile does not lint.
    let m2 = m.replace(
        "[pack.target]",
        "[pack.lint]\nprofile = \"sections\"\n[pack.target]",
    );
    std::fs::write(dir.path().join("stepgate.toml"), m2).unwrap();
    let e = lint_errors(dir.path());
    assert!(e.iter().any(|x| x.contains("SG010")), "{e:?}");
    assert!(e.iter().any(|x| x.contains("SG012")), "{e:?}");
}

#[test]
fn init_offers_both_profiles_and_new_step_extends_the_pack() {
    let t = tempfile::tempdir().unwrap();
    for (profile, marker) in [("plain", "CREATE TABLE"), ("sections", "-- SECTION A")] {
        let p = t.path().join(profile);
        let out = std::process::Command::new(bin())
            .args(["init", "--profile", profile, "--database", "app", "-q"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m = std::fs::read_to_string(p.join("stepgate.toml")).unwrap();
        assert!(m.contains(&format!("profile = \"{profile}\"")), "{m}");
        // Never assumes an environment; scaffolds a resume gate; no team jargon.
        assert!(!m.lines().any(|l| l.starts_with("environment")), "{m}");
        assert!(m.contains("[gate.resume]"), "{m}");
        let all = format!(
            "{m}{}",
            std::fs::read_to_string(p.join("01_example.sql")).unwrap()
        );
        for jargon in ["doc 9", "sovereign", "SB-", "REHEARSAL-ONLY"] {
            assert!(!all.contains(jargon), "{jargon} in {all}");
        }
        assert!(all.contains(marker));
        assert!(std::fs::read_to_string(p.join(".gitignore"))
            .unwrap()
            .contains(".stepgate/"));
        assert!(
            lint_errors(&p).is_empty(),
            "{profile}: {:?}",
            lint_errors(&p)
        );
        // new-step appends a step in the same profile, still linting clean.
        let out = std::process::Command::new(bin())
            .args(["new-step", "Add email column", "--rollback", "-q", "-p"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let loaded = engine::pack::load(&p).unwrap();
        let s = loaded.pack.step("2").expect("step 2");
        assert_eq!(
            s.file.as_ref().unwrap().get_ref(),
            "02_add_email_column.sql"
        );
        assert_eq!(s.requires_ids(), ["1"]);
        assert_eq!(s.gate_names(), ["owner"]);
        assert!(p.join("rollback/02_add_email_column.sql").exists());
        assert!(
            lint_errors(&p).is_empty(),
            "{profile}: {:?}",
            lint_errors(&p)
        );
    }
    let p = t.path().join("env");
    let out = std::process::Command::new(bin())
        .args(["init", "--environment", "staging", "-q"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let loaded = engine::pack::load(&p).unwrap();
    assert_eq!(
        loaded.pack.manifest.pack.target.environment.as_deref(),
        Some("staging")
    );
}

/// The example pack, retargeted at `db`.
fn dba_pack(db: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dba-scenario");
    let t = tempfile::tempdir().unwrap();
    for rel in [
        "stepgate.toml",
        "01_status.sql",
        "02_status_index.sql",
        "03_fk.sql",
        "04_validate.sql",
        "rollback/01_status.sql",
        "rollback/02_status_index.sql",
        "rollback/03_fk.sql",
    ] {
        let text = std::fs::read_to_string(src.join(rel)).unwrap();
        let text = text.replace("database = \"app\"", &format!("database = \"{db}\""));
        let p = t.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    t
}

const DBA_SCHEMA: &str = "CREATE TABLE public.customers (id bigint PRIMARY KEY);\nCREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL);\nINSERT INTO public.customers VALUES (1), (2);\nINSERT INTO public.orders VALUES (1, 1), (2, 1), (3, 2);\n";

#[test]
fn dba_scenario_example_is_short_lints_clean_and_rehearses() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dba-scenario");
    let mut lines = 0;
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                lines += std::fs::read_to_string(e.path()).unwrap().lines().count();
            }
        }
    }
    assert!(lines < 60, "the DBA scenario is {lines} lines");
    assert!(lint_errors(&src).is_empty(), "{:?}", lint_errors(&src));

    let (db, ci) = empty_db("dba");
    client(&ci).batch_execute(DBA_SCHEMA).unwrap();
    install_ledger(&ci);
    let pack = dba_pack(&db);
    for step in ["1", "3"] {
        let r = engine::rehearse::run(&o(pack.path(), &ci), step, false).expect("rehearse");
        assert!(r.passed, "step {step}: {r:#?}");
    }
    // The concurrent index is no transaction: rehearsal sends it to a scratch copy.
    let e = engine::rehearse::run(&o(pack.path(), &ci), "2", false).unwrap_err();
    assert!(e.to_string().contains("scratch"), "{e}");
}

fn walk_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn evidence_goes_to_the_state_directory_private_and_keyed_by_target_and_pack() {
    let (db, ci) = empty_db("evid");
    client(&ci).batch_execute(DBA_SCHEMA).unwrap();
    install_ledger(&ci);
    let pack = dba_pack(&db);
    let state = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(bin())
            .args(["backup", "--step", "1", "--json", "--db", &ci, "-p"])
            .arg(pack.path())
            .args(extra)
            .env("XDG_STATE_HOME", state.path())
            .env_remove("STEPGATE_EVIDENCE_DIR")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        std::path::PathBuf::from(v["backup"]["dir"].as_str().unwrap())
    };
    let dir = run(&[]);
    let root = std::fs::canonicalize(state.path().join("stepgate/evidence")).unwrap();
    assert!(
        dir.starts_with(&root),
        "{} not under {}",
        dir.display(),
        root.display()
    );
    let rel: Vec<String> = dir
        .strip_prefix(&root)
        .unwrap()
        .iter()
        .map(|c| c.to_string_lossy().to_string())
        .collect();
    assert!(rel[0].starts_with(&format!("{db}@")), "{rel:?}");
    assert_eq!(&rel[1..3], ["dba-scenario", "1"]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut d = dir.clone();
    while d != root {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        d = d.parent().unwrap().to_path_buf();
    }
    let files = walk_files(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("public.orders.dump")),
        "{files:?}"
    );
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // Nothing of it in the pack folder.
    assert!(!pack.path().join(".stepgate").exists());
    // --evidence-dir puts it elsewhere, keyed the same way.
    let other = tempfile::tempdir().unwrap();
    let dir2 = run(&["--evidence-dir", other.path().to_str().unwrap()]);
    let other_root = std::fs::canonicalize(other.path()).unwrap();
    assert!(dir2.starts_with(&other_root), "{}", dir2.display());
    assert!(
        dir2.parent().unwrap().ends_with("dba-scenario/1"),
        "{}",
        dir2.display()
    );
}
