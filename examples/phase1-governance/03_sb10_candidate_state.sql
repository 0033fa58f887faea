-- SECTION A — HEADER
--   step: STEP 3 (doc 94.4) · component: SB-10 governance candidate store (keystone)
--   package: examples/phase1-governance/03_sb10_candidate_state.sql (doc 99.1)
--   authorizing docs: 93 §93.4, 94 §94.4, 95, 98, 99
--   prerequisite: STEP 1 (SB-12) committed — FK parent governance_ruleset (manifest: requires = ["1"])
--   M-1: os_proposal_approvals row for step_ref '3' ("SB-10 build") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1); council record: n/a
--   pg_dump of touched reuse-tables: none (greenfield tables only)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply`
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + ospa).

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   master gate = the runner's `ospa` gate (re-checked live before COMMIT). Reported here:
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '3' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 3 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- FK parent PRESENT (doc 94.4 stop condition: SB-12 not present → the FK would fail → STOP)
DO $$
BEGIN
  IF to_regclass('public.governance_ruleset') IS NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.4): FK parent governance_ruleset (SB-12) is absent; commit STEP 1 first';
  END IF;
END
$$;

-- targets ABSENT (greenfield)
DO $$
BEGIN
  IF to_regclass('public.governance_candidate_state') IS NOT NULL
     OR to_regclass('public.candidate_scan_run') IS NOT NULL
     OR to_regclass('public.governance_candidate_object') IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.1): an SB-10 table is unexpectedly PRESENT';
  END IF;
END
$$;

-- cross-step invariants (doc 94.9)
DO $$
BEGIN
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'STOP (doc 94.9): governance_relations <> 8';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 97.10): event_outbox holds governance rows';
  END IF;
END
$$;

-- SECTION C — BEGIN + SESSION GUC
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
--   L-CANON-NULL: candidate_key = COALESCE(canonical_address, collection_name||':'||entity_code),
--                 a GENERATED column — most rows have no canonical_address yet, so keying on
--                 canonical_address alone would collapse them all onto NULL (no uniqueness).
--   no-checked-forever: there is NO boolean verdict column; the verdict is a state per
--                 ruleset version (candidate_state), re-evaluated when the ruleset changes.

-- SECTION E — THE ADDITIVE DDL/DML
-- governance_candidate_state — source: doc 40 (SB-10). Greenfield; no trigger; NOT seeded
-- (backfill is out of Phase 1).
CREATE TABLE public.governance_candidate_state (
    id                 bigint      GENERATED ALWAYS AS IDENTITY,
    ruleset_version    integer     NOT NULL,
    collection_name    text        NOT NULL,
    entity_code        text        NOT NULL,
    canonical_address  text,
    candidate_key      text        GENERATED ALWAYS AS
                           (COALESCE(canonical_address, collection_name || ':' || entity_code)) STORED,
    candidate_state    text        NOT NULL DEFAULT 'unscanned',
    evidence           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    last_evaluated_at  timestamptz,
    _dot_origin        text,
    CONSTRAINT governance_candidate_state_pkey PRIMARY KEY (id),
    CONSTRAINT governance_candidate_state_ruleset_version_fkey FOREIGN KEY (ruleset_version)
        REFERENCES public.governance_ruleset (version) ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT governance_candidate_state_candidate_state_check
        CHECK (candidate_state IN ('unscanned', 'candidate', 'not_candidate', 'needs_review', 'superseded')),
    CONSTRAINT governance_candidate_state_key_uq UNIQUE (ruleset_version, candidate_key)
);
COMMENT ON COLUMN public.governance_candidate_state.candidate_key IS
  'L-CANON-NULL: COALESCE(canonical_address, collection_name||'':''||entity_code); computed, never written.';

-- candidate_scan_run — source: doc 40 (SB-10 scan bookkeeping). Greenfield; no trigger.
CREATE TABLE public.candidate_scan_run (
    id               bigint      GENERATED ALWAYS AS IDENTITY,
    ruleset_version  integer     NOT NULL,
    status           text        NOT NULL DEFAULT 'planned',
    started_at       timestamptz,
    finished_at      timestamptz,
    watermark_id     text,
    scanned_count    bigint      NOT NULL DEFAULT 0,
    candidate_count  bigint      NOT NULL DEFAULT 0,
    error            text,
    _dot_origin      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT candidate_scan_run_pkey PRIMARY KEY (id),
    CONSTRAINT candidate_scan_run_ruleset_version_fkey FOREIGN KEY (ruleset_version)
        REFERENCES public.governance_ruleset (version) ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT candidate_scan_run_status_check
        CHECK (status IN ('planned', 'running', 'completed', 'failed', 'aborted')),
    CONSTRAINT candidate_scan_run_window_check CHECK (finished_at IS NULL OR started_at IS NOT NULL)
);

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   negative tests (bad ruleset_version FK, written candidate_key, scan-run FK) are the
--   manifest's [[step.negative]], run in savepoints after the delta is measured.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid IN ('public.governance_candidate_state'::regclass, 'public.candidate_scan_run'::regclass)
                AND a.attnum > 0 AND NOT a.attisdropped AND t.typname = 'bool') THEN
    RAISE EXCEPTION 'SB-10: a boolean verdict column exists (checked-forever is forbidden)';
  END IF;
  IF (SELECT attgenerated FROM pg_attribute
       WHERE attrelid = 'public.governance_candidate_state'::regclass AND attname = 'candidate_key') <> 's' THEN
    RAISE EXCEPTION 'SB-10 / L-CANON-NULL: candidate_key is not a generated column';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint
                  WHERE conrelid = 'public.governance_candidate_state'::regclass AND contype = 'f'
                    AND confrelid = 'public.governance_ruleset'::regclass) THEN
    RAISE EXCEPTION 'SB-10: FK to governance_ruleset missing';
  END IF;
  IF (SELECT count(*) FROM public.governance_candidate_state) <> 0 THEN
    RAISE EXCEPTION 'SB-10: candidate rows must not be seeded in Phase 1';
  END IF;
END
$$;
--   no-hardcode (§99.6): candidate_key is computed; the ruleset is the SB-12 row it references.
--   no-island (§99.7): candidate verdicts live in governance_candidate_state only.
SELECT (SELECT count(*) FROM public.governance_candidate_state) AS candidate_rows,
       (SELECT count(*) FROM public.candidate_scan_run)         AS scan_runs;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF to_regclass('public.governance_candidate_state') IS NULL OR to_regclass('public.candidate_scan_run') IS NULL THEN
    RAISE EXCEPTION 'post-commit: an SB-10 table is absent';
  END IF;
  IF (SELECT count(*) FROM public.governance_candidate_state) <> 0 THEN
    RAISE EXCEPTION 'post-commit: candidate store is not empty';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/03_sb10_rollback.sql (doc 97.3 SB-10): DROP candidate_scan_run, then governance_candidate_state;
--   SB-12 stays unless step 1 is also reverted.
