//! Output helpers: colour decisions, miette rendering of located errors, JSON printing.

use super::{ColorChoice, Global};
use crate::core::error::SourceError;
use crate::engine::Error;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static COLOR: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn setup(g: &Global) {
    let color = match g.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
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

/// Prints an engine error to stderr and returns its exit code.
pub fn error(e: &Error, json: bool) -> i32 {
    let code = e.exit_code();
    if json {
        let v = serde_json::json!({ "error": { "exit_code": code, "kind": kind(e), "message": e.to_string() } });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    match e {
        Error::Source(se) => source_error(se),
        other => eprintln!("{} {}", paint("error:", Style::Bad), other),
    }
    code
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
    }
}

pub fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}
