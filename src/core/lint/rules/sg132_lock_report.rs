//! SG132 lock-report (info, off unless asked for): for each step, the strongest lock it
//! takes on each existing table and how long it is held in the step's sequence.
//!
//! Why: the approver's real question about a step is "what does it block, and for how
//! long?". A lock is held from the statement that takes it until the transaction ends,
//! so an ACCESS EXCLUSIVE lock taken by the first statement of a ten-statement step
//! blocks the table for all ten. This report states it per table: the mode, what it
//! blocks, the statement that takes it and how many statements follow while it is held
//! (in a `transactional = false` step, only that statement). It never fails a lint:
//! run `stepgate lint --info` to see it, or give SG132 a severity in the pack's
//! `[pack.lint] severity` table. Tables created in the same pack are left out.

use crate::core::lint::locks::{lock_events, LockEvent};
use crate::core::lint::{tables_created_in_pack, Emitter, LintContext, ParsedFile, Rule, Severity};
use crate::core::manifest::Step;

pub struct LockReport;

/// The strongest lock per table, first statement taking it, in order of first lock.
fn strongest<'a>(events: Vec<LockEvent<'a>>) -> Vec<LockEvent<'a>> {
    let mut out: Vec<LockEvent<'a>> = Vec::new();
    for e in events {
        match out.iter_mut().find(|o| o.table == e.table) {
            Some(o) if e.mode > o.mode => *o = e,
            Some(_) => {}
            None => out.push(e),
        }
    }
    out
}

/// The statements run inside the step's transaction: after its BEGIN, before the
/// terminal ROLLBACK/COMMIT, transaction control left out.
fn in_transaction(f: &ParsedFile) -> impl Iterator<Item = &crate::core::sql::Statement> {
    let (body, _) = f.sql.split_at_terminal();
    let begin = body
        .iter()
        .position(|s| matches!(s.class, crate::core::sql::StmtClass::Begin))
        .map_or(0, |i| i + 1);
    body.iter()
        .skip(begin)
        .filter(|s| !s.is_transaction_control())
}

/// How long a lock taken by `e` is held, in words.
fn held_for(step: &Step, f: &ParsedFile, e: &LockEvent) -> String {
    let total = in_transaction(f).count();
    let after = in_transaction(f).filter(|s| s.index > e.stmt.index).count();
    if step.transactional {
        format!("from this statement until the transaction ends ({after} more of the step's {total} statements run while it is held)")
    } else {
        "for this statement only (`transactional = false`)".to_string()
    }
}

fn report(step: &Step, f: &ParsedFile, e: &LockEvent, out: &mut Emitter) {
    out.stmt(
        f,
        e.stmt,
        format!(
            "step `{}` locks {} {} {}; it blocks {}",
            step.id.get_ref(),
            e.table,
            e.mode.name(),
            held_for(step, f, e),
            e.mode.blocks()
        ),
        None,
    );
}

/// One table's strongest lock in a step, as this rule reports it (the review package
/// shows the same facts, so both read them from here).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepLock {
    pub table: String,
    pub mode: &'static str,
    pub blocks: &'static str,
    /// 1-based line of the statement that takes it.
    pub line: usize,
    /// Statements of the step that run while it is held, this one included.
    pub statements_held: usize,
    pub held: String,
    /// Strong enough to stop the application's writes.
    pub blocks_writes: bool,
}

/// The strongest lock per existing table for step `index` of the pack (tables the pack
/// creates are left out: nobody else can be using them).
pub fn step_locks(ctx: &LintContext, index: usize) -> Vec<StepLock> {
    let (Some(step), Some(f)) = (ctx.pack.manifest.step.get(index), ctx.step_file(index)) else {
        return Vec::new();
    };
    let created = tables_created_in_pack(ctx);
    let mut events = lock_events(f);
    events.retain(|e| !created.contains(&e.table));
    strongest(events)
        .iter()
        .map(|e| StepLock {
            table: e.table.clone(),
            mode: e.mode.name(),
            blocks: e.mode.blocks(),
            line: e.stmt.line,
            statements_held: if step.transactional {
                1 + in_transaction(f).filter(|s| s.index > e.stmt.index).count()
            } else {
                1
            },
            held: held_for(step, f, e),
            blocks_writes: e.mode.blocks_writes(),
        })
        .collect()
}

impl Rule for LockReport {
    fn code(&self) -> &'static str {
        "SG132"
    }
    fn name(&self) -> &'static str {
        "lock-report"
    }
    fn summary(&self) -> &'static str {
        "per step: the strongest lock on each existing table and how long it is held (info; `stepgate lint --info`)"
    }
    fn explanation(&self) -> &'static str {
        "Locks are held until the transaction ends. For each step and existing table this reports the strongest lock mode, what it blocks, the statement that takes it and how many statements run while it is held. Informational: shown with `stepgate lint --info` or when the pack gives SG132 a severity."
    }
    fn default_severity(&self) -> Severity {
        Severity::Info
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let created = tables_created_in_pack(ctx);
        for (_, step, f) in ctx.step_files() {
            let mut events = lock_events(f);
            events.retain(|e| !created.contains(&e.table));
            for e in strongest(events) {
                report(step, f, &e, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn with_report(body: &str) -> Vec<crate::core::lint::Diagnostic> {
        let d = lint_step(
            "[pack.lint]\nseverity = { SG132 = \"warning\" }",
            "",
            body,
            "SELECT 1;",
        );
        of("SG132", &d)
    }

    #[test]
    fn reports_the_strongest_lock_per_table() {
        let d = with_report(
            "UPDATE a SET c = 0;\nALTER TABLE a ADD COLUMN d int;\nSELECT 1;\nUPDATE b SET c = 1;",
        );
        assert_eq!(d.len(), 2, "{d:#?}");
        assert!(
            d[0].message.contains("public.a ACCESS EXCLUSIVE"),
            "{}",
            d[0].message
        );
        assert!(
            d[0].message.contains("3 more of the step's 8"),
            "{}",
            d[0].message
        );
        assert!(
            d[1].message.contains("public.b ROW EXCLUSIVE"),
            "{}",
            d[1].message
        );
    }

    #[test]
    fn off_by_default_and_silent_on_new_tables() {
        let d = lint_step("", "", "ALTER TABLE a ADD COLUMN d int;", "SELECT 1;");
        assert_eq!(of("SG132", &d).len(), 0);
        assert_eq!(
            with_report("CREATE TABLE n (c int);\nALTER TABLE n ADD COLUMN d int;").len(),
            0
        );
    }
}
