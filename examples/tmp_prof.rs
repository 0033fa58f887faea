fn t(c: &mut postgres::Client, sql: &str) {
    let s = std::time::Instant::now();
    c.batch_execute(sql).unwrap();
    println!("{:>8.1} ms  {sql}", s.elapsed().as_secs_f64() * 1000.0);
}
fn main() {
    let ci = std::env::args().nth(1).unwrap();
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    let _s = stepgate::db::snapshot::take(&mut c).unwrap();
    for sql in [
        "SELECT 1",
        "SELECT set_config('search_path', 'pg_catalog, public', false)",
        "SELECT set_config('DateStyle', 'ISO, YMD', false)",
        "SELECT set_config('TimeZone', 'UTC', false)",
        "SELECT set_config('jit', 'off', false)",
        "SELECT set_config('max_parallel_workers_per_gather', '0', false)",
        "SELECT set_config('search_path', '\"$user\", public', false)",
        "SELECT set_config('search_path', 'pg_catalog, public', false)",
        "SELECT set_config('TimeZone', 'Etc/UTC', false)",
        "SELECT set_config('TimeZone', 'UTC', false)",
        "SELECT 1",
    ] {
        t(&mut c, sql);
    }
}
