//! Benchmarks the table-scoped backup of a step that touches two small tables
//! (`stepgate::engine::backup::run`: one `pg_dump -Fc` per table under one exported snapshot,
//! each checked with `pg_restore --list`, checksummed, recorded in the ledger) against a full
//! `pg_dump -Fc` of the same database, whose untouched tables hold at least 1 GB. A third
//! figure is one hand-written `pg_dump -Fc --table=… --table=…` of the same two tables.
//! Everything lives in a throwaway cluster that is removed at the end. Prints markdown.
//!
//! ```text
//! cargo run --release --example bench_backup [GIB]
//! ```

#[path = "bench_common.rs"]
mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stepgate::db::cluster::{client_program, Cluster, ClusterOptions};
use stepgate::engine::session::{Lock, Session};

const STEP_RUNS: usize = 5;
const FULL_RUNS: usize = 3;
/// Rows added per INSERT … SELECT generate_series batch.
const BATCH: i64 = 400_000;

fn free_bytes(path: &std::path::Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let gib: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1.0);
    let want = (gib * 1024.0 * 1024.0 * 1024.0) as i64;
    let tmp = std::env::temp_dir();
    let free = free_bytes(&tmp);
    progress(
        "backup",
        format!("{:.1} GB free under {}", free as f64 / 1e9, tmp.display()),
    );
    // Data + WAL + a compressed full dump + slack.
    if free < (want as u64) * 4 {
        eprintln!(
            "bench_backup: needs about {:.1} GB free under {}, has {:.1} GB",
            (want as u64 * 4) as f64 / 1e9,
            tmp.display(),
            free as f64 / 1e9
        );
        std::process::exit(1);
    }
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![
            ("shared_buffers".into(), "256MB".into()),
            ("maintenance_work_mem".into(), "256MB".into()),
            ("max_wal_size".into(), "4GB".into()),
            ("checkpoint_timeout".into(), "30min".into()),
        ],
        ..Default::default()
    })
    .expect("start cluster");
    let db = "bench_backup";
    cluster.create_database(db, None).expect("create db");
    let ci = cluster.conninfo(db);
    let mut c = cluster.connect(db).expect("connect");
    c.batch_execute(
        "CREATE TABLE public.small_a (id int PRIMARY KEY, v int NOT NULL, label text NOT NULL);
         CREATE TABLE public.small_b (id int PRIMARY KEY, v int NOT NULL, label text NOT NULL);
         INSERT INTO public.small_a SELECT g, g, 'a-' || g FROM generate_series(1, 200) g;
         INSERT INTO public.small_b SELECT g, g, 'b-' || g FROM generate_series(1, 200) g;",
    )
    .expect("small tables");
    // Four wide tables filled in batches until the untouched data reaches `want` bytes.
    for k in 1..=4 {
        c.batch_execute(&format!(
            "CREATE TABLE public.wide_{k} (id bigint PRIMARY KEY, a text, b text, c text, d text, e text, f text, created_at timestamptz NOT NULL DEFAULT now())"
        ))
        .expect("wide table");
    }
    let t = Instant::now();
    let mut next = [1i64; 5];
    let size_sql = "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname LIKE 'wide\\_%' AND c.relkind = 'r'";
    let mut k = 0;
    let untouched = loop {
        let size: i64 = c.query_one(size_sql, &[]).expect("size").get(0);
        if size >= want {
            progress(
                "backup",
                format!(
                    "untouched tables hold {:.2} GB ({:.0} s to generate)",
                    size as f64 / 1e9,
                    t.elapsed().as_secs_f64()
                ),
            );
            break size;
        }
        let table = k % 4 + 1;
        let lo = next[table];
        let hi = lo + BATCH - 1;
        c.batch_execute(&format!(
            "INSERT INTO public.wide_{table} (id, a, b, c, d, e, f)
             SELECT g, md5(g::text), md5((g * 3)::text), md5((g * 7)::text) || md5((g * 11)::text),
                    md5((g * 13)::text), md5((g * 17)::text) || md5((g * 19)::text), md5((g * 23)::text)
             FROM generate_series({lo}, {hi}) g"
        ))
        .expect("fill");
        next[table] = hi + 1;
        k += 1;
        progress(
            "backup",
            format!("batch {k}: {BATCH} rows into wide_{table}"),
        );
    };
    c.batch_execute("VACUUM ANALYZE").expect("vacuum");
    c.batch_execute("CHECKPOINT").expect("checkpoint");
    let db_size: i64 = c
        .query_one("SELECT pg_database_size(current_database())", &[])
        .expect("db size")
        .get(0);
    install_ledger(&ci);
    let signer = Signer::new();
    signer.register(&ci);

    let pack = tempfile::Builder::new()
        .prefix("bench-backup-")
        .tempdir()
        .expect("tempdir");
    let manifest = format!(
        "{}\n[[step]]\nid = \"1\"\nname = \"touch two small tables\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ngates = [\"owner\"]\n\n[step.effects]\nrows = {{ \"public.small_a\" = {{ update = 1 }}, \"public.small_b\" = {{ update = 1 }} }}\n",
        manifest_head("bench-backup", db, "60s", "3s")
    );
    write_files(
        pack.path(),
        &[
            ("stepgate.toml".into(), manifest),
            ("allowed_signers".into(), signer.allowed_signers()),
            (
                "01.sql".into(),
                step_file(
                    "step 1: touch two small tables",
                    "SELECT count(*) AS a FROM public.small_a;",
                    "UPDATE public.small_a SET v = v + 1 WHERE id = 1;\nUPDATE public.small_b SET v = v + 1 WHERE id = 1;",
                    "60s",
                    "3s",
                ),
            ),
            (
                "rollback/01.sql".into(),
                rollback_file(
                    "UPDATE public.small_a SET v = v - 1 WHERE id = 1;\nUPDATE public.small_b SET v = v - 1 WHERE id = 1;",
                    "60s",
                    "3s",
                ),
            ),
        ],
    );
    let o = opts(pack.path(), &ci);

    // The table-scoped backup, as `stepgate backup --step 1` (and apply's auto-backup) takes it.
    let mut scoped = Vec::new();
    let mut scoped_bytes = 0;
    for i in 0..STEP_RUNS {
        let t = Instant::now();
        let mut s = Session::open(&o, "backup", Lock::Pack).expect("session");
        let r = stepgate::engine::backup::run(&mut s, "1", false).expect("backup");
        drop(s);
        let d = t.elapsed();
        assert_eq!(r.backup.files.len(), 2, "two tables dumped");
        scoped_bytes = r.backup.total_bytes;
        scoped.push(d);
        let _ = std::fs::remove_dir_all(&r.backup.dir);
        progress(
            "backup",
            format!("stepgate backup {}/{STEP_RUNS}: {:.0} ms", i + 1, ms(d)),
        );
    }

    let pg_dump = client_program(&cluster.bindir, "pg_dump");
    let work = tempfile::Builder::new()
        .prefix("bench-backup-dumps-")
        .tempdir()
        .expect("tempdir");
    let dump = |args: &[&str], file: &std::path::Path| -> (Duration, u64) {
        let t = Instant::now();
        let mut cmd = Command::new(&pg_dump);
        cmd.args(args)
            .arg("-f")
            .arg(file)
            .arg("-d")
            .arg(&ci)
            .stdout(Stdio::null());
        run_ok(&mut cmd, "pg_dump");
        let d = t.elapsed();
        let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_file(file);
        (d, bytes)
    };

    let mut by_hand = Vec::new();
    for _ in 0..STEP_RUNS {
        let (d, _) = dump(
            &["-Fc", "--table=public.small_a", "--table=public.small_b"],
            &work.path().join("two.dump"),
        );
        by_hand.push(d);
    }

    let mut full = Vec::new();
    let mut full_bytes = 0;
    for i in 0..FULL_RUNS {
        let (d, b) = dump(&["-Fc"], &work.path().join("full.dump"));
        full_bytes = b;
        full.push(d);
        progress(
            "backup",
            format!(
                "full pg_dump -Fc {}/{FULL_RUNS}: {:.1} s, {:.0} MB",
                i + 1,
                d.as_secs_f64(),
                b as f64 / 1e6
            ),
        );
        if i == 0 && d > Duration::from_secs(150) {
            progress("backup", "a full dump takes over 150 s: measuring it once");
            break;
        }
    }
    let runs_full = full.len();
    let (s, h, f) = (median(scoped), median(by_hand), median(full));
    println!("| database | untouched data | stepgate backup (2 tables) ms | one `pg_dump -Fc -t a -t b` ms | full `pg_dump -Fc` s | stepgate / full | stepgate / by hand | dump sizes |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    println!(
        "| {:.2} GB | 4 tables, {:.2} GB | {:.0} | {:.0} | {:.1} | {:.4} ({:.0}× faster) | {:.1} | scoped {:.0} KB, full {:.0} MB |",
        db_size as f64 / 1e9,
        untouched as f64 / 1e9,
        ms(s),
        ms(h),
        f.as_secs_f64(),
        s.as_secs_f64() / f.as_secs_f64(),
        f.as_secs_f64() / s.as_secs_f64(),
        s.as_secs_f64() / h.as_secs_f64(),
        scoped_bytes as f64 / 1e3,
        full_bytes as f64 / 1e6
    );
    println!();
    println!(
        "Medians of {STEP_RUNS} (stepgate, by hand) and {runs_full} (full dump). The stepgate figure includes opening the session, the ACCESS SHARE locks and the exported snapshot, one `pg_dump` per table, `pg_restore --list` of each dump, sha256 and the ledger event; it does not grow with the untouched data."
    );
    summary(
        "table-scoped backup of a 2-table step vs full `pg_dump -Fc`",
        &format!(
            "{:.0} ms vs {:.1} s with {:.2} GB untouched ({:.0}× faster); {:.1}× one hand-written `pg_dump -t a -t b`",
            ms(s),
            f.as_secs_f64(),
            untouched as f64 / 1e9,
            f.as_secs_f64() / s.as_secs_f64(),
            s.as_secs_f64() / h.as_secs_f64()
        ),
        "(none set)",
        "-",
    );
}
