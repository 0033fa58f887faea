//! Which sessions hold locks that the step's statements would queue behind, from
//! `pg_locks` and `pg_stat_activity` (pid, application, query, how long), and
//! `apply --wait-for-locks[=DURATION]`: wait, polling, until none is left.
//!
//! What the step takes is static ([`crate::core::lint::locks::statement_locks`], the
//! strongest mode per table); a table it only reads or references is counted as ACCESS
//! SHARE. A holder counts only when its mode conflicts with ours, by PostgreSQL's table
//! (<https://www.postgresql.org/docs/current/explicit-locking.html>): a long reader
//! blocks an `ALTER TABLE`, not an `INSERT`.

use crate::core::lint::locks::{statement_locks, LockMode};
use crate::core::manifest::Pack;
use crate::core::objects::ObjKind;
use crate::core::sql::{self, SqlFile};
use crate::engine::session::{Lock, Options, Session};
use crate::engine::{progress, Error, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct Holder {
    pub pid: i32,
    pub application: String,
    pub relation: String,
    pub mode: String,
    pub xact_age: String,
    pub state: String,
    pub query: String,
    /// How long its transaction has been open, in milliseconds.
    pub held_ms: i64,
}

impl Holder {
    /// "public.t held by pid 6130 (psql: `LOCK …`) in ShareLock for 2.0 s"
    pub fn describe(&self) -> String {
        let b = crate::engine::monitor::Blocker {
            pid: self.pid,
            application: self.application.clone(),
            query: self.query.clone(),
            held_ms: self.held_ms,
        };
        format!(
            "{} held by {} in {} for {}",
            self.relation,
            b.who(),
            self.mode,
            b.held()
        )
    }
}

/// The lock mode the step takes on each table it touches (strongest wins).
pub fn step_locks(pack: &Pack, idx: usize, file: &SqlFile) -> BTreeMap<String, LockMode> {
    let mut out: BTreeMap<String, LockMode> = BTreeMap::new();
    let mut at_least = |table: String, mode: LockMode| {
        let e = out.entry(table).or_insert(mode);
        *e = (*e).max(mode);
    };
    for t in pack.effects[idx].rows.keys() {
        at_least(t.clone(), LockMode::RowExclusive);
    }
    for st in &file.statements {
        for t in tables_named(st) {
            at_least(t, LockMode::AccessShare);
        }
        if let Some(node) = &st.node {
            for l in statement_locks(node) {
                at_least(l.table, l.mode);
            }
        }
    }
    out
}

/// Every table a statement names, changed or only referenced.
fn tables_named(st: &sql::Statement) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in &st.touches {
        if let Some(table) = t.object.table() {
            out.insert(table);
        } else if t.object.kind == ObjKind::Table {
            out.insert(t.object.name.clone());
        }
    }
    for r in &st.references {
        if r.kind == ObjKind::Table {
            out.insert(r.name.clone());
        }
    }
    out
}

/// Whether a lock held in `held` (as `pg_locks.mode` names it) conflicts with `want`.
pub fn conflicts(want: LockMode, held: &str) -> bool {
    use LockMode::*;
    let held = match held {
        "AccessShareLock" => AccessShare,
        "RowShareLock" => RowShare,
        "RowExclusiveLock" => RowExclusive,
        "ShareUpdateExclusiveLock" => ShareUpdateExclusive,
        "ShareLock" => Share,
        "ShareRowExclusiveLock" => ShareRowExclusive,
        "ExclusiveLock" => Exclusive,
        _ => AccessExclusive,
    };
    // The conflict table is symmetric: order the pair weakest first.
    let (a, b) = if want <= held {
        (want, held)
    } else {
        (held, want)
    };
    match a {
        AccessShare => b == AccessExclusive,
        RowShare => b >= Exclusive,
        RowExclusive => b >= Share,
        ShareUpdateExclusive => b >= ShareUpdateExclusive,
        Share => b != Share,
        ShareRowExclusive | Exclusive | AccessExclusive => true,
    }
}

/// The sessions holding locks that conflict with what the step takes (opens its own
/// session; for `apply` the engine uses [`blocking_holders`] on the ledger connection).
pub fn conflicting_holders(opts: &Options, step_id: &str) -> Result<Vec<Holder>> {
    let mut s = Session::open(opts, "locks", Lock::None)?;
    let pack = s.pack().clone();
    let idx = pack
        .step_index(step_id)
        .ok_or_else(|| Error::BadInput(format!("no step `{step_id}`")))?;
    let wanted = match &pack.manifest.step[idx].file {
        Some(f) => {
            let text = s.loaded.text(f.get_ref())?;
            step_locks(&pack, idx, &sql::parse_file(f.get_ref(), text)?)
        }
        None => BTreeMap::new(),
    };
    blocking_holders(&mut s.ledger, &wanted)
}

/// Granted locks of other sessions on `wanted`'s tables that conflict with its modes.
pub fn blocking_holders(
    c: &mut postgres::Client,
    wanted: &BTreeMap<String, LockMode>,
) -> Result<Vec<Holder>> {
    let tables: Vec<String> = wanted.keys().cloned().collect();
    Ok(holders_on(c, &tables)?
        .into_iter()
        .filter(|h| {
            wanted
                .get(&h.relation)
                .is_some_and(|m| conflicts(*m, &h.mode))
        })
        .collect())
}

/// Every granted relation lock of another session on `tables` (`schema.name`).
pub fn holders_on(c: &mut postgres::Client, tables: &[String]) -> Result<Vec<Holder>> {
    let rows = c.query(
        "SELECT a.pid, coalesce(a.application_name, ''), n.nspname || '.' || cl.relname, l.mode, \
                coalesce(date_trunc('second', clock_timestamp() - a.xact_start)::text, '-'), coalesce(a.state, ''), left(coalesce(a.query, ''), 120), \
                coalesce((extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::bigint, 0) \
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
            held_ms: r.get(7),
        })
        .collect())
}

/// How `--wait-for-locks` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// No conflicting holder (at once, or after waiting this long).
    Free(Duration),
    /// The budget ran out with these pids still holding.
    GaveUp(Vec<i32>),
}

/// Polls until no other session holds a lock that conflicts with `wanted`, or until
/// `deadline`, saying who blocks (when the holders change, and every few seconds).
pub fn wait_until_free(
    c: &mut postgres::Client,
    wanted: &BTreeMap<String, LockMode>,
    deadline: Instant,
) -> Result<Waited> {
    let started = Instant::now();
    let mut said: Option<(Vec<i32>, Instant)> = None;
    loop {
        let holders = blocking_holders(c, wanted)?;
        let pids: Vec<i32> = holders.iter().map(|h| h.pid).collect();
        if holders.is_empty() {
            if said.is_some() {
                progress::note(&format!(
                    "locks free after {}",
                    progress::secs(started.elapsed())
                ));
            }
            return Ok(Waited::Free(started.elapsed()));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::GaveUp(pids));
        }
        let stale = said
            .as_ref()
            .is_none_or(|(p, t)| *p != pids || t.elapsed() >= Duration::from_secs(5));
        if stale {
            say_waiting(&holders, deadline.saturating_duration_since(now));
            said = Some((pids, now));
        }
        std::thread::sleep(Duration::from_millis(250).min(deadline - now));
    }
}

fn say_waiting(holders: &[Holder], left: Duration) {
    let list: Vec<String> = holders.iter().map(Holder::describe).collect();
    progress::note(&format!(
        "waiting for locks ({} left): {}",
        progress::secs(left),
        list.join("; ")
    ));
}

/// `--wait-for-locks` and the retry narration for one step: what it locks, and one
/// waiting budget shared by every attempt.
pub struct LockWaiter {
    wanted: BTreeMap<String, LockMode>,
    deadline: Option<Instant>,
    budget: Option<Duration>,
    /// Said once that the budget ran out; later attempts go ahead without repeating it.
    gave_up: std::cell::Cell<bool>,
}

impl LockWaiter {
    pub fn new(pack: &Pack, idx: usize, file: &SqlFile, wait: Option<Duration>) -> Self {
        LockWaiter {
            wanted: step_locks(pack, idx, file),
            deadline: wait.map(|d| Instant::now() + d),
            budget: wait,
            gave_up: std::cell::Cell::new(false),
        }
    }

    /// Before an attempt: waits (polling, on `c`) until no session holds a conflicting
    /// lock. When the budget has run out the attempt goes ahead anyway, under
    /// lock_timeout as without the flag: a short lock_timeout never queues for long.
    pub fn wait(&self, c: &mut postgres::Client) -> Result<()> {
        let (Some(deadline), Some(budget)) = (self.deadline, self.budget) else {
            return Ok(());
        };
        if self.gave_up.get() {
            return Ok(());
        }
        if let Waited::GaveUp(pids) = wait_until_free(c, &self.wanted, deadline)? {
            self.gave_up.set(true);
            let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
            progress::note(&format!(
                "--wait-for-locks: still held by pid {} after {}; trying under lock_timeout",
                pids.join(", "),
                humantime::format_duration(budget)
            ));
        }
        Ok(())
    }

    /// After a lock_timeout: "attempt 1/4: lock timeout at 01.sql:3 — public.t held by
    /// pid 6130 (psql: `…`) in ShareLock for 2.0 s; retry in 0.4 s" (`pause` None: the last).
    pub fn say_attempt(
        &self,
        c: &mut postgres::Client,
        n_of: (u32, u32),
        pause: Option<Duration>,
        f: &crate::engine::step_tx::StatementFailure,
    ) {
        if !progress::active() {
            return;
        }
        // Progress must not fail the step: a holder list that cannot be read is left out.
        let holders = blocking_holders(c, &self.wanted).unwrap_or_default();
        let by: Vec<String> = holders.iter().map(Holder::describe).collect();
        let by = if by.is_empty() {
            String::new()
        } else {
            format!(" — {}", by.join("; "))
        };
        progress::attempt(
            n_of,
            pause,
            &format!("lock timeout at {}:{}{by}", f.file, f.line),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_follow_postgresql_table() {
        assert!(conflicts(LockMode::RowExclusive, "ShareLock"));
        assert!(!conflicts(LockMode::RowExclusive, "AccessShareLock"));
        assert!(!conflicts(LockMode::RowExclusive, "RowExclusiveLock"));
        assert!(conflicts(LockMode::AccessExclusive, "AccessShareLock"));
        assert!(!conflicts(LockMode::Share, "ShareLock"));
        assert!(conflicts(
            LockMode::ShareUpdateExclusive,
            "ShareUpdateExclusiveLock"
        ));
        assert!(conflicts(LockMode::AccessShare, "AccessExclusiveLock"));
        assert!(!conflicts(LockMode::RowShare, "ShareLock"));
    }
}
