//! SG134 wide-non-unique-index: a non-unique `CREATE INDEX` with more than three key
//! columns.
//!
//! Why: a B-tree index is only used for its leading columns in order; after the first
//! two or three columns narrow the rows down, further key columns rarely make a query
//! faster, but every one of them makes the index larger (more to build, to cache, to
//! write on every INSERT and UPDATE of those columns, and to vacuum). Lead with the
//! columns that narrow results the most and stop at three; to make an index cover a
//! query without widening its key, put the extra columns in `INCLUDE (…)`.
//! (strong_migrations' index_columns check.) Unique indexes are exempt: their columns
//! define the constraint.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::NodeEnum;

pub struct WideIndex;

const MAX_KEYS: usize = 3;

impl Rule for WideIndex {
    fn code(&self) -> &'static str {
        "SG134"
    }
    fn name(&self) -> &'static str {
        "wide-non-unique-index"
    }
    fn summary(&self) -> &'static str {
        "a non-unique index with more than three key columns"
    }
    fn explanation(&self) -> &'static str {
        "Key columns past the first two or three rarely speed up a query but make the index bigger to build, cache, write and vacuum. Lead with the most selective columns, stop at three, and put covering columns in INCLUDE (…)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            let Some(NodeEnum::IndexStmt(i)) = &s.stmt.node else {
                continue;
            };
            if i.unique || i.primary || i.index_params.len() <= MAX_KEYS {
                continue;
            }
            out.stmt(
                s.file,
                s.stmt,
                format!("this non-unique index has {} key columns: those past the first three rarely help a query but make the index bigger to build, write and vacuum", i.index_params.len()),
                Some("keep at most three key columns, most selective first; put covering columns in INCLUDE (…)".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG134", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_wide_indexes() {
        assert_eq!(run("CREATE INDEX CONCURRENTLY i ON t (a, b, c, d);"), 1);
    }

    #[test]
    fn quiet_on_narrow_unique_or_include() {
        assert_eq!(run("CREATE INDEX CONCURRENTLY i ON t (a, b, c);"), 0);
        assert_eq!(
            run("CREATE INDEX CONCURRENTLY i ON t (a, b) INCLUDE (c, d, e);"),
            0
        );
        assert_eq!(
            run("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a, b, c, d);"),
            0
        );
    }
}
