//! SG112 reindex-without-concurrently: `REINDEX` without `CONCURRENTLY`.
//!
//! Why: a plain `REINDEX` locks the index ACCESS EXCLUSIVE (and its table SHARE, so no
//! writes) for the whole rebuild; `REINDEX TABLE`/`SCHEMA`/`DATABASE` does so for every
//! index in turn. `REINDEX … CONCURRENTLY` (PostgreSQL 12+) rebuilds under a SHARE
//! UPDATE EXCLUSIVE lock that lets reads and writes go on; it cannot run inside a
//! transaction block, so it goes in a step with `transactional = false`. Before 12
//! (`[pack.target] server_version`), build a replacement with `CREATE INDEX
//! CONCURRENTLY` and drop the old one concurrently. `REINDEX SYSTEM` (catalogs only,
//! which cannot be rebuilt concurrently) is not reported.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::NodeEnum;

pub struct ReindexNotConcurrent;

impl Rule for ReindexNotConcurrent {
    fn code(&self) -> &'static str {
        "SG112"
    }
    fn name(&self) -> &'static str {
        "reindex-without-concurrently"
    }
    fn summary(&self) -> &'static str {
        "REINDEX without CONCURRENTLY"
    }
    fn explanation(&self) -> &'static str {
        "A plain REINDEX blocks writes to the table (and every use of the index) for the whole rebuild. Use REINDEX … CONCURRENTLY (PostgreSQL 12+) in a step with `transactional = false`; before 12, CREATE INDEX CONCURRENTLY a replacement and DROP INDEX CONCURRENTLY the old one."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let help = if ctx.server_before(12) {
            "before PostgreSQL 12: CREATE INDEX CONCURRENTLY a replacement, then DROP INDEX CONCURRENTLY the old one"
        } else {
            "use REINDEX … CONCURRENTLY in a step of its own with `transactional = false`"
        };
        for s in step_statements(ctx) {
            let Some(NodeEnum::ReindexStmt(r)) = &s.stmt.node else {
                continue;
            };
            let concurrent = r.params.iter().any(|p| {
                matches!(p.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "concurrently")
            });
            // System catalogs cannot be reindexed concurrently at all.
            if concurrent
                || r.kind == pg_query::protobuf::ReindexObjectType::ReindexObjectSystem as i32
            {
                continue;
            }
            out.stmt(
                s.file,
                s.stmt,
                "REINDEX without CONCURRENTLY blocks writes to the table, and every query using the index, for the whole rebuild",
                Some(help.into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG112", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_concurrently() {
        assert_eq!(run("REINDEX INDEX a_c_idx;"), 1);
        assert_eq!(run("REINDEX TABLE app.a;"), 1);
        assert_eq!(run("REINDEX (VERBOSE) TABLE a;"), 1);
    }

    #[test]
    fn quiet_when_concurrent() {
        assert_eq!(run("REINDEX INDEX CONCURRENTLY a_c_idx;"), 0);
        assert_eq!(run("REINDEX (CONCURRENTLY) TABLE a;"), 0);
        assert_eq!(run("REINDEX SYSTEM db;"), 0);
    }
}
