//! SG131 lock-escalation: a transaction locks a table in one mode and a later statement
//! asks for a stronger, write-blocking mode on the same table (e.g. `UPDATE t …` then
//! `ALTER TABLE t …`, or `CREATE INDEX ON t` then `ALTER TABLE t …`).
//!
//! Why: the upgrade waits for every other transaction on the table while the step
//! already holds its first lock (and, after DML, row locks). An application transaction
//! that waits for one of those row locks, while holding its own lock on the table,
//! closes a cycle: a deadlock, and PostgreSQL kills one side. Even without a cycle,
//! the queued upgrade blocks every new query on the table behind it. Take the strongest
//! lock first: order the statements so the DDL comes before the DML, or start with
//! `LOCK TABLE t IN <strongest> MODE` so the step waits once, before it holds anything.
//! Tables created in the same pack are exempt; steps with `transactional = false`
//! commit each statement on its own and are not checked.

use crate::core::lint::locks::{lock_events, LockMode};
use crate::core::lint::{tables_created_in_pack, Emitter, LintContext, Rule, Severity};
use std::collections::BTreeMap;

pub struct LockEscalation;

impl Rule for LockEscalation {
    fn code(&self) -> &'static str {
        "SG131"
    }
    fn name(&self) -> &'static str {
        "lock-escalation"
    }
    fn summary(&self) -> &'static str {
        "a later statement of the same transaction asks for a stronger lock on a table it already locked"
    }
    fn explanation(&self) -> &'static str {
        "Upgrading a lock waits for everyone else while the step already holds a weaker lock (and row locks): application transactions waiting on the step close a deadlock cycle, and the queued upgrade blocks new queries. Take the strongest lock first: DDL before DML, or LOCK TABLE … IN <strongest> MODE at the start."
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
            let mut held: BTreeMap<String, (LockMode, usize)> = BTreeMap::new();
            for e in lock_events(f) {
                if created.contains(&e.table) {
                    continue;
                }
                match held.get(&e.table).copied() {
                    Some((mode, line)) if e.mode > mode && e.mode.blocks_writes() => {
                        out.stmt(
                            f,
                            e.stmt,
                            format!("{} is already locked {} (line {line}) and this statement upgrades it to {}: the upgrade waits while the weaker lock is held, a deadlock risk", e.table, mode.name(), e.mode.name()),
                            Some(format!("take the strongest lock first: put this statement before line {line}, or start with LOCK TABLE {} IN {} MODE", e.table, e.mode.name())),
                        );
                        held.insert(e.table.clone(), (e.mode, e.stmt.line));
                    }
                    Some(_) => {}
                    None => {
                        held.insert(e.table.clone(), (e.mode, e.stmt.line));
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
        of("SG131", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_upgrades() {
        assert_eq!(
            run("UPDATE a SET c = 0 WHERE id = 1;\nALTER TABLE a ADD COLUMN d int;"),
            1
        );
        assert_eq!(
            run("CREATE INDEX a_i ON a (x);\nALTER TABLE a DROP COLUMN y;"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a VALIDATE CONSTRAINT k;\nALTER TABLE a ALTER COLUMN c SET NOT NULL;"),
            1
        );
    }

    #[test]
    fn quiet_when_strongest_first() {
        assert_eq!(run("LOCK TABLE a IN ACCESS EXCLUSIVE MODE;\nUPDATE a SET c = 0;\nALTER TABLE a ADD COLUMN d int;"), 0);
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN d int;\nALTER TABLE a ADD COLUMN e int;"),
            0
        );
        assert_eq!(run("UPDATE a SET c = 0;\nUPDATE a SET d = 0;"), 0);
        assert_eq!(
            run("UPDATE a SET c = 0;\nALTER TABLE b ADD COLUMN d int;"),
            0
        );
        assert_eq!(run("CREATE TABLE n (c int);\nINSERT INTO n VALUES (1);\nALTER TABLE n ADD COLUMN d int;"), 0);
    }
}
