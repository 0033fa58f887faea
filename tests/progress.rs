//! Progress on stderr against a real server: the header at once, the running statement
//! with its elapsed time, lock waits naming the blocking session, the attempt counter,
//! `--wait-for-locks` actually waiting, `-q` silent and `--json` stdout clean.
//!
//! The tests run the binary with stderr on a pipe, so they see the plain line-per-event
//! output (the live line needs a terminal).

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use stepgate::core::approval::Action;
use stepgate::engine::{self, Options};

fn stepgate(pack: &Path, ci: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).arg("--db").arg(ci).arg("-p").arg(pack);
    // Whatever the developer's shell says, the child's stderr is a pipe.
    c.env_remove("TERM");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr))
}

/// A one-step plain pack on a fresh database holding `public.t`, the ledger installed
/// and OWNER registered; `lock` is the pack's lock_timeout.
fn setup(
    prefix: &str,
    body: &str,
    effects: &str,
    lock: &str,
) -> (
    tempfile::TempDir,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
) {
    let (db, ci) = empty_db(prefix);
    client(&ci)
        .batch_execute("CREATE TABLE public.t (id int)")
        .expect("create t");
    install_ledger(&ci);
    let (keys, key, signers) = register_owner(&ci, &["owner"]);
    let steps = format!(
        "[gate.owner]\nkind = \"signature\"\nsigners = [\"{OWNER}\"]\n[[step]]\nid = \"1\"\nname = \"write t\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n[step.effects]\n{effects}\n"
    );
    let m = manifest(&db, &steps)
        .replace(
            "[pack.target]",
            "allowed_signers = \"allowed_signers\"\n[pack.target]",
        )
        .replace("lock = \"1s\"", &format!("lock = \"{lock}\""));
    let dir = write_pack(&[
        ("stepgate.toml", &m),
        ("allowed_signers", &signers),
        ("01.sql", body),
        ("rollback/01.sql", "DELETE FROM public.t WHERE id = 1;\n"),
    ]);
    (dir, ci, keys, key)
}

fn opts(pack: &Path, ci: &str) -> Options {
    Options {
        pack: pack.to_path_buf(),
        db: Some(ci.to_string()),
    }
}

/// A session holding SHARE on public.t (conflicts with an INSERT's ROW EXCLUSIVE, not
/// with the runner's reads), named so the progress lines can be checked for it.
fn blocker(ci: &str) -> (postgres::Client, i32) {
    let mut c = client(ci);
    let pid: i32 = c
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("pid")
        .get(0);
    // One statement per message, so pg_stat_activity shows the LOCK as its query.
    for sql in [
        "SET application_name = 'blocker-app'",
        "BEGIN",
        "LOCK TABLE public.t IN SHARE MODE",
    ] {
        c.batch_execute(sql).expect("take the lock");
    }
    (c, pid)
}

#[test]
fn long_statement_shows_header_running_line_and_json_stays_clean() {
    let (dir, ci, _keys, _key) = setup("prog_sleep", "SELECT pg_sleep(1.6);\n", "", "1s");
    let out = stepgate(dir.path(), &ci, &["rehearse", "--step", "1", "--json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // stdout is the result alone: one JSON document.
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", show(&out)));
    assert_eq!(v["passed"], serde_json::json!(true), "{v}");
    let err = text(&out.stderr);
    assert!(
        err.contains("rehearsing step 1 of pack test-pack on "),
        "{err}"
    );
    // Non-TTY: one plain line while it runs, with place, statement and elapsed time.
    assert!(
        err.contains("running 01.sql:1 `SELECT pg_sleep(1.6)` — 1."),
        "{err}"
    );
    assert!(err.contains("done 01.sql:1 in 1."), "{err}");
    assert!(!err.contains("waiting for lock"), "{err}");
    // The header comes first: printed before the statement ran, not at the end.
    let header = err.find("rehearsing step").unwrap_or(usize::MAX);
    let running = err.find("running 01.sql").unwrap_or(0);
    assert!(header < running, "{err}");

    // -q: a successful run prints nothing on stderr.
    let out = stepgate(dir.path(), &ci, &["-q", "rehearse", "--step", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(text(&out.stderr), "", "{}", show(&out));
    assert!(!text(&out.stdout).is_empty(), "the result still prints");
}

#[test]
fn lock_wait_names_the_blocker_and_wait_for_locks_waits_it_out() {
    let (dir, ci, _keys, key) = setup(
        "prog_lock",
        "INSERT INTO public.t (id) VALUES (1);\n",
        "rows = { \"public.t\" = { insert = 1 } }",
        "2s",
    );
    assert!(
        engine::rehearse::run(&opts(dir.path(), &ci), "1", false)
            .expect("rehearse")
            .passed
    );
    approve(dir.path(), "1", "owner", Action::Apply, &key);

    // Without --wait-for-locks: two attempts, each ends in lock_timeout, as before; the
    // monitor names who blocks while the statement waits.
    let (mut holder, pid) = blocker(&ci);
    let out = stepgate(dir.path(), &ci, &["apply", "--step", "1", "--retries", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("applying step 1 of pack test-pack on "),
        "{err}"
    );
    assert!(
        err.contains("waiting for lock on public.t (RowExclusiveLock) — blocked by pid"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "pid {pid} (blocker-app: `LOCK TABLE public.t IN SHARE MODE`) for "
        )),
        "{err}"
    );
    assert!(
        err.contains("attempt 1/2: lock timeout at 01.sql:1"),
        "{err}"
    );
    assert!(err.contains("retry in "), "{err}");
    assert!(err.contains("failed 01.sql:1 after 2."), "{err}");
    assert!(err.contains("attempt 2/2"), "{err}");
    assert!(
        err.contains("could not get its locks within lock_timeout"),
        "{err}"
    );
    assert_eq!(count(&ci, "SELECT count(*) FROM public.t"), 0);

    // With --wait-for-locks=10s: it waits, says who it waits for, and commits once the
    // blocker lets go (after about 2 s).
    let t0 = Instant::now();
    let child = stepgate(
        dir.path(),
        &ci,
        &["apply", "--step", "1", "--wait-for-locks=10s", "--json"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    holder.batch_execute("COMMIT").expect("release");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let err = text(&out.stderr);
    assert!(err.contains("waiting for locks ("), "{err}");
    assert!(
        err.contains(&format!("public.t held by pid {pid} (blocker-app")),
        "{err}"
    );
    assert!(err.contains("in ShareLock"), "{err}");
    assert!(err.contains("locks free after"), "{err}");
    assert!(
        !err.contains("attempt 1/"),
        "no lock_timeout after the wait: {err}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", show(&out)));
    assert_eq!(v["committed"], serde_json::json!(true), "{v}");
    assert_eq!(count(&ci, "SELECT count(*) FROM public.t"), 1);
}

#[test]
fn wait_for_locks_takes_a_duration_only_with_equals() {
    let out = Command::new(bin())
        .args(["apply", "--help"])
        .output()
        .expect("help");
    let help = text(&out.stdout);
    assert!(help.contains("--wait-for-locks[=<DURATION>]"), "{help}");
    let out = Command::new(bin())
        .args(["apply", "--step", "1", "--wait-for-locks=soon"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("is not a duration"),
        "{}",
        show(&out)
    );
}

#[test]
fn rehearsal_blocked_by_a_lock_names_the_blocker() {
    let (dir, ci, _keys, _key) = setup(
        "prog_rh_lock",
        "INSERT INTO public.t (id) VALUES (1);\n",
        "rows = { \"public.t\" = { insert = 1 } }",
        "2s",
    );
    let (_holder, pid) = blocker(&ci);
    let out = stepgate(dir.path(), &ci, &["rehearse", "--step", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("rehearsing step 1 of pack test-pack on "),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "waiting for lock on public.t (RowExclusiveLock) — blocked by pid {pid} (blocker-app: `LOCK TABLE public.t IN SHARE MODE`) for "
        )),
        "{err}"
    );
    assert!(err.contains("failed 01.sql:1 after 2."), "{err}");
}
