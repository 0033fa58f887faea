//! The first hour: `init`, `new-step` and `import`.

use super::render::{self, paint, Style};
use super::{ImportFormat, ProfileArg};
use crate::core::error::exit;
use crate::core::import::Format;
use crate::core::manifest::LintProfile;
use crate::engine;
use std::path::Path;

pub fn init(
    path: &Path,
    database: &str,
    environment: Option<&str>,
    profile: ProfileArg,
    json: bool,
) -> engine::Result<i32> {
    let profile = match profile {
        ProfileArg::Plain => LintProfile::Plain,
        ProfileArg::Sections => LintProfile::Sections,
    };
    let written = engine::init::run_with(
        path,
        &engine::init::InitOptions {
            database,
            environment,
            profile,
        },
    )?;
    if json {
        render::print_json(&serde_json::json!({
            "created": path,
            "files": written,
            "environment": environment,
        }));
    } else if !render::quiet() {
        println!("created pack {}:", path.display());
        for w in written {
            println!("  {w}");
        }
        if environment.is_none() {
            println!("no environment written: set [pack.target] environment to the label of `stepgate ledger install --environment` so the pack only runs there");
        }
        println!(
            "next: edit stepgate.toml and 01_example.sql, then `stepgate lint {}`; `stepgate new-step -p {} NAME` adds a step",
            path.display(),
            path.display()
        );
    }
    Ok(exit::OK)
}

pub fn new_step(pack: &Path, name: &str, rollback: bool, json: bool) -> engine::Result<i32> {
    let s = engine::new_step::run(pack, name, rollback)?;
    if json {
        render::print_json(&serde_json::to_value(&s).unwrap_or_default());
    } else if !render::quiet() {
        println!(
            "added step {} to {}:",
            s.id,
            pack.join("stepgate.toml").display()
        );
        println!("  {}", s.file);
        if let Some(r) = &s.rollback {
            println!("  {r}");
        } else {
            println!("  (no rollback file: write one and name it as `rollback`, or mark the step one_way; lint SG030 asks)");
        }
        println!(
            "next: write the SQL, declare [step.effects], then `stepgate lint {}`",
            pack.display()
        );
    }
    Ok(exit::OK)
}

pub fn import(
    format: ImportFormat,
    source: &Path,
    pack: &Path,
    database: Option<&str>,
    environment: Option<&str>,
    json: bool,
) -> engine::Result<i32> {
    let format = match format {
        ImportFormat::Flyway => Format::Flyway,
        ImportFormat::Sqitch => Format::Sqitch,
        ImportFormat::Dir => Format::Dir,
    };
    let r = engine::import::run(&engine::import::Options {
        format,
        source,
        pack,
        database,
        environment,
    })?;
    let code = if r.lint_errors.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
        return Ok(code);
    }
    println!(
        "imported {} {} migration(s) from {} into {}:",
        r.imported.steps.len(),
        format.name(),
        source.display(),
        pack.display()
    );
    for s in &r.imported.steps {
        let mut flags = Vec::new();
        if s.rollback.is_none() {
            flags.push("one_way");
        }
        if !s.transactional {
            flags.push("non-transactional");
        }
        if !s.todo.is_empty() {
            flags.push("TODO");
        }
        println!(
            "  step {:<12} {} ← {}{}",
            s.id,
            s.file,
            s.source,
            if flags.is_empty() {
                String::new()
            } else {
                paint(&format!("  [{}]", flags.join(", ")), Style::Dim)
            }
        );
    }
    for s in r.skipped() {
        println!("  not imported: {} — {}", s.file, s.why);
    }
    if r.lint_errors.is_empty() {
        println!("lint: clean ({} warning(s))", r.lint_warnings.len());
    } else {
        println!("lint: {} error(s):", r.lint_errors.len());
        for e in &r.lint_errors {
            println!("  {e}");
        }
    }
    println!("review next:");
    for (i, item) in r.review().iter().enumerate() {
        println!("  {}. {item}", i + 1);
    }
    println!("then:");
    for n in &r.next {
        println!("  {n}");
    }
    Ok(code)
}
