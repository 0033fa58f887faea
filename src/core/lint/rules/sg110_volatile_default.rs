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
//! Volatility is decided statically by name: a default is volatile when its expression
//! calls one of [`VOLATILE_FUNCTIONS`] (matched on the unqualified name, at any depth —
//! `md5(random()::text)` counts). User-defined and other volatile functions are not
//! known to the rule and are not reported; SQL value keywords such as
//! `CURRENT_TIMESTAMP` are stable and never are.
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{
    alters_on_existing_tables, column_constraints, Emitter, LintContext, Rule, Severity,
};
use pg_query::protobuf::{ColumnDef, ConstrType, Node};
use pg_query::NodeEnum;

pub struct VolatileDefault;

/// Built-in (and common extension) functions that are VOLATILE in `pg_proc`.
pub const VOLATILE_FUNCTIONS: &[&str] = &[
    // random numbers
    "random",
    "random_normal",
    "setseed",
    // UUIDs: core (13+, 18+), pgcrypto, uuid-ossp
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "gen_random_bytes",
    // wall-clock time (now()/CURRENT_TIMESTAMP are stable: transaction start)
    "clock_timestamp",
    "timeofday",
    // sequences
    "nextval",
    "currval",
    "lastval",
    "setval",
];

/// Types that expand to a column with a `nextval()` default.
const SERIAL_TYPES: &[&str] = &[
    "smallserial",
    "serial",
    "bigserial",
    "serial2",
    "serial4",
    "serial8",
];

/// The first known-volatile function called anywhere in a default expression.
fn volatile_call(n: &Node) -> Option<String> {
    let all = |v: &[Node]| v.iter().find_map(volatile_call);
    let one = |o: &Option<Box<Node>>| o.as_deref().and_then(volatile_call);
    match n.node.as_ref()? {
        NodeEnum::FuncCall(f) => {
            let name = f.funcname.last().and_then(|p| match p.node.as_ref() {
                Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                _ => None,
            });
            match name {
                Some(name) if VOLATILE_FUNCTIONS.contains(&name) => Some(name.to_string()),
                _ => all(&f.args),
            }
        }
        NodeEnum::TypeCast(t) => one(&t.arg),
        NodeEnum::AExpr(e) => one(&e.lexpr).or_else(|| one(&e.rexpr)),
        NodeEnum::BoolExpr(e) => all(&e.args),
        NodeEnum::CoalesceExpr(e) => all(&e.args),
        NodeEnum::MinMaxExpr(e) => all(&e.args),
        NodeEnum::CaseExpr(e) => one(&e.arg)
            .or_else(|| all(&e.args))
            .or_else(|| one(&e.defresult)),
        NodeEnum::CaseWhen(w) => one(&w.expr).or_else(|| one(&w.result)),
        NodeEnum::AArrayExpr(e) => all(&e.elements),
        NodeEnum::RowExpr(e) => all(&e.args),
        NodeEnum::List(l) => all(&l.items),
        NodeEnum::NullTest(t) => one(&t.arg),
        NodeEnum::BooleanTest(t) => one(&t.arg),
        NodeEnum::CollateClause(c) => one(&c.arg),
        NodeEnum::AIndirection(i) => one(&i.arg),
        NodeEnum::NamedArgExpr(a) => one(&a.arg),
        _ => None,
    }
}

/// Why adding this column rewrites the table, and what to do instead; None if it does not.
fn rewrite_reason(cd: &ColumnDef) -> Option<(String, &'static str)> {
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
    if let Some(f) = cd.raw_default.as_deref().and_then(volatile_call) {
        return Some((format!("with a volatile DEFAULT calling {f}()"), plain));
    }
    for k in column_constraints(cd) {
        if k.contype == ConstrType::ConstrDefault as i32 {
            if let Some(f) = k.raw_expr.as_deref().and_then(volatile_call) {
                return Some((format!("with a volatile DEFAULT calling {f}()"), plain));
            }
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
        "ADD COLUMN … DEFAULT <volatile expression> on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "A constant or stable default (0, 'x', now()) is stored once in the catalog (PostgreSQL 11+), but a volatile one (random(), gen_random_uuid(), clock_timestamp(), nextval(); also serial and identity columns) gives every row its own value, so the whole table is rewritten under an ACCESS EXCLUSIVE lock. Add the column without the default, SET DEFAULT afterwards (new rows only), and backfill existing rows in batches. Volatility is judged from a fixed list of known volatile functions."
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
            let Some((why, help)) = rewrite_reason(cd) else {
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
