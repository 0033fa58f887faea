//! SG013 post-commit-read-only: statements after the terminal ROLLBACK/COMMIT (section H,
//! post-commit verification) must be read-only.
//!
//! Why: once the terminal keyword has run, the step's transaction is over. Whatever
//! follows runs in autocommit, one statement at a time: in the build variant a write
//! there commits on its own, outside the step's gates, its measured delta and its
//! rollback; in the rehearsal it survives the ROLLBACK that was supposed to prove
//! entry == exit. Section H exists to look (doc 101 re-verification), never to touch.
//! The same holds for anything after a rollback file's COMMIT.

use crate::core::lint::{Emitter, FileRole, LintContext, Rule, Severity};

pub struct PostCommitReadOnly;

impl Rule for PostCommitReadOnly {
    fn code(&self) -> &'static str {
        "SG013"
    }
    fn name(&self) -> &'static str {
        "post-commit-read-only"
    }
    fn summary(&self) -> &'static str {
        "statements after the terminal ROLLBACK/COMMIT (section H) are read-only"
    }
    fn explanation(&self) -> &'static str {
        "After the terminal keyword the transaction is closed and every further statement autocommits by itself: a write in section H would escape the rehearsal's proof, the gates and the step's rollback. Keep section H to SELECTs and read-only DO guards that re-verify the result (doc 101); move any change into the body (section E) or into a later step."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in &ctx.files {
            let transactional = match f.role {
                FileRole::Step(i) => ctx
                    .pack
                    .manifest
                    .step
                    .get(i)
                    .is_some_and(|s| s.transactional),
                FileRole::Rollback(_) => {
                    !super::sg012_transaction_shape::is_non_transactional_rollback(ctx, f)
                }
                _ => false,
            };
            if !transactional {
                continue;
            }
            let (_, after) = f.sql.split_at_terminal();
            for st in after {
                if st.is_read_only() || st.is_transaction_control() {
                    continue; // transaction control is SG012's business
                }
                if crate::core::plan::opaque_read_only(st) {
                    // Section H runs in a READ ONLY transaction: PostgreSQL refuses any
                    // write this hides, so it cannot escape; lint can only warn.
                    out.stmt(
                        f,
                        st,
                        "this statement after the terminal keyword cannot be fully read statically (dynamic SQL, CALL or a non-PL/pgSQL block); it runs in a READ ONLY transaction, so a write there fails rather than escapes",
                        Some("prefer a constant query (EXECUTE 'SELECT …' is analysed like any statement) or plain SQL, so lint can see the check only reads".into()),
                    );
                    if let Some(d) = out.diagnostics.last_mut() {
                        d.severity = d.severity.min(Severity::Warning);
                    }
                    continue;
                }
                out.stmt(
                    f,
                    st,
                    "this statement runs after the terminal keyword, outside the transaction, and changes the database",
                    Some("post-commit checks only read; move the change before the terminal keyword, or into its own step".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;
    use crate::core::lint::Severity;

    #[test]
    fn fires_on_write_after_terminal() {
        let sql = step_sql("SELECT 1;").replace(
            "-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1;",
            "-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1;\nUPDATE t SET x = 1 WHERE id = 2;",
        );
        let d = of(
            "SG013",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", &sql),
                    (
                        "rollback/01.sql",
                        &format!("{}DELETE FROM t;\n", rollback_sql("SELECT 1;")),
                    ),
                ],
            ),
        );
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(
            d.iter().any(|x| x.file == "01.sql" && x.line == 19),
            "{d:?}"
        );
        assert!(d.iter().any(|x| x.file == "rollback/01.sql"), "{d:?}");
    }

    #[test]
    fn an_opaque_read_only_check_in_section_h_is_a_warning_a_known_write_an_error() {
        let h = "-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1;";
        let opaque = "DO $$ BEGIN EXECUTE format('SELECT count(*) FROM %I', 't'); END $$;";
        let write = "DO $$ BEGIN EXECUTE format('SELECT 1 FROM %I', 't'); DELETE FROM t; END $$;";
        let sql = step_sql("SELECT 1;").replace(h, &format!("{h}\n{opaque}\n{write}"));
        let files = [
            ("01.sql", sql.as_str()),
            ("rollback/01.sql", &rollback_sql("SELECT 1;")),
        ];
        let d = of("SG013", &lint(&manifest_with("", ""), &files));
        let sev: Vec<_> = d.iter().map(|x| (x.line, x.severity)).collect();
        assert_eq!(
            sev,
            vec![(19, Severity::Warning), (20, Severity::Error)],
            "{d:?}"
        );
        // The plan admits the opaque check there (it runs READ ONLY), never the write.
        let file = crate::core::sql::parse_file("01.sql", &sql).expect("parse");
        let post: Vec<_> = file.statements.iter().filter(|s| s.line >= 19).collect();
        assert!(crate::core::plan::opaque_read_only(post[0]));
        assert!(!crate::core::plan::opaque_read_only(post[1]));
    }

    #[test]
    fn quiet_on_read_only_section_h() {
        let sql = step_sql("INSERT INTO t VALUES (1);").replace("-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1;", "-- SECTION H — POST-COMMIT VERIFICATION\nSELECT count(*) FROM t;\nDO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM t) THEN RAISE EXCEPTION 'x'; END IF; END $$;");
        let d = of(
            "SG013",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
