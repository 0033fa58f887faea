-- SECTION A — HEADER
--   step: STEP 5 (doc 94.6) · component: SB-2 responsibility scope + object ownership
--   package: examples/phase1-governance/05_sb2_ownership.sql (doc 99.1)
--   authorizing docs: 93 §93.4, 94 §94.6, 95, 98, 99; additive-table notes doc 86 §86.3
--   M-1: os_proposal_approvals row for step_ref '5' ("SB-2 build") = <quoted by the sovereign; none at authoring>
--        + the sovereign's signed approval of these bytes (gate M-1)
--   council record: C-1 council build record = the council's signed approval (gate C-1) <quoted at build>
--   pg_dump of touched reuse-tables: none written (governance_registry is only an FK parent)
--   date: 2026-06-01 · author/channel: build agent, via `stepgate apply`
--   REHEARSAL-ONLY unless the M-1 row + council record are live-verified (here: gates M-1 + C-1 + ospa;
--   absent C-1 → rehearsal-only even if M-1 is present).

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
--   master gate = the runner's `ospa` gate; council record = gate C-1 (both re-checked before COMMIT).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM public.os_proposal_approvals
                  WHERE proposal_ref = 'phase1-governance' AND step_ref = '5' AND decision = 'approved') THEN
    RAISE NOTICE 'REHEARSAL-ONLY: no M-1 os_proposal_approvals row for step 5 (COMMIT_FORBIDDEN)';
  END IF;
END
$$;

-- targets ABSENT (greenfield)
DO $$
BEGIN
  IF to_regclass('public.governance_responsibility_scope') IS NOT NULL
     OR to_regclass('public.governance_object_ownership') IS NOT NULL
     OR to_regclass('public.v_object_effective_owner') IS NOT NULL
     OR to_regclass('public.v_object_owner_gap') IS NOT NULL THEN
    RAISE EXCEPTION 'STOP (doc 94.1): an SB-2 object is unexpectedly PRESENT';
  END IF;
END
$$;

-- FK parent present (owners resolve to governance_registry, doc 99.6) + cross-step invariants
DO $$
BEGIN
  IF to_regclass('public.governance_registry') IS NULL THEN
    RAISE EXCEPTION 'STOP (doc 99.6): FK parent governance_registry is absent';
  END IF;
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'STOP (doc 94.9): governance_relations <> 8';
  END IF;
  IF (SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance') <> 0 THEN
    RAISE EXCEPTION 'STOP (doc 97.10): event_outbox holds governance rows';
  END IF;
END
$$;

-- SECTION C — BEGIN + SESSION GUC
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
--   additive-only (doc 86 §86.3): new tables and views only; NO CHECK-widen / ALTER of
--   governance_relations (protected in the manifest; forbidden by this step's rules).
--   trigger-less: no trigger on the new tables (forbid "create trigger").

-- SECTION E — THE ADDITIVE DDL/DML
-- governance_responsibility_scope (+6 seed scopes) — source: doc 17 (SB-2).
CREATE TABLE public.governance_responsibility_scope (
    scope_code   text        NOT NULL,
    label        text        NOT NULL,
    description  text,
    status       text        NOT NULL DEFAULT 'active',
    sort_order   integer     NOT NULL DEFAULT 0,
    _dot_origin  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT governance_responsibility_scope_pkey PRIMARY KEY (scope_code),
    CONSTRAINT governance_responsibility_scope_code_check CHECK (scope_code ~ '^[a-z][a-z_]*$'),
    CONSTRAINT governance_responsibility_scope_status_check CHECK (status IN ('active', 'retired'))
);

-- no-hardcode (§99.6): responsibility scopes are ROWS here (6 seeds), never literals in code.
INSERT INTO public.governance_responsibility_scope (scope_code, label, description, sort_order, _dot_origin)
VALUES ('structure',  'Structure',  'Schema, DDL and collection definitions',            1, 'SB-2'),
       ('content',    'Content',    'The rows and documents an object holds',            2, 'SB-2'),
       ('access',     'Access',     'Roles, grants and who may read or write',           3, 'SB-2'),
       ('lifecycle',  'Lifecycle',  'Birth, versioning and retirement',                  4, 'SB-2'),
       ('compliance', 'Compliance', 'Law conformance, audit and evidence',               5, 'SB-2'),
       ('operations', 'Operations', 'Running, monitoring, backup and incident response', 6, 'SB-2');

-- governance_object_ownership (20 columns) — source: doc 17 (SB-2); owners resolve to
-- governance_registry by FK (no literal owner strings), scopes to governance_responsibility_scope.
CREATE TABLE public.governance_object_ownership (
    id                   bigint      GENERATED ALWAYS AS IDENTITY,
    object_type          text        NOT NULL,
    object_ref           text        NOT NULL,
    scope_code           text        NOT NULL,
    owner_code           text        NOT NULL,
    owner_kind           text        NOT NULL,
    delegated_from_code  text,
    exception_reason     text,
    effective_from       timestamptz NOT NULL DEFAULT now(),
    effective_to         timestamptz,
    status               text        NOT NULL DEFAULT 'active',
    apr_request_code     text,
    source_doc           text,
    note                 text,
    _dot_origin          text,
    created_by           text        NOT NULL DEFAULT current_user,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    revoked_at           timestamptz,
    metadata             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT governance_object_ownership_pkey PRIMARY KEY (id),
    CONSTRAINT governance_object_ownership_scope_fkey FOREIGN KEY (scope_code)
        REFERENCES public.governance_responsibility_scope (scope_code) ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT governance_object_ownership_owner_fkey FOREIGN KEY (owner_code)
        REFERENCES public.governance_registry (code) ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT governance_object_ownership_delegated_from_fkey FOREIGN KEY (delegated_from_code)
        REFERENCES public.governance_registry (code) ON UPDATE RESTRICT ON DELETE RESTRICT,
    CONSTRAINT governance_object_ownership_owner_kind_check
        CHECK (owner_kind IN ('accountable', 'supporting', 'delegated', 'exception')),
    CONSTRAINT governance_object_ownership_delegated_ttl_check
        CHECK (owner_kind <> 'delegated' OR effective_to IS NOT NULL),
    CONSTRAINT governance_object_ownership_window_check
        CHECK (effective_to IS NULL OR effective_to > effective_from),
    CONSTRAINT governance_object_ownership_status_check
        CHECK (status IN ('active', 'revoked', 'expired')),
    CONSTRAINT governance_object_ownership_object_check
        CHECK (object_type <> '' AND object_ref <> '')
);

-- one accountable owner per (object_type, object_ref, scope) — partial UNIQUE (doc 94.6).
CREATE UNIQUE INDEX governance_object_ownership_accountable_uq
    ON public.governance_object_ownership (object_type, object_ref, scope_code)
    WHERE owner_kind = 'accountable';

-- v_object_effective_owner — source: doc 17: the owner in force per object and scope
-- (an exception overrides a delegation, which overrides the accountable owner).
CREATE VIEW public.v_object_effective_owner AS
SELECT DISTINCT ON (o.object_type, o.object_ref, o.scope_code)
       o.object_type,
       o.object_ref,
       o.scope_code,
       o.owner_code,
       r.name          AS owner_name,
       r.entity_kind   AS owner_entity_kind,
       o.owner_kind,
       o.delegated_from_code,
       o.effective_from,
       o.effective_to,
       o.id            AS ownership_id
FROM public.governance_object_ownership o
JOIN public.governance_registry r ON r.code = o.owner_code AND r.status = 'active'
JOIN public.governance_responsibility_scope s ON s.scope_code = o.scope_code AND s.status = 'active'
WHERE o.status = 'active'
  AND o.owner_kind IN ('exception', 'delegated', 'accountable')
  AND o.effective_from <= now()
  AND (o.effective_to IS NULL OR o.effective_to > now())
ORDER BY o.object_type, o.object_ref, o.scope_code,
         CASE o.owner_kind WHEN 'exception' THEN 1 WHEN 'delegated' THEN 2 ELSE 3 END,
         o.effective_from DESC, o.id DESC;

-- v_object_owner_gap — source: doc 17: every (object, active scope) without an effective owner.
CREATE VIEW public.v_object_owner_gap AS
SELECT k.object_type,
       k.object_ref,
       s.scope_code,
       s.label AS scope_label
FROM (SELECT DISTINCT object_type, object_ref FROM public.governance_object_ownership) AS k
CROSS JOIN public.governance_responsibility_scope s
WHERE s.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM public.v_object_effective_owner e
                   WHERE e.object_type = k.object_type
                     AND e.object_ref = k.object_ref
                     AND e.scope_code = s.scope_code);

-- SECTION F — IN-TRANSACTION VERIFICATION + NEGATIVE TESTS
--   the five rejection tests of docs 77/78 (dup-accountable, phantom FK, bad scope, bad kind,
--   delegated-no-TTL) are the manifest's [[step.negative]], each in its own savepoint after
--   the delta is measured — they write nothing that survives.
DO $$
BEGIN
  IF (SELECT count(*) FROM public.governance_responsibility_scope) <> 6 THEN
    RAISE EXCEPTION 'SB-2: expected 6 seed scopes';
  END IF;
  IF (SELECT count(*) FROM public.governance_object_ownership) <> 0 THEN
    RAISE EXCEPTION 'SB-2: no owner rows for real objects in Phase 1';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger
              WHERE NOT tgisinternal
                AND tgrelid IN ('public.governance_responsibility_scope'::regclass,
                                'public.governance_object_ownership'::regclass)) THEN
    RAISE EXCEPTION 'SB-2: a trigger exists on the new tables (trigger-less by design)';
  END IF;
  IF (SELECT count(*) FROM public.governance_relations) <> 8 THEN
    RAISE EXCEPTION 'SB-2: governance_relations count changed';
  END IF;
END
$$;
--   no-hardcode (§99.6): scopes are rows (6 seeds); owners resolve to governance_registry (FK).
--   no-island (§99.7): governance_object_ownership is the one canonical owner store; Đ-37
--   stays the single roof (it REFERENCES the Đ-32 spine; no second approval table).
SELECT (SELECT count(*) FROM public.governance_responsibility_scope) AS scopes,
       (SELECT count(*) FROM public.governance_object_ownership)     AS owner_rows,
       (SELECT count(*) FROM public.v_object_owner_gap)              AS gaps;

-- SECTION G — COMMIT BOUNDARY
-- COMMIT is forbidden unless gates M-1, C-1 and ospa hold live; the runner alone turns this ROLLBACK into COMMIT.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION (build variant only; doc 101)
DO $$
BEGIN
  IF to_regclass('public.v_object_effective_owner') IS NULL OR to_regclass('public.v_object_owner_gap') IS NULL THEN
    RAISE EXCEPTION 'post-commit: an SB-2 view is absent';
  END IF;
  IF (SELECT count(*) FROM public.governance_responsibility_scope) <> 6 THEN
    RAISE EXCEPTION 'post-commit: scope seeds <> 6';
  END IF;
END
$$;

-- SECTION I — ROLLBACK REFERENCE
--   rollback/05_sb2_rollback.sql (doc 97.3 SB-2): DROP the 2 views, then governance_object_ownership,
--   then governance_responsibility_scope (child first).
