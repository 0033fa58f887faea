//! SG119 integer-key: a new key column of type `integer`/`smallint` (or `serial`,
//! `smallserial`).
//!
//! Why: keys fed by a sequence only grow, and a 32-bit key runs out at 2,147,483,647
//! (`smallint` at 32,767). When it does, every INSERT fails, and widening the column
//! then is `ALTER COLUMN … TYPE bigint` — a full table rewrite under an ACCESS EXCLUSIVE
//! lock, on what is by then a big table, plus every foreign key column pointing at it.
//! `bigint` costs four bytes more per row; use it (or `bigint GENERATED … AS IDENTITY`)
//! for keys from the start.
//!
//! A column counts as a key when it is fed by a sequence (identity, serial, `DEFAULT
//! nextval(…)`) or is named `id`, `…_id`, `ids` or `…_ids` (a reference to such keys).
//! Natural keys (`version integer PRIMARY KEY`) and other integer columns (counts,
//! sort orders) have bounded ranges and are not reported — a deliberate difference
//! from Squawk's prefer-bigint rules, which report every integer column.

use crate::core::lint::hazard::check_new_columns;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct IntegerKey;

const SMALL_INTEGERS: &[&str] = &[
    "int4",
    "int2",
    "int",
    "integer",
    "smallint",
    "serial",
    "serial4",
    "smallserial",
    "serial2",
];

impl Rule for IntegerKey {
    fn code(&self) -> &'static str {
        "SG119"
    }
    fn name(&self) -> &'static str {
        "integer-key"
    }
    fn summary(&self) -> &'static str {
        "a new key column of type integer/smallint/serial instead of bigint"
    }
    fn explanation(&self) -> &'static str {
        "Sequence-fed keys only grow: a 32-bit key fails every INSERT after 2,147,483,647 (smallint after 32,767), and widening it then rewrites the table (and every referencing column) under ACCESS EXCLUSIVE. Use bigint (or bigint GENERATED … AS IDENTITY) for keys from the start."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        check_new_columns(
            ctx,
            out,
            |c, t| {
                let ty = crate::core::lint::hazard::base_type(t);
                let name = c.column.colname.as_str();
                let ids = name == "ids" || name.ends_with("_ids");
                (SMALL_INTEGERS.contains(&ty) && (ids || c.is_key())).then(|| {
                    format!("key column `{}` of {} is `{ty}`: it runs out at {} and widening it later rewrites the table", c.column.colname, c.table(), if ty.ends_with('2') || ty.starts_with("small") { "32,767" } else { "2,147,483,647" })
                })
            },
            "use bigint (or bigint GENERATED … AS IDENTITY)",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG119", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_integer_keys() {
        assert_eq!(run("CREATE TABLE t (id int PRIMARY KEY);"), 1);
        assert_eq!(run("CREATE TABLE t (id serial);"), 1);
        assert_eq!(
            run("CREATE TABLE t (k integer DEFAULT nextval('s'), PRIMARY KEY (k));"),
            1
        );
        assert_eq!(run("CREATE TABLE t (version integer PRIMARY KEY);"), 0);
        assert_eq!(run("CREATE TABLE t (user_id int4 REFERENCES u);"), 1);
        assert_eq!(
            run("CREATE TABLE t (v int REFERENCES r (version), UNIQUE (v));"),
            0
        );
        assert_eq!(run("CREATE TABLE t (ids int[]);"), 1);
        assert_eq!(run("ALTER TABLE t ADD COLUMN owner_id smallint;"), 1);
    }

    #[test]
    fn quiet_on_bigint_keys_and_plain_integers() {
        assert_eq!(run("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, version integer NOT NULL, sort_order int DEFAULT 0);"), 0);
        assert_eq!(run("CREATE TABLE t (id bigserial);"), 0);
    }
}
