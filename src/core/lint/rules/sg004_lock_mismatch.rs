//! SG004 lock-mismatch: the pack's files no longer match `stepgate.lock`.
//!
//! Why: `stepgate freeze` writes `stepgate.lock`, the sha256 of every pack file, at
//! the moment the pack is handed to approvers (the seed plans' "frozen SQL sha256",
//! G-3). Approvals bind those checksums. A file edited after the freeze, a file that
//! disappeared, or a new file the lock does not cover means the pack on disk is not
//! the pack that was reviewed. Re-freeze and get fresh approvals instead of editing a
//! frozen pack.
//!
//! The lock format is `sha256sum`'s: one `<64 hex digits>  <relative path>` per line
//! (two spaces; `sha256sum`'s binary marker ` *` is accepted too), blank lines and
//! `#` comments allowed. [`parse_lock`] and [`render_lock`] are shared with `freeze`.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use std::collections::BTreeMap;

pub struct LockMismatch;

/// The lock file's name inside the pack folder.
pub const LOCK_FILE: &str = "stepgate.lock";

/// One parsed lock line: path, sha256 (lower-case hex), byte offset and length of the line.
struct LockLine {
    path: String,
    sha256: String,
    offset: usize,
    len: usize,
}

fn parse_lines(text: &str) -> Result<Vec<LockLine>, (usize, String)> {
    let mut out: Vec<LockLine> = Vec::new();
    let mut offset = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (hash, rest) = line.split_at(line.find(' ').unwrap_or(line.len()));
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err((line_no, format!("`{hash}` is not a sha256 (64 hex digits)")));
        }
        let path = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| {
                (
                    line_no,
                    "expected `<sha256>  <path>` (two spaces between the checksum and the path)"
                        .to_string(),
                )
            })?;
        if path.trim().is_empty() {
            return Err((line_no, "the line names no file".to_string()));
        }
        if out.iter().any(|l| l.path == path) {
            return Err((line_no, format!("`{path}` is listed twice")));
        }
        out.push(LockLine {
            path: path.to_string(),
            sha256: hash.to_ascii_lowercase(),
            offset: start,
            len: line.len(),
        });
    }
    Ok(out)
}

/// Parses `stepgate.lock`: `(relative path, sha256 hex in lower case)` in file order —
/// keyed like [`crate::core::lint::PackSources::sha256`]. Err is `(1-based line, message)`.
pub fn parse_lock(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    Ok(parse_lines(text)?
        .into_iter()
        .map(|l| (l.path, l.sha256))
        .collect())
}

/// Renders a lock from `(relative path, sha256 hex)` entries: a comment header, then one
/// `sha256sum`-style line per file, sorted by path. `parse_lock(&render_lock(e))` gives `e` back (sorted).
pub fn render_lock(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort();
    let mut out = String::from("# stepgate.lock: sha256 of every pack file, written by `stepgate freeze`.\n# Approvals bind these checksums; do not edit by hand.\n");
    for (path, sha) in sorted {
        out.push_str(&format!("{}  {path}\n", sha.to_ascii_lowercase()));
    }
    out
}

impl Rule for LockMismatch {
    fn code(&self) -> &'static str {
        "SG004"
    }
    fn name(&self) -> &'static str {
        "lock-mismatch"
    }
    fn summary(&self) -> &'static str {
        "a pack file's sha256 differs from stepgate.lock, or the lock and the pack list different files"
    }
    fn explanation(&self) -> &'static str {
        "stepgate.lock (written by `stepgate freeze`) records the sha256 of every pack file when the pack was frozen for review; approvals bind those checksums. Any file changed since, listed in the lock but gone, or present but not in the lock means the pack on disk is not the pack that was reviewed. Do not edit a frozen pack in place: make the change, run `stepgate freeze` again and collect fresh approvals. A lock that does not parse is bad input (exit 2)."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let Some(lock) = &ctx.sources.lock else {
            return;
        };
        let lines = match parse_lines(lock) {
            Ok(l) => l,
            Err((line, msg)) => {
                let offset = crate::core::error::line_start(lock, line);
                let len = lock[offset..].find('\n').unwrap_or(lock.len() - offset);
                out.at(
                    LOCK_FILE,
                    lock,
                    offset,
                    len,
                    format!("{LOCK_FILE} does not parse: {msg}"),
                    Some("regenerate it with `stepgate freeze`".into()),
                );
                out.bad_input();
                return;
            }
        };
        let refreeze = || {
            Some("if the change is intended, run `stepgate freeze` again and collect fresh approvals".to_string())
        };
        let locked: BTreeMap<&str, &LockLine> =
            lines.iter().map(|l| (l.path.as_str(), l)).collect();
        for l in &lines {
            match ctx.sources.sha256.get(&l.path) {
                None => out.at(
                    LOCK_FILE,
                    lock,
                    l.offset,
                    l.len,
                    format!(
                        "`{}` is in the lock but no longer exists in the pack",
                        l.path
                    ),
                    refreeze(),
                ),
                Some(now) if !now.eq_ignore_ascii_case(&l.sha256) => out.at(
                    LOCK_FILE,
                    lock,
                    l.offset,
                    l.len,
                    format!(
                        "`{}` changed since the pack was frozen (lock sha256 {}, now {})",
                        l.path,
                        l.sha256,
                        now.to_ascii_lowercase()
                    ),
                    refreeze(),
                ),
                Some(_) => {}
            }
        }
        for path in ctx.sources.sha256.keys() {
            if path != LOCK_FILE && !locked.contains_key(path.as_str()) {
                out.at(
                    LOCK_FILE,
                    lock,
                    0,
                    1,
                    format!("`{path}` is part of the pack but not in the lock"),
                    refreeze(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_lock, render_lock};
    use crate::core::lint::testing::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn run(lock: &str, sums: &[(&str, &str)]) -> Vec<crate::core::lint::Diagnostic> {
        let m = manifest_with("", "");
        let d = lint_with(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
            |s| {
                s.lock = Some(lock.to_string());
                for (p, h) in sums {
                    s.sha256.insert(p.to_string(), h.to_string());
                }
            },
        );
        of("SG004", &d)
    }

    #[test]
    fn round_trips() {
        let e = vec![
            ("b.sql".to_string(), B.to_string()),
            ("a.sql".to_string(), A.to_string()),
        ];
        let text = render_lock(&e);
        let back = parse_lock(&text).unwrap();
        assert_eq!(
            back,
            vec![
                ("a.sql".to_string(), A.to_string()),
                ("b.sql".to_string(), B.to_string())
            ]
        );
        assert_eq!(
            parse_lock(&format!("# c\n\n{A}  x.sql\n{}  y.sql\n", "z".repeat(64)))
                .unwrap_err()
                .0,
            4
        );
        assert!(parse_lock(&format!("{A} x.sql\n")).is_err());
        assert!(parse_lock(&format!("{A}  x.sql\n{B}  x.sql\n")).is_err());
    }

    #[test]
    fn fires_on_changed_gone_and_unlocked_files() {
        let lock = format!("{A}  stepgate.toml\n{A}  01.sql\n{A}  old.sql\n");
        let d = run(
            &lock,
            &[("stepgate.toml", A), ("01.sql", B), ("rollback/01.sql", A)],
        );
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|x| x.message.contains("`01.sql` changed")
            && x.line == 2
            && x.message.contains(B)));
        assert!(d
            .iter()
            .any(|x| x.message.contains("`old.sql` is in the lock") && x.line == 3));
        assert!(d
            .iter()
            .any(|x| x.message.contains("`rollback/01.sql` is part of the pack")));
        let d = run("not a lock\n", &[]);
        assert!(d.len() == 1 && d[0].bad_input, "{d:?}");
    }

    #[test]
    fn quiet_when_lock_matches_or_absent() {
        let lock = format!(
            "# frozen\n{A}  stepgate.toml\n{}  01.sql\n",
            B.to_uppercase()
        );
        assert!(run(&lock, &[("stepgate.toml", A), ("01.sql", B)]).is_empty());
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert!(of("SG004", &d).is_empty());
    }
}
