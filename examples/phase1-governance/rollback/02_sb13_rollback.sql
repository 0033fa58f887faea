-- Rollback of STEP 2 — SB-13 (doc 97.3). Runs only under its own reversal authorization
-- (rollback_gates = M-1), after `stepgate rehearse --rollback --step 2` proved it.

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- governance-scoped key only (doc 97.4): the gov_% executors SB-13 registered
DELETE FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\_%';

DROP TABLE IF EXISTS public.gov_worker_cursor;

COMMIT;
