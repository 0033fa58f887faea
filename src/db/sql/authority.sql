-- stepgate authority: the security boundary inside PostgreSQL.
--
-- Everything here is owned by the ledger admin and runs SECURITY DEFINER with a pinned
-- search_path; every name is schema-qualified. The runner role may call authorize,
-- rehearsal_permit, permit_note, finish_session_permit, halt and resume: each checks its
-- own preconditions. It can read the tables but write none of them.

-- Facts versus claims: a fact is an event written by this code (or by the admin); a claim
-- is whatever a runner's client appended through append_event. stepgate decides only on facts.
CREATE TABLE stepgate.pack_state (
  pack        text PRIMARY KEY,
  -- The halt in force (a fact's id), or NULL.
  halt_event  bigint,
  halted      boolean NOT NULL DEFAULT false
);

CREATE TABLE stepgate.permits (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- commit: may commit once, in transaction txid; rehearsal: never commits;
  -- session: a transaction-less step, bound to the backend until finished.
  kind           text NOT NULL CHECK (kind IN ('commit', 'rehearsal', 'session')),
  txid           bigint,
  backend_pid    integer NOT NULL,
  backend_start  timestamptz NOT NULL,
  pack           text NOT NULL,
  step           text NOT NULL,
  action         text NOT NULL,
  plan_sha256    text NOT NULL,
  statements     text[] NOT NULL,
  search_path    text,
  -- The last statement admitted (1-based) and when that execution started: a statement
  -- admitted again in the same execution (a DO block firing several events) passes, a
  -- second execution of it does not.
  cursor         integer NOT NULL DEFAULT 0,
  cursor_at      timestamptz,
  -- Statements admitted, and those a guarded committer must have run (DDL, and writes to
  -- guarded tables) before COMMIT. Negative tests are admitted only to be rolled back:
  -- an admission past n_statements that survives to COMMIT refuses it.
  admitted       integer[] NOT NULL DEFAULT '{}',
  required       integer[] NOT NULL DEFAULT '{}',
  n_statements   integer NOT NULL DEFAULT 0,
  hold           boolean NOT NULL DEFAULT false,
  -- sha256 of each approval statement counted: each approval authorizes one commit.
  approvals      text[] NOT NULL DEFAULT '{}',
  principals     text[] NOT NULL DEFAULT '{}',
  valid_until    timestamptz,
  run_id         text,
  os_user        text,
  host           text,
  client_details jsonb NOT NULL DEFAULT '{}',
  issued_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  consumed_at    timestamptz,
  -- A batched step's plan part (`batch`): its one write may repeat, one run per batch.
  batch          jsonb
);
CREATE INDEX permits_live ON stepgate.permits (backend_pid) WHERE consumed_at IS NULL;

-- Batched steps. A run is one apply (or rollback) of a batched step, across as many
-- stepgate invocations as it takes (a killed run resumes): its progress is counted here by
-- the server, at each batch's COMMIT, from the transaction's own row counters.
CREATE TABLE stepgate.batch_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  pack         text NOT NULL,
  step         text NOT NULL,
  action       text NOT NULL,
  plan_sha256  text NOT NULL,
  tables       text[] NOT NULL,
  batches      integer NOT NULL DEFAULT 0,
  rows         bigint NOT NULL DEFAULT 0,
  counts       jsonb NOT NULL DEFAULT '{}',
  -- The last batch changed no row: the run is complete and no batch may follow.
  drained      boolean NOT NULL DEFAULT false,
  -- The ledger's last event when the run began: a rollback committed after it ends it.
  since_event  bigint NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at   timestamptz,
  finished_at  timestamptz,
  outcome      text
);
CREATE UNIQUE INDEX batch_runs_open ON stepgate.batch_runs (pack, step, action) WHERE finished_at IS NULL;
CREATE TABLE stepgate.batches (
  run           bigint NOT NULL REFERENCES stepgate.batch_runs (id),
  n             integer NOT NULL,
  permit        bigint NOT NULL,
  txid          bigint NOT NULL,
  -- When the repeated statement was admitted by the guard (NULL: not under the guard).
  ran_at        timestamptz,
  -- The backend's pending row counters when the batch began: PostgreSQL flushes them
  -- only between transactions, so they may still hold earlier batches' counts; the batch's
  -- own counts are the difference at its COMMIT.
  baseline      jsonb NOT NULL DEFAULT '{}',
  rows          bigint,
  counts        jsonb,
  began_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  committed_at  timestamptz,
  PRIMARY KEY (run, n)
);

-- Roles whose DDL and writes to guarded tables need a permit, and roles that may bypass
-- the guard (every bypass is ledgered as a fact).
CREATE TABLE stepgate.guard_roles (
  role  name PRIMARY KEY,
  mode  text NOT NULL CHECK (mode IN ('guarded', 'break-glass'))
);
CREATE TABLE stepgate.guarded_tables (
  rel  regclass PRIMARY KEY
);
CREATE TABLE stepgate.used_approvals (
  sha256   text PRIMARY KEY,
  permit   bigint NOT NULL,
  used_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION stepgate.append_fact(p_pack text, p_step text, p_verb text, p_result text,
    p_os_user text, p_host text, p_sha text, p_run_id text, p_details jsonb)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT stepgate.append_row(p_pack, p_step, p_verb, p_result, p_os_user, p_host, p_sha, p_run_id,
                             p_details, true)
$fn$;
REVOKE ALL ON FUNCTION stepgate.append_fact(text, text, text, text, text, text, text, text, jsonb) FROM PUBLIC;

-- An approval statement (`stepgate approval v2`) as a jsonb object of its fields, or NULL
-- when it is not exactly the canonical form the client renders.
CREATE FUNCTION stepgate.parse_approval(p_text text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_fields text[] := ARRAY['pack', 'step', 'gate', 'action', 'step-sha256', 'rollback-sha256',
    'plan-sha256', 'manifest-sha256', 'target-database', 'target-environment', 'principal',
    'issued-at', 'expires-at'];
  v_lines text[];
  v_out jsonb := '{}';
  v_prefix text;
BEGIN
  IF p_text IS NULL OR pg_catalog.right(p_text, 1) <> E'\n' OR pg_catalog.strpos(p_text, E'\r') > 0 THEN
    RETURN NULL;
  END IF;
  v_lines := pg_catalog.string_to_array(pg_catalog.left(p_text, -1), E'\n');
  IF pg_catalog.array_length(v_lines, 1) <> 14 OR v_lines[1] <> 'stepgate approval v2' THEN
    RETURN NULL;
  END IF;
  FOR i IN 1 .. 13 LOOP
    v_prefix := v_fields[i] || ': ';
    IF pg_catalog.left(v_lines[i + 1], pg_catalog.length(v_prefix)) <> v_prefix THEN
      RETURN NULL;
    END IF;
    v_out := v_out || pg_catalog.jsonb_build_object(v_fields[i],
                        pg_catalog.substr(v_lines[i + 1], pg_catalog.length(v_prefix) + 1));
  END LOOP;
  BEGIN
    v_out := v_out || pg_catalog.jsonb_build_object(
      'issued', (v_out ->> 'issued-at')::timestamptz,
      'expires', (v_out ->> 'expires-at')::timestamptz);
  EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
  END;
  RETURN v_out;
END
$fn$;

-- The plan's target must be this database, this ledger's environment and, when the plan
-- names one, this cluster.
CREATE FUNCTION stepgate.check_target(p_plan jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_env text := (SELECT m.value FROM stepgate.meta m WHERE m.key = 'environment');
  v_sysid text := (SELECT m.value FROM stepgate.meta m WHERE m.key = 'system_identifier');
BEGIN
  IF p_plan -> 'target' ->> 'database' IS DISTINCT FROM pg_catalog.current_database() THEN
    RAISE EXCEPTION 'stepgate: the plan targets database %, this is %',
      p_plan -> 'target' ->> 'database', pg_catalog.current_database() USING ERRCODE = '42501';
  END IF;
  IF COALESCE(p_plan -> 'target' ->> 'environment', '') <> COALESCE(v_env, '') THEN
    RAISE EXCEPTION 'stepgate: the plan targets environment "%", this ledger is labelled "%"',
      COALESCE(p_plan -> 'target' ->> 'environment', ''), v_env USING ERRCODE = '42501';
  END IF;
  IF p_plan -> 'target' ->> 'system_identifier' IS NOT NULL
     AND p_plan -> 'target' ->> 'system_identifier' <> v_sysid THEN
    RAISE EXCEPTION 'stepgate: the plan targets cluster %, this is %',
      p_plan -> 'target' ->> 'system_identifier', v_sysid USING ERRCODE = '42501';
  END IF;
END
$fn$;

-- Verifies the approvals offered for a plan and returns, per gate, the principals whose
-- approvals count, and the earliest expiry among them. Refuses (raises) when a gate's
-- quorum or the floor is not met. Time is the server's clock at the moment of the call.
CREATE FUNCTION stepgate.verify_approvals(p_plan jsonb, p_plan_sha text, p_statements text[],
    p_signatures text[], OUT principals text[], OUT valid_until timestamptz, OUT approvals text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_a jsonb;
  v_key bytea;
  v_gate jsonb;
  v_counted text[] := '{}';      -- 'gate' || E'\x1f' || principal
  v_floor int := COALESCE((SELECT m.value::int FROM stepgate.meta m WHERE m.key = 'floor_min_signatures'), 1);
  v_n int;
  v_missing text[] := '{}';
BEGIN
  principals := '{}';
  approvals := '{}';
  -- What is required comes from the server as much as from the plan: at least one gate,
  -- every quorum at least 1, the floor on every action, and a resume only by `resume`.
  IF COALESCE(pg_catalog.jsonb_array_length(p_plan -> 'gates'), 0) = 0 THEN
    RAISE EXCEPTION 'stepgate: % of step % names no signature gate: nothing authorizes it',
      p_plan ->> 'action', p_plan ->> 'step' USING ERRCODE = '42501';
  END IF;
  IF p_plan ->> 'action' = 'resume' AND EXISTS (
       SELECT 1 FROM pg_catalog.jsonb_array_elements(p_plan -> 'gates') g WHERE g ->> 'name' <> 'resume') THEN
    RAISE EXCEPTION 'stepgate: a resume is authorized by the `resume` gate only' USING ERRCODE = '42501';
  END IF;
  FOR i IN 1 .. COALESCE(pg_catalog.array_length(p_statements, 1), 0) LOOP
    v_a := stepgate.parse_approval(p_statements[i]);
    CONTINUE WHEN v_a IS NULL;
    -- Each approval authorizes one commit.
    CONTINUE WHEN EXISTS (SELECT 1 FROM stepgate.used_approvals u
                           WHERE u.sha256 = pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_statements[i], 'UTF8')), 'hex'));
    CONTINUE WHEN v_a ->> 'pack' <> p_plan ->> 'pack' OR v_a ->> 'step' <> p_plan ->> 'step'
               OR v_a ->> 'action' <> p_plan ->> 'action' OR v_a ->> 'plan-sha256' <> p_plan_sha
               OR v_a ->> 'target-database' <> pg_catalog.current_database();
    CONTINUE WHEN (v_a ->> 'expires')::timestamptz <= v_now
               OR (v_a ->> 'issued')::timestamptz > v_now + interval '5 minutes';
    SELECT g INTO v_gate FROM pg_catalog.jsonb_array_elements(p_plan -> 'gates') g
     WHERE g ->> 'name' = v_a ->> 'gate';
    CONTINUE WHEN v_gate IS NULL;
    CONTINUE WHEN pg_catalog.jsonb_array_length(v_gate -> 'signers') > 0
              AND NOT (v_gate -> 'signers') ? (v_a ->> 'principal');
    v_key := stepgate.sshsig_verify(p_signatures[i], pg_catalog.convert_to(p_statements[i], 'UTF8'), 'stepgate');
    CONTINUE WHEN v_key IS NULL;
    CONTINUE WHEN NOT EXISTS (
      SELECT 1 FROM stepgate.signers s
       WHERE s.principal = v_a ->> 'principal' AND pg_catalog.decode(s.key_base64, 'base64') = v_key
         AND (v_a ->> 'gate' = ANY (s.gates) OR '*' = ANY (s.gates)));
    CONTINUE WHEN (v_a ->> 'gate') || E'\x1f' || (v_a ->> 'principal') = ANY (v_counted);
    v_counted := v_counted || ((v_a ->> 'gate') || E'\x1f' || (v_a ->> 'principal'));
    approvals := approvals || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_statements[i], 'UTF8')), 'hex');
    IF NOT (v_a ->> 'principal') = ANY (principals) THEN
      principals := principals || (v_a ->> 'principal');
    END IF;
    valid_until := LEAST(valid_until, (v_a ->> 'expires')::timestamptz);
  END LOOP;
  FOR v_gate IN SELECT g FROM pg_catalog.jsonb_array_elements(p_plan -> 'gates') g LOOP
    SELECT pg_catalog.count(*) INTO v_n FROM pg_catalog.unnest(v_counted) c
     WHERE pg_catalog.split_part(c, E'\x1f', 1) = v_gate ->> 'name';
    IF v_n < GREATEST(COALESCE((v_gate ->> 'quorum')::int, 1), 1) THEN
      v_missing := v_missing || pg_catalog.format('gate %s has %s of %s valid approvals',
                                                  v_gate ->> 'name', v_n, GREATEST(COALESCE((v_gate ->> 'quorum')::int, 1), 1));
    END IF;
  END LOOP;
  IF COALESCE(pg_catalog.array_length(principals, 1), 0) < GREATEST(v_floor, 1) THEN
    v_missing := v_missing || pg_catalog.format('the floor policy needs %s registered signers, %s signed',
                   v_floor, COALESCE(pg_catalog.array_length(principals, 1), 0));
  END IF;
  IF pg_catalog.array_length(v_missing, 1) > 0 THEN
    RAISE EXCEPTION 'stepgate: % of step % is not authorized: %', p_plan ->> 'action', p_plan ->> 'step',
      pg_catalog.array_to_string(v_missing, '; ') USING ERRCODE = '42501';
  END IF;
END
$fn$;

-- A pack's state row. stepgate creates it in its own committed statement before any step
-- transaction opens: created inside one, an uncommitted row would make a halt wait for it.
CREATE FUNCTION stepgate.pack_register(p_pack text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  INSERT INTO stepgate.pack_state (pack) VALUES (p_pack) ON CONFLICT (pack) DO NOTHING
$fn$;

-- The halt in force for a pack (its event id), reading its state row locked as asked.
-- NULL when not halted; raises when the pack was never registered.
CREATE FUNCTION stepgate.pack_halted(p_pack text, p_lock text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v stepgate.pack_state;
BEGIN
  IF p_lock = 'update' THEN
    SELECT * INTO v FROM stepgate.pack_state s WHERE s.pack = p_pack FOR UPDATE;
  ELSIF p_lock = 'share' THEN
    SELECT * INTO v FROM stepgate.pack_state s WHERE s.pack = p_pack FOR SHARE;
  ELSE
    SELECT * INTO v FROM stepgate.pack_state s WHERE s.pack = p_pack;
  END IF;
  IF v.pack IS NULL THEN
    RAISE EXCEPTION 'stepgate: pack % is not registered in this ledger (stepgate registers it before a step runs)', p_pack
      USING ERRCODE = '42501';
  END IF;
  RETURN CASE WHEN v.halted THEN COALESCE(v.halt_event, 0) END;
END
$fn$;

CREATE FUNCTION stepgate.pack_lock_key(p_pack text)
RETURNS bigint LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT ('x' || pg_catalog.substr(pg_catalog.md5('stepgate-commit:' || p_pack), 1, 16))::bit(64)::bigint
$fn$;

CREATE FUNCTION stepgate.parse_plan(p_plan text)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v jsonb;
BEGIN
  BEGIN
    v := p_plan::jsonb;
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'stepgate: the plan is not JSON' USING ERRCODE = '22023';
  END;
  IF v ->> 'format' IS DISTINCT FROM 'stepgate plan v1' THEN
    RAISE EXCEPTION 'stepgate: unknown plan format' USING ERRCODE = '22023';
  END IF;
  RETURN v;
END
$fn$;

-- The statements a permit admits, in order: the plan's statements, then its negative tests.
CREATE FUNCTION stepgate.plan_statements(p_plan jsonb)
RETURNS text[] LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE(pg_catalog.array_agg(s ORDER BY k, o), '{}')
    FROM (SELECT s, 1 AS k, o FROM pg_catalog.jsonb_array_elements_text(p_plan -> 'statements') WITH ORDINALITY AS t(s, o)
          UNION ALL
          SELECT s, 2, o FROM pg_catalog.jsonb_array_elements_text(p_plan -> 'negatives') WITH ORDINALITY AS t(s, o)) x
$fn$;

-- The committed state of a step, from facts only: true when its last apply/rollback fact
-- is a commit (or a hold reached).
CREATE FUNCTION stepgate.step_committed(p_pack text, p_step text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE((
    SELECT e.verb IN ('apply', 'hold') FROM stepgate.events e
     WHERE e.pack = p_pack AND e.step = p_step AND e.fact
       AND (e.verb, e.result) IN (('apply', 'committed'), ('hold', 'reached'), ('rollback', 'committed'))
     ORDER BY e.id DESC LIMIT 1), false)
$fn$;

CREATE FUNCTION stepgate.backend_start()
RETURNS timestamptz LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT a.backend_start FROM pg_catalog.pg_stat_activity a WHERE a.pid = pg_catalog.pg_backend_pid()
$fn$;

-- stepgate.commit_fingerprint() (drift's baseline, in every commit fact) and
-- stepgate.catalog_fingerprint() (the live one): see `db::baseline`.

-- Issues the permit under which the calling transaction may run the plan's statements and
-- commit once. Call it first in the step's transaction, before any change.
CREATE FUNCTION stepgate.authorize(p_plan text, p_statements text[], p_signatures text[],
    p_run_id text, p_os_user text, p_host text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_plan jsonb := stepgate.parse_plan(p_plan);
  v_sha text := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_plan, 'UTF8')), 'hex');
  v_ok record;
  v_halt bigint;
  v_id bigint;
  -- COALESCE: a plan without `batch` must not turn this NULL (NOT NULL skips the
  -- one-permit-per-transaction check below).
  v_session boolean := NOT COALESCE((v_plan ->> 'transactional')::boolean, true)
                       OR COALESCE(pg_catalog.jsonb_typeof(v_plan -> 'batch') = 'object', false);
  v_statements text[] := stepgate.plan_statements(v_plan);
BEGIN
  IF v_plan ->> 'action' IS NULL OR v_plan ->> 'action' NOT IN ('apply', 'rollback') THEN
    RAISE EXCEPTION 'stepgate: a permit is for apply or rollback' USING ERRCODE = '42501';
  END IF;
  PERFORM stepgate.check_target(v_plan);
  -- The "already committed" check below must see every commit before it: a snapshot taken
  -- at the start of the transaction would not.
  IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'stepgate: a permit is issued only in a READ COMMITTED transaction' USING ERRCODE = '42501';
  END IF;
  -- One permit per transaction: two would record two commits for one.
  IF NOT v_session AND EXISTS (SELECT 1 FROM stepgate.permits p
                                WHERE p.txid = pg_catalog.txid_current() AND p.backend_pid = pg_catalog.pg_backend_pid()) THEN
    RAISE EXCEPTION 'stepgate: this transaction already holds a permit' USING ERRCODE = '42501';
  END IF;
  -- One committer per pack at a time (a transaction-scoped lock: it never blocks a halt):
  -- a second apply of the same step waits here, then sees the first one's fact.
  PERFORM pg_catalog.pg_advisory_xact_lock(stepgate.pack_lock_key(v_plan ->> 'pack'));
  v_halt := stepgate.pack_halted(v_plan ->> 'pack', 'none');
  IF v_halt IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % is halted (event %); nothing commits until a signed resume',
      v_plan ->> 'pack', v_halt USING ERRCODE = '42501';
  END IF;
  IF v_plan ->> 'action' = 'apply' AND stepgate.step_committed(v_plan ->> 'pack', v_plan ->> 'step') THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is already committed', v_plan ->> 'step', v_plan ->> 'pack'
      USING ERRCODE = '42501';
  END IF;
  IF v_plan ->> 'action' = 'rollback' AND NOT stepgate.step_committed(v_plan ->> 'pack', v_plan ->> 'step')
     AND NOT stepgate.batch_partial(v_plan ->> 'pack', v_plan ->> 'step') THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is not committed: nothing to roll back', v_plan ->> 'step', v_plan ->> 'pack'
      USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_ok FROM stepgate.verify_approvals(v_plan, v_sha, p_statements, p_signatures);
  INSERT INTO stepgate.permits (kind, txid, backend_pid, backend_start, pack, step, action, plan_sha256,
                                statements, search_path, required, n_statements, hold, principals,
                                valid_until, approvals, run_id, os_user, host, batch)
  VALUES (CASE WHEN v_session THEN 'session' ELSE 'commit' END,
          CASE WHEN v_session THEN NULL ELSE pg_catalog.txid_current() END,
          pg_catalog.pg_backend_pid(), stepgate.backend_start(), v_plan ->> 'pack', v_plan ->> 'step',
          v_plan ->> 'action', v_sha, v_statements, v_plan ->> 'search_path',
          stepgate.required_statements(v_plan),
          COALESCE(pg_catalog.jsonb_array_length(v_plan -> 'statements'), 0),
          v_plan ->> 'action' = 'apply' AND COALESCE((v_plan ->> 'hold')::boolean, false),
          v_ok.principals, v_ok.valid_until, v_ok.approvals, p_run_id, p_os_user, p_host,
          stepgate.plan_batch(v_plan))
  RETURNING id INTO v_id;
  RETURN v_id;
END
$fn$;

-- The statements a guarded committer must run before COMMIT (1-based): each that fires the
-- DDL guard, and each that writes a table the admin guards.
CREATE FUNCTION stepgate.required_statements(p_plan jsonb)
RETURNS integer[] LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE(pg_catalog.array_agg(o::int ORDER BY o), '{}')
    FROM pg_catalog.jsonb_array_elements(COALESCE(p_plan -> 'ddl', '[]')) WITH ORDINALITY AS d(f, o)
   WHERE d.f = 'true'::jsonb
      OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements_text(COALESCE(p_plan -> 'writes' -> (o::int - 1), '[]')) w(t)
                   JOIN stepgate.guarded_tables g ON g.rel = pg_catalog.to_regclass(w.t))
$fn$;

-- A permit for a rehearsal: admits the plan's statements in this transaction, and makes
-- the transaction unable to commit. Needs no approval.
CREATE FUNCTION stepgate.rehearsal_permit(p_plan text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_plan jsonb := stepgate.parse_plan(p_plan);
  v_id bigint;
BEGIN
  IF EXISTS (SELECT 1 FROM stepgate.permits p WHERE p.kind = 'commit' AND p.txid = pg_catalog.txid_current()
                AND p.backend_pid = pg_catalog.pg_backend_pid()) THEN
    RAISE EXCEPTION 'stepgate: this transaction already holds a commit permit' USING ERRCODE = '42501';
  END IF;
  INSERT INTO stepgate.permits (kind, txid, backend_pid, backend_start, pack, step, action, plan_sha256,
                                statements, search_path, n_statements, batch)
  VALUES ('rehearsal', pg_catalog.txid_current(), pg_catalog.pg_backend_pid(), stepgate.backend_start(),
          v_plan ->> 'pack', v_plan ->> 'step', v_plan ->> 'action',
          pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_plan, 'UTF8')), 'hex'),
          stepgate.plan_statements(v_plan), v_plan ->> 'search_path',
          COALESCE(pg_catalog.jsonb_array_length(v_plan -> 'statements'), 0), stepgate.plan_batch(v_plan))
  RETURNING id INTO v_id;
  RETURN v_id;
END
$fn$;

-- The live permit of this transaction (commit, rehearsal) or session, if any.
CREATE FUNCTION stepgate.live_permit()
RETURNS stepgate.permits LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT p.* FROM stepgate.permits p
   WHERE p.backend_pid = pg_catalog.pg_backend_pid() AND p.consumed_at IS NULL
     AND ((p.kind = 'session' AND p.backend_start = stepgate.backend_start())
       OR (p.kind <> 'session' AND p.txid = pg_catalog.txid_current_if_assigned()))
   ORDER BY p.id DESC LIMIT 1
$fn$;

-- Client-side measurements kept with the permit: shown in the fact as the client's claim.
CREATE FUNCTION stepgate.permit_note(p_details jsonb)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v stepgate.permits := stepgate.live_permit();
BEGIN
  IF v.id IS NULL THEN
    RAISE EXCEPTION 'stepgate: no live permit in this transaction' USING ERRCODE = '42501';
  END IF;
  UPDATE stepgate.permits SET client_details = COALESCE(p_details, '{}') WHERE id = v.id;
END
$fn$;

-- Does the live permit admit the statement being run, under `p_search_path`? Under a
-- permit, what runs must be exactly the permitted statements, whole, in order, each once,
-- under the plan's search_path.
CREATE FUNCTION stepgate.permit_admits(p_search_path text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v stepgate.permits := stepgate.live_permit();
  v_q text := pg_catalog.current_query();
  v_at timestamptz := pg_catalog.statement_timestamp();
  v_n int;
BEGIN
  IF v.id IS NULL THEN
    RETURN false;
  END IF;
  IF v.search_path IS NOT NULL AND p_search_path IS DISTINCT FROM v.search_path THEN
    RETURN false;
  END IF;
  IF v.kind = 'session' AND (stepgate.pack_halted(v.pack, 'none') IS NOT NULL
                             OR v.valid_until <= pg_catalog.clock_timestamp()) THEN
    RETURN false;
  END IF;
  IF v.batch IS NOT NULL THEN
    RETURN stepgate.batch_admits(v, v_q, v_at);
  END IF;
  -- The same execution of the statement last admitted (a DO block firing several events).
  IF v.cursor > 0 AND v.cursor_at = v_at AND v.statements[v.cursor] = v_q THEN
    RETURN true;
  END IF;
  v_n := COALESCE(pg_catalog.array_length(v.statements, 1), 0);
  FOR i IN v.cursor + 1 .. v_n LOOP
    IF v.statements[i] = v_q THEN
      UPDATE stepgate.permits SET cursor = i, cursor_at = v_at, admitted = admitted || i WHERE id = v.id;
      RETURN true;
    END IF;
  END LOOP;
  RETURN false;
END
$fn$;

-- Have the statements a guarded committer must run all run, and no negative test's effect
-- survived (stepgate rolls each back to its savepoint, which undoes its admission too)?
CREATE FUNCTION stepgate.permit_complete(v stepgate.permits)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE
    WHEN v.cursor > v.n_statements
      THEN pg_catalog.format('a negative test of step %s ran outside a rolled-back savepoint', v.step)
    WHEN NOT (v.required <@ v.admitted)
      THEN pg_catalog.format('step %s skipped approved statement(s) %s: every approved statement must run before COMMIT',
                             v.step, (SELECT pg_catalog.array_agg(r) FROM pg_catalog.unnest(v.required) r
                                       WHERE NOT r = ANY (v.admitted)))
  END
$fn$;

-- At COMMIT (a deferred constraint trigger on the permit row): a rehearsal permit never
-- commits; a commit permit commits only at a real COMMIT, while no halt is in force and
-- its approvals are still valid by the server's clock, and writes the fact.
CREATE FUNCTION stepgate.permit_commit()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v stepgate.permits;
  v_halt bigint;
  v_verb text;
  v_result text := 'committed';
BEGIN
  SELECT * INTO v FROM stepgate.permits p WHERE p.id = NEW.id;
  IF v.kind = 'rehearsal' THEN
    RAISE EXCEPTION 'stepgate: a rehearsal never commits (permit %)', v.id USING ERRCODE = '42501';
  END IF;
  IF v.kind <> 'commit' THEN
    RETURN NULL;
  END IF;
  IF pg_catalog.current_query() !~* '^\s*(commit|end)\M' THEN
    RAISE EXCEPTION 'stepgate: permit % is consumed only by COMMIT (got: %)', v.id,
      pg_catalog.left(pg_catalog.current_query(), 60) USING ERRCODE = '42501';
  END IF;
  -- A halt committed first blocks this commit; a halt still running waits for it.
  v_halt := stepgate.pack_halted(v.pack, 'share');
  IF v_halt IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % was halted (event %) while step % ran; nothing commits',
      v.pack, v_halt, v.step USING ERRCODE = '42501';
  END IF;
  IF v.valid_until IS NOT NULL AND v.valid_until <= pg_catalog.clock_timestamp() THEN
    RAISE EXCEPTION 'stepgate: an approval of step % expired at % before the commit', v.step, v.valid_until
      USING ERRCODE = '42501';
  END IF;
  -- A guarded committer must have run every approved statement it can be held to.
  IF stepgate.guard_mode() = 'guarded' AND stepgate.permit_complete(v) IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: %', stepgate.permit_complete(v) USING ERRCODE = '42501';
  END IF;
  v_verb := v.action;
  IF v.hold AND v.action = 'apply' THEN
    v_verb := 'hold';
    v_result := 'reached';
  END IF;
  UPDATE stepgate.permits SET consumed_at = pg_catalog.clock_timestamp() WHERE id = v.id;
  INSERT INTO stepgate.used_approvals (sha256, permit) SELECT a, v.id FROM pg_catalog.unnest(v.approvals) a;
  PERFORM stepgate.append_fact(v.pack, v.step, v_verb, v_result, v.os_user, v.host, v.plan_sha256, v.run_id,
    pg_catalog.jsonb_build_object('permit', v.id, 'plan_sha256', v.plan_sha256, 'principals', v.principals,
                                  'client', v.client_details) || stepgate.commit_fingerprint(true));
  RETURN NULL;
END
$fn$;
CREATE CONSTRAINT TRIGGER permit_commit AFTER INSERT ON stepgate.permits
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stepgate.permit_commit();

-- Closes a transaction-less step's session permit: the fact is written once every
-- permitted statement ran (the cursor reached the end) and no halt is in force.
CREATE FUNCTION stepgate.finish_session_permit()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v stepgate.permits := stepgate.live_permit(); v_id bigint;
BEGIN
  IF v.id IS NULL OR v.kind <> 'session' THEN
    RAISE EXCEPTION 'stepgate: no live session permit' USING ERRCODE = '42501';
  END IF;
  IF v.batch IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: step % is batched: it ends with stepgate.finish_batches(), after a batch that changed no row', v.step
      USING ERRCODE = '42501';
  END IF;
  IF stepgate.guard_mode() = 'guarded' AND stepgate.permit_complete(v) IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: %', stepgate.permit_complete(v) USING ERRCODE = '42501';
  END IF;
  IF v.valid_until <= pg_catalog.clock_timestamp() THEN
    RAISE EXCEPTION 'stepgate: an approval of step % expired at % before it finished', v.step, v.valid_until
      USING ERRCODE = '42501';
  END IF;
  UPDATE stepgate.permits SET consumed_at = pg_catalog.clock_timestamp() WHERE id = v.id;
  IF stepgate.pack_halted(v.pack, 'share') IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % is halted', v.pack USING ERRCODE = '42501';
  END IF;
  -- Two session permits for one step may be issued before either finishes: the first to
  -- finish records the commit, the other is refused (one committer per pack at a time).
  PERFORM pg_catalog.pg_advisory_xact_lock(stepgate.pack_lock_key(v.pack));
  IF (v.action = 'apply') = stepgate.step_committed(v.pack, v.step) THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is % committed', v.step, v.pack,
      CASE WHEN v.action = 'apply' THEN 'already' ELSE 'not' END USING ERRCODE = '42501';
  END IF;
  INSERT INTO stepgate.used_approvals (sha256, permit) SELECT a, v.id FROM pg_catalog.unnest(v.approvals) a;
  v_id := stepgate.append_fact(v.pack, v.step, v.action, 'committed', v.os_user, v.host, v.plan_sha256, v.run_id,
    pg_catalog.jsonb_build_object('permit', v.id, 'plan_sha256', v.plan_sha256, 'principals', v.principals,
                                  'statements_run', v.cursor, 'client', v.client_details)
    || stepgate.commit_fingerprint());
  RETURN v_id;
END
$fn$;

-- Anyone who may run stepgate may halt a pack: stopping is always allowed.
CREATE FUNCTION stepgate.halt(p_pack text, p_step text, p_reason text, p_os_user text, p_host text,
    p_run_id text, p_details jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v_id bigint;
BEGIN
  PERFORM stepgate.pack_register(p_pack);
  -- The state row first: waiting for it (a commit under way) never holds the ledger's lock.
  UPDATE stepgate.pack_state SET halted = true WHERE pack = p_pack;
  v_id := stepgate.append_fact(p_pack, p_step, 'halt', 'halted', p_os_user, p_host, NULL, p_run_id,
            COALESCE(p_details, '{}') || pg_catalog.jsonb_build_object('reason', p_reason));
  UPDATE stepgate.pack_state SET halt_event = v_id WHERE pack = p_pack;
  RETURN v_id;
END
$fn$;

-- Lifts the halt in force when the resume plan for exactly that halt is approved.
CREATE FUNCTION stepgate.resume(p_plan text, p_statements text[], p_signatures text[],
    p_run_id text, p_os_user text, p_host text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_plan jsonb := stepgate.parse_plan(p_plan);
  v_sha text := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_plan, 'UTF8')), 'hex');
  v_halt bigint;
  v_ok record;
  v_id bigint;
BEGIN
  IF v_plan ->> 'action' <> 'resume' THEN
    RAISE EXCEPTION 'stepgate: not a resume plan' USING ERRCODE = '22023';
  END IF;
  PERFORM stepgate.check_target(v_plan);
  v_halt := stepgate.pack_halted(v_plan ->> 'pack', 'update');
  IF v_halt IS NULL OR 'halt-' || v_halt::text <> v_plan ->> 'step' THEN
    RAISE EXCEPTION 'stepgate: the halt in force is %, the resume is for %',
      COALESCE('halt-' || v_halt, 'none'), v_plan ->> 'step' USING ERRCODE = '42501';
  END IF;
  SELECT * INTO v_ok FROM stepgate.verify_approvals(v_plan, v_sha, p_statements, p_signatures);
  v_id := stepgate.append_fact(v_plan ->> 'pack', NULL, 'resume', 'resumed', p_os_user, p_host, v_sha, p_run_id,
            pg_catalog.jsonb_build_object('halt_event', v_halt, 'principals', v_ok.principals));
  INSERT INTO stepgate.used_approvals (sha256, permit) SELECT a, -v_id FROM pg_catalog.unnest(v_ok.approvals) a;
  UPDATE stepgate.pack_state SET halted = false, halt_event = NULL WHERE pack = v_plan ->> 'pack';
  RETURN v_id;
END
$fn$;

-- The guard. Is the acting role guarded, or allowed to break glass?
-- PL/pgSQL, not SQL: a SQL function with a SET clause is never inlined and re-plans its
-- queries at every call, which every write to a guarded table would pay.
CREATE FUNCTION stepgate.guard_mode()
RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v_mode text;
BEGIN
  -- The login decides first (break-glass is never borrowed through SET ROLE) ...
  SELECT g.mode INTO v_mode FROM stepgate.guard_roles g WHERE g.role = session_user;
  -- ... and SET ROLE into a guarded role is guarded too.
  IF v_mode IS NULL AND current_user <> session_user THEN
    SELECT g.mode INTO v_mode FROM stepgate.guard_roles g WHERE g.role = current_user AND g.mode = 'guarded';
  END IF;
  RETURN COALESCE(v_mode, 'free');
END
$fn$;

CREATE FUNCTION stepgate.guard_check(p_what text, p_search_path text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v_mode text := stepgate.guard_mode();
BEGIN
  IF v_mode = 'free' OR stepgate.permit_admits(p_search_path) THEN
    RETURN;
  END IF;
  IF v_mode = 'break-glass' THEN
    PERFORM stepgate.append_fact('-', NULL, 'guard-bypass', 'allowed', NULL, NULL, NULL, NULL,
      pg_catalog.jsonb_build_object('role', session_user, 'what', p_what,
                                    'query', pg_catalog.left(pg_catalog.current_query(), 2000)));
    RETURN;
  END IF;
  RAISE EXCEPTION 'stepgate guard: % by role % refused: it needs a stepgate permit for exactly this statement', p_what, session_user
    USING ERRCODE = '42501',
          HINT = 'changes by this role go through `stepgate apply` of an approved step; the statement must be one the approvers signed, in order, under the plan''s search_path';
END
$fn$;

-- The guard's entry points. They read the session's own search_path, so they carry no SET
-- clause of their own; every name in them is qualified and they use no operator.
CREATE FUNCTION stepgate.guard_ddl()
RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  PERFORM stepgate.guard_check(TG_TAG, pg_catalog.current_setting('search_path'));
END
$fn$;

CREATE FUNCTION stepgate.guard_write()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  PERFORM stepgate.guard_check(pg_catalog.concat(TG_OP, ' on ', TG_TABLE_SCHEMA, '.', TG_TABLE_NAME),
                               pg_catalog.current_setting('search_path'));
  RETURN NULL;
END
$fn$;

-- Puts a table under the write guard (the admin).
-- Puts a table, and every partition and inheritance child it has now, under the write
-- guard (statement triggers are not inherited). Children added later need DDL, which a
-- guarded role runs only under a permit; the admin guards them again.
CREATE FUNCTION stepgate.guard_table(p_rel regclass)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE v_rel regclass;
BEGIN
  FOR v_rel IN
    WITH RECURSIVE tree(rel) AS (
      SELECT p_rel::oid
      UNION
      SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.rel)
    SELECT t.rel::regclass FROM tree t JOIN pg_catalog.pg_class c ON c.oid = t.rel
     WHERE c.relkind IN ('r', 'p', 'f')
  LOOP
    INSERT INTO stepgate.guarded_tables (rel) VALUES (v_rel) ON CONFLICT DO NOTHING;
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS stepgate_guard ON %s', v_rel);
    EXECUTE pg_catalog.format('CREATE TRIGGER stepgate_guard BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                              'FOR EACH STATEMENT EXECUTE FUNCTION stepgate.guard_write()', v_rel);
  END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION stepgate.guard_table(regclass) FROM PUBLIC;

-- ---- Batched steps ------------------------------------------------------------------
-- A batched step's plan carries `batch`: which of its statements repeats, the tables the
-- server counts, the optional bound on batches and, for an apply, the exact totals. Its
-- permit is bound to the session (like a transaction-less step); each batch is its own
-- transaction that opens with stepgate.batch_begin(n), runs the one signed write at most
-- once, and is counted at COMMIT by stepgate.batch_commit. The run ends with
-- stepgate.finish_batches() after a batch that changed no row: only then is the fact
-- written, and only when the totals are the plan's.

CREATE FUNCTION stepgate.plan_batch(p_plan jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN pg_catalog.jsonb_typeof(p_plan -> 'batch') = 'object' THEN p_plan -> 'batch' END
$fn$;

-- The unfinished run of a step's action, if any.
CREATE FUNCTION stepgate.batch_open_run(p_pack text, p_step text, p_action text)
RETURNS stepgate.batch_runs LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT r.* FROM stepgate.batch_runs r
   WHERE r.pack = p_pack AND r.step = p_step AND r.action = p_action AND r.finished_at IS NULL
$fn$;

-- A batched apply that committed some batches and was neither finished nor rolled back:
-- the step is partly applied, so its rollback may run.
CREATE FUNCTION stepgate.batch_partial(p_pack text, p_step text)
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT EXISTS (
    SELECT 1 FROM stepgate.batch_runs r
     WHERE r.pack = p_pack AND r.step = p_step AND r.action = 'apply' AND r.finished_at IS NULL
       AND r.batches > 0
       AND NOT EXISTS (SELECT 1 FROM stepgate.events e
                        WHERE e.fact AND e.pack = p_pack AND e.step = p_step AND e.verb = 'rollback'
                          AND e.result = 'committed' AND e.id > r.since_event))
$fn$;

-- Per table, the rows this transaction inserted, updated and deleted (the pending
-- counters: exact, cascades included, read without scanning the table).
CREATE FUNCTION stepgate.xact_counts(p_tables text[])
RETURNS jsonb LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE(pg_catalog.jsonb_object_agg(t, pg_catalog.jsonb_build_object(
           'insert', pg_catalog.pg_stat_get_xact_tuples_inserted(pg_catalog.to_regclass(t)),
           'update', pg_catalog.pg_stat_get_xact_tuples_updated(pg_catalog.to_regclass(t)),
           'delete', pg_catalog.pg_stat_get_xact_tuples_deleted(pg_catalog.to_regclass(t)))), '{}')
    FROM pg_catalog.unnest(p_tables) t WHERE pg_catalog.to_regclass(t) IS NOT NULL
$fn$;

CREATE FUNCTION stepgate.counts_total(p_counts jsonb)
RETURNS bigint LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE(pg_catalog.sum((c.value ->> k)::bigint), 0)::bigint
    FROM pg_catalog.jsonb_each(p_counts) c, pg_catalog.unnest(ARRAY['insert', 'update', 'delete']) k
$fn$;

-- a + p_sign * b, table by table.
CREATE FUNCTION stepgate.counts_add(a jsonb, b jsonb, p_sign int DEFAULT 1)
RETURNS jsonb LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT COALESCE(pg_catalog.jsonb_object_agg(t, pg_catalog.jsonb_build_object(
           'insert', COALESCE((a -> t ->> 'insert')::bigint, 0) + p_sign * COALESCE((b -> t ->> 'insert')::bigint, 0),
           'update', COALESCE((a -> t ->> 'update')::bigint, 0) + p_sign * COALESCE((b -> t ->> 'update')::bigint, 0),
           'delete', COALESCE((a -> t ->> 'delete')::bigint, 0) + p_sign * COALESCE((b -> t ->> 'delete')::bigint, 0))), '{}')
    FROM (SELECT pg_catalog.jsonb_object_keys(a) UNION SELECT pg_catalog.jsonb_object_keys(b)) k(t)
$fn$;

-- The guard's view of a batched permit: only the signed repeating write, only inside a
-- batch this session opened, once per batch (a statement firing the guard on several
-- tables is one execution). A rehearsal permit admits it as often as the rehearsal runs it.
CREATE FUNCTION stepgate.batch_admits(v stepgate.permits, p_query text, p_at timestamptz)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE b stepgate.batches;
BEGIN
  IF p_query IS DISTINCT FROM v.statements[(v.batch ->> 'repeat')::int] THEN
    RETURN false;
  END IF;
  IF v.kind = 'rehearsal' THEN
    RETURN true;
  END IF;
  SELECT * INTO b FROM stepgate.batches x
   WHERE x.permit = v.id AND x.txid = pg_catalog.txid_current_if_assigned() AND x.committed_at IS NULL;
  IF b.run IS NULL THEN
    RETURN false;
  END IF;
  IF b.ran_at IS NULL THEN
    UPDATE stepgate.batches SET ran_at = p_at WHERE run = b.run AND n = b.n;
    RETURN true;
  END IF;
  RETURN b.ran_at = p_at;
END
$fn$;

-- Opens batch `p_next` of the live batched permit in the calling transaction. The server
-- numbers the batches: a client that asks for any other number than the next is refused.
CREATE FUNCTION stepgate.batch_begin(p_next integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v stepgate.permits := stepgate.live_permit();
  r stepgate.batch_runs;
  v_halt bigint;
  v_max int;
BEGIN
  IF v.id IS NULL OR v.kind <> 'session' OR v.batch IS NULL THEN
    RAISE EXCEPTION 'stepgate: no live batched permit in this session' USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM stepgate.batches x WHERE x.permit = v.id
                AND x.txid = pg_catalog.txid_current_if_assigned()) THEN
    RAISE EXCEPTION 'stepgate: one batch per transaction' USING ERRCODE = '42501';
  END IF;
  v_halt := stepgate.pack_halted(v.pack, 'none');
  IF v_halt IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % is halted (event %): no further batch of step %', v.pack, v_halt, v.step
      USING ERRCODE = '42501';
  END IF;
  IF v.valid_until <= pg_catalog.clock_timestamp() THEN
    RAISE EXCEPTION 'stepgate: an approval of step % expired at %: no further batch', v.step, v.valid_until
      USING ERRCODE = '42501';
  END IF;
  IF v.action = 'apply' AND stepgate.step_committed(v.pack, v.step) THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is already committed: no further batch', v.step, v.pack
      USING ERRCODE = '42501';
  END IF;
  -- A rollback permit outlives nothing it reversed: once the step is rolled back (by this
  -- run or another), its batches stop.
  IF v.action = 'rollback' AND NOT stepgate.step_committed(v.pack, v.step)
     AND NOT stepgate.batch_partial(v.pack, v.step) THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is not committed: nothing to roll back', v.step, v.pack
      USING ERRCODE = '42501';
  END IF;
  SELECT * INTO r FROM stepgate.batch_runs x
   WHERE x.pack = v.pack AND x.step = v.step AND x.action = v.action AND x.finished_at IS NULL FOR UPDATE;
  -- An apply run a rollback has since reversed is over: a new apply starts from zero.
  IF r.id IS NOT NULL AND v.action = 'apply' AND NOT stepgate.batch_partial(v.pack, v.step) AND r.batches > 0 THEN
    UPDATE stepgate.batch_runs SET finished_at = pg_catalog.clock_timestamp(), outcome = 'rolled back' WHERE id = r.id;
    r := NULL;
  END IF;
  IF r.id IS NULL THEN
    INSERT INTO stepgate.batch_runs (pack, step, action, plan_sha256, tables, since_event)
    VALUES (v.pack, v.step, v.action, v.plan_sha256,
            ARRAY(SELECT pg_catalog.jsonb_array_elements_text(v.batch -> 'tables')),
            COALESCE((SELECT pg_catalog.max(e.id) FROM stepgate.events e), 0))
    RETURNING * INTO r;
  ELSIF r.plan_sha256 <> v.plan_sha256 THEN
    RAISE EXCEPTION 'stepgate: step % has % batch(es) committed under plan %; a run continues only under the plan it began with (or is rolled back)',
      v.step, r.batches, pg_catalog.left(r.plan_sha256, 12) USING ERRCODE = '42501';
  END IF;
  IF r.drained THEN
    RAISE EXCEPTION 'stepgate: the % of step % is complete (batch % changed no row): no further batch', v.action, v.step, r.batches
      USING ERRCODE = '42501';
  END IF;
  v_max := COALESCE((v.batch ->> 'max_batches')::int, 0);
  IF v_max > 0 AND r.batches >= v_max THEN
    RAISE EXCEPTION 'stepgate: step % reached its approved bound of % batches', v.step, v_max USING ERRCODE = '42501';
  END IF;
  IF p_next IS DISTINCT FROM r.batches + 1 THEN
    RAISE EXCEPTION 'stepgate: the next batch of step % is %, not %', v.step, r.batches + 1, p_next
      USING ERRCODE = '42501';
  END IF;
  INSERT INTO stepgate.batches (run, n, permit, txid, baseline)
  VALUES (r.id, p_next, v.id, pg_catalog.txid_current(), stepgate.xact_counts(r.tables));
  RETURN p_next;
END
$fn$;

-- At a batch's COMMIT: the halt and expiry again (a halt recorded while the batch ran
-- stops it), the signed write must have run under the guard when its tables are guarded,
-- and the server counts the batch's rows itself.
CREATE FUNCTION stepgate.batch_commit()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  b stepgate.batches;
  v stepgate.permits;
  r stepgate.batch_runs;
  v_counts jsonb;
  v_rows bigint;
BEGIN
  SELECT * INTO b FROM stepgate.batches x WHERE x.run = NEW.run AND x.n = NEW.n;
  SELECT * INTO v FROM stepgate.permits p WHERE p.id = b.permit;
  SELECT * INTO r FROM stepgate.batch_runs x WHERE x.id = b.run;
  IF pg_catalog.current_query() !~* '^\s*(commit|end)\M' THEN
    RAISE EXCEPTION 'stepgate: batch % of step % commits only by COMMIT', b.n, v.step USING ERRCODE = '42501';
  END IF;
  IF stepgate.pack_halted(v.pack, 'share') IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % was halted while batch % of step % ran; it does not commit', v.pack, b.n, v.step
      USING ERRCODE = '42501';
  END IF;
  IF v.valid_until <= pg_catalog.clock_timestamp() THEN
    RAISE EXCEPTION 'stepgate: an approval of step % expired at % before batch % committed', v.step, v.valid_until, b.n
      USING ERRCODE = '42501';
  END IF;
  IF b.ran_at IS NULL AND stepgate.guard_mode() = 'guarded' AND EXISTS (
       SELECT 1 FROM pg_catalog.unnest(r.tables) t JOIN stepgate.guarded_tables g ON g.rel = pg_catalog.to_regclass(t)) THEN
    RAISE EXCEPTION 'stepgate: batch % of step % did not run its approved statement', b.n, v.step USING ERRCODE = '42501';
  END IF;
  v_counts := stepgate.counts_add(stepgate.xact_counts(r.tables), b.baseline, -1);
  v_rows := stepgate.counts_total(v_counts);
  UPDATE stepgate.batches SET rows = v_rows, counts = v_counts, committed_at = pg_catalog.clock_timestamp()
   WHERE run = b.run AND n = b.n;
  UPDATE stepgate.batch_runs
     SET batches = b.n, rows = rows + v_rows, counts = stepgate.counts_add(counts, v_counts),
         drained = (v_rows = 0), updated_at = pg_catalog.clock_timestamp()
   WHERE id = r.id;
  RETURN NULL;
END
$fn$;
CREATE CONSTRAINT TRIGGER batch_commit AFTER INSERT ON stepgate.batches
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stepgate.batch_commit();

-- Where the run of the live permit's (or the named) step stands: the server's count.
CREATE FUNCTION stepgate.batch_progress(p_pack text, p_step text, p_action text,
    OUT batches integer, OUT rows bigint, OUT counts jsonb, OUT drained boolean,
    OUT last_rows bigint, OUT plan_sha256 text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT r.batches, r.rows, r.counts, r.drained,
         (SELECT x.rows FROM stepgate.batches x WHERE x.run = r.id AND x.committed_at IS NOT NULL ORDER BY x.n DESC LIMIT 1),
         r.plan_sha256
    FROM stepgate.batch_runs r
   WHERE r.pack = p_pack AND r.step = p_step AND r.action = p_action AND r.finished_at IS NULL
$fn$;

-- Ends a drained run: the totals must be the plan's (for an apply), no halt, approvals
-- valid; then the approvals are spent and the fact is written.
CREATE FUNCTION stepgate.finish_batches()
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v stepgate.permits := stepgate.live_permit();
  r stepgate.batch_runs;
  v_expect jsonb;
  v_bad text[];
  v_id bigint;
BEGIN
  IF v.id IS NULL OR v.kind <> 'session' OR v.batch IS NULL THEN
    RAISE EXCEPTION 'stepgate: no live batched permit in this session' USING ERRCODE = '42501';
  END IF;
  IF v.valid_until <= pg_catalog.clock_timestamp() THEN
    RAISE EXCEPTION 'stepgate: an approval of step % expired at % before it finished', v.step, v.valid_until
      USING ERRCODE = '42501';
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(stepgate.pack_lock_key(v.pack));
  IF stepgate.pack_halted(v.pack, 'share') IS NOT NULL THEN
    RAISE EXCEPTION 'stepgate: pack % is halted', v.pack USING ERRCODE = '42501';
  END IF;
  SELECT * INTO r FROM stepgate.batch_runs x
   WHERE x.pack = v.pack AND x.step = v.step AND x.action = v.action AND x.finished_at IS NULL FOR UPDATE;
  IF r.id IS NULL OR NOT r.drained OR r.plan_sha256 <> v.plan_sha256 THEN
    RAISE EXCEPTION 'stepgate: the batched % of step % is not complete: it ends after a batch that changes no row (% batch(es) so far)',
      v.action, v.step, COALESCE(r.batches, 0) USING ERRCODE = '42501';
  END IF;
  IF v.action = 'apply' AND stepgate.step_committed(v.pack, v.step) THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is already committed', v.step, v.pack USING ERRCODE = '42501';
  END IF;
  IF v.action = 'rollback' AND NOT stepgate.step_committed(v.pack, v.step)
     AND NOT stepgate.batch_partial(v.pack, v.step) THEN
    RAISE EXCEPTION 'stepgate: step % of pack % is not committed: nothing to roll back', v.step, v.pack
      USING ERRCODE = '42501';
  END IF;
  v_expect := v.batch -> 'expect_rows';
  IF pg_catalog.jsonb_typeof(v_expect) = 'object' THEN
    SELECT pg_catalog.array_agg(pg_catalog.format('%s %s: declared %s, counted %s', t, k,
             COALESCE((v_expect -> t ->> k)::bigint, 0), COALESCE((r.counts -> t ->> k)::bigint, 0)))
      INTO v_bad
      FROM (SELECT pg_catalog.jsonb_object_keys(v_expect) UNION SELECT pg_catalog.jsonb_object_keys(r.counts)) tt(t),
           pg_catalog.unnest(ARRAY['insert', 'update', 'delete']) k
     WHERE COALESCE((v_expect -> t ->> k)::bigint, 0) <> COALESCE((r.counts -> t ->> k)::bigint, 0);
    IF v_bad IS NOT NULL THEN
      RAISE EXCEPTION 'stepgate: the batched apply of step % changed other row counts than its declared effects: %',
        v.step, pg_catalog.array_to_string(v_bad, '; ') USING ERRCODE = '42501';
    END IF;
  END IF;
  UPDATE stepgate.permits SET consumed_at = pg_catalog.clock_timestamp() WHERE id = v.id;
  INSERT INTO stepgate.used_approvals (sha256, permit) SELECT a, v.id FROM pg_catalog.unnest(v.approvals) a;
  UPDATE stepgate.batch_runs SET finished_at = pg_catalog.clock_timestamp(), outcome = 'committed' WHERE id = r.id;
  IF v.action = 'rollback' THEN
    UPDATE stepgate.batch_runs SET finished_at = pg_catalog.clock_timestamp(), outcome = 'rolled back'
     WHERE pack = v.pack AND step = v.step AND action = 'apply' AND finished_at IS NULL;
  END IF;
  v_id := stepgate.append_fact(v.pack, v.step, v.action, 'committed', v.os_user, v.host, v.plan_sha256, v.run_id,
    pg_catalog.jsonb_build_object('permit', v.id, 'plan_sha256', v.plan_sha256, 'principals', v.principals,
                                  'batches', r.batches, 'rows', r.rows, 'counts', r.counts,
                                  'client', v.client_details) || stepgate.commit_fingerprint());
  RETURN v_id;
END
$fn$;

-- Only the entry points are the runner's to call; the helpers are internal.
REVOKE EXECUTE ON FUNCTION stepgate.pack_halted(text, text), stepgate.pack_lock_key(text),
  stepgate.permit_admits(text), stepgate.permit_complete(stepgate.permits), stepgate.guard_check(text, text),
  stepgate.guard_mode(), stepgate.live_permit(), stepgate.verify_approvals(jsonb, text, text[], text[]),
  stepgate.check_target(jsonb), stepgate.step_committed(text, text), stepgate.required_statements(jsonb),
  stepgate.plan_statements(jsonb), stepgate.parse_plan(text), stepgate.parse_approval(text),
  stepgate.backend_start(), stepgate.plan_batch(jsonb), stepgate.batch_open_run(text, text, text),
  stepgate.batch_partial(text, text), stepgate.xact_counts(text[]), stepgate.counts_total(jsonb),
  stepgate.counts_add(jsonb, jsonb, int), stepgate.batch_admits(stepgate.permits, text, timestamptz),
  stepgate.batch_commit() FROM PUBLIC;
