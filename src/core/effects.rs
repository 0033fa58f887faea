//! Declared effects versus the measured delta.
//!
//! The measured delta of a step is the catalog diff against its entry snapshot plus
//! the per-table row counts of its transaction. It must equal `[step.effects]`
//! exactly: nothing undeclared happened, and everything declared did happen.
//! Objects owned by a created or dropped object (a new table's columns, inline
//! constraints, their indexes and owned sequences) are covered by the owner's entry.

use crate::core::catalog::{CatalogDiff, Snapshot};
use crate::core::manifest::{ResolvedEffects, RowCounts};
use crate::core::objects::{ObjKind, ObjectRef};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a step measurably did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measured {
    pub catalog: CatalogDiff,
    pub rows: BTreeMap<String, RowCounts>,
}

/// One disagreement between declared and measured, for the side-by-side report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Mismatch {
    /// e.g. `create table public.t`, `rows public.t insert`.
    pub item: String,
    pub declared: String,
    pub measured: String,
}

/// The objects whose entry covers `obj`, as measured in the snapshots: a table member's
/// relation; an index's table and, for the index of a PRIMARY KEY / UNIQUE / EXCLUDE
/// constraint, that constraint (on create, on `USING INDEX` adoption and on drop); an
/// owned sequence's column and its table. A relation owner is listed under each relation
/// kind, since the attribute names only the relation.
fn owners(obj: &ObjectRef, snap_after: &Snapshot, snap_before: &Snapshot) -> Vec<ObjectRef> {
    let mut out = Vec::new();
    let relation = |name: &str, out: &mut Vec<ObjectRef>| {
        for k in [ObjKind::Table, ObjKind::View, ObjKind::MaterializedView] {
            out.push(ObjectRef::new(k, name.to_string()));
        }
    };
    if let Some(t) = obj.table() {
        relation(&t, &mut out);
        return out;
    }
    for snap in [snap_after, snap_before] {
        let Some(attrs) = snap.get(obj).map(|o| &o.attrs) else {
            continue;
        };
        match obj.kind {
            ObjKind::Index => {
                if let Some(t) = attrs.get("table").filter(|t| !t.is_empty()) {
                    relation(t, &mut out);
                    if let Some(c) = attrs.get("constraint").filter(|c| !c.is_empty()) {
                        out.push(ObjectRef::new(ObjKind::Constraint, format!("{t}.{c}")));
                    }
                }
            }
            ObjKind::Sequence => {
                if let Some(c) = attrs.get("owned_by").filter(|c| !c.is_empty()) {
                    out.push(ObjectRef::new(ObjKind::Column, c.clone()));
                    let mut it = c.rsplitn(2, '.');
                    it.next();
                    if let Some(t) = it.next() {
                        relation(t, &mut out);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn covered_by(owners: &[ObjectRef], set: &BTreeSet<ObjectRef>) -> bool {
    owners.iter().any(|o| set.contains(o))
}

/// An index's definition without its name (`… ON public.t USING btree (x)`).
fn index_shape(snap: &Snapshot, idx: &ObjectRef) -> Option<String> {
    let o = snap.get(idx)?;
    let def = o.attrs.get("definition")?;
    Some(def.split_once(" ON ")?.1.to_string())
}

/// `ADD CONSTRAINT c … USING INDEX i` renames `i` to `c`: the catalog shows `i` removed
/// and `c` added. The removal is covered when an index added in the same step has the
/// same definition, belongs to a constraint the step declares created, and `i` had none.
fn adopted_by_declared_constraint(
    removed: &ObjectRef,
    added: &BTreeSet<&ObjectRef>,
    declared_create: &BTreeSet<ObjectRef>,
    before: &Snapshot,
    after: &Snapshot,
) -> bool {
    if removed.kind != ObjKind::Index {
        return false;
    }
    let had_constraint = before
        .get(removed)
        .and_then(|o| o.attrs.get("constraint"))
        .is_some_and(|c| !c.is_empty());
    let Some(shape) = index_shape(before, removed).filter(|_| !had_constraint) else {
        return false;
    };
    added.iter().any(|a| {
        a.kind == ObjKind::Index
            && index_shape(after, a).as_ref() == Some(&shape)
            && owners(a, after, before)
                .iter()
                .any(|o| o.kind == ObjKind::Constraint && declared_create.contains(o))
    })
}

/// Compares. `before`/`after` are the entry and in-transaction snapshots (for ownership).
pub fn compare(
    declared: &ResolvedEffects,
    measured: &Measured,
    before: &Snapshot,
    after: &Snapshot,
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let added: BTreeSet<&ObjectRef> = measured.catalog.added.iter().collect();
    let removed: BTreeSet<&ObjectRef> = measured.catalog.removed.iter().collect();
    let changed: BTreeSet<&ObjectRef> =
        measured.catalog.changed.iter().map(|c| &c.object).collect();
    // Dropped and re-created (e.g. a trigger re-wired) is measured as "changed".
    let replaced: BTreeSet<&ObjectRef> = declared.create.intersection(&declared.drop).collect();

    // Members of an undeclared new relation are reported once, through their owner.
    let added_relations: BTreeSet<ObjectRef> = added
        .iter()
        .filter(|o| o.kind.is_relation())
        .map(|o| (*o).clone())
        .collect();
    let removed_relations: BTreeSet<ObjectRef> = removed
        .iter()
        .filter(|o| o.kind.is_relation())
        .map(|o| (*o).clone())
        .collect();
    for a in &added {
        let owner = owners(a, after, before);
        if declared.create.contains(a)
            || covered_by(&owner, &declared.create)
            || covered_by(&owner, &added_relations)
        {
            continue;
        }
        out.push(Mismatch {
            item: format!("create {a}"),
            declared: "not declared".into(),
            measured: "created".into(),
        });
    }
    for r in &removed {
        let owner = owners(r, after, before);
        if declared.drop.contains(r)
            || covered_by(&owner, &declared.drop)
            || covered_by(&owner, &removed_relations)
            || adopted_by_declared_constraint(r, &added, &declared.create, before, after)
        {
            continue;
        }
        out.push(Mismatch {
            item: format!("drop {r}"),
            declared: "not declared".into(),
            measured: "dropped".into(),
        });
    }
    for c in &measured.catalog.changed {
        let o = &c.object;
        if declared.alter.contains(o) || declared.create.contains(o) || replaced.contains(o) {
            continue;
        }
        let owner = owners(o, after, before);
        if covered_by(&owner, &declared.create) {
            continue;
        }
        let what: Vec<String> = c.changes.iter().map(|ch| ch.attr.clone()).collect();
        out.push(Mismatch {
            item: format!("alter {o}"),
            declared: "not declared".into(),
            measured: format!("changed ({})", what.join(", ")),
        });
    }
    for d in &declared.create {
        if replaced.contains(d) {
            if !changed.contains(d) && !added.contains(d) {
                out.push(Mismatch {
                    item: format!("replace {d}"),
                    declared: "dropped and re-created".into(),
                    measured: "unchanged".into(),
                });
            }
            continue;
        }
        if !added.contains(d) && !changed.contains(d) {
            out.push(Mismatch {
                item: format!("create {d}"),
                declared: "created".into(),
                measured: "not created".into(),
            });
        }
    }
    for d in &declared.drop {
        if replaced.contains(d) {
            continue;
        }
        if !removed.contains(d) {
            out.push(Mismatch {
                item: format!("drop {d}"),
                declared: "dropped".into(),
                measured: "still present".into(),
            });
        }
    }
    for d in &declared.alter {
        if !changed.contains(d) && !added.contains(d) && !removed.contains(d) {
            out.push(Mismatch {
                item: format!("alter {d}"),
                declared: "altered".into(),
                measured: "unchanged".into(),
            });
        }
    }
    let tables: BTreeSet<&String> = declared.rows.keys().chain(measured.rows.keys()).collect();
    for t in tables {
        let d = declared.rows.get(t).copied().unwrap_or_default();
        let m = measured.rows.get(t).copied().unwrap_or_default();
        for (verb, dv, mv) in [
            ("insert", d.insert, m.insert),
            ("update", d.update, m.update),
            ("delete", d.delete, m.delete),
        ] {
            if dv != mv {
                out.push(Mismatch {
                    item: format!("rows {t} {verb}"),
                    declared: dv.to_string(),
                    measured: mv.to_string(),
                });
            }
        }
    }
    out
}

/// What must hold at a step's entry for its declared effects to make sense: each object
/// with `true` must be present, each with `false` absent. One model with [`compare`]:
/// an object the step creates (and does not also drop) must be absent; one it alters or
/// drops must be present — unless the step itself creates it, or creates the table it
/// belongs to (a column added and then given a default is declared in `create` and
/// `alter`, and is absent at entry). Dropped and re-created (in `create` and `drop`):
/// present. Preflight should take its object checks from here.
pub fn entry_expectations(declared: &ResolvedEffects) -> Vec<(ObjectRef, bool)> {
    let created_here = |o: &ObjectRef| {
        (declared.create.contains(o) && !declared.drop.contains(o))
            || o.table().is_some_and(|t| {
                [ObjKind::Table, ObjKind::View, ObjKind::MaterializedView]
                    .iter()
                    .any(|k| {
                        let owner = ObjectRef::new(*k, t.clone());
                        declared.create.contains(&owner) && !declared.drop.contains(&owner)
                    })
            })
    };
    let mut out: BTreeMap<ObjectRef, bool> = BTreeMap::new();
    for o in declared
        .create
        .iter()
        .filter(|o| !declared.drop.contains(*o))
    {
        out.insert(o.clone(), false);
    }
    for o in declared.alter.iter().chain(declared.drop.iter()) {
        if created_here(o) {
            continue;
        }
        out.insert(o.clone(), true);
    }
    out.into_iter().collect()
}

/// Side-by-side text table of mismatches.
pub fn render_mismatches(m: &[Mismatch]) -> String {
    let w0 = m.iter().map(|x| x.item.len()).max().unwrap_or(4).max(4);
    let w1 = m.iter().map(|x| x.declared.len()).max().unwrap_or(8).max(8);
    let mut s = format!("  {:<w0$}  {:<w1$}  measured\n", "item", "declared");
    for x in m {
        s.push_str(&format!(
            "  {:<w0$}  {:<w1$}  {}\n",
            x.item, x.declared, x.measured
        ));
    }
    s
}

/// Measured changes that match a `forbid` rule: the static check has a twin at run time,
/// so dynamic SQL or a trigger cannot do what the plan forbids.
pub fn forbidden(rules: &[crate::core::objects::ForbidRule], m: &Measured) -> Vec<Mismatch> {
    use crate::core::objects::Verb;
    let mut out = Vec::new();
    let mut check = |verb: Verb, o: &ObjectRef| {
        for r in rules {
            if r.matches(verb, o) {
                out.push(Mismatch {
                    item: format!("{verb} {o}"),
                    declared: format!("forbidden by `{}`", r.text),
                    measured: "happened".into(),
                });
            }
        }
    };
    for o in &m.catalog.added {
        check(Verb::Create, o);
    }
    for o in &m.catalog.removed {
        check(Verb::Drop, o);
    }
    for c in &m.catalog.changed {
        check(Verb::Alter, &c.object);
        if let Some(t) = c.object.table() {
            check(Verb::Alter, &ObjectRef::new(ObjKind::Table, t));
        }
    }
    for (t, c) in &m.rows {
        let table = ObjectRef::new(ObjKind::Table, t.clone());
        for (verb, n) in [
            (Verb::Insert, c.insert),
            (Verb::Update, c.update),
            (Verb::Delete, c.delete),
        ] {
            if n > 0 {
                check(verb, &table);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::{CatalogObject, ChangedObject};

    fn r(s: &str) -> ObjectRef {
        ObjectRef::parse(s).unwrap()
    }

    #[test]
    fn exact_match_is_clean_and_owned_objects_are_covered() {
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("table public.t"));
        decl.rows.insert(
            "public.e".into(),
            RowCounts {
                insert: 1,
                ..Default::default()
            },
        );
        let mut after = Snapshot::default();
        let mut attrs = BTreeMap::new();
        attrs.insert("table".to_string(), "public.t".to_string());
        after.insert(CatalogObject {
            kind: ObjKind::Index,
            name: "public.t_pkey".into(),
            attrs,
        });
        let mut m = Measured::default();
        m.catalog.added = vec![
            r("table public.t"),
            r("column public.t.id"),
            r("index public.t_pkey"),
        ];
        m.rows.insert(
            "public.e".into(),
            RowCounts {
                insert: 1,
                ..Default::default()
            },
        );
        assert!(compare(&decl, &m, &Snapshot::default(), &after).is_empty());
    }

    fn index(name: &str, table: &str, constraint: &str, def: &str) -> CatalogObject {
        let mut attrs = BTreeMap::new();
        attrs.insert("table".to_string(), table.to_string());
        attrs.insert("constraint".to_string(), constraint.to_string());
        attrs.insert("definition".to_string(), def.to_string());
        CatalogObject {
            kind: ObjKind::Index,
            name: name.into(),
            attrs,
        }
    }

    #[test]
    fn a_constraint_owns_its_index() {
        let def = |n: &str| format!("CREATE UNIQUE INDEX {n} ON public.t USING btree (x)");
        // Drop: the constraint's index goes with it.
        let mut before = Snapshot::default();
        before.insert(index("public.t_key", "public.t", "t_key", &def("t_key")));
        let mut m = Measured::default();
        m.catalog.removed = vec![r("constraint public.t.t_key"), r("index public.t_key")];
        let mut decl = ResolvedEffects::default();
        decl.drop.insert(r("constraint public.t.t_key"));
        assert!(compare(&decl, &m, &before, &Snapshot::default()).is_empty());
        // Without the constraint declared, both are reported.
        let none = ResolvedEffects::default();
        assert_eq!(compare(&none, &m, &before, &Snapshot::default()).len(), 2);

        // Add: the index it builds comes with it.
        let mut after = Snapshot::default();
        after.insert(index("public.t_key", "public.t", "t_key", &def("t_key")));
        let mut m = Measured::default();
        m.catalog.added = vec![r("constraint public.t.t_key"), r("index public.t_key")];
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("constraint public.t.t_key"));
        assert!(compare(&decl, &m, &Snapshot::default(), &after).is_empty());

        // USING INDEX under the same name: the index is altered (it gains a constraint).
        let mut before = Snapshot::default();
        before.insert(index("public.t_key", "public.t", "", &def("t_key")));
        let mut m = Measured::default();
        m.catalog.added = vec![r("constraint public.t.t_key")];
        m.catalog.changed = vec![ChangedObject {
            object: r("index public.t_key"),
            changes: vec![],
        }];
        assert!(compare(&decl, &m, &before, &after).is_empty());

        // USING INDEX under another name: PostgreSQL renames the index to the constraint's.
        let mut before = Snapshot::default();
        before.insert(index("public.t_x_idx", "public.t", "", &def("t_x_idx")));
        let mut m = Measured::default();
        m.catalog.added = vec![r("constraint public.t.t_key"), r("index public.t_key")];
        m.catalog.removed = vec![r("index public.t_x_idx")];
        assert!(compare(&decl, &m, &before, &after).is_empty());
        // An index of another shape removed beside it is still undeclared.
        let mut before2 = Snapshot::default();
        before2.insert(index(
            "public.t_x_idx",
            "public.t",
            "",
            "CREATE UNIQUE INDEX t_x_idx ON public.t USING btree (y)",
        ));
        let mm = compare(&decl, &m, &before2, &after);
        assert_eq!(mm.len(), 1, "{mm:?}");
        assert_eq!(mm[0].item, "drop index public.t_x_idx");
    }

    #[test]
    fn entry_expectations_never_contradict() {
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("column public.t.c"));
        decl.alter.insert(r("column public.t.c"));
        decl.alter.insert(r("table public.t"));
        decl.create.insert(r("table public.n"));
        decl.alter.insert(r("column public.n.x"));
        decl.create.insert(r("trigger public.t.trg"));
        decl.drop.insert(r("trigger public.t.trg"));
        decl.drop.insert(r("constraint public.t.t_key"));
        let e = entry_expectations(&decl);
        let get = |s: &str| e.iter().find(|(o, _)| *o == r(s)).map(|(_, p)| *p);
        assert_eq!(get("column public.t.c"), Some(false));
        assert_eq!(get("table public.t"), Some(true));
        assert_eq!(get("table public.n"), Some(false));
        assert_eq!(get("column public.n.x"), None);
        assert_eq!(get("trigger public.t.trg"), Some(true));
        assert_eq!(get("constraint public.t.t_key"), Some(true));
        // One verdict per object.
        let objs: BTreeSet<&ObjectRef> = e.iter().map(|(o, _)| o).collect();
        assert_eq!(objs.len(), e.len());
    }

    #[test]
    fn a_serial_column_owns_its_sequence() {
        let mut after = Snapshot::default();
        let mut attrs = BTreeMap::new();
        attrs.insert("owned_by".to_string(), "public.t.n".to_string());
        after.insert(CatalogObject {
            kind: ObjKind::Sequence,
            name: "public.t_n_seq".into(),
            attrs,
        });
        let mut m = Measured::default();
        m.catalog.added = vec![r("column public.t.n"), r("sequence public.t_n_seq")];
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("column public.t.n"));
        assert!(compare(&decl, &m, &Snapshot::default(), &after).is_empty());
        assert_eq!(
            compare(
                &ResolvedEffects::default(),
                &m,
                &Snapshot::default(),
                &after
            )
            .len(),
            2
        );
    }

    #[test]
    fn undeclared_and_missing_are_reported() {
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("table public.t"));
        let mut m = Measured::default();
        m.catalog.added = vec![r("table public.other")];
        m.catalog.changed = vec![ChangedObject {
            object: r("function public.f(text)"),
            changes: vec![],
        }];
        m.rows.insert(
            "public.e".into(),
            RowCounts {
                insert: 2,
                ..Default::default()
            },
        );
        let mm = compare(&decl, &m, &Snapshot::default(), &Snapshot::default());
        let items: Vec<&str> = mm.iter().map(|x| x.item.as_str()).collect();
        assert!(items.contains(&"create table public.other"));
        assert!(items.contains(&"alter function public.f(text)"));
        assert!(items.contains(&"create table public.t"));
        assert!(items.contains(&"rows public.e insert"));
        assert!(render_mismatches(&mm).contains("declared"));
    }

    #[test]
    fn forbidden_changes_are_caught_at_run_time() {
        let rules = vec![
            crate::core::objects::ForbidRule::parse("create trigger").unwrap(),
            crate::core::objects::ForbidRule::parse("insert public.event_outbox").unwrap(),
        ];
        let mut m = Measured::default();
        m.catalog.added = vec![r("trigger public.t.trg")];
        m.rows.insert(
            "public.event_outbox".into(),
            RowCounts {
                insert: 1,
                ..Default::default()
            },
        );
        m.rows.insert(
            "public.other".into(),
            RowCounts {
                insert: 1,
                ..Default::default()
            },
        );
        let f = forbidden(&rules, &m);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(forbidden(&rules, &Measured::default()).is_empty());
    }

    #[test]
    fn drop_and_create_means_replace() {
        let mut decl = ResolvedEffects::default();
        decl.create.insert(r("trigger public.a.trg"));
        decl.drop.insert(r("trigger public.a.trg"));
        let mut m = Measured::default();
        m.catalog.changed = vec![ChangedObject {
            object: r("trigger public.a.trg"),
            changes: vec![],
        }];
        assert!(compare(&decl, &m, &Snapshot::default(), &Snapshot::default()).is_empty());
    }
}
