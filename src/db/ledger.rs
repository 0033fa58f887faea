//! The ledger: schema `stepgate` in the target database.
//!
//! Every verb appends events through `stepgate.append_event`, a SECURITY DEFINER
//! function owned by the ledger admin role, which serialises appends, assigns
//! gap-free ids and computes the hash chain on the server: each row carries the
//! sha256 of the previous row and of its own canonical content. The role stepgate
//! runs as can only call that function and read; it can neither UPDATE nor DELETE a
//! row, nor touch the signer registry or the floor policy, nor record the verbs
//! that only the admin may (`install`, `signer-add`, `signer-remove`, `policy-set`).
//! `stepgate ledger verify` recomputes the chain on the client and names the
//! first edited, deleted or reordered row.

use crate::db::quote_ident;
use postgres::{Client, GenericClient};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// 2: the permit system verifies RSA and ECDSA approvals, batched steps, the catalog probe
/// as drift's baseline. A ledger of another version is refused, not half-used.
pub const SCHEMA_VERSION: &str = "2";
/// Advisory-lock class for "one runner per pack" (first key of the two-key form).
const PACK_LOCK_CLASS: i32 = 0x5354_4750; // "STGP"

/// Verbs only the ledger admin may record.
pub const ADMIN_VERBS: [&str; 6] = [
    "install",
    "signer-add",
    "signer-remove",
    "policy-set",
    "relabel",
    "uninstall",
];

#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub environment: Option<String>,
    /// Role stepgate runs as; gets read + append only. None = no grants (single-role setups).
    pub runner_role: Option<String>,
    /// Minimum number of valid registry signatures on every apply/rollback, whatever the manifest says.
    pub floor_min_signatures: u32,
    /// Install the guard (an event trigger refusing the runner's DDL without a permit).
    pub guard: bool,
}

/// The exact SQL `stepgate ledger install` runs (and `--print` shows).
pub fn install_sql(opts: &InstallOptions) -> String {
    let env = crate::db::quote_literal(opts.environment.as_deref().unwrap_or(""));
    let mut sql = format!(
        r#"-- stepgate ledger, schema version {SCHEMA_VERSION}
CREATE SCHEMA stepgate;
REVOKE ALL ON SCHEMA stepgate FROM PUBLIC;

CREATE TABLE stepgate.meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO stepgate.meta(key, value) VALUES
  ('schema_version', '{SCHEMA_VERSION}'),
  ('environment', {env}),
  ('admin_role', current_user),
  ('floor_min_signatures', '{floor}'),
  ('system_identifier', (SELECT system_identifier::text FROM pg_control_system())),
  ('installed_at', clock_timestamp()::text),
  ('head_id', '0'),
  ('head_hash', repeat('0', 64));

CREATE TABLE stepgate.events (
  id           bigint PRIMARY KEY,
  at           timestamptz NOT NULL,
  pack         text NOT NULL,
  step         text,
  verb         text NOT NULL,
  result       text NOT NULL,
  os_user      text,
  host         text,
  db_role      text NOT NULL,
  file_sha256  text,
  run_id       text,
  details      jsonb NOT NULL DEFAULT '{{}}',
  -- A fact is written by the admin's own functions (or the admin); a claim by a runner's client.
  fact         boolean NOT NULL DEFAULT false,
  prev_hash    text NOT NULL,
  row_hash     text NOT NULL
);
CREATE INDEX events_pack_step ON stepgate.events (pack, step, id);

-- The signer registry: the trust root for signature gates.
CREATE TABLE stepgate.signers (
  principal  text NOT NULL,
  key_type   text NOT NULL,
  key_base64 text NOT NULL,
  gates      text[] NOT NULL,           -- gates this key may sign; '*' = any gate
  added_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  added_by   text NOT NULL DEFAULT session_user,
  PRIMARY KEY (principal, key_base64)
);

-- Catalog snapshots referenced by events (by fingerprint), for drift reports. Content-addressed:
-- a reader recomputes the sha256 of the body, so an edited snapshot is detected.
CREATE TABLE stepgate.snapshots (
  fingerprint text PRIMARY KEY,
  taken_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  body        text NOT NULL
);

CREATE FUNCTION stepgate.store_snapshot(p_fingerprint text, p_body text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  INSERT INTO stepgate.snapshots (fingerprint, body)
  SELECT p_fingerprint, p_body
   WHERE encode(sha256(convert_to(p_body, 'UTF8')), 'hex') = p_fingerprint
  ON CONFLICT (fingerprint) DO NOTHING
$fn$;
REVOKE ALL ON FUNCTION stepgate.store_snapshot(text, text) FROM PUBLIC;

CREATE FUNCTION stepgate.canonical(p_id bigint, p_at timestamptz, p_pack text, p_step text, p_verb text,
    p_result text, p_os_user text, p_host text, p_role text, p_sha text, p_run text, p_details jsonb,
    p_fact boolean)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT pg_catalog.concat_ws(E'\x1f', p_id::text, ((EXTRACT(epoch FROM p_at) * 1000000)::bigint)::text, p_pack,
         COALESCE(p_step, ''), p_verb, p_result, COALESCE(p_os_user, ''), COALESCE(p_host, ''), p_role,
         COALESCE(p_sha, ''), COALESCE(p_run, ''), p_details::text,
         CASE WHEN p_fact THEN 'fact' ELSE 'claim' END)
$fn$;

-- Appends one row to the chain. Not callable by the runner: it goes through append_event
-- (claims) or the admin's functions that check their own preconditions (facts).
CREATE FUNCTION stepgate.append_row(p_pack text, p_step text, p_verb text, p_result text,
    p_os_user text, p_host text, p_file_sha256 text, p_run_id text, p_details jsonb, p_fact boolean)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_id bigint; v_prev text; v_at timestamptz := pg_catalog.clock_timestamp(); v_hash text;
  v_details jsonb := COALESCE(p_details, '{{}}'::jsonb);
BEGIN
  -- One appender at a time: ids stay gap-free and the chain linear.
  LOCK TABLE stepgate.events IN EXCLUSIVE MODE;
  SELECT value::bigint INTO v_id FROM stepgate.meta WHERE key = 'head_id';
  SELECT value INTO v_prev FROM stepgate.meta WHERE key = 'head_hash';
  v_id := v_id + 1;
  v_hash := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(v_prev || E'\x1e' || stepgate.canonical(v_id, v_at, p_pack, p_step, p_verb,
            p_result, p_os_user, p_host, session_user, p_file_sha256, p_run_id, v_details, p_fact), 'UTF8')), 'hex');
  INSERT INTO stepgate.events VALUES (v_id, v_at, p_pack, p_step, p_verb, p_result, p_os_user, p_host,
            session_user, p_file_sha256, p_run_id, v_details, p_fact, v_prev, v_hash);
  UPDATE stepgate.meta SET value = v_id::text WHERE key = 'head_id';
  UPDATE stepgate.meta SET value = v_hash WHERE key = 'head_hash';
  RETURN v_id;
END
$fn$;
REVOKE ALL ON FUNCTION stepgate.append_row(text, text, text, text, text, text, text, text, jsonb, boolean) FROM PUBLIC;

-- What a client appends: always a claim. Facts come only from the admin's own functions.
CREATE FUNCTION stepgate.append_event(p_pack text, p_step text, p_verb text, p_result text,
    p_os_user text, p_host text, p_file_sha256 text, p_run_id text, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_admin text := (SELECT m.value FROM stepgate.meta m WHERE m.key = 'admin_role');
  v_is_admin boolean := pg_catalog.pg_has_role(session_user, v_admin, 'MEMBER');
BEGIN
  IF p_verb = ANY (ARRAY['install', 'signer-add', 'signer-remove', 'policy-set', 'guard', 'relabel', 'uninstall']) AND NOT v_is_admin THEN
    RAISE EXCEPTION 'stepgate ledger: only the ledger admin (%) may record "%"', v_admin, p_verb
      USING ERRCODE = '42501';
  END IF;
  RETURN stepgate.append_row(p_pack, p_step, p_verb, p_result, p_os_user, p_host, p_file_sha256, p_run_id,
                             p_details, false);
END
$fn$;
REVOKE ALL ON FUNCTION stepgate.append_event(text, text, text, text, text, text, text, text, jsonb) FROM PUBLIC;
"#,
        floor = opts.floor_min_signatures
    );
    sql.push_str(crate::db::authority::ED25519_SQL);
    sql.push_str(&crate::db::footprint::tracker_functions_sql());
    sql.push_str(&crate::db::baseline::baseline_sql());
    sql.push_str(crate::db::authority::AUTHORITY_SQL);
    if opts.guard {
        sql.push_str(&crate::db::authority::guard_install_sql(
            opts.runner_role.as_deref(),
        ));
    }
    if let Some(r) = &opts.runner_role {
        let r = quote_ident(r);
        sql.push_str(&format!(
            r#"
-- The runner role: read and append, nothing else.
GRANT USAGE ON SCHEMA stepgate TO {r};
GRANT SELECT ON stepgate.meta, stepgate.events, stepgate.signers, stepgate.snapshots TO {r};
GRANT SELECT ON stepgate.ddl_tracked TO {r};
GRANT EXECUTE ON FUNCTION stepgate.store_snapshot(text, text) TO {r};
GRANT EXECUTE ON FUNCTION stepgate.append_event(text, text, text, text, text, text, text, text, jsonb) TO {r};
GRANT EXECUTE ON FUNCTION stepgate.canonical(bigint, timestamptz, text, text, text, text, text, text, text, text, text, jsonb, boolean) TO {r};
GRANT SELECT ON stepgate.pack_state, stepgate.permits, stepgate.guard_roles, stepgate.guarded_tables, stepgate.used_approvals TO {r};
"#
        ));
    }
    // Last: drift's baseline is the catalog with the ledger (and guard) in it.
    sql.push_str(crate::db::baseline::REBASELINE_SQL);
    sql
}

/// Who is acting: OS user and host (the database role is recorded by the server).
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub os_user: String,
    pub host: String,
}

impl Actor {
    pub fn current() -> Actor {
        Actor {
            os_user: whoami::username(),
            host: whoami::fallible::hostname().unwrap_or_else(|_| "unknown-host".into()),
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub pack: &'a str,
    pub step: Option<&'a str>,
    pub verb: &'a str,
    pub result: &'a str,
    pub file_sha256: Option<&'a str>,
    pub run_id: Option<&'a str>,
    pub details: serde_json::Value,
}

/// A stored event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    pub at_micros: i64,
    pub pack: String,
    pub step: Option<String>,
    pub verb: String,
    pub result: String,
    pub os_user: Option<String>,
    pub host: Option<String>,
    pub db_role: String,
    pub file_sha256: Option<String>,
    pub run_id: Option<String>,
    pub details: serde_json::Value,
    /// Written by the admin's own functions (or the admin): stepgate decides only on facts.
    /// A runner's client can append claims, which are shown but never relied on.
    pub fact: bool,
    #[serde(skip)]
    pub details_text: String,
    pub prev_hash: String,
    pub row_hash: String,
}

/// Appends an event on `client` (the ledger session, or the step's own transaction for
/// the in-transaction "committed" row). Returns its id.
pub fn append(
    client: &mut impl GenericClient,
    actor: &Actor,
    e: &NewEvent,
) -> Result<i64, postgres::Error> {
    let details = if e.details.is_null() {
        serde_json::json!({})
    } else {
        e.details.clone()
    };
    let row = client.query_one(
        "SELECT stepgate.append_event($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)",
        &[
            &e.pack,
            &e.step,
            &e.verb,
            &e.result,
            &actor.os_user,
            &actor.host,
            &e.file_sha256,
            &e.run_id,
            &details.to_string(),
        ],
    )?;
    Ok(row.get(0))
}

/// Appends a fact directly: only the ledger admin may (the function is not granted to
/// anyone else). Used where stepgate itself is the admin, on `stepgate scratch`'s own copy.
pub fn append_fact(
    client: &mut impl GenericClient,
    actor: &Actor,
    e: &NewEvent,
) -> Result<i64, postgres::Error> {
    let row = client.query_one(
        "SELECT stepgate.append_fact($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)",
        &[
            &e.pack,
            &e.step,
            &e.verb,
            &e.result,
            &actor.os_user,
            &actor.host,
            &e.file_sha256,
            &e.run_id,
            &e.details.to_string(),
        ],
    )?;
    Ok(row.get(0))
}

/// Is the ledger installed in this database?
pub fn installed(client: &mut impl GenericClient) -> Result<bool, postgres::Error> {
    let row = client.query_one("SELECT to_regclass('stepgate.events') IS NOT NULL", &[])?;
    Ok(row.get(0))
}

pub fn meta(client: &mut impl GenericClient, key: &str) -> Result<Option<String>, postgres::Error> {
    let rows = client.query("SELECT value FROM stepgate.meta WHERE key = $1", &[&key])?;
    Ok(rows.first().map(|r| r.get(0)))
}

const EVENT_COLS: &str = "id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), ((extract(epoch FROM at) * 1000000)::bigint), pack, step, verb, result, os_user, host, db_role, file_sha256, run_id, details::text, prev_hash, row_hash, fact";

fn event_of(r: &postgres::Row) -> Event {
    let details_text: String = r.get(12);
    Event {
        id: r.get(0),
        at: r.get(1),
        at_micros: r.get(2),
        pack: r.get(3),
        step: r.get(4),
        verb: r.get(5),
        result: r.get(6),
        os_user: r.get(7),
        host: r.get(8),
        db_role: r.get(9),
        file_sha256: r.get(10),
        run_id: r.get(11),
        details: serde_json::from_str(&details_text).unwrap_or(serde_json::Value::Null),
        details_text,
        prev_hash: r.get(13),
        row_hash: r.get(14),
        fact: r.get(15),
    }
}

/// Every event of one pack, oldest first.
pub fn events_for_pack(
    client: &mut impl GenericClient,
    pack: &str,
) -> Result<Vec<Event>, postgres::Error> {
    let q = format!("SELECT {EVENT_COLS} FROM stepgate.events WHERE pack = $1 ORDER BY id");
    Ok(client
        .query(q.as_str(), &[&pack])?
        .iter()
        .map(event_of)
        .collect())
}

/// Every event, oldest first.
pub fn all_events(client: &mut impl GenericClient) -> Result<Vec<Event>, postgres::Error> {
    let q = format!("SELECT {EVENT_COLS} FROM stepgate.events ORDER BY id");
    Ok(client
        .query(q.as_str(), &[])?
        .iter()
        .map(event_of)
        .collect())
}

/// The canonical content of a row, exactly as `stepgate.canonical` builds it.
pub fn canonical(e: &Event) -> String {
    [
        e.id.to_string(),
        e.at_micros.to_string(),
        e.pack.clone(),
        e.step.clone().unwrap_or_default(),
        e.verb.clone(),
        e.result.clone(),
        e.os_user.clone().unwrap_or_default(),
        e.host.clone().unwrap_or_default(),
        e.db_role.clone(),
        e.file_sha256.clone().unwrap_or_default(),
        e.run_id.clone().unwrap_or_default(),
        e.details_text.clone(),
        if e.fact { "fact" } else { "claim" }.to_string(),
    ]
    .join("\x1f")
}

pub fn row_hash(prev: &str, e: &Event) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\x1e");
    h.update(canonical(e).as_bytes());
    hex::encode(h.finalize())
}

/// A break in the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChainProblem {
    pub id: i64,
    pub problem: String,
}

/// Recomputes the chain client-side. Empty = intact.
pub fn verify_chain(events: &[Event], head_id: i64, head_hash: &str) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut prev_hash = "0".repeat(64);
    let mut expected_id = 1;
    for e in events {
        if e.id != expected_id {
            if e.id > expected_id {
                let missing: Vec<String> = (expected_id..e.id).map(|i| i.to_string()).collect();
                problems.push(ChainProblem {
                    id: expected_id,
                    problem: format!(
                        "row(s) {} deleted (ids jump from {} to {})",
                        missing.join(", "),
                        expected_id - 1,
                        e.id
                    ),
                });
            } else {
                problems.push(ChainProblem {
                    id: e.id,
                    problem: format!("row {} is out of order (expected id {})", e.id, expected_id),
                });
            }
        }
        if e.prev_hash != prev_hash {
            problems.push(ChainProblem {
                id: e.id,
                problem: format!("row {} does not follow the row before it (prev_hash mismatch): a row was deleted, inserted or reordered before it", e.id),
            });
        }
        let recomputed = row_hash(&e.prev_hash, e);
        if recomputed != e.row_hash {
            problems.push(ChainProblem {
                id: e.id,
                problem: format!(
                    "row {} was edited: its content no longer matches its row_hash",
                    e.id
                ),
            });
        }
        prev_hash = e.row_hash.clone();
        expected_id = e.id + 1;
    }
    let last_id = events.last().map(|e| e.id).unwrap_or(0);
    if last_id != head_id {
        problems.push(ChainProblem {
            id: head_id,
            problem: format!("the ledger head says row {head_id} is the last, but the table ends at row {last_id}: rows were deleted from the end"),
        });
    } else if prev_hash != head_hash && head_id > 0 {
        problems.push(ChainProblem {
            id: head_id,
            problem: "the last row's hash differs from the recorded head".into(),
        });
    }
    problems
}

/// Takes the per-pack session-level advisory lock, or reports who holds it.
pub fn try_lock_pack(
    client: &mut Client,
    pack: &str,
) -> Result<Result<(), String>, postgres::Error> {
    let got: bool = client
        .query_one(
            "SELECT pg_catalog.pg_try_advisory_lock($1, pg_catalog.hashtext($2))",
            &[&PACK_LOCK_CLASS, &pack],
        )?
        .get(0);
    if got {
        return Ok(Ok(()));
    }
    let rows = client.query(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.client_addr::text, 'local'), \
                to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') \
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ($1::bigint & 4294967295)::oid \
            AND l.objid = (hashtext($2)::bigint & 4294967295)::oid AND l.objsubid = 2 \
            AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())",
        &[&(PACK_LOCK_CLASS as i64), &pack],
    )?;
    let who = rows
        .first()
        .map(|r| {
            let pid: i32 = r.get(0);
            let app: String = r.get(1);
            let user: String = r.get(2);
            let addr: String = r.get(3);
            let since: String = r.get(4);
            format!("pid {pid} ({app}, role {user}, from {addr}, since {since})")
        })
        .unwrap_or_else(|| "another session".into());
    Ok(Err(who))
}

pub fn unlock_pack(client: &mut Client, pack: &str) -> Result<(), postgres::Error> {
    client.execute(
        "SELECT pg_catalog.pg_advisory_unlock($1, pg_catalog.hashtext($2))",
        &[&PACK_LOCK_CLASS, &pack],
    )?;
    Ok(())
}

/// Stores a snapshot body under its fingerprint (the server checks the hash).
pub fn store_snapshot(
    client: &mut impl GenericClient,
    snap: &crate::core::catalog::Snapshot,
) -> Result<String, postgres::Error> {
    let fp = snap.fingerprint();
    client.execute(
        "SELECT stepgate.store_snapshot($1, $2)",
        &[&fp, &snap.canonical_json()],
    )?;
    Ok(fp)
}

/// Loads a stored snapshot, verifying its content hash.
pub fn load_snapshot(
    client: &mut impl GenericClient,
    fingerprint: &str,
) -> Result<Option<crate::core::catalog::Snapshot>, postgres::Error> {
    let rows = client.query(
        "SELECT body FROM stepgate.snapshots WHERE fingerprint = $1",
        &[&fingerprint],
    )?;
    Ok(rows.first().and_then(|r| {
        let body: String = r.get(0);
        let snap: crate::core::catalog::Snapshot = serde_json::from_str(&body).ok()?;
        (snap.fingerprint() == fingerprint).then_some(snap)
    }))
}

/// Reads the whole ledger and recomputes its chain: (rows, problems).
pub fn check(
    client: &mut impl GenericClient,
) -> Result<(usize, Vec<ChainProblem>), postgres::Error> {
    let events = all_events(client)?;
    let head_id: i64 = meta(client, "head_id")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let head_hash = meta(client, "head_hash")?.unwrap_or_default();
    Ok((events.len(), verify_chain(&events, head_id, &head_hash)))
}
