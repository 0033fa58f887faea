//! SG017 non-transactional-statement: a statement that cannot run inside a transaction
//! block sits in a transactional step, or a `transactional = false` step holds anything
//! but such statements and read-only checks.
//!
//! Why: `CREATE INDEX CONCURRENTLY`, `VACUUM`, `REINDEX … CONCURRENTLY`, `DROP INDEX
//! CONCURRENTLY`, `DETACH PARTITION … CONCURRENTLY`, bare `CLUSTER` and the rest of
//! PostgreSQL 15's `PreventInTransactionBlock` callers (the table is
//! `crate::core::sql::prevented_in_transaction_block`) fail with "cannot run inside a transaction block" — the
//! rehearsal would fail, or worse, the statement is dropped for a blocking variant to
//! make the error go away. Such work goes in its own step marked `transactional =
//! false`. That step has no transaction to roll back, so it must hold nothing else:
//! each statement autocommits on its own, and a write beside it could never be
//! rehearsed away. (Its timeouts are set by the runner; BEGIN, COMMIT and SET LOCAL
//! have no meaning there.) A rollback file without BEGIN for such a step is checked the same way.

use crate::core::lint::{Emitter, FileRole, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::StmtClass;

pub struct NonTransactional;

impl Rule for NonTransactional {
    fn code(&self) -> &'static str {
        "SG017"
    }
    fn name(&self) -> &'static str {
        "non-transactional-statement"
    }
    fn summary(&self) -> &'static str {
        "statements that cannot run in a transaction block live alone in a `transactional = false` step"
    }
    fn explanation(&self) -> &'static str {
        "The statements PostgreSQL 15 refuses inside a transaction block (its PreventInTransactionBlock callers): CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, REINDEX SCHEMA/DATABASE/SYSTEM, VACUUM, bare CLUSTER, ALTER TABLE … DETACH PARTITION … CONCURRENTLY, CREATE/DROP DATABASE, ALTER DATABASE … SET TABLESPACE, CREATE/DROP TABLESPACE, ALTER SYSTEM, DISCARD ALL, CREATE SUBSCRIPTION that creates a slot, ALTER SUBSCRIPTION … REFRESH or with refresh, DROP SUBSCRIPTION. (REFRESH MATERIALIZED VIEW CONCURRENTLY, ANALYZE and CLUSTER of one table run in a transaction; CLUSTER or REINDEX of a partitioned table is refused too, which only the catalog can tell: the rehearsal reports it.) Put each in its own step with `transactional = false`; stepgate then runs the file statement by statement and checks such a step differently (e.g. `pg_index.indisvalid` after CREATE INDEX CONCURRENTLY). A non-transactional step may contain only those statements and read-only checks (SELECT, read-only DO guards): no BEGIN/COMMIT/ROLLBACK, no SET LOCAL, and no other writes, which would autocommit one by one with no rehearsal able to undo them."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in &ctx.files {
            match f.role {
                FileRole::Step(i) => match ctx.pack.manifest.step.get(i) {
                    Some(s) if s.transactional => in_transaction(f, out),
                    Some(_) => outside_transaction(f, out),
                    None => {}
                },
                FileRole::Rollback(_) => {
                    if super::sg012_transaction_shape::is_non_transactional_rollback(ctx, f) {
                        outside_transaction(f, out);
                    } else {
                        in_transaction(f, out);
                    }
                }
                _ => {}
            }
        }
    }
}

fn in_transaction(f: &ParsedFile, out: &mut Emitter) {
    for st in &f.sql.statements {
        if let StmtClass::NonTransactional { what } = &st.class {
            out.stmt(
                f,
                st,
                format!("{what} cannot run inside a transaction block"),
                Some("mark the step transactional = false and put it in its own step".into()),
            );
        }
    }
}

fn outside_transaction(f: &ParsedFile, out: &mut Emitter) {
    for st in &f.sql.statements {
        let msg = match &st.class {
            StmtClass::NonTransactional { .. } | StmtClass::ReadOnly => continue,
            StmtClass::Begin | StmtClass::Commit | StmtClass::Rollback | StmtClass::OtherTransactionControl { .. } => {
                "transaction control in a non-transactional step".to_string()
            }
            StmtClass::SetLocal { name, .. } => format!("`SET LOCAL {name}` in a non-transactional step has no transaction to scope it"),
            StmtClass::SetSession { name, .. } => format!("`SET {name}` in a non-transactional step changes the runner's session"),
            StmtClass::Write => "a write in a non-transactional step autocommits on its own and no rehearsal can roll it back".to_string(),
        };
        out.stmt(
            f,
            st,
            msg,
            Some("a transactional = false step holds only statements that cannot run in a transaction block, plus read-only checks; the runner sets the timeouts; move everything else to a transactional step".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_in_transactional_step() {
        let d = of(
            "SG017",
            &lint_step("", "", "CREATE INDEX CONCURRENTLY i ON t (x);", "SELECT 1;"),
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message.contains("CREATE INDEX CONCURRENTLY")
                && d[0]
                    .help
                    .as_deref()
                    .unwrap_or("")
                    .contains("transactional = false")
        );
    }

    #[test]
    fn fires_on_extras_in_non_transactional_step() {
        let m = manifest_with("", "transactional = false");
        let sql = "BEGIN;\nSET LOCAL lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON t (x);\nUPDATE t SET x = 1 WHERE id = 1;\nCOMMIT;\n";
        let d = of(
            "SG017",
            &lint(
                &m,
                &[
                    ("01.sql", sql),
                    ("rollback/01.sql", "DROP INDEX CONCURRENTLY i;\n"),
                ],
            ),
        );
        assert_eq!(
            d.iter().map(|x| x.line).collect::<Vec<_>>(),
            vec![1, 2, 4, 5],
            "{d:?}"
        );
    }

    #[test]
    fn matches_postgres_in_a_transactional_step() {
        for (stmt, refused) in [
            ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;", true),
            ("ALTER TABLE p DETACH PARTITION p1;", false),
            ("CLUSTER;", true),
            ("CLUSTER t USING t_pkey;", false),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'dbname=x' PUBLICATION p;",
                true,
            ),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'dbname=x' PUBLICATION p WITH (connect = false);",
                false,
            ),
            ("ALTER DATABASE d SET TABLESPACE ts;", true),
            ("ALTER DATABASE d SET work_mem = '4MB';", false),
            ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv;", false),
            ("DISCARD ALL;", true),
            ("DISCARD PLANS;", false),
            ("VACUUM t;", true),
            ("ANALYZE t;", false),
        ] {
            let d = of("SG017", &lint_step("", "", stmt, "SELECT 1;"));
            assert_eq!(d.len(), usize::from(refused), "{stmt}: {d:?}");
        }
    }

    #[test]
    fn detach_concurrently_passes_in_a_non_transactional_step() {
        let m = manifest_with("", "transactional = false");
        let d = of(
            "SG017",
            &lint(
                &m,
                &[
                    ("01.sql", "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;
"),
                    (
                        "rollback/01.sql",
                        "BEGIN;\nALTER TABLE p ATTACH PARTITION p1 FOR VALUES FROM (0) TO (10);\nCOMMIT;\n",
                    ),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
        // REFRESH … CONCURRENTLY runs in a transaction: it is an ordinary write here.
        let d = of(
            "SG017",
            &lint(
                &m,
                &[
                    (
                        "01.sql",
                        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
",
                    ),
                    (
                        "rollback/01.sql",
                        "SELECT 1;
",
                    ),
                ],
            ),
        );
        assert_eq!(d.len(), 1, "{d:?}");
    }

    #[test]
    fn quiet_on_well_formed_steps() {
        let m = manifest_with("", "transactional = false");
        let sql = "-- SECTION A\nSELECT 1;\nDO $$ BEGIN IF to_regclass('public.i') IS NOT NULL THEN RAISE EXCEPTION 'exists'; END IF; END $$;\nCREATE INDEX CONCURRENTLY i ON t (x);\nSELECT indisvalid FROM pg_index WHERE indexrelid = 'i'::regclass;\n";
        let d = of(
            "SG017",
            &lint(
                &m,
                &[
                    ("01.sql", sql),
                    ("rollback/01.sql", "DROP INDEX CONCURRENTLY IF EXISTS i;\n"),
                ],
            ),
        );
        assert!(d.is_empty(), "{d:?}");
        assert!(of(
            "SG017",
            &lint_step("", "", "CREATE INDEX i ON t (x);", "DROP INDEX i;")
        )
        .is_empty());
    }
}
