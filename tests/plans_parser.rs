//! Issue 11, "real plans run as written": the parser takes everything PostgreSQL takes
//! (deep expressions), and SG017's table of statements that cannot run in a transaction
//! block agrees with the server statement by statement.

mod common;

use stepgate::core::sql::{parse_file, StmtClass};

fn is_refused_by_lint(stmt: &str) -> bool {
    let f = parse_file("t.sql", stmt).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    assert_eq!(f.statements.len(), 1, "{stmt}");
    matches!(f.statements[0].class, StmtClass::NonTransactional { .. })
}

/// Runs `stmt` inside BEGIN … ROLLBACK; Some(true) when PostgreSQL refuses it with
/// "cannot run inside a transaction block", Some(false) when it runs, None (with the
/// error) when it fails for another reason.
fn refused_by_server(c: &mut postgres::Client, stmt: &str) -> Result<bool, String> {
    c.batch_execute("BEGIN").expect("begin");
    let r = c.batch_execute(stmt);
    c.batch_execute("ROLLBACK").expect("rollback");
    match r {
        Ok(()) => Ok(false),
        Err(e) => {
            let db = e
                .as_db_error()
                .map(|d| (d.code().code().to_string(), d.message().to_string()));
            match db {
                Some((code, msg))
                    if code == "25001" && msg.contains("cannot run inside a transaction block") =>
                {
                    Ok(true)
                }
                other => Err(format!("{other:?}")),
            }
        }
    }
}

#[test]
fn sg017_table_matches_prevent_in_transaction_block() {
    let (db, ci) = common::empty_db("plans_sg017");
    let mut c = common::client(&ci);
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, x int);
         CREATE INDEX t_x ON t (x);
         CREATE INDEX t_x2 ON t (x);
         INSERT INTO t SELECT g, g FROM generate_series(1, 10) g;
         CREATE TABLE parted (id int) PARTITION BY RANGE (id);
         CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
         CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (10) TO (20);
         CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
         CREATE UNIQUE INDEX mv_id ON mv (id);
         CREATE TYPE e AS ENUM ('a', 'b');
         CREATE SUBSCRIPTION sub_slot CONNECTION 'dbname=nowhere' PUBLICATION p WITH (connect = false);",
    )
    .expect("setup");
    let cases: Vec<String> = [
        // PreventInTransactionBlock callers.
        "VACUUM t",
        "VACUUM (ANALYZE) t",
        "VACUUM (ANALYZE false) t",
        "CLUSTER",
        "CREATE DATABASE plans_never",
        "DROP DATABASE IF EXISTS plans_never",
        "ALTER DATABASE {db} SET TABLESPACE pg_default",
        "CREATE TABLESPACE ts_never LOCATION '/nonexistent/plans'",
        "DROP TABLESPACE IF EXISTS ts_never",
        "ALTER SYSTEM SET work_mem = '4MB'",
        "CREATE SUBSCRIPTION s_new CONNECTION 'dbname=nowhere' PUBLICATION p",
        "DROP SUBSCRIPTION sub_slot",
        "REINDEX TABLE CONCURRENTLY t",
        "REINDEX INDEX CONCURRENTLY t_x",
        "REINDEX (CONCURRENTLY) TABLE t",
        "REINDEX SCHEMA public",
        "REINDEX DATABASE {db}",
        "REINDEX SYSTEM {db}",
        "CREATE INDEX CONCURRENTLY t_x3 ON t (x)",
        "DROP INDEX CONCURRENTLY t_x2",
        "ALTER TABLE parted DETACH PARTITION parted_1 CONCURRENTLY",
        "DISCARD ALL",
        // Look-alikes that run in a transaction.
        "ANALYZE t",
        "CLUSTER t USING t_pkey",
        "REINDEX TABLE t",
        "REINDEX INDEX t_x",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY mv",
        "REFRESH MATERIALIZED VIEW mv",
        "CREATE INDEX t_x4 ON t (x)",
        "DROP INDEX t_x2",
        "ALTER TABLE parted DETACH PARTITION parted_2",
        "DISCARD PLANS",
        "DISCARD SEQUENCES",
        "DISCARD TEMP",
        "CREATE SUBSCRIPTION s_off CONNECTION 'dbname=nowhere' PUBLICATION p WITH (connect = false)",
        "CREATE SUBSCRIPTION s_off2 CONNECTION 'dbname=nowhere' PUBLICATION p WITH (connect = false, create_slot = false)",
        "CREATE SUBSCRIPTION s_off3 CONNECTION 'dbname=nowhere' PUBLICATION p WITH (connect = off)",
        "ALTER TYPE e ADD VALUE 'c'",
        "ALTER DATABASE {db} SET work_mem = '4MB'",
        "ALTER DATABASE {db} WITH CONNECTION LIMIT 50",
        "ALTER SUBSCRIPTION sub_slot SET (slot_name = NONE)",
    ]
    .iter()
    .map(|s| s.replace("{db}", &db))
    .collect();
    let mut mismatches = Vec::new();
    let mut refused_count = 0;
    for stmt in &cases {
        let lint = is_refused_by_lint(&format!("{stmt};"));
        match refused_by_server(&mut c, stmt) {
            Ok(server) => {
                refused_count += usize::from(server);
                if server != lint {
                    mismatches.push(format!("{stmt}: server refuses = {server}, lint = {lint}"));
                }
            }
            Err(e) => mismatches.push(format!("{stmt}: unexpected error {e}")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(refused_count, 22, "the table's first part is all refused");
}

/// A view concatenating `n` columns with `|| ' ' ||`.
fn concat_view(n: usize) -> String {
    let cols: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    format!(
        "CREATE VIEW wide_v AS SELECT {} AS x FROM wide",
        cols.join(" || ' ' || ")
    )
}

#[test]
fn deep_expressions_parse_here_and_run_on_the_server() {
    let (_db, ci) = common::empty_db("plans_deep");
    let mut c = common::client(&ci);
    let n_cat = 230;
    let cols: Vec<String> = (0..n_cat).map(|i| format!("c{i} text")).collect();
    c.batch_execute(&format!("CREATE TABLE wide ({})", cols.join(", ")))
        .expect("wide table");
    let plus: Vec<String> = (0..480).map(|i| i.to_string()).collect();
    let plus = format!("SELECT {}", plus.join(" + "));
    let mut sub = "SELECT 1".to_string();
    for _ in 0..160 {
        sub = format!("SELECT (SELECT x FROM ({sub}) s(x))");
    }
    let file = format!("{};\n{plus};\n{sub};\n", concat_view(n_cat));
    let f = parse_file("deep.sql", &file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(f.statements.len(), 3);
    assert_eq!(
        f.statements[0].touches[0].object.to_string(),
        "view public.wide_v"
    );
    assert!(f.statements[1].is_read_only() && f.statements[2].is_read_only());
    c.batch_execute("BEGIN").expect("begin");
    for st in &f.statements {
        c.batch_execute(&st.text)
            .unwrap_or_else(|e| panic!("server refuses line {}: {e}", st.line));
    }
    let total: i32 = c.query_one(&plus, &[]).expect("sum").get(0);
    assert_eq!(total, (0..480).sum::<i32>());
    c.batch_execute("ROLLBACK").expect("rollback");
}
