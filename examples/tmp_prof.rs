fn main() {
    let ci = std::env::args().nth(1).unwrap();
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    for mode in ["keep", "fp", "drop", "fp+drop"] {
        let s = stepgate::db::snapshot::take(&mut c).unwrap();
        let mut keep = None;
        match mode {
            "keep" => keep = Some(s),
            "fp" => { let _ = s.fingerprint(); keep = Some(s); }
            "drop" => drop(s),
            _ => { let _ = s.fingerprint(); drop(s); }
        }
        let t = std::time::Instant::now();
        let _s2 = stepgate::db::snapshot::take(&mut c).unwrap();
        println!("after {mode}: take {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        drop(keep);
    }
}
