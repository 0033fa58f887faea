//! `stepgate lint`: static checks of a pack. Never connects to a database.

use crate::core::lint::{self, Diagnostic};
use crate::engine::pack::{self, LoadedPack};
use crate::engine::Result;
use std::path::Path;

pub struct LintReport {
    pub loaded: LoadedPack,
    pub diagnostics: Vec<Diagnostic>,
}

pub fn run(dir: &Path) -> Result<LintReport> {
    let loaded = pack::load(dir)?;
    let diagnostics = lint::run(&loaded.pack, &loaded.sources);
    Ok(LintReport {
        loaded,
        diagnostics,
    })
}
