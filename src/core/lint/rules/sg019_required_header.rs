//! SG019 required-header: every marker listed in `[pack.lint] require_header` appears in
//! a comment in section A of each step file.
//!
//! Why: doc 99.5 — every step file must state, in its header, its authorization or
//! "REHEARSAL-ONLY", the authorizing approval row, the council record, and so on. A
//! team lists the markers it insists on (e.g. `REHEARSAL-ONLY`, `M-1`, `council`) and
//! the linter holds every step to them, so a hand-assembled file cannot drop the line
//! that tells a reader under what authority it may ever be committed. Matching is
//! case-sensitive, against comments placed before the section B mark.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};

pub struct RequiredHeader;

impl Rule for RequiredHeader {
    fn code(&self) -> &'static str {
        "SG019"
    }
    fn name(&self) -> &'static str {
        "required-header"
    }
    fn summary(&self) -> &'static str {
        "section A carries every marker listed in [pack.lint] require_header"
    }
    fn explanation(&self) -> &'static str {
        "List the header markers your change process requires in `[pack.lint] require_header = [\"REHEARSAL-ONLY\", …]`. Each must appear (case-sensitive) in a comment in section A of every step file — before the `-- SECTION B` mark — e.g. `-- REHEARSAL-ONLY unless the M-1 row and the council record are live-verified` (doc 99.5)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let required = &ctx.pack.manifest.pack.lint.require_header;
        if required.is_empty() {
            return;
        }
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Step(_)))
        {
            let limit = f
                .sql
                .sections
                .iter()
                .find(|m| m.letter == 'B')
                .map(|m| m.start)
                .or_else(|| f.sql.statements.first().map(|s| s.start))
                .unwrap_or(f.sql.src.len());
            let header: Vec<&str> = f
                .sql
                .comments
                .iter()
                .filter(|c| c.start < limit)
                .map(|c| c.text.as_str())
                .collect();
            let at = f
                .sql
                .sections
                .iter()
                .find(|m| m.letter == 'A')
                .map(|m| m.start)
                .unwrap_or(0);
            for marker in required {
                if !header.iter().any(|c| c.contains(marker.as_str())) {
                    out.at(
                        &f.rel,
                        &f.sql.src,
                        at,
                        1,
                        format!("section A does not carry the required header marker `{marker}`"),
                        Some(format!("add a comment line containing `{marker}` to section A (doc 99.5); [pack.lint] require_header lists the markers")),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const PACK: &str = "[pack.lint]\nrequire_header = [\"REHEARSAL-ONLY\", \"M-1\"]";

    #[test]
    fn fires_when_marker_missing_or_outside_section_a() {
        let sql = step_sql("-- REHEARSAL-ONLY").replace("-- step 1", "-- step 1, gate M-1");
        let d = of("SG019", &lint_step_sql(&sql));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("REHEARSAL-ONLY") && d[0].line == 1);
        let sql = step_sql("SELECT 1;").replace("-- step 1", "-- rehearsal-only m-1");
        assert_eq!(of("SG019", &lint_step_sql(&sql)).len(), 2);
    }

    #[test]
    fn quiet_when_markers_present() {
        let sql = step_sql("SELECT 1;").replace(
            "-- step 1",
            "-- step 1: M-1 row 42\n/* REHEARSAL-ONLY unless live-verified */",
        );
        assert!(of("SG019", &lint_step_sql(&sql)).is_empty());
        let d = lint_step("", "", "SELECT 1;", "SELECT 1;");
        assert!(of("SG019", &d).is_empty());
    }

    fn lint_step_sql(sql: &str) -> Vec<crate::core::lint::Diagnostic> {
        lint(
            &manifest_with(PACK, ""),
            &[
                ("01.sql", sql),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        )
    }
}
