//! The footprint of a step's transaction: which catalog rows it wrote or deleted, found
//! without deparsing the whole catalog.
//!
//! A full catalog snapshot costs what the catalog costs (every object deparsed, three times
//! per rehearsal). The incremental measurement reads instead:
//!
//! * at entry, a **scope**: the objects the step names (its statements' touches and
//!   references, its declared effects) and everything that depends on them in `pg_depend`
//!   (what a `DROP … CASCADE` takes along, what a rename re-spells), expanded to their
//!   indexes, row and array types; and the **tallies** of the catalogs whose rows can vanish
//!   on their own: per catalog, the number of rows and the XOR of a hash of each row's
//!   `ctid`, over the rows inside the scope and over those outside it. A row's `ctid` changes whenever the
//!   row is updated, so the tallies move when any row is inserted, updated or deleted.
//! * inside the step's transaction, the same scan once more: the rows outside the scope that
//!   the transaction did not write must be exactly the ones probed at entry (nothing outside
//!   the scope was changed or deleted; a rehearsal, which rolls back, compares them with the
//!   catalog after its ROLLBACK instead of taking them at entry), and every object the transaction wrote that lies
//!   outside the scope must be new (its own defining row — `pg_class`, `pg_proc`, `pg_type`,
//!   `pg_namespace` — written by this transaction). Then the scope plus the new objects is
//!   everything that changed, and a snapshot of just those objects gives the delta.
//!
//! When either check fails (dynamic SQL changed an object the parser could not see, another
//! session changed the catalog meanwhile) the caller falls back to the full proof.
//!
//! Where the **DDL tracker** is installed (event triggers on `ddl_command_end` and `sql_drop`,
//! put in with the guard), the transaction's footprint is what the tracker recorded of its
//! DDL commands instead, nested ones included, and no catalog pass is made at all: the
//! same checks run on the recorded owners ([`inside_tracked`]), "new" meaning invisible to
//! another session. A step whose statements hide what they run (DO blocks, CALL, dynamic
//! SQL) or change the catalog where no event trigger fires (`REASSIGN OWNED`) is scanned as
//! above: the tracker could not vouch for it.
//!
//! The scan is one sequential pass over each catalog computing integer aggregates: no
//! deparsing, no relation locks (it reads catalogs, not the tables they describe). Rows of
//! temporary objects (other sessions' temp tables) are left out, so an application's
//! temp-table churn does not move the probe; TOAST tables' own rows (which come and go with
//! their tables) are left out where the transaction's writes are looked for.

pub use crate::core::scope::Names;
use postgres::GenericClient;
use std::collections::{BTreeMap, BTreeSet};

/// One system catalog as the footprint reads it.
struct Catalog {
    name: &'static str,
    /// The oid of the object a row belongs to (a column's table, a constraint's table or
    /// domain, a comment's object).
    owner: &'static str,
    /// Which rows count (user and system objects alike, minus temporary and TOAST ones).
    filter: &'static str,
    /// Rows of this catalog define the object whose oid is their owner.
    defines: bool,
    /// Its rows whose owner is in `@a@` (an `oid[]`), as `filter` counts them, found through
    /// the catalog's indexes: what the commit-time fingerprint reads (see
    /// [`crate::db::baseline`]). `@nt@` is `@a@` without temporary relations; `@owner@` is
    /// `owner`. Exactly the rows of the whole-catalog pass whose owner is in `@a@`, so that
    /// adding them up over every owner gives that pass's tallies.
    rows_of: &'static str,
    /// Whether its rows are tallied. Rows of the others are never deleted but with a row of
    /// a tallied catalog (a column with its table; DROP COLUMN and DROP DEFAULT update the
    /// column's row, which the transaction then owns), so reading them for what the
    /// transaction wrote is enough.
    tally: bool,
}

/// The row's namespace is neither TOAST's nor a temporary one (what [`EXCLUDED_NS`] leaves
/// out), checked through the namespace's oid index.
macro_rules! ns_ok {
    ($col:literal) => {
        concat!(
            "NOT EXISTS (SELECT FROM pg_catalog.pg_namespace x WHERE x.oid = ",
            $col,
            " AND (x.oid = 99 OR x.nspname LIKE 'pg\\_temp\\_%' OR x.nspname LIKE 'pg\\_toast\\_temp\\_%'))"
        )
    };
}

/// Relations left out: temporary ones and TOAST tables (a TOAST table comes and goes with its
/// table, whose own row changes with it).
const EXCLUDED_RELS: &str = "(SELECT oid FROM excluded_rels)";
/// Temporary relations only: for the catalogs where a TOAST table has no rows (its triggers,
/// defaults, rules, comments), and for the tallies of those where it has (columns,
/// indexes): a TOAST table's rows there come and go with its table's. Excluding every TOAST
/// table costs a hash of all of them per catalog (≈ 50 ms each at 100,000 tables, measured).
const TEMP_RELS: &str = "(SELECT oid FROM temp_rels)";
/// Namespaces left out: the TOAST namespace and every session's temporary ones.
const EXCLUDED_NS: &str = "(SELECT oid FROM excluded_ns)";

/// Read once per scan, before the catalogs: what [`EXCLUDED_RELS`] and [`EXCLUDED_NS`] name.
const EXCLUDED_CTE: &str = "WITH excluded_rels AS MATERIALIZED (
       SELECT oid FROM pg_catalog.pg_class WHERE relpersistence = 't' OR relnamespace = 99),
     temp_rels AS MATERIALIZED (
       SELECT oid FROM pg_catalog.pg_class WHERE relpersistence = 't'),
     excluded_ns AS MATERIALIZED (
       SELECT oid FROM pg_catalog.pg_namespace
        WHERE oid = 99 OR nspname LIKE 'pg\\_temp\\_%' OR nspname LIKE 'pg\\_toast\\_temp\\_%'),
     scope AS MATERIALIZED (SELECT DISTINCT unnest(@scope@) AS oid)
";

const CATALOGS: &[Catalog] = &[
    Catalog {
        name: "pg_namespace",
        owner: "oid",
        filter: "oid NOT IN @ns@",
        defines: true,
        tally: true,
        rows_of: "oid = ANY(@a@) AND NOT (oid = 99 OR nspname LIKE 'pg\\_temp\\_%' OR nspname LIKE 'pg\\_toast\\_temp\\_%')",
    },
    Catalog {
        name: "pg_class",
        owner: "oid",
        filter: "relpersistence <> 't' AND relnamespace <> 99",
        defines: true,
        tally: true,
        rows_of: "oid = ANY(@a@) AND relpersistence <> 't' AND relnamespace <> 99",
    },
    Catalog {
        name: "pg_attribute",
        owner: "attrelid",
        filter: "attrelid NOT IN @rels@",
        defines: false,
        tally: false,
        rows_of: "attrelid = ANY(@nt@)",
    },
    Catalog {
        name: "pg_attrdef",
        owner: "adrelid",
        filter: "adrelid NOT IN @temp@",
        defines: false,
        tally: false,
        rows_of: "adrelid = ANY(@nt@)",
    },
    Catalog {
        name: "pg_constraint",
        owner: "CASE WHEN conrelid <> 0 THEN conrelid ELSE contypid END",
        filter: "connamespace NOT IN @ns@",
        defines: false,
        tally: true,
        rows_of: concat!("(conrelid = ANY(@a@) OR (conrelid = 0 AND contypid = ANY(@a@))) AND ", ns_ok!("connamespace")),
    },
    Catalog {
        name: "pg_index",
        owner: "indexrelid",
        filter: "indrelid NOT IN @rels@",
        defines: false,
        tally: false,
        rows_of: "indexrelid = ANY(@a@) AND NOT EXISTS (SELECT FROM pg_catalog.pg_class x WHERE x.oid = indrelid AND x.relpersistence = 't')",
    },
    Catalog {
        name: "pg_trigger",
        owner: "tgrelid",
        filter: "tgrelid NOT IN @temp@",
        defines: false,
        tally: true,
        rows_of: "tgrelid = ANY(@nt@)",
    },
    Catalog {
        name: "pg_policy",
        owner: "polrelid",
        filter: "true",
        defines: false,
        tally: true,
        rows_of: "polrelid = ANY(@a@)",
    },
    Catalog {
        name: "pg_rewrite",
        owner: "ev_class",
        filter: "ev_class NOT IN @temp@",
        defines: false,
        tally: true,
        rows_of: "ev_class = ANY(@nt@)",
    },
    Catalog {
        name: "pg_sequence",
        owner: "seqrelid",
        filter: "seqrelid NOT IN @temp@",
        defines: false,
        tally: false,
        rows_of: "seqrelid = ANY(@nt@)",
    },
    Catalog {
        name: "pg_inherits",
        owner: "inhrelid",
        filter: "inhrelid NOT IN @temp@",
        defines: false,
        tally: false,
        rows_of: "inhrelid = ANY(@nt@)",
    },
    Catalog {
        name: "pg_proc",
        owner: "oid",
        filter: "pronamespace NOT IN @ns@",
        defines: true,
        tally: true,
        rows_of: concat!("oid = ANY(@a@) AND ", ns_ok!("pronamespace")),
    },
    Catalog {
        name: "pg_type",
        owner: "oid",
        filter: "typnamespace NOT IN @ns@",
        defines: true,
        tally: true,
        rows_of: concat!("oid = ANY(@a@) AND ", ns_ok!("typnamespace")),
    },
    Catalog {
        name: "pg_enum",
        owner: "enumtypid",
        filter: "true",
        defines: false,
        tally: false,
        rows_of: "enumtypid = ANY(@a@)",
    },
    Catalog {
        name: "pg_range",
        owner: "rngtypid",
        filter: "true",
        defines: false,
        tally: false,
        rows_of: "rngtypid = ANY(@a@)",
    },
    Catalog {
        name: "pg_description",
        owner: "CASE classoid \
                  WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN (SELECT CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END FROM pg_catalog.pg_constraint k WHERE k.oid = objoid) \
                  WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN (SELECT g.tgrelid FROM pg_catalog.pg_trigger g WHERE g.oid = objoid) \
                  WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid = objoid) \
                  WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN (SELECT w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.oid = objoid) \
                  ELSE objoid END",
        filter: "objoid NOT IN @temp@",
        defines: false,
        tally: true,
        rows_of: "objoid = ANY(@a@ || ARRAY(SELECT k.oid FROM pg_catalog.pg_constraint k WHERE k.conrelid = ANY(@a@) UNION ALL SELECT k.oid FROM pg_catalog.pg_constraint k WHERE k.conrelid = 0 AND k.contypid = ANY(@a@) UNION ALL SELECT g.oid FROM pg_catalog.pg_trigger g WHERE g.tgrelid = ANY(@a@) UNION ALL SELECT y.oid FROM pg_catalog.pg_policy y WHERE y.polrelid = ANY(@a@) UNION ALL SELECT w.oid FROM pg_catalog.pg_rewrite w WHERE w.ev_class = ANY(@a@))) AND (@owner@) = ANY(@a@) AND NOT EXISTS (SELECT FROM pg_catalog.pg_class x WHERE x.oid = objoid AND x.relpersistence = 't')",
    },
    Catalog {
        name: "pg_extension",
        owner: "oid",
        filter: "true",
        defines: true,
        tally: true,
        rows_of: "oid = ANY(@a@)",
    },
    Catalog {
        name: "pg_event_trigger",
        owner: "oid",
        filter: "true",
        defines: true,
        tally: true,
        rows_of: "oid = ANY(@a@)",
    },
];

/// `touched`: the rows this transaction wrote are looked for, and their owners must be the
/// step's objects, never a TOAST table (whose own `pg_class` row the scan leaves out).
fn filter_of(c: &Catalog, touched: bool) -> String {
    c.filter
        .replace("@rels@", if touched { EXCLUDED_RELS } else { TEMP_RELS })
        .replace("@temp@", TEMP_RELS)
        .replace("@ns@", EXCLUDED_NS)
}

/// Rows and XOR of row hashes, for one catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub rows: i64,
    pub xor: i64,
}

/// The whole-catalog probe: one [`Tally`] per catalog. Equal probes mean no row of any
/// modelled catalog was inserted, updated or deleted in between (temp and TOAST rows aside).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe(pub BTreeMap<String, Tally>);

impl Probe {
    /// The catalogs whose tallies differ.
    pub fn moved(&self, other: &Probe) -> Vec<String> {
        CATALOGS
            .iter()
            .filter(|c| c.tally)
            .map(|c| c.name.to_string())
            .filter(|n| self.0.get(n) != other.0.get(n))
            .collect()
    }
}

/// The whole-catalog tallies: overall, and over the rows outside a scope.
#[derive(Debug, Clone, Default)]
pub struct Tallies {
    pub all: Probe,
    pub outside: Probe,
}

/// What entry knows: the scope, and (for a transaction that will commit) the tallies.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// Oids of the objects in scope (relations with their indexes, row and array types;
    /// functions; types; schemas; every extension and event trigger).
    pub scope: BTreeSet<u32>,
    /// `None` when the reference is taken after the transaction instead: a rehearsal rolls
    /// back, so the catalog after it is the reference (one pass fewer).
    pub tallies: Option<Tallies>,
}

/// What the scan inside the step's transaction found.
#[derive(Debug, Clone, Default)]
pub struct Inside {
    pub all: Probe,
    /// The untouched rows outside entry's scope: must equal the reference's.
    pub outside: Probe,
    /// The scope of the in-transaction snapshot: entry's scope plus every new object.
    pub scope: BTreeSet<u32>,
    /// Why the incremental measurement cannot be trusted here (the caller falls back to the
    /// full proof), or `None`.
    pub unaccounted: Option<String>,
}

/// One pass over each catalog: the tallies overall and outside `scope`.
pub fn tallies(
    c: &mut impl GenericClient,
    scope: &BTreeSet<u32>,
) -> Result<Tallies, postgres::Error> {
    let ((all, outside), _) = scan(c, scope, false)?;
    Ok(Tallies { all, outside })
}

/// Entry: resolves the names to a scope; with `with_tallies`, also probes the catalog.
pub fn entry(
    c: &mut impl GenericClient,
    names: &Names,
    max_scope: usize,
    with_tallies: bool,
) -> Result<Option<Entry>, postgres::Error> {
    let Some(scope) = resolve_scope(c, names, max_scope)? else {
        return Ok(None);
    };
    let tallies = if with_tallies {
        Some(tallies(c, &scope)?)
    } else {
        None
    };
    Ok(Some(Entry { scope, tallies }))
}

/// Why the incremental proof cannot account for the rows outside the scope: `reference`
/// (entry's tallies, or the catalog after a rehearsal's rollback) against the transaction's.
pub fn outside_moved(reference: &Probe, inside: &Probe) -> Option<String> {
    let moved = reference.moved(inside);
    (!moved.is_empty()).then(|| {
        format!(
            "rows outside the objects the step names changed in {} (dynamic SQL, or another session's DDL)",
            moved.join(", ")
        )
    })
}

/// Inside the step's transaction, after its statements: checks that everything the
/// transaction changed is in entry's scope or new, and returns the snapshot's scope.
pub fn inside(c: &mut impl GenericClient, entry: &Entry) -> Result<Inside, postgres::Error> {
    let ((all, outside), touched) = scan(c, &entry.scope, true)?;
    let mut out = Inside {
        all,
        scope: entry.scope.clone(),
        unaccounted: None,
        outside,
    };
    if let Some(t) = &entry.tallies {
        out.unaccounted = outside_moved(&t.outside, &out.outside);
        if out.unaccounted.is_some() {
            return Ok(out);
        }
    }
    let owners: BTreeSet<u32> = touched.iter().map(|(o, _)| *o).collect();
    let defined: BTreeSet<u32> = touched
        .iter()
        .filter(|(_, d)| *d)
        .map(|(o, _)| *o)
        .collect();
    let wanted = expand(c, &owners, Direction::Up)?;
    let stray: Vec<u32> = wanted
        .iter()
        .filter(|o| !entry.scope.contains(o) && !defined.contains(o))
        .copied()
        .collect();
    if !stray.is_empty() {
        out.unaccounted = Some(format!(
            "the step changed {} existing object(s) it does not name (oids {})",
            stray.len(),
            stray
                .iter()
                .take(5)
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(out);
    }
    out.scope.extend(wanted);
    out.scope.extend(expand(c, &owners, Direction::Down)?);
    Ok(out)
}

/// Tallies every catalog, inside and outside `scope`; with `touched`, also lists the owners
/// of rows this transaction wrote (and whether the row defines its owner).
type Scan = ((Probe, Probe), Vec<(u32, bool)>);

fn scan(
    c: &mut impl GenericClient,
    scope: &BTreeSet<u32>,
    touched: bool,
) -> Result<Scan, postgres::Error> {
    let scope_oids: Vec<u32> = scope.iter().copied().collect();
    let sql = scan_sql("$1::pg_catalog.oid[]", touched, touched, "0");

    let rows = c.query(sql.as_str(), &[&scope_oids])?;
    let (mut all, mut outside) = (Probe::default(), Probe::default());
    let mut owners = Vec::new();
    for r in rows {
        let cat: String = r.try_get(0)?;
        // Outside the scope, untouched: what must not have moved.
        outside.0.insert(
            cat.clone(),
            Tally {
                rows: r.try_get(1)?,
                xor: r.try_get(2)?,
            },
        );
        all.0.insert(
            cat,
            Tally {
                rows: r.try_get(3)?,
                xor: r.try_get(4)?,
            },
        );
        let t: Option<Vec<Option<u32>>> = r.try_get(5)?;
        let defines: bool = r.try_get(6)?;
        owners.extend(t.into_iter().flatten().flatten().map(|o| (o, defines)));
    }
    Ok(((all, outside), owners))
}

/// The scan over every catalog: per catalog, the tallies outside `scope` (untouched rows)
/// and overall, and with `touched` the owners of the rows this transaction wrote.
/// `every`: every catalog, not only the tallied ones (the touched rows are looked for in
/// all of them; the server's fingerprint covers all of them).
/// `seed`: the row hash's seed (the client's probe uses 0; the server's, a secret one).
pub(crate) fn scan_sql(scope: &str, touched: bool, every: bool, seed: &str) -> String {
    let mut parts = Vec::new();
    for cat in CATALOGS.iter().filter(|c| every || c.tally) {
        if touched && !cat.tally {
            // Not tallied: only what this transaction wrote, found without hashing a row.
            parts.push(format!(
                "SELECT '{name}'::text AS cat, 0::bigint AS n_out, 0::bigint AS x_out,
                        0::bigint AS n_all, 0::bigint AS x_all,
                        array_agg(DISTINCT {owner}) AS touched, {defines} AS defines
                   FROM pg_catalog.{name} WHERE pg_catalog.age(xmin) <= 0 AND {filter}",
                name = cat.name,
                owner = cat.owner,
                filter = filter_of(cat, true),
                defines = cat.defines,
            ));
            continue;
        }
        // age(xmin) <= 0: written by this transaction or one of its subtransactions (or
        // committed by a transaction that started after it, which the outside check catches).
        parts.push(format!(
            "SELECT '{name}'::text AS cat, count(*) FILTER (WHERE NOT s AND NOT t) AS n_out,
                    coalesce(bit_xor(h) FILTER (WHERE NOT s AND NOT t), 0) AS x_out,
                    count(*) AS n_all, coalesce(bit_xor(h), 0) AS x_all,
                    {touch} AS touched, {defines} AS defines
               FROM (SELECT pg_catalog.hashtidextended(ctid, {seed}) AS h, {owner} AS owner,
                            ({owner}) IN (SELECT oid FROM scope) AS s,
                            {t} AS t
                       FROM pg_catalog.{name} WHERE {filter}) x",
            name = cat.name,
            owner = cat.owner,
            filter = filter_of(cat, touched),
            defines = cat.defines,
            seed = seed,
            t = if touched {
                "pg_catalog.age(xmin) <= 0"
            } else {
                "false"
            },
            touch = if touched {
                "array_agg(DISTINCT owner) FILTER (WHERE t)"
            } else {
                "NULL::pg_catalog.oid[]"
            },
        ));
    }
    format!(
        "{}{}",
        EXCLUDED_CTE.replace("@scope@", scope),
        parts.join("\nUNION ALL\n")
    )
}

/// Every row of every catalog whose owner is in `p_all` (`p_notemp`: the same without
/// temporary relations), with its `ctid`, its hash under `p_seed` and its `xmin`, found
/// through the catalogs' indexes: exactly the rows of the whole-catalog pass those owners
/// own. The body of `stepgate.catalog_rows` ([`crate::db::baseline`]).
pub(crate) fn owned_rows_sql() -> String {
    CATALOGS
        .iter()
        .map(|cat| {
            let cond = cat
                .rows_of
                .replace("@owner@", cat.owner)
                .replace("@a@", "p_all")
                .replace("@nt@", "p_notemp");
            format!(
                "SELECT '{name}'::text, ctid, pg_catalog.hashtidextended(ctid, p_seed), xmin
   FROM pg_catalog.{name} WHERE {cond}",
                name = cat.name
            )
        })
        .collect::<Vec<_>>()
        .join("\nUNION ALL ")
}

/// The catalogs the server's fingerprint covers, by name.
pub(crate) fn catalog_names() -> impl Iterator<Item = &'static str> {
    CATALOGS.iter().map(|c| c.name)
}

/// The DDL tracker: two event-trigger functions that, inside a step's transaction that armed
/// them ([`arm`]), record in `stepgate.ddl_tracked` (a row per object, undone with the
/// subtransaction that ran the command) the owner of every object each DDL command created,
/// altered or dropped, or an unnamed row for a command that names no object (GRANT, REVOKE,
/// ALTER DEFAULT PRIVILEGES). The record is the installer's: the step's own SQL can neither
/// disarm the tracker nor erase what it recorded (a setting could be, by the very SQL it
/// measures). PostgreSQL fires them for every DDL command,
/// nested ones included (dynamic SQL, functions, DO blocks), so the transaction's footprint is
/// read from what it did, not by scanning the catalog. Any other session pays one function
/// call per DDL command and records nothing. Temporary objects are left out, as in the scan.
///
/// Owners are the footprint's: a column's, constraint's, trigger's, policy's, rule's or
/// default's table (a domain constraint's domain), otherwise the object itself. A dropped
/// part's rows are gone by `sql_drop`, so its table is found by the names it had.
pub fn tracker_functions_sql() -> String {
    TRACKER_FUNCTIONS.replace("{owner}", &owner_of_sql("p_classid", "p_objid"))
}

const TRACKER_FUNCTIONS: &str = r#"
CREATE FUNCTION stepgate.track_owner(p_classid oid, p_objid oid, p_names text[])
RETURNS oid LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT coalesce(
    {owner},
    -- Dropped: its table by name (a domain constraint's domain), when that still exists.
    CASE WHEN p_classid IN ('pg_catalog.pg_constraint'::pg_catalog.regclass,
                            'pg_catalog.pg_trigger'::pg_catalog.regclass,
                            'pg_catalog.pg_policy'::pg_catalog.regclass,
                            'pg_catalog.pg_rewrite'::pg_catalog.regclass,
                            'pg_catalog.pg_attrdef'::pg_catalog.regclass)
              AND pg_catalog.array_length(p_names, 1) >= 2
         THEN coalesce(
                pg_catalog.to_regclass(pg_catalog.format('%I.%I', p_names[1], p_names[2]))::oid,
                pg_catalog.to_regtype(pg_catalog.format('%I.%I', p_names[1], p_names[2]))::oid)
    END)
$fn$;

-- One row per transaction that armed the tracker (owner NULL, unnamed false), then one per
-- object its DDL touched (or per command naming none: unnamed). Kept a day: an apply's rows
-- commit with it.
CREATE UNLOGGED TABLE stepgate.ddl_tracked (
  xid pg_catalog.xid8 NOT NULL,
  at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  owner oid,
  unnamed boolean NOT NULL DEFAULT false
);
CREATE INDEX ON stepgate.ddl_tracked (xid);

CREATE FUNCTION stepgate.track_arm()
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  DELETE FROM stepgate.ddl_tracked WHERE at < pg_catalog.now() - interval '1 day';
  INSERT INTO stepgate.ddl_tracked (xid) VALUES (pg_catalog.pg_current_xact_id());
$fn$;

CREATE FUNCTION stepgate.track_armed()
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL
     AND EXISTS (SELECT FROM stepgate.ddl_tracked t
                  WHERE t.xid = pg_catalog.pg_current_xact_id_if_assigned() AND t.owner IS NULL
                    AND NOT t.unnamed)
$fn$;

CREATE FUNCTION stepgate.track_ddl()
RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF NOT stepgate.track_armed() THEN
    RETURN;
  END IF;
  INSERT INTO stepgate.ddl_tracked (xid, owner, unnamed)
  SELECT pg_catalog.pg_current_xact_id(), stepgate.track_owner(x.classid, x.objid, NULL), x.objid IS NULL
    FROM pg_catalog.pg_event_trigger_ddl_commands() x
   WHERE x.schema_name IS NULL OR x.schema_name !~ '^pg_(toast_)?temp';
END
$fn$;

CREATE FUNCTION stepgate.track_drop()
RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF NOT stepgate.track_armed() THEN
    RETURN;
  END IF;
  INSERT INTO stepgate.ddl_tracked (xid, owner)
  SELECT pg_catalog.pg_current_xact_id(), o
    FROM (SELECT stepgate.track_owner(x.classid, x.objid, x.address_names) AS o
            FROM pg_catalog.pg_event_trigger_dropped_objects() x
           WHERE NOT x.is_temporary) d
   WHERE o IS NOT NULL;
END
$fn$;
REVOKE ALL ON FUNCTION stepgate.track_ddl() FROM PUBLIC;
REVOKE ALL ON FUNCTION stepgate.track_drop() FROM PUBLIC;
"#;

/// The tracker's event triggers (installed with the guard: creating an event trigger takes a
/// superuser). A ledger installed before the tracker existed has no functions for them: the
/// guard goes in without it there, and the proof scans the catalog.
pub const TRACKER_TRIGGERS_SQL: &str = "DO $track$
BEGIN
  IF pg_catalog.to_regprocedure('stepgate.track_ddl()') IS NOT NULL
     AND pg_catalog.to_regprocedure('stepgate.track_drop()') IS NOT NULL THEN
    CREATE EVENT TRIGGER stepgate_track ON ddl_command_end EXECUTE FUNCTION stepgate.track_ddl();
    CREATE EVENT TRIGGER stepgate_track_drop ON sql_drop EXECUTE FUNCTION stepgate.track_drop();
  END IF;
END
$track$;\n";

pub const TRACKER_UNINSTALL_SQL: &str = "DROP EVENT TRIGGER IF EXISTS stepgate_track;
DROP EVENT TRIGGER IF EXISTS stepgate_track_drop;\n";

/// The object a catalog row `(classid, objid)` belongs to, as the footprint reads it: a
/// constraint's, trigger's, policy's, rule's or default's table (a domain constraint's
/// domain), otherwise the object itself; NULL for a catalog the footprint does not model or
/// a part whose row is gone. One mapping for the scope's closure and the DDL tracker.
pub(crate) fn owner_of_sql(classid: &str, objid: &str) -> String {
    format!(
        "CASE {classid}
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass
             THEN (SELECT CASE WHEN k.conrelid <> 0 THEN k.conrelid ELSE k.contypid END
                     FROM pg_catalog.pg_constraint k WHERE k.oid = {objid})
           WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass
             THEN (SELECT g.tgrelid FROM pg_catalog.pg_trigger g WHERE g.oid = {objid})
           WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass
             THEN (SELECT y.polrelid FROM pg_catalog.pg_policy y WHERE y.oid = {objid})
           WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass
             THEN (SELECT w.ev_class FROM pg_catalog.pg_rewrite w WHERE w.oid = {objid})
           WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass
             THEN (SELECT a.adrelid FROM pg_catalog.pg_attrdef a WHERE a.oid = {objid})
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN {objid}
           WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN {objid}
           WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN {objid}
           WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN {objid}
           WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN {objid}
           WHEN 'pg_catalog.pg_event_trigger'::pg_catalog.regclass THEN {objid}
         END"
    )
}

/// Whether this session's DDL is tracked: both event triggers exist, are enabled, and fire
/// under the session's `session_replication_role`.
pub fn tracker_ready(c: &mut impl GenericClient) -> Result<bool, postgres::Error> {
    c.query_one(
        "SELECT count(*) = 2 FROM pg_catalog.pg_event_trigger e
          WHERE e.evtname IN ('stepgate_track', 'stepgate_track_drop')
            AND e.evtfoid IN (pg_catalog.to_regprocedure('stepgate.track_ddl()'),
                              pg_catalog.to_regprocedure('stepgate.track_drop()'))
            AND pg_catalog.has_function_privilege(pg_catalog.to_regprocedure('stepgate.track_arm()'), 'EXECUTE')
            AND pg_catalog.has_table_privilege(pg_catalog.to_regclass('stepgate.ddl_tracked'), 'SELECT')
            AND (e.evtenabled = 'A'
                 OR (e.evtenabled = 'O' AND pg_catalog.current_setting('session_replication_role') <> 'replica')
                 OR (e.evtenabled = 'R' AND pg_catalog.current_setting('session_replication_role') = 'replica'))",
        &[],
    )?
    .try_get(0)
}

/// Arms the tracker for the rest of the current transaction (before the step's statements).
/// `preimage`: the transaction will commit, and the server keeps drift's baseline from the
/// pre-image of these objects ([`crate::db::baseline`]) instead of reading every catalog row
/// at COMMIT.
pub fn arm(
    c: &mut impl GenericClient,
    preimage: Option<&BTreeSet<u32>>,
) -> Result<(), postgres::Error> {
    match preimage {
        Some(scope) => {
            let oids: Vec<u32> = scope.iter().copied().collect();
            c.query_typed(
                "SELECT stepgate.track_arm($1)",
                &[(&oids, postgres::types::Type::OID_ARRAY)],
            )?;
            Ok(())
        }
        None => c.batch_execute("SELECT stepgate.track_arm()"),
    }
}

/// Whether the ledger keeps drift's baseline from pre-images (a ledger installed before it
/// recomputes it at every commit).
pub fn keeps_baseline(c: &mut impl GenericClient) -> Result<bool, postgres::Error> {
    c.query_typed_one(
        "SELECT pg_catalog.to_regprocedure('stepgate.track_arm(pg_catalog.oid[])') IS NOT NULL",
        &[],
    )?
    .try_get(0)
}

/// What the tracker recorded in this transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracked {
    /// Owners of the objects DDL created, altered or dropped.
    pub owners: BTreeSet<u32>,
    /// Commands that name no object (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES).
    pub unnamed: usize,
}

pub fn tracked(c: &mut impl GenericClient) -> Result<Tracked, postgres::Error> {
    let rows = c.query(
        "SELECT t.owner, t.unnamed FROM stepgate.ddl_tracked t
          WHERE t.xid = pg_catalog.pg_current_xact_id() AND (t.owner IS NOT NULL OR t.unnamed)",
        &[],
    )?;
    let mut out = Tracked::default();
    for r in rows {
        if r.try_get(1)? {
            out.unnamed += 1;
        } else if let Some(oid) = r.try_get::<_, Option<u32>>(0)? {
            out.owners.insert(oid);
        }
    }
    Ok(out)
}

/// Inside the step's transaction, with the tracker armed: the same checks as [`inside`]
/// without reading the catalog. Every object the DDL touched must be in entry's scope or
/// new, and new means no other session can see it (`committed` is one: the ledger session,
/// which sees the catalog as committed). So must everything that now depends on a touched
/// object (a partition attached to a table in scope, a foreign key added elsewhere).
/// `unnamed_allowed`: how many GRANT-like commands the step's own statements account for.
pub fn inside_tracked(
    c: &mut impl GenericClient,
    committed: &mut impl GenericClient,
    entry: &Entry,
    unnamed_allowed: usize,
) -> Result<Inside, postgres::Error> {
    let t = tracked(c)?;
    let mut out = Inside {
        scope: entry.scope.clone(),
        ..Default::default()
    };
    if t.unnamed > unnamed_allowed {
        out.unaccounted = Some(format!(
            "{} GRANT-like command(s) ran, the step's own statements account for {unnamed_allowed}",
            t.unnamed
        ));
        return Ok(out);
    }
    let mut wanted = expand(c, &t.owners, Direction::Up)?;
    wanted.extend(dependents(c, &wanted)?);
    let unknown: Vec<u32> = wanted
        .iter()
        .filter(|o| !entry.scope.contains(o))
        .copied()
        .collect();
    let existing = committed_objects(committed, &unknown)?;
    if !existing.is_empty() {
        out.unaccounted = Some(format!(
            "the step changed {} existing object(s) it does not name ({})",
            existing.len(),
            existing
                .iter()
                .take(5)
                .map(|(_, name)| name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(out);
    }
    out.scope.extend(&wanted);
    out.scope.extend(expand(c, &wanted, Direction::Down)?);
    Ok(out)
}

/// The owners of what depends on `oids` now (one step through `pg_depend`), user objects only.
fn dependents(
    c: &mut impl GenericClient,
    oids: &BTreeSet<u32>,
) -> Result<BTreeSet<u32>, postgres::Error> {
    let list: Vec<u32> = oids.iter().copied().collect();
    let rows = c.query(
        "SELECT stepgate.track_owner(d.classid, d.objid, NULL)
           FROM pg_catalog.pg_depend d
          WHERE d.refobjid = ANY($1::pg_catalog.oid[]) AND d.objid >= 16384
            AND d.refclassid IN ('pg_catalog.pg_class'::pg_catalog.regclass,
                                 'pg_catalog.pg_type'::pg_catalog.regclass,
                                 'pg_catalog.pg_proc'::pg_catalog.regclass)
            -- TOAST and temporary relations are outside the footprint, as in the scan.
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_class x
                             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                               AND x.oid = d.objid
                               AND (x.relnamespace = 99 OR x.relpersistence = 't'))",
        &[&list],
    )?;
    let mut out = BTreeSet::new();
    for r in rows {
        if let Some(o) = r.try_get::<_, Option<u32>>(0)? {
            out.insert(o);
        }
    }
    expand(c, &out, Direction::Up)
}

/// Which of `oids` define an object the catalog has committed (seen from another session),
/// by name.
fn committed_objects(
    c: &mut impl GenericClient,
    oids: &[u32],
) -> Result<Vec<(u32, String)>, postgres::Error> {
    if oids.is_empty() {
        return Ok(vec![]);
    }
    let rows = c.query(
        "SELECT oid, n FROM (
           SELECT o.oid, coalesce(
             (SELECT x.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class x WHERE x.oid = o.oid),
             (SELECT x.oid::pg_catalog.regprocedure::text FROM pg_catalog.pg_proc x WHERE x.oid = o.oid),
             (SELECT x.oid::pg_catalog.regtype::text FROM pg_catalog.pg_type x WHERE x.oid = o.oid),
             (SELECT 'schema ' || x.nspname FROM pg_catalog.pg_namespace x WHERE x.oid = o.oid),
             (SELECT 'extension ' || x.extname FROM pg_catalog.pg_extension x WHERE x.oid = o.oid),
             (SELECT 'event trigger ' || x.evtname FROM pg_catalog.pg_event_trigger x WHERE x.oid = o.oid)) AS n
             FROM unnest($1::pg_catalog.oid[]) AS o(oid)) named
          WHERE n IS NOT NULL ORDER BY n",
        &[&oids],
    )?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

enum Direction {
    /// From a part to the object the snapshot reads it through (an index to its table, a
    /// row type to its relation, an array type to its element type).
    Up,
    /// From an object to its parts (a table's indexes, row and array types).
    Down,
}

/// Every join below goes through an index on the catalog's oid or owner column: the scope is
/// small and the catalog may not be (a scan of pg_type cost 33 ms at 100,000 tables).
fn expand(
    c: &mut impl GenericClient,
    oids: &BTreeSet<u32>,
    dir: Direction,
) -> Result<BTreeSet<u32>, postgres::Error> {
    let sql = match dir {
        Direction::Up => {
            "WITH o AS (SELECT unnest($1::pg_catalog.oid[]) AS oid)
             SELECT oid FROM o
             UNION SELECT i.indrelid FROM pg_catalog.pg_index i JOIN o ON o.oid = i.indexrelid
             UNION SELECT t.typrelid FROM pg_catalog.pg_type t JOIN o ON o.oid = t.oid
                    WHERE t.typrelid <> 0
             UNION SELECT e.oid FROM pg_catalog.pg_type a JOIN o ON o.oid = a.oid
                    JOIN pg_catalog.pg_type e ON e.oid = a.typelem AND e.typarray = a.oid
             UNION SELECT c.reltype FROM pg_catalog.pg_class c JOIN o ON o.oid = c.oid
                    WHERE c.relkind = 'c'"
        }
        Direction::Down => {
            "WITH o AS (SELECT unnest($1::pg_catalog.oid[]) AS oid)
             SELECT i.indexrelid FROM pg_catalog.pg_index i JOIN o ON o.oid = i.indrelid
             UNION SELECT c.reltype FROM pg_catalog.pg_class c JOIN o ON o.oid = c.oid
                    WHERE c.reltype <> 0
             UNION SELECT t.typarray FROM pg_catalog.pg_type t JOIN o ON o.oid = t.oid
                    WHERE t.typarray <> 0
             UNION SELECT t.typarray FROM pg_catalog.pg_class c JOIN o ON o.oid = c.oid
                    JOIN pg_catalog.pg_type t ON t.oid = c.reltype WHERE t.typarray <> 0
             UNION SELECT t.typrelid FROM pg_catalog.pg_type t JOIN o ON o.oid = t.oid
                    WHERE t.typrelid <> 0"
        }
    };
    let list: Vec<u32> = oids.iter().copied().collect();
    let rows = c.query(sql, &[&list])?;
    let mut out = BTreeSet::new();
    for r in rows {
        if let Some(o) = r.try_get::<_, Option<u32>>(0)? {
            out.insert(o);
        }
    }
    Ok(out)
}

/// Names → oids, then everything that depends on them (recursively, through `pg_depend`),
/// then their parts. `None` when the scope would exceed `max_scope` objects: then the full
/// proof is as cheap.
fn resolve_scope(
    c: &mut impl GenericClient,
    names: &Names,
    max_scope: usize,
) -> Result<Option<BTreeSet<u32>>, postgres::Error> {
    let split = |set: &BTreeSet<(String, String)>| -> (Vec<String>, Vec<String>) {
        set.iter().cloned().unzip()
    };
    let (rs, rn) = split(&names.relations);
    let (fs, fname) = split(&names.functions);
    let (ts, tn) = split(&names.types);
    let schemas: Vec<String> = names.schemas.iter().cloned().collect();
    let extensions: Vec<String> = names.extensions.iter().cloned().collect();
    let cap = max_scope as i64 + 1;
    let sql = format!(
        "WITH RECURSIVE seed(classid, objid) AS (
            SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid
              FROM unnest($1::text[], $2::text[]) AS x(s, r)
              JOIN pg_catalog.pg_namespace n ON n.nspname = x.s
              JOIN pg_catalog.pg_class c ON c.relname = x.r AND c.relnamespace = n.oid
            UNION SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid
              FROM unnest($3::text[], $4::text[]) AS x(s, f)
              JOIN pg_catalog.pg_namespace n ON n.nspname = x.s
              JOIN pg_catalog.pg_proc p ON p.proname = x.f AND p.pronamespace = n.oid
            UNION SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid
              FROM unnest($5::text[], $6::text[]) AS x(s, y)
              JOIN pg_catalog.pg_namespace n ON n.nspname = x.s
              JOIN pg_catalog.pg_type t ON t.typname = x.y AND t.typnamespace = n.oid
            UNION SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid, n.oid
              FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($7::text[])
            UNION SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid, e.oid
              FROM pg_catalog.pg_extension e WHERE e.extname = ANY($10::text[])
         ),
         dep(classid, objid, depth) AS (
            SELECT classid, objid, 0 FROM seed
            UNION
            SELECT d.classid, d.objid, dep.depth + 1
              FROM dep JOIN pg_catalog.pg_depend d
                ON d.refclassid = dep.classid AND d.refobjid = dep.objid
             WHERE dep.depth < 8 AND d.deptype IN ('n', 'a', 'i', 'e')
               AND (dep.classid <> 'pg_catalog.pg_namespace'::pg_catalog.regclass OR $8)
         ),
         capped AS (SELECT DISTINCT classid, objid FROM dep LIMIT $9)
         SELECT {owner}
           FROM capped x
         UNION SELECT oid FROM pg_catalog.pg_extension
         UNION SELECT oid FROM pg_catalog.pg_event_trigger",
        owner = owner_of_sql("x.classid", "x.objid")
    );
    let rows = c.query(
        sql.as_str(),
        &[
            &rs,
            &rn,
            &fs,
            &fname,
            &ts,
            &tn,
            &schemas,
            &names.schema_contents,
            &cap,
            &extensions,
        ],
    )?;
    let mut seeds = BTreeSet::new();
    for r in rows {
        if let Some(o) = r.try_get::<_, Option<u32>>(0)? {
            seeds.insert(o);
        }
    }
    if seeds.len() > max_scope {
        return Ok(None);
    }
    let up = expand(c, &seeds, Direction::Up)?;
    seeds.extend(up);
    let down = expand(c, &seeds, Direction::Down)?;
    seeds.extend(down);
    Ok(Some(seeds))
}
