-- Rollback of STEP 6 — SB-1 (doc 97.3 / 97.7) — special: RETIRE, do NOT delete; KEEP the trigger fix.
-- Runs only under its own reversal authorization (rollback_gates = M-1), after
-- `stepgate rehearse --rollback --step 6` proved it.
--
-- action-types are FK-referenced by approval_requests.proposed_action_code (ON DELETE
-- RESTRICT) ⇒ NEVER DELETE. A retired type stays as vocabulary history; any future APR
-- referencing it is blocked by fn_apr_block_unimplemented_handler.
-- The F-83-1 birth-trigger fix (fn_birth_registry_auto('action_code')) is the CORRECT
-- wiring and is KEPT: reverting to the no-arg def would re-break every future
-- apr_action_types insert (doc 98 §98.5). Their 4 birth_registry rows stay too.
-- (manifest: rollback_keeps = the trigger, rows apr_action_types, rows birth_registry)

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

UPDATE public.apr_action_types
   SET status = 'retired', retired_at = now()
 WHERE action_code IN ('assign_governance_owner', 'grant_governance_exception', 'delegate_authority', 'assign_axis_owner')
   AND status = 'active';

COMMIT;
