//! Dispatch: one small function per verb; the work is in `engine`.

use super::render::{self, paint, Style};
use super::{Cli, Command, LintFormat};
use crate::core::error::{exit, SourceError};
use crate::core::lint::{self, output, Severity};
use crate::engine::{self, Error};
use clap::CommandFactory;

pub fn dispatch(cli: Cli) -> i32 {
    let g = cli.global.clone();
    let result = match cli.command {
        Command::Init { path, database } => init(&path, &database),
        Command::Lint { pack_dir, format } => return lint_cmd(pack_dir.as_deref().unwrap_or(&g.pack), format, g.json),
        Command::Rules { explain } => rules(explain.as_deref(), g.json),
        Command::Freeze => Err(Error::BadInput("freeze: not yet available".into())),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "stepgate", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man { out_dir } => man(out_dir.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => render::error(&e, g.json),
    }
}

fn init(path: &std::path::Path, database: &str) -> engine::Result<i32> {
    let written = engine::init::run(path, database)?;
    if !render::quiet() {
        println!("created pack {}:", path.display());
        for w in written {
            println!("  {w}");
        }
        println!("next: edit stepgate.toml and 01_example.sql, then `stepgate lint {}`", path.display());
    }
    Ok(exit::OK)
}

fn lint_cmd(dir: &std::path::Path, format: LintFormat, json: bool) -> i32 {
    let format = if json { LintFormat::Json } else { format };
    let report = match engine::lint::run(dir) {
        Ok(r) => r,
        Err(e) => return render::error(&e, format != LintFormat::Human),
    };
    let diags = &report.diagnostics;
    match format {
        LintFormat::Json => render::print_json(&output::to_json(report.loaded.pack.id(), diags)),
        LintFormat::Sarif => render::print_json(&output::to_sarif(&dir.display().to_string(), diags)),
        LintFormat::Human => {
            for d in diags {
                let src = if d.file == crate::core::manifest::MANIFEST_FILE {
                    report.loaded.pack.manifest_src.clone()
                } else {
                    report
                        .loaded
                        .sources
                        .files
                        .get(&d.file)
                        .and_then(|r| r.as_ref().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let file = dir.join(&d.file).display().to_string();
                let mut se = SourceError::new(file, src, format!("{} [{}] {}", d.severity, d.code, d.message)).span(d.offset, d.length);
                if let Some(h) = &d.help {
                    se = se.help(h.clone());
                }
                let report = se.report();
                let text = format!("{report:?}");
                // miette labels everything as an error; say warning when it is one.
                let text = if d.severity == Severity::Warning { text.replacen("×", "⚠", 1) } else { text };
                eprintln!("{text}");
            }
            let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
            let warnings = diags.len() - errors;
            let files = report.loaded.sources.files.len() + 1;
            let summary = format!("{}: {errors} error(s), {warnings} warning(s) in {files} file(s)", report.loaded.pack.id());
            let style = if errors > 0 { Style::Bad } else if warnings > 0 { Style::Warn } else { Style::Ok };
            eprintln!("{}", paint(&summary, style));
        }
    }
    lint::exit_code(diags)
}

fn rules(explain: Option<&str>, json: bool) -> engine::Result<i32> {
    let all = lint::rules::all();
    if let Some(code) = explain {
        let r = all
            .iter()
            .find(|r| r.code().eq_ignore_ascii_case(code) || r.name() == code)
            .ok_or_else(|| Error::BadInput(format!("no rule `{code}`; `stepgate rules` lists them")))?;
        if json {
            render::print_json(&serde_json::json!({"code": r.code(), "name": r.name(), "severity": r.default_severity(), "summary": r.summary(), "explanation": r.explanation()}));
        } else {
            println!("{} {} ({})\n\n{}\n\n{}", r.code(), r.name(), r.default_severity(), r.summary(), r.explanation());
        }
        return Ok(exit::OK);
    }
    if json {
        let v: Vec<_> = all
            .iter()
            .map(|r| serde_json::json!({"code": r.code(), "name": r.name(), "severity": r.default_severity(), "summary": r.summary()}))
            .collect();
        render::print_json(&serde_json::Value::Array(v));
    } else {
        for r in all {
            println!("{}  {:<40} {:<8} {}", r.code(), r.name(), r.default_severity().to_string(), r.summary());
        }
        println!("\nChange a severity per pack: [pack.lint] severity = {{ SG103 = \"error\", SG105 = \"off\" }}");
    }
    Ok(exit::OK)
}

fn man(out_dir: Option<&std::path::Path>) -> engine::Result<i32> {
    let cmd = Cli::command();
    match out_dir {
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(|e| Error::BadInput(e.to_string()))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::BadInput(format!("{}: {e}", dir.display())))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| Error::BadInput(format!("{}: {e}", dir.display())))?;
        }
    }
    Ok(exit::OK)
}
