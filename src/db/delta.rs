//! The in-transaction row delta and non-transactional residue.
//!
//! `pg_stat_xact_user_tables`, read inside the step's own transaction, gives exact
//! per-table insert/update/delete counts for that transaction — trigger cascades
//! included — without scanning any table. It also counts rows written in
//! subtransactions that were rolled back, so the engine reads it *before* the
//! negative tests run (they each run in a savepoint and are rolled back).

use crate::core::manifest::RowCounts;
use postgres::GenericClient;
use std::collections::BTreeMap;

/// Per-table counts written so far in the current transaction (schema `stepgate` excluded).
pub fn row_delta(
    client: &mut impl GenericClient,
) -> Result<BTreeMap<String, RowCounts>, postgres::Error> {
    let rows = client.query(
        // Only tables this transaction holds a write-class lock on (every table a statement
        // or a trigger wrote is among them), and the three counters alone: asking every table
        // of a large catalog for its counters costs more than the step.
        "SELECT n.nspname::text || '.' || c.relname::text, x.ins, x.upd, x.del
           FROM (SELECT DISTINCT l.relation FROM pg_catalog.pg_locks l
                  WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation'
                    AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')) w
           JOIN pg_catalog.pg_class c ON c.oid = w.relation
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          CROSS JOIN LATERAL (SELECT pg_catalog.pg_stat_get_xact_tuples_inserted(c.oid) AS ins,
                                     pg_catalog.pg_stat_get_xact_tuples_updated(c.oid) AS upd,
                                     pg_catalog.pg_stat_get_xact_tuples_deleted(c.oid) AS del) x
          WHERE c.relkind IN ('r', 'm', 'p')
            AND n.nspname NOT IN ('stepgate', 'pg_catalog', 'information_schema')
            AND n.nspname !~ '^pg_toast'
            AND (x.ins + x.upd + x.del) > 0",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                RowCounts {
                    insert: r.get(1),
                    update: r.get(2),
                    delete: r.get(3),
                },
            )
        })
        .collect())
}

/// `last_value` of every user sequence (NULL = never called).
pub fn sequence_values(
    client: &mut impl GenericClient,
) -> Result<BTreeMap<String, Option<i64>>, postgres::Error> {
    let rows = client.query(
        "SELECT schemaname::text || '.' || sequencename::text, last_value FROM pg_sequences \
          WHERE schemaname NOT IN ('stepgate', 'pg_catalog', 'information_schema')",
        &[],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Sequences that moved between two readings: (name, before, after).
pub fn residue(
    before: &BTreeMap<String, Option<i64>>,
    after: &BTreeMap<String, Option<i64>>,
) -> Vec<(String, Option<i64>, Option<i64>)> {
    after
        .iter()
        .filter_map(|(k, a)| match before.get(k) {
            Some(b) if b != a => Some((k.clone(), *b, *a)),
            _ => None,
        })
        .collect()
}

/// Exact `count(*)` of each listed table that exists (a scan per table: used for the few
/// tables a step writes, to prove a rollback returned them to their pre-step counts).
pub fn row_counts(
    client: &mut impl GenericClient,
    tables: &[String],
) -> Result<BTreeMap<String, i64>, postgres::Error> {
    let mut out = BTreeMap::new();
    for t in tables {
        let exists: bool = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&crate::db::quote_qualified(t)],
            )?
            .get(0);
        if exists {
            let n: i64 = client
                .query_one(
                    format!("SELECT count(*) FROM {}", crate::db::quote_qualified(t)).as_str(),
                    &[],
                )?
                .get(0);
            out.insert(t.clone(), n);
        }
    }
    Ok(out)
}
