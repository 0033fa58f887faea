//! Reading a pack from disk: the manifest, every file it names, the stray `.sql`
//! files beside them, the lock file, and the sha256 of each.

use crate::core::lint::PackSources;
use crate::core::manifest::{self, Pack, MANIFEST_FILE};
use crate::engine::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "stepgate.lock";

/// A validated manifest plus the text of every file it names.
pub struct LoadedPack {
    pub pack: Pack,
    pub sources: PackSources,
}

impl LoadedPack {
    pub fn dir(&self) -> &Path {
        &self.pack.dir
    }

    /// Text of a named file, or a bad-input error naming it.
    pub fn text(&self, rel: &str) -> Result<&str> {
        match self.sources.files.get(rel) {
            Some(Ok(t)) => Ok(t),
            Some(Err(e)) => Err(Error::BadInput(format!(
                "{}: {e}",
                self.dir().join(rel).display()
            ))),
            None => Err(Error::BadInput(format!("{}: not part of the pack", rel))),
        }
    }

    pub fn sha256(&self, rel: &str) -> Option<&str> {
        self.sources.sha256.get(rel).map(String::as_str)
    }

    pub fn manifest_sha256(&self) -> &str {
        self.sha256(MANIFEST_FILE).unwrap_or("")
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every file path (relative) the manifest names.
pub fn named_files(pack: &Pack) -> Vec<String> {
    let m = &pack.manifest;
    let mut out = Vec::new();
    for f in [&m.pack.preflight, &m.pack.verify, &m.pack.allowed_signers]
        .into_iter()
        .flatten()
    {
        out.push(f.get_ref().clone());
    }
    for s in &m.step {
        for f in [&s.file, &s.rollback].into_iter().flatten() {
            out.push(f.get_ref().clone());
        }
    }
    out
}

/// Loads the manifest (bad input → `Error::Source`) and reads the files it names.
pub fn load(dir: &Path) -> Result<LoadedPack> {
    let pack = manifest::load(dir)?;
    let mut sources = PackSources::default();
    sources.sha256.insert(
        MANIFEST_FILE.to_string(),
        sha256_hex(pack.manifest_src.as_bytes()),
    );
    for rel in named_files(&pack) {
        if rel.contains("..") || Path::new(&rel).is_absolute() {
            sources.files.insert(
                rel.clone(),
                Err("files must live inside the pack folder (no absolute paths, no `..`)".into()),
            );
            continue;
        }
        let path = dir.join(&rel);
        match std::fs::read(&path) {
            Ok(bytes) => {
                sources.sha256.insert(rel.clone(), sha256_hex(&bytes));
                let text = String::from_utf8(bytes).map_err(|e| {
                    format!(
                        "not valid UTF-8 (first bad byte at offset {})",
                        e.utf8_error().valid_up_to()
                    )
                });
                sources.files.insert(rel, text);
            }
            Err(e) => {
                sources.files.insert(rel, Err(format!("cannot read: {e}")));
            }
        }
    }
    sources.sql_on_disk = find_sql(dir);
    sources.lock = std::fs::read_to_string(dir.join(LOCK_FILE)).ok();
    Ok(LoadedPack { pack, sources })
}

fn find_sql(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "target" || name == "approvals" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".sql") {
                if let Ok(rel) = p.strip_prefix(dir) {
                    out.push(rel.to_string_lossy().to_string());
                }
            }
        }
    }
    out.sort();
    out
}
