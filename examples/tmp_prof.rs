fn main() {
    let ci = std::env::args().nth(1).unwrap();
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    c.batch_execute("SET search_path = pg_catalog, public; SET max_parallel_workers_per_gather = 0; SET jit = off").unwrap();
    for (k, sql) in stepgate::db::snapshot::tmp_debug_queries() {
        std::fs::write(format!("/tmp/snapprof/q_{}.sql", k.as_str().replace(' ', "_")), format!("{sql};\n")).unwrap();
        let mut best = std::time::Duration::MAX;
        let mut n = 0;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            n = c.query(sql.as_str(), &[]).unwrap().len();
            best = best.min(t.elapsed());
        }
        println!("{:>20} rows={:>6} {:>8.1} ms", k.as_str(), n, best.as_secs_f64() * 1000.0);
    }
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let s = stepgate::db::snapshot::take(&mut c).unwrap();
        let t1 = t.elapsed();
        let fp = s.fingerprint();
        println!("take {:.1} ms; fingerprint {:.1} ms ({})", t1.as_secs_f64()*1000.0, (t.elapsed()-t1).as_secs_f64()*1000.0, &fp[..8]);
    }
}
