//! SG012 transaction-shape: a step file is one transaction — read-only checks, exactly
//! one BEGIN in section C, the body, exactly one terminal `ROLLBACK;` in section G —
//! and a rollback file is one BEGIN … COMMIT/ROLLBACK.
//!
//! Why: doc 99.3 — "exactly one BEGIN and one terminal ROLLBACK-or-COMMIT per step
//! file; no nested transactions, no COMMIT mid-file". The rehearsal proves a step by
//! running it and rolling it back; anything before the BEGIN autocommits and escapes
//! that proof, a second BEGIN or a SAVEPOINT changes what "the step" is, and a COMMIT
//! written into the file takes away the one decision that belongs to the runner: the
//! file always ends in `ROLLBACK;`, and only the runner, with every gate satisfied,
//! turns that into a commit — so the approved bytes are the rehearsed bytes.

use crate::core::lint::{Emitter, FileRole, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::{Statement, StmtClass};

pub struct TransactionShape;

/// True for a rollback file that runs without a transaction block: the rollback of a
/// `transactional = false` step that contains no BEGIN (e.g. `DROP INDEX CONCURRENTLY`).
pub fn is_non_transactional_rollback(ctx: &LintContext, f: &ParsedFile) -> bool {
    let FileRole::Rollback(i) = f.role else {
        return false;
    };
    let step_nt = ctx
        .pack
        .manifest
        .step
        .get(i)
        .is_some_and(|s| !s.transactional);
    step_nt && !f.sql.statements.iter().any(|s| s.class == StmtClass::Begin)
}

fn section_pos(f: &ParsedFile, letter: char) -> usize {
    f.sql
        .sections
        .iter()
        .find(|m| m.letter == letter)
        .map(|m| m.start)
        .unwrap_or(0)
}

/// Checks shared by step and rollback files: statements before the BEGIN, extra BEGINs,
/// other transaction control. Returns the index of the first BEGIN.
fn common(f: &ParsedFile, out: &mut Emitter, step: bool) -> Option<usize> {
    let sts = &f.sql.statements;
    let begins: Vec<&Statement> = sts.iter().filter(|s| s.class == StmtClass::Begin).collect();
    for b in begins.iter().skip(1) {
        out.stmt(
            f,
            b,
            "a second BEGIN: one transaction per file (doc 99.3)",
            Some(
                "split the work into another step; nested transactions do not exist in PostgreSQL"
                    .into(),
            ),
        );
    }
    let first = begins.first().map(|b| b.index);
    if let Some(fb) = first {
        for st in sts.iter().take_while(|s| s.index < fb) {
            if st.is_transaction_control() || matches!(st.class, StmtClass::NonTransactional { .. })
            {
                continue; // reported below / by SG017
            }
            if !st.is_read_only() && st.opaque && st.touches.is_empty() {
                // Nothing known to write, only a part that cannot be read statically
                // (dynamic SQL, CALL, another language). What runs before BEGIN runs in
                // a READ ONLY transaction, where PostgreSQL refuses any write: warn.
                out.stmt(
                    f,
                    st,
                    "this statement before BEGIN cannot be fully read statically (dynamic SQL, CALL or a non-PL/pgSQL block); it runs in a READ ONLY transaction, so a write there fails rather than escapes",
                    Some("prefer a constant query (EXECUTE 'SELECT …' is analysed like any statement) or plain SQL, so lint can see the check only reads".into()),
                );
                if let Some(d) = out.diagnostics.last_mut() {
                    d.severity = Severity::Warning;
                }
            } else if !st.is_read_only() {
                out.stmt(
                    f,
                    st,
                    "this statement runs before BEGIN, outside the transaction: it autocommits and the rehearsal cannot roll it back",
                    Some("move it after BEGIN, or make it a read-only check (SELECT, or a DO block that only reads and RAISEs)".into()),
                );
            } else if step && st.section.is_some_and(|c| c != 'A' && c != 'B') {
                out.stmt(
                    f,
                    st,
                    format!(
                        "a check before BEGIN sits in section {}",
                        st.section.unwrap_or('?')
                    ),
                    Some("preflight assertions belong in section B".into()),
                );
            }
        }
    }
    for st in sts {
        if let StmtClass::OtherTransactionControl { what } = &st.class {
            out.stmt(
                f,
                st,
                format!("{what} inside a step: only one BEGIN and one terminal keyword are allowed"),
                Some("savepoints and two-phase commit change what the rehearsal proves; declare negative tests as [[step.negative]] (they run after the delta is measured; errors caught inside the step body would be counted by the row counters)
".into()),
            );
        }
    }
    first
}

impl Rule for TransactionShape {
    fn code(&self) -> &'static str {
        "SG012"
    }
    fn name(&self) -> &'static str {
        "transaction-shape"
    }
    fn summary(&self) -> &'static str {
        "one BEGIN (section C) and one terminal ROLLBACK (section G) per step file; no COMMIT, no savepoints"
    }
    fn explanation(&self) -> &'static str {
        "A transactional step file is: read-only checks in sections A/B, exactly one BEGIN in section C, the body, exactly one terminal `ROLLBACK;` in section G, then read-only post-commit checks. Never write COMMIT: the runner alone decides the terminal keyword, turning the final ROLLBACK into a COMMIT only when every gate holds, so the bytes approved are the bytes rehearsed. SAVEPOINT, RELEASE, ROLLBACK TO and PREPARE TRANSACTION are not allowed; writes before the BEGIN would autocommit outside the rehearsal. A rollback file has the same single transaction: read-only checks, one BEGIN, its body, one terminal COMMIT or ROLLBACK."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in ctx.files.iter().filter(|f| !ctx.is_plain_file(f)) {
            match f.role {
                FileRole::Step(i)
                    if ctx
                        .pack
                        .manifest
                        .step
                        .get(i)
                        .is_some_and(|s| s.transactional) =>
                {
                    check_step(f, out)
                }
                FileRole::Rollback(_) if !is_non_transactional_rollback(ctx, f) => {
                    check_rollback(f, out)
                }
                _ => {}
            }
        }
    }
}

fn check_step(f: &ParsedFile, out: &mut Emitter) {
    let sts = &f.sql.statements;
    let first_begin = common(f, out, true);
    match first_begin.and_then(|i| sts.get(i)) {
        None => out.at(
            &f.rel,
            &f.sql.src,
            section_pos(f, 'C'),
            1,
            "no BEGIN: a step file is one transaction",
            Some("open it with `BEGIN;` in section C, followed by the SET LOCAL timeouts".into()),
        ),
        Some(b) => {
            if let Some(c) = b.section.filter(|c| *c != 'C') {
                out.stmt(
                    f,
                    b,
                    format!("BEGIN sits in section {c}"),
                    Some("BEGIN belongs in section C (doc 99.2)".into()),
                );
            }
        }
    }
    let mut commits = 0;
    for st in sts.iter().filter(|s| s.class == StmtClass::Commit) {
        commits += 1;
        out.stmt(
            f,
            st,
            "COMMIT in a step file: the runner alone decides the terminal keyword",
            Some("the runner alone decides the terminal keyword: end the step with `ROLLBACK;` in section G; `stepgate apply` commits it only when every gate holds, so the approved bytes are the rehearsed bytes".into()),
        );
    }
    let rollbacks: Vec<&Statement> = sts
        .iter()
        .filter(|s| s.class == StmtClass::Rollback)
        .collect();
    match rollbacks.first() {
        None if commits == 0 => out.at(
            &f.rel,
            &f.sql.src,
            section_pos(f, 'G'),
            1,
            "no terminal `ROLLBACK;`: the transaction is never closed",
            Some("end the step with `ROLLBACK;` in section G".into()),
        ),
        None => {}
        Some(t) => {
            if first_begin.is_some_and(|b| t.index < b) {
                out.stmt(
                    f,
                    t,
                    "ROLLBACK before BEGIN",
                    Some(
                        "the terminal `ROLLBACK;` closes the step's transaction, in section G"
                            .into(),
                    ),
                );
            } else if let Some(c) = t.section.filter(|c| *c != 'G') {
                out.stmt(
                    f,
                    t,
                    format!("the terminal ROLLBACK sits in section {c}"),
                    Some("it belongs in section G, the commit boundary".into()),
                );
            }
        }
    }
    for extra in rollbacks.iter().skip(1) {
        out.stmt(
            f,
            extra,
            "a second ROLLBACK: a step file has exactly one terminal keyword",
            Some("remove it".into()),
        );
    }
}

fn check_rollback(f: &ParsedFile, out: &mut Emitter) {
    let sts = &f.sql.statements;
    let first_begin = common(f, out, false);
    if first_begin.is_none() {
        out.at(
            &f.rel,
            &f.sql.src,
            0,
            1,
            "no BEGIN: a rollback file is one transaction",
            Some("wrap it in `BEGIN;` … `COMMIT;` (doc 97)".into()),
        );
    }
    let terminals: Vec<&Statement> = sts
        .iter()
        .filter(|s| matches!(s.class, StmtClass::Commit | StmtClass::Rollback))
        .collect();
    match terminals.first() {
        None => out.at(
            &f.rel,
            &f.sql.src,
            f.sql.src.len(),
            1,
            "no terminal COMMIT or ROLLBACK: the transaction is never closed",
            Some("end the rollback with `COMMIT;`".into()),
        ),
        Some(t) if first_begin.is_some_and(|b| t.index < b) => out.stmt(
            f,
            t,
            "COMMIT/ROLLBACK before BEGIN",
            Some("the terminal keyword closes the rollback's transaction, at the end".into()),
        ),
        Some(_) => {}
    }
    for extra in terminals.iter().skip(1) {
        out.stmt(
            f,
            extra,
            "a second COMMIT/ROLLBACK: a rollback file is one transaction",
            Some("remove it, or split the work".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn step(sql: &str) -> Vec<crate::core::lint::Diagnostic> {
        of(
            "SG012",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", sql),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        )
    }

    #[test]
    fn fires_on_commit_savepoint_and_write_before_begin() {
        let d = step(&step_sql("SAVEPOINT a;").replace("ROLLBACK;", "COMMIT;"));
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|x| x.message.contains("COMMIT")
            && x.help.as_deref().is_some_and(|h| h.contains("runner"))));
        assert!(d.iter().any(|x| x.message.contains("SAVEPOINT")));
        let d = step(&step_sql("SELECT 1;").replace(
            "SELECT 1;\n-- SECTION C",
            "INSERT INTO t VALUES (1);\n-- SECTION C",
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("before BEGIN"));
        let d = step(&step_sql("BEGIN;"));
        assert!(
            d.iter().any(|x| x.message.contains("second BEGIN")),
            "{d:?}"
        );
        let d = step(&step_sql("SELECT 1;").replace("ROLLBACK;\n", ""));
        assert!(d.iter().any(|x| x.message.contains("no terminal")), "{d:?}");
        let d = step(&step_sql("ROLLBACK;"));
        assert!(d.iter().any(|x| x.message.contains("section E")), "{d:?}");
    }

    #[test]
    fn read_only_guard_with_execute_before_begin() {
        use crate::core::lint::Severity;
        // A constant EXECUTE is analysed: it only reads, so nothing to say.
        let guard = "DO $$ DECLARE n bigint; BEGIN EXECUTE 'SELECT count(*) FROM public.t' INTO n; IF n > 0 THEN RAISE EXCEPTION 'not empty'; END IF; END $$;";
        let d = step(
            &step_sql("SELECT 1;")
                .replace("SELECT 1;\n-- SECTION C", &format!("{guard}\n-- SECTION C")),
        );
        assert!(d.is_empty(), "{d:?}");
        // A computed EXECUTE stays opaque: a warning, since section B runs READ ONLY.
        let opaque = "DO $$ DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM %I', 't') INTO n; END $$;";
        let d = step(&step_sql("SELECT 1;").replace(
            "SELECT 1;\n-- SECTION C",
            &format!("{opaque}\n-- SECTION C"),
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Warning);
        assert!(d[0].message.contains("READ ONLY"), "{d:?}");
        // A constant EXECUTE that writes is a write before BEGIN: an error.
        let writes = "DO $$ BEGIN EXECUTE 'DELETE FROM public.t'; END $$;";
        let d = step(&step_sql("SELECT 1;").replace(
            "SELECT 1;\n-- SECTION C",
            &format!("{writes}\n-- SECTION C"),
        ));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].severity, Severity::Error);
        assert!(d[0].message.contains("before BEGIN"), "{d:?}");
    }

    #[test]
    fn fires_on_rollback_file_shape() {
        let m = manifest_with("[pack.lint]\nprofile = \"sections\"", "");
        let d = of(
            "SG012",
            &lint(
                &m,
                &[
                    ("01.sql", &step_sql("SELECT 1;")),
                    ("rollback/01.sql", "DELETE FROM t WHERE id = 1;\nCOMMIT;\n"),
                ],
            ),
        );
        assert!(d.iter().any(|x| x.message.contains("no BEGIN")), "{d:?}");
        let rb = "DELETE FROM t WHERE id = 1;\nBEGIN;\nRELEASE SAVEPOINT a;\nCOMMIT;\nROLLBACK;\n";
        let d = of(
            "SG012",
            &lint(
                &m,
                &[("01.sql", &step_sql("SELECT 1;")), ("rollback/01.sql", rb)],
            ),
        );
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.message.contains("before BEGIN") && x.line == 1),
            "{d:?}"
        );
        assert!(d.iter().any(|x| x.message.contains("RELEASE")), "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.message.contains("second COMMIT/ROLLBACK") && x.line == 5),
            "{d:?}"
        );
    }

    #[test]
    fn quiet_on_canonical_files() {
        assert!(step(&step_sql("CREATE TABLE t (id int);")).is_empty());
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                (
                    "rollback/01.sql",
                    &format!("SELECT 1;\n{}", rollback_sql("DROP TABLE t;")),
                ),
            ],
        );
        assert!(of("SG012", &d).is_empty(), "{d:?}");
        // A non-transactional step is SG017's business.
        let m = manifest_with("", "transactional = false");
        let d = lint(
            &m,
            &[
                ("01.sql", "CREATE INDEX CONCURRENTLY i ON t (x);\n"),
                ("rollback/01.sql", "DROP INDEX CONCURRENTLY i;\n"),
            ],
        );
        assert!(of("SG012", &d).is_empty(), "{d:?}");
    }
}
