//! `stepgate import flyway|sqitch|dir SOURCE PACK`: reads a migration folder, writes a
//! pack (plain-SQL steps, effects declared from the static analysis, `TODO review`
//! where it could not infer them), lints it, and says what to review next.

use crate::core::import::{self, Format, Imported, ReviewItem, Skipped};
use crate::core::lint::Severity;
use crate::engine::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Options<'a> {
    pub format: Format,
    pub source: &'a Path,
    pub pack: &'a Path,
    pub database: Option<&'a str>,
    pub environment: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub pack: PathBuf,
    pub source: PathBuf,
    #[serde(flatten)]
    pub imported: Imported,
    pub written: Vec<String>,
    /// Lint of the written pack: errors and warnings, as `file:line: CODE message`.
    pub lint_errors: Vec<String>,
    pub lint_warnings: Vec<String>,
    /// Commands to run next, in order.
    pub next: Vec<String>,
}

impl ImportReport {
    pub fn skipped(&self) -> &[Skipped] {
        &self.imported.skipped
    }
    pub fn review(&self) -> &[ReviewItem] {
        &self.imported.review
    }
}

/// Every file under `dir` (relative paths with `/`), sorted; at most 10 levels deep.
fn read_tree(dir: &Path) -> Result<Vec<(String, String)>> {
    fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, String)>) -> Result<()> {
        if depth > 10 {
            return Ok(());
        }
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::BadInput(format!("{}: {e}", dir.display())))?;
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let ft = e
                .file_type()
                .map_err(|err| Error::BadInput(format!("{}: {err}", p.display())))?;
            if ft.is_dir() {
                walk(root, &p, depth + 1, out)?;
            } else if ft.is_file() && (name.ends_with(".sql") || name == "sqitch.plan") {
                let bytes = std::fs::read(&p)
                    .map_err(|err| Error::BadInput(format!("{}: {err}", p.display())))?;
                let text = String::from_utf8(bytes).map_err(|err| {
                    Error::BadInput(format!(
                        "{}: not UTF-8 (byte {})",
                        p.display(),
                        err.utf8_error().valid_up_to()
                    ))
                })?;
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, text));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, 0, &mut out)?;
    Ok(out)
}

/// A pack id from the pack folder's name.
fn pack_id(pack: &Path) -> String {
    let id: String = pack
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if id.is_empty() {
        "imported".into()
    } else {
        id
    }
}

pub fn run(o: &Options<'_>) -> Result<ImportReport> {
    if !o.source.is_dir() {
        return Err(Error::BadInput(format!(
            "{}: not a folder",
            o.source.display()
        )));
    }
    if o.pack.join(crate::core::manifest::MANIFEST_FILE).exists() {
        return Err(Error::BadInput(format!(
            "{}: already a pack (stepgate.toml exists); not overwriting",
            o.pack.display()
        )));
    }
    let files = read_tree(o.source)?;
    let discovered = match o.format {
        Format::Flyway => import::discover_flyway(&files),
        Format::Dir => import::discover_dir(&files),
        Format::Sqitch => {
            let plan = files
                .iter()
                .find(|(r, _)| r == "sqitch.plan")
                .map(|(_, t)| t.clone())
                .ok_or_else(|| {
                    Error::BadInput(format!(
                        "{}: no sqitch.plan (import sqitch reads the project folder that holds it)",
                        o.source.display()
                    ))
                })?;
            let map: BTreeMap<String, String> = files.iter().cloned().collect();
            import::discover_sqitch(&plan, &map)
        }
    }
    .map_err(|m| Error::BadInput(format!("{}/{m}", o.source.display())))?;
    if discovered.migrations.is_empty() {
        return Err(Error::BadInput(format!(
            "{}: no {} migrations found",
            o.source.display(),
            o.format.name()
        )));
    }
    let id = pack_id(o.pack);
    let title = format!("imported from {} ({})", o.format.name(), o.source.display());
    let imported = import::build(
        &discovered,
        o.format,
        &import::Target {
            pack_id: &id,
            title: &title,
            database: o.database,
            environment: o.environment,
        },
    );
    let mut written = Vec::new();
    for (rel, text) in &imported.files {
        let p = o.pack.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::BadInput(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, text).map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))?;
        written.push(rel.clone());
    }
    let lint = crate::engine::lint::run(o.pack)?;
    let fmt = |d: &crate::core::lint::Diagnostic| {
        format!("{}:{}: {} {}", d.file, d.line, d.code, d.message)
    };
    let lint_errors: Vec<String> = lint
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(fmt)
        .collect();
    let lint_warnings: Vec<String> = lint
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(fmt)
        .collect();
    let p = o.pack.display();
    let mut next = vec![format!("stepgate lint {p}")];
    if let Some(first) = imported.steps.iter().find(|s| s.transactional) {
        next.push(format!("stepgate rehearse -p {p} --step {}", first.id));
    }
    next.push(format!(
        "stepgate review -p {p} --format html -o review.html"
    ));
    Ok(ImportReport {
        pack: o.pack.to_path_buf(),
        source: o.source.to_path_buf(),
        imported,
        written,
        lint_errors,
        lint_warnings,
        next,
    })
}
