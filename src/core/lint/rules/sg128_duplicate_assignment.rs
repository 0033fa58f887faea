//! SG128 duplicate-column-assignment: the same column assigned twice in one `UPDATE …
//! SET`, `INSERT … (columns)`, `ON CONFLICT … DO UPDATE SET` or `MERGE`, or the same
//! column name twice in a `CREATE TABLE`, a view's columns, `SELECT … INTO` or `CREATE
//! TABLE … AS`.
//!
//! Why: PostgreSQL rejects the statement ("multiple assignments to same column" /
//! "column specified more than once" / "column … specified more than once"), so the
//! step fails at that point — in the
//! rehearsal if the table exists there, in production otherwise. It is nearly always a
//! copy-paste slip where one of the two was meant to be another column, so the fix is
//! to decide which. (Assignments to different elements or fields of one column,
//! `a[1] = …, a[2] = …`, are allowed and not reported.)

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::Node;
use pg_query::NodeEnum;

pub struct DuplicateAssignment;

/// The first column assigned twice: a whole-column assignment plus any other to the
/// same column (`a[1] = …, a[2] = …` is allowed).
fn duplicate(targets: &[Node]) -> Option<String> {
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for t in targets {
        let Some(NodeEnum::ResTarget(r)) = t.node.as_ref() else {
            continue;
        };
        let whole = r.indirection.is_empty();
        let clash = seen.iter().any(|(n, w)| *n == r.name && (*w || whole));
        if clash {
            return Some(r.name.clone());
        }
        seen.push((r.name.as_str(), whole));
    }
    None
}

/// The first name that occurs twice.
fn repeated<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Some(n.to_string());
        }
    }
    None
}

fn strings(nodes: &[Node]) -> impl Iterator<Item = &str> {
    nodes.iter().filter_map(|n| match n.node.as_ref() {
        Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
        _ => None,
    })
}

/// The name PostgreSQL gives an output column of a SELECT, when it is plain to see.
fn output_name(t: &Node) -> Option<String> {
    let Some(NodeEnum::ResTarget(r)) = t.node.as_ref() else {
        return None;
    };
    if !r.name.is_empty() {
        return Some(r.name.clone());
    }
    match r.val.as_deref().and_then(|v| v.node.as_ref())? {
        NodeEnum::ColumnRef(c) => strings(&c.fields).last().map(str::to_string),
        NodeEnum::FuncCall(f) => Some(crate::core::lint::hazard::func_name(f)),
        NodeEnum::AConst(_) => Some("?column?".into()),
        _ => None,
    }
}

/// A repeated output column name of a SELECT (views, SELECT INTO, CREATE TABLE AS).
fn repeated_outputs(q: Option<&Node>) -> Option<String> {
    let Some(NodeEnum::SelectStmt(s)) = q.and_then(|q| q.node.as_ref()) else {
        return None;
    };
    let names: Vec<String> = s.target_list.iter().filter_map(output_name).collect();
    repeated(names.iter().map(String::as_str))
}

fn column_defs(c: &pg_query::protobuf::CreateStmt) -> Option<String> {
    repeated(c.table_elts.iter().filter_map(|e| match e.node.as_ref() {
        Some(NodeEnum::ColumnDef(cd)) => Some(cd.colname.as_str()),
        _ => None,
    }))
}

fn duplicates_in(n: &NodeEnum) -> Option<String> {
    match n {
        NodeEnum::UpdateStmt(u) => duplicate(&u.target_list),
        NodeEnum::InsertStmt(i) => duplicate(&i.cols).or_else(|| {
            i.on_conflict_clause
                .as_ref()
                .and_then(|c| duplicate(&c.target_list))
        }),
        NodeEnum::MergeStmt(m) => m
            .merge_when_clauses
            .iter()
            .find_map(|w| match w.node.as_ref() {
                Some(NodeEnum::MergeWhenClause(c)) => duplicate(&c.target_list),
                _ => None,
            }),
        NodeEnum::CreateStmt(c) => column_defs(c),
        NodeEnum::CreateForeignTableStmt(f) => f.base_stmt.as_ref().and_then(column_defs),
        NodeEnum::ViewStmt(v) if !v.aliases.is_empty() => repeated(strings(&v.aliases)),
        NodeEnum::ViewStmt(v) => repeated_outputs(v.query.as_deref()),
        NodeEnum::SelectStmt(s) if s.into_clause.is_some() => {
            let names: Vec<String> = s.target_list.iter().filter_map(output_name).collect();
            repeated(names.iter().map(String::as_str))
        }
        NodeEnum::CreateTableAsStmt(c) => {
            let cols = c
                .into
                .as_ref()
                .map(|i| i.col_names.as_slice())
                .unwrap_or(&[]);
            if cols.is_empty() {
                repeated_outputs(c.query.as_deref())
            } else {
                repeated(strings(cols))
            }
        }
        _ => None,
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
            let Some(col) = s.stmt.node.as_ref().and_then(duplicates_in) else {
                continue;
            };
            {
                out.stmt(
                    s.file,
                    s.stmt,
                    format!("column `{col}` is assigned or named twice: PostgreSQL rejects the statement"),
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
    fn fires_on_repeated_column_names() {
        assert_eq!(run("CREATE TABLE t (a int, a text);"), 1);
        assert_eq!(run("CREATE VIEW v (a, a) AS SELECT 1, 2;"), 1);
        assert_eq!(run("CREATE VIEW v AS SELECT x.a, y.a FROM x, y;"), 1);
        assert_eq!(run("SELECT 1 a, 2 a INTO z;"), 1);
        assert_eq!(
            run("MERGE INTO k USING j ON k.id = j.id WHEN MATCHED THEN UPDATE SET a = 1, a = 2;"),
            1
        );
        assert_eq!(run("UPDATE k SET a = row(1, 2), a.x = 3;"), 1);
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(run("CREATE VIEW v AS SELECT x.a, y.a AS b FROM x, y;"), 0);
        assert_eq!(run("UPDATE k SET a.x = 1, a.y = 2;"), 0);
        assert_eq!(run("UPDATE t SET a = 1, b = 2;"), 0);
        assert_eq!(run("UPDATE t SET a[1] = 1, a[2] = 2;"), 0);
    }
}
