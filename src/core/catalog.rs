//! The catalog snapshot model and its diff: pure data, no I/O.
//!
//! A snapshot is a canonical, sorted description of every user object. Its
//! sha256 over the canonical JSON is the *fingerprint* that rehearsal compares
//! before and after (`entry == exit`), and its diff is the catalog half of a
//! step's measured delta, named in the same `kind name` grammar as `[step.effects]`.

use crate::core::objects::{ObjKind, ObjectRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One catalog object: its reference plus every attribute that matters for equality
/// (definition, owner, privileges, validity, ...), as sorted string pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogObject {
    pub kind: ObjKind,
    pub name: String,
    pub attrs: BTreeMap<String, String>,
}

impl CatalogObject {
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::new(self.kind, self.name.clone())
    }
}

/// Canonical description of a database's user schemas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Keyed by `"kind name"` (the `ObjectRef` display form), so iteration is canonical.
    pub objects: BTreeMap<String, CatalogObject>,
}

impl Snapshot {
    pub fn insert(&mut self, obj: CatalogObject) {
        let key = obj.object_ref().to_string();
        self.objects.insert(key, obj);
    }

    pub fn get(&self, r: &ObjectRef) -> Option<&CatalogObject> {
        self.objects.get(&r.to_string())
    }

    pub fn contains(&self, r: &ObjectRef) -> bool {
        self.objects.contains_key(&r.to_string())
    }

    /// Canonical JSON (sorted keys: BTreeMaps all the way down).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// sha256 of the canonical JSON, hex.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

/// One attribute that differs between two snapshots of the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrChange {
    pub attr: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedObject {
    pub object: ObjectRef,
    pub changes: Vec<AttrChange>,
}

/// Added / removed / changed objects between two snapshots.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDiff {
    pub added: Vec<ObjectRef>,
    pub removed: Vec<ObjectRef>,
    pub changed: Vec<ChangedObject>,
}

impl CatalogDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Compares two snapshots object by object.
pub fn diff(before: &Snapshot, after: &Snapshot) -> CatalogDiff {
    let mut d = CatalogDiff::default();
    for (k, a) in &after.objects {
        match before.objects.get(k) {
            None => d.added.push(a.object_ref()),
            Some(b) if b.attrs != a.attrs => {
                let mut changes = Vec::new();
                let keys: std::collections::BTreeSet<&String> =
                    b.attrs.keys().chain(a.attrs.keys()).collect();
                for key in keys {
                    let (x, y) = (b.attrs.get(key), a.attrs.get(key));
                    if x != y {
                        changes.push(AttrChange {
                            attr: key.clone(),
                            before: x.cloned(),
                            after: y.cloned(),
                        });
                    }
                }
                d.changed.push(ChangedObject {
                    object: a.object_ref(),
                    changes,
                });
            }
            Some(_) => {}
        }
    }
    for (k, b) in &before.objects {
        if !after.objects.contains_key(k) {
            d.removed.push(b.object_ref());
        }
    }
    d
}

/// Longest `before → after` pair still rendered on one line by [`render_diff`].
const INLINE_CHANGE_WIDTH: usize = 100;

/// Renders a diff for people: one line per object — `+ table public.t` (added),
/// `- view public.v` (removed), `~ function public.f(text)` (changed) — and under each
/// changed object one indented line per attribute, `    body_md5: abc → def`. A long or
/// multi-line value (a view definition) is shown as a block of `-`/`+` lines instead.
/// An absent value reads `(none)`. The empty diff renders as the empty string.
pub fn render_diff(d: &CatalogDiff) -> String {
    let mut out = String::new();
    for r in &d.added {
        out.push_str(&format!("+ {r}\n"));
    }
    for r in &d.removed {
        out.push_str(&format!("- {r}\n"));
    }
    for c in &d.changed {
        out.push_str(&format!("~ {}\n", c.object));
        for ch in &c.changes {
            let before = ch.before.as_deref().unwrap_or("(none)");
            let after = ch.after.as_deref().unwrap_or("(none)");
            let inline = !before.contains('\n')
                && !after.contains('\n')
                && before.chars().count() + after.chars().count() <= INLINE_CHANGE_WIDTH;
            if inline {
                out.push_str(&format!("    {}: {before} → {after}\n", ch.attr));
            } else {
                out.push_str(&format!("    {}:\n", ch.attr));
                for line in before.lines() {
                    out.push_str(&format!("      - {line}\n"));
                }
                for line in after.lines() {
                    out.push_str(&format!("      + {line}\n"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod render_tests {
    use super::*;

    fn obj(kind: ObjKind, name: &str, attrs: &[(&str, &str)]) -> CatalogObject {
        CatalogObject {
            kind,
            name: name.to_string(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn snap(objs: Vec<CatalogObject>) -> Snapshot {
        let mut s = Snapshot::default();
        for o in objs {
            s.insert(o);
        }
        s
    }

    #[test]
    fn empty_diff_renders_empty() {
        let s = snap(vec![obj(
            ObjKind::Table,
            "public.t",
            &[("owner", "postgres")],
        )]);
        assert_eq!(render_diff(&diff(&s, &s)), "");
    }

    #[test]
    fn added_removed_changed() {
        let before = snap(vec![
            obj(ObjKind::View, "public.v", &[("definition", "SELECT 1")]),
            obj(
                ObjKind::Function,
                "public.f(text)",
                &[("body_md5", "abc"), ("volatility", "v")],
            ),
        ]);
        let after = snap(vec![
            obj(ObjKind::Table, "public.t", &[]),
            obj(
                ObjKind::Function,
                "public.f(text)",
                &[("body_md5", "def"), ("volatility", "v"), ("comment", "hi")],
            ),
        ]);
        let text = render_diff(&diff(&before, &after));
        assert_eq!(
            text,
            "+ table public.t\n\
             - view public.v\n\
             ~ function public.f(text)\n    \
             body_md5: abc → def\n    \
             comment: (none) → hi\n"
        );
    }

    #[test]
    fn removed_attribute_reads_none() {
        let before = snap(vec![obj(
            ObjKind::Column,
            "public.t.c",
            &[("default", "0")],
        )]);
        let after = snap(vec![obj(ObjKind::Column, "public.t.c", &[])]);
        assert_eq!(
            render_diff(&diff(&before, &after)),
            "~ column public.t.c\n    default: 0 → (none)\n"
        );
    }

    #[test]
    fn multiline_values_render_as_blocks() {
        let before = snap(vec![obj(
            ObjKind::View,
            "public.v",
            &[("definition", " SELECT a\n   FROM t;")],
        )]);
        let after = snap(vec![obj(
            ObjKind::View,
            "public.v",
            &[("definition", " SELECT a,\n    b\n   FROM t;")],
        )]);
        assert_eq!(
            render_diff(&diff(&before, &after)),
            "~ view public.v\n    definition:\n      -  SELECT a\n      -    FROM t;\n      +  SELECT a,\n      +     b\n      +    FROM t;\n"
        );
    }

    #[test]
    fn long_values_render_as_blocks() {
        let long_a = "x".repeat(80);
        let long_b = "y".repeat(80);
        let before = snap(vec![obj(
            ObjKind::Index,
            "public.i",
            &[("definition", &long_a)],
        )]);
        let after = snap(vec![obj(
            ObjKind::Index,
            "public.i",
            &[("definition", &long_b)],
        )]);
        let text = render_diff(&diff(&before, &after));
        assert_eq!(
            text,
            format!("~ index public.i\n    definition:\n      - {long_a}\n      + {long_b}\n")
        );
    }
}
