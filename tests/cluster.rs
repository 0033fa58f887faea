mod common;

#[test]
fn throwaway_cluster_serves_queries() {
    let (_name, ci) = common::empty_db("cl");
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    let v: i32 = c.query_one("SELECT 1 + 1", &[]).unwrap().get(0);
    assert_eq!(v, 2);
}

#[test]
fn world_fixture_loads() {
    let (_name, ci) = common::world_db("w");
    let mut c = postgres::Client::connect(&ci, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM apr_action_types", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 6);
}
