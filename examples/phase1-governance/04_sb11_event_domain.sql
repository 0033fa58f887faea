-- SECTION A — HEADER
--   step: STEP 4 (doc 94.5) · component: SB-11 governance event domain (register-before-emit)
--   package: examples/phase1-governance/04_sb11_event_domain.sql (doc 99.1)
--   authorizing docs: 93 §93.4, 94 §94.5, 95, 98, 99
--   M-1: os_proposal_approvals row for step_ref '4' ("SB-11 register") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1); council record: n/a
--        (activation/trust = C-7.1, NOT now)
--   pg_dump of touched reuse-tables (event_type_registry): taken by the runner before COMMIT,
--        path and sha256 in the ledger's backup event (doc 94.9)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply`
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + ospa).

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   master gate = the runner's `ospa` gate (re-checked live before COMMIT). Reported here:
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '4' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 4 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- vocabulary baseline: no governance event type registered yet
DO $$
BEGIN
  IF (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 94.1): governance event types already registered';
  END IF;
END
$$;

-- cross-step invariants (doc 94.9); event_outbox governance = 0 is also a doc 94.5 stop condition
DO $$
BEGIN
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'STOP (doc 94.9): governance_relations <> 8';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 94.5): event_outbox governance <> 0';
  END IF;
END
$$;

-- SECTION C — BEGIN + SESSION GUC
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
--   F-57-2: delivery_lane = 'delayed' — a value of event_type_registry_delivery_lane_check
--           (realtime/delayed/batch); anything else fails the CHECK.
--   F-57-3: event_stream ∈ {alert, health} — values of event_type_registry_event_stream_check;
--           there is no 'governance' stream.
--   F-57-4: default_severity ∈ {info, warning} — values of event_type_registry_default_severity_check.
--   All five registered active=false: register-before-emit without emitting (the outbox
--   guard refuses to emit an inactive type).

-- SECTION E — THE ADDITIVE DDL/DML
-- 5 rows in the existing event_type_registry — source: doc 41 (SB-11).
-- no-hardcode exemption (§99.6): the 'governance' event-domain literal is the new domain being
-- registered here (register-before-emit), a contract constant, not data.
INSERT INTO public.event_type_registry
    (event_type, event_domain, event_stream, delivery_lane, default_severity, active, description, _dot_origin)
VALUES
    ('governance.owner_gap_detected',     'governance', 'alert',  'delayed', 'warning', false, 'An object lacks an effective owner in a responsibility scope (v_object_owner_gap)', 'SB-11'),
    ('governance.exception_expiring',     'governance', 'alert',  'delayed', 'warning', false, 'A governance ownership exception approaches its effective_to', 'SB-11'),
    ('governance.delegation_expired',     'governance', 'alert',  'delayed', 'info',    false, 'A delegated ownership reached its effective_to', 'SB-11'),
    ('governance.candidate_scan_completed','governance', 'health', 'delayed', 'info',    false, 'A candidate_scan_run finished', 'SB-11'),
    ('governance.worker_cursor_stale',    'governance', 'health', 'delayed', 'warning', false, 'A gov_worker_cursor watermark stopped advancing', 'SB-11');

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   negative tests (each CHECK enum, and "an inactive type cannot be emitted") are the
--   manifest's [[step.negative]], run in savepoints after the delta is measured.
DO $$
BEGIN
  IF (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance') <> 5 THEN
    RAISE EXCEPTION 'SB-11: expected exactly 5 governance event types';
  END IF;
  IF EXISTS (SELECT 1 FROM public.event_type_registry WHERE event_domain = 'governance' AND active) THEN
    RAISE EXCEPTION 'SB-11: a governance event type is active=true (activation = C-7.1, not now)';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'SB-11: event_outbox governance <> 0';
  END IF;
END
$$;
--   no-hardcode (§99.6): event types are rows in event_type_registry; lanes/streams/severities
--   come from its CHECK vocabularies.
--   no-island (§99.7): events will go through event_outbox after registration — no side-channel.
SELECT (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance') AS governance_types,
       (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance')        AS governance_emitted;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance' AND NOT active) <> 5 THEN
    RAISE EXCEPTION 'post-commit: governance event types are not 5 inactive rows';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/04_sb11_rollback.sql (doc 97.3/97.6 SB-11): DELETE FROM event_type_registry WHERE event_domain='governance'
--   (nothing emitted ⇒ no outbox unwind).
