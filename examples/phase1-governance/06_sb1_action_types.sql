-- SECTION A — HEADER
--   step: STEP 6 (doc 94.7) · component: SB-1 APR governance vocabulary — special risk
--   package: examples/phase1-governance/06_sb1_action_types.sql (doc 99.1)
--   authorizing docs: 93 §93.4, 94 §94.7, 95, 98 (F-83-1), 99
--   M-1: os_proposal_approvals row for step_ref '6' ("SB-1 build") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1)
--   council record: C-2 council build record = the council's signed approval (gate C-2) <quoted at build>
--   pg_dump of touched reuse-tables (apr_action_types, birth_registry): taken by the runner
--        before COMMIT, path and sha256 in the ledger's backup event (doc 94.7 prerequisite)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply`
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + C-2 + ospa).
--   Phase B (handler_ref flip / apply DOT) = NO-GO (A-9): every new type stays handler_ref='unimplemented'.

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   master gate = the runner's `ospa` gate; council record = gate C-2 (both re-checked before COMMIT).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '6' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 6 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- vocabulary baseline (SB-1): the 4 codes are absent; the birth trigger exists to be re-wired
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM public.apr_action_types
              WHERE action_code IN ('assign_governance_owner', 'grant_governance_exception',
                                    'delegate_authority', 'assign_axis_owner')) THEN
    RAISE EXCEPTION 'STOP (doc 94.1): an SB-1 action type is already present';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'public.apr_action_types'::regclass
                    AND tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal) THEN
    RAISE EXCEPTION 'STOP (doc 98): trg_birth_apr_action_types is missing';
  END IF;
END
$$;

-- doc 94.7 stop condition: the TRIGGER-GUARD must fire at WARNING, never ERROR (route per doc 98)
DO $$
BEGIN
  IF lower(coalesce(nullif(current_setting('governance.trigger_guard_level', true), ''), 'warning')) = 'error' THEN
    RAISE EXCEPTION 'STOP (doc 94.7): TRIGGER-GUARD is at ERROR level; route per doc 98';
  END IF;
END
$$;

-- cross-step invariants (doc 94.9) + SB-1's own: no APR row, no approval, no emit
DO $$
BEGIN
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'STOP (doc 94.9): governance_relations <> 8';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 97.10): event_outbox holds governance rows';
  END IF;
  IF (SELECT count(*) FROM public.approval_requests) <> 211 OR (SELECT count(*) FROM public.apr_approvals) <> 42 THEN
    RAISE EXCEPTION 'STOP (doc 94.7): approval_requests/apr_approvals are not 211/42';
  END IF;
END
$$;

-- SECTION C — BEGIN + SESSION GUC
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
-- F-83-1: re-wire so entity_code uses action_code, else fn_birth_registry_auto() reads
--         TG_ARGV[0] = NULL and every INSERT NULL-violates birth_registry.entity_code (23502).
--         FIRST statements after BEGIN, before the INSERTs (doc 99.2 §D). Expect two
--         [TRIGGER-GUARD] WARNINGs (DROP/CREATE TRIGGER) — WARNING level is the authorized path.
DROP TRIGGER trg_birth_apr_action_types ON public.apr_action_types;
CREATE TRIGGER trg_birth_apr_action_types AFTER INSERT ON public.apr_action_types
    FOR EACH ROW EXECUTE FUNCTION public.fn_birth_registry_auto('action_code');

-- SECTION E — THE ADDITIVE DDL/DML
-- 4 rows in the existing apr_action_types — source: doc 16 (SB-1) + doc 98.
-- action≠'add' convention: no approval_requests row is created here (forbidden).
-- Each INSERT births through the re-wired trigger: birth_registry +4 (entity_code = action_code).
INSERT INTO public.apr_action_types (action_code, label, description, risk_level, status, handler_ref, _dot_origin)
VALUES ('assign_governance_owner',    'Assign governance owner',    'Write an accountable/supporting owner row to governance_object_ownership', 'high', 'active', 'unimplemented', 'SB-1');
INSERT INTO public.apr_action_types (action_code, label, description, risk_level, status, handler_ref, _dot_origin)
VALUES ('grant_governance_exception', 'Grant governance exception', 'Grant a time-boxed ownership exception', 'high', 'active', 'unimplemented', 'SB-1');
INSERT INTO public.apr_action_types (action_code, label, description, risk_level, status, handler_ref, _dot_origin)
VALUES ('delegate_authority',         'Delegate authority',         'Delegate ownership for a bounded period (effective_to required)', 'high', 'active', 'unimplemented', 'SB-1');
INSERT INTO public.apr_action_types (action_code, label, description, risk_level, status, handler_ref, _dot_origin)
VALUES ('assign_axis_owner',          'Assign axis owner',          'Assign the owner of a responsibility scope (axis)', 'high', 'active', 'unimplemented', 'SB-1');

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   negative tests (PK collision, bad risk, bad status) are the manifest's [[step.negative]],
--   each in its own savepoint after the delta is measured.
DO $$
BEGIN
  IF (SELECT count(*) FROM public.apr_action_types) <> 10 THEN
    RAISE EXCEPTION 'SB-1: apr_action_types is not 10 (6 → 10)';
  END IF;
  IF (SELECT count(*) FROM public.apr_action_types
       WHERE _dot_origin = 'SB-1' AND handler_ref = 'unimplemented' AND risk_level = 'high' AND status = 'active') <> 4 THEN
    RAISE EXCEPTION 'SB-1: the 4 new rows must be handler_ref=unimplemented, risk=high, active';
  END IF;
  IF (SELECT count(*) FROM public.birth_registry b
        JOIN public.apr_action_types t ON t.action_code = b.entity_code
       WHERE b.collection_name = 'apr_action_types') <> 4 THEN
    RAISE EXCEPTION 'SB-1 / F-83-1: expected 4 birth rows with entity_code = action_code (fix not effective)';
  END IF;
  IF (SELECT pg_get_triggerdef(oid) FROM pg_trigger
       WHERE tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal) NOT LIKE '%fn_birth_registry_auto(''action_code'')%' THEN
    RAISE EXCEPTION 'SB-1 / F-83-1: trigger is not wired with fn_birth_registry_auto(''action_code'')';
  END IF;
  IF (SELECT count(*) FROM public.approval_requests) <> 211 OR (SELECT count(*) FROM public.apr_approvals) <> 42 THEN
    RAISE EXCEPTION 'SB-1: an approval_requests/apr_approvals row was created';
  END IF;
END
$$;
--   no-hardcode (§99.6): action-type names/risk/handler are rows in apr_action_types; quorum
--   derives from risk_level in fn_apr_quorum_check (no enum / code-branch list).
--   no-island (§99.7): vocabulary added to the existing Đ-32 spine, reusing fn_apr_quorum_check /
--   fn_apr_block_unimplemented_handler — no private approval table.
SELECT (SELECT count(*) FROM public.apr_action_types) AS apr_action_types,
       (SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types') AS birth_apr_rows,
       (SELECT pg_get_triggerdef(oid) FROM pg_trigger
         WHERE tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal) AS trigger_def;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1, C-2 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF (SELECT count(*) FROM public.apr_action_types WHERE _dot_origin = 'SB-1' AND handler_ref <> 'unimplemented') <> 0 THEN
    RAISE EXCEPTION 'post-commit: an SB-1 handler_ref was flipped (Phase B = NO-GO)';
  END IF;
  IF (SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types') <> 4 THEN
    RAISE EXCEPTION 'post-commit: birth_registry rows for apr_action_types are not 4';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/06_sb1_rollback.sql (doc 97.3/97.7 SB-1): RETIRE the 4 action types (status='retired',
--   retired_at=now()), never DELETE (FK RESTRICT); KEEP the F-83-1 trigger fix (doc 98 §98.5).
