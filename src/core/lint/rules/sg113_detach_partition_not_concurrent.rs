//! SG113 detach-partition-without-concurrently: `ALTER TABLE … DETACH PARTITION`
//! without `CONCURRENTLY`.
//!
//! Why: a plain DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned
//! parent: no reads or writes on any partition until it is done, and it queues behind
//! every running query. `DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+) takes only a
//! SHARE UPDATE EXCLUSIVE lock on the parent; it cannot run inside a transaction block,
//! so it goes in a step with `transactional = false` (and if it is interrupted,
//! `DETACH PARTITION … FINALIZE` completes it). Before 14 (`[pack.target]
//! server_version`) there is no concurrent form: detach in a quiet window with a short
//! lock_timeout. Partitioned tables created in the same pack are exempt.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::AlterTableType;
use pg_query::NodeEnum;

pub struct DetachPartitionNotConcurrent;

impl Rule for DetachPartitionNotConcurrent {
    fn code(&self) -> &'static str {
        "SG113"
    }
    fn name(&self) -> &'static str {
        "detach-partition-without-concurrently"
    }
    fn summary(&self) -> &'static str {
        "DETACH PARTITION without CONCURRENTLY on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "A plain DETACH PARTITION locks the whole partitioned table ACCESS EXCLUSIVE. Use DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+) in a step with `transactional = false`; before 14, detach in a quiet window under a short lock_timeout."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let help = if ctx.server_before(14) {
            "PostgreSQL before 14 has no concurrent detach: do it in a quiet window under a short lock_timeout"
        } else {
            "use DETACH PARTITION … CONCURRENTLY in a step of its own with `transactional = false`"
        };
        for a in alters_on_existing_tables(ctx) {
            if a.cmd.subtype != AlterTableType::AtDetachPartition as i32 {
                continue;
            }
            let concurrent = matches!(
                a.cmd.def.as_ref().and_then(|d| d.node.as_ref()),
                Some(NodeEnum::PartitionCmd(p)) if p.concurrent
            );
            if concurrent {
                continue;
            }
            out.stmt(
                a.file,
                a.stmt,
                format!("detaching a partition of {} without CONCURRENTLY locks the whole partitioned table ACCESS EXCLUSIVE", a.table),
                Some(help.into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG113", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_concurrently() {
        assert_eq!(run("ALTER TABLE m DETACH PARTITION m_2020;"), 1);
    }

    #[test]
    fn quiet_when_concurrent_finalize_or_new() {
        assert_eq!(
            run("ALTER TABLE m DETACH PARTITION m_2020 CONCURRENTLY;"),
            0
        );
        assert_eq!(
            run("CREATE TABLE m (d date) PARTITION BY RANGE (d);\nALTER TABLE m DETACH PARTITION m_2020;"),
            0
        );
    }
}
