//! The hard steps against a real server: CREATE INDEX CONCURRENTLY (valid, and left
//! invalid then cleaned up), one-way doors, a measured backfill, a retire-not-delete
//! rollback, a table restore from its pre-commit dump, and a scratch round-trip.

mod common;
use common::*;
use stepgate::core::approval::Action;
use stepgate::engine::{self, Error, Options};

fn gates_toml() -> String {
    format!(
        "[gate.owner]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n[gate.one_way]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n[gate.restore]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n"
    )
}

fn pack(db: &str, signers: &str, steps: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let m = manifest(db, &format!("{}{steps}", gates_toml())).replace(
        "[pack.target]",
        "allowed_signers = \"allowed_signers\"\n[pack.target]",
    );
    let mut all: Vec<(&str, &str)> = vec![("stepgate.toml", &m), ("allowed_signers", signers)];
    all.extend_from_slice(files);
    write_pack(&all)
}

fn o(dir: &tempfile::TempDir, ci: &str) -> Options {
    Options {
        pack: dir.path().to_path_buf(),
        db: Some(ci.to_string()),
    }
}

const NONTX_ROLLBACK: &str = "DROP INDEX CONCURRENTLY IF EXISTS public.ix_probe;\n";

#[test]
fn concurrent_index_step_builds_a_valid_index() {
    let (db, ci) = world_db("cic_ok");
    install_ledger(&ci);
    let (_k, key, signers) = register_owner(&ci, &["owner"]);
    let step = "[[step]]\nid = \"1\"\nname = \"index\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ntransactional = false\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"index public.ix_probe\"]\n";
    let dir = pack(&db, &signers, step, &[("01.sql", "CREATE INDEX CONCURRENTLY ix_probe ON public.tac_logical_unit (canonical_address);\n"), ("rollback/01.sql", NONTX_ROLLBACK)]);
    // Rehearsal explains that such a step is rehearsed on a scratch copy.
    let e = engine::rehearse::run(&o(&dir, &ci), "1", false).unwrap_err();
    assert!(e.to_string().contains("stepgate scratch"), "{e}");
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    // Non-transactional steps need no BEGIN..ROLLBACK rehearsal; they still need approvals.
    let r = engine::apply::run(&o(&dir, &ci), "1", &Default::default());
    let r = match r {
        Err(Error::Refused(m)) if m.contains("no rehearsal") => {
            panic!("a non-transactional step cannot be rehearsed in a transaction; apply must not demand it: {m}")
        }
        other => other.unwrap(),
    };
    assert!(r.committed && r.halted.is_none(), "{r:?}");
    assert_eq!(count(&ci, "SELECT count(*) FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE c.relname = 'ix_probe' AND x.indisvalid"), 1);
    // Its transaction-less rollback (DROP INDEX CONCURRENTLY) cannot be rehearsed in a
    // transaction, says where it can, and runs statement by statement under its approval.
    let e = engine::rehearse::run(&o(&dir, &ci), "1", true).unwrap_err();
    assert!(e.to_string().contains("stepgate scratch"), "{e}");
    approve(dir.path(), "1", "owner", Action::Rollback, &key);
    let rb = engine::rollback::run(&o(&dir, &ci), "1", false, true).unwrap();
    assert!(rb[0].committed && rb[0].halted.is_none(), "{:?}", rb[0]);
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'ix_probe'"
        ),
        0
    );
    assert_eq!(
        count(&ci, "SELECT count(*) FROM stepgate.events WHERE fact AND verb = 'rollback' AND result = 'committed'"),
        1
    );
}

#[test]
fn concurrent_unique_index_over_duplicates_is_dropped_and_halts() {
    let (db, ci) = world_db("cic_bad");
    install_ledger(&ci);
    let (_k, key, signers) = register_owner(&ci, &["owner"]);
    client(&ci)
        .batch_execute("UPDATE public.tac_logical_unit SET doc_code = 'dup'")
        .unwrap();
    let step = "[[step]]\nid = \"1\"\nname = \"unique index\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ntransactional = false\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"index public.ix_probe\"]\n";
    let dir = pack(&db, &signers, step, &[("01.sql", "CREATE UNIQUE INDEX CONCURRENTLY ix_probe ON public.tac_logical_unit (doc_code);\n"), ("rollback/01.sql", NONTX_ROLLBACK)]);
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    let r = engine::apply::run(&o(&dir, &ci), "1", &Default::default()).unwrap();
    assert!(!r.committed);
    let h = r.halted.expect("halted");
    assert!(
        h.contains("ix_probe") || h.contains("statement failed"),
        "{h}"
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'ix_probe'"
        ),
        0,
        "the invalid index was dropped"
    );
    assert!(engine::status::run(&o(&dir, &ci)).unwrap().halted.is_some());
}

#[test]
fn one_way_door_needs_its_gate_and_refuses_rollback() {
    let (db, ci) = world_db("oneway");
    install_ledger(&ci);
    let (_k, key, signers) = register_owner(&ci, &["owner", "one_way"]);
    let step = "[[step]]\nid = \"1\"\nname = \"drop legacy column\"\nfile = \"01.sql\"\ngates = [\"owner\"]\none_way = true\nirreversible_reason = \"the column's data is gone once dropped\"\n[step.effects]\ndrop = [\"column public.tac_logical_unit.section_no\"]\n";
    let dir = pack(
        &db,
        &signers,
        step,
        &[(
            "01.sql",
            &step_file(
                "SELECT 1;",
                "ALTER TABLE public.tac_logical_unit DROP COLUMN section_no;",
            ),
        )],
    );
    let op = o(&dir, &ci);
    assert!(engine::rehearse::run(&op, "1", false).unwrap().passed);
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    let msg = engine::apply::run(&op, "1", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("gate one_way"), "{msg}");
    let g = engine::gates::evaluate(
        &mut engine::session::Session::open(&op, "gates", engine::session::Lock::None).unwrap(),
        "1",
        Action::Apply,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(
        g.one_way_door.as_deref(),
        Some("the column's data is gone once dropped")
    );
    approve(dir.path(), "1", "one_way", Action::Apply, &key);
    assert!(
        engine::apply::run(&op, "1", &Default::default())
            .unwrap()
            .committed
    );
    let st = engine::status::run(&op).unwrap();
    assert!(st.steps[0].one_way);
    let e = engine::rollback::run(&op, "1", false, true).unwrap_err();
    assert!(
        e.to_string().contains("one-way door") && e.to_string().contains("data is gone"),
        "{e}"
    );
}

#[test]
fn measured_backfill_reports_every_updated_at_bumped() {
    let (db, ci) = world_db("measure");
    install_ledger(&ci);
    let (_k, key, signers) = register_owner(&ci, &["owner"]);
    let n = count(&ci, "SELECT count(*) FROM public.tac_logical_unit");
    let step = format!(
        "[[step]]\nid = \"1\"\nname = \"backfill sort order\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n[step.effects]\nrows = {{ \"public.tac_logical_unit\" = {{ update = {n} }} }}\n[[step.measure]]\nname = \"lu_updated_at\"\nsql = \"SELECT id, updated_at FROM public.tac_logical_unit ORDER BY id\"\n"
    );
    // Yesterday's timestamps, so the trigger's bump is visible.
    client(&ci).batch_execute("ALTER TABLE public.tac_logical_unit DISABLE TRIGGER trg_tac_birth_gate_lu; UPDATE public.tac_logical_unit SET updated_at = now() - interval '1 day'; ALTER TABLE public.tac_logical_unit ENABLE TRIGGER trg_tac_birth_gate_lu").unwrap();
    let dir = pack(&db, &signers, &step, &[
        ("01.sql", &step_file("SELECT 1;", "UPDATE public.tac_logical_unit SET sort_order = sort_order + 1 WHERE sort_order IS NOT NULL;")),
        ("rollback/01.sql", &rollback_file("UPDATE public.tac_logical_unit SET sort_order = sort_order - 1 WHERE sort_order IS NOT NULL;")),
    ]);
    let op = o(&dir, &ci);
    assert!(engine::rehearse::run(&op, "1", false).unwrap().passed);
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    let r = engine::apply::run(&op, "1", &Default::default()).unwrap();
    assert!(r.committed, "{r:?}");
    let m = &r.measurements[0];
    assert_eq!(m.rows_before as i64, n);
    assert_eq!(m.rows_changed as i64, n, "{m:?}");
    let ua = m.columns.iter().find(|c| c.column == "updated_at").unwrap();
    assert_ne!(ua.max_before, ua.max_after);
    // Evidence: CSV files with their sha256.
    // Evidence lives under <root>/<database>@<system id>/<pack>/<step>.
    let target = std::fs::read_dir(dir.path().join(".stepgate/evidence"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let csv = std::fs::read_dir(target.join("test-pack/1"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("measure-"))
        .unwrap()
        .path();
    let after = std::fs::read(csv.join("lu_updated_at.after.csv")).unwrap();
    assert_eq!(
        stepgate::engine::pack::sha256_hex(&after),
        m.csv_after_sha256
    );
}

#[test]
fn retire_not_delete_rollback_and_table_restore() {
    let (db, ci) = world_db("retire");
    install_ledger(&ci);
    let (_k, key, signers) = register_owner(&ci, &["owner", "restore"]);
    let cols = client(&ci).query_one("SELECT string_agg(column_name, ',') FROM information_schema.columns WHERE table_name = 'apr_action_types'", &[]).unwrap().get::<_, String>(0);
    assert!(cols.contains("retired_at"), "{cols}");
    // The F-83-1 re-wire first (or the insert fails), then one action type; the rollback retires it.
    let body = "DROP TRIGGER trg_birth_apr_action_types ON public.apr_action_types;\nCREATE TRIGGER trg_birth_apr_action_types AFTER INSERT ON public.apr_action_types FOR EACH ROW EXECUTE FUNCTION fn_birth_registry_auto('action_code');\nINSERT INTO public.apr_action_types (action_code, label, risk_level, handler_ref, status) SELECT 'probe_action', 'Probe', 'high', 'unimplemented', 'active';";
    let step = "[[step]]\nid = \"1\"\nname = \"probe action\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\nrollback_keeps = [\"trigger public.apr_action_types.trg_birth_apr_action_types\", \"rows public.apr_action_types\"]\n[step.effects]\nalter = [\"trigger public.apr_action_types.trg_birth_apr_action_types\"]\nrows = { \"public.apr_action_types\" = { insert = 1 }, \"public.birth_registry\" = { insert = 1 } }\n";
    let m = manifest(&db, &format!("{}{step}", gates_toml())).replace("[pack.target]", "allowed_signers = \"allowed_signers\"\norganic = [\"public.birth_registry\"]\n[pack.target]");
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("allowed_signers", &signers),
        ("01.sql", &step_file("SELECT 1;", body)),
        ("rollback/01.sql", &rollback_file("UPDATE public.apr_action_types SET status = 'retired', retired_at = now() WHERE action_code = 'probe_action' AND status = 'active';")),
    ]);
    let op = o(&dir, &ci);
    let r = engine::rehearse::run(&op, "1", false).unwrap();
    if !r.passed {
        // The fixture's column list decides the INSERT; show what failed.
        panic!("{:?} {:?}", r.failure, r.mismatches);
    }
    approve(dir.path(), "1", "owner", Action::Apply, &key);
    assert!(
        engine::apply::run(&op, "1", &Default::default())
            .unwrap()
            .committed
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM apr_action_types"), 7);
    assert!(engine::rehearse::run(&op, "1", true).unwrap().passed);
    approve(dir.path(), "1", "owner", Action::Rollback, &key);
    let rb = engine::rollback::run(&op, "1", false, true).unwrap();
    assert!(rb[0].committed, "{:?}", rb[0]);
    assert_eq!(count(&ci, "SELECT count(*) FROM apr_action_types"), 7);
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM apr_action_types WHERE status = 'retired'"
        ),
        1
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM pg_trigger WHERE tgname = 'trg_birth_apr_action_types' AND pg_get_triggerdef(oid) LIKE '%action_code%'"), 1);
    // Last resort: restore the table from the step's pre-commit dump, under the restore gate.
    let no_gate = std::process::Command::new(bin())
        .args([
            "restore",
            "--step",
            "1",
            "--table",
            "public.apr_action_types",
            "--db",
            &ci,
            "-p",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        no_gate.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&no_gate.stderr)
    );
    approve(dir.path(), "1", "restore", Action::Restore, &key);
    let out = std::process::Command::new(bin())
        .args([
            "restore",
            "--step",
            "1",
            "--table",
            "public.apr_action_types",
            "--db",
            &ci,
            "-p",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM apr_action_types"), 6);
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'restore' AND result = 'restored'"
        ),
        1
    );
}

#[test]
fn scratch_round_trip_of_a_multi_step_pack_ends_with_equal_fingerprints() {
    let (db, ci) = world_db("scratch");
    install_ledger(&ci);
    let steps = "[[step]]\nid = \"1\"\nname = \"ruleset\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"table public.governance_ruleset\"]\n[[step]]\nid = \"2\"\nname = \"candidates\"\nfile = \"02.sql\"\nrollback = \"rollback/02.sql\"\nrequires = [\"1\"]\ngates = [\"owner\"]\n[step.effects]\ncreate = [\"table public.governance_candidate_state\", \"view public.v_candidates\"]\n";
    let dir = pack(&db, "", steps, &[
        ("01.sql", &step_file("SELECT 1;", "CREATE TABLE public.governance_ruleset (version text PRIMARY KEY);")),
        ("02.sql", &step_file("SELECT 1;", "CREATE TABLE public.governance_candidate_state (id bigint PRIMARY KEY, v text REFERENCES public.governance_ruleset(version));\nCREATE VIEW public.v_candidates AS SELECT id FROM public.governance_candidate_state;")),
        ("rollback/01.sql", &rollback_file("DROP TABLE public.governance_ruleset;")),
        ("rollback/02.sql", &rollback_file("DROP VIEW public.v_candidates;\nDROP TABLE public.governance_candidate_state;")),
    ]);
    let r = engine::scratch::run(
        &o(&dir, &ci),
        &engine::scratch::Source::FromDb,
        &["public.apr_action_types".into()],
        false,
        false,
    )
    .unwrap();
    assert!(r.round_trip_equal, "{r:?}");
    assert_eq!(
        r.rows
            .iter()
            .map(|x| (x.apply.as_str(), x.rollback.as_str()))
            .collect::<Vec<_>>(),
        vec![("committed", "committed"), ("committed", "committed")]
    );
    // The real target was only read.
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM pg_class WHERE relname = 'governance_ruleset'"
        ),
        0
    );
    assert_eq!(
        count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE pack = 'test-pack'"
        ),
        0
    );
}
