//! SG026 batched-step: a batched step (`batch = { ... }`) must hold exactly one INSERT,
//! UPDATE or DELETE between BEGIN and the terminal keyword (beside SET LOCAL): the
//! statement the runner repeats, each run in its own transaction, until a run changes no
//! row. Its rollback, when batched too (`batch.rollback`, the default), likewise.
//!
//! Why: the approvers sign the plan that names the repeating statement, and the server
//! admits that statement alone, once per batch. DDL cannot be repeated, a second write
//! would repeat with it, and a DO block or a read has no rows the server can count.

use crate::core::lint::{Emitter, FileRole, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::StmtClass;

pub struct BatchedStep;

impl Rule for BatchedStep {
    fn code(&self) -> &'static str {
        "SG026"
    }
    fn name(&self) -> &'static str {
        "batched-step"
    }
    fn summary(&self) -> &'static str {
        "a batched step holds exactly one INSERT, UPDATE or DELETE: the statement that repeats"
    }
    fn explanation(&self) -> &'static str {
        "A step with `batch = { ... }` runs its one write again and again, each run in its own short transaction with the step's timeouts, until a run changes no row; the server admits only that statement, once per batch, and counts each batch's rows itself. So the body between BEGIN and the terminal keyword must be exactly one INSERT, UPDATE or DELETE that limits itself (e.g. `WHERE id IN (SELECT id FROM t WHERE new_col IS NULL LIMIT 10000 FOR UPDATE SKIP LOCKED)`), beside SET LOCAL. DDL, DO blocks, reads and a second write belong in other steps. The same holds for the rollback file unless `batch.rollback = false`."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in &ctx.files {
            let (i, rollback) = match f.role {
                FileRole::Step(i) => (i, false),
                FileRole::Rollback(i) => (i, true),
                _ => continue,
            };
            let Some(spec) = ctx.pack.manifest.step.get(i).and_then(|s| s.batch.as_ref()) else {
                continue;
            };
            if !rollback || spec.get_ref().rollback {
                check_file(f, out);
            }
        }
    }
}

fn check_file(f: &ParsedFile, out: &mut Emitter) {
    let body = crate::core::plan::body_of(&f.sql);
    let mut writes = 0;
    for st in body
        .iter()
        .filter(|s| !matches!(s.class, StmtClass::SetLocal { .. }))
    {
        if let Some(why) = crate::core::plan::not_batchable(st) {
            out.stmt(f, st, why, Some(HELP.into()));
            continue;
        }
        writes += 1;
        if writes > 1 {
            out.stmt(
                f,
                st,
                "a batched step holds exactly one write, the statement that repeats; this is a second one",
                Some("move it to its own step".into()),
            );
        }
    }
    if writes == 0
        && body
            .iter()
            .all(|s| crate::core::plan::not_batchable(s).is_none())
    {
        out.at(&f.rel, &f.sql.src, 0, 1, "a batched step needs one INSERT, UPDATE or DELETE between BEGIN and the terminal keyword: the statement that repeats", Some(HELP.into()));
    }
}

const HELP: &str = "a batched step repeats one self-limiting write, e.g. `UPDATE t SET c = … WHERE id IN (SELECT id FROM t WHERE c IS NULL LIMIT 10000 FOR UPDATE SKIP LOCKED)`; see docs/pack-format.md, \"Batched steps\"";

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    const STMT: &str =
        "UPDATE t SET c = 1 WHERE id IN (SELECT id FROM t WHERE c IS NULL LIMIT 10);";

    #[test]
    fn fires_on_ddl_and_a_second_write() {
        let m = manifest_with("", "batch = { rehearse = 1 }");
        let sql = format!("BEGIN;\nALTER TABLE t ADD COLUMN c int;\n{STMT}\nDELETE FROM t WHERE id = 1;\nROLLBACK;\n");
        let d = of(
            "SG026",
            &lint(
                &m,
                &[
                    ("01.sql", &sql),
                    ("rollback/01.sql", &format!("BEGIN;\n{STMT}\nCOMMIT;\n")),
                ],
            ),
        );
        assert_eq!(
            d.iter().map(|x| x.line).collect::<Vec<_>>(),
            vec![2, 4],
            "{d:?}"
        );
    }

    #[test]
    fn quiet_on_one_write_and_on_an_unbatched_rollback() {
        let m = manifest_with("", "batch = { rollback = false }");
        let sql = format!("BEGIN;\nSET LOCAL lock_timeout = '1s';\n{STMT}\nROLLBACK;\n");
        let rb = "BEGIN;\nALTER TABLE t DROP COLUMN c;\nCOMMIT;\n";
        let d = of(
            "SG026",
            &lint(&m, &[("01.sql", &sql), ("rollback/01.sql", rb)]),
        );
        assert!(d.is_empty(), "{d:?}");
        assert!(of(
            "SG026",
            &lint_step("", "", "ALTER TABLE t ADD COLUMN c int;", "SELECT 1;")
        )
        .is_empty());
    }
}
