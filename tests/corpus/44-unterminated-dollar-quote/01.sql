-- SECTION A — HEADER
-- corpus case 44
-- SECTION B — PREFLIGHT
SELECT 'corpus_sql_44' AS marker;
-- SECTION C — BEGIN
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '1s';
SET LOCAL idle_in_transaction_session_timeout = '15s';
-- SECTION D — FOLD-INS
-- SECTION E — DDL/DML
DO $$ BEGIN PERFORM 'corpus_sql_44'; END;
CREATE TABLE public.corpus_marker_44 (id int);
-- SECTION F — VERIFY
SELECT 'corpus_sql_44' AS verify_marker;
-- SECTION G — BOUNDARY
ROLLBACK;
-- SECTION H — POST-COMMIT
-- SECTION I — ROLLBACK REFERENCE
-- rollback/01.sql
