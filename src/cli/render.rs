//! Output helpers: colour decisions, miette rendering of located errors, JSON printing.

use super::{ColorChoice, Global};
use crate::core::error::SourceError;
use crate::engine::Error;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static COLOR: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn setup(g: &Global) {
    let color = decide_color(g.color, std::io::stderr().is_terminal(), |k| {
        std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
    });
    COLOR.store(color, Ordering::Relaxed);
    QUIET.store(g.quiet, Ordering::Relaxed);
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(color)
                .terminal_links(false)
                .context_lines(2)
                .build(),
        )
    }));
}

/// Progress goes to stderr (never stdout, which `--json` owns): silent under `-q`, a
/// live line on a terminal that can redraw, plain lines otherwise.
pub fn setup_progress(g: &Global) {
    let mode =
        crate::engine::progress::Mode::decide(g.quiet, std::io::stderr().is_terminal(), |k| {
            std::env::var_os(k).map(|v| v.to_string_lossy().into_owned())
        });
    crate::engine::progress::install(mode);
}

/// Whether to colour, as the conventions expect: `--color always|never` decide; otherwise
/// `NO_COLOR` (non-empty) turns colour off, `CLICOLOR_FORCE` (non-empty, not `0`) turns it
/// on even when stderr is not a terminal, `TERM=dumb` turns it off, and else colour follows
/// whether stderr is a terminal.
pub fn decide_color(
    choice: ColorChoice,
    is_terminal: bool,
    env: impl Fn(&str) -> Option<String>,
) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if set("NO_COLOR") {
                false
            } else if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
                true
            } else if env("TERM").as_deref() == Some("dumb") {
                false
            } else {
                is_terminal
            }
        }
    }
}

pub fn color() -> bool {
    COLOR.load(Ordering::Relaxed)
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Wraps text in an ANSI style when colour is on.
pub fn paint(text: &str, style: Style) -> String {
    if !color() {
        return text.to_string();
    }
    let code = match style {
        Style::Ok => "32",
        Style::Bad => "31",
        Style::Warn => "33",
        Style::Dim => "2",
        Style::Bold => "1",
        Style::Head => "1;36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[derive(Clone, Copy)]
pub enum Style {
    Ok,
    Bad,
    Warn,
    Dim,
    Bold,
    Head,
}

pub fn mark(ok: bool) -> String {
    if ok {
        paint("✓", Style::Ok)
    } else {
        paint("✗", Style::Bad)
    }
}

/// Renders a located error rustc-style to stderr.
pub fn source_error(e: &SourceError) {
    eprintln!("{:?}", e.report());
}

/// Prints an engine error to stderr and returns its exit code. An idempotent repeat
/// ([`Error::NothingToDo`]) is no error: it says "nothing to do" and exits 0.
pub fn error(e: &Error, json: bool) -> i32 {
    let code = e.exit_code();
    if let Error::NothingToDo(reason) = e {
        if json {
            print_json(&nothing_to_do_json(reason));
        } else {
            println!("{} nothing to do: {reason}", mark(true));
        }
        return code;
    }
    if json {
        print_json(&error_json(e));
    }
    match e {
        Error::Source(se) => source_error(se),
        other => eprintln!("{} {}", paint("error:", Style::Bad), other),
    }
    code
}

/// `{"nothing_to_do": true, "reason": …}`: what an idempotent repeat prints under `--json`.
pub fn nothing_to_do_json(reason: &str) -> serde_json::Value {
    serde_json::json!({ "nothing_to_do": true, "reason": reason })
}

/// The JSON error object: `message` as printed, and `reasons` as a list (the engine joins
/// several reasons under a headline with "\n  "; a one-line message is its own reason).
pub fn error_json(e: &Error) -> serde_json::Value {
    let message = e.to_string();
    let (summary, reasons) = split_reasons(&message);
    serde_json::json!({ "error": {
        "exit_code": e.exit_code(),
        "kind": kind(e),
        "message": message,
        "summary": summary,
        "reasons": reasons,
    } })
}

/// Splits "headline:\n  reason\n  reason" into the headline and its reasons.
pub fn split_reasons(message: &str) -> (String, Vec<String>) {
    let mut parts = message.split("\n  ");
    let head = parts.next().unwrap_or_default().to_string();
    let reasons: Vec<String> = parts
        .map(|r| r.trim_end().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    if reasons.is_empty() {
        (head.clone(), vec![head])
    } else {
        (head.trim_end_matches(':').to_string(), reasons)
    }
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Source(_) | Error::BadInput(_) => "bad_input",
        Error::Refused(_) => "refused",
        Error::Halted(_) => "halted",
        Error::Database(_) => "database",
        Error::WrongTarget(_) => "wrong_target",
        Error::Busy(_) => "busy",
        Error::Failed(_) => "failed",
        Error::NothingToDo(_) => "nothing_to_do",
    }
}

pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}
