//! SG110 adding-column-with-volatile-default: `ALTER TABLE … ADD COLUMN … DEFAULT f()`
//! where `f` is volatile, on a table that already exists.
//!
//! Why: since PostgreSQL 11, adding a column with a constant or stable default
//! (`0`, `'x'`, `now()`) is a catalog change — the default is evaluated once and stored
//! for the existing rows. A volatile default (`random()`, `gen_random_uuid()`,
//! `clock_timestamp()`, `nextval(…)`) must give every row its own value, so PostgreSQL
//! rewrites the whole table, and its indexes, under an ACCESS EXCLUSIVE lock: no reads,
//! no writes until it is done. `serial`/`bigserial` columns (an implicit `nextval()`
//! default) and `GENERATED … AS IDENTITY` columns rewrite the same way and are reported
//! too. Add the column without the default instead, then `ALTER COLUMN … SET DEFAULT`
//! (applies to new rows only, no rewrite) and backfill the existing rows in batches.
//!
//! `GENERATED ALWAYS AS (…) STORED` columns are computed for every existing row, so they
//! rewrite the table the same way. Before PostgreSQL 11 (`[pack.target] server_version`
//! below 11) every non-NULL DEFAULT rewrites the table, constant or not.
//!
//! Volatility is decided statically: a default is volatile when its expression calls a
//! function that is not one of PostgreSQL's built-in IMMUTABLE or STABLE functions (the
//! generated table in `builtin_functions.rs`, matched on the unqualified name and the
//! number of arguments), at any depth — `md5(random()::text)` counts, and so does any
//! user-defined or extension function (`uuid_generate_v4()`), as Squawk does. A
//! subquery counts as volatile too. SQL value keywords such as `CURRENT_TIMESTAMP` are
//! stable and never are.
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::hazard::{is_null_const, volatile_call};
use crate::core::lint::{
    alters_on_existing_tables, column_constraints, Emitter, LintContext, Rule, Severity,
};
use pg_query::protobuf::{ColumnDef, ConstrType, Node};
use pg_query::NodeEnum;

/// Why a DEFAULT expression rewrites the table: volatile, or any value before PG 11.
fn default_rewrites(e: &Node, before_11: bool) -> Option<String> {
    if let Some(f) = volatile_call(e) {
        let f = if f.contains(' ') { f } else { format!("{f}()") };
        return Some(format!("with a volatile DEFAULT calling {f}"));
    }
    (before_11 && !is_null_const(e))
        .then(|| "with a DEFAULT on a server before PostgreSQL 11 (every row is written)".into())
}

pub struct VolatileDefault;

/// Types that expand to a column with a `nextval()` default.
const SERIAL_TYPES: &[&str] = &[
    "smallserial",
    "serial",
    "bigserial",
    "serial2",
    "serial4",
    "serial8",
];

/// Why adding this column rewrites the table, and what to do instead; None if it does not.
fn rewrite_reason(cd: &ColumnDef, before_11: bool) -> Option<(String, &'static str)> {
    let plain = "add the column without the DEFAULT, then ALTER COLUMN … SET DEFAULT (new rows only) and backfill existing rows in batches";
    let type_name: Vec<&str> = cd
        .type_name
        .iter()
        .flat_map(|t| t.names.iter())
        .filter_map(|p| match p.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    if let [t] = type_name.as_slice() {
        if SERIAL_TYPES.contains(t) {
            return Some((
                format!("as `{t}` (an implicit nextval() DEFAULT)"),
                "add a plain integer column, then SET DEFAULT nextval(…) (new rows only) and backfill existing rows in batches",
            ));
        }
    }
    if let Some(why) = cd
        .raw_default
        .as_deref()
        .and_then(|e| default_rewrites(e, before_11))
    {
        return Some((why, plain));
    }
    for k in column_constraints(cd) {
        if k.contype == ConstrType::ConstrDefault as i32 {
            if let Some(why) = k
                .raw_expr
                .as_deref()
                .and_then(|e| default_rewrites(e, before_11))
            {
                return Some((why, plain));
            }
        } else if k.contype == ConstrType::ConstrGenerated as i32 && k.generated_kind == "s" {
            return Some((
                "as a stored generated column (computed and written for every row)".to_string(),
                "add a plain nullable column, fill it with a trigger for new rows and a batched backfill for old ones",
            ));
        } else if k.contype == ConstrType::ConstrIdentity as i32 {
            return Some((
                "as an identity column (a sequence value for every row)".to_string(),
                "add a plain column, backfill it in batches, then ALTER COLUMN … ADD GENERATED … AS IDENTITY (START WITH past the backfill)",
            ));
        }
    }
    None
}

impl Rule for VolatileDefault {
    fn code(&self) -> &'static str {
        "SG110"
    }
    fn name(&self) -> &'static str {
        "adding-column-with-volatile-default"
    }
    fn summary(&self) -> &'static str {
        "ADD COLUMN … DEFAULT <volatile expression> or GENERATED … STORED on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "A constant or stable default (0, 'x', now()) is stored once in the catalog (PostgreSQL 11+), but a volatile one (random(), gen_random_uuid(), clock_timestamp(), nextval(); also serial and identity columns) gives every row its own value, so the whole table is rewritten under an ACCESS EXCLUSIVE lock. Add the column without the default, SET DEFAULT afterwards (new rows only), and backfill existing rows in batches. Stored generated columns rewrite the same way, and before PostgreSQL 11 so does any non-NULL default. A function that is not a known built-in IMMUTABLE/STABLE one (user-defined, extension) counts as volatile."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for a in alters_on_existing_tables(ctx) {
            let table = &a.table;
            let Some(cd) = a.added_column() else {
                continue;
            };
            let Some((why, help)) = rewrite_reason(cd, ctx.server_before(11)) else {
                continue;
            };
            out.stmt(
                a.file,
                a.stmt,
                format!("column `{}` is added to existing table {table} {why}: the whole table is rewritten under an ACCESS EXCLUSIVE lock", cd.colname),
                Some(help.into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG110", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_volatile_defaults() {
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN r float8 DEFAULT random();"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN u uuid NOT NULL DEFAULT public.gen_random_uuid();"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN t timestamptz DEFAULT clock_timestamp();"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN n bigint DEFAULT nextval('a_n_seq'::regclass);"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN s text DEFAULT md5(random()::text) || 'x';"),
            1
        );
        assert_eq!(run("ALTER TABLE app.a ADD COLUMN r int DEFAULT (random() * 10)::int, ADD COLUMN u uuid DEFAULT uuidv7();"), 2);
    }

    #[test]
    fn fires_on_serial_and_identity() {
        assert_eq!(run("ALTER TABLE a ADD COLUMN id bigserial;"), 1);
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;"),
            1
        );
    }

    #[test]
    fn quiet_on_constant_and_stable_defaults() {
        assert_eq!(run("ALTER TABLE a ADD COLUMN c int DEFAULT 0;"), 0);
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN c text NOT NULL DEFAULT 'x';"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN t timestamptz DEFAULT now();"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN t timestamptz DEFAULT CURRENT_TIMESTAMP;"),
            0
        );
        assert_eq!(run("ALTER TABLE a ADD COLUMN c int;"), 0);
        // SET DEFAULT applies to new rows only: no rewrite.
        assert_eq!(
            run("ALTER TABLE a ALTER COLUMN u SET DEFAULT gen_random_uuid();"),
            0
        );
    }

    #[test]
    fn unknown_functions_and_stored_generated_columns_fire() {
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN j jsonb DEFAULT my_jsonb();"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN u uuid DEFAULT uuid_generate_v4();"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN t timestamptz DEFAULT now(1);"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN s numeric GENERATED ALWAYS AS (b + c) STORED;"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN l text DEFAULT lower('X');"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD COLUMN c text[] DEFAULT array[]::text[];"),
            0
        );
    }

    #[test]
    fn any_default_rewrites_before_pg_11() {
        let old = |body: &str| {
            let m = manifest_with("", "").replace(
                "database = \"db\"",
                "database = \"db\"\nserver_version = \"10\"",
            );
            let d = lint(
                &m,
                &[
                    ("01.sql", &step_sql(body)),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            );
            of("SG110", &d).len()
        };
        assert_eq!(old("ALTER TABLE a ADD COLUMN c int DEFAULT 0;"), 1);
        assert_eq!(old("ALTER TABLE a ADD COLUMN c int DEFAULT NULL;"), 0);
        assert_eq!(old("ALTER TABLE a ADD COLUMN c int;"), 0);
    }

    #[test]
    fn quiet_on_new_table() {
        assert_eq!(run("CREATE TABLE n (id int);\nALTER TABLE n ADD COLUMN u uuid DEFAULT gen_random_uuid();"), 0);
        assert_eq!(
            run("CREATE TABLE n (id int);\nALTER TABLE n ADD COLUMN s bigserial;"),
            0
        );
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step(
            "",
            "",
            "SELECT 1;",
            "ALTER TABLE a ADD COLUMN r float8 DEFAULT random();",
        );
        assert_eq!(of("SG110", &d).len(), 0);
    }
}
