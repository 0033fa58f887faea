//! SG130 backfill-under-ddl-lock: an `UPDATE`, `DELETE`, `MERGE` or `INSERT … SELECT`
//! on a table after a statement of the same transaction locked that table against
//! writes (an `ALTER TABLE`, a plain `CREATE INDEX`, `LOCK TABLE`…).
//!
//! Why: a lock is held until the transaction ends, not until the statement that took it
//! ends. `ALTER TABLE t ADD COLUMN c …; UPDATE t SET c = …;` in one transaction keeps
//! the ALTER's ACCESS EXCLUSIVE lock through the whole backfill: the catalog change that
//! took milliseconds now blocks every read and write of the table for as long as the
//! UPDATE runs over every row. Commit the DDL first — put the backfill in a later step
//! — and backfill in batches (`UPDATE … WHERE id BETWEEN …`), so each batch holds only
//! its rows' locks briefly. (strong_migrations' "backfilling data" check.)
//! Tables created in the same pack are exempt: nobody else uses them yet. Steps with
//! `transactional = false` commit each statement on its own and are not checked.

use crate::core::lint::locks::{lock_events, LockMode};
use crate::core::lint::{tables_created_in_pack, Emitter, LintContext, Rule, Severity};
use std::collections::BTreeMap;

pub struct DmlUnderDdlLock;

impl Rule for DmlUnderDdlLock {
    fn code(&self) -> &'static str {
        "SG130"
    }
    fn name(&self) -> &'static str {
        "backfill-under-ddl-lock"
    }
    fn summary(&self) -> &'static str {
        "UPDATE/DELETE/INSERT … SELECT on a table that an earlier statement of the same transaction locked against writes"
    }
    fn explanation(&self) -> &'static str {
        "Locks last until the transaction ends: an UPDATE after ALTER TABLE on the same table in one transaction holds the ALTER's ACCESS EXCLUSIVE lock for the whole backfill, blocking every read and write. Commit the DDL first and backfill in a later step, in batches."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = tables_created_in_pack(ctx);
        for (_, step, f) in ctx.step_files() {
            if !step.transactional {
                continue;
            }
            // Table → (strongest write-blocking lock so far, line of the statement that took it).
            let mut held: BTreeMap<String, (LockMode, usize)> = BTreeMap::new();
            for e in lock_events(f) {
                if created.contains(&e.table) {
                    continue;
                }
                if let (true, Some((mode, line))) = (e.bulk, held.get(&e.table)) {
                    out.stmt(
                        f,
                        e.stmt,
                        format!("this statement writes rows of {} while the {} lock taken on line {line} is still held: {} is blocked until the transaction ends", e.table, mode.name(), mode.blocks()),
                        Some("commit the DDL first: move the backfill to a later step and run it in batches".into()),
                    );
                    continue;
                }
                if e.mode.blocks_writes() {
                    let slot = held.entry(e.table.clone()).or_insert((e.mode, e.stmt.line));
                    if e.mode > slot.0 {
                        *slot = (e.mode, e.stmt.line);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG130", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_backfill_after_ddl() {
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN c int;\nUPDATE a SET c = 0;"),
            1
        );
        assert_eq!(
            run("CREATE INDEX a_i ON a (x);\nDELETE FROM a WHERE x IS NULL;"),
            1
        );
        assert_eq!(
            run("LOCK TABLE a IN EXCLUSIVE MODE;\nINSERT INTO a SELECT * FROM b;"),
            1
        );
        assert_eq!(
            run("ALTER TABLE app.a ADD COLUMN c int;\nDO $$ BEGIN UPDATE app.a SET c = 1; END $$;"),
            1
        );
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(run("UPDATE a SET c = 0;\nUPDATE b SET c = 0;"), 0);
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN c int;\nUPDATE b SET c = 0;"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN c int;\nINSERT INTO a (c) VALUES (1);"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a VALIDATE CONSTRAINT k;\nUPDATE a SET c = 0;"),
            0
        );
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n ADD COLUMN d int;\nUPDATE n SET d = 1;"),
            0
        );
    }

    #[test]
    fn quiet_in_non_transactional_steps() {
        let m = manifest_with("", "transactional = false");
        let d = lint(
            &m,
            &[
                (
                    "01.sql",
                    "ALTER TABLE a ADD COLUMN c int;\nUPDATE a SET c = 0;\n",
                ),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert_eq!(of("SG130", &d).len(), 0);
    }
}
