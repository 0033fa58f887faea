//! The side view of a running step: a second, short-lived connection (application
//! `stepgate-monitor`) that asks `pg_stat_activity`, `pg_locks` and `pg_blocking_pids()`
//! whether the step's backend waits on a lock, and who holds it.
//!
//! It reaches the database exactly as the step's own connections do ([`Target`], the
//! same resolution, TLS and password), pins the same `search_path`, and only reads
//! statistics views in read-only transactions with short timeouts: it can neither
//! change anything nor queue behind the locks it reports.

use crate::db::connect::Target;
use crate::engine::progress::{first_line, secs};
use postgres::Client;
use serde::Serialize;
use std::time::Duration;

/// How the monitor names itself in `pg_stat_activity`.
pub const APPLICATION: &str = "stepgate-monitor";

/// A session that holds what the step waits for.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Blocker {
    pub pid: i32,
    pub application: String,
    /// Its current (or, idle in a transaction, its last) statement.
    pub query: String,
    /// How long its transaction has been open: how long it has held the lock, at most.
    pub held_ms: i64,
}

impl Blocker {
    /// "pid 6130 (psql: `LOCK TABLE …`) for 3.2 s"
    pub fn describe(&self) -> String {
        format!("{} for {}", self.who(), self.held())
    }

    /// How long its transaction has been open: "3.2 s".
    pub fn held(&self) -> String {
        secs(Duration::from_millis(self.held_ms.max(0) as u64))
    }

    /// "pid 6130 (psql: `LOCK TABLE …`)"
    pub fn who(&self) -> String {
        let app = if self.application.is_empty() {
            "no application_name"
        } else {
            &self.application
        };
        let query = first_line(&self.query, 50);
        let query = if query.is_empty() {
            String::new()
        } else {
            format!(": `{query}`")
        };
        format!("pid {} ({app}{query})", self.pid)
    }
}

/// The step's backend is waiting on a lock.
#[derive(Debug, Clone, Serialize)]
pub struct LockWait {
    /// `schema.table` for a relation lock.
    pub relation: Option<String>,
    /// `relation`, `transactionid` (a row another transaction changed), …
    pub locktype: String,
    pub mode: String,
    pub blockers: Vec<Blocker>,
}

impl LockWait {
    /// "waiting for lock on public.t (RowExclusiveLock) — blocked by pid 6130 (psql: `…`) for 3.2 s"
    pub fn describe(&self) -> String {
        let on = match &self.relation {
            Some(r) => format!("on {r} ({})", self.mode),
            None => format!("({} {})", self.locktype, self.mode),
        };
        let by = if self.blockers.is_empty() {
            "blocker not visible".to_string()
        } else {
            let list: Vec<String> = self.blockers.iter().map(Blocker::describe).collect();
            format!("blocked by {}", list.join("; "))
        };
        format!("waiting for lock {on} — {by}")
    }

    /// The blockers' pids: a change of blocker is news, the same blocker is not.
    pub fn blocker_key(&self) -> String {
        let pids: Vec<String> = self.blockers.iter().map(|b| b.pid.to_string()).collect();
        pids.join(",")
    }
}

/// A monitoring connection watching one backend.
pub struct Monitor {
    client: Client,
    pid: i32,
}

impl Monitor {
    /// Connects like every other stepgate connection, then makes the session read-only
    /// with timeouts short enough that a busy catalog cannot hold the monitor.
    pub fn open(target: &Target, pid: i32) -> Result<Monitor, String> {
        let mut client = target.connect(APPLICATION).map_err(|e| e.to_string())?;
        client
            .batch_execute(&format!(
                "SET default_transaction_read_only = on; SET statement_timeout = '2s'; \
                 SET lock_timeout = '500ms'; {}",
                crate::engine::session::pinned_search_path()
            ))
            .map_err(|e| e.to_string())?;
        Ok(Monitor { client, pid })
    }

    pub fn watching(&self) -> i32 {
        self.pid
    }

    /// The lock the backend waits for and who blocks it, or None when it is not waiting.
    pub fn lock_wait(&mut self) -> Result<Option<LockWait>, postgres::Error> {
        let rows = self.client.query(
            "SELECT l.locktype, l.mode, \
                    (SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c \
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                      WHERE c.oid = l.relation), \
                    pg_catalog.pg_blocking_pids(l.pid) \
               FROM pg_catalog.pg_locks l \
              WHERE l.pid = $1 AND NOT l.granted \
              LIMIT 1",
            &[&self.pid],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let pids: Vec<i32> = row.get(3);
        Ok(Some(LockWait {
            locktype: row.get(0),
            mode: row.get(1),
            relation: row.get(2),
            blockers: blockers(&mut self.client, &pids)?,
        }))
    }
}

/// Who the sessions `pids` are, from `pg_stat_activity` (their query reads
/// `<insufficient privilege>` unless the role may see other roles' sessions).
pub fn blockers(c: &mut Client, pids: &[i32]) -> Result<Vec<Blocker>, postgres::Error> {
    if pids.is_empty() {
        return Ok(vec![]);
    }
    let rows = c.query(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(left(a.query, 200), ''), \
                coalesce((extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::bigint, 0) \
           FROM pg_catalog.pg_stat_activity a \
          WHERE a.pid = ANY($1) \
          ORDER BY a.xact_start NULLS LAST",
        &[&pids],
    )?;
    Ok(rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            application: r.get(1),
            query: r.get(2),
            held_ms: r.get(3),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_names_relation_mode_and_blocker() {
        let w = LockWait {
            relation: Some("public.t".into()),
            locktype: "relation".into(),
            mode: "RowExclusiveLock".into(),
            blockers: vec![Blocker {
                pid: 6130,
                application: "psql".into(),
                query: "LOCK TABLE public.t IN SHARE MODE".into(),
                held_ms: 3200,
            }],
        };
        assert_eq!(
            w.describe(),
            "waiting for lock on public.t (RowExclusiveLock) — blocked by pid 6130 (psql: `LOCK TABLE public.t IN SHARE MODE`) for 3.2 s"
        );
        assert_eq!(w.blocker_key(), "6130");
    }
}
