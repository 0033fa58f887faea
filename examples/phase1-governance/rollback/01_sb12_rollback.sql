-- Rollback of STEP 1 — SB-12 (doc 97.3). Runs only under its own reversal authorization
-- (rollback_gates = M-1), after `stepgate rehearse --rollback --step 1` proved it.
-- Child first (doc 97.4): refuses while SB-10 (step 3) still references governance_ruleset.

-- Read-only guard: the FK child must already be gone (no CASCADE, ever).
DO $$
BEGIN
  IF to_regclass('public.governance_candidate_state') IS NOT NULL
     OR to_regclass('public.candidate_scan_run') IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 97.4): SB-10 tables still reference governance_ruleset; roll back step 3 first';
  END IF;
END
$$;

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- the governance ruleset fingerprint row, by its key only (never blanket)
DELETE FROM public.evolution_snapshots
 WHERE snapshot_key = 'governance_ruleset:v1:draft' AND _dot_origin = 'SB-12';

DROP TABLE IF EXISTS public.governance_ruleset;

COMMIT;
