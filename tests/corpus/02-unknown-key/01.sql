-- SECTION A — HEADER
-- corpus case 02
-- SECTION B — PREFLIGHT
SELECT 'corpus_sql_02' AS marker;
-- SECTION C — BEGIN
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '1s';
SET LOCAL idle_in_transaction_session_timeout = '15s';
-- SECTION D — FOLD-INS
-- SECTION E — DDL/DML
CREATE TABLE public.corpus_marker_02 (id bigint PRIMARY KEY, note text NOT NULL DEFAULT 'corpus_sql_02');
-- SECTION F — VERIFY
SELECT 'corpus_sql_02' AS verify_marker;
-- SECTION G — BOUNDARY
ROLLBACK;
-- SECTION H — POST-COMMIT
-- SECTION I — ROLLBACK REFERENCE
-- rollback/01.sql
