//! SG129 blocking-table-rewrite: `VACUUM FULL`, `CLUSTER` or a plain `REFRESH
//! MATERIALIZED VIEW`.
//!
//! Why: `VACUUM FULL` and `CLUSTER` copy the whole table into new files under an ACCESS
//! EXCLUSIVE lock — no reads, no writes for as long as the copy takes, plus disk for a
//! second copy. `CLUSTER` or `VACUUM FULL` without a table name does it to every table
//! in the database. To reclaim space or reorder rows online use `pg_repack` or
//! `pg_squeeze` (or PostgreSQL 19's `REPACK`), outside the pack. A plain `REFRESH
//! MATERIALIZED VIEW` likewise locks the view ACCESS EXCLUSIVE while it recomputes:
//! use `REFRESH MATERIALIZED VIEW CONCURRENTLY` (needs a unique index on the view).

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::NodeEnum;

pub struct BlockingRewrite;

fn has_option(opts: &[pg_query::protobuf::Node], name: &str) -> bool {
    opts.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) if d.defname == name => {
            match d.arg.as_deref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::Boolean(b)) => b.boolval,
                Some(NodeEnum::String(s)) => !matches!(s.sval.as_str(), "false" | "off" | "0"),
                Some(NodeEnum::Integer(i)) => i.ival != 0,
                _ => true,
            }
        }
        _ => false,
    })
}

/// What the statement rewrites under ACCESS EXCLUSIVE, and what to do instead.
fn rewrite_of(n: &NodeEnum) -> Option<(&'static str, &'static str)> {
    let online = "use pg_repack or pg_squeeze (PostgreSQL 19: REPACK) outside the pack";
    match n {
        NodeEnum::VacuumStmt(v) if v.is_vacuumcmd && has_option(&v.options, "full") => {
            Some(("VACUUM FULL rewrites the table", online))
        }
        NodeEnum::ClusterStmt(_) => Some(("CLUSTER rewrites the table", online)),
        NodeEnum::RefreshMatViewStmt(r) if !r.concurrent && !r.skip_data => Some((
            "REFRESH MATERIALIZED VIEW recomputes the view",
            "use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view)",
        )),
        _ => None,
    }
}

impl Rule for BlockingRewrite {
    fn code(&self) -> &'static str {
        "SG129"
    }
    fn name(&self) -> &'static str {
        "blocking-table-rewrite"
    }
    fn summary(&self) -> &'static str {
        "VACUUM FULL, CLUSTER or a plain REFRESH MATERIALIZED VIEW (ACCESS EXCLUSIVE rewrite)"
    }
    fn explanation(&self) -> &'static str {
        "VACUUM FULL and CLUSTER copy the whole table under ACCESS EXCLUSIVE (no reads or writes), every table when none is named; a plain REFRESH MATERIALIZED VIEW locks the view the same way. Use pg_repack/pg_squeeze (PostgreSQL 19: REPACK) outside the pack, and REFRESH MATERIALIZED VIEW CONCURRENTLY."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            let Some((what, help)) = s.stmt.node.as_ref().and_then(rewrite_of) else {
                continue;
            };
            out.stmt(
                s.file,
                s.stmt,
                format!(
                    "{what} under an ACCESS EXCLUSIVE lock: no reads or writes until it is done"
                ),
                Some(help.into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG129", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_rewrites() {
        assert_eq!(run("VACUUM FULL a;"), 1);
        assert_eq!(run("VACUUM (FULL) a;"), 1);
        assert_eq!(run("CLUSTER a USING a_pkey;"), 1);
        assert_eq!(run("CLUSTER;"), 1);
        assert_eq!(run("REFRESH MATERIALIZED VIEW mv;"), 1);
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(run("VACUUM ANALYZE a;"), 0);
        assert_eq!(run("VACUUM (FULL FALSE) a;"), 0);
        assert_eq!(run("VACUUM FREEZE a;"), 0);
        assert_eq!(run("REFRESH MATERIALIZED VIEW CONCURRENTLY mv;"), 0);
        assert_eq!(run("ANALYZE a;"), 0);
    }
}
