//! Table-scoped backup and restore against a real server: one pg_dump per table,
//! SHA256SUMS, the ledger event, an exact restore that fires no trigger, and the
//! refusals (modified dump, orphaned foreign keys, missing table).

mod common;
use common::*;
use sha2::{Digest, Sha256};
use stepgate::db::backup as dbb;
use stepgate::db::connect::Target;
use stepgate::engine::session::{Lock, Session};
use stepgate::engine::{self, Error, Options};

// `..Default::default()` keeps this compiling while `Options` grows fields.
#[allow(clippy::needless_update)]
fn opts(dir: &tempfile::TempDir, ci: &str) -> Options {
    Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.to_string()),
        ..Default::default()
    }
}

/// A one-step pack whose effects write apr_action_types and (by trigger) birth_registry.
fn pack(db: &str, effects: &str) -> tempfile::TempDir {
    let m = manifest(db, &format!("[[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\n{effects}"));
    write_pack(&[
        ("stepgate.toml", &m),
        ("01.sql", &step_file("SELECT 1;", "SELECT 1;")),
        ("rollback/01.sql", &rollback_file("SELECT 1;")),
    ])
}

const TWO_TABLES: &str = "[step.effects]\nrows = { \"public.apr_action_types\" = { insert = 1 }, \"public.birth_registry\" = { insert = 1 } }";

fn session(dir: &tempfile::TempDir, ci: &str) -> Session {
    Session::open(&opts(dir, ci), "backup", Lock::Pack).expect("open session")
}

/// (row count, md5 of every row in a fixed order).
fn fingerprint(ci: &str, table: &str, order: &str) -> (i64, String) {
    let r = client(ci)
        .query_one(&format!("SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY {order}), '')) FROM {table} t"), &[])
        .expect("fingerprint");
    (r.get(0), r.get(1))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn toc(file: &std::path::Path) -> String {
    let out = std::process::Command::new(dbb::pg_tool("pg_restore"))
        .arg("--list")
        .arg(file)
        .output()
        .expect("pg_restore --list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn backup_dumps_each_table_checksums_and_records_the_event() {
    let (db, ci) = world_db("bk_two");
    install_ledger(&ci);
    let dir = pack(
        &db,
        &format!("backup = [\"public.governance_relations\"]\n{TWO_TABLES}"),
    );
    let mut s = session(&dir, &ci);
    let r = engine::backup::run(&mut s, "1", false).expect("backup");
    let b = &r.backup;
    // The evidence folder: <evidence_dir>/<database>@<system id>/<pack id>/<step>/<YYYYmmddTHHMMSSZ>,
    // private to its owner.
    let stamp = b.dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        regex::Regex::new(r"^\d{8}T\d{6}Z$")
            .unwrap()
            .is_match(&stamp),
        "{stamp}"
    );
    let target = format!("{db}@{}", s.identity.system_identifier);
    let parent = std::fs::canonicalize(
        dir.path()
            .join(".stepgate/evidence")
            .join(&target)
            .join("test-pack/1"),
    )
    .unwrap();
    assert_eq!(b.dir.parent().unwrap(), parent);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&b.dir), 0o700);
        assert_eq!(mode(&parent), 0o700);
        for f in &b.files {
            assert_eq!(mode(&f.file), 0o600, "{}", f.file.display());
        }
        assert_eq!(mode(&b.dir.join("SHA256SUMS")), 0o600);
    }

    let tables: Vec<&str> = b.files.iter().map(|f| f.table.as_str()).collect();
    assert_eq!(
        tables,
        vec![
            "public.apr_action_types",
            "public.birth_registry",
            "public.governance_relations"
        ]
    );
    for f in &b.files {
        assert!(f.rows_listed);
        assert_eq!(f.file.parent().unwrap(), b.dir);
        assert_eq!(f.file_name(), format!("{}.dump", f.table));
        let list = toc(&f.file);
        let (schema, name) = f.table.split_once('.').unwrap();
        assert!(
            list.contains(&format!(" TABLE DATA {schema} {name} ")),
            "{list}"
        );
        // Exactly one table's data per file.
        assert_eq!(
            list.lines().filter(|l| l.contains(" TABLE DATA ")).count(),
            1,
            "{list}"
        );
        let bytes = std::fs::read(&f.file).unwrap();
        assert_eq!(f.bytes, bytes.len() as u64);
        assert_eq!(f.sha256, sha256_hex(&bytes));
        dbb::verify_dump(&f.file, &f.sha256).expect("verify_dump");
    }
    assert_eq!(b.total_bytes, b.files.iter().map(|f| f.bytes).sum::<u64>());

    // SHA256SUMS in sha256sum format, matching every file.
    let sums = std::fs::read(b.dir.join("SHA256SUMS")).unwrap();
    let text = String::from_utf8(sums.clone()).unwrap();
    let expect: String = b
        .files
        .iter()
        .map(|f| {
            format!(
                "{}  {}\n",
                sha256_hex(&std::fs::read(&f.file).unwrap()),
                f.file_name()
            )
        })
        .collect();
    assert_eq!(text, expect);
    if let Ok(out) = std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&b.dir)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // The ledger event: verb backup, result verified, sizes and hashes, sha of SHA256SUMS.
    let row = client(&ci)
        .query_one("SELECT id, step, result, file_sha256, details::text FROM stepgate.events WHERE verb = 'backup'", &[])
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), r.event_id);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("1"));
    assert_eq!(row.get::<_, String>(2), "verified");
    assert_eq!(row.get::<_, Option<String>>(3), Some(sha256_hex(&sums)));
    let details: serde_json::Value = serde_json::from_str(&row.get::<_, String>(4)).unwrap();
    assert_eq!(details["dir"].as_str(), Some(b.dir.to_str().unwrap()));
    assert_eq!(details["total_bytes"].as_u64(), Some(b.total_bytes));
    let files = details["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for (j, f) in files.iter().zip(&b.files) {
        assert_eq!(j["table"].as_str(), Some(f.table.as_str()));
        assert_eq!(j["file"].as_str(), Some(f.file_name().as_str()));
        assert_eq!(j["bytes"].as_u64(), Some(f.bytes));
        assert_eq!(j["sha256"].as_str(), Some(f.sha256.as_str()));
    }
    let events = s.events().unwrap();
    assert_eq!(
        engine::backup::latest_backup(&events, "1").map(|e| e.id),
        Some(r.event_id)
    );
    assert!(engine::backup::latest_backup(&events, "2").is_none());
}

#[test]
fn restore_puts_back_exactly_the_dumped_rows_without_firing_triggers() {
    let (db, ci) = world_db("bk_restore");
    install_ledger(&ci);
    let dir = pack(&db, TWO_TABLES);
    let mut s = session(&dir, &ci);
    let apr0 = fingerprint(&ci, "public.apr_action_types", "t.action_code");
    let birth0 = fingerprint(&ci, "public.birth_registry", "t.id");
    engine::backup::run(&mut s, "1", false).expect("backup");

    // What a committed step (and someone after it) might have done to the table.
    // F-83-1 makes every INSERT into apr_action_types fail, so the row goes in with triggers off.
    client(&ci)
        .batch_execute(
            "UPDATE public.apr_action_types SET label = 'changed', handler_ref = 'x' WHERE action_code = 'amend_law_clause';
             SET session_replication_role = replica;
             INSERT INTO public.apr_action_types (action_code, risk_level) VALUES ('new_code', 'low');
             RESET session_replication_role;",
        )
        .unwrap();
    assert_ne!(
        fingerprint(&ci, "public.apr_action_types", "t.action_code"),
        apr0
    );
    let birth_before = fingerprint(&ci, "public.birth_registry", "t.id");
    assert_eq!(birth_before, birth0);

    // `--table` takes the bare name too. Were the birth trigger to fire on the re-inserted
    // rows, F-83-1 would abort the restore; birth_registry must stay untouched.
    let r = engine::backup::restore(&mut s, "1", "apr_action_types").expect("restore");
    assert_eq!(r.table, "public.apr_action_types");
    assert_eq!(
        (r.rows_before, r.rows_after, r.rows_in_dump),
        (7, 6, Some(6))
    );
    assert_eq!(
        fingerprint(&ci, "public.apr_action_types", "t.action_code"),
        apr0
    );
    assert_eq!(
        fingerprint(&ci, "public.birth_registry", "t.id"),
        birth_before
    );

    // birth_registry itself: rows deleted and added, then restored by its qualified name.
    client(&ci)
        .batch_execute(
            "DELETE FROM public.birth_registry WHERE id IN (SELECT id FROM public.birth_registry ORDER BY id LIMIT 3);
             INSERT INTO public.birth_registry (entity_code, collection_name) VALUES ('X-1', 'x'), ('X-2', 'x');",
        )
        .unwrap();
    assert_ne!(fingerprint(&ci, "public.birth_registry", "t.id"), birth0);
    let r = engine::backup::restore(&mut s, "1", "public.birth_registry")
        .expect("restore birth_registry");
    assert_eq!(r.rows_before, birth0.0 - 1);
    assert_eq!(r.rows_after, birth0.0);
    assert_eq!(fingerprint(&ci, "public.birth_registry", "t.id"), birth0);

    // Both restores are in the ledger with their row counts and the dump's sha256.
    let rows = client(&ci)
        .query("SELECT result, file_sha256, details->>'table', (details->>'rows_after')::bigint FROM stepgate.events WHERE verb = 'restore' ORDER BY id", &[])
        .unwrap();
    let got: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("restored".into(), "public.apr_action_types".into(), 6),
            ("restored".into(), "public.birth_registry".into(), birth0.0)
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.get::<_, Option<String>>(1).is_some_and(|s| s.len() == 64)));
    // Nothing left open.
    assert_eq!(count(&ci, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"), 0);
}

#[test]
fn restore_refuses_a_modified_dump_and_leaves_the_table_alone() {
    let (db, ci) = world_db("bk_tamper");
    install_ledger(&ci);
    let dir = pack(&db, TWO_TABLES);
    let mut s = session(&dir, &ci);
    let r = engine::backup::run(&mut s, "1", false).expect("backup");
    let dump = r
        .backup
        .files
        .iter()
        .find(|f| f.table == "public.apr_action_types")
        .unwrap();
    client(&ci)
        .batch_execute("UPDATE public.apr_action_types SET label = 'changed'")
        .unwrap();
    let changed = fingerprint(&ci, "public.apr_action_types", "t.action_code");

    // One byte appended: still a readable archive, but not the bytes the ledger recorded.
    let mut bytes = std::fs::read(&dump.file).unwrap();
    bytes.push(0);
    std::fs::write(&dump.file, &bytes).unwrap();
    assert!(matches!(
        dbb::verify_dump(&dump.file, &dump.sha256),
        Err(dbb::BackupError::ChecksumMismatch { .. })
    ));
    let err = engine::backup::restore(&mut s, "1", "public.apr_action_types").unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert!(
        err.to_string().contains("sha256") && err.to_string().contains("modified"),
        "{err}"
    );
    assert_eq!(
        fingerprint(&ci, "public.apr_action_types", "t.action_code"),
        changed
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM stepgate.events WHERE verb = 'restore' AND result = 'failed' AND details->>'error' LIKE '%sha256%'"), 1);

    // A deleted dump is refused too.
    std::fs::remove_file(&dump.file).unwrap();
    let err = engine::backup::restore(&mut s, "1", "apr_action_types").unwrap_err();
    assert!(err.to_string().contains("no longer exists"), "{err}");
    // A table no backup holds.
    let err = engine::backup::restore(&mut s, "1", "dot_tools").unwrap_err();
    assert!(
        err.to_string()
            .contains("public.apr_action_types, public.birth_registry"),
        "{err}"
    );
}

#[test]
fn restore_refuses_to_orphan_a_foreign_key() {
    let (db, ci) = world_db("bk_fk");
    install_ledger(&ci);
    let dir = pack(&db, TWO_TABLES);
    let mut s = session(&dir, &ci);
    engine::backup::run(&mut s, "1", false).expect("backup");
    // After the backup, a new action type and a request that uses it.
    client(&ci)
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO public.apr_action_types (action_code, risk_level) VALUES ('new_code', 'low');
             INSERT INTO public.approval_requests (request_code, action, proposed_action_code, requested_by) VALUES ('APR-9999', 'add', 'new_code', 'GOV-001');",
        )
        .unwrap();
    let before = fingerprint(&ci, "public.apr_action_types", "t.action_code");
    let err = engine::backup::restore(&mut s, "1", "apr_action_types").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("approval_requests_proposed_action_code_fkey")
            && msg.contains("1 row(s) of public.approval_requests"),
        "{msg}"
    );
    assert!(msg.contains("rolled back"), "{msg}");
    assert_eq!(
        fingerprint(&ci, "public.apr_action_types", "t.action_code"),
        before
    );
}

#[test]
fn step_with_nothing_to_back_up_still_records_the_event() {
    let (db, ci) = world_db("bk_empty");
    install_ledger(&ci);
    // Rows of a table the step creates: it does not exist yet, so nothing to dump.
    let dir = pack(&db, "[step.effects]\ncreate = [\"table public.brand_new\"]\nrows = { \"public.brand_new\" = { insert = 1 } }");
    let mut s = session(&dir, &ci);
    let r = engine::backup::run(&mut s, "1", false).expect("backup");
    assert!(r.backup.files.is_empty());
    assert_eq!(r.backup.total_bytes, 0);
    let row = client(&ci)
        .query_one(
            "SELECT result, details::text FROM stepgate.events WHERE verb = 'backup'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "verified");
    let d: serde_json::Value = serde_json::from_str(&row.get::<_, String>(1)).unwrap();
    assert_eq!(d["files"].as_array().map(Vec::len), Some(0));
    assert!(
        d["note"].as_str().unwrap().contains("nothing to back up"),
        "{d}"
    );
    assert_eq!(
        d["skipped_not_existing"],
        serde_json::json!(["public.brand_new"])
    );
    let err = engine::backup::restore(&mut s, "1", "brand_new").unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
}

#[test]
fn odd_names_are_quoted_pattern_characters_are_literal_and_missing_tables_named() {
    let (_db, ci) = world_db("bk_names");
    client(&ci)
        .batch_execute(
            r#"CREATE TABLE public."a*" (id int PRIMARY KEY, v text);
               CREATE TABLE public.ab (id int);
               CREATE TABLE public.a_decoy (id int);
               CREATE SCHEMA "My.Schema";
               CREATE TABLE "My.Schema"."we""ird ?name" ("Col ""1""" int, "select" text);
               INSERT INTO public."a*" VALUES (1, 'one'), (2, E'two\nlines\ttab\\');
               INSERT INTO public.ab VALUES (1);
               INSERT INTO "My.Schema"."we""ird ?name" VALUES (1, 'x'), (NULL, NULL);"#,
        )
        .unwrap();
    let target = Target::resolve(Some(&format!("{ci} password=s3cretpw"))).unwrap();
    let out = tempfile::tempdir().unwrap();
    let tables = vec![
        "public.a*".to_string(),
        "My.Schema.we\"ird ?name".to_string(),
    ];
    let b = dbb::dump_tables(&target, &tables, out.path(), false).expect("dump");
    assert_eq!(b.files.len(), 2);
    let star = &b.files[0];
    assert_eq!(star.file_name(), "public.a%2A.dump");
    let list = toc(&star.file);
    let data: Vec<&str> = list
        .lines()
        .filter(|l| l.contains(" TABLE DATA "))
        .collect();
    assert_eq!(data.len(), 1, "{list}");
    assert!(data[0].contains("TABLE DATA public a* "), "{list}");
    assert_eq!(
        b.files[1].file_name(),
        "My%2ESchema.we%22ird%20%3Fname.dump"
    );

    // Round trip through odd names, embedded newlines, tabs, backslashes and NULLs.
    let fa = fingerprint(&ci, r#"public."a*""#, "t.id");
    let fw = fingerprint(&ci, r#""My.Schema"."we""ird ?name""#, "t::text");
    client(&ci)
        .batch_execute(
            r#"DELETE FROM public."a*"; INSERT INTO "My.Schema"."we""ird ?name" VALUES (3, 'y');"#,
        )
        .unwrap();
    let r = dbb::restore_table(&target, &star.file, "public.a*", &star.sha256).expect("restore a*");
    assert_eq!(
        (r.rows_before, r.rows_after, r.rows_in_dump),
        (0, 2, Some(2))
    );
    let w = &b.files[1];
    let r = dbb::restore_table(&target, &w.file, "My.Schema.we\"ird ?name", &w.sha256)
        .expect("restore odd");
    assert_eq!((r.rows_before, r.rows_after), (3, 2));
    assert_eq!(fingerprint(&ci, r#"public."a*""#, "t.id"), fa);
    assert_eq!(
        fingerprint(&ci, r#""My.Schema"."we""ird ?name""#, "t::text"),
        fw
    );
    // A dump restores only into its own table.
    let err = dbb::restore_table(&target, &star.file, "public.ab", &star.sha256).unwrap_err();
    assert!(err.to_string().contains("no data for public.ab"), "{err}");

    // A missing table is named, a view is not a table, and the password never shows.
    let err = dbb::dump_tables(
        &target,
        &["public.no_such_table".to_string()],
        out.path(),
        false,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("public.no_such_table") && msg.contains("does not exist"),
        "{msg}"
    );
    assert!(!msg.contains("s3cretpw"));
    client(&ci)
        .batch_execute("CREATE VIEW public.v AS SELECT 1 AS x")
        .unwrap();
    let err = dbb::dump_tables(&target, &["public.v".to_string()], out.path(), false).unwrap_err();
    assert!(err.to_string().contains("public.v is a view"), "{err}");
    let bad = Target::resolve(Some(&format!(
        "{} password=s3cretpw",
        ci.replace("dbname=", "dbname=nope_")
    )))
    .unwrap();
    let err = dbb::dump_tables(&bad, &["public.ab".to_string()], out.path(), false).unwrap_err();
    assert!(!err.to_string().contains("s3cretpw"), "{err}");
}

#[test]
fn tables_for_step_unions_effects_and_keeps_existing_tables() {
    let m = manifest(
        "d",
        r#"[[step]]
id = "1"
name = "one"
file = "01.sql"
backup = ["extra", "Other.\"Keep\""]
[step.effects]
create = ["table public.fresh", "column public.kept.c"]
alter = ["column public.altered.c", "constraint public.altered.k", "table public.renamed"]
drop = ["table public.dropped", "trigger public.trig_tab.t", "index public.some_idx"]
rows = { "public.fresh" = { insert = 1 }, "public.written" = { update = 2 } }
"#,
    );
    let p = stepgate::core::manifest::parse("m", &m, std::path::Path::new(".")).unwrap();
    let all = engine::backup::tables_for_step(&p, 0, &|_| true);
    assert_eq!(
        all,
        vec![
            "other.Keep",
            "public.altered",
            "public.dropped",
            "public.extra",
            "public.fresh",
            "public.renamed",
            "public.trig_tab",
            "public.written"
        ]
    );
    let existing = engine::backup::tables_for_step(&p, 0, &|t| t != "public.fresh");
    assert!(!existing.contains(&"public.fresh".to_string()));
    assert_eq!(existing.len(), 7);
    assert!(engine::backup::tables_for_step(&p, 5, &|_| true).is_empty());
}
