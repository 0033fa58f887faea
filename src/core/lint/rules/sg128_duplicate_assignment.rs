//! SG128 duplicate-column-assignment: the same column assigned twice in one `UPDATE …
//! SET`, `INSERT … (columns)` or `ON CONFLICT … DO UPDATE SET`.
//!
//! Why: PostgreSQL rejects the statement ("multiple assignments to same column" /
//! "column specified more than once"), so the step fails at that point — in the
//! rehearsal if the table exists there, in production otherwise. It is nearly always a
//! copy-paste slip where one of the two was meant to be another column, so the fix is
//! to decide which. (Assignments to different elements or fields of one column,
//! `a[1] = …, a[2] = …`, are allowed and not reported.)

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::Node;
use pg_query::NodeEnum;

pub struct DuplicateAssignment;

/// The first column name assigned twice (whole-column targets only).
fn duplicate(targets: &[Node]) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    for t in targets {
        let Some(NodeEnum::ResTarget(r)) = t.node.as_ref() else {
            continue;
        };
        if !r.indirection.is_empty() {
            continue;
        }
        if !seen.insert(r.name.as_str()) {
            return Some(r.name.clone());
        }
    }
    None
}

fn duplicates_in(n: &NodeEnum) -> Vec<String> {
    match n {
        NodeEnum::UpdateStmt(u) => duplicate(&u.target_list).into_iter().collect(),
        NodeEnum::InsertStmt(i) => {
            let on_conflict = i
                .on_conflict_clause
                .as_ref()
                .and_then(|c| duplicate(&c.target_list));
            duplicate(&i.cols).into_iter().chain(on_conflict).collect()
        }
        _ => Vec::new(),
    }
}

impl Rule for DuplicateAssignment {
    fn code(&self) -> &'static str {
        "SG128"
    }
    fn name(&self) -> &'static str {
        "duplicate-column-assignment"
    }
    fn summary(&self) -> &'static str {
        "a column assigned twice in one UPDATE/INSERT (PostgreSQL rejects it)"
    }
    fn explanation(&self) -> &'static str {
        "PostgreSQL rejects an UPDATE or INSERT that assigns the same column twice, so the step fails there; it is usually a copy-paste slip where one assignment was meant for another column."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            let Some(n) = &s.stmt.node else { continue };
            for col in duplicates_in(n) {
                out.stmt(
                    s.file,
                    s.stmt,
                    format!("column `{col}` is assigned twice: PostgreSQL rejects the statement"),
                    Some(
                        "keep one assignment; the other was probably meant for another column"
                            .into(),
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG128", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_duplicates() {
        assert_eq!(run("UPDATE t SET a = 1, b = 2, a = 3;"), 1);
        assert_eq!(run("UPDATE t SET (a, b) = (1, 2), a = 3;"), 1);
        assert_eq!(run("INSERT INTO t (a, a) VALUES (1, 2);"), 1);
        assert_eq!(
            run("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 1, b = 2;"),
            1
        );
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(run("UPDATE t SET a = 1, b = 2;"), 0);
        assert_eq!(run("UPDATE t SET a[1] = 1, a[2] = 2;"), 0);
    }
}
