BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '1s';
SET LOCAL idle_in_transaction_session_timeout = '15s';
SELECT 'corpus_sql_11' AS marker;
DROP TABLE public.corpus_marker_11;
COMMIT;
