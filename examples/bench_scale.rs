//! Rehearse and apply against the size of the catalog, whole process: the `stepgate` binary
//! (release) rehearsing and applying a one-table step on catalogs of 1,000 / 10,000 /
//! 100,000 tables (see `gen_catalog`), against `pg_dump --schema-only` and `psql -1 -f` of
//! the same statement, side by side in the same run. Peak RSS from `/usr/bin/time`. During
//! one rehearsal a second connection samples `pg_locks` every few milliseconds and names
//! every generated (untouched) table a stepgate backend held a lock on.
//!
//! ```text
//! cargo build --release --bin stepgate --example bench_scale
//! target/release/examples/bench_scale [SIZES] [RUNS]     # e.g. 1000,10000,100000 3
//! ```

#[path = "bench_common.rs"]
mod common;
#[path = "gen_catalog.rs"]
#[allow(dead_code)]
mod gen_catalog;

use common::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use stepgate::db::cluster::{Cluster, ClusterOptions};

/// Wall seconds and peak RSS (KiB) of one process run under `/usr/bin/time`.
struct Run {
    secs: f64,
    rss_kib: u64,
}

fn timed(cmd: &mut Command, what: &str) -> Run {
    let mut t = Command::new("/usr/bin/time");
    t.arg("-f").arg("TIME %e %M").arg(cmd.get_program());
    t.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            t.env(k, v);
        }
    }
    let out = run_ok(&mut t, what);
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .rev()
        .find(|l| l.starts_with("TIME "))
        .unwrap_or_else(|| panic!("{what}: no timing in {err}"));
    let mut it = line.split_whitespace().skip(1);
    let secs = it.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let rss_kib = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    Run { secs, rss_kib }
}

fn med(v: &[Run]) -> (f64, u64) {
    let mut s: Vec<f64> = v.iter().map(|r| r.secs).collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let rss = v.iter().map(|r| r.rss_kib).max().unwrap_or(0);
    (s[s.len() / 2], rss)
}

fn stepgate_bin() -> PathBuf {
    if let Ok(p) = std::env::var("STEPGATE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("stepgate"))
        .expect("target dir")
}

fn pack_files(db: &str, steps: usize, signer: &Signer) -> Vec<(String, String)> {
    let mut manifest = manifest_head("bench-scale", db, "300s", "5s");
    let mut files = vec![("allowed_signers".to_string(), signer.allowed_signers())];
    for i in 1..=steps {
        manifest.push_str(&format!(
            "\n[[step]]\nid = \"{i}\"\nname = \"one new table\"\nfile = \"{i:02}.sql\"\nrollback = \"rollback/{i:02}.sql\"\ngates = [\"owner\"]\n\n[step.effects]\ncreate = [\"table public.bench_new_{i}\"]\n"
        ));
        files.push((
            format!("{i:02}.sql"),
            step_file(
                "one new table",
                &format!("SELECT to_regclass('public.bench_new_{i}') IS NULL AS absent;"),
                &format!("CREATE TABLE public.bench_new_{i} (id int primary key);"),
                "300s",
                "5s",
            ),
        ));
        files.push((
            format!("rollback/{i:02}.sql"),
            rollback_file(&format!("DROP TABLE public.bench_new_{i};"), "300s", "5s"),
        ));
    }
    files.push(("stepgate.toml".to_string(), manifest));
    files
}

/// Samples `pg_locks` from its own connection until `stop`: the generated tables (schema
/// `bench`, none of which the step touches) that any other backend held a lock on, and how
/// many samples saw some relation lock at all.
fn sample_locks(ci: String, stop: Arc<AtomicBool>) -> (BTreeSet<String>, usize, usize) {
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).expect("sampler connects");
    let (mut untouched, mut samples, mut busy) = (BTreeSet::new(), 0, 0);
    while !stop.load(Ordering::Relaxed) {
        let rows = c
            .query(
                "SELECT n.nspname, c.relname FROM pg_locks l
                   JOIN pg_class c ON c.oid = l.relation
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid()
                    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .expect("pg_locks");
        samples += 1;
        if !rows.is_empty() {
            busy += 1;
        }
        for r in rows {
            let (ns, rel): (String, String) = (r.get(0), r.get(1));
            if ns == "bench" {
                untouched.insert(rel);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    (untouched, samples, busy)
}

struct Row {
    n: usize,
    dump: (f64, u64),
    incremental: (f64, u64),
    full: (f64, u64),
    apply: f64,
    psql: f64,
    locks: (BTreeSet<String>, usize, usize),
}

fn measure(cluster: &Cluster, n: usize, runs: usize, signer: &Signer) -> Row {
    let db = format!("scale_{n}");
    cluster.create_database(&db, None).expect("create db");
    let ci = cluster.conninfo(&db);
    {
        let mut c = cluster.connect(&db).expect("connect");
        progress("scale", format!("generating {n} tables"));
        let t = Instant::now();
        gen_catalog::generate(&mut c, n).expect("generate catalog");
        c.batch_execute("VACUUM ANALYZE").expect("vacuum");
        progress(
            "scale",
            format!("generated in {:.0} s", t.elapsed().as_secs_f64()),
        );
    }
    install_ledger(&ci);
    signer.register(&ci);
    let pack = tempfile::Builder::new()
        .prefix("bench-scale-")
        .tempdir()
        .expect("tempdir");
    let dir = pack.path();
    write_files(dir, &pack_files(&db, runs, signer));
    let bin = stepgate_bin();
    let sg = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .arg("-p")
            .arg(dir)
            .arg("--db")
            .arg(&ci)
            .arg("-q")
            .env("STEPGATE_EVIDENCE_DIR", dir.join(".evidence"));
        c
    };
    let dump_bin = stepgate::db::cluster::client_program(&cluster.bindir, "pg_dump");
    let (mut dump, mut inc, mut full) = (Vec::new(), Vec::new(), Vec::new());
    let full_runs = if n >= 100_000 { 1 } else { runs };
    for i in 0..runs {
        let mut d = Command::new(&dump_bin);
        d.args(["--schema-only", "-f", "/dev/null", "-d"]).arg(&ci);
        dump.push(timed(&mut d, "pg_dump --schema-only"));
        inc.push(timed(&mut sg(&["rehearse", "--step", "1"]), "rehearse"));
        if i < full_runs {
            full.push(timed(
                &mut sg(&["rehearse", "--step", "1", "--full-proof"]),
                "rehearse --full-proof",
            ));
        }
        progress(
            "scale",
            format!(
                "{n} tables, round {}: pg_dump {:.2} s, rehearse {:.2} s ({} MiB), full proof {}",
                i + 1,
                dump[i].secs,
                inc[i].secs,
                inc[i].rss_kib / 1024,
                full.get(i)
                    .map(|r| format!("{:.2} s ({} MiB)", r.secs, r.rss_kib / 1024))
                    .unwrap_or_else(|| "-".into())
            ),
        );
    }
    // One more rehearsal with pg_locks sampled alongside.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (ci, stop) = (ci.clone(), stop.clone());
        std::thread::spawn(move || sample_locks(ci, stop))
    };
    timed(&mut sg(&["rehearse", "--step", "1"]), "rehearse (sampled)");
    stop.store(true, Ordering::Relaxed);
    let locks = sampler.join().expect("sampler");

    // Apply: each run commits its own step (a new table), against psql -1 -f of the same
    // statement for another new table.
    let (mut applies, mut psqls) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        let step = i.to_string();
        timed(
            &mut sg(&["rehearse", "--step", &step]),
            "rehearse before apply",
        );
        signer.approve(dir, &step, "owner");
        applies.push(timed(&mut sg(&["apply", "--step", &step]), "apply"));
        let f = dir.join(format!("ref_{i}.sql"));
        std::fs::write(
            &f,
            format!("CREATE TABLE public.ref_{i} (id int primary key);\n"),
        )
        .expect("write");
        let mut p = Command::new(stepgate::db::cluster::client_program(
            &cluster.bindir,
            "psql",
        ));
        p.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-d"])
            .arg(&ci)
            .arg("-f")
            .arg(&f);
        psqls.push(timed(&mut p, "psql -1 -f"));
    }
    if std::env::var_os("BENCH_SCALE_LOG").is_some() {
        progress(
            "scale",
            format!("server log: {}", cluster.log_path().display()),
        );
    }
    if let Ok(mut c) = cluster.connect("postgres") {
        let _ = c.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"));
    }
    Row {
        n,
        dump: med(&dump),
        incremental: med(&inc),
        full: med(&full),
        apply: med(&applies).0,
        psql: med(&psqls).0,
        locks,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sizes: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    // BENCH_SCALE_LOG=1: every statement with its duration and application_name in the
    // server log, and the cluster kept, to see where a run's time goes.
    let trace: Vec<(String, String)> = match std::env::var_os("BENCH_SCALE_LOG") {
        Some(_) => vec![
            ("log_min_duration_statement".into(), "0".into()),
            ("log_min_messages".into(), "log".into()),
            ("log_line_prefix".into(), "%m %a %p ".into()),
        ],
        None => vec![],
    };
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![
            // pg_dump (and the full proof's deparsing) locks every table: 100,000 of them.
            ("max_locks_per_transaction".into(), "2048".into()),
            ("shared_buffers".into(), "512MB".into()),
        ]
        .into_iter()
        .chain(trace.iter().cloned())
        .collect(),
        keep: !trace.is_empty(),
    })
    .expect("start cluster");
    let signer = Signer::new();
    let rows: Vec<Row> = sizes
        .iter()
        .map(|n| measure(&cluster, *n, runs, &signer))
        .collect();
    println!("Medians of {runs} runs (the full proof at 100,000 tables: one run); peak RSS is the largest of the runs.\n");
    println!("| tables | `pg_dump --schema-only` | rehearse (incremental) | ratio | peak RSS | rehearse `--full-proof` | ratio | peak RSS |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.2} s | {:.2} s | {:.3}× | {} MiB | {:.2} s | {:.2}× | {} MiB |",
            r.n,
            r.dump.0,
            r.incremental.0,
            r.incremental.0 / r.dump.0,
            r.incremental.1 / 1024,
            r.full.0,
            r.full.0 / r.dump.0,
            r.full.1 / 1024
        );
    }
    println!(
        "\n| tables | `stepgate apply` (whole process, every gate) | `psql -1 -f` | overhead |"
    );
    println!("|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.0} ms | {:.0} ms | {:+.0} ms |",
            r.n,
            r.apply * 1000.0,
            r.psql * 1000.0,
            (r.apply - r.psql) * 1000.0
        );
    }
    println!("\n| tables | `pg_locks` samples during one rehearsal | samples with any relation lock | generated (untouched) tables locked |");
    println!("|---:|---:|---:|---|");
    for r in &rows {
        let (untouched, samples, busy) = &r.locks;
        println!(
            "| {} | {samples} | {busy} | {} |",
            r.n,
            if untouched.is_empty() {
                "none".to_string()
            } else {
                format!(
                    "{} (e.g. {})",
                    untouched.len(),
                    untouched
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    for r in &rows {
        let ratio = r.incremental.0 / r.dump.0;
        let target = match r.n {
            n if n >= 100_000 => Some(0.05),
            n if n >= 10_000 => Some(0.15),
            _ => None,
        };
        if let Some(t) = target {
            summary(
                &format!(
                    "rehearsal of a one-table step, whole process, {} tables",
                    r.n
                ),
                &format!(
                    "{ratio:.3}× `pg_dump --schema-only` ({:.2} s vs {:.2} s)",
                    r.incremental.0, r.dump.0
                ),
                &format!("≤ {t}×"),
                pass(ratio <= t),
            );
        }
        if r.n == 10_000 {
            let mib = r.incremental.1 / 1024;
            summary(
                "rehearsal peak RSS, 10,000 tables",
                &format!("{mib} MiB"),
                "≤ 100 MB",
                pass(mib <= 95),
            );
        }
        let over = (r.apply - r.psql) * 1000.0;
        let target = if r.n >= 100_000 { 200.0 } else { 100.0 };
        if r.n == 1000 || r.n >= 100_000 {
            summary(
                &format!("apply overhead over `psql -1 -f`, {} tables", r.n),
                &format!("{over:+.0} ms"),
                &format!("≤ {target:.0} ms"),
                pass(over <= target),
            );
        }
        summary(
            &format!("untouched tables locked during a rehearsal, {} tables", r.n),
            &format!("{} (of {} samples)", r.locks.0.len(), r.locks.1),
            "none",
            pass(r.locks.0.is_empty()),
        );
    }
}
