//! SG102 index-without-concurrently: `CREATE INDEX` without `CONCURRENTLY` on a table
//! that already exists.
//!
//! Why: a plain `CREATE INDEX` takes a SHARE lock on the table for the whole build.
//! Reads go on, but every INSERT, UPDATE and DELETE waits until the index is finished,
//! which on a large table is minutes to hours of blocked writes (and the queue of
//! waiting writers blocks readers behind it too). `CREATE INDEX CONCURRENTLY` builds
//! the index with a SHARE UPDATE EXCLUSIVE lock that lets writes go on. It cannot run
//! inside a transaction block, so it goes in a step of its own with
//! `transactional = false`; if it fails it leaves an INVALID index behind, which the
//! step's rollback drops with `DROP INDEX CONCURRENTLY IF EXISTS`.
//! (A partitioned parent cannot be indexed concurrently: create the index `ON ONLY`
//! the parent, build each partition's index concurrently and `ATTACH PARTITION` them.)
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{rel_name, tables_created_in_pack, Emitter, LintContext, Rule, Severity};
use pg_query::NodeEnum;

pub struct IndexNotConcurrent;

impl Rule for IndexNotConcurrent {
    fn code(&self) -> &'static str {
        "SG102"
    }
    fn name(&self) -> &'static str {
        "index-without-concurrently"
    }
    fn summary(&self) -> &'static str {
        "CREATE INDEX without CONCURRENTLY on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "A plain CREATE INDEX holds a SHARE lock for the whole build: reads go on but every write to the table waits until the index is done. Use CREATE INDEX CONCURRENTLY (it lets writes go on) in a step of its own with `transactional = false`, and drop the INVALID index it leaves behind if it fails (DROP INDEX CONCURRENTLY IF EXISTS in the rollback)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = tables_created_in_pack(ctx);
        for (_, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                let Some(NodeEnum::IndexStmt(i)) = &st.node else {
                    continue;
                };
                if i.concurrent {
                    continue;
                }
                let Some(rv) = &i.relation else { continue };
                let table = rel_name(rv);
                if created.contains(&table) {
                    continue;
                }
                let what = if i.idxname.is_empty() {
                    "an index".to_string()
                } else {
                    format!("index `{}`", i.idxname)
                };
                out.stmt(
                    f,
                    st,
                    format!("{what} is built on existing table {table} without CONCURRENTLY: writes to the table are blocked for the whole build"),
                    Some("use CREATE INDEX CONCURRENTLY in a step of its own with `transactional = false`".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG102", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("CREATE INDEX a_c_idx ON a (c);"), 1);
        assert_eq!(run("CREATE UNIQUE INDEX ON app.a (c) WHERE c > 0;"), 1);
    }

    #[test]
    fn quiet_when_concurrent_or_new_table() {
        assert_eq!(run("CREATE INDEX CONCURRENTLY a_c_idx ON a (c);"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int);\nCREATE INDEX n_c_idx ON n (c);"),
            0
        );
        assert_eq!(
            run("CREATE TABLE app.n (c int);\nCREATE INDEX ON app.n (c);"),
            0
        );
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step("", "", "SELECT 1;", "CREATE INDEX a_c_idx ON a (c);");
        assert_eq!(of("SG102", &d).len(), 0);
    }
}
