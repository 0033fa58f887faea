//! `stepgate freeze`: writes `stepgate.lock`, the sha256 of every file of the pack
//! (the frozen plan, G-3 in the seeds). `lint` reports any file that differs from
//! it and `apply` refuses while one does.

use crate::core::lint::rules::sg004_lock_mismatch::render_lock;
use crate::engine::pack::{self, LOCK_FILE};
use crate::engine::{Error, Result};
use std::path::{Path, PathBuf};

pub fn run(dir: &Path) -> Result<(PathBuf, Vec<(String, String)>)> {
    let loaded = pack::load(dir)?;
    let mut missing = Vec::new();
    for (rel, content) in &loaded.sources.files {
        if content.is_err() {
            missing.push(rel.clone());
        }
    }
    if !missing.is_empty() {
        return Err(Error::BadInput(format!(
            "cannot freeze: unreadable file(s): {}",
            missing.join(", ")
        )));
    }
    let entries: Vec<(String, String)> = loaded
        .sources
        .sha256
        .iter()
        .map(|(p, h)| (p.clone(), h.clone()))
        .collect();
    let path = dir.join(LOCK_FILE);
    std::fs::write(&path, render_lock(&entries))
        .map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?;
    Ok((path, entries))
}
