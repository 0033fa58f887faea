-- SECTION A — HEADER
--   step: STEP 1 (doc 94.2) · component: SB-12 governance ruleset
--   package: examples/phase1-governance/01_sb12_ruleset.sql (doc 99.1)
--   authorizing docs: 93 §93.4 (order), 94 §94.2 (step), 95, 98, 99 (pack spec)
--   M-1: os_proposal_approvals row for step_ref '1' ("SB-12 build") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1); council record: n/a
--   pg_dump of touched reuse-tables (evolution_snapshots): taken by the runner before COMMIT,
--        path and sha256 recorded in the ledger's backup event (doc 94.9)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply` (no psql hand-run)
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + ospa).

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   The master gate (os_proposal_approvals for THIS step) is the runner's `ospa` gate,
--   re-checked live before COMMIT; absent it the runner only rehearses. Reported here:
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '1' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 1 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- target ABSENT (greenfield)
DO $$
BEGIN
  IF to_regclass('public.governance_ruleset') IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.1): governance_ruleset unexpectedly PRESENT';
  END IF;
  IF EXISTS (SELECT 1 FROM public.evolution_snapshots WHERE snapshot_key = 'governance_ruleset:v1:draft') THEN
    RAISE EXCEPTION 'STOP (doc 94.2): the SB-12 evolution_snapshots row already exists';
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
--   none mandatory for SB-12 (doc 99.4). The ruleset is created draft-only: status CHECK
--   plus "a draft is never activated" CHECK (doc 94.2 stop condition: created non-draft).

-- SECTION E — THE ADDITIVE DDL/DML
-- governance_ruleset — source: doc 38 (SB-12 ruleset store). Greenfield; no trigger (forbidden).
CREATE TABLE public.governance_ruleset (
    version       integer     NOT NULL,
    ruleset_hash  text        NOT NULL,
    status        text        NOT NULL DEFAULT 'draft',
    rules         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    description   text,
    source_doc    text,
    _dot_origin   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    retired_at    timestamptz,
    CONSTRAINT governance_ruleset_pkey PRIMARY KEY (version),
    CONSTRAINT governance_ruleset_ruleset_hash_key UNIQUE (ruleset_hash),
    CONSTRAINT governance_ruleset_version_check CHECK (version > 0),
    CONSTRAINT governance_ruleset_status_check CHECK (status IN ('draft', 'active', 'retired')),
    CONSTRAINT governance_ruleset_draft_inactive_check CHECK (status <> 'draft' OR activated_at IS NULL)
);
COMMENT ON TABLE public.governance_ruleset IS
  'SB-12 (doc 38): candidate rulesets as rows + hash, never inline constants. Phase 1 holds draft rows only.';

-- The Phase 1 ruleset row, status='draft' (activation is NOT Phase 1). Its identity is the
-- hash of its rules document — no-hardcode §99.6: the ruleset is a row/hash.
INSERT INTO public.governance_ruleset (version, ruleset_hash, status, rules, description, source_doc, _dot_origin)
SELECT 1, md5(r.rules::text), 'draft', r.rules,
       'Phase 1 candidate ruleset (draft, inactive)', 'doc 38', 'SB-12'
FROM (SELECT jsonb_build_object(
                 'candidate_key', 'COALESCE(canonical_address, collection_name||'':''||entity_code)',
                 'source', 'birth_registry',
                 'verdict', 'governance_candidate_state.candidate_state') AS rules) AS r;

-- 1 reuse row in evolution_snapshots (metrics jsonb fingerprint) — source: doc 38 / doc 94.2.
-- Keyed by snapshot_key so the rollback deletes exactly this row (doc 97.4).
INSERT INTO public.evolution_snapshots (snapshot_key, snapshot_kind, source, metrics, _dot_origin)
SELECT 'governance_ruleset:v1:draft', 'governance_ruleset_fingerprint', 'SB-12',
       jsonb_build_object('ruleset_version', g.version, 'ruleset_hash', g.ruleset_hash,
                          'status', g.status, 'fingerprint', md5(g.version::text || ':' || g.ruleset_hash)),
       'SB-12'
FROM public.governance_ruleset g
WHERE g.version = 1;

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   positive (asserted below); negative tests (bad status, duplicate version) are the
--   manifest's [[step.negative]]: the runner runs each in a savepoint after measuring the
--   delta, so they cannot pollute the measured row counts.
DO $$
BEGIN
  IF to_regclass('public.governance_ruleset') IS NULL THEN
    RAISE EXCEPTION 'SB-12: governance_ruleset not created';
  END IF;
  IF (SELECT count(*) FROM public.governance_ruleset) <> 1
     OR EXISTS (SELECT 1 FROM public.governance_ruleset WHERE status <> 'draft') THEN
    RAISE EXCEPTION 'SB-12: ruleset rows must be exactly one, status=draft (doc 94.2)';
  END IF;
  IF (SELECT count(*) FROM public.evolution_snapshots WHERE snapshot_key = 'governance_ruleset:v1:draft') <> 1 THEN
    RAISE EXCEPTION 'SB-12: expected exactly 1 evolution_snapshots fingerprint row';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'SB-12: event_outbox governance must stay 0';
  END IF;
END
$$;
--   no-hardcode (§99.6): the candidate ruleset is a row + hash (governance_ruleset), not a constant.
--   no-island (§99.7): the fingerprint goes to the existing evolution_snapshots, no shadow ledger.
-- entry==exit fields for the rehearsal variant:
SELECT (SELECT count(*) FROM public.governance_ruleset)  AS ruleset_rows,
       (SELECT count(*) FROM public.evolution_snapshots) AS evolution_snapshots;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF to_regclass('public.governance_ruleset') IS NULL THEN
    RAISE EXCEPTION 'post-commit: governance_ruleset absent';
  END IF;
  IF EXISTS (SELECT 1 FROM public.governance_ruleset WHERE status <> 'draft') THEN
    RAISE EXCEPTION 'post-commit: a non-draft ruleset exists';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/01_sb12_rollback.sql (doc 97.3 SB-12): DELETE the evo row by key, DROP governance_ruleset.
--   Blocked while SB-10 (step 3) is committed: roll step 3 back first (doc 97.4, child first).
