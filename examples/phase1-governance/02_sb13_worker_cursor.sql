-- SECTION A — HEADER
--   step: STEP 2 (doc 94.3) · component: SB-13 governance worker cursor family
--   package: examples/phase1-governance/02_sb13_worker_cursor.sql (doc 99.1)
--   authorizing docs: 93 §93.4, 94 §94.3, 95, 98, 99
--   M-1: os_proposal_approvals row for step_ref '2' ("SB-13 build") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1); council record: n/a
--   pg_dump of touched reuse-tables (queue_heartbeat): taken by the runner before COMMIT,
--        path and sha256 in the ledger's backup event (doc 94.9)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply`
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + ospa).

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   master gate = the runner's `ospa` gate (re-checked live before COMMIT). Reported here:
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '2' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 2 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- target ABSENT (greenfield); no gov_% executor registered yet
DO $$
BEGIN
  IF to_regclass('public.gov_worker_cursor') IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.1): gov_worker_cursor unexpectedly PRESENT';
  END IF;
  IF EXISTS (SELECT 1 FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\_%') THEN
    RAISE EXCEPTION 'STOP (doc 94.3): gov_%% queue_heartbeat rows already exist';
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
--   L-WATERMARK: last_watermark_id is TEXT — watermarks come from heterogeneous sources
--                (uuid, integer and text ids); a typed uuid/int column would reject or
--                silently mis-order some of them (doc 94.3 forbids reusing a typed id).
--   F-57-1:      heartbeat rows follow the queue_heartbeat conventions: executor_kind =
--                'PG_worker' (CHECK enum), executor_name ^[a-z][a-z0-9_]*$ in the gov_
--                family, metadata = '{}' (no D-45-unsafe keys) — else the safe-check RAISEs.

-- SECTION E — THE ADDITIVE DDL/DML
-- gov_worker_cursor — source: doc 39 (SB-13). Greenfield; no trigger (forbidden).
CREATE TABLE public.gov_worker_cursor (
    worker_name        text        NOT NULL,
    source_table       text        NOT NULL,
    last_watermark_id  text,
    last_watermark_at  timestamptz,
    status             text        NOT NULL DEFAULT 'idle',
    metadata           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    _dot_origin        text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gov_worker_cursor_pkey PRIMARY KEY (worker_name),
    CONSTRAINT gov_worker_cursor_worker_name_check CHECK (worker_name ~ '^gov_[a-z0-9_]+$'),
    CONSTRAINT gov_worker_cursor_status_check CHECK (status IN ('idle', 'running', 'paused', 'stopped')),
    CONSTRAINT gov_worker_cursor_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
COMMENT ON COLUMN public.gov_worker_cursor.last_watermark_id IS
  'L-WATERMARK: text on purpose (heterogeneous source ids); never a typed uuid/int id column.';

-- optional additive queue_heartbeat rows (doc 94.3): the two Phase-1 governance executors,
-- registered STOPPED (the scanner stays inactive until post-Phase-1 authorization).
INSERT INTO public.queue_heartbeat (executor_name, executor_kind, status, metadata)
VALUES ('gov_candidate_scanner', 'PG_worker', 'stopped', '{}'::jsonb),
       ('gov_owner_gap_scanner', 'PG_worker', 'stopped', '{}'::jsonb);

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   negative tests (bad executor_kind, D-45 unsafe key, non-gov cursor) are the manifest's
--   [[step.negative]], run by the runner in savepoints after the delta is measured.
DO $$
BEGIN
  IF (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
       WHERE attrelid = 'public.gov_worker_cursor'::regclass AND attname = 'last_watermark_id') <> 'text' THEN
    RAISE EXCEPTION 'SB-13 / L-WATERMARK: last_watermark_id is not text';
  END IF;
  IF (SELECT count(*) FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\_%') <> 2
     OR EXISTS (SELECT 1 FROM public.queue_heartbeat
                 WHERE executor_name LIKE 'gov\_%' AND (executor_kind <> 'PG_worker' OR metadata <> '{}'::jsonb)) THEN
    RAISE EXCEPTION 'SB-13 / F-57-1: gov_%% heartbeat rows must be 2, PG_worker, metadata {}';
  END IF;
END
$$;
--   no-hardcode (§99.6): executors are rows in the existing queue_heartbeat, kinds from its CHECK.
--   no-island (§99.7): cursors in gov_worker_cursor + reuse queue_heartbeat — no shadow ledger.
SELECT (SELECT count(*) FROM public.queue_heartbeat) AS queue_heartbeat,
       (SELECT count(*) FROM public.gov_worker_cursor) AS cursors;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF to_regclass('public.gov_worker_cursor') IS NULL THEN
    RAISE EXCEPTION 'post-commit: gov_worker_cursor absent';
  END IF;
  IF EXISTS (SELECT 1 FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\_%' AND executor_kind <> 'PG_worker') THEN
    RAISE EXCEPTION 'post-commit: a gov_%% heartbeat is not PG_worker';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/02_sb13_rollback.sql (doc 97.3 SB-13): DELETE gov\_% heartbeats, DROP gov_worker_cursor.
