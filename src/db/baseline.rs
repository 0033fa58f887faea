//! Drift's baseline, kept by the server: the per-catalog tallies of the whole-catalog pass
//! ([`crate::db::footprint`]) as they stood after the last commit.
//!
//! Every commit fact records the database's own fingerprint of its catalog, computed in the
//! committing transaction: the client never chooses it. Recomputing it reads every row of
//! every modelled catalog (0.6 s at 100,000 tables). The tallies are a count and an XOR
//! of row hashes per catalog, so they can be moved instead: after = before, minus the row
//! versions the transaction removed, plus the ones it wrote.
//!
//! * **Pre-image.** Arming the DDL tracker with the step's scope (`stepgate.track_arm(oid[])`,
//!   before the step's first statement) records, server-side, every catalog row those objects
//!   and their parts own, by `ctid`. The removed row versions are among them: a row a
//!   transaction deleted or replaced is invisible to it afterwards, so it must be seen before.
//! * **Commit.** `stepgate.commit_fingerprint()`, called by the commit trigger, reads the rows
//!   owned by the scope plus what the tracker recorded, through the catalogs' indexes. Rows
//!   in the pre-image and still there cancel out; the pre-image's vanished rows and the rows
//!   this transaction wrote (its `xmin` still in progress) move the tallies. A row another
//!   session committed meanwhile is not the step's to record: it stays out of the baseline,
//!   so `drift` reports it.
//! * **A pre-image is required** of every step that runs in one transaction (apply, rollback,
//!   hold) wherever the tracker is installed: the client decides whether to record one, and
//!   a recompute would fold into the baseline whatever was changed outside stepgate before
//!   the commit (a DDL form no event trigger sees). stepgate records one for every such step,
//!   tracked or not, under either proof.
//! * **Otherwise, a recompute.** Transaction-less and batched steps (several transactions),
//!   and ledgers without the tracker, recompute the tallies from the whole catalog at each
//!   commit, as before. The fact says which (`catalog_baseline`: `chained` or
//!   `recomputed`).
//!
//! A chained baseline keeps what happened outside stepgate visible: a change made by hand
//! before a commit is still drift after it, until the ledger admin accepts it
//! (`stepgate.accept_drift`, a fact). A recompute (transaction-less and batched steps) folds
//! it into the new baseline, as every commit did before. Rows a step wrote outside its scope and the tracker's record would be
//! missed, and then reported as drift: never hidden. The hashes are seeded with a secret
//! only the ledger's owner can read, so nobody can pick rows whose hashes cancel a change out.
//!
//! What it cannot tell apart: a pre-image row that another session deleted between the
//! pre-image and the COMMIT (a concurrent `DROP` of an object the step names without
//! locking it) looks like the step's own removal, and is folded in. A deleted row's `xmax`
//! is not readable from SQL.

use crate::db::footprint;

/// Advisory-lock key serialising baseline updates: two commits move the tallies one after
/// the other (each adds its own delta to what the other left).
const BASELINE_LOCK: i64 = 0x5354_4750_4241_5345; // "STGPBASE"

/// The baseline's tables and functions, installed with the ledger (after the tracker's
/// functions); the install ends with [`REBASELINE_SQL`].
pub fn baseline_sql() -> String {
    let names: Vec<String> = footprint::catalog_names()
        .map(|n| format!("('{n}')"))
        .collect();
    BASELINE_SQL
        .replace(
            "{scan}",
            &footprint::scan_sql(
                "'{}'::pg_catalog.oid[]",
                false,
                true,
                "(SELECT s.seed FROM stepgate.catalog_seed s)",
            ),
        )
        .replace("{rows}", &footprint::owned_rows_sql())
        .replace("{owner}", &footprint::owner_of_sql("d.classid", "d.objid"))
        .replace("{catalogs}", &names.join(", "))
        .replace("{ncatalogs}", &names.len().to_string())
        .replace("{lock}", &BASELINE_LOCK.to_string())
}

const BASELINE_SQL: &str = r#"
-- The secret seed of the server's row hashes: readable by the ledger's owner only.
CREATE TABLE stepgate.catalog_seed (seed bigint NOT NULL);
INSERT INTO stepgate.catalog_seed
SELECT ('x' || pg_catalog.substr(pg_catalog.md5(pg_catalog.gen_random_uuid()::text
                                                || pg_catalog.gen_random_uuid()::text), 1, 16))::bit(64)::bigint;
REVOKE ALL ON stepgate.catalog_seed FROM PUBLIC;

-- Drift's baseline: per catalog, rows and XOR of row hashes after the last commit.
CREATE TABLE stepgate.catalog_tallies (cat text PRIMARY KEY, n bigint NOT NULL, x bigint NOT NULL);
REVOKE ALL ON stepgate.catalog_tallies FROM PUBLIC;

-- Pre-images: per arming transaction, one row naming the owners, then one per catalog row
-- they owned. Deleted by the commit that used them; a rolled-back transaction leaves none.
CREATE UNLOGGED TABLE stepgate.catalog_preimage (
  xid pg_catalog.xid8 NOT NULL,
  at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  owners oid[],
  cat text,
  t tid,
  h bigint
);
CREATE INDEX ON stepgate.catalog_preimage (xid);
REVOKE ALL ON stepgate.catalog_preimage FROM PUBLIC;

-- The whole-catalog pass (see `db::footprint`), seeded: per catalog, rows and XOR.
CREATE FUNCTION stepgate.catalog_scan()
RETURNS TABLE (cat text, n bigint, x bigint) LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
  SELECT p.cat, p.n_all, p.x_all FROM ({scan}) p
$fn$;

-- The fingerprint of per-catalog tallies: one spelling for the live catalog and the kept
-- baseline, which drift compares.
CREATE FUNCTION stepgate.tallies_digest(p_cat text[], p_n bigint[], p_x bigint[])
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
           pg_catalog.string_agg(t.cat || ':' || t.n || ':' || t.x, ',' ORDER BY t.cat COLLATE "C"),
           'UTF8')), 'hex')
    FROM ROWS FROM (pg_catalog.unnest(p_cat), pg_catalog.unnest(p_n), pg_catalog.unnest(p_x)) t(cat, n, x)
$fn$;

-- The whole-catalog probe computed by the server from its own catalog, no client involved:
-- moves when any row of a modelled catalog is inserted, updated or deleted (temporary and
-- TOAST objects aside).
CREATE FUNCTION stepgate.catalog_fingerprint()
RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT stepgate.tallies_digest(pg_catalog.array_agg(p.cat), pg_catalog.array_agg(p.n), pg_catalog.array_agg(p.x))
    FROM stepgate.catalog_scan() p
$fn$;

-- `p` with the parts its catalog rows come with: indexes, row, array and multirange types,
-- TOAST tables, and what depends on it internally or automatically (owned sequences, a
-- range's constructors), three levels down. Index lookups only.
CREATE FUNCTION stepgate.catalog_parts(p oid[])
RETURNS oid[] LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT ARRAY(
    SELECT o FROM pg_catalog.unnest(p) o
    UNION SELECT i.indexrelid FROM pg_catalog.pg_index i WHERE i.indrelid = ANY (p)
    UNION SELECT c.reltype FROM pg_catalog.pg_class c WHERE c.oid = ANY (p) AND c.reltype <> 0
    UNION SELECT c.reltoastrelid FROM pg_catalog.pg_class c WHERE c.oid = ANY (p) AND c.reltoastrelid <> 0
    UNION SELECT t.typarray FROM pg_catalog.pg_type t WHERE t.oid = ANY (p) AND t.typarray <> 0
    UNION SELECT t.typrelid FROM pg_catalog.pg_type t WHERE t.oid = ANY (p) AND t.typrelid <> 0
    UNION SELECT r.rngmultitypid FROM pg_catalog.pg_range r WHERE r.rngtypid = ANY (p)
    UNION SELECT {owner} FROM pg_catalog.pg_depend d
           WHERE d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass,
                                  'pg_catalog.pg_type'::pg_catalog.regclass,
                                  'pg_catalog.pg_proc'::pg_catalog.regclass)
             AND d.refobjid = ANY (p) AND d.deptype IN ('i', 'a'))
$fn$;

CREATE FUNCTION stepgate.catalog_owners(p oid[])
RETURNS oid[] LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT ARRAY(SELECT DISTINCT o FROM pg_catalog.unnest(
           stepgate.catalog_parts(stepgate.catalog_parts(stepgate.catalog_parts(p)))) o
          WHERE o IS NOT NULL AND o <> 0)
$fn$;

-- Every catalog row `p_all` owns, with its ctid, seeded hash and xmin (see
-- `db::footprint::owned_rows_sql`).
CREATE FUNCTION stepgate.catalog_rows(p_all oid[], p_seed bigint)
RETURNS TABLE (cat text, t tid, h bigint, xm xid) LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  p_notemp oid[] := ARRAY(SELECT o FROM pg_catalog.unnest(p_all) o
                           WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class x
                                              WHERE x.oid = o AND x.relpersistence = 't'));
BEGIN
  RETURN QUERY {rows};
END
$fn$;

-- Written by this transaction (or one of its subtransactions): a row visible here whose
-- xmin is still in progress can only be ours. xmin is 32 bits: widened against our own
-- transaction id, which our subtransactions' ids follow. A frozen row keeps an xmin that
-- may be older than the widening can tell: the server's refusal means "not ours".
CREATE FUNCTION stepgate.xmin_ours(p xid)
RETURNS boolean LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_top bigint := pg_catalog.pg_current_xact_id()::text::bigint;
  v_x bigint := p::text::bigint;
  v_ahead bigint;
BEGIN
  IF v_x < 3 THEN
    RETURN false;
  END IF;
  v_ahead := (v_x - (v_top & 4294967295) + 6442450944) % 4294967296 - 2147483648;
  IF v_ahead < 0 THEN
    RETURN false;
  END IF;
  RETURN coalesce(pg_catalog.pg_xact_status((v_top + v_ahead)::text::pg_catalog.xid8) = 'in progress', false);
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN false;
END
$fn$;

-- Records the pre-image of `p_scope` (with its parts) and arms the tracker, before the
-- step's first statement. Once per transaction.
CREATE FUNCTION stepgate.track_arm(p_scope oid[])
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_xid pg_catalog.xid8 := pg_catalog.pg_current_xact_id();
  v_owners oid[] := stepgate.catalog_owners(p_scope);
BEGIN
  IF EXISTS (SELECT FROM stepgate.catalog_preimage p WHERE p.xid = v_xid) THEN
    RAISE EXCEPTION 'stepgate: this transaction already recorded its pre-image' USING ERRCODE = '42501';
  END IF;
  PERFORM stepgate.track_arm();
  DELETE FROM stepgate.catalog_preimage p WHERE p.at < pg_catalog.now() - interval '1 day';
  INSERT INTO stepgate.catalog_preimage (xid, owners) VALUES (v_xid, v_owners);
  INSERT INTO stepgate.catalog_preimage (xid, cat, t, h)
  SELECT v_xid, r.cat, r.t, r.h
    FROM stepgate.catalog_rows(v_owners, (SELECT s.seed FROM stepgate.catalog_seed s)) r;
END
$fn$;

-- What this transaction moved, per catalog (rows, XOR), from its pre-image and what the
-- tracker recorded: no rows at all when it cannot say (no pre-image, tracker not armed or
-- silenced).
CREATE FUNCTION stepgate.catalog_delta()
RETURNS TABLE (cat text, dn bigint, dx bigint) LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp SET jit = off AS $fn$
DECLARE
  v_xid pg_catalog.xid8 := pg_catalog.pg_current_xact_id_if_assigned();
  v_pre oid[];
  v_owners oid[];
BEGIN
  IF v_xid IS NULL OR NOT stepgate.track_armed()
     OR pg_catalog.current_setting('session_replication_role') = 'replica' THEN
    RETURN;
  END IF;
  SELECT p.owners INTO v_pre FROM stepgate.catalog_preimage p WHERE p.xid = v_xid AND p.cat IS NULL;
  IF v_pre IS NULL THEN
    RETURN;
  END IF;
  -- The scope as armed, plus what DDL touched with its parts (a new index, a rewrite's new
  -- TOAST table: the command that made them is recorded against their table).
  v_owners := ARRAY(SELECT t.owner FROM stepgate.ddl_tracked t WHERE t.xid = v_xid AND t.owner IS NOT NULL);
  IF v_owners <> '{}' THEN
    v_owners := stepgate.catalog_owners(v_owners);
  END IF;
  v_owners := v_pre || v_owners;
  RETURN QUERY
  WITH pre AS MATERIALIZED (
         SELECT p.cat, p.t, p.h FROM stepgate.catalog_preimage p WHERE p.xid = v_xid AND p.cat IS NOT NULL),
       now AS MATERIALIZED (
         SELECT r.cat, r.t, r.h, r.xm
           FROM stepgate.catalog_rows(ARRAY(SELECT DISTINCT pg_catalog.unnest(v_owners)),
                                      (SELECT s.seed FROM stepgate.catalog_seed s)) r),
       -- Only rows this transaction wrote: one another session wrote (or one of an object
       -- outside the pre-image that the step left alone) stays out, and so stays drift.
       added AS (SELECT n.* FROM now n
                  WHERE NOT EXISTS (SELECT FROM pre p WHERE p.cat = n.cat AND p.t = n.t)
                    AND stepgate.xmin_ours(n.xm)),
       removed AS (SELECT p.* FROM pre p WHERE NOT EXISTS (SELECT FROM now n WHERE n.cat = p.cat AND n.t = p.t)),
       moved AS (SELECT m.cat, sum(m.d)::bigint AS dn, pg_catalog.bit_xor(m.h) AS dx
                   FROM (SELECT a.cat, 1 AS d, a.h FROM added a UNION ALL SELECT r.cat, -1, r.h FROM removed r) m
                  GROUP BY m.cat)
  SELECT c.cat, coalesce(m.dn, 0), coalesce(m.dx, 0)
    FROM (VALUES {catalogs}) c(cat) LEFT JOIN moved m ON m.cat = c.cat;
END
$fn$;

-- Recomputes the baseline from the whole catalog.
CREATE FUNCTION stepgate.catalog_rebaseline()
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({lock});
  DELETE FROM stepgate.catalog_tallies;
  INSERT INTO stepgate.catalog_tallies (cat, n, x) SELECT s.cat, s.n, s.x FROM stepgate.catalog_scan() s;
END
$fn$;

-- Drift's baseline after this transaction, for its commit fact: the previous one moved by
-- what the transaction changed, or recomputed when that cannot be vouched for.
-- `p_one_transaction`: the step ran in this one transaction (apply, rollback, hold), so it
-- could have recorded a pre-image, and must have where the baseline is kept: a recompute
-- would fold into the baseline whatever was changed outside stepgate before it (a DDL form
-- no event trigger sees), and the client decides whether a pre-image is recorded.
CREATE FUNCTION stepgate.commit_fingerprint(p_one_transaction boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_mode text := 'chained';
  v_moved bigint := 0;
  v_kept boolean;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock({lock});
  v_kept := (SELECT count(*) FROM stepgate.catalog_tallies) = {ncatalogs}
            AND (SELECT count(*) FROM pg_catalog.pg_event_trigger e
                  WHERE e.evtname IN ('stepgate_track', 'stepgate_track_drop') AND e.evtenabled <> 'D') = 2;
  IF v_kept THEN
    UPDATE stepgate.catalog_tallies b SET n = b.n + d.dn, x = b.x # d.dx
      FROM stepgate.catalog_delta() d WHERE d.cat = b.cat;
    GET DIAGNOSTICS v_moved = ROW_COUNT;
  END IF;
  IF v_moved <> {ncatalogs} THEN
    IF v_kept AND p_one_transaction THEN
      RAISE EXCEPTION 'stepgate: this commit recorded no pre-image of its objects (stepgate.track_arm(oid[]) before its first statement): drift''s baseline would be recomputed over whatever changed outside stepgate'
        USING ERRCODE = '42501';
    END IF;
    PERFORM stepgate.catalog_rebaseline();
    v_mode := 'recomputed';
  END IF;
  DELETE FROM stepgate.catalog_preimage p WHERE p.xid = pg_catalog.pg_current_xact_id_if_assigned();
  RETURN pg_catalog.jsonb_build_object('catalog_baseline', v_mode, 'catalog_fingerprint', (
    SELECT stepgate.tallies_digest(pg_catalog.array_agg(b.cat), pg_catalog.array_agg(b.n), pg_catalog.array_agg(b.x))
      FROM stepgate.catalog_tallies b));
END
$fn$;

-- The ledger admin, having reviewed what changed outside stepgate, makes the live catalog
-- drift's baseline: a fact, like a commit's.
CREATE FUNCTION stepgate.accept_drift(p_pack text, p_os_user text, p_host text, p_run_id text)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_admin text := (SELECT m.value FROM stepgate.meta m WHERE m.key = 'admin_role');
  v_details jsonb;
BEGIN
  IF NOT pg_catalog.pg_has_role(session_user, v_admin, 'MEMBER') THEN
    RAISE EXCEPTION 'stepgate: only the ledger admin (%) may accept drift', v_admin USING ERRCODE = '42501';
  END IF;
  PERFORM stepgate.catalog_rebaseline();
  v_details := pg_catalog.jsonb_build_object('catalog_baseline', 'accepted',
                 'catalog_fingerprint', stepgate.catalog_fingerprint());
  PERFORM stepgate.append_fact(p_pack, NULL, 'drift', 'accepted', p_os_user, p_host, NULL, p_run_id, v_details);
  RETURN v_details;
END
$fn$;

REVOKE ALL ON FUNCTION stepgate.catalog_delta(), stepgate.catalog_rebaseline(),
  stepgate.commit_fingerprint(boolean), stepgate.catalog_rows(oid[], bigint), stepgate.catalog_scan() FROM PUBLIC;
"#;

/// Starts the baseline again from the whole catalog: at the end of the ledger's install and
/// after each of the admin's own changes to the catalog (the guard's event triggers, a
/// table's guard trigger), which are not drift. A ledger installed before the baseline
/// existed has nothing to start.
pub const REBASELINE_SQL: &str = "DO $baseline$
BEGIN
  IF pg_catalog.to_regprocedure('stepgate.catalog_rebaseline()') IS NOT NULL THEN
    PERFORM stepgate.catalog_rebaseline();
  END IF;
END
$baseline$;\n";
