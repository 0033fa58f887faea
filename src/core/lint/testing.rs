//! Fixture helpers for rule tests: build a pack from inline manifest text and files.

use super::{Diagnostic, PackSources};
use crate::core::manifest;
use std::path::Path;

/// A minimal valid manifest with one step `1` (file `01.sql`, rollback `rollback/01.sql`).
/// `extra_step` is appended to the `[[step]]` table (e.g. effects).
pub fn manifest_with(extra_pack: &str, extra_step: &str) -> String {
    format!(
        r#"[pack]
id = "t"
title = "test pack"
{extra_pack}
[pack.target]
database = "db"
[pack.timeouts]
statement = "5s"
lock = "3s"
idle_in_transaction = "15s"
[[step]]
id = "1"
name = "one"
file = "01.sql"
rollback = "rollback/01.sql"
{extra_step}
"#
    )
}

/// A well-formed step file with sections A–I around `body` (section E).
pub fn step_sql(body: &str) -> String {
    format!(
        "-- SECTION A — HEADER\n-- step 1\n-- SECTION B — PREFLIGHT ASSERTIONS\nSELECT 1;\n-- SECTION C — BEGIN + SESSION GUC\nBEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '3s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n-- SECTION D — FOLD-INS\n-- SECTION E — ADDITIVE DDL/DML\n{body}\n-- SECTION F — IN-TRANSACTION VERIFICATION\nSELECT 1;\n-- SECTION G — COMMIT BOUNDARY\nROLLBACK;\n-- SECTION H — POST-COMMIT VERIFICATION\nSELECT 1;\n-- SECTION I — ROLLBACK REFERENCE\n-- see rollback/01.sql\n"
    )
}

/// A rollback file with its own transaction around `body`.
pub fn rollback_sql(body: &str) -> String {
    format!("BEGIN;\nSET LOCAL statement_timeout = '5s';\nSET LOCAL lock_timeout = '3s';\nSET LOCAL idle_in_transaction_session_timeout = '15s';\n{body}\nCOMMIT;\n")
}

/// Runs the linter over a manifest and `(path, contents)` files; returns all diagnostics.
pub fn lint(manifest_text: &str, files: &[(&str, &str)]) -> Vec<Diagnostic> {
    let pack = manifest::parse("stepgate.toml", manifest_text, Path::new("."))
        .expect("test manifest parses");
    let mut sources = PackSources::default();
    for (p, c) in files {
        sources.files.insert(p.to_string(), Ok(c.to_string()));
        if p.ends_with(".sql") {
            sources.sql_on_disk.push(p.to_string());
        }
    }
    super::run(&pack, &sources)
}

/// Diagnostics of one code.
pub fn of(code: &str, d: &[Diagnostic]) -> Vec<Diagnostic> {
    d.iter().filter(|x| x.code == code).cloned().collect()
}

/// Like [`lint`], but lets the test adjust the sources first (a lock file, sha256s,
/// an unreadable file, a stray file on disk).
pub fn lint_with(
    manifest_text: &str,
    files: &[(&str, &str)],
    tweak: impl FnOnce(&mut PackSources),
) -> Vec<Diagnostic> {
    let pack = manifest::parse("stepgate.toml", manifest_text, Path::new("."))
        .expect("test manifest parses");
    let mut sources = PackSources::default();
    for (p, c) in files {
        sources.files.insert(p.to_string(), Ok(c.to_string()));
        if p.ends_with(".sql") {
            sources.sql_on_disk.push(p.to_string());
        }
    }
    tweak(&mut sources);
    super::run(&pack, &sources)
}

/// The default step file and its rollback, for rules that look at one of them only.
pub fn lint_step(
    extra_pack: &str,
    extra_step: &str,
    body: &str,
    rollback_body: &str,
) -> Vec<Diagnostic> {
    let m = manifest_with(extra_pack, extra_step);
    lint(
        &m,
        &[
            ("01.sql", &step_sql(body)),
            ("rollback/01.sql", &rollback_sql(rollback_body)),
        ],
    )
}

/// Two steps `1` and `2` (`01.sql` and `02.sql`, each a [`step_sql`] around its body, with
/// rollbacks that do nothing), for rules that follow state from one step to the next.
pub fn lint_two_steps(body1: &str, body2: &str) -> Vec<Diagnostic> {
    let m = manifest_with(
        "",
        "[[step]]\nid = \"2\"\nname = \"two\"\nfile = \"02.sql\"\nrollback = \"rollback/02.sql\"\n",
    );
    let rb = rollback_sql("SELECT 1;");
    lint(
        &m,
        &[
            ("01.sql", &step_sql(body1)),
            ("rollback/01.sql", &rb),
            ("02.sql", &step_sql(body2)),
            ("rollback/02.sql", &rb),
        ],
    )
}

/// Like [`lint_step`] with a no-op rollback, for a pack whose `[pack.target]` sets
/// `server_version` (the version-dependent rules).
pub fn lint_step_on(server_version: &str, body: &str) -> Vec<Diagnostic> {
    let m = manifest_with("", "").replace(
        "database = \"db\"",
        &format!("database = \"db\"\nserver_version = \"{server_version}\""),
    );
    lint(
        &m,
        &[
            ("01.sql", &step_sql(body)),
            ("rollback/01.sql", &rollback_sql("SELECT 1;")),
        ],
    )
}
