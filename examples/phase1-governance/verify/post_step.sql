-- verify/post_step.sql — doc 101 post-build verification block, run read-only by the runner
-- after every COMMIT (and by `stepgate verify`). No BEGIN/COMMIT, no SET (doc 99.3).
-- Holds after ANY Phase 1 step and after its rollback: it checks what must never happen in
-- Phase 1, not how far the build got. (Inner queries on tables a later step creates are
-- guarded by to_regclass: PL/pgSQL plans a statement only when it runs.)

-- Evidence row (doc 97.9 verification queries).
SELECT (SELECT count(*) FROM public.apr_action_types)                                      AS apr_action_types,
       (SELECT count(*) FROM public.apr_action_types WHERE status = 'active')              AS apr_action_types_active,
       (SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance') AS event_types_governance,
       (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance')        AS event_outbox_governance,
       (SELECT count(*) FROM public.governance_relations)                                  AS governance_relations,
       (SELECT count(*) FROM public.os_proposal_approvals)                                 AS os_proposal_approvals,
       (SELECT pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal)                 AS apr_birth_trigger;

-- Nothing emitted, nothing activated (doc 94.8, 97.6).
DO $$
BEGIN
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'DISASTER (doc 97.10): an event was emitted in the governance domain';
  END IF;
  IF EXISTS (SELECT 1 FROM public.event_type_registry WHERE event_domain = 'governance' AND active) THEN
    RAISE EXCEPTION 'doc 94.8: a governance event type is active (activation needs C-7.1)';
  END IF;
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'DISASTER (doc 97.10): governance_relations <> 8';
  END IF;
END
$$;

-- SB-1 Phase B is NO-GO: no handler flipped, no APR opened for the new vocabulary (doc 94.7).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM public.apr_action_types
              WHERE action_code IN ('assign_governance_owner', 'grant_governance_exception',
                                    'delegate_authority', 'assign_axis_owner')
                AND handler_ref <> 'unimplemented') THEN
    RAISE EXCEPTION 'DISASTER (doc 97.10): an SB-1 handler_ref was flipped to a real handler';
  END IF;
  IF EXISTS (SELECT 1 FROM public.approval_requests
              WHERE proposed_action_code IN ('assign_governance_owner', 'grant_governance_exception',
                                             'delegate_authority', 'assign_axis_owner')) THEN
    RAISE EXCEPTION 'doc 94.7: an approval_requests row references the SB-1 vocabulary';
  END IF;
END
$$;

-- Quiet substrate (doc 94.8): draft ruleset only, candidate store empty, no owner rows for
-- real objects, no governance DOT rows.
DO $$
BEGIN
  IF to_regclass('public.governance_ruleset') IS NOT NULL THEN
    IF EXISTS (SELECT 1 FROM public.governance_ruleset WHERE status <> 'draft') THEN
      RAISE EXCEPTION 'doc 94.2: a non-draft governance ruleset exists';
    END IF;
  END IF;
  IF to_regclass('public.governance_candidate_state') IS NOT NULL THEN
    IF (SELECT count(*) FROM public.governance_candidate_state) <> 0 THEN
      RAISE EXCEPTION 'doc 94.8: the candidate store is not empty (backfill is not Phase 1)';
    END IF;
  END IF;
  IF to_regclass('public.governance_object_ownership') IS NOT NULL THEN
    IF (SELECT count(*) FROM public.governance_object_ownership) <> 0 THEN
      RAISE EXCEPTION 'doc 94.8: owner rows were written for real objects';
    END IF;
  END IF;
  IF (SELECT count(*) FROM public.dot_tools WHERE _dot_origin LIKE 'governance.%' OR domain LIKE 'governance.%')
   + (SELECT count(*) FROM public.dot_domains WHERE domain LIKE 'governance.%') <> 0 THEN
    RAISE EXCEPTION 'doc 94.8: governance DOT rows registered (T6/T7 are not Phase 1)';
  END IF;
END
$$;
