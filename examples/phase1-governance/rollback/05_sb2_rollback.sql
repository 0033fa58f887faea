-- Rollback of STEP 5 — SB-2 (doc 97.3). Runs only under its own reversal authorization
-- (rollback_gates = M-1), after `stepgate rehearse --rollback --step 5` proved it.
-- DROP order (doc 97.4): views first (gap reads effective_owner), then the FK child
-- (ownership → scope), the parent last. No CASCADE.

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

DROP VIEW IF EXISTS public.v_object_owner_gap;
DROP VIEW IF EXISTS public.v_object_effective_owner;
DROP TABLE IF EXISTS public.governance_object_ownership;      -- child of governance_responsibility_scope (FK scope)
DROP TABLE IF EXISTS public.governance_responsibility_scope;  -- parent last

COMMIT;
