//! SG003 stray-sql-file: a `.sql` file in the pack folder that the manifest does not name.
//!
//! Why: a pack is exactly what its manifest lists — nothing runs, is approved or is
//! checksummed unless it is named there. A stray `.sql` file is usually a step or a
//! rollback someone forgot to wire in (so it silently never runs), or an old draft an
//! approver may read by mistake as the real thing. Name it in stepgate.toml or move it
//! out of the pack.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use std::collections::BTreeSet;

pub struct StraySql;

/// A relative path in one spelling: forward slashes, no leading `./`.
pub fn normalize_rel(p: &str) -> String {
    let s = p.replace('\\', "/");
    let mut s = s.as_str();
    while let Some(rest) = s.strip_prefix("./") {
        s = rest;
    }
    s.to_string()
}

impl Rule for StraySql {
    fn code(&self) -> &'static str {
        "SG003"
    }
    fn name(&self) -> &'static str {
        "stray-sql-file"
    }
    fn summary(&self) -> &'static str {
        "a .sql file in the pack folder is not named by the manifest"
    }
    fn explanation(&self) -> &'static str {
        "Only files named in stepgate.toml are run, checksummed, approved and locked. A .sql file the manifest does not name is either a step or rollback that was never wired in (it will silently never run) or a stale draft that a reviewer may mistake for the real one. Add it to the manifest (a step's `file` or `rollback`, or `preflight`/`verify`), or move it out of the pack folder."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let named: BTreeSet<String> = super::sg002_missing_file::named_files(ctx)
            .iter()
            .map(|(_, rel, _)| normalize_rel(rel))
            .collect();
        for rel in &ctx.sources.sql_on_disk {
            if named.contains(&normalize_rel(rel)) {
                continue;
            }
            let src = match ctx.sources.files.get(rel) {
                Some(Ok(s)) => s.as_str(),
                _ => "",
            };
            out.at(
                rel,
                src,
                0,
                1,
                format!("`{rel}` is in the pack folder but the manifest does not name it"),
                Some("name it in stepgate.toml (a step's `file` or `rollback`, `preflight` or `verify`) or move it out of the pack".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_unnamed_sql_file() {
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ("02_draft.sql", "SELECT 1;"),
            ],
        );
        let d = of("SG003", &d);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].file, "02_draft.sql");
        assert_eq!(d[0].severity, crate::core::lint::Severity::Warning);
    }

    #[test]
    fn quiet_when_every_sql_file_is_named() {
        let m = manifest_with("preflight = \"./00_preflight.sql\"", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ("00_preflight.sql", "SELECT 1;"),
            ],
        );
        assert!(of("SG003", &d).is_empty(), "{d:?}");
    }
}
