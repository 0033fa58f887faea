//! SG024 side-effect-outside-transaction: SQL whose effect escapes the transaction —
//! other sessions are killed, the server's configuration is reloaded, a file is written
//! or a program run on the server, another connection does work (`dblink`), or a lock or
//! setting outlives the transaction.
//!
//! Why: stepgate proves a step by running it inside BEGIN … ROLLBACK. Everything a
//! rehearsal does must vanish with that ROLLBACK, or the rehearsal is itself a change to
//! production: `pg_terminate_backend()` has killed a session, `pg_reload_conf()` has
//! applied whatever is in postgresql.conf, `COPY … TO PROGRAM` has run a shell command,
//! `dblink_exec()` has committed on its own connection, and `pg_advisory_lock()` (the
//! session-level kind) is still held by the runner's session after the ROLLBACK. None
//! of that is rolled back, none of it shows in the rehearsal's measured delta, and an
//! approver cannot see it in the effects. Do such things outside the pack, by hand and
//! on purpose, or use the transactional form: `pg_advisory_xact_lock()`,
//! `set_config(…, true)` / `SET LOCAL`, `COPY … TO STDOUT`.
//!
//! Reported: calls to `pg_terminate_backend`, `pg_cancel_backend`, `pg_reload_conf`,
//! `pg_rotate_logfile`, `pg_switch_wal`, `pg_promote`, `pg_stat_reset*`, replication
//! slot functions, any `dblink*` function, `lo_export` (writes a server file),
//! session-level advisory locks (`pg_advisory_lock`, `pg_advisory_lock_shared`,
//! `pg_try_advisory_lock*`, `pg_advisory_unlock*`), `set_config(…, false)`;
//! `COPY … TO 'file'`, `COPY … TO PROGRAM` and `COPY … FROM PROGRAM`. Calls are found
//! anywhere in a statement and inside string constants too, so a `DO` block's body and
//! the text of an `EXECUTE 'SELECT pg_terminate_backend(…)'` are looked into.
//! Not reported, because they are transactional: `NOTIFY` / `pg_notify()` (delivered
//! only on commit), `lo_unlink`, `lowrite`, `lo_put`, `lo_import` (large objects live in
//! a catalog and roll back), `pg_advisory_xact_lock*`, sequences (see `fail_on_residue`).
//! Every SQL file of the pack is checked: steps, rollbacks, preflight and verify.

use crate::core::lint::{Emitter, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::Statement;
use pg_query::protobuf::{ScanToken, Token};

pub struct SessionSideEffect;

/// Functions whose effect is outside the transaction, with what it is.
const CALLS: &[(&str, &str)] = &[
    ("pg_terminate_backend", "terminates another session"),
    ("pg_cancel_backend", "cancels another session's query"),
    ("pg_reload_conf", "reloads the server configuration"),
    ("pg_rotate_logfile", "rotates the server log"),
    ("pg_switch_wal", "forces a WAL segment switch"),
    ("pg_promote", "promotes a standby"),
    ("pg_create_restore_point", "writes a WAL restore point"),
    (
        "pg_create_physical_replication_slot",
        "creates a replication slot",
    ),
    (
        "pg_create_logical_replication_slot",
        "creates a replication slot",
    ),
    ("pg_drop_replication_slot", "drops a replication slot"),
    ("lo_export", "writes a file on the server"),
    ("pg_file_write", "writes a file on the server"),
    (
        "pg_advisory_lock",
        "takes a session-level advisory lock that outlives the transaction",
    ),
    (
        "pg_advisory_lock_shared",
        "takes a session-level advisory lock that outlives the transaction",
    ),
    (
        "pg_try_advisory_lock",
        "takes a session-level advisory lock that outlives the transaction",
    ),
    (
        "pg_try_advisory_lock_shared",
        "takes a session-level advisory lock that outlives the transaction",
    ),
    (
        "pg_advisory_unlock",
        "releases a session-level advisory lock",
    ),
    (
        "pg_advisory_unlock_shared",
        "releases a session-level advisory lock",
    ),
    (
        "pg_advisory_unlock_all",
        "releases every session-level advisory lock",
    ),
];

/// Name prefixes: every function of the family.
const PREFIXES: &[(&str, &str)] = &[
    (
        "dblink",
        "runs SQL on another connection, which commits on its own",
    ),
    (
        "pg_stat_reset",
        "resets statistics, which is not rolled back",
    ),
];

/// Cheap pre-filter: a statement without any of these (lower case) cannot match.
const HINTS: &[&str] = &[
    "pg_terminate",
    "pg_cancel",
    "pg_reload",
    "pg_rotate",
    "pg_switch",
    "pg_promote",
    "restore_point",
    "replication_slot",
    "lo_export",
    "pg_file_write",
    "advisory",
    "dblink",
    "pg_stat_reset",
    "set_config",
    "copy",
];

/// What a called function does outside the transaction, if anything.
fn side_effect_of(name: &str) -> Option<&'static str> {
    CALLS
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| PREFIXES.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, what)| *what)
}

/// One finding: the offending text (for the message) and what it does.
struct Finding {
    what: String,
    effect: &'static str,
}

fn tok(t: &ScanToken) -> Token {
    Token::try_from(t.token).unwrap_or(Token::Nul)
}

fn text<'s>(src: &'s str, t: &ScanToken) -> &'s str {
    let (a, b) = (t.start.max(0) as usize, t.end.max(0) as usize);
    src.get(a..b).unwrap_or("")
}

/// The contents of a string constant (`'…'`, `E'…'`, `$tag$…$tag$`), unquoted enough to scan.
fn string_body(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix('$') {
        let Some(end) = rest.find('$') else { return "" };
        let tag = &s[..end + 2];
        return s
            .strip_prefix(tag)
            .and_then(|r| r.strip_suffix(tag))
            .unwrap_or("");
    }
    let s = s.trim_start_matches(['E', 'e']);
    s.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or("")
}

/// Scans `sql` (and, to `depth`, the string constants in it) for side effects.
fn scan(sql: &str, depth: u8, found: &mut Vec<Finding>) {
    let Ok(r) = pg_query::scan(sql) else { return };
    let toks = &r.tokens;
    for (i, t) in toks.iter().enumerate() {
        match tok(t) {
            Token::Ident => call_at(sql, toks, i, found),
            Token::Copy => copy_at(sql, toks, i, found),
            Token::Sconst if depth > 0 => {
                let body = string_body(text(sql, t)).replace("''", "'");
                if body.contains('(') || body.to_ascii_lowercase().contains("copy") {
                    scan(&body, depth - 1, found);
                }
            }
            _ => {}
        }
    }
}

/// A call `name(` at token `i`.
fn call_at(sql: &str, toks: &[ScanToken], i: usize, found: &mut Vec<Finding>) {
    if toks.get(i + 1).map(tok) != Some(Token::Ascii40) || names_a_relation(toks, i) {
        return;
    }
    let name = text(sql, &toks[i]).trim_matches('"').to_ascii_lowercase();
    if let Some(effect) = side_effect_of(&name) {
        found.push(Finding {
            what: format!("{name}()"),
            effect,
        });
    } else if name == "set_config" && session_set_config(sql, toks, i) {
        found.push(Finding {
            what: "set_config(…, false)".into(),
            effect: "changes a setting for the rest of the session, beyond the transaction",
        });
    }
}

/// True when the name at `i` (possibly qualified) follows a keyword that introduces a
/// relation or routine being defined, not called: `CREATE TABLE dblink_log (…)`,
/// `INSERT INTO x (…)`, `REFERENCES x (…)`, `CREATE FUNCTION x (…)`.
fn names_a_relation(toks: &[ScanToken], mut i: usize) -> bool {
    while i >= 2 && toks.get(i - 1).map(tok) == Some(Token::Ascii46) {
        i -= 2;
    }
    let Some(prev) = i.checked_sub(1).and_then(|p| toks.get(p)) else {
        return false;
    };
    matches!(
        tok(prev),
        Token::Table
            | Token::Into
            | Token::References
            | Token::On
            | Token::Function
            | Token::Procedure
            | Token::Routine
            | Token::View
            | Token::Index
            | Token::TypeP
            | Token::Exists
            | Token::Only
            | Token::Trigger
            | Token::Aggregate
    )
}

/// `set_config(a, b, false)`: the third argument (at paren depth 1) is FALSE.
fn session_set_config(sql: &str, toks: &[ScanToken], i: usize) -> bool {
    let (mut depth, mut commas) = (0, 0);
    for t in toks.iter().skip(i + 1) {
        match text(sql, t) {
            "(" => depth += 1,
            ")" => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            "," if depth == 1 => commas += 1,
            w if depth == 1 && commas == 2 => {
                return w.eq_ignore_ascii_case("false") || w == "'f'" || w == "'false'"
            }
            _ => {}
        }
    }
    false
}

/// `COPY … TO 'file'`, `COPY … TO PROGRAM`, `COPY … FROM PROGRAM` from token `i`.
fn copy_at(sql: &str, toks: &[ScanToken], i: usize, found: &mut Vec<Finding>) {
    let mut prev = Token::Copy;
    for t in toks.iter().skip(i + 1) {
        let k = tok(t);
        if text(sql, t) == ";" {
            return;
        }
        let effect = match (prev, k) {
            (_, Token::Program) => "runs a program on the server",
            (Token::To, Token::Sconst) => "writes a file on the server",
            _ => {
                prev = k;
                continue;
            }
        };
        found.push(Finding {
            what: "COPY".into(),
            effect,
        });
        return;
    }
}

fn check_statement(f: &ParsedFile, st: &Statement, lower: &mut String, out: &mut Emitter) {
    lower.clear();
    lower.extend(st.text.chars().map(|c| c.to_ascii_lowercase()));
    if !HINTS.iter().any(|h| lower.contains(h)) {
        return;
    }
    let mut found = Vec::new();
    scan(&st.text, 3, &mut found);
    for x in found {
        out.stmt(
            f,
            st,
            format!("{} {}: a rehearsal's ROLLBACK does not undo it, and no approver sees it in the effects", x.what, x.effect),
            Some("do it outside the pack, or use the transactional form (pg_advisory_xact_lock, set_config(…, true), COPY … TO STDOUT)".into()),
        );
    }
}

impl Rule for SessionSideEffect {
    fn code(&self) -> &'static str {
        "SG024"
    }
    fn name(&self) -> &'static str {
        "side-effect-outside-transaction"
    }
    fn summary(&self) -> &'static str {
        "a call or COPY whose effect escapes the transaction (pg_terminate_backend, dblink, COPY TO PROGRAM, session advisory locks…)"
    }
    fn explanation(&self) -> &'static str {
        "A rehearsal runs the step inside BEGIN … ROLLBACK, so everything it does must vanish with the ROLLBACK. pg_terminate_backend/pg_cancel_backend, pg_reload_conf, pg_rotate_logfile, dblink*, lo_export, COPY … TO 'file' / TO PROGRAM / FROM PROGRAM, session-level advisory locks and set_config(…, false) act outside the transaction: the rehearsal itself changes production, and the effect is invisible to the measured delta and to approvers. Do such things outside the pack, or use the transactional form (pg_advisory_xact_lock, set_config(…, true), COPY … TO STDOUT). NOTIFY/pg_notify and large-object writes are transactional and are not reported. DO blocks and EXECUTE strings are looked into."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let mut lower = String::new();
        for f in &ctx.files {
            for st in &f.sql.statements {
                check_statement(f, st, &mut lower, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG024", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_calls_that_escape_the_transaction() {
        assert_eq!(
            run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'x';"),
            1
        );
        assert_eq!(run("SELECT pg_catalog.pg_cancel_backend(42);"), 1);
        assert_eq!(run("SELECT pg_reload_conf();"), 1);
        assert_eq!(run("SELECT pg_rotate_logfile();"), 1);
        assert_eq!(run("SELECT dblink_exec('dbname=x', 'DELETE FROM t');"), 1);
        assert_eq!(run("SELECT lo_export(1234, '/tmp/x');"), 1);
        assert_eq!(run("SELECT pg_advisory_lock(1);"), 1);
        assert_eq!(run("SELECT pg_advisory_lock_shared(1, 2);"), 1);
        assert_eq!(run("SELECT set_config('search_path', 'app', false);"), 1);
    }

    #[test]
    fn fires_on_copy_to_files_and_programs() {
        assert_eq!(run("COPY t TO '/tmp/t.csv';"), 1);
        assert_eq!(run("COPY t TO PROGRAM 'gzip > /tmp/t.gz';"), 1);
        assert_eq!(run("COPY t FROM PROGRAM 'curl http://x';"), 1);
        assert_eq!(run("COPY (SELECT 1) TO STDOUT;"), 0);
        assert_eq!(run("COPY t FROM STDIN;"), 0);
    }

    #[test]
    fn looks_inside_do_blocks_and_execute_strings() {
        assert_eq!(
            run("DO $$ BEGIN PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'; END $$;"),
            1
        );
        assert_eq!(
            run("DO $do$ BEGIN EXECUTE 'SELECT pg_advisory_lock(7)'; END $do$;"),
            1
        );
        assert_eq!(
            run("DO $$ BEGIN EXECUTE 'COPY t TO PROGRAM ''cat''' ; END $$;"),
            1
        );
    }

    #[test]
    fn quiet_on_transactional_forms() {
        assert_eq!(run("SELECT pg_advisory_xact_lock(1);"), 0);
        assert_eq!(run("SELECT set_config('search_path', 'app', true);"), 0);
        assert_eq!(run("NOTIFY jobs, 'x';"), 0);
        assert_eq!(run("SELECT pg_notify('jobs', 'x');"), 0);
        assert_eq!(run("SELECT lo_unlink(1234);"), 0);
        assert_eq!(
            run("SELECT 'pg_terminate_backend is mentioned in text';"),
            0
        );
        assert_eq!(run("CREATE TABLE dblink_log (id bigint);"), 0);
    }

    #[test]
    fn rollback_files_are_checked_too() {
        let d = lint_step("", "", "SELECT 1;", "SELECT pg_reload_conf();");
        assert_eq!(of("SG024", &d).len(), 1);
    }
}
