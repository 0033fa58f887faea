//! Shared test harness: one throwaway cluster per test binary, one database per test.
//! The fixture world (`../shared/fixtures/world.sql`) is loaded once into a template
//! database; each test that needs it gets its own copy by `CREATE DATABASE … TEMPLATE`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use stepgate::db::cluster::{Cluster, ClusterOptions};

pub struct Harness {
    pub cluster: Cluster,
    world_loaded: Mutex<bool>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| Harness {
        cluster: Cluster::start(ClusterOptions {
            settings: vec![("log_statement".into(), "all".into())],
            keep: false,
        })
        .expect("start throwaway cluster"),
        world_loaded: Mutex::new(false),
    })
}

/// The repository's `shared/fixtures` directory (beside the checkout).
pub fn fixtures_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for cand in [
        here.join("../shared/fixtures"),
        here.join("shared/fixtures"),
    ] {
        if cand.join("world.sql").exists() {
            return cand;
        }
    }
    panic!("shared/fixtures/world.sql not found beside the checkout")
}

fn unique(prefix: &str) -> String {
    format!(
        "{}_{}_{}",
        prefix,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh empty database; returns (name, conninfo).
pub fn empty_db(prefix: &str) -> (String, String) {
    let h = harness();
    let name = unique(prefix);
    h.cluster
        .create_database(&name, None)
        .expect("create database");
    let ci = h.cluster.conninfo(&name);
    (name, ci)
}

/// A fresh copy of the fixture world; returns (name, conninfo).
pub fn world_db(prefix: &str) -> (String, String) {
    let h = harness();
    {
        let mut loaded = h.world_loaded.lock().unwrap_or_else(|e| e.into_inner());
        if !*loaded {
            h.cluster
                .create_database("world_template", None)
                .expect("create template");
            h.cluster
                .psql_file("world_template", &fixtures_dir().join("world.sql"))
                .expect("load world.sql");
            *loaded = true;
        }
        let name = unique(prefix);
        h.cluster
            .create_database(&name, Some("world_template"))
            .expect("copy world");
        return (name.clone(), h.cluster.conninfo(&name));
    }
}
