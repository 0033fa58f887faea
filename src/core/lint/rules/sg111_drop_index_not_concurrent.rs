//! SG111 drop-index-without-concurrently: `DROP INDEX` without `CONCURRENTLY` of an
//! index the pack did not create.
//!
//! Why: a plain `DROP INDEX` takes an ACCESS EXCLUSIVE lock on the index's table: no
//! reads, no writes until it is done — and while it waits for running queries to let go,
//! every new query on the table queues behind it. `DROP INDEX CONCURRENTLY` waits for
//! those queries without blocking anyone. It cannot run inside a transaction block, so
//! it goes in a step of its own with `transactional = false`.
//! Indexes created by a step of the same pack are exempt: nothing uses them yet.

use crate::core::lint::hazard::{dotted_name, objects_created_in_pack, step_statements};
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

pub struct DropIndexNotConcurrent;

impl Rule for DropIndexNotConcurrent {
    fn code(&self) -> &'static str {
        "SG111"
    }
    fn name(&self) -> &'static str {
        "drop-index-without-concurrently"
    }
    fn summary(&self) -> &'static str {
        "DROP INDEX without CONCURRENTLY"
    }
    fn explanation(&self) -> &'static str {
        "A plain DROP INDEX locks the index's table ACCESS EXCLUSIVE: no reads or writes until it finishes, and every query queues behind it while it waits. Use DROP INDEX CONCURRENTLY in a step of its own with `transactional = false`."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = objects_created_in_pack(ctx);
        for s in step_statements(ctx) {
            let Some(NodeEnum::DropStmt(d)) = &s.stmt.node else {
                continue;
            };
            if d.remove_type != ObjectType::ObjectIndex as i32 || d.concurrent {
                continue;
            }
            for name in d.objects.iter().filter_map(dotted_name) {
                if created.contains(&format!("index {name}")) {
                    continue;
                }
                out.stmt(
                    s.file,
                    s.stmt,
                    format!("dropping index {name} without CONCURRENTLY locks its table ACCESS EXCLUSIVE: reads and writes wait"),
                    Some("use DROP INDEX CONCURRENTLY in a step of its own with `transactional = false`".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG111", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_concurrently() {
        assert_eq!(run("DROP INDEX a_c_idx;"), 1);
        assert_eq!(run("DROP INDEX IF EXISTS app.a_c_idx, b_idx;"), 2);
    }

    #[test]
    fn quiet_when_concurrent_or_created_in_pack() {
        assert_eq!(run("DROP INDEX CONCURRENTLY IF EXISTS a_c_idx;"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int);\nCREATE INDEX n_c_idx ON n (c);\nDROP INDEX n_c_idx;"),
            0
        );
        assert_eq!(run("DROP TABLE IF EXISTS a;"), 0);
    }
}
