-- 00_preflight.sql — STEP 0 (doc 94.1): read-only preflight, the doc-96 slice that must hold
-- before EVERY Phase 1 step. No BEGIN/COMMIT, no SET (doc 99.3): `stepgate preflight` runs
-- this file inside its own READ ONLY transaction with the pack's timeouts already set.
-- The per-step object checks (target absent / present, requires committed) and the
-- cross-step invariants are run by `stepgate preflight` itself from the manifest.
-- The pg_dump of the reuse-tables is `stepgate backup` (taken automatically before apply).
--
-- Stop condition (doc 94.1): counts contradicting doc 91 / this package → STOP, reconcile.

-- Baseline evidence row (recorded with the preflight event).
SELECT current_database()                                                         AS database,
       (SELECT count(*) FROM public.apr_action_types)                             AS apr_action_types,
       (SELECT count(*) FROM public.apr_action_types WHERE status = 'active')     AS apr_action_types_active,
       (SELECT count(*) FROM public.approval_requests)                            AS approval_requests,
       (SELECT count(*) FROM public.apr_approvals)                                AS apr_approvals,
       (SELECT count(*) FROM public.os_proposal_approvals)                        AS os_proposal_approvals,
       (SELECT count(*) FROM public.governance_relations)                         AS governance_relations,
       (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') AS event_outbox_governance,
       (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance') AS event_types_governance,
       (SELECT count(*) FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\_%') AS heartbeat_gov,
       (SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types') AS birth_apr_rows,
       (SELECT pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal)        AS apr_birth_trigger;

-- The nine reuse-tables any Phase 1 step touches or reads (doc 94.1) are present.
DO $$
DECLARE
  v_missing text;
BEGIN
  SELECT string_agg(t, ', ') INTO v_missing
    FROM unnest(ARRAY['apr_action_types','governance_relations','governance_registry',
                      'event_type_registry','evolution_snapshots','queue_heartbeat',
                      'dot_tools','dot_domains','dot_coverage_required']) AS t
   WHERE to_regclass('public.' || t) IS NULL;
  IF v_missing IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.1): reuse-table(s) missing: %', v_missing;
  END IF;
END
$$;

-- The Đ-32 spine SB-1 reuses (doc 99.7 no-island) is present.
DO $$
BEGIN
  IF (SELECT count(*) FROM pg_proc
       WHERE proname IN ('fn_apr_quorum_check', 'fn_apr_block_unimplemented_handler')) <> 2 THEN
    RAISE EXCEPTION 'STOP (doc 99.7): fn_apr_quorum_check / fn_apr_block_unimplemented_handler missing';
  END IF;
  IF (SELECT confdeltype FROM pg_constraint
       WHERE conrelid = 'public.approval_requests'::regclass AND contype = 'f'
         AND confrelid = 'public.apr_action_types'::regclass) IS DISTINCT FROM 'r' THEN
    RAISE EXCEPTION 'STOP (doc 97.7): approval_requests → apr_action_types FK is not ON DELETE RESTRICT';
  END IF;
END
$$;

-- doc 94.7 stop condition: the TRIGGER-GUARD must be at WARNING level, never ERROR.
DO $$
BEGIN
  IF lower(coalesce(nullif(current_setting('governance.trigger_guard_level', true), ''), 'warning')) = 'error' THEN
    RAISE EXCEPTION 'STOP (doc 94.7/98): governance.trigger_guard_level = error; route per doc 98';
  END IF;
END
$$;

-- doc 97.9: no session left idle in transaction on this database.
DO $$
BEGIN
  IF (SELECT count(*) FROM pg_stat_activity
       WHERE datname = current_database() AND state LIKE 'idle in transaction%'
         AND pid <> pg_backend_pid()) > 0 THEN
    RAISE EXCEPTION 'STOP (doc 94.2): a session is idle in transaction on %', current_database();
  END IF;
END
$$;
