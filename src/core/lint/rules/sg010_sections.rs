//! SG010 sections: every step file carries the sections A–I of doc 99.2, each once,
//! in canonical order.
//!
//! Why: an approver reads a step file top to bottom expecting the header, the
//! preflight assertions, the single BEGIN, the fold-ins, the DDL/DML, the
//! in-transaction checks, the commit boundary, the post-commit checks and the
//! rollback pointer, always in that order. A missing or shuffled section is how a
//! check silently drops out of a hand-assembled file. Sections are marked with
//! comments of the form `-- SECTION X` (anything may follow the letter). Steps with
//! `transactional = false` are exempt: they have no transaction to frame.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};

pub struct Sections;

pub const CANONICAL: [char; 9] = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'];

impl Rule for Sections {
    fn code(&self) -> &'static str {
        "SG010"
    }
    fn name(&self) -> &'static str {
        "sections"
    }
    fn summary(&self) -> &'static str {
        "step files carry sections A–I (doc 99.2), each once, in canonical order"
    }
    fn explanation(&self) -> &'static str {
        "Mark each section with a comment `-- SECTION X — TITLE` where X is A..I: A header, B preflight assertions, C BEGIN + SET LOCAL timeouts, D fold-ins, E the DDL/DML, F in-transaction verification and negative tests, G the terminal ROLLBACK, H post-commit verification, I rollback reference. `stepgate init` writes a correct skeleton."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        // Non-transactional steps (CONCURRENTLY) have no BEGIN or terminal keyword to frame.
        let transactional = |i: usize| {
            ctx.pack
                .manifest
                .step
                .get(i)
                .is_some_and(|s| s.transactional)
        };
        for f in ctx
            .files
            .iter()
            .filter(|f| matches!(f.role, FileRole::Step(i) if transactional(i)))
        {
            let marks = &f.sql.sections;
            let mut last: Option<(char, usize)> = None;
            let mut seen = Vec::new();
            for m in marks {
                if !CANONICAL.contains(&m.letter) {
                    out.at(
                        &f.rel,
                        &f.sql.src,
                        m.start,
                        10,
                        format!("unknown section `{}`", m.letter),
                        Some("sections are A through I".into()),
                    );
                    continue;
                }
                if seen.contains(&m.letter) {
                    out.at(
                        &f.rel,
                        &f.sql.src,
                        m.start,
                        10,
                        format!("section {} appears twice", m.letter),
                        None,
                    );
                    continue;
                }
                if let Some((prev, _)) = last {
                    if m.letter < prev {
                        out.at(
                            &f.rel,
                            &f.sql.src,
                            m.start,
                            10,
                            format!("section {} comes after section {prev}", m.letter),
                            Some("keep the canonical order A, B, C, D, E, F, G, H, I".into()),
                        );
                    }
                }
                seen.push(m.letter);
                last = Some((m.letter, m.start));
            }
            let missing: Vec<String> = CANONICAL
                .iter()
                .filter(|c| !seen.contains(c))
                .map(|c| c.to_string())
                .collect();
            if !missing.is_empty() {
                out.at(
                    &f.rel,
                    &f.sql.src,
                    0,
                    1,
                    format!("missing section(s) {}", missing.join(", ")),
                    Some("add a `-- SECTION X — TITLE` comment for each; `stepgate init` shows the skeleton".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_missing_and_misordered() {
        let sql = step_sql("SELECT 1;").replace("-- SECTION D — FOLD-INS\n", "");
        let d = of(
            "SG010",
            &lint(
                &manifest_with("[pack.lint]\nprofile = \"sections\"", ""),
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("missing section(s) D"));
        let sql = step_sql("SELECT 1;")
            .replace("-- SECTION B — PREFLIGHT ASSERTIONS\n", "")
            .replace("-- SECTION F", "-- SECTION B\n-- SECTION F");
        let d = of(
            "SG010",
            &lint(
                &manifest_with("[pack.lint]\nprofile = \"sections\"", ""),
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("section B comes after section E")),
            "{d:?}"
        );
    }

    #[test]
    fn quiet_on_canonical_file() {
        let d = of(
            "SG010",
            &lint(
                &manifest_with("[pack.lint]\nprofile = \"sections\"", ""),
                &[
                    ("01.sql", &step_sql("SELECT 1;")),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
