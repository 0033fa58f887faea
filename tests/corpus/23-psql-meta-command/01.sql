-- SECTION A — HEADER
-- corpus case 23
-- SECTION B — PREFLIGHT
\set ON_ERROR_STOP on
SELECT 'corpus_sql_23' AS marker;
-- SECTION C — BEGIN
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '1s';
SET LOCAL idle_in_transaction_session_timeout = '15s';
-- SECTION D — FOLD-INS
-- SECTION E — DDL/DML
CREATE TABLE public.corpus_marker_23 (id bigint PRIMARY KEY, note text NOT NULL DEFAULT 'corpus_sql_23');
-- SECTION F — VERIFY
SELECT 'corpus_sql_23' AS verify_marker;
-- SECTION G — BOUNDARY
ROLLBACK;
-- SECTION H — POST-COMMIT
-- SECTION I — ROLLBACK REFERENCE
-- rollback/01.sql
