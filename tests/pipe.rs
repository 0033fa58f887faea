//! Output in pipelines: a reader that goes away early (`stepgate … | head -1`) ends the
//! command quietly — no panic, no exit 101 — on every verb that prints to stdout.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/phase1-governance");

/// Runs stepgate with `args`, reads at most one line of stdout, closes the pipe and
/// returns the exit code and stderr.
fn head_1(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepgate"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stepgate starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    // The reader is dropped here: further writes hit a closed pipe.
    let out = child.wait_with_output().expect("stepgate ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_quiet(args: &[&str]) {
    let (code, stderr) = head_1(args);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_ne!(code, Some(101), "{args:?}: {stderr}");
    assert!(
        matches!(code, Some(0) | Some(1) | Some(141) | None),
        "{args:?}: exit {code:?}: {stderr}"
    );
}

#[test]
fn printing_verbs_end_quietly_when_the_reader_leaves() {
    assert_quiet(&["lint", "--format", "json", EXAMPLE]);
    assert_quiet(&["lint", "--format", "sarif", EXAMPLE]);
    assert_quiet(&["rules"]);
    assert_quiet(&["--json", "rules"]);
    assert_quiet(&["completions", "bash"]);
    assert_quiet(&["man"]);
}

#[test]
fn closed_before_the_first_write_gives_the_pipe_status() {
    // Close stdout before stepgate writes anything: the first write fails.
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepgate"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stepgate starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("stepgate ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0) | Some(141)),
        "{:?}: {stderr}",
        out.status
    );
}
