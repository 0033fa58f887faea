//! Output in pipelines: `stepgate lint --format json | head -1` closes stdout early.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe returns `BrokenPipe` and `println!`
//! panics on it (exit 101 and a panic message). SIGPIPE is not reset to its default
//! here because stepgate also writes to sockets and child processes, where a signal
//! would kill it mid-run instead of surfacing an error. Instead, a panic hook
//! recognises the broken-pipe panic of the print macros and ends the process quietly
//! with the conventional status 141 (128 + SIGPIPE), as a shell tool killed by the
//! signal would report.

use std::io::ErrorKind;

/// Exit status of a process whose output pipe was closed (128 + SIGPIPE).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// True for the message `println!`/`print!`/`eprintln!` panic with on a closed pipe.
fn is_broken_pipe(msg: &str) -> bool {
    (msg.starts_with("failed printing to std") || msg.contains("failed to write"))
        && (msg.contains("Broken pipe") || msg.contains("os error 32"))
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let p = info.payload();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Installs the hook; every other panic goes to the previous hook unchanged.
pub fn exit_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_broken_pipe(&panic_message(info)) {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        previous(info);
    }));
}

/// For writers that return errors instead of panicking: a closed pipe ends quietly.
pub fn exit_if_broken_pipe(e: &std::io::Error) {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_EXIT);
    }
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe;

    #[test]
    fn recognises_print_panics_only() {
        assert!(is_broken_pipe(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(is_broken_pipe(
            "failed printing to stderr: Broken pipe (os error 32)"
        ));
        assert!(!is_broken_pipe("index out of bounds"));
        assert!(!is_broken_pipe(
            "failed printing to stdout: No space left on device"
        ));
    }
}
