//! SG101 adding-not-null-column-without-default: `ALTER TABLE … ADD COLUMN … NOT NULL`
//! without a DEFAULT on a table that already exists.
//!
//! Why: on a table with rows the statement fails outright (every existing row would
//! violate NOT NULL); on an empty table it passes the rehearsal and then fails in
//! production, where the table is not empty. Add the column nullable, backfill in
//! batches, then add a `CHECK (c IS NOT NULL) NOT VALID`, validate it, and only then
//! `SET NOT NULL` — or give it a constant DEFAULT (no rewrite since PostgreSQL 11).
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{
    alters_on_existing_relations, column_constraints, Emitter, LintContext, Rule, Severity,
};
use pg_query::protobuf::ConstrType;

pub struct NotNullWithoutDefault;

impl Rule for NotNullWithoutDefault {
    fn code(&self) -> &'static str {
        "SG101"
    }
    fn name(&self) -> &'static str {
        "adding-not-null-column-without-default"
    }
    fn summary(&self) -> &'static str {
        "ADD COLUMN … NOT NULL without DEFAULT on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Fails on any table with rows, so it passes on an empty staging table and breaks in production. Add the column nullable, backfill, add CHECK (c IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL; or give a constant DEFAULT."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        // Any ALTER TABLE-family statement (no object-type filter): ALTER FOREIGN TABLE too.
        for a in alters_on_existing_relations(ctx) {
            let table = &a.table;
            let Some(cd) = a.added_column() else {
                continue;
            };
            let kinds: Vec<i32> = column_constraints(cd).map(|k| k.contype).collect();
            let not_null = cd.is_not_null || kinds.contains(&(ConstrType::ConstrNotnull as i32));
            let has_default = cd.raw_default.is_some()
                || kinds.contains(&(ConstrType::ConstrDefault as i32))
                || kinds.contains(&(ConstrType::ConstrIdentity as i32))
                || kinds.contains(&(ConstrType::ConstrGenerated as i32));
            if not_null && !has_default {
                out.stmt(
                    a.file,
                    a.stmt,
                    format!(
                        "column `{}` is added NOT NULL without a DEFAULT to existing table {table}",
                        cd.colname
                    ),
                    Some("add it nullable and backfill, or give a constant DEFAULT".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        let effects = "[step.effects]\ncreate = [\"column public.a.c\", \"table public.n\", \"column public.n.c\"]";
        of("SG101", &lint_step("", effects, body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a ADD COLUMN c int NOT NULL;"), 1);
    }

    #[test]
    fn quiet_with_default_or_new_table() {
        assert_eq!(run("ALTER TABLE a ADD COLUMN c int NOT NULL DEFAULT 0;"), 0);
        assert_eq!(run("ALTER TABLE a ADD COLUMN c int;"), 0);
        assert_eq!(
            run("CREATE TABLE n (id int);\nALTER TABLE n ADD COLUMN c int NOT NULL;"),
            0
        );
    }
}
