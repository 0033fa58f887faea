-- Rollback of STEP 3 — SB-10 (doc 97.3). Runs only under its own reversal authorization
-- (rollback_gates = M-1), after `stepgate rehearse --rollback --step 3` proved it.
-- Leaves SB-12 (governance_ruleset) intact: revert step 1 separately if required.
-- The optional governance_candidate_object table was not materialized in this pack.

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

DROP TABLE IF EXISTS public.candidate_scan_run;          -- sibling run-table first
DROP TABLE IF EXISTS public.governance_candidate_state;  -- references governance_ruleset (SB-12)

COMMIT;
