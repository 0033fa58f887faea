//! Fault injection for the reliability suite. Points are only crash or pause sites;
//! they can never make a gate pass.
//!
//! - `STEPGATE_FAULT=<point>`: the process kills itself with SIGKILL there — exactly what
//!   an OOM kill or a power cut does to a runner.
//! - `STEPGATE_FAULT_PAUSE=<point>` with `STEPGATE_FAULT_FILE=<path>`: the process writes
//!   the file and waits (up to 60 s) until it is removed, so a test can stop the server
//!   at that very point.

/// Dies, or pauses, here when the environment names this point.
pub fn point(name: &str) {
    if std::env::var("STEPGATE_FAULT").is_ok_and(|v| v == name) {
        eprintln!("stepgate: fault injection: killed at `{name}`");
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        std::process::abort();
    }
    if std::env::var("STEPGATE_FAULT_PAUSE").is_ok_and(|v| v == name) {
        if let Ok(file) = std::env::var("STEPGATE_FAULT_FILE") {
            let path = std::path::PathBuf::from(file);
            if std::fs::write(&path, name).is_ok() {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while path.exists() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
    }
}
