//! Traffic impact of applying `ALTER TABLE public.big ADD COLUMN note text` to a
//! 1,000,000-row table under `pgbench` load (4 clients, each running SELECT + UPDATE by a
//! random id), while a long transaction holds ACCESS SHARE on the table for 8 s, started just
//! before the change. Two ways of making the change, each on a fresh copy of the database:
//!
//! * stepgate: `engine::apply::run` with the pack's `lock_timeout = 1s` and 5 retries: each
//!   attempt waits at most 1 s in the lock queue (where it blocks every client behind it),
//!   gives up, backs off and tries again until the long transaction is gone;
//! * naive: `psql -c 'ALTER TABLE …'` with no lock_timeout, which waits in the queue for as
//!   long as the long transaction lasts, and every client piles up behind it.
//!
//! From pgbench's per-transaction log (`-l`): failed transactions, p99 and max latency in a
//! baseline window before the interference and in the window of the change, throughput in
//! both, the longest time no client finished anything, and the attempts the apply needed.
//! Prints markdown.
//!
//! ```text
//! cargo run --release --example bench_traffic [RUNS]
//! ```

#[path = "bench_common.rs"]
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stepgate::db::cluster::{client_program, Cluster, ClusterOptions};
use stepgate::engine::apply::ApplyOptions;
use stepgate::engine::session::{Lock, Session};

const ROWS: i64 = 1_000_000;
const DURATION_S: u64 = 20;
const INTERFERE_AT: Duration = Duration::from_secs(5);
const HOLD: Duration = Duration::from_secs(8);
const CHANGE_AFTER_HOLD: Duration = Duration::from_millis(100);
const LOCK_TIMEOUT_MS: u64 = 1000;
const RETRIES: u32 = 5;
const ALTER: &str = "ALTER TABLE public.big ADD COLUMN note text";

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Stepgate,
    Naive,
}

struct Outcome {
    mode: Mode,
    processed: u64,
    failed: u64,
    aborted_clients: usize,
    base_p99_ms: f64,
    base_max_ms: f64,
    base_tps: f64,
    win_p99_ms: f64,
    win_max_ms: f64,
    win_tps: f64,
    max_gap_ms: f64,
    slow: usize,
    change_ms: f64,
    attempts: String,
    committed: bool,
}

/// (start µs, end µs, latency µs) of every logged transaction; failed ones counted apart.
fn read_logs(dir: &Path) -> (Vec<(i64, i64, i64)>, u64) {
    let mut out = Vec::new();
    let mut failed = 0;
    for e in std::fs::read_dir(dir).expect("log dir").flatten() {
        if !e.file_name().to_string_lossy().starts_with("pgb") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 6 {
                continue;
            }
            let (Ok(epoch), Ok(us)) = (f[4].parse::<i64>(), f[5].parse::<i64>()) else {
                continue;
            };
            let end = epoch * 1_000_000 + us;
            match f[2].parse::<i64>() {
                Ok(lat) => out.push((end - lat, end, lat)),
                Err(_) => failed += 1, // "failed" or "skipped"
            }
        }
    }
    out.sort_by_key(|t| t.1);
    (out, failed)
}

fn pct(mut v: Vec<i64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i] as f64 / 1000.0
}

fn pack_for(db: &str, signer: &Signer, dir: &Path) {
    let lock = format!("{LOCK_TIMEOUT_MS}ms");
    let manifest = format!(
        "{}\n[[step]]\nid = \"1\"\nname = \"add big.note\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n\n[step.effects]\ncreate = [\"column public.big.note\"]\n",
        manifest_head("bench-traffic", db, "5s", &lock)
    );
    write_files(
        dir,
        &[
            ("stepgate.toml".into(), manifest),
            ("allowed_signers".into(), signer.allowed_signers()),
            (
                "01.sql".into(),
                step_file(
                    "step 1: a nullable column on a busy table",
                    "SELECT 1 AS ok;",
                    &format!("{ALTER};"),
                    "5s",
                    &lock,
                ),
            ),
            (
                "rollback/01.sql".into(),
                rollback_file("ALTER TABLE public.big DROP COLUMN note;", "5s", &lock),
            ),
        ],
    );
}

fn one_run(
    cluster: &Cluster,
    mode: Mode,
    i: usize,
    signer: &Signer,
    pgbench: &Path,
    script: &Path,
) -> Outcome {
    let tag = if mode == Mode::Stepgate {
        "sg"
    } else {
        "naive"
    };
    let db = format!("traffic_{tag}_{i}");
    cluster
        .create_database(&db, Some("traffic_tmpl"))
        .expect("copy");
    let ci = cluster.conninfo(&db);
    let pack = tempfile::Builder::new()
        .prefix("bench-traffic-")
        .tempdir()
        .expect("tempdir");
    let o = opts(pack.path(), &ci);
    if mode == Mode::Stepgate {
        pack_for(&db, signer, pack.path());
        let r = stepgate::engine::rehearse::run(&o, "1", false).expect("rehearse");
        assert!(r.passed, "rehearsal: {:?} {:?}", r.failure, r.mismatches);
        signer.approve(pack.path(), "1", "owner");
        let mut s = Session::open(&o, "backup", Lock::Pack).expect("session");
        stepgate::engine::backup::run(&mut s, "1", false).expect("backup");
    }
    let logs = tempfile::Builder::new()
        .prefix("bench-traffic-log-")
        .tempdir()
        .expect("tempdir");
    let t0_us = now_us();
    let t0 = Instant::now();
    let mut bench = Command::new(pgbench);
    bench
        .args(["-n", "-c", "4", "-j", "2", "-P", "1", "-l"])
        .arg(format!("-T{DURATION_S}"))
        .arg(format!("--log-prefix={}/pgb", logs.path().display()))
        .arg("-h")
        .arg(&cluster.socket_dir)
        .arg("-p")
        .arg(cluster.port.to_string())
        .arg("-U")
        .arg(&cluster.user)
        .arg("-f")
        .arg(script)
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = bench.spawn().expect("pgbench");

    std::thread::sleep(INTERFERE_AT.saturating_sub(t0.elapsed()));
    // The long transaction: ACCESS SHARE on big for HOLD.
    let (tx_ready, rx_ready) = std::sync::mpsc::channel();
    let holder_ci = ci.clone();
    let holder = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&holder_ci, postgres::NoTls).expect("connect");
        let mut tx = c.transaction().expect("begin");
        tx.query_one("SELECT count(*) FROM public.big WHERE id <= 10", &[])
            .expect("read");
        let start = now_us();
        tx_ready.send(()).unwrap();
        std::thread::sleep(HOLD);
        tx.commit().expect("commit");
        (start, now_us())
    });
    rx_ready.recv().expect("holder started");
    std::thread::sleep(CHANGE_AFTER_HOLD);
    let change_start = now_us();
    let (attempts, committed) = match mode {
        Mode::Stepgate => {
            match stepgate::engine::apply::run(
                &o,
                "1",
                &ApplyOptions {
                    retries: RETRIES,
                    auto_backup: false,
                    progress: false,
                    ..Default::default()
                },
            ) {
                Ok(r) => (
                    format!(
                        "{} ({})",
                        r.attempts.len(),
                        r.attempts
                            .iter()
                            .map(|a| format!("{} {} ms", a.outcome, a.elapsed_ms))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    r.committed && r.halted.is_none(),
                ),
                Err(e) => (format!("error: {e}"), false),
            }
        }
        Mode::Naive => {
            psql_c(&cluster.bindir, &ci, ALTER);
            ("1 (no lock_timeout)".to_string(), true)
        }
    };
    let change_end = now_us();
    let (hold_start, hold_end) = holder.join().expect("holder");
    let out = child.wait_with_output().expect("pgbench");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        progress(
            "traffic",
            format!("pgbench exited {}: {stderr}", out.status),
        );
    }
    let field = |name: &str| -> u64 {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l[name.len()..].split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let processed = field("number of transactions actually processed:");
    let failed_summary = field("number of failed transactions:");
    let aborted_clients = stderr.matches("aborted").count();
    let (txs, failed_log) = read_logs(logs.path());

    let base_lo = t0_us + 1_000_000;
    let base_hi = hold_start;
    let base: Vec<i64> = txs
        .iter()
        .filter(|t| t.1 >= base_lo && t.1 < base_hi)
        .map(|t| t.2)
        .collect();
    let win: Vec<i64> = txs
        .iter()
        .filter(|t| t.0 < change_end && t.1 > change_start)
        .map(|t| t.2)
        .collect();
    // Longest stretch in the change window during which no client finished a transaction.
    let mut ends: Vec<i64> = txs
        .iter()
        .map(|t| t.1)
        .filter(|e| *e >= change_start && *e <= change_end)
        .collect();
    ends.insert(0, change_start);
    ends.push(change_end);
    ends.sort();
    let max_gap = ends.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let win_s = (change_end - change_start) as f64 / 1e6;
    let base_s = (base_hi - base_lo) as f64 / 1e6;
    let completed_in_window = txs
        .iter()
        .filter(|t| t.1 >= change_start && t.1 <= change_end)
        .count();
    let o = Outcome {
        mode,
        processed,
        failed: failed_summary.max(failed_log),
        aborted_clients,
        base_p99_ms: pct(base.clone(), 0.99),
        base_max_ms: pct(base.clone(), 1.0),
        base_tps: base.len() as f64 / base_s,
        win_p99_ms: pct(win.clone(), 0.99),
        win_max_ms: pct(win.clone(), 1.0),
        win_tps: completed_in_window as f64 / win_s,
        max_gap_ms: max_gap as f64 / 1000.0,
        slow: win.iter().filter(|l| **l > 100_000).count(),
        change_ms: (change_end - change_start) as f64 / 1000.0,
        attempts,
        committed,
    };
    progress(
        "traffic",
        format!(
            "{tag} run {}: change took {:.0} ms ({}), long transaction {:.1}–{:.1} s, window p99 {:.0} ms max {:.0} ms, baseline p99 {:.1} ms, {} processed, {} failed",
            i + 1,
            o.change_ms,
            o.attempts,
            (hold_start - t0_us) as f64 / 1e6,
            (hold_end - t0_us) as f64 / 1e6,
            o.win_p99_ms,
            o.win_max_ms,
            o.base_p99_ms,
            o.processed,
            o.failed
        ),
    );
    let mut c = cluster.connect("postgres").expect("connect");
    c.batch_execute(&format!("DROP DATABASE {db}"))
        .expect("drop");
    o
}

fn med(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    progress("traffic", "starting a cluster");
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![
            ("shared_buffers".into(), "256MB".into()),
            ("max_wal_size".into(), "2GB".into()),
        ],
        ..Default::default()
    })
    .expect("cluster");
    let pgbench = {
        let p = client_program(&cluster.bindir, "pgbench");
        if p.exists() {
            p
        } else {
            PathBuf::from("pgbench")
        }
    };
    cluster
        .create_database("traffic_tmpl", None)
        .expect("create");
    let tci = cluster.conninfo("traffic_tmpl");
    {
        let mut c = cluster.connect("traffic_tmpl").expect("connect");
        progress("traffic", format!("filling public.big with {ROWS} rows"));
        c.batch_execute(&format!(
            "CREATE TABLE public.big (id int PRIMARY KEY, v int NOT NULL, payload text NOT NULL);
             INSERT INTO public.big SELECT g, (random() * 1000000)::int, md5(g::text) FROM generate_series(1, {ROWS}) g;"
        ))
        .expect("fill");
        c.batch_execute("VACUUM ANALYZE").expect("vacuum");
    }
    install_ledger(&tci);
    let signer = Signer::new();
    signer.register(&tci);
    let work = tempfile::tempdir().expect("tempdir");
    let script = work.path().join("select_update.sql");
    std::fs::write(
        &script,
        "\\set id random(1, 1000000)\nSELECT v FROM public.big WHERE id = :id;\nUPDATE public.big SET v = v + 1 WHERE id = :id;\n",
    )
    .expect("script");

    let mut all = Vec::new();
    for i in 0..runs {
        for mode in [Mode::Stepgate, Mode::Naive] {
            all.push(one_run(&cluster, mode, i, &signer, &pgbench, &script));
        }
    }
    println!("Load: `pgbench -n -c 4 -j 2 -T {DURATION_S} -P 1 -l` running `SELECT v FROM big WHERE id = :id; UPDATE big SET v = v + 1 WHERE id = :id` on {ROWS} rows. At {:.0} s a session takes ACCESS SHARE on `big` and keeps it {:.0} s; {} ms later the change starts. Baseline window: from 1 s after the start of pgbench to the start of the long transaction; change window: from the start to the end of the change.", INTERFERE_AT.as_secs_f64(), HOLD.as_secs_f64(), CHANGE_AFTER_HOLD.as_millis());
    println!();
    println!("| run | change | attempts | change took ms | failed client tx | baseline p99 / max ms | change window p99 / max ms | client tx > 100 ms | longest time no client finished ms | tps baseline → window |");
    println!("|---|---|---|---:|---:|---|---|---:|---:|---|");
    for (k, o) in all.iter().enumerate() {
        println!(
            "| {} | {} | {} | {:.0} | {}{} | {:.1} / {:.1} | {:.1} / {:.0} | {} | {:.0} | {:.0} → {:.0} |",
            k / 2 + 1,
            match o.mode {
                Mode::Stepgate => "stepgate apply (lock_timeout 1 s, 5 retries)",
                Mode::Naive => "naive `psql -c 'ALTER TABLE …'`",
            },
            o.attempts,
            o.change_ms,
            o.failed,
            if o.aborted_clients > 0 {
                format!(" ({} clients aborted)", o.aborted_clients)
            } else {
                String::new()
            },
            o.base_p99_ms,
            o.base_max_ms,
            o.win_p99_ms,
            o.win_max_ms,
            o.slow,
            o.max_gap_ms,
            o.base_tps,
            o.win_tps
        );
    }
    let pick = |m: Mode| all.iter().filter(|o| o.mode == m).collect::<Vec<_>>();
    let sg = pick(Mode::Stepgate);
    let nv = pick(Mode::Naive);
    let f = |v: &[&Outcome], g: &dyn Fn(&Outcome) -> f64| {
        med(&v.iter().map(|o| g(o)).collect::<Vec<_>>())
    };
    let sg_failed: u64 = sg.iter().map(|o| o.failed + o.aborted_clients as u64).sum();
    let sg_stall = sg.iter().map(|o| o.win_max_ms).fold(0.0, f64::max);
    let limit = LOCK_TIMEOUT_MS as f64 + 100.0;
    println!();
    println!("| change (medians of {runs}) | change window p99 ms | max client stall ms | longest time no client finished ms | window p99 / baseline p99 | max stall / baseline max | committed |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (name, v) in [("stepgate apply", &sg), ("naive psql", &nv)] {
        println!(
            "| {name} | {:.1} | {:.0} | {:.0} | {:.1}× | {:.0}× | {}/{} |",
            f(v, &|o| o.win_p99_ms),
            f(v, &|o| o.win_max_ms),
            f(v, &|o| o.max_gap_ms),
            f(v, &|o| o.win_p99_ms / o.base_p99_ms.max(0.001)),
            f(v, &|o| o.win_max_ms / o.base_max_ms.max(0.001)),
            v.iter().filter(|o| o.committed).count(),
            v.len()
        );
    }
    println!();
    println!(
        "Targets: failed client transactions under stepgate = 0: {} ({sg_failed}); max client stall under stepgate ≤ lock_timeout + 100 ms = {limit:.0} ms: {} (worst of {runs} runs: {sg_stall:.0} ms). The naive ALTER stalled every client for {:.0} ms (median), {:.1}× stepgate's worst stall.",
        pass(sg_failed == 0),
        pass(sg_stall <= limit),
        f(&nv, &|o| o.win_max_ms),
        f(&nv, &|o| o.win_max_ms) / sg_stall.max(0.001)
    );
    println!();
    println!(
        "The price of waiting politely: each failed attempt still blocks every client for up to lock_timeout while it is queued (the {} client transactions over 100 ms per stepgate run above are those waits), so over the {:.1} s the stepgate apply took, clients completed {:.0}% of their baseline rate; during the naive ALTER they completed {:.1}%. A shorter lock_timeout shortens each stall; `--retries` and the backoff bound how long the apply keeps trying.",
        sg.iter().map(|o| o.slow).max().unwrap_or(0),
        f(&sg, &|o| o.change_ms) / 1000.0,
        100.0 * f(&sg, &|o| o.win_tps / o.base_tps.max(1e-9)),
        100.0 * f(&nv, &|o| o.win_tps / o.base_tps.max(1e-9))
    );
    let attempts = sg
        .iter()
        .map(|o| {
            o.attempts
                .split_whitespace()
                .next()
                .unwrap_or("?")
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(", ");
    summary(
        "ALTER under pgbench load + an 8 s reader: failed client transactions",
        &format!(
            "stepgate {sg_failed} in {runs} runs (naive: {})",
            nv.iter()
                .map(|o| o.failed + o.aborted_clients as u64)
                .sum::<u64>()
        ),
        "0",
        pass(sg_failed == 0),
    );
    summary(
        "ALTER under pgbench load + an 8 s reader: max client stall",
        &format!(
            "stepgate worst {sg_stall:.0} ms (attempts: {attempts}; committed {}/{runs}); naive median {:.0} ms",
            sg.iter().filter(|o| o.committed).count(),
            f(&nv, &|o| o.win_max_ms)
        ),
        &format!("≤ lock_timeout + 100 ms = {limit:.0} ms"),
        pass(sg_stall <= limit),
    );
}
