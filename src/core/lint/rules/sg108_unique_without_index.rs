//! SG108 unique-constraint-without-index: `ALTER TABLE … ADD CONSTRAINT … UNIQUE` or
//! `PRIMARY KEY` on a table that already exists, without `USING INDEX`.
//!
//! Why: the constraint needs a unique index, and without `USING INDEX` PostgreSQL
//! builds it inside the ALTER TABLE, under an ACCESS EXCLUSIVE lock — no reads, no
//! writes — for the whole build. Build the index first with
//! `CREATE UNIQUE INDEX CONCURRENTLY` (writes go on; a `transactional = false` step),
//! then attach it with `ADD CONSTRAINT … UNIQUE USING INDEX idx` (or
//! `PRIMARY KEY USING INDEX idx`), which is a catalog change only. For a primary key
//! the columns must already be NOT NULL, or the ALTER scans the table to set it — see
//! SG107. `UNIQUE`/`PRIMARY KEY` written inline in `ADD COLUMN` build the index the
//! same way and are reported too.
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{
    alters_on_existing_tables, column_constraints, Emitter, LintContext, Rule, Severity,
};
use pg_query::protobuf::{ConstrType, Constraint};

pub struct UniqueWithoutIndex;

/// "UNIQUE constraint `name`" / "PRIMARY KEY" for a constraint that builds a unique index.
fn describe(k: &Constraint) -> Option<String> {
    let kind = if k.contype == ConstrType::ConstrUnique as i32 {
        "UNIQUE constraint"
    } else if k.contype == ConstrType::ConstrPrimary as i32 {
        "PRIMARY KEY"
    } else {
        return None;
    };
    if !k.indexname.is_empty() {
        return None; // USING INDEX: attaches an index built beforehand.
    }
    Some(if k.conname.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} `{}`", k.conname)
    })
}

impl Rule for UniqueWithoutIndex {
    fn code(&self) -> &'static str {
        "SG108"
    }
    fn name(&self) -> &'static str {
        "unique-constraint-without-index"
    }
    fn summary(&self) -> &'static str {
        "ADD CONSTRAINT … UNIQUE / PRIMARY KEY without USING INDEX on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Builds the constraint's unique index inside the ALTER TABLE, under an ACCESS EXCLUSIVE lock that blocks reads and writes for the whole build. Build it first with CREATE UNIQUE INDEX CONCURRENTLY in a `transactional = false` step, then ADD CONSTRAINT … UNIQUE USING INDEX (or PRIMARY KEY USING INDEX), which only updates the catalog."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let help = "CREATE UNIQUE INDEX CONCURRENTLY in a `transactional = false` step, then ADD CONSTRAINT … USING INDEX";
        for a in alters_on_existing_tables(ctx) {
            let table = &a.table;
            if let Some(k) = a.added_constraint() {
                let Some(what) = describe(k) else { continue };
                out.stmt(
                    a.file,
                    a.stmt,
                    format!("{what} is added to existing table {table} without USING INDEX: its index is built under an ACCESS EXCLUSIVE lock"),
                    Some(help.into()),
                );
            } else if let Some(cd) = a.added_column() {
                for k in column_constraints(cd) {
                    let Some(what) = describe(k) else { continue };
                    out.stmt(
                        a.file,
                        a.stmt,
                        format!("{what} on new column `{}` of existing table {table} builds its index under an ACCESS EXCLUSIVE lock", cd.colname),
                        Some(format!("add the column first, then {help}")),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG108", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_using_index() {
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_key UNIQUE (c);"), 1);
        assert_eq!(run("ALTER TABLE app.a ADD PRIMARY KEY (id);"), 1);
        assert_eq!(run("ALTER TABLE a ADD COLUMN code text UNIQUE;"), 1);
    }

    #[test]
    fn quiet_with_using_index_other_constraints_or_new_table() {
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_key UNIQUE USING INDEX a_c_idx;"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY USING INDEX a_id_idx;"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_check CHECK (c > 0) NOT VALID;"),
            0
        );
        assert_eq!(run("CREATE TABLE n (id int, c int);\nALTER TABLE n ADD PRIMARY KEY (id), ADD UNIQUE (c);"), 0);
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step("", "", "SELECT 1;", "ALTER TABLE a ADD UNIQUE (c);");
        assert_eq!(of("SG108", &d).len(), 0);
    }
}
