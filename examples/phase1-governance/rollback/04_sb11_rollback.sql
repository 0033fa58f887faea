-- Rollback of STEP 4 — SB-11 (doc 97.3 / 97.6). Runs only under its own reversal
-- authorization (rollback_gates = M-1), after `stepgate rehearse --rollback --step 4`.
-- The types were registered active=false, so nothing was emitted and there is no outbox
-- to unwind. If event_outbox holds governance rows that is an incident (doc 97.6): the
-- guard below refuses to delete the types.

DO $$
BEGIN
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 97.6): event_outbox holds governance rows; quarantine and investigate, do not delete the types';
  END IF;
END
$$;

BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

DELETE FROM public.event_type_registry WHERE event_domain = 'governance';

COMMIT;
