//! The catalog snapshot against a real server: naming, exclusions, sensitivity to each kind of
//! change, insensitivity to rolled-back and non-transactional work, and transaction behaviour.

mod common;

use postgres::{Client, NoTls};
use stepgate::core::catalog::{diff, CatalogDiff, Snapshot};
use stepgate::core::objects::{ObjKind, ObjectRef};
use stepgate::db::snapshot;

fn connect(ci: &str) -> Client {
    Client::connect(ci, NoTls).expect("connect")
}

fn r(text: &str) -> ObjectRef {
    ObjectRef::parse(text).expect("object ref")
}

fn take(c: &mut Client) -> Snapshot {
    snapshot::take(c).expect("snapshot")
}

/// A small database with one of most things, for the change tests.
fn small_db() -> Client {
    let (_name, ci) = common::empty_db("snap");
    let mut c = connect(&ci);
    c.batch_execute(
        "CREATE TABLE public.t (id int PRIMARY KEY, c text NOT NULL DEFAULT 'x');
         CREATE SEQUENCE public.s;
         CREATE FUNCTION public.f(a text) RETURNS text LANGUAGE sql AS $$ SELECT a $$;
         CREATE FUNCTION public.tf() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER trg BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.tf();
         CREATE VIEW public.v AS SELECT id, c FROM public.t;",
    )
    .expect("setup");
    c
}

/// Runs `sql`, and returns the diff it made; asserts the fingerprint moved.
fn change(c: &mut Client, sql: &str) -> CatalogDiff {
    let before = take(c);
    c.batch_execute(sql).expect(sql);
    let after = take(c);
    assert_ne!(
        before.fingerprint(),
        after.fingerprint(),
        "`{sql}` should change the fingerprint"
    );
    diff(&before, &after)
}

fn refs(list: &[&str]) -> Vec<ObjectRef> {
    let mut v: Vec<ObjectRef> = list.iter().map(|s| r(s)).collect();
    v.sort_by_key(|o| o.to_string());
    v
}

fn changed_refs(d: &CatalogDiff) -> Vec<ObjectRef> {
    d.changed.iter().map(|c| c.object.clone()).collect()
}

fn changed_attrs(d: &CatalogDiff) -> Vec<String> {
    d.changed
        .iter()
        .flat_map(|c| c.changes.iter().map(|a| a.attr.clone()))
        .collect()
}

#[test]
fn world_snapshot_names_objects_and_skips_stepgate() {
    let (_name, ci) = common::world_db("snapw");
    let mut c = connect(&ci);
    c.batch_execute(
        "CREATE SCHEMA stepgate;
         CREATE TABLE stepgate.x (id int PRIMARY KEY);
         CREATE FUNCTION stepgate.g() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE VIEW stepgate.xv AS SELECT id FROM stepgate.x;
         CREATE FUNCTION public.add_tax(amount numeric, rate double precision, note character varying)
             RETURNS numeric LANGUAGE sql AS $$ SELECT amount * (1 + rate::numeric) $$;
         CREATE VIEW public.pending_requests AS
             SELECT id, status FROM public.approval_requests WHERE status = 'pending';",
    )
    .expect("setup");
    let s = take(&mut c);

    for want in [
        "schema public",
        "schema sandbox_tac",
        "table public.apr_action_types",
        "trigger public.apr_action_types.trg_birth_apr_action_types",
        "function public.fn_birth_registry_auto()",
        "function public.add_tax(numeric,double precision,character varying)",
        "view public.pending_requests",
        "column public.birth_registry.entity_code",
        "constraint public.birth_registry.birth_registry_entity_code_unique",
        "index public.birth_registry_collection_name_idx",
        "sequence public.birth_registry_id_seq",
        "extension plpgsql",
        "event trigger evt_trigger_guard_ddl",
    ] {
        assert!(s.contains(&r(want)), "snapshot lacks `{want}`");
    }

    let trg = s
        .get(&r(
            "trigger public.apr_action_types.trg_birth_apr_action_types",
        ))
        .expect("trigger");
    assert_eq!(trg.attrs["function"], "public.fn_birth_registry_auto()");
    assert_eq!(trg.attrs["enabled"], "O");
    assert!(trg.attrs["definition"].starts_with("CREATE TRIGGER trg_birth_apr_action_types"));

    let id = s
        .get(&r("column public.birth_registry.id"))
        .expect("column");
    assert_eq!(id.attrs["type"], "bigint");
    assert_eq!(id.attrs["identity"], "d");
    assert_eq!(id.attrs["not_null"], "true");
    assert!(!id.attrs.contains_key("attnum"));
    let seq = s
        .get(&r("sequence public.birth_registry_id_seq"))
        .expect("identity sequence");
    assert_eq!(seq.attrs["owned_by"], "public.birth_registry.id");
    assert!(!seq.attrs.contains_key("last_value"));

    let f = s
        .get(&r(
            "function public.add_tax(numeric, double precision, character varying)",
        ))
        .expect("function");
    assert_eq!(f.attrs["kind"], "f");
    assert_eq!(f.attrs["language"], "sql");
    assert_eq!(f.attrs["returns"], "numeric");
    assert_eq!(f.attrs["body_md5"].len(), 32);

    let t = s.get(&r("table public.apr_action_types")).expect("table");
    assert!(
        t.attrs["acl"].contains("directus=arwd/"),
        "acl: {}",
        t.attrs["acl"]
    );
    assert_eq!(t.attrs["owner"], "postgres");

    // Nothing of schema stepgate, nor of the system schemas.
    assert!(!s.contains(&r("schema stepgate")));
    assert!(!s.contains(&r("table stepgate.x")));
    for obj in s.objects.values() {
        let o = obj.object_ref();
        let schema = o.schema().unwrap_or("");
        assert!(
            !["stepgate", "pg_catalog", "information_schema"].contains(&schema)
                && !schema.starts_with("pg_toast")
                && !schema.starts_with("pg_temp"),
            "unexpected {o}"
        );
    }

    // Every key is a name in the objects.rs grammar: it parses back to itself.
    for (key, obj) in &s.objects {
        let parsed = ObjectRef::parse(key).expect(key);
        assert_eq!(parsed, obj.object_ref(), "`{key}` does not round-trip");
        assert_eq!(&parsed.to_string(), key);
    }

    // As many tables as information_schema counts (outside stepgate).
    let expected: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables
              WHERE table_type = 'BASE TABLE'
                AND table_schema NOT IN ('stepgate', 'pg_catalog', 'information_schema')",
            &[],
        )
        .expect("count")
        .get(0);
    let tables = s
        .objects
        .values()
        .filter(|o| o.kind == ObjKind::Table)
        .count();
    assert_eq!(tables as i64, expected);
    assert!(tables > 150, "the world has some 180 tables, got {tables}");
}

#[test]
fn two_snapshots_agree() {
    let (_name, ci) = common::world_db("snap2");
    let mut c = connect(&ci);
    let a = take(&mut c);
    let b = take(&mut c);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert!(diff(&a, &b).is_empty());
    // A different session with other settings sees the same catalog the same way.
    let mut other = connect(&ci);
    other
        .batch_execute(
            "SET search_path = sandbox_tac; SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Tokyo'",
        )
        .expect("settings");
    let c2 = take(&mut other);
    assert_eq!(a.fingerprint(), c2.fingerprint(), "{:#?}", diff(&a, &c2));
    // ... and its settings are restored afterwards.
    let sp: String = other
        .query_one("SHOW search_path", &[])
        .expect("show")
        .get(0);
    assert_eq!(sp, "sandbox_tac");
    let tz: String = other.query_one("SHOW TimeZone", &[]).expect("show").get(0);
    assert_eq!(tz, "Asia/Tokyo");
}

#[test]
fn each_change_is_named() {
    let mut c = small_db();

    let d = change(&mut c, "CREATE TABLE public.t2 (a int)");
    assert_eq!(d.added, refs(&["table public.t2", "column public.t2.a"]));
    assert!(d.removed.is_empty() && d.changed.is_empty(), "{d:#?}");

    let d = change(&mut c, "ALTER TABLE public.t ADD COLUMN c2 int");
    assert_eq!(d.added, vec![r("column public.t.c2")]);
    assert!(d.removed.is_empty() && d.changed.is_empty(), "{d:#?}");

    let d = change(
        &mut c,
        "CREATE OR REPLACE FUNCTION public.f(a text) RETURNS text LANGUAGE sql AS $$ SELECT upper(a) $$",
    );
    assert!(d.added.is_empty() && d.removed.is_empty(), "{d:#?}");
    assert_eq!(changed_refs(&d), vec![r("function public.f(text)")]);
    assert_eq!(changed_attrs(&d), vec!["body_md5".to_string()]);

    let d = change(&mut c, "ALTER TABLE public.t DISABLE TRIGGER trg");
    assert!(d.added.is_empty() && d.removed.is_empty(), "{d:#?}");
    assert_eq!(changed_refs(&d), vec![r("trigger public.t.trg")]);
    assert_eq!(changed_attrs(&d), vec!["enabled".to_string()]);
    assert_eq!(d.changed[0].changes[0].after.as_deref(), Some("D"));

    let d = change(&mut c, "CREATE POLICY p ON public.t USING (id > 0)");
    assert_eq!(d.added, vec![r("policy public.t.p")]);
    assert!(d.removed.is_empty() && d.changed.is_empty(), "{d:#?}");

    let d = change(&mut c, "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY");
    assert_eq!(changed_refs(&d), vec![r("table public.t")]);
    assert_eq!(changed_attrs(&d), vec!["rls".to_string()]);

    let d = change(&mut c, "GRANT SELECT ON public.t TO PUBLIC");
    assert!(d.added.is_empty() && d.removed.is_empty(), "{d:#?}");
    assert_eq!(changed_refs(&d), vec![r("table public.t")]);
    assert_eq!(changed_attrs(&d), vec!["acl".to_string()]);

    let d = change(&mut c, "CREATE INDEX t_c_idx ON public.t (c)");
    assert_eq!(d.added, vec![r("index public.t_c_idx")]);
    assert!(d.removed.is_empty() && d.changed.is_empty(), "{d:#?}");

    let d = change(
        &mut c,
        "ALTER TABLE public.t ADD CONSTRAINT t_c_check CHECK (c <> '') NOT VALID",
    );
    assert_eq!(d.added, vec![r("constraint public.t.t_c_check")]);
    let d = change(&mut c, "ALTER TABLE public.t VALIDATE CONSTRAINT t_c_check");
    assert_eq!(changed_refs(&d), vec![r("constraint public.t.t_c_check")]);
    assert!(changed_attrs(&d).contains(&"validated".to_string()));

    let d = change(
        &mut c,
        "ALTER TABLE public.t ALTER COLUMN c SET DEFAULT 'y'",
    );
    assert_eq!(changed_refs(&d), vec![r("column public.t.c")]);
    assert_eq!(changed_attrs(&d), vec!["default".to_string()]);

    let d = change(
        &mut c,
        "CREATE OR REPLACE VIEW public.v AS SELECT id, c, c2 FROM public.t",
    );
    assert_eq!(changed_refs(&d), vec![r("view public.v")]);
    assert_eq!(changed_attrs(&d), vec!["definition".to_string()]);

    let d = change(&mut c, "DROP VIEW public.v");
    assert_eq!(d.removed, vec![r("view public.v")]);
    assert!(d.added.is_empty() && d.changed.is_empty(), "{d:#?}");

    let d = change(
        &mut c,
        "CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM public.t WITH NO DATA",
    );
    assert_eq!(d.added, vec![r("materialized view public.mv")]);
    let d = change(&mut c, "REFRESH MATERIALIZED VIEW public.mv");
    assert_eq!(changed_refs(&d), vec![r("materialized view public.mv")]);
    assert_eq!(changed_attrs(&d), vec!["populated".to_string()]);

    let d = change(&mut c, "ALTER SEQUENCE public.s INCREMENT BY 5");
    assert_eq!(changed_refs(&d), vec![r("sequence public.s")]);
    assert_eq!(changed_attrs(&d), vec!["increment".to_string()]);

    let d = change(
        &mut c,
        "CREATE TYPE public.mood AS ENUM ('sad', 'ok');
         CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
         CREATE TYPE public.pair AS (a int, b text);
         CREATE TYPE public.fr AS RANGE (subtype = float8);",
    );
    assert_eq!(
        d.added,
        refs(&[
            "type public.mood",
            "type public.posint",
            "type public.pair",
            "type public.fr"
        ])
    );
    let d = change(&mut c, "ALTER TYPE public.mood ADD VALUE 'happy'");
    assert_eq!(changed_refs(&d), vec![r("type public.mood")]);
    assert_eq!(changed_attrs(&d), vec!["labels".to_string()]);

    let d = change(&mut c, "CREATE SCHEMA app");
    assert_eq!(d.added, vec![r("schema app")]);

    let d = change(
        &mut c,
        "CREATE PROCEDURE app.p(x integer, y text) LANGUAGE sql AS $$ SELECT 1 $$",
    );
    assert_eq!(d.added, vec![r("function app.p(integer, text)")]);

    // Nothing in schema stepgate is ever measured.
    let before = take(&mut c);
    c.batch_execute(
        "CREATE SCHEMA stepgate; CREATE TABLE stepgate.journal (id int PRIMARY KEY);
         CREATE SEQUENCE stepgate.seq; CREATE FUNCTION stepgate.h() RETURNS int LANGUAGE sql AS 'SELECT 1';
         CREATE FUNCTION stepgate.guard() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
         CREATE EVENT TRIGGER stepgate_guard ON ddl_command_end EXECUTE FUNCTION stepgate.guard();",
    )
    .expect("stepgate schema");
    let after = take(&mut c);
    assert_eq!(before.fingerprint(), after.fingerprint());
}

#[test]
fn rolled_back_and_non_transactional_work_leave_the_fingerprint() {
    let mut c = small_db();
    let base = take(&mut c).fingerprint();

    c.batch_execute(
        "BEGIN; CREATE TABLE public.gone (a int); DROP VIEW public.v; ALTER TABLE public.t DROP COLUMN c; ROLLBACK;",
    )
    .expect("rollback");
    assert_eq!(take(&mut c).fingerprint(), base, "rolled-back DDL");

    c.batch_execute(
        "SELECT nextval('public.s'); SELECT nextval('public.s'); SELECT setval('public.s', 42)",
    )
    .expect("nextval");
    c.batch_execute("INSERT INTO public.t (id) VALUES (1), (2); ANALYZE public.t")
        .expect("dml");
    assert_eq!(take(&mut c).fingerprint(), base, "nextval / DML / ANALYZE");

    // Undone changes compare equal: GRANT+REVOKE, DISABLE+ENABLE, DROP+re-ADD of a column.
    c.batch_execute(
        "GRANT SELECT ON public.t TO PUBLIC; REVOKE SELECT ON public.t FROM PUBLIC;
         ALTER TABLE public.t DISABLE TRIGGER trg; ALTER TABLE public.t ENABLE TRIGGER trg;
         DROP VIEW public.v; ALTER TABLE public.t DROP COLUMN c;
         ALTER TABLE public.t ADD COLUMN c text NOT NULL DEFAULT 'x';
         CREATE VIEW public.v AS SELECT id, c FROM public.t;",
    )
    .expect("undo");
    let after = take(&mut c);
    assert_eq!(after.fingerprint(), base, "undone changes");
}

#[test]
fn works_inside_the_callers_transaction() {
    let mut c = small_db();
    c.batch_execute("SET search_path = public").expect("set");
    let outside = take(&mut c);

    // Plain client with a manual BEGIN: sees its own uncommitted DDL, commits nothing.
    c.batch_execute("BEGIN").expect("begin");
    let t0: String = c.query_one("SELECT now()::text", &[]).expect("now").get(0);
    c.batch_execute("CREATE TABLE public.inside (a int)")
        .expect("create");
    let within = take(&mut c);
    assert_eq!(
        diff(&outside, &within).added,
        refs(&["table public.inside", "column public.inside.a"])
    );
    let t1: String = c.query_one("SELECT now()::text", &[]).expect("now").get(0);
    assert_eq!(t0, t1, "still the same transaction");
    c.batch_execute("ROLLBACK").expect("rollback");
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'inside'",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(n, 0, "take() must not commit");
    assert_eq!(take(&mut c).fingerprint(), outside.fingerprint());

    // A postgres::Transaction works too, and its settings survive the snapshot.
    let mut tx = c.transaction().expect("tx");
    tx.batch_execute(
        "SET LOCAL search_path = app_missing, public; CREATE TABLE public.inside2 (a int)",
    )
    .expect("create");
    let s = snapshot::take(&mut tx).expect("snapshot in tx");
    assert!(s.contains(&r("table public.inside2")));
    let sp: String = tx.query_one("SHOW search_path", &[]).expect("show").get(0);
    assert_eq!(sp, "app_missing, public");
    tx.rollback().expect("rollback");
    assert_eq!(take(&mut c).fingerprint(), outside.fingerprint());
}

#[test]
fn leaves_session_settings_as_they_were() {
    let mut c = small_db();
    let show = |c: &mut Client, what: &str| -> String {
        c.query_one(format!("SHOW {what}").as_str(), &[])
            .expect("show")
            .get(0)
    };
    c.batch_execute("SET search_path = public; SET TimeZone = 'Europe/Paris'; SET jit = on")
        .expect("set");

    // Autocommit: the session keeps its settings.
    take(&mut c);
    assert_eq!(show(&mut c, "search_path"), "public");
    assert_eq!(show(&mut c, "TimeZone"), "Europe/Paris");
    assert_eq!(show(&mut c, "jit"), "on");

    // A caller's SET LOCAL still ends with its transaction, even when it commits...
    c.batch_execute(
        "BEGIN; SET LOCAL search_path = app_missing, public; SET LOCAL TimeZone = 'UTC'",
    )
    .expect("begin");
    take(&mut c);
    assert_eq!(show(&mut c, "search_path"), "app_missing, public");
    c.batch_execute("COMMIT").expect("commit");
    assert_eq!(show(&mut c, "search_path"), "public");
    assert_eq!(show(&mut c, "TimeZone"), "Europe/Paris");

    // ... and a caller's plain SET inside a transaction still outlives it.
    c.batch_execute("BEGIN; SET search_path = app_missing, public")
        .expect("begin");
    take(&mut c);
    c.batch_execute("COMMIT").expect("commit");
    assert_eq!(show(&mut c, "search_path"), "app_missing, public");
    assert_eq!(show(&mut c, "jit"), "on");
}

#[test]
fn extension_members_are_left_out() {
    let (_name, ci) = common::empty_db("snapx");
    let mut c = connect(&ci);
    let available: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'",
            &[],
        )
        .expect("available")
        .get(0);
    if available == 0 {
        eprintln!("pg_trgm not installed; skipping");
        return;
    }
    let before = take(&mut c);
    c.batch_execute("CREATE EXTENSION pg_trgm SCHEMA public")
        .expect("extension");
    let after = take(&mut c);
    let d = diff(&before, &after);
    assert_eq!(d.added, vec![r("extension pg_trgm")], "{d:#?}");
    let ext = after.get(&r("extension pg_trgm")).expect("ext");
    assert_eq!(ext.attrs["schema"], "public");
    assert!(ext.attrs.contains_key("version"));
}
