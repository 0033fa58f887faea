//! Dispatch: one small function per verb; the work is in `engine`.

use super::render::{self, paint, Style};
use super::{Cli, Command, LedgerAction, LintFormat};
use crate::core::error::{exit, SourceError};
use crate::core::lint::{self, output, Severity};
use crate::engine::Options;
use crate::engine::{self, Error};
use clap::CommandFactory;

pub fn dispatch(cli: Cli) -> i32 {
    let g = cli.global.clone();
    if g.json {
        if let Some(why) = json_unsupported(&cli.command) {
            return render::error(&Error::BadInput(why), true);
        }
    }
    let result = match cli.command {
        Command::Demo { keep } => super::demo::run(keep, g.quiet),
        Command::Init {
            path,
            database,
            environment,
            profile,
        } => super::first_hour::init(&path, &database, environment.as_deref(), profile, g.json),
        Command::NewStep { name, rollback } => {
            super::first_hour::new_step(&g.pack, &name, rollback, g.json)
        }
        Command::Import {
            format,
            source,
            pack,
            database,
            environment,
        } => super::first_hour::import(
            format,
            &source,
            &pack,
            database.as_deref(),
            environment.as_deref(),
            g.json,
        ),
        Command::Lint {
            pack_dir,
            format,
            info,
            server_version,
        } => {
            let opts = match lint_options(info, server_version.as_deref()) {
                Ok(o) => o,
                Err(e) => return render::error(&e, g.json || format != LintFormat::Human),
            };
            return lint_cmd(pack_dir.as_deref().unwrap_or(&g.pack), format, g.json, opts);
        }
        Command::Rules { explain } => rules(explain.as_deref(), g.json),
        Command::Freeze => freeze(&g.pack, g.json),
        Command::Ledger { action } => ledger(&opts(&g), action, g.json),
        Command::Preflight { step } => preflight(&opts(&g), step.as_deref(), g.json),
        Command::Rehearse {
            step,
            rollback,
            cascade,
            full_proof,
        } => rehearse(&opts(&g), &step, rollback, cascade, full_proof, g.json),
        Command::Status => status_cmd(&opts(&g), g.json),
        Command::Snapshot { output } => snapshot(&opts(&g), output.as_deref(), g.json),
        Command::Diff { before, after } => diff(&before, &after, g.json),
        Command::Approve { what, key } => super::commit::approve(&g, &what, &key),
        Command::ApprovalText { what } => super::commit::approval_text(&g, &what),
        Command::Gates { step, action } => super::commit::gates(&opts(&g), &step, action, g.json),
        Command::Guard { action } => guard(&opts(&g), action, g.json),
        Command::Signers { action } => super::commit::signers(&opts(&g), action, g.json),
        Command::Backup { step } => super::commit::backup(&opts(&g), &step, g.json),
        Command::Apply {
            step,
            retries,
            no_auto_backup,
            wait_for_locks,
            full_proof,
        } => super::commit::apply(
            &opts(&g),
            &step,
            super::commit::ApplyFlags {
                retries,
                auto_backup: !no_auto_backup,
                wait_for_locks,
                full_proof,
            },
            g.json,
        ),
        Command::Verify { step } => super::commit::verify(&opts(&g), &step, g.json),
        Command::Drift { accept } => super::commit::drift(&opts(&g), accept, g.json),
        Command::Halt { reason } => super::commit::halt(&opts(&g), &reason, g.json),
        Command::Resume => super::commit::resume(&opts(&g), g.json),
        Command::Rollback {
            step,
            cascade,
            no_auto_backup,
        } => super::commit::rollback(&opts(&g), &step, cascade, !no_auto_backup, g.json),
        Command::Restore { step, table } => {
            super::commit::restore(&opts(&g), &step, &table, g.json)
        }
        Command::Review {
            step,
            format,
            output,
        } => super::commit::review(
            &opts(&g),
            step.as_deref(),
            format,
            output.as_deref(),
            g.json,
        ),
        Command::Scratch {
            from_db: _,
            from_sql,
            with_data,
            keep,
        } => super::commit::scratch(&opts(&g), from_sql, &with_data, keep, g.json),
        Command::Completions { shell } => {
            print!("{}", super::complete::script(shell));
            Ok(exit::OK)
        }
        Command::Complete { what } => {
            print!("{}", super::complete::candidates(&g.pack, what));
            Ok(exit::OK)
        }
        Command::Man { out_dir } => man(out_dir.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => render::error(&e, g.json),
    }
}

/// The verbs whose output is a document, a script or a narration rather than a result:
/// `--json` is refused for them (exit 2) rather than silently ignored.
pub fn json_unsupported(c: &Command) -> Option<String> {
    let (verb, why) = match c {
        Command::Demo { .. } => (
            "demo",
            "it narrates a story for a person; script the verbs it runs instead",
        ),
        Command::Completions { .. } => ("completions", "it writes a shell script"),
        Command::Complete { .. } => ("__complete", "it lists words for a shell"),
        Command::Man { .. } => ("man", "it writes roff"),
        _ => return None,
    };
    Some(format!("`stepgate {verb}` does not support --json: {why}"))
}

/// `--info` / `--server-version` as lint options (an unreadable version is bad input).
fn lint_options(info: bool, server_version: Option<&str>) -> engine::Result<lint::Options> {
    let server_major = match server_version {
        None => None,
        Some(v) => Some(crate::core::manifest::parse_major(v).ok_or_else(|| {
            Error::BadInput(format!(
                "--server-version `{v}` is not a PostgreSQL version (e.g. 15)"
            ))
        })?),
    };
    Ok(lint::Options { info, server_major })
}

fn lint_cmd(dir: &std::path::Path, format: LintFormat, json: bool, opts: lint::Options) -> i32 {
    let format = if json { LintFormat::Json } else { format };
    let mut report = match engine::lint::run(dir) {
        Ok(r) => r,
        Err(e) => return render::error(&e, format != LintFormat::Human),
    };
    if opts.info || opts.server_major.is_some() {
        report.diagnostics = lint::run_with(&report.loaded.pack, &report.loaded.sources, opts);
    }
    let diags = &report.diagnostics;
    match format {
        LintFormat::Json => render::print_json(&output::to_json(report.loaded.pack.id(), diags)),
        LintFormat::Sarif => {
            render::print_json(&output::to_sarif(&dir.display().to_string(), diags))
        }
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
                let mut se = SourceError::new(
                    file,
                    src,
                    format!("{} [{}] {}", d.severity, d.code, d.message),
                )
                .span(d.offset, d.length);
                if let Some(h) = &d.help {
                    se = se.help(h.clone());
                }
                let report = se.report();
                let text = format!("{report:?}");
                // miette labels everything as an error; say warning when it is one.
                let text = match d.severity {
                    Severity::Warning => text.replacen("×", "⚠", 1),
                    Severity::Info => text.replacen("×", "ℹ", 1),
                    Severity::Error => text,
                };
                eprintln!("{text}");
            }
            let errors = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diags
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count();
            let files = report.loaded.sources.files.len() + 1;
            let summary = format!(
                "{}: {errors} error(s), {warnings} warning(s) in {files} file(s)",
                report.loaded.pack.id()
            );
            let style = if errors > 0 {
                Style::Bad
            } else if warnings > 0 {
                Style::Warn
            } else {
                Style::Ok
            };
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
            .ok_or_else(|| {
                Error::BadInput(format!("no rule `{code}`; `stepgate rules` lists them"))
            })?;
        if json {
            render::print_json(
                &serde_json::json!({"code": r.code(), "name": r.name(), "severity": r.default_severity(), "summary": r.summary(), "explanation": r.explanation()}),
            );
        } else {
            println!(
                "{} {} ({})\n\n{}\n\n{}",
                r.code(),
                r.name(),
                r.default_severity(),
                r.summary(),
                r.explanation()
            );
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
            println!(
                "{}  {:<40} {:<8} {}",
                r.code(),
                r.name(),
                r.default_severity().to_string(),
                r.summary()
            );
        }
        println!("\nChange a severity per pack: [pack.lint] severity = {{ SG103 = \"error\", SG105 = \"off\" }}");
    }
    Ok(exit::OK)
}

fn man(out_dir: Option<&std::path::Path>) -> engine::Result<i32> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    match out_dir {
        None => {
            man_page(&cmd, &mut std::io::stdout()).map_err(|e| {
                super::pipe::exit_if_broken_pipe(&e);
                Error::BadInput(e.to_string())
            })?;
        }
        Some(dir) => {
            let bad = |e: std::io::Error| Error::BadInput(format!("{}: {e}", dir.display()));
            std::fs::create_dir_all(dir).map_err(bad)?;
            // One page per verb (each with its exit codes), then stepgate.1 with the
            // ENVIRONMENT, FILES, EXIT STATUS and EXAMPLES sections.
            // A nested verb (`ledger install`) without its own exit line has its parent's.
            fn verbs(
                cmd: &clap::Command,
                dir: &std::path::Path,
                exit: &str,
            ) -> std::io::Result<()> {
                for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                    let after = sub
                        .get_after_help()
                        .map(|h| h.to_string())
                        .unwrap_or_default();
                    let own = after.split_once("Exit: ").map_or(exit, |(_, e)| e);
                    verbs(sub, dir, own)?;
                    let name = clap_mangen::Man::new(sub.clone()).get_filename();
                    verb_page(sub, own, &mut std::fs::File::create(dir.join(name))?)?;
                }
                Ok(())
            }
            verbs(&cmd, dir, "").map_err(bad)?;
            let mut f = std::fs::File::create(dir.join("stepgate.1")).map_err(bad)?;
            man_page(&cmd, &mut f).map_err(bad)?;
        }
    }
    Ok(exit::OK)
}

/// The sections of stepgate.1 that clap does not know: (heading, roff body).
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        ".TP\n0\nok; also an idempotent repeat (apply of a committed step, a second ledger install, rollback of a rolled-back step), which prints \"nothing to do\"\n\
.TP\n1\na check ran and failed (lint errors, a failed rehearsal, drift, a verify mismatch)\n\
.TP\n2\nbad input: malformed manifest, missing file, SQL that does not parse, --json on a verb without JSON output; nothing was executed\n\
.TP\n3\na gate refused (approvals, rehearsal, backup, lock file)\n\
.TP\n4\nthe pack is halted\n\
.TP\n5\ndatabase error outside any step (cannot connect, ...)\n\
.TP\n6\nwrong target: the connected database is not the pack's\n\
.TP\n7\nanother runner holds this pack\n\
.PP\nEach verb's page (stepgate-VERB(1)) and --help list the codes that verb can return.\n",
    ),
    (
        "ENVIRONMENT",
        ".TP\n\\fBDATABASE_URL\\fR\nThe connection string when --db is not given.\n\
.TP\n\\fBPGHOST\\fR, \\fBPGPORT\\fR, \\fBPGUSER\\fR, \\fBPGDATABASE\\fR, \\fBPGPASSWORD\\fR, \\fBPGSSLMODE\\fR, ...\nRead as libpq reads them when neither --db nor DATABASE_URL is set; passwords also from ~/.pgpass.\n\
.TP\n\\fBPGSERVICE\\fR\nA service in pg_service.conf to connect to.\n\
.TP\n\\fBSTEPGATE_PACK\\fR\nThe pack folder when --pack is not given.\n\
.TP\n\\fBSTEPGATE_EVIDENCE_DIR\\fR\nWhere table dumps and measurement captures go (as --evidence-dir).\n\
.TP\n\\fBXDG_STATE_HOME\\fR\nThe default evidence folder is $XDG_STATE_HOME/stepgate/evidence (~/.local/state/stepgate/evidence).\n\
.TP\n\\fBSTEPGATE_KEY_PASSPHRASE\\fR\nThe passphrase of the key given to approve --key.\n\
.TP\n\\fBNO_COLOR\\fR\nWhen set and not empty: no colour (unless --color always).\n\
.TP\n\\fBCLICOLOR_FORCE\\fR\nWhen set, not empty and not 0: colour even when stderr is not a terminal (NO_COLOR wins).\n\
.TP\n\\fBTERM\\fR\ndumb: no colour.\n",
    ),
    (
        "FILES",
        ".TP\n\\fBstepgate.toml\\fR\nThe pack manifest: target, timeouts, gates and [[step]] tables.\n\
.TP\n\\fBstepgate.lock\\fR\nThe frozen plan: the sha256 of every file of the pack (stepgate freeze).\n\
.TP\n\\fBapprovals/\\fR\nSigned approvals, <step>.<gate>.<principal>.approval and .approval.sig.\n\
.TP\n\\fBrollback/\\fR\nThe steps' rollback files.\n\
.TP\n\\fBevidence folder\\fR\n[pack] evidence_dir, --evidence-dir or $XDG_STATE_HOME/stepgate/evidence: pre-commit dumps and measurements (folders 0700, files 0600), never inside the pack.\n",
    ),
    (
        "EXAMPLES",
        ".nf\n\
stepgate demo\n\
stepgate init my-pack --database appdb --environment prod\n\
stepgate lint my-pack\n\
stepgate -p my-pack ledger install --environment prod --runner-role deployer\n\
stepgate -p my-pack rehearse --step 1\n\
stepgate -p my-pack review --format html -o review.html\n\
PGHOST=db.example.com PGDATABASE=appdb stepgate -p my-pack review --step 1 --json\n\
stepgate -p my-pack approve --step 1 --gate owner --principal me@example.org --key ~/.ssh/id_ed25519\n\
stepgate -p my-pack apply --step 1\n\
stepgate -p my-pack verify --step 1\n\
stepgate -p my-pack rollback --step 1\n\
stepgate -p my-pack status --json\n\
stepgate completions bash > ~/.local/share/bash-completion/completions/stepgate\n\
.fi\n",
    ),
];

/// Escapes text for a roff paragraph (a leading dot or quote would be a request).
fn roff(text: &str) -> String {
    text.replace('\\', "\\e")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// A verb's page: clap's sections, its notes, its own EXIT STATUS (from the
/// `Exit: 0 … · 2 …` line of its --help), and where the environment is described.
pub fn verb_page(
    cmd: &clap::Command,
    exit: &str,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let m = clap_mangen::Man::new(cmd.clone());
    m.render_title(w)?;
    m.render_name_section(w)?;
    m.render_synopsis_section(w)?;
    m.render_description_section(w)?;
    m.render_options_section(w)?;
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        m.render_subcommands_section(w)?;
    }
    let after = cmd
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let notes = after
        .split_once("Exit: ")
        .map_or(after.as_str(), |(n, _)| n);
    if !notes.trim().is_empty() {
        write!(w, ".SH NOTES\n{}", roff(notes.trim()))?;
    }
    if !exit.trim().is_empty() {
        w.write_all(b".SH \"EXIT STATUS\"\n")?;
        for part in exit.trim().split(" · ") {
            let (code, meaning) = part.split_once(' ').unwrap_or((part, ""));
            write!(w, ".TP\n{}{}", roff(code), roff(meaning))?;
        }
    }
    w.write_all(b".SH ENVIRONMENT\nThe connection comes from --db, DATABASE_URL, PGSERVICE and the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSSLMODE, ...); colour follows NO_COLOR, CLICOLOR_FORCE and TERM=dumb. See \\fBstepgate\\fR(1) for every variable and file.\n.SH \"SEE ALSO\"\n\\fBstepgate\\fR(1)\n")?;
    Ok(())
}

/// stepgate.1: clap's sections, then EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES.
pub fn man_page(cmd: &clap::Command, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let m = clap_mangen::Man::new(cmd.clone());
    m.render_title(w)?;
    m.render_name_section(w)?;
    m.render_synopsis_section(w)?;
    m.render_description_section(w)?;
    m.render_options_section(w)?;
    m.render_subcommands_section(w)?;
    for (head, body) in MAN_SECTIONS {
        write!(w, ".SH \"{head}\"\n{body}")?;
    }
    m.render_version_section(w)?;
    Ok(())
}

pub fn opts(g: &super::Global) -> Options {
    Options {
        pack: g.pack.clone(),
        db: g.db.clone(),
    }
}

fn ledger(o: &Options, action: LedgerAction, json: bool) -> engine::Result<i32> {
    use crate::db::ledger::{install_sql, InstallOptions};
    match action {
        LedgerAction::Install {
            environment,
            runner_role,
            floor,
            no_guard,
            print,
        } => {
            if floor < 1 {
                return Err(Error::BadInput("--floor must be at least 1: a ledger that accepts unsigned commits protects nothing".into()));
            }
            // In a pack, the label defaults to the pack's target environment.
            let environment = match environment {
                Some(e) => Some(e),
                None => engine::ledger_cmd::pack_target(o)?.and_then(|t| t.environment),
            };
            let io = InstallOptions {
                environment,
                runner_role,
                floor_min_signatures: floor,
                guard: !no_guard,
            };
            if print {
                print!("{}", install_sql(&io));
                return Ok(exit::OK);
            }
            let target = engine::ledger_cmd::install(o, &io)?;
            if json {
                render::print_json(&serde_json::json!({"installed": true, "target": target}));
            } else {
                println!("{} ledger installed in {target}", render::mark(true));
            }
            Ok(exit::OK)
        }
        LedgerAction::Relabel { environment } => {
            let r = engine::ledger_cmd::relabel(o, &environment)?;
            if json {
                render::print_json(&serde_json::to_value(&r).unwrap_or_default());
            } else {
                println!(
                    "{} ledger in {} relabelled: `{}` -> `{}`",
                    render::mark(true),
                    r.target,
                    r.old,
                    r.new
                );
                println!(
                    "  approvals signed for `{}` no longer pass the permit check here: packs must target `{}` and be re-approved",
                    r.old, r.new
                );
            }
            Ok(exit::OK)
        }
        LedgerAction::Uninstall { force } => {
            let r = engine::ledger_cmd::uninstall(o, force)?;
            if json {
                render::print_json(&serde_json::to_value(&r).unwrap_or_default());
            } else {
                println!(
                    "{} ledger uninstalled from {} (environment `{}`)",
                    render::mark(true),
                    r.target,
                    r.environment
                );
                println!(
                    "  the ledger cannot record its own removal; keep this summary as the record:"
                );
                println!(
                    "  events: {} (head id {}, head hash {})",
                    r.events, r.head_id, r.head_hash
                );
                println!(
                    "  committed steps lost: {}{}",
                    r.committed_steps.len(),
                    if r.committed_steps.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.committed_steps.join(", "))
                    }
                );
                println!(
                    "  guard: {}; guarded tables unprotected: {}",
                    if r.guard {
                        "removed"
                    } else {
                        "was not installed"
                    },
                    if r.guarded_tables.is_empty() {
                        "none".to_string()
                    } else {
                        r.guarded_tables.join(", ")
                    }
                );
            }
            Ok(exit::OK)
        }
        LedgerAction::Verify => {
            let r = engine::ledger_cmd::verify(o)?;
            if json {
                render::print_json(
                    &serde_json::json!({"target": r.target, "rows": r.rows, "intact": r.problems.is_empty(), "problems": r.problems}),
                );
            } else if r.problems.is_empty() {
                println!(
                    "{} ledger intact: {} row(s) in {}, hash chain verified",
                    render::mark(true),
                    r.rows,
                    r.target
                );
            } else {
                println!("{} ledger TAMPERED in {}:", render::mark(false), r.target);
                for p in &r.problems {
                    println!("  row {}: {}", p.id, p.problem);
                }
            }
            Ok(if r.problems.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
        LedgerAction::Log { this_pack, last } => {
            let pack_id = if this_pack {
                Some(engine::pack::load(&o.pack)?.pack.id().to_string())
            } else {
                None
            };
            let events = engine::ledger_cmd::log(o, pack_id.as_deref())?;
            let events = &events[events.len().saturating_sub(last)..];
            if json {
                render::print_json(&serde_json::to_value(events).unwrap_or_default());
            } else {
                for e in events {
                    println!(
                        "{:>5}  {}  {:<18} {:<6} {:<18} {:<10} {}@{} ({})",
                        e.id,
                        &e.at[..19.min(e.at.len())],
                        e.pack,
                        e.step.as_deref().unwrap_or("-"),
                        e.verb,
                        e.result,
                        e.os_user.as_deref().unwrap_or("?"),
                        e.host.as_deref().unwrap_or("?"),
                        e.db_role
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

fn preflight(o: &Options, step: Option<&str>, json: bool) -> engine::Result<i32> {
    let r = engine::preflight::run(o, step)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!(
            "{} preflight of {} on {}",
            paint("▶", Style::Head),
            r.pack,
            r.target
        );
        for c in &r.checks {
            println!(
                "  {} {:<52} {}",
                render::mark(c.ok),
                c.name,
                paint(&c.evidence, Style::Dim)
            );
        }
        let verdict = if r.passed {
            paint("preflight passed", Style::Ok)
        } else {
            paint("preflight FAILED", Style::Bad)
        };
        println!("{verdict}");
    }
    Ok(if r.passed { exit::OK } else { exit::FAILED })
}

fn rehearse(
    o: &Options,
    step: &str,
    rollback: bool,
    cascade: bool,
    full_proof: bool,
    json: bool,
) -> engine::Result<i32> {
    if cascade {
        let rs = engine::rehearse::run_cascade(o, step)?;
        if json {
            render::print_json(&serde_json::to_value(&rs).unwrap_or_default());
        } else {
            for r in &rs {
                print_rehearsal(r);
                for p in &r.reversal_problems {
                    println!("  {} {p}", render::mark(false));
                }
            }
        }
        return Ok(if rs.iter().all(|r| r.passed) {
            exit::OK
        } else {
            exit::FAILED
        });
    }
    let r = engine::rehearse::run_with(o, step, rollback, proof_of(full_proof))?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        print_rehearsal(&r);
    }
    Ok(if r.passed { exit::OK } else { exit::FAILED })
}

pub fn print_rehearsal(r: &engine::rehearse::RehearsalReport) {
    let what = if r.rollback_file {
        "rollback of step"
    } else {
        "step"
    };
    println!(
        "{} rehearsal of {what} {} ({}, sha256 {})",
        paint("▶", Style::Head),
        r.step,
        r.file,
        &r.file_sha256[..12.min(r.file_sha256.len())]
    );
    for n in &r.notices {
        let style = if n.severity == "WARNING" {
            Style::Warn
        } else {
            Style::Dim
        };
        println!(
            "  {} {}:{}: {}: {}",
            paint("•", style),
            n.file,
            n.line,
            n.severity,
            n.message
        );
    }
    if let Some(f) = &r.preflight_failure {
        println!("  {} section B assertion failed — {f}", render::mark(false));
    }
    if let Some(f) = &r.failure {
        println!("  {} statement failed — {f}", render::mark(false));
        println!("    {}", paint(&f.statement, Style::Dim));
    }
    if let Some(m) = &r.measured {
        println!("  measured delta:");
        print_objects("+", &m.catalog.added);
        print_objects("-", &m.catalog.removed);

        for c in &m.catalog.changed {
            println!("    ~ {}", c.object);
        }
        for (t, c) in &m.rows {
            println!(
                "    rows {t}: +{} inserted, {} updated, {} deleted",
                c.insert, c.update, c.delete
            );
        }
        if m.catalog.is_empty() && m.rows.is_empty() {
            println!("    (nothing)");
        }
        if r.mismatches.is_empty() {
            println!(
                "  {} measured delta equals the declared effects",
                render::mark(true)
            );
        } else {
            println!(
                "  {} measured delta differs from the declared effects:",
                render::mark(false)
            );
            print!("{}", crate::core::effects::render_mismatches(&r.mismatches));
        }
    }
    for i in &r.invariants {
        let got = i
            .error
            .clone()
            .unwrap_or_else(|| i.got.clone().unwrap_or_else(|| "no row".into()));
        println!(
            "  {} invariant {}: expected {}, got {}",
            render::mark(i.ok),
            i.name,
            i.expect,
            got
        );
    }
    for n in &r.negatives {
        let got = n.got_sqlstate.clone().unwrap_or_else(|| "no error".into());
        println!(
            "  {} negative test {}: expected SQLSTATE {}, got {}",
            render::mark(n.ok),
            n.name,
            n.expected_sqlstate,
            got
        );
    }
    for p in &r.reversal_problems {
        println!("  {} reversal: {p}", render::mark(false));
    }
    for s in &r.residue {
        let sev = if r.residue_fails {
            render::mark(false)
        } else {
            paint("!", Style::Warn)
        };
        let moved = match s.before {
            Some(b) => format!("advanced by {} (from {b})", s.advanced_by),
            None => format!("now at {} (it had never been used)", s.after.unwrap_or(0)),
        };
        println!(
            "  {sev} non-transactional residue: sequence {} {moved} — nextval is not rolled back",
            s.sequence
        );
    }
    println!(
        "  {} entry == exit: {} {} {}",
        render::mark(r.entry_equals_exit),
        &r.entry_fingerprint[..16.min(r.entry_fingerprint.len())],
        if r.entry_equals_exit { "==" } else { "!=" },
        &r.exit_fingerprint[..16.min(r.exit_fingerprint.len())]
    );
    let verdict = if r.passed {
        paint("rehearsal passed", Style::Ok)
    } else {
        paint("rehearsal FAILED", Style::Bad)
    };
    println!(
        "{verdict} in {} ms (ledger event {})",
        r.elapsed_ms,
        r.ledger_event.unwrap_or(0)
    );
}

pub fn status_cmd(o: &Options, json: bool) -> engine::Result<i32> {
    let st = engine::status::run(o)?;
    if json {
        render::print_json(&serde_json::to_value(&st).unwrap_or_default());
        return Ok(exit::OK);
    }
    println!("{} {} — {}", paint("▶", Style::Head), st.pack, st.title);
    println!(
        "  target {} (environment {})",
        st.target,
        st.environment.as_deref().unwrap_or("-")
    );
    match &st.halted {
        Some(h) => println!(
            "  {} HALTED by event {} at {}: {}",
            render::mark(false),
            h.event,
            h.at,
            h.reason
        ),
        None => println!("  {} not halted", render::mark(true)),
    }
    println!(
        "  {:<5} {:<34} {:<16} {:<34} state",
        "step", "name", "gates", "last rehearsal"
    );
    for s in &st.steps {
        let reh = match &s.last_rehearsal {
            Some(r) => format!(
                "{} {}{}",
                &r.at[..16.min(r.at.len())],
                r.verdict,
                if r.matches_file {
                    ""
                } else {
                    " (file changed)"
                }
            ),
            None => "never".into(),
        };
        let mut state = s.state.clone();
        if s.hold {
            state = format!("HOLD {state}");
        }
        if s.one_way {
            state = format!("{state} · one-way door");
        }
        if let Some(i) = &s.interrupted_run {
            state = format!(
                "{state} · {}",
                paint(&format!("interrupted: {i}"), Style::Warn)
            );
        }
        println!(
            "  {:<5} {:<34} {:<16} {:<34} {}",
            s.id,
            truncate(&s.name, 34),
            s.gates.join(","),
            reh,
            state
        );
    }
    Ok(exit::OK)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn snapshot(o: &Options, output: Option<&std::path::Path>, json: bool) -> engine::Result<i32> {
    let target = crate::db::connect::Target::resolve(o.db.as_deref())
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect("stepgate snapshot")
        .map_err(|e| Error::Database(e.to_string()))?;
    // A large catalog takes a while: a spinner on a terminal, nothing otherwise.
    let spinner = engine::progress::spinner(!render::quiet() && !json, "reading the catalog");
    let snap = crate::db::snapshot::take(&mut c)?;
    spinner.finish_and_clear();

    if let Some(p) = output {
        std::fs::write(p, serde_json::to_string_pretty(&snap).unwrap_or_default())
            .map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))?;
    }
    if json && output.is_none() {
        println!("{}", snap.canonical_json());
    } else {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for o in snap.objects.values() {
            *counts.entry(o.kind.as_str()).or_default() += 1;
        }
        println!("fingerprint {}", snap.fingerprint());
        for (k, n) in counts {
            println!("  {n:>7} {k}");
        }
    }
    Ok(exit::OK)
}

fn diff(a: &std::path::Path, b: &std::path::Path, json: bool) -> engine::Result<i32> {
    let read = |p: &std::path::Path| -> engine::Result<crate::core::catalog::Snapshot> {
        let t = std::fs::read_to_string(p)
            .map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))?;
        serde_json::from_str(&t)
            .map_err(|e| Error::BadInput(format!("{}: not a stepgate snapshot: {e}", p.display())))
    };
    let d = crate::core::catalog::diff(&read(a)?, &read(b)?);
    if json {
        render::print_json(&serde_json::to_value(&d).unwrap_or_default());
    } else if d.is_empty() {
        println!("no differences");
    } else {
        print!("{}", crate::core::catalog::render_diff(&d));
    }
    Ok(if d.is_empty() { exit::OK } else { exit::FAILED })
}

fn freeze(dir: &std::path::Path, json: bool) -> engine::Result<i32> {
    let (path, entries) = engine::freeze::run(dir)?;
    if json {
        render::print_json(
            &serde_json::json!({"lock": path, "files": entries.iter().map(|(p, h)| serde_json::json!({"path": p, "sha256": h})).collect::<Vec<_>>()}),
        );
    } else {
        println!(
            "{} froze {} file(s) into {}",
            render::mark(true),
            entries.len(),
            path.display()
        );
    }
    Ok(exit::OK)
}

/// Objects of a measured delta, with the members of a new or dropped table folded into
/// one line under it (its columns and constraints are covered by the table's entry).
fn print_objects(sign: &str, objects: &[crate::core::objects::ObjectRef]) {
    use std::collections::BTreeMap;
    let relations: Vec<&crate::core::objects::ObjectRef> = objects
        .iter()
        .filter(|o| o.kind.is_relation() && o.kind != crate::core::objects::ObjKind::Index)
        .collect();
    let mut members: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for o in objects {
        if let Some(t) = o.table() {
            if relations.iter().any(|r| r.name == t) {
                *members
                    .entry(t)
                    .or_default()
                    .entry(o.kind.as_str())
                    .or_default() += 1;
                continue;
            }
        }
        if o.kind == crate::core::objects::ObjKind::Index
            && relations
                .iter()
                .any(|r| o.name.starts_with(&format!("{}_", r.name)))
        {
            *members
                .entry(
                    relations
                        .iter()
                        .find(|r| o.name.starts_with(&format!("{}_", r.name)))
                        .map(|r| r.name.clone())
                        .unwrap_or_default(),
                )
                .or_default()
                .entry("index")
                .or_default() += 1;
            continue;
        }
        if !relations.contains(&o) {
            println!("    {sign} {o}");
        }
    }
    for r in relations {
        let detail = members
            .get(&r.name)
            .map(|m| {
                m.iter()
                    .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .map(|d| format!("  ({d})"))
            .unwrap_or_default();
        println!("    {sign} {r}{}", paint(&detail, Style::Dim));
    }
}

fn guard(o: &Options, action: super::GuardAction, json: bool) -> engine::Result<i32> {
    use super::GuardAction as A;
    use crate::engine::guard_cmd::{self, Change};
    let change = match &action {
        A::Status => {
            let st = guard_cmd::status(o)?;
            if json {
                render::print_json(&serde_json::to_value(&st).unwrap_or_default());
            } else {
                print_guard_status(&st);
            }
            return Ok(exit::OK);
        }
        A::Install { roles } => Change::Install { roles },
        A::Uninstall => Change::Uninstall,
        A::Protect { tables } => Change::Protect { tables },
        A::BreakGlass { role } => Change::BreakGlass { role },
    };
    let target = guard_cmd::change(o, change)?;
    if json {
        render::print_json(&serde_json::json!({"target": target, "done": true}));
    } else {
        println!(
            "{} guard changed in {target} (recorded in the ledger)",
            render::mark(true)
        );
    }
    Ok(exit::OK)
}

fn print_guard_status(st: &crate::engine::guard_cmd::GuardStatus) {
    let state = match (st.installed, st.enabled) {
        (true, true) => "installed and enabled",
        (true, false) => "installed but DISABLED",
        _ => "NOT installed: the runner's DDL is refused by nothing but its privileges",
    };
    println!(
        "{} guard in {}: {state}",
        render::mark(st.installed && st.enabled),
        st.target
    );
    for r in &st.roles {
        println!(
            "  {} {} ({})",
            render::mark(r.warnings.is_empty()),
            r.role,
            r.mode
        );
        for w in &r.warnings {
            println!("      {w}");
        }
    }
    if st.roles.is_empty() {
        println!("  no role is guarded: `stepgate guard install --role RUNNER`");
    }
    println!(
        "  {} DDL tracker: {}",
        render::mark(st.ddl_tracker),
        if st.ddl_tracker {
            "rehearse and apply read what a step's DDL did, not the whole catalog"
        } else {
            "absent: rehearse and apply scan the catalog (`stepgate guard install` puts it in)"
        }
    );
    for t in &st.tables {
        println!("  write-guarded table {t}");
    }
}

/// `--full-proof` as the engine's proof.
pub fn proof_of(full_proof: bool) -> engine::proof::Proof {
    if full_proof {
        engine::proof::Proof::Full
    } else {
        engine::proof::Proof::Incremental
    }
}
