//! Benchmarks `stepgate::db::snapshot::take` against `pg_dump --schema-only` on synthetic
//! catalogs of 1,000, 5,000 and 10,000 tables (see `gen_catalog`), on a throwaway cluster.
//! Prints one markdown table row per size. "snapshot ms" and "pg_dump ms" are medians of three
//! interleaved runs (the snapshots on one connection, as the engine takes them within a step);
//! "cold ms" is a snapshot on a fresh connection, whose catalog caches are empty, as
//! pg_dump's always are.
//!
//! ```text
//! cargo run --release --example bench_snapshot [N ...]
//! ```

#[path = "gen_catalog.rs"]
#[allow(dead_code)]
mod gen_catalog;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use stepgate::db::cluster::{client_program, Cluster, ClusterOptions};

const RUNS: usize = 3;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![1000, 5000, 10000]
        } else {
            args
        }
    };
    let cluster = Cluster::start(ClusterOptions {
        // pg_dump locks every table in one transaction.
        settings: vec![("max_locks_per_transaction".into(), "256".into())],
        ..Default::default()
    })?;
    let pg_dump = client_program(&cluster.bindir, "pg_dump");
    println!("| tables | objects | snapshot ms | cold ms | pg_dump ms | ratio | cold ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let db = format!("bench_{n}");
        cluster.create_database(&db, None)?;
        {
            let mut client = cluster.connect(&db)?;
            let t = Instant::now();
            gen_catalog::generate(&mut client, n)?;
            client.batch_execute("VACUUM ANALYZE")?;
            eprintln!("generated {n} tables in {:.1} s", t.elapsed().as_secs_f64());
        }

        let mut cold_client = cluster.connect(&db)?;
        let t = Instant::now();
        let first = stepgate::db::snapshot::take(&mut cold_client)?;
        let cold = t.elapsed();
        drop(cold_client);

        // Interleaved, so that both see the same load on a shared machine.
        let mut client = cluster.connect(&db)?;
        let mut snap_times = Vec::new();
        let mut dump_times = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let s = stepgate::db::snapshot::take(&mut client)?;
            snap_times.push(t.elapsed());
            assert_eq!(
                s.fingerprint(),
                first.fingerprint(),
                "snapshots of an idle database differ"
            );
            let t = Instant::now();
            let status = Command::new(&pg_dump)
                .args(["--schema-only", "-f", "/dev/null", "-d"])
                .arg(cluster.conninfo(&db))
                .stdout(Stdio::null())
                .status()?;
            dump_times.push(t.elapsed());
            if !status.success() {
                return Err(format!("pg_dump failed: {status}").into());
            }
        }
        let (s, d) = (median(snap_times), median(dump_times));
        println!(
            "| {n} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} |",
            first.objects.len(),
            ms(s),
            ms(cold),
            ms(d),
            s.as_secs_f64() / d.as_secs_f64(),
            cold.as_secs_f64() / d.as_secs_f64()
        );
    }
    Ok(())
}
