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
