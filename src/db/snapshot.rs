//! The catalog snapshot: a canonical [`Snapshot`] of every user object, read in one
//! set-based query per object kind (at most fifteen queries in all, whatever the catalog's
//! size), the map built in Rust.
//!
//! Names follow the grammar of [`crate::core::objects`] exactly, so that a declared effect
//! `table public.t` equals a measured one. Left out: the schemas `stepgate`, `pg_catalog`,
//! `information_schema`, `pg_toast*` and `pg_temp*`; extensions installed into `stepgate`
//! and event triggers whose function lives there (stepgate's own); every object that belongs
//! to an extension (the extension itself is listed); internal triggers; functions that are
//! internal parts of another object (a range type's constructors); array and multirange
//! types; table row types. Non-transactional residue (a sequence's `last_value`,
//! statistics) is not part of a snapshot, so `nextval()` does not change the fingerprint.
//! Column order (`attnum`) is not either: dropping and re-adding a column compares equal.
//!
//! [`take`] issues no `BEGIN`/`COMMIT`: it runs inside whatever transaction the caller has
//! open (the engine snapshots inside a step's own transaction) and sees its uncommitted
//! changes. For the duration of the call it pins the settings that shape deparsed text
//! (`search_path = pg_catalog, public`, `DateStyle`, `TimeZone`, ...) and then restores
//! them, so the snapshot does not depend on the session's settings.
//!
//! Conventions inside each query: column `name` is the object's name (its last part when
//! `_rel`, a member's relation oid, or `_in_schema_of`, an index's table oid, is present);
//! column `args` (functions) holds `oidvectortypes(proargtypes)`, normalised with
//! [`normalize_args`] and appended to the name; a column `x__args` completes attribute `x`
//! the same way; `_kind`, `_oid` and `_schema` steer the relations query; every other
//! column is an attribute named after the column, omitted when NULL. `text[]` columns are
//! unordered sets (privileges, roles, options): sorted and comma-joined, omitted when empty.
//! An `oid` attribute names a relation (`schema.name`).

use crate::core::catalog::{CatalogObject, Snapshot};
use crate::core::objects::{normalize_args, ObjKind};
use crate::db::quote_literal;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{GenericClient, Row};
use std::collections::{BTreeMap, HashMap};

/// Settings pinned while the snapshot runs: everything that changes how PostgreSQL deparses
/// names, defaults and constants.
const PINNED: [(&str, &str); 9] = [
    ("search_path", "pg_catalog, public"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("TimeZone", "UTC"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
    ("quote_all_identifiers", "off"),
    // Parallel workers start with cold catalog caches, so deparsing in them costs more than it
    // saves; JIT-compiling these queries can cost 50x their run time.
    ("max_parallel_workers_per_gather", "0"),
    ("jit", "off"),
];

/// Takes a canonical snapshot of every user schema, inside the caller's transaction (if any).
///
/// Accepts a `postgres::Client` or an open `postgres::Transaction` (anything that is a
/// [`GenericClient`]). Issues no `BEGIN`, `COMMIT` or `SAVEPOINT`; leaves the session's
/// settings as it found them (it pins `search_path`, `DateStyle`, `TimeZone` and the like
/// while it reads).
pub fn take<C: GenericClient>(client: &mut C) -> Result<Snapshot, postgres::Error> {
    take_in(client, None)
}

/// Like [`take`], but only of the objects whose oids are in `scope` (relations, functions,
/// types, schemas; a relation brings its columns, constraints, indexes, triggers and
/// policies). Extensions and event triggers are always read whole: there are few. What the
/// incremental measurement compares (see [`crate::db::footprint`]).
pub fn take_scoped<C: GenericClient>(
    client: &mut C,
    scope: &std::collections::BTreeSet<u32>,
) -> Result<Snapshot, postgres::Error> {
    take_in(client, Some(scope.iter().copied().collect()))
}

fn take_in<C: GenericClient>(
    client: &mut C,
    scope: Option<Vec<u32>>,
) -> Result<Snapshot, postgres::Error> {
    // The probe also sets a transaction-local marker: it is still there in the next statement
    // only when we run inside a transaction block. There, settings are pinned with SET LOCAL
    // semantics, so that a caller's own SET LOCAL still ends with its transaction; in
    // autocommit they must be session settings to outlive each statement.
    let mut probe = format!(
        "SELECT pg_catalog.set_config('{IN_BLOCK}', 'on', true), \
         pg_catalog.current_setting('server_version_num')"
    );
    for (k, _) in PINNED {
        probe.push_str(&format!(
            ", pg_catalog.current_setting({})",
            quote_literal(k)
        ));
    }
    let row = client.query_typed_one(probe.as_str(), &[])?;
    let version: i32 = row
        .try_get::<_, String>(1)?
        .trim()
        .parse()
        .unwrap_or(150000);
    let mut saved: Vec<(&str, String)> = Vec::new();
    let mut pin: Vec<(&str, &str)> = Vec::new();
    for (i, (k, v)) in PINNED.iter().enumerate() {
        let current: String = row.try_get(i + 2)?;
        if current != *v {
            pin.push((k, v));
            saved.push((k, current));
        }
    }
    if !pin.is_empty() {
        client.batch_execute(&set_config_sql(pin.into_iter()))?;
    }
    let result = read_all(client, version, scope);
    if !saved.is_empty() {
        let restore =
            client.batch_execute(&set_config_sql(saved.iter().map(|(k, v)| (*k, v.as_str()))));
        let snap = result?;
        restore?;
        return Ok(snap);
    }
    result
}

/// Name of the transaction-local marker by which [`take`] tells a transaction block from
/// autocommit.
const IN_BLOCK: &str = "stepgate.snapshot_in_block";

/// `SELECT set_config(k, v, <local if inside a transaction block>), ...`
fn set_config_sql<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let local = format!("coalesce(pg_catalog.current_setting('{IN_BLOCK}', true), '') = 'on'");
    let calls: Vec<String> = pairs
        .map(|(k, v)| {
            format!(
                "pg_catalog.set_config({}, {}, {local})",
                quote_literal(k),
                quote_literal(v)
            )
        })
        .collect();
    format!("SELECT {}", calls.join(", "))
}

fn read_all<C: GenericClient>(
    client: &mut C,
    version: i32,
    scope: Option<Vec<u32>>,
) -> Result<Snapshot, postgres::Error> {
    let scoped = scope.is_some();
    let mut ctx = Context {
        members: extension_members(client)?,
        scope: scope.unwrap_or_default(),
        ..Context::default()
    };
    let mut snap = Snapshot::default();
    for (kind, sql) in queries(version, scoped) {
        let (sql, names) = bind_params(&sql);
        let params = names.iter().map(|n| (ctx.param(n), Type::OID_ARRAY));
        // Rows are converted as they stream in, overlapping the server's work on later rows.
        // Typed: one round trip per query, with no statement prepared first.
        let mut rows = client.query_typed_raw(sql.as_str(), params)?;
        let mut plan: Option<Vec<Col>> = None;
        while let Some(row) = rows.next()? {
            let plan = plan.get_or_insert_with(|| plan_of(&row));
            if let Some(obj) = object(kind, plan, &row, &mut ctx)? {
                snap.insert(obj);
            }
        }
    }
    Ok(snap)
}

/// What the queries learn from each other: extension members (to leave out), and the
/// relations read so far (the later queries ask only about their members, and name them).
#[derive(Default)]
struct Context {
    /// Oids of extension members, by system catalog name (`pg_class`, `pg_proc`, ...).
    members: HashMap<String, Vec<u32>>,
    /// Relation oid → (schema, `schema.name`).
    rels: HashMap<u32, (String, String)>,
    /// Oids of the tables (`r`, `p`, `f`) read.
    tables: Vec<u32>,
    /// Oids of every relation read.
    all: Vec<u32>,
    /// The oids a scoped snapshot reads (see [`take_scoped`]).
    scope: Vec<u32>,
    none: Vec<u32>,
}

impl Context {
    /// The `oid[]` bound for marker `name` (see [`bind_params`]).
    fn param(&self, name: &str) -> &Vec<u32> {
        match name {
            "rels:tables" => &self.tables,
            "rels:all" => &self.all,
            "scope" => &self.scope,
            n => n
                .strip_prefix("ext:")
                .and_then(|c| self.members.get(c))
                .unwrap_or(&self.none),
        }
    }
}

/// Oids of every object that belongs to an extension, by system catalog name (`pg_class`,
/// `pg_proc`, ...). Usually tiny; read through `pg_depend`'s index on the referenced object.
fn extension_members<C: GenericClient>(
    client: &mut C,
) -> Result<HashMap<String, Vec<u32>>, postgres::Error> {
    let rows = client.query_typed(
        "SELECT d.classid::regclass::text, array_agg(d.objid)
         FROM pg_depend d
         WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
         GROUP BY d.classid",
        &[],
    )?;
    let mut map = HashMap::new();
    for row in rows {
        map.insert(row.try_get::<_, String>(0)?, row.try_get::<_, Vec<u32>>(1)?);
    }
    Ok(map)
}

/// One query per object kind (relations share one), in a fixed order: relations come before
/// their members. The kind given is the default; a `_kind` column overrides it row by row.
fn queries(version: i32, scoped: bool) -> Vec<(ObjKind, String)> {
    let only = |oid: &str| {
        if scoped {
            format!(" AND {oid} = ANY(@scope@::oid[])")
        } else {
            String::new()
        }
    };
    vec![
        (ObjKind::Schema, schemas_sql() + &only("n.oid")),
        (ObjKind::Table, relations_sql() + &only("c.oid")),
        (ObjKind::Column, columns_sql()),
        (ObjKind::Constraint, constraints_sql()),
        (ObjKind::Index, indexes_sql()),
        (ObjKind::Function, functions_sql(version) + &only("p.oid")),
        (ObjKind::Trigger, triggers_sql()),
        (ObjKind::Type, types_sql() + &only("t.oid")),
        (ObjKind::Policy, policies_sql()),
        (ObjKind::Extension, extensions_sql()),
        (ObjKind::EventTrigger, event_triggers_sql()),
    ]
}

/// How one result column becomes part of an object.
enum Col {
    /// `name`: the object's name, or its last part when `_rel`/`_in_schema_of` is present.
    Name(usize),
    /// `args`: a function's argument types, appended to the name.
    Args(usize),
    /// `_kind`: the object kind spelled as in `ObjKind::as_str`.
    Kind(usize),
    /// `_oid` and `_schema` of a relation, remembered for naming its members.
    Oid(usize),
    Schema(usize),
    /// `_rel`: the owning relation's oid; the name is `schema.relation.name`.
    Rel(usize),
    /// `_in_schema_of`: a relation's oid; the name is `schema.name` in that relation's schema.
    InSchemaOf(usize),
    Attr {
        idx: usize,
        key: String,
        conv: Conv,
        /// Index of the `key__args` column completing this attribute, if any.
        args: Option<usize>,
    },
    Skip,
}

/// How a column's value becomes attribute text.
enum Conv {
    Bool,
    Char,
    Int2,
    Int4,
    Int8,
    /// `oid`: a relation, named `schema.name`.
    Rel,
    /// `text[]`/`name[]`: an unordered set, sorted and comma-joined; empty means absent.
    Set,
    Text,
}

fn plan_of(row: &Row) -> Vec<Col> {
    let cols = row.columns();
    let find = |n: &str| cols.iter().position(|c| c.name() == n);
    cols.iter()
        .enumerate()
        .map(|(idx, c)| match c.name() {
            "name" => Col::Name(idx),
            "args" => Col::Args(idx),
            "_kind" => Col::Kind(idx),
            "_oid" => Col::Oid(idx),
            "_schema" => Col::Schema(idx),
            "_rel" => Col::Rel(idx),
            "_in_schema_of" => Col::InSchemaOf(idx),
            n if n.ends_with("__args") => Col::Skip,
            n => Col::Attr {
                idx,
                key: n.to_string(),
                conv: match *c.type_() {
                    Type::BOOL => Conv::Bool,
                    Type::CHAR => Conv::Char,
                    Type::INT2 => Conv::Int2,
                    Type::INT4 => Conv::Int4,
                    Type::INT8 => Conv::Int8,
                    Type::OID => Conv::Rel,
                    Type::TEXT_ARRAY | Type::NAME_ARRAY => Conv::Set,
                    _ => Conv::Text,
                },
                args: find(&format!("{n}__args")),
            },
        })
        .collect()
}

/// One row as an object; `None` for a member of a relation that is not in the snapshot.
fn object(
    mut kind: ObjKind,
    plan: &[Col],
    row: &Row,
    ctx: &mut Context,
) -> Result<Option<CatalogObject>, postgres::Error> {
    let mut name = String::new();
    let mut args: Option<String> = None;
    let (mut oid, mut schema): (Option<u32>, Option<String>) = (None, None);
    let mut prefix: Option<String> = None;
    let mut attrs = BTreeMap::new();
    for col in plan {
        match col {
            Col::Name(i) => name = row.try_get::<_, Option<String>>(*i)?.unwrap_or_default(),
            Col::Args(i) => args = row.try_get::<_, Option<String>>(*i)?,
            Col::Kind(i) => {
                let k: Option<String> = row.try_get(*i)?;
                if let Some(k) = ObjKind::ALL
                    .iter()
                    .find(|x| Some(x.as_str()) == k.as_deref())
                {
                    kind = *k;
                }
            }
            Col::Oid(i) => oid = row.try_get(*i)?,
            Col::Schema(i) => schema = row.try_get(*i)?,
            Col::Rel(i) | Col::InSchemaOf(i) => {
                let rel: u32 = row.try_get(*i)?;
                let Some((s, qualified)) = ctx.rels.get(&rel) else {
                    return Ok(None);
                };
                prefix = Some(if matches!(col, Col::Rel(_)) {
                    qualified.clone()
                } else {
                    s.clone()
                });
            }
            Col::Skip => {}
            Col::Attr {
                idx,
                key,
                conv,
                args,
            } => {
                if let Some(mut v) = value(row, *idx, conv, ctx)? {
                    if let Some(a) = args {
                        let a: Option<String> = row.try_get(*a)?;
                        v = format!("{v}({})", normalize_args(a.as_deref().unwrap_or("")));
                    }
                    attrs.insert(key.clone(), v);
                }
            }
        }
    }
    if let Some(p) = prefix {
        name = format!("{p}.{name}");
    }
    if let Some(a) = args {
        name = format!("{name}({})", normalize_args(&a));
    }
    if let (Some(oid), Some(schema)) = (oid, schema) {
        if kind == ObjKind::Table {
            ctx.tables.push(oid);
        }
        ctx.all.push(oid);
        ctx.rels.insert(oid, (schema, name.clone()));
    }
    Ok(Some(CatalogObject { kind, name, attrs }))
}

/// One column's value as attribute text; `None` leaves the attribute out.
fn value(
    row: &Row,
    i: usize,
    conv: &Conv,
    ctx: &Context,
) -> Result<Option<String>, postgres::Error> {
    Ok(match conv {
        Conv::Bool => row.try_get::<_, Option<bool>>(i)?.map(|b| b.to_string()),
        Conv::Char => row
            .try_get::<_, Option<i8>>(i)?
            .map(|c| char::from(c as u8).to_string()),
        Conv::Int2 => row.try_get::<_, Option<i16>>(i)?.map(|n| n.to_string()),
        Conv::Int4 => row.try_get::<_, Option<i32>>(i)?.map(|n| n.to_string()),
        Conv::Int8 => row.try_get::<_, Option<i64>>(i)?.map(|n| n.to_string()),
        Conv::Rel => row
            .try_get::<_, Option<u32>>(i)?
            .and_then(|oid| ctx.rels.get(&oid))
            .map(|(_, qualified)| qualified.clone()),
        Conv::Set => row
            .try_get::<_, Option<Vec<Option<String>>>>(i)?
            .map(|items| {
                let mut items: Vec<String> = items.into_iter().flatten().collect();
                items.sort();
                items.join(",")
            })
            .filter(|s| !s.is_empty()),
        Conv::Text => row.try_get::<_, Option<String>>(i)?,
    })
}

// ---------------------------------------------------------------------------------------
// The queries. `n` is always the namespace the object's name starts with.
// ---------------------------------------------------------------------------------------

/// User schemas only.
fn ns_filter(n: &str) -> String {
    format!(
        "{n}.nspname NOT IN ('stepgate', 'pg_catalog', 'information_schema') \
         AND {n}.nspname NOT LIKE 'pg\\_toast%' AND {n}.nspname NOT LIKE 'pg\\_temp%'"
    )
}

/// The object `oid` of system catalog `catalog` is not a member of an extension. The member
/// oids are bound as an `oid[]` parameter (see [`bind_params`]): one hashed lookup per row
/// instead of an index probe into `pg_depend`.
fn not_ext(catalog: &str, oid: &str) -> String {
    format!("NOT ({oid} = ANY(@ext:{catalog}@::oid[]))")
}

/// Joins the relations already read (`set` is `tables` or `all`) on `oid`: the members of
/// included relations only, without joining `pg_class` and `pg_namespace` again.
fn in_rels(set: &str, oid: &str) -> String {
    format!("JOIN unnest(@rels:{set}@::oid[]) AS rel(oid) ON rel.oid = {oid}")
}

/// Replaces the `@name@` markers of [`not_ext`] and [`in_rels`] by `$1`, `$2`, ... in order
/// of first appearance; returns the SQL and the marker names, whose `oid[]` values are the
/// parameters.
fn bind_params(sql: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let mut rest = sql;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('@') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let name = &after[..end];
        let n = match names.iter().position(|c| c == name) {
            Some(i) => i + 1,
            None => {
                names.push(name.to_string());
                names.len()
            }
        };
        out.push_str(&format!("${n}"));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    (out, names)
}

/// The object `oid` of system catalog `catalog` is not an internal part of another object
/// (a range type's constructor functions are part of the type).
fn not_internal(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = '{catalog}'::regclass \
         AND i.objid = {oid} AND i.deptype = 'i')"
    )
}

/// `LEFT JOIN` of the comment on (`catalog`, `oid`, `sub`) as alias `alias`.
fn comment_join(alias: &str, catalog: &str, oid: &str, sub: &str) -> String {
    format!(
        "LEFT JOIN pg_catalog.pg_description {alias} ON {alias}.objoid = {oid} \
         AND {alias}.classoid = '{catalog}'::regclass AND {alias}.objsubid = {sub}"
    )
}

fn schemas_sql() -> String {
    format!(
        "SELECT n.nspname AS name,
                pg_get_userbyid(n.nspowner) AS owner,
                coalesce(n.nspacl, acldefault('n', n.nspowner))::text[] AS acl,
                d.description AS comment
         FROM pg_namespace n
         {comment}
         WHERE {ns} AND {ext}",
        comment = comment_join("d", "pg_namespace", "n.oid", "0"),
        ns = ns_filter("n"),
        ext = not_ext("pg_namespace", "n.oid"),
    )
}

/// Tables (`r`, `p`, foreign `f`), views, materialized views and sequences: one scan of
/// `pg_class`; column `_kind` says which.
fn relations_sql() -> String {
    format!(
        "SELECT n.nspname || '.' || c.relname AS name,
                c.oid AS _oid,
                n.nspname AS _schema,
                CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                               WHEN 'S' THEN 'sequence' ELSE 'table' END AS _kind,
                pg_get_userbyid(c.relowner) AS owner,
                coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\",
                                              c.relowner))::text[] AS acl,
                CASE WHEN c.relkind IN ('r', 'p', 'f') THEN c.relkind::text END AS relkind,
                CASE WHEN c.relkind IN ('r', 'p', 'f', 'S') THEN c.relpersistence::text END AS persistence,
                CASE WHEN c.relkind IN ('r', 'p', 'f') THEN c.relrowsecurity END AS rls,
                CASE WHEN c.relkind IN ('r', 'p', 'f') THEN c.relforcerowsecurity END AS rls_forced,
                CASE WHEN c.relkind IN ('r', 'p', 'f') THEN c.relreplident::text END AS replica_identity,
                c.reloptions::text[] AS reloptions,
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
                CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
                CASE WHEN c.relkind IN ('r', 'p', 'f') THEN inh.parents END AS inherits,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
                CASE WHEN c.relkind = 'm' THEN c.relispopulated END AS populated,
                format_type(s.seqtypid, NULL) AS data_type,
                s.seqstart::text AS start,
                s.seqincrement::text AS increment,
                s.seqmin::text AS min,
                s.seqmax::text AS max,
                s.seqcache::text AS cache,
                s.seqcycle AS cycle,
                own.owned_by,
                own.identity,
                ts.spcname AS tablespace,
                d.description AS comment
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
         LEFT JOIN (SELECT i.inhrelid,
                           string_agg(pn.nspname || '.' || pc.relname, ',' ORDER BY i.inhseqno) AS parents
                      FROM pg_inherits i
                      JOIN pg_class pc ON pc.oid = i.inhparent
                      JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                     GROUP BY i.inhrelid) inh ON inh.inhrelid = c.oid
         LEFT JOIN LATERAL (
             SELECT rn.nspname || '.' || rc.relname || '.' || ra.attname AS owned_by,
                    CASE WHEN dep.deptype = 'i' THEN true END AS identity
               FROM pg_depend dep
               JOIN pg_class rc ON rc.oid = dep.refobjid
               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
               JOIN pg_attribute ra ON ra.attrelid = dep.refobjid AND ra.attnum = dep.refobjsubid
              WHERE c.relkind = 'S'
                AND dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
                AND dep.refclassid = 'pg_class'::regclass AND dep.refobjsubid > 0
                AND dep.deptype IN ('a', 'i')
              ORDER BY dep.deptype DESC
              LIMIT 1) own ON true
         LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
         {comment}
         WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {ns} AND {ext}",
        comment = comment_join("d", "pg_class", "c.oid", "0"),
        ns = ns_filter("n"),
        ext = not_ext("pg_class", "c.oid"),
    )
}

fn columns_sql() -> String {
    format!(
        "SELECT a.attrelid AS _rel,
                a.attname AS name,
                format_type(a.atttypid, a.atttypmod) AS type,
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS default,
                CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) || ' ' ||
                     CASE a.attgenerated WHEN 's' THEN 'stored' ELSE a.attgenerated::text END END AS generated,
                a.attnotnull AS not_null,
                nullif(a.attidentity::text, '') AS identity,
                CASE WHEN a.attcollation <> t.typcollation
                     THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
                CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text END AS statistics,
                CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
                a.attacl::text[] AS acl,
                d.description AS comment
         FROM pg_attribute a
         {rels}
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
         LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
         LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
         {comment}
         WHERE a.attnum > 0 AND NOT a.attisdropped",
        rels = in_rels("tables", "a.attrelid"),
        comment = comment_join("d", "pg_class", "a.attrelid", "a.attnum"),
    )
}

fn constraints_sql() -> String {
    format!(
        "SELECT con.conrelid AS _rel,
                con.conname AS name,
                con.contype::text AS type,
                pg_get_constraintdef(con.oid) AS definition,
                con.convalidated AS validated,
                con.condeferrable AS deferrable,
                con.condeferred AS deferred,
                d.description AS comment
         FROM pg_constraint con
         {rels}
         {comment}",
        rels = in_rels("all", "con.conrelid"),
        comment = comment_join("d", "pg_constraint", "con.oid", "0"),
    )
}

/// An index lives in its table's schema.
fn indexes_sql() -> String {
    format!(
        "SELECT x.indrelid AS _in_schema_of,
                i.relname AS name,
                x.indrelid AS table,
                pg_get_indexdef(x.indexrelid) AS definition,
                x.indisvalid AS valid,
                x.indisready AS ready,
                x.indisunique AS unique,
                x.indisprimary AS primary,
                x.indisclustered AS clustered,
                con.conname AS constraint,
                ts.spcname AS tablespace,
                d.description AS comment
         FROM pg_index x
         {rels}
         JOIN pg_class i ON i.oid = x.indexrelid
         LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid
               AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u', 'x')
         LEFT JOIN pg_tablespace ts ON ts.oid = i.reltablespace
         {comment}",
        rels = in_rels("all", "x.indrelid"),
        comment = comment_join("d", "pg_class", "x.indexrelid", "0"),
    )
}

fn functions_sql(version: i32) -> String {
    // SQL-standard bodies (BEGIN ATOMIC, PostgreSQL 14+) live in prosqlbody, not prosrc.
    let body = if version >= 140000 {
        "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END"
    } else {
        "p.prosrc"
    };
    format!(
        "SELECT n.nspname || '.' || p.proname AS name,
                oidvectortypes(p.proargtypes) AS args,
                p.prokind::text AS kind,
                l.lanname AS language,
                pg_get_function_arguments(p.oid) AS arguments,
                pg_get_function_result(p.oid) AS returns,
                md5({body}) AS body_md5,
                p.probin AS binary,
                p.provolatile::text AS volatility,
                p.prosecdef AS security_definer,
                p.proisstrict AS strict,
                p.proleakproof AS leakproof,
                p.proparallel::text AS parallel,
                p.procost::text AS cost,
                CASE WHEN p.proretset THEN p.prorows::text END AS rows,
                p.proconfig AS config,
                CASE WHEN p.prokind = 'a' THEN (
                    SELECT concat_ws(' ', 'sfunc=' || ag.aggtransfn::regproc::text,
                                      'stype=' || format_type(ag.aggtranstype, NULL),
                                      'finalfunc=' || nullif(ag.aggfinalfn, 0)::regproc::text,
                                      'combinefunc=' || nullif(ag.aggcombinefn, 0)::regproc::text,
                                      'initcond=' || quote_literal(ag.agginitval),
                                      'kind=' || ag.aggkind::text)
                      FROM pg_aggregate ag WHERE ag.aggfnoid = p.oid) END AS aggregate,
                pg_get_userbyid(p.proowner) AS owner,
                coalesce(p.proacl, acldefault('f', p.proowner))::text[] AS acl,
                d.description AS comment
         FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_language l ON l.oid = p.prolang
         {comment}
         WHERE {ns} AND {ext} AND {internal}",
        comment = comment_join("d", "pg_proc", "p.oid", "0"),
        ns = ns_filter("n"),
        ext = not_ext("pg_proc", "p.oid"),
        internal = not_internal("pg_proc", "p.oid"),
    )
}

fn triggers_sql() -> String {
    format!(
        "SELECT t.tgrelid AS _rel,
                t.tgname AS name,
                pg_get_triggerdef(t.oid) AS definition,
                t.tgenabled::text AS enabled,
                fn.nspname || '.' || p.proname AS function,
                oidvectortypes(p.proargtypes) AS function__args,
                d.description AS comment
         FROM pg_trigger t
         {rels}
         JOIN pg_proc p ON p.oid = t.tgfoid
         JOIN pg_namespace fn ON fn.oid = p.pronamespace
         {comment}
         WHERE NOT t.tgisinternal",
        rels = in_rels("all", "t.tgrelid"),
        comment = comment_join("d", "pg_trigger", "t.oid", "0"),
    )
}

fn types_sql() -> String {
    format!(
        "SELECT n.nspname || '.' || t.typname AS name,
                CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                               WHEN 'r' THEN 'range' ELSE 'base' END AS kind,
                pg_get_userbyid(t.typowner) AS owner,
                coalesce(t.typacl, acldefault('T', t.typowner))::text[] AS acl,
                CASE WHEN t.typtype = 'e' THEN
                    (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder)::text
                       FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
                CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
                CASE WHEN t.typtype = 'd' THEN t.typnotnull END AS not_null,
                CASE WHEN t.typtype = 'd' THEN pg_get_expr(t.typdefaultbin, 0) END AS default,
                CASE WHEN t.typtype = 'd' THEN
                    ARRAY(SELECT quote_ident(dc.conname) || ' ' || pg_get_constraintdef(dc.oid)
                            FROM pg_constraint dc WHERE dc.contypid = t.oid) END AS constraints,
                CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation
                     THEN t.typcollation::regcollation::text END AS collation,
                CASE WHEN t.typtype = 'c' THEN
                    (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                       || CASE WHEN a.attcollation <> at.typcollation
                                               THEN ' COLLATE ' || a.attcollation::regcollation::text
                                               ELSE '' END,
                                       ', ' ORDER BY a.attnum)
                       FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
                CASE WHEN t.typtype = 'r' THEN
                    (SELECT concat_ws(' ', 'subtype=' || format_type(r.rngsubtype, NULL),
                                      'collation=' || nullif(r.rngcollation, 0)::regcollation::text,
                                      'opclass=' || quote_ident(oc.opcname),
                                      'canonical=' || nullif(r.rngcanonical, 0)::regproc::text,
                                      'subdiff=' || nullif(r.rngsubdiff, 0)::regproc::text)
                       FROM pg_range r JOIN pg_opclass oc ON oc.oid = r.rngsubopc
                      WHERE r.rngtypid = t.oid) END AS range,
                CASE WHEN t.typtype = 'b' THEN
                    concat_ws(' ', 'input=' || t.typinput::text, 'output=' || t.typoutput::text,
                              'length=' || t.typlen::text) END AS base,
                d.description AS comment
         FROM pg_type t
         JOIN pg_namespace n ON n.oid = t.typnamespace
         LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
         {comment}
         WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
           AND NOT (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1)
           AND (t.typrelid = 0 OR (SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = 'c')
           AND {ns} AND {ext}
           AND (t.typrelid = 0 OR {ext_rel})",
        comment = comment_join("d", "pg_type", "t.oid", "0"),
        ns = ns_filter("n"),
        ext = not_ext("pg_type", "t.oid"),
        ext_rel = not_ext("pg_class", "t.typrelid"),
    )
}

fn policies_sql() -> String {
    format!(
        "SELECT pol.polrelid AS _rel,
                pol.polname AS name,
                pol.polcmd::text AS cmd,
                pol.polpermissive AS permissive,
                ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END
                        FROM unnest(pol.polroles) r) AS roles,
                pg_get_expr(pol.polqual, pol.polrelid) AS using,
                pg_get_expr(pol.polwithcheck, pol.polrelid) AS with_check,
                d.description AS comment
         FROM pg_policy pol
         {rels}
         {comment}",
        rels = in_rels("all", "pol.polrelid"),
        comment = comment_join("d", "pg_policy", "pol.oid", "0"),
    )
}

/// Extensions installed into schema `stepgate` are stepgate's own.
fn extensions_sql() -> String {
    "SELECT e.extname AS name,
            e.extversion AS version,
            n.nspname AS schema
     FROM pg_extension e
     JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE n.nspname <> 'stepgate'"
        .to_string()
}

/// Event triggers have no schema; those whose function lives in schema `stepgate` are stepgate's own.
fn event_triggers_sql() -> String {
    format!(
        "SELECT et.evtname AS name,
                et.evtevent AS event,
                fn.nspname || '.' || p.proname AS function,
                oidvectortypes(p.proargtypes) AS function__args,
                et.evtenabled::text AS enabled,
                et.evttags AS tags,
                pg_get_userbyid(et.evtowner) AS owner,
                d.description AS comment
         FROM pg_event_trigger et
         JOIN pg_proc p ON p.oid = et.evtfoid
         JOIN pg_namespace fn ON fn.oid = p.pronamespace
         {comment}
         WHERE fn.nspname <> 'stepgate' AND {ext}",
        comment = comment_join("d", "pg_event_trigger", "et.oid", "0"),
        ext = not_ext("pg_event_trigger", "et.oid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_numbered_parameters() {
        let sql = format!(
            "{} WHERE {} AND {} AND {}",
            in_rels("all", "x.indrelid"),
            not_ext("pg_class", "c.oid"),
            not_ext("pg_type", "t.oid"),
            not_ext("pg_class", "t.typrelid")
        );
        let (out, names) = bind_params(&sql);
        assert_eq!(
            out,
            "JOIN unnest($1::oid[]) AS rel(oid) ON rel.oid = x.indrelid \
             WHERE NOT (c.oid = ANY($2::oid[])) AND NOT (t.oid = ANY($3::oid[])) \
             AND NOT (t.typrelid = ANY($2::oid[]))"
        );
        assert_eq!(names, vec!["rels:all", "ext:pg_class", "ext:pg_type"]);
        assert_eq!(bind_params("SELECT 1"), ("SELECT 1".to_string(), vec![]));
    }

    #[test]
    fn every_query_binds_what_it_uses() {
        let ctx = Context::default();
        for (kind, sql) in queries(150000, false) {
            let (out, names) = bind_params(&sql);
            assert!(!out.contains('@'), "{kind}: unbound marker");
            for (i, name) in names.iter().enumerate() {
                assert!(
                    out.contains(&format!("${}", i + 1)),
                    "{kind}: ${} unused",
                    i + 1
                );
                assert!(
                    name == "rels:tables" || name == "rels:all" || name.starts_with("ext:pg_"),
                    "{kind}: unknown parameter {name}"
                );
                assert!(ctx.param(name).is_empty());
            }
            assert!(!out.contains(&format!("${}", names.len() + 1)));
        }
    }

    #[test]
    fn settings_are_quoted_and_local_only_in_a_block() {
        let sql = set_config_sql(
            [("search_path", "\"$user\", public"), ("TimeZone", "it's")].into_iter(),
        );
        assert!(sql.starts_with(
            "SELECT pg_catalog.set_config('search_path', '\"$user\", public', coalesce("
        ));
        assert!(sql.contains("'it''s'"));
        assert!(sql.contains(&format!("current_setting('{IN_BLOCK}', true)")));
    }
}
