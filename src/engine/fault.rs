//! Fault injection for the reliability suite: when `STEPGATE_FAULT` names a point,
//! the process kills itself with SIGKILL there — exactly what an OOM kill or a
//! power cut does to a runner. Points are only crash sites; they can never make a
//! gate pass.

/// Dies here if `STEPGATE_FAULT` equals `name`.
pub fn point(name: &str) {
    if std::env::var("STEPGATE_FAULT").is_ok_and(|v| v == name) {
        eprintln!("stepgate: fault injection: killed at `{name}`");
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGKILL);
        std::process::abort();
    }
}
