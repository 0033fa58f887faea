//! Issue 11, one ownership model: what the parser predicts a statement creates and drops
//! (its owned objects included) and what the catalog diff measures are held to the same
//! declaration — on the real server.

mod common;

use std::collections::BTreeSet;
use stepgate::core::catalog::diff;
use stepgate::core::effects::{compare, Measured};
use stepgate::core::manifest::ResolvedEffects;
use stepgate::core::objects::{ObjectRef, Verb};
use stepgate::core::sql::parse_file;
use stepgate::db::snapshot;

fn r(s: &str) -> ObjectRef {
    ObjectRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
}

/// Runs `sql` in a transaction on a fresh database prepared with `setup`; returns the
/// mismatches of the measured catalog delta against `declared` (create, drop), and the
/// objects the parser predicts the statements create and drop (owned ones included).
fn measure(
    setup: &str,
    sql: &str,
    create: &[&str],
    drop: &[&str],
) -> (Vec<String>, BTreeSet<ObjectRef>, BTreeSet<ObjectRef>) {
    let (_db, ci) = common::empty_db("plans_own");
    let mut c = common::client(&ci);
    c.batch_execute(setup).expect("setup");
    let mut tx = c.transaction().expect("tx");
    let before = snapshot::take(&mut tx).expect("before");
    tx.batch_execute(sql).expect("statement");
    let after = snapshot::take(&mut tx).expect("after");
    tx.rollback().expect("rollback");
    let declared = ResolvedEffects {
        create: create.iter().map(|s| r(s)).collect(),
        drop: drop.iter().map(|s| r(s)).collect(),
        ..Default::default()
    };
    let measured = Measured {
        catalog: diff(&before, &after),
        ..Default::default()
    };
    let mismatches = compare(&declared, &measured, &before, &after)
        .into_iter()
        .map(|m| {
            format!(
                "{}: declared {}, measured {}",
                m.item, m.declared, m.measured
            )
        })
        .collect();
    let f = parse_file("t.sql", sql).expect("parse");
    let (mut created, mut dropped) = (BTreeSet::new(), BTreeSet::new());
    for t in f.statements.iter().flat_map(|s| s.touches.iter()) {
        let set = match t.verb {
            Verb::Create => &mut created,
            Verb::Drop => &mut dropped,
            _ => continue,
        };
        set.insert(t.object.clone());
        set.extend(t.owned.iter().cloned());
    }
    (mismatches, created, dropped)
}

const TABLE: &str = "CREATE TABLE t (id int PRIMARY KEY, x int, CONSTRAINT t_x_key UNIQUE (x));";

#[test]
fn dropping_a_unique_constraint_takes_its_index() {
    let (mm, _, dropped) = measure(
        TABLE,
        "ALTER TABLE t DROP CONSTRAINT t_x_key;",
        &[],
        &["constraint public.t.t_x_key"],
    );
    assert!(mm.is_empty(), "{mm:?}");
    assert!(dropped.contains(&r("index public.t_x_key")), "{dropped:?}");
    // Declaring the index as well is consistent on both sides.
    let (mm, _, _) = measure(
        TABLE,
        "ALTER TABLE t DROP CONSTRAINT t_x_key;",
        &[],
        &["constraint public.t.t_x_key", "index public.t_x_key"],
    );
    assert!(mm.is_empty(), "{mm:?}");
    // Undeclared, both the constraint and its index are reported.
    let (mm, _, _) = measure(TABLE, "ALTER TABLE t DROP CONSTRAINT t_x_key;", &[], &[]);
    assert_eq!(mm.len(), 2, "{mm:?}");
}

#[test]
fn dropping_a_primary_key_takes_its_index() {
    let (mm, _, dropped) = measure(
        TABLE,
        "ALTER TABLE t DROP CONSTRAINT t_pkey;",
        &[],
        &["constraint public.t.t_pkey"],
    );
    assert!(mm.is_empty(), "{mm:?}");
    assert!(dropped.contains(&r("index public.t_pkey")));
}

#[test]
fn adding_a_constraint_owns_the_index_it_builds_or_adopts() {
    let setup = "CREATE TABLE t (id int NOT NULL, x int); CREATE UNIQUE INDEX t_x_idx ON t (x); CREATE UNIQUE INDEX t_id_key ON t (id);";
    // Built.
    let (mm, created, _) = measure(
        setup,
        "ALTER TABLE t ADD CONSTRAINT t_x_uq UNIQUE (x);",
        &["constraint public.t.t_x_uq"],
        &[],
    );
    assert!(mm.is_empty(), "{mm:?}");
    assert!(created.contains(&r("index public.t_x_uq")));
    // Adopted under another name: PostgreSQL renames the index to the constraint's.
    let (mm, created, _) = measure(
        setup,
        "ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_idx;",
        &["constraint public.t.t_x_key"],
        &[],
    );
    assert!(mm.is_empty(), "{mm:?}");
    assert!(created.contains(&r("index public.t_x_key")));
    assert!(created.contains(&r("index public.t_x_idx")));
    // Adopted under its own name.
    let (mm, _, _) = measure(
        setup,
        "ALTER TABLE t ADD CONSTRAINT t_id_key PRIMARY KEY USING INDEX t_id_key;",
        &["constraint public.t.t_id_key"],
        &[],
    );
    assert!(mm.is_empty(), "{mm:?}");
    // Without the declaration the rehearsal still reports it.
    let (mm, _, _) = measure(
        setup,
        "ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_idx;",
        &[],
        &[],
    );
    assert!(!mm.is_empty());
}

#[test]
fn a_serial_column_owns_its_sequence() {
    let (mm, created, _) = measure(
        "CREATE TABLE t (id int);",
        "ALTER TABLE t ADD COLUMN n bigserial;",
        &["column public.t.n"],
        &[],
    );
    assert!(mm.is_empty(), "{mm:?}");
    assert!(
        created.contains(&r("sequence public.t_n_seq")),
        "{created:?}"
    );
}
