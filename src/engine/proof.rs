//! How a step's catalog delta is proven: incrementally (the default) or in full.
//!
//! The incremental proof ([`crate::db::footprint`]) reads only the objects the step names,
//! what depends on them and what its transaction wrote. What it wrote comes from the DDL
//! tracker where it is installed and the step is one it can vouch for ([`Footprint::Tracked`]:
//! no catalog pass), otherwise from a scan, whose whole-catalog probe also checks that
//! nothing else moved ([`Footprint::Scanned`]). When that check fails (dynamic SQL changed an object the
//! parser could not see, another session changed the catalog meanwhile) the caller runs the
//! step again under the full proof: a snapshot of every object before, inside and after.
//! `--full-proof` asks for the full one from the start.

use crate::core::catalog::{self, Snapshot};
use crate::core::effects::{self, Measured, Mismatch};
use crate::core::manifest::Pack;
use crate::core::scope::{self, Names};
use crate::core::sql::{SqlFile, Statement};
use crate::db::footprint::{self, Probe};
use crate::db::{delta, snapshot};
use postgres::{Client, GenericClient, IsolationLevel};
use serde::Serialize;
use std::collections::BTreeSet;

/// Which proof a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proof {
    #[default]
    Incremental,
    Full,
}

/// How an incremental proof learned what the transaction wrote: from the DDL tracker's
/// report (no catalog pass) or by scanning the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Footprint {
    Tracked,
    Scanned,
}

/// Beyond this many objects in scope the full proof costs no more.
const MAX_SCOPE: usize = 20_000;

/// The catalog as the step found it.
pub struct EntryState {
    /// Of the step's scope (incremental) or of every object (full).
    pub snapshot: Snapshot,
    /// The scope and whole-catalog probe; `None` under the full proof.
    pub footprint: Option<footprint::Entry>,
    /// The DDL tracker reports what the transaction changed (incremental proof, tracker
    /// installed, a step it can vouch for): no catalog pass at all.
    pub tracked: Option<Tracking>,
    /// The transaction will commit and the server keeps drift's baseline: the objects whose
    /// catalog rows it records before the step's first statement ([`crate::db::baseline`]).
    pub preimage: Option<BTreeSet<u32>>,
}

/// What the tracked measurement needs to know of the step.
#[derive(Debug, Clone, Copy)]
pub struct Tracking {
    /// GRANT-like commands the step's own statements account for.
    pub grants: usize,
}

impl EntryState {
    pub fn proof(&self) -> Proof {
        if self.footprint.is_some() {
            Proof::Incremental
        } else {
            Proof::Full
        }
    }

    /// `None` under the full proof.
    pub fn footprint(&self) -> Option<Footprint> {
        self.footprint.as_ref().map(|_| match self.tracked {
            Some(_) => Footprint::Tracked,
            None => Footprint::Scanned,
        })
    }

    /// What must be equal at the exit of a rehearsal: the fingerprint of the snapshot (of
    /// the step's scope, or of every object).
    pub fn fingerprint(&self) -> String {
        self.snapshot.fingerprint()
    }

    /// The exit of a rehearsal, after its ROLLBACK: the same snapshot again, and under the
    /// incremental proof one pass over the catalog, whose rows outside the scope must be
    /// exactly those the transaction left untouched (`inside`, when the step got that far).
    pub fn exit(&self, c: &mut Client, inside: Option<&Probe>) -> Result<Exit, postgres::Error> {
        let Some(f) = &self.footprint else {
            return Ok(Exit {
                fingerprint: snapshot::take(c)?.fingerprint(),
                unaccounted: None,
            });
        };
        let fingerprint = snapshot::take_scoped(c, &f.scope)?.fingerprint();
        if self.tracked.is_some() {
            // The tracker saw every DDL command of the transaction, and PostgreSQL undid
            // them: the scope coming back is the proof, with no catalog pass.
            return Ok(Exit {
                fingerprint,
                unaccounted: None,
            });
        }
        let now = footprint::tallies(c, &f.scope)?;
        let mut unaccounted = inside.and_then(|i| footprint::outside_moved(&now.outside, i));
        if let Some(t) = &f.tallies {
            unaccounted = unaccounted.or_else(|| footprint::outside_moved(&t.all, &now.all));
        }
        Ok(Exit {
            fingerprint,
            unaccounted,
        })
    }
}

/// A rehearsal's exit.
pub struct Exit {
    pub fingerprint: String,
    /// The catalog moved outside the step's scope: only the full proof can say what.
    pub unaccounted: Option<String>,
}

/// Reads the entry state on its own read-only snapshot, so the probe and the scoped
/// snapshot see the same catalog. `with_tallies`: the transaction will commit, so the
/// whole-catalog reference must be taken now (a rehearsal takes it after its ROLLBACK).
pub fn entry_state(
    c: &mut Client,
    proof: Proof,
    names: &Names,
    with_tallies: bool,
) -> Result<EntryState, postgres::Error> {
    if proof == Proof::Incremental {
        let mut tx = c
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let tracked =
            (!names.untracked && footprint::tracker_ready(&mut tx)?).then_some(Tracking {
                grants: names.grants,
            });
        let fp = footprint::entry(&mut tx, names, MAX_SCOPE, with_tallies && tracked.is_none())?;
        let snapshot = match &fp {
            Some(f) => Some(snapshot::take_scoped(&mut tx, &f.scope)?),
            None => None,
        };
        let keeps = with_tallies && footprint::keeps_baseline(&mut tx)?;
        tx.commit()?;
        let Some((f, snapshot)) = fp.zip(snapshot) else {
            // Over the cap: the scope was just resolved, and found too big to record.
            return full_entry(c, keeps.then(BTreeSet::new));
        };
        return Ok(EntryState {
            snapshot,
            preimage: keeps.then(|| f.scope.clone()),
            footprint: Some(f),
            tracked,
        });
    }
    let preimage = match with_tallies {
        true => preimage_of(c, names)?,
        false => None,
    };
    full_entry(c, preimage)
}

/// The entry state of the full proof: every object.
fn full_entry(
    c: &mut Client,
    preimage: Option<BTreeSet<u32>>,
) -> Result<EntryState, postgres::Error> {
    Ok(EntryState {
        snapshot: snapshot::take(c)?,
        footprint: None,
        tracked: None,
        preimage,
    })
}

/// What a committing transaction records as its pre-image when the server keeps drift's
/// baseline ([`crate::db::baseline`]): the scope of `names` (empty beyond the cap, where the
/// baseline may then report the step's own changes as drift; it never hides one). `None`:
/// the ledger recomputes its baseline at every commit.
pub fn preimage_of(
    c: &mut impl GenericClient,
    names: &Names,
) -> Result<Option<BTreeSet<u32>>, postgres::Error> {
    if !footprint::keeps_baseline(c)? {
        return Ok(None);
    }
    let scope = footprint::entry(c, names, MAX_SCOPE, false)?.map(|f| f.scope);
    Ok(Some(scope.unwrap_or_default()))
}

/// The names step `idx` mentions: its file's statements and its declared effects.
pub fn step_names(pack: &Pack, idx: usize, file: &SqlFile) -> Names {
    let stmts: Vec<&Statement> = file.statements.iter().collect();
    let e = &pack.effects[idx];
    let declared: Vec<_> = e.create.iter().chain(&e.alter).chain(&e.drop).collect();
    scope::names_of(&stmts, &declared)
}

/// Arms the DDL tracker when the entry chose it: inside the step's transaction, before its
/// statements.
pub fn arm(c: &mut impl GenericClient, entry: &EntryState) -> Result<(), postgres::Error> {
    match (&entry.preimage, &entry.tracked) {
        (Some(scope), _) => footprint::arm(c, Some(scope)),
        (None, Some(_)) => footprint::arm(c, None),
        (None, None) => Ok(()),
    }
}

/// The in-transaction measurement: catalog diff against the entry state + row counts.
pub struct Measurement {
    pub measured: Measured,
    pub in_tx: Snapshot,
    /// The scope `in_tx` covers (incremental); `None` when it covers every object.
    pub scope: Option<BTreeSet<u32>>,
    /// The whole-catalog probe inside the transaction (incremental).
    pub probe: Option<Probe>,
    /// The tallies of the untouched rows outside the scope (incremental): a rehearsal
    /// compares them with the catalog after its ROLLBACK.
    pub outside: Option<Probe>,
    pub mismatches: Vec<Mismatch>,
}

/// What measuring found.
pub enum Measure {
    Done(Box<Measurement>),
    /// The incremental proof cannot account for every change: run again under the full one.
    Unaccounted(String),
}

pub fn measure(
    c: &mut impl GenericClient,
    committed: &mut impl GenericClient,
    pack: &Pack,
    step_index: usize,
    entry: &EntryState,
) -> Result<Measure, postgres::Error> {
    crate::engine::session::quiet_planner(c)?;
    // Row counts first: nothing after this point may add to them.
    let rows = delta::row_delta(c)?;
    let (in_tx, scope, probe, outside) = match &entry.footprint {
        None => (snapshot::take(c)?, None, None, None),
        Some(f) => {
            let found = match &entry.tracked {
                Some(t) => footprint::inside_tracked(c, committed, f, t.grants)?,
                None => footprint::inside(c, f)?,
            };
            if let Some(why) = found.unaccounted {
                return Ok(Measure::Unaccounted(why));
            }
            let snap = snapshot::take_scoped(c, &found.scope)?;
            let scanned = entry.tracked.is_none();
            (
                snap,
                Some(found.scope),
                scanned.then_some(found.all),
                scanned.then_some(found.outside),
            )
        }
    };
    let before = &entry.snapshot;
    let measured = Measured {
        catalog: catalog::diff(before, &in_tx),
        rows,
    };
    let mut mismatches = effects::compare(&pack.effects[step_index], &measured, before, &in_tx);
    mismatches.extend(effects::forbidden(&pack.forbids[step_index], &measured));
    Ok(Measure::Done(Box::new(Measurement {
        measured,
        in_tx,
        scope,
        probe,
        outside,
        mismatches,
    })))
}

/// The committed catalog, as post-commit verification compares it.
pub struct Committed {
    pub snapshot: Snapshot,
    /// The objects `snapshot` covers (incremental); `None` for every object. What moves
    /// elsewhere after the commit is drift's to report, against the server's fingerprint.
    pub scope: Option<BTreeSet<u32>>,
}

impl Committed {
    /// The catalog now, read the same way.
    pub fn now(&self, c: &mut Client) -> Result<Snapshot, postgres::Error> {
        match &self.scope {
            Some(scope) => snapshot::take_scoped(c, scope),
            None => snapshot::take(c),
        }
    }
}
