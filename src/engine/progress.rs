//! Progress on stderr for long work, the way cargo does it: a header at once, then the
//! running statement with its elapsed time, lock waits naming who blocks, retries with
//! their backoff, and rows for batched work. stdout never carries progress, so a
//! `--json` consumer reads only the result.
//!
//! The CLI installs one process-wide [`Reporter`] ([`install`]) in the mode the terminal
//! allows: a live line (indicatif) on a terminal, one plain line per event otherwise, or
//! nothing under `-q`. The engine calls the free functions here ([`header`],
//! [`statement_started`], [`attempt`], [`rows`], …); a library caller that installs
//! nothing gets the silent reporter, so the engine never needs to know the mode.
//!
//! A statement runs on the step connection and blocks the engine's thread, so a ticker
//! thread watches it from the side: after [`WATCH_AFTER`] it shows the elapsed time and
//! asks the monitor ([`crate::engine::monitor`]) whether the step's backend waits on a lock.

use crate::db::connect::Target;
use crate::engine::monitor::{self, LockWait, Monitor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// A statement shorter than this is not worth a line.
pub const WATCH_AFTER: Duration = Duration::from_secs(1);
/// How often the monitor asks the server about the running statement.
const POLL_EVERY: Duration = Duration::from_millis(500);
/// How often the ticker wakes (the live line's refresh rate).
const TICK: Duration = Duration::from_millis(100);
/// Plain output repeats an unchanged state this rarely, so a log is not flooded.
const PLAIN_REPEAT: Duration = Duration::from_secs(5);
/// Rows are reported at most this often in plain output.
const ROWS_EVERY: Duration = Duration::from_secs(2);

/// Progress bars (indicatif) for work of known length, hidden when stderr is not a
/// terminal or the user asked for quiet.
pub fn bar(enabled: bool, len: u64, prefix: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(prefix.to_string());
    pb
}

/// A spinner for work of unknown length (catalog snapshots of large databases).
pub fn spinner(enabled: bool, message: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_message(message.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-q`, or a library caller: nothing.
    Off,
    /// stderr is a file, a pipe or a dumb terminal: one line per event.
    Plain,
    /// stderr is a terminal: a live line, rewritten in place.
    Live,
}

impl Mode {
    /// `-q` silences; a live line needs a terminal that can redraw (not `TERM=dumb`);
    /// anything else gets plain lines, which logs and CI keep readable.
    pub fn decide(quiet: bool, is_terminal: bool, env: impl Fn(&str) -> Option<String>) -> Mode {
        if quiet {
            Mode::Off
        } else if is_terminal && env("TERM").as_deref() != Some("dumb") {
            Mode::Live
        } else {
            Mode::Plain
        }
    }
}

/// The statement being watched.
#[derive(Clone)]
struct Running {
    seq: u64,
    place: String,
    text: String,
    started: Instant,
    /// When plain output last said it was running.
    said: Option<Instant>,
    /// The last lock wait shown (its blockers) and when.
    said_wait: Option<(String, Instant)>,
}

#[derive(Default)]
struct State {
    seq: u64,
    running: Option<Running>,
    /// The step connection's server process, watched while a statement runs.
    backend: Option<(Target, i32)>,
    rows_said: Option<Instant>,
    shutdown: bool,
}

/// The process-wide progress sink. Every method is cheap and silent in [`Mode::Off`].
pub struct Reporter {
    mode: Mode,
    state: Mutex<State>,
    /// Wakes the ticker at once on shutdown, so an exit does not wait out a tick.
    wake: Condvar,
    /// The live line while there is something to show (terminal mode only).
    live: Mutex<Option<ProgressBar>>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

static GLOBAL: OnceLock<Reporter> = OnceLock::new();

/// Installs the process's reporter (first call wins) and starts its ticker.
pub fn install(mode: Mode) {
    if GLOBAL.set(Reporter::new(mode)).is_err() || mode == Mode::Off {
        return;
    }
    let handle = std::thread::Builder::new()
        .name("stepgate-progress".into())
        .spawn(|| tick_loop(reporter()));
    if let Ok(h) = handle {
        *lock(&reporter().ticker) = Some(h);
    }
}

/// The installed reporter, or a silent one.
pub fn reporter() -> &'static Reporter {
    GLOBAL.get_or_init(|| Reporter::new(Mode::Off))
}

/// Whether anything is shown (callers skip work that only feeds progress).
pub fn active() -> bool {
    reporter().mode != Mode::Off
}

/// Stops the ticker (closing the monitor's connection) and clears the live line. The
/// ticker may be inside a monitor query or connect: the exit waits for it a moment, not
/// for ever.
pub fn shutdown() {
    let r = reporter();
    lock(&r.state).shutdown = true;
    r.wake.notify_all();
    if let Some(h) = lock(&r.ticker).take() {
        let until = Instant::now() + Duration::from_secs(1);
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if h.is_finished() {
            let _ = h.join();
        }
    }
    r.status(String::new());
}

/// A poisoned lock only means another thread panicked while printing: the state is
/// still usable for progress.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reporter {
    fn new(mode: Mode) -> Reporter {
        Reporter {
            mode,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            live: Mutex::new(None),
            ticker: Mutex::new(None),
        }
    }

    /// A line that stays (above the live line on a terminal). A closed stderr is ignored.
    fn line(&self, text: &str) {
        if self.mode == Mode::Off {
            return;
        }
        match lock(&self.live).as_ref() {
            Some(pb) => pb.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// The live line's text; empty text clears it (plain output has no live line).
    fn status(&self, text: String) {
        if self.mode != Mode::Live {
            return;
        }
        let mut live = lock(&self.live);
        if text.is_empty() {
            if let Some(pb) = live.take() {
                pb.finish_and_clear();
            }
            return;
        }
        let pb = live.get_or_insert_with(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg}") {
                pb.set_style(style);
            }
            pb
        });
        pb.set_message(text);
        pb.tick();
    }
}

/// What the verb is about to do, printed at once: "rehearsing step 1 of pack p on db@host…".
pub fn header(text: &str) {
    reporter().line(&format!("{text}…"));
}

/// The header of a step verb: "applying step 1 of pack p on runner@db:5432/app".
pub fn step_header(session: &crate::engine::session::Session, doing: &str, step: &str) {
    if active() {
        header(&format!(
            "{doing} step {step} of pack {} on {}",
            session.pack().id(),
            session.target.display()
        ));
    }
}

/// A line of narration (a wait beginning or ending, a decision); silent under `-q`.
pub fn note(text: &str) {
    reporter().line(&format!("  {text}"));
}

/// Tells the watcher which server process runs the step's statements.
pub fn watch_backend(target: &Target, pid: i32) {
    let r = reporter();
    if r.mode != Mode::Off {
        lock(&r.state).backend = Some((target.clone(), pid));
    }
}

/// Marks a statement as running until the guard is dropped (or
/// [`statement_finished`]): long ones are shown with their elapsed time and lock waits.
#[must_use = "the statement is watched only until the guard is dropped"]
pub fn statement_started(file: &str, line: usize, text: &str) -> StatementGuard {
    let r = reporter();
    if r.mode == Mode::Off {
        return StatementGuard { seq: 0 };
    }
    let mut st = lock(&r.state);
    st.seq += 1;
    let seq = st.seq;
    st.running = Some(Running {
        seq,
        place: format!("{file}:{line}"),
        text: first_line(text, 60),
        started: Instant::now(),
        said: None,
        said_wait: None,
    });
    StatementGuard { seq }
}

/// Ends the running statement; a long one gets a closing line with its time.
pub fn statement_finished() {
    let seq = lock(&reporter().state).running.as_ref().map(|r| r.seq);
    if let Some(seq) = seq {
        finish(seq, None);
    }
}

/// `ok`: whether the statement succeeded, when the caller knows.
fn finish(seq: u64, ok: Option<bool>) {
    let r = reporter();
    let done = {
        let mut st = lock(&r.state);
        match &st.running {
            Some(run) if run.seq == seq => st.running.take(),
            _ => None,
        }
    };
    let Some(run) = done else { return };
    let took = run.started.elapsed();
    if took >= WATCH_AFTER {
        let how = match ok {
            Some(true) => "done",
            Some(false) => "failed",
            None => "ended",
        };
        let at = if ok == Some(true) { "in" } else { "after" };
        r.line(&format!("  {how} {} {at} {}", run.place, secs(took)));
    }
    r.status(String::new());
}

/// Ends its statement's watch when dropped, on every path out of the statement.
pub struct StatementGuard {
    seq: u64,
}

impl StatementGuard {
    /// Ends the watch saying how the statement ended.
    pub fn end(mut self, ok: bool) {
        let seq = std::mem::take(&mut self.seq);
        if seq != 0 {
            finish(seq, Some(ok));
        }
    }
}

impl Drop for StatementGuard {
    fn drop(&mut self) {
        if self.seq != 0 {
            finish(self.seq, None);
        }
    }
}

/// A failed attempt and the wait before the next: "attempt 1/4: lock timeout at
/// 01.sql:3 — blocked by pid 6130 (psql); retry in 0.4 s" (`backoff` None: the last).
pub fn attempt((n, max): (u32, u32), backoff: Option<Duration>, why: &str) {
    let next = match backoff {
        Some(b) => format!("retry in {}", secs(b)),
        None => "no attempts left".to_string(),
    };
    reporter().line(&format!("  attempt {n}/{max}: {why}; {next}"));
}

/// Rows of batched work: "rows 1200/10000 (540/s)". Plain output is throttled; the
/// last batch (done == total) is always shown.
pub fn rows(done: u64, total: Option<u64>, rate: f64) {
    let r = reporter();
    if r.mode == Mode::Off {
        return;
    }
    let of = total.map(|t| format!("/{t}")).unwrap_or_default();
    let text = format!("rows {done}{of} ({rate:.0}/s)");
    if r.mode == Mode::Live {
        r.status(text);
        return;
    }
    let last = total == Some(done);
    {
        let mut st = lock(&r.state);
        if !last && st.rows_said.is_some_and(|t| t.elapsed() < ROWS_EVERY) {
            return;
        }
        st.rows_said = Some(Instant::now());
    }
    r.line(&format!("  {text}"));
}

/// The step's backend waits on a lock: a line that stays, naming whoever blocks it,
/// when the blockers change (plain output repeats it every few seconds while it lasts;
/// on a terminal the live line says it is still waiting).
pub fn lock_wait(w: &LockWait) {
    let r = reporter();
    if r.mode == Mode::Off {
        return;
    }
    let key = w.blocker_key();
    let fresh = {
        let mut st = lock(&r.state);
        let Some(run) = st.running.as_mut() else {
            return;
        };
        let live = r.mode == Mode::Live;
        let repeat = matches!(&run.said_wait, Some((k, t)) if *k == key && (live || t.elapsed() < PLAIN_REPEAT));
        if !repeat {
            run.said_wait = Some((key, Instant::now()));
        }
        !repeat
    };
    if fresh {
        r.line(&format!("  {}", w.describe()));
    }
}

/// The ticker: shows the running statement once it is long, and lock waits as the
/// monitor finds them. The monitor's connection lives only while a statement is watched.
fn tick_loop(r: &'static Reporter) {
    let mut mon: Option<Monitor> = None;
    let mut polled = Instant::now();
    loop {
        let (run, backend) = {
            let st = lock(&r.state);
            let st = match r.wake.wait_timeout_while(st, TICK, |s| !s.shutdown) {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
            if st.shutdown {
                return;
            }
            (st.running.clone(), st.backend.clone())
        };
        let Some(run) = run else {
            mon = None;
            continue;
        };
        let elapsed = run.started.elapsed();
        if elapsed < WATCH_AFTER {
            continue;
        }
        show_running(r, &run, elapsed);
        if polled.elapsed() >= POLL_EVERY {
            polled = Instant::now();
            if let Some((target, pid)) = backend {
                poll(r, &mut mon, &target, pid, run.seq);
            }
        }
    }
}

fn show_running(r: &Reporter, run: &Running, elapsed: Duration) {
    let what = format!("{} `{}` — {}", run.place, run.text, secs(elapsed));
    let text = format!("running {what}");
    if r.mode == Mode::Live {
        // The blockers were printed above; the live line stays short enough to fit.
        r.status(if run.said_wait.is_some() {
            format!("waiting for a lock: {what}")
        } else {
            text
        });
        return;
    }
    if run.said.is_some_and(|t| t.elapsed() < PLAIN_REPEAT) {
        return;
    }
    {
        let mut st = lock(&r.state);
        match st.running.as_mut() {
            Some(now) if now.seq == run.seq => now.said = Some(Instant::now()),
            _ => return,
        }
    }
    r.line(&format!("  {text}"));
}

/// One look at the step's backend from the monitor's connection. A monitor that cannot
/// connect or query is dropped silently: progress must never fail the step.
fn poll(r: &Reporter, mon: &mut Option<Monitor>, target: &Target, pid: i32, seq: u64) {
    if mon.as_ref().is_none_or(|m| m.watching() != pid) {
        *mon = Monitor::open(target, pid).ok();
    }
    let Some(m) = mon.as_mut() else { return };
    match m.lock_wait() {
        Ok(Some(w)) => {
            let still = lock(&r.state).running.as_ref().map(|x| x.seq) == Some(seq);
            if still {
                lock_wait(&w);
            }
        }
        Ok(None) => {
            if let Some(run) = lock(&r.state).running.as_mut() {
                run.said_wait = None;
            }
        }
        Err(_) => *mon = None,
    }
}

/// The first non-blank line of a statement, cut at `max` characters.
pub fn first_line(text: &str, max: usize) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let more = lines.next().is_some();
    let cut: String = first.chars().take(max).collect();
    if cut.chars().count() < first.chars().count() || more {
        format!("{cut} …")
    } else {
        cut
    }
}

/// "0.4 s", "12.0 s", "3m 05s".
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// The step connection's server process, once, for the watcher (only when progress is
/// shown: a silent run sends nothing extra).
pub fn watch_client(target: &Target, c: &mut postgres::Client) {
    if !active() {
        return;
    }
    if let Ok(row) = c.query_one("SELECT pg_catalog.pg_backend_pid()", &[]) {
        watch_backend(target, row.get(0));
    }
}

pub use monitor::Blocker;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_quiet_terminal_and_term() {
        let none = |_: &str| None;
        let dumb = |k: &str| (k == "TERM").then(|| "dumb".to_string());
        assert_eq!(Mode::decide(true, true, none), Mode::Off);
        assert_eq!(Mode::decide(false, true, none), Mode::Live);
        assert_eq!(Mode::decide(false, false, none), Mode::Plain);
        assert_eq!(Mode::decide(false, true, dumb), Mode::Plain);
    }

    #[test]
    fn first_line_is_cut_and_marked() {
        assert_eq!(first_line("\n  SELECT 1", 60), "SELECT 1");
        assert_eq!(first_line("SELECT 1,\n 2", 60), "SELECT 1, …");
        assert_eq!(first_line("abcdef", 3), "abc …");
    }

    #[test]
    fn seconds_read_like_a_person_writes_them() {
        assert_eq!(secs(Duration::from_millis(400)), "0.4 s");
        assert_eq!(secs(Duration::from_secs(185)), "3m 05s");
    }
}
