//! SG018 psql-meta-command: a psql backslash command (`\set`, `\i`, `\if`, `\gexec`, …)
//! in a pack file.
//!
//! Why: stepgate does not pipe files through psql; it sends each statement itself over
//! the PostgreSQL protocol, so it can time, measure and roll back each one. Backslash
//! commands are features of the psql client, not SQL: the server never sees them. A
//! `\set ON_ERROR_STOP` does nothing, an `\i other.sql` silently includes nothing, an
//! `\if` guard never guards and a `\gexec` never executes — so the file that was
//! reviewed is not the file that runs. stepgate blanks these lines to parse the rest,
//! and this rule makes sure nobody relies on them.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct PsqlMeta;

fn help_for(cmd: &str) -> &'static str {
    let word = cmd
        .trim_start_matches('\\')
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    match word {
        "set" | "unset" | "pset" => "psql variables do not exist here: write the values into the SQL; stepgate already stops at the first error",
        "i" | "ir" | "include" | "include_relative" => "stepgate never includes files: put the statements in this file, or make the other file its own step",
        "if" | "elif" | "else" | "endif" => "use a DO block that RAISEs EXCEPTION when the condition fails",
        "gexec" | "gset" | "g" => "dynamic SQL cannot be reviewed or measured statically; write the statements out",
        "c" | "connect" => "the pack's target is in stepgate.toml; a step cannot switch databases",
        _ => "remove it: stepgate runs statements itself through the protocol, not through psql",
    }
}

impl Rule for PsqlMeta {
    fn code(&self) -> &'static str {
        "SG018"
    }
    fn name(&self) -> &'static str {
        "psql-meta-command"
    }
    fn summary(&self) -> &'static str {
        "a psql backslash command, which stepgate would silently not run"
    }
    fn explanation(&self) -> &'static str {
        "stepgate executes each statement itself over the PostgreSQL protocol, so psql client features — \\set and variables, \\i includes, \\if conditionals, \\gexec, \\connect — are never run: the server never sees them. The reviewed file would then behave differently from what it appears to do. Write plain SQL: DO blocks that RAISE EXCEPTION for guards, explicit statements instead of includes or generated SQL."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for f in &ctx.files {
            for m in &f.sql.meta_commands {
                out.at(
                    &f.rel,
                    &f.sql.src,
                    m.start,
                    m.text.len(),
                    format!(
                        "psql meta-command `{}` is not SQL and would silently not run",
                        m.text
                    ),
                    Some(help_for(&m.text).into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_meta_commands() {
        let sql = format!("\\set ON_ERROR_STOP 1\n{}", step_sql("  \\i other.sql"));
        let d = of(
            "SG018",
            &lint(
                &manifest_with("", ""),
                &[
                    ("01.sql", &sql),
                    (
                        "rollback/01.sql",
                        &rollback_sql("\\if :ok\nSELECT 1;\n\\endif"),
                    ),
                ],
            ),
        );
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(d
            .iter()
            .any(|x| x.file == "01.sql" && x.line == 1 && x.message.contains("\\set")));
        assert!(d.iter().any(|x| x.file == "01.sql"
            && x.line == 13
            && x.column == 3
            && x.help.as_deref().unwrap_or("").contains("includes")));
    }

    #[test]
    fn quiet_without_meta_commands() {
        let d = of(
            "SG018",
            &lint_step("", "", "SELECT E'\\\\set';", "SELECT 1;"),
        );
        assert!(d.is_empty(), "{d:?}");
    }
}
