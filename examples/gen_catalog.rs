//! Generates a large synthetic catalog for benchmarks: `n` tables `bench.t0 .. bench.t{n-1}`,
//! each with a primary key, one extra index, a foreign key to the previous table (`t0`
//! references nothing) and an AFTER INSERT trigger calling one shared plpgsql function.
//!
//! ```text
//! cargo run --example gen_catalog -- "host=/tmp/... port=5432 user=postgres dbname=x" 10000
//! ```
//!
//! Tables are made by `DO` blocks of 500 tables each, one transaction per block, so the
//! server's lock table never has to hold the whole catalog at once.

use postgres::{Client, NoTls};

/// Tables created per `DO` block (and per transaction).
const CHUNK: usize = 500;

/// Creates schema `bench` and `n` tables in it (see the module docs).
pub fn generate(client: &mut Client, n: usize) -> Result<(), postgres::Error> {
    client.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS bench;
         CREATE OR REPLACE FUNCTION bench.on_insert() RETURNS trigger LANGUAGE plpgsql
             AS $$ BEGIN RETURN NEW; END $$;",
    )?;
    let mut lo = 0;
    while lo < n {
        let hi = (lo + CHUNK).min(n);
        let sql = format!(
            r#"DO $gen$
DECLARE
    i int;
BEGIN
    FOR i IN {lo}..{last} LOOP
        EXECUTE format(
            'CREATE TABLE bench.%I (id bigint PRIMARY KEY, parent_id bigint %s, val text, '
            'created_at timestamptz NOT NULL DEFAULT now())',
            't' || i,
            CASE WHEN i > 0 THEN format('REFERENCES bench.%I (id)', 't' || (i - 1)) ELSE '' END);
        EXECUTE format('CREATE INDEX %I ON bench.%I (val)', 't' || i || '_val_idx', 't' || i);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON bench.%I FOR EACH ROW '
                       'EXECUTE FUNCTION bench.on_insert()', 't' || i || '_ai', 't' || i);
    END LOOP;
END
$gen$"#,
            last = hi - 1
        );
        client.batch_execute(&sql)?;
        lo = hi;
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(conninfo), Some(n)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_catalog CONNINFO N");
        std::process::exit(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("N must be a number, not `{n}`");
        std::process::exit(2);
    };
    let started = std::time::Instant::now();
    let result = Client::connect(&conninfo, NoTls).and_then(|mut c| generate(&mut c, n));
    match result {
        Ok(()) => eprintln!(
            "created {n} tables in schema bench in {:?}",
            started.elapsed()
        ),
        Err(e) => {
            eprintln!("gen_catalog: {e}");
            std::process::exit(1);
        }
    }
}
