//! `apply --wait-for-locks`: before trying, show which sessions hold locks on the
//! tables the step touches (pid, application, query age), from `pg_locks` and
//! `pg_stat_activity` — the long transaction an `ALTER TABLE` would queue behind.

use crate::core::sql;
use crate::engine::session::{Lock, Options, Session};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize)]
pub struct Holder {
    pub pid: i32,
    pub application: String,
    pub relation: String,
    pub mode: String,
    pub xact_age: String,
    pub state: String,
    pub query: String,
}

/// Tables a step touches, statically.
pub fn step_tables(s: &Session, step_id: &str) -> Result<BTreeSet<String>> {
    let pack = s.pack();
    let idx = pack
        .step_index(step_id)
        .ok_or_else(|| Error::BadInput(format!("no step `{step_id}`")))?;
    let step = &pack.manifest.step[idx];
    let mut out: BTreeSet<String> = pack.effects[idx].rows.keys().cloned().collect();
    if let Some(f) = &step.file {
        let text = s.loaded.text(f.get_ref())?;
        let file = sql::parse_file(f.get_ref(), text)?;
        for st in &file.statements {
            for t in &st.touches {
                if let Some(table) = t.object.table() {
                    out.insert(table);
                } else if t.object.kind == crate::core::objects::ObjKind::Table {
                    out.insert(t.object.name.clone());
                }
            }
            for r in &st.references {
                if r.kind == crate::core::objects::ObjKind::Table {
                    out.insert(r.name.clone());
                }
            }
        }
    }
    Ok(out)
}

pub fn conflicting_holders(opts: &Options, step_id: &str) -> Result<Vec<Holder>> {
    let mut s = Session::open(opts, "locks", Lock::None)?;
    let tables: Vec<String> = step_tables(&s, step_id)?.into_iter().collect();
    holders_on(&mut s.ledger, &tables)
}

pub fn holders_on(c: &mut postgres::Client, tables: &[String]) -> Result<Vec<Holder>> {
    let rows = c.query(
        "SELECT a.pid, coalesce(a.application_name, ''), n.nspname || '.' || cl.relname, l.mode, \
                coalesce(date_trunc('second', clock_timestamp() - a.xact_start)::text, '-'), coalesce(a.state, ''), left(coalesce(a.query, ''), 120) \
           FROM pg_locks l \
           JOIN pg_class cl ON cl.oid = l.relation \
           JOIN pg_namespace n ON n.oid = cl.relnamespace \
           JOIN pg_stat_activity a ON a.pid = l.pid \
          WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation' \
            AND (n.nspname || '.' || cl.relname) = ANY($1) \
          ORDER BY a.xact_start NULLS LAST",
        &[&tables],
    )?;
    Ok(rows
        .iter()
        .map(|r| Holder {
            pid: r.get(0),
            application: r.get(1),
            relation: r.get(2),
            mode: r.get(3),
            xact_age: r.get(4),
            state: r.get(5),
            query: r.get(6),
        })
        .collect())
}
