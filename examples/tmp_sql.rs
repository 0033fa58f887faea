fn main() {
    let mut args = std::env::args().skip(1);
    let ci = args.next().unwrap();
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    c.batch_execute("SET search_path = pg_catalog, public; SET max_parallel_workers_per_gather = 0; SET jit = off").unwrap();
    for f in args {
        let sql = std::fs::read_to_string(&f).unwrap();
        let sql = sql.trim().trim_end_matches(';');
        let mut best = std::time::Duration::MAX;
        let mut n = 0;
        for _ in 0..7 {
            let t = std::time::Instant::now();
            n = c.query(sql, &[]).unwrap().len();
            best = best.min(t.elapsed());
        }
        println!("{:>40} rows={:>6} {:>8.1} ms", f, n, best.as_secs_f64() * 1000.0);
    }
}
