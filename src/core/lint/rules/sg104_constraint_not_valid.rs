//! SG104 constraint-without-not-valid: `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY` or
//! `CHECK` without `NOT VALID` on a table that already exists.
//!
//! Why: adding the constraint checks every existing row before the statement returns,
//! and that scan runs while the lock is held — ACCESS EXCLUSIVE for a CHECK (no reads,
//! no writes), SHARE ROW EXCLUSIVE on both tables for a FOREIGN KEY (no writes to the
//! table or to the table it references). Add it with `NOT VALID` instead: the lock is
//! then held only for a catalog update, new rows are checked from that moment on, and
//! a later `ALTER TABLE … VALIDATE CONSTRAINT` checks the old rows under a SHARE UPDATE
//! EXCLUSIVE lock that lets reads and writes go on.
//!
//! The same applies to `FOREIGN KEY`/`CHECK` written inline in `ADD COLUMN` (PostgreSQL
//! has no `NOT VALID` there): add the column first, then the constraint `NOT VALID`.
//!
//! The VALIDATE must run in a later transaction: a `VALIDATE CONSTRAINT` in the same
//! transactional step as its `ADD … NOT VALID` keeps the ADD's lock through the scan,
//! which defeats the point, so that is reported too.
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{
    alters_on_existing_tables, column_constraints, Emitter, LintContext, Rule, Severity,
};
use pg_query::protobuf::{AlterTableType, ConstrType, Constraint};
use std::collections::BTreeSet;

pub struct ConstraintNotValid;

/// "FOREIGN KEY `name`" / "CHECK constraint" for a FK or CHECK constraint, else None.
fn describe(k: &Constraint) -> Option<String> {
    let kind = if k.contype == ConstrType::ConstrForeign as i32 {
        "FOREIGN KEY"
    } else if k.contype == ConstrType::ConstrCheck as i32 {
        "CHECK constraint"
    } else {
        return None;
    };
    Some(if k.conname.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} `{}`", k.conname)
    })
}

/// What holding the lock through the validation scan blocks.
fn blocked(k: &Constraint) -> &'static str {
    if k.contype == ConstrType::ConstrForeign as i32 {
        "writes to it and to the referenced table are blocked"
    } else {
        "it is locked ACCESS EXCLUSIVE"
    }
}

impl Rule for ConstraintNotValid {
    fn code(&self) -> &'static str {
        "SG104"
    }
    fn name(&self) -> &'static str {
        "constraint-without-not-valid"
    }
    fn summary(&self) -> &'static str {
        "ADD CONSTRAINT … FOREIGN KEY / CHECK without NOT VALID on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Validating a new FOREIGN KEY or CHECK scans the whole table while the lock is held (ACCESS EXCLUSIVE for CHECK; SHARE ROW EXCLUSIVE on both tables for a FOREIGN KEY). Add it with NOT VALID (a brief catalog change; new rows are checked at once), then run ALTER TABLE … VALIDATE CONSTRAINT in a later step, which scans under a lock that lets reads and writes go on."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        // Step files only: a rollback undoes, it does not add constraints to live tables.
        // (step id, table, constraint) added NOT VALID earlier in that step's file.
        let mut not_valid: BTreeSet<(&String, String, String)> = BTreeSet::new();
        for a in alters_on_existing_tables(ctx) {
            let (c, table) = (a.cmd, &a.table);
            if let Some(k) = a.added_constraint() {
                let Some(what) = describe(k) else { continue };
                if k.skip_validation {
                    not_valid.insert((a.step.id.get_ref(), table.clone(), k.conname.clone()));
                    continue;
                }
                out.stmt(
                    a.file,
                    a.stmt,
                    format!("{what} is added to existing table {table} without NOT VALID: validating it scans the whole table while {}", blocked(k)),
                    Some("add it NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in a later step".into()),
                );
            } else if let Some(cd) = a.added_column() {
                for k in column_constraints(cd) {
                    let Some(what) = describe(k) else { continue };
                    out.stmt(
                        a.file,
                        a.stmt,
                        format!("{what} on new column `{}` of existing table {table} is validated by scanning the whole table while {}", cd.colname, blocked(k)),
                        Some("add the column first, then ADD CONSTRAINT … NOT VALID, and VALIDATE CONSTRAINT in a later step".into()),
                    );
                }
            } else if c.subtype == AlterTableType::AtValidateConstraint as i32
                && a.step.transactional
                && not_valid.contains(&(a.step.id.get_ref(), table.clone(), c.name.clone()))
            {
                out.stmt(
                    a.file,
                    a.stmt,
                    format!("constraint `{}` on {table} is validated in the same transaction that adds it NOT VALID: the ADD's lock is held through the scan", c.name),
                    Some("move VALIDATE CONSTRAINT to a later step".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG104", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_without_not_valid() {
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_p_fk FOREIGN KEY (p) REFERENCES p (id);"),
            1
        );
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_check CHECK (c > 0);"),
            1
        );
        assert_eq!(
            run("ALTER TABLE app.a ADD CHECK (c > 0), ADD FOREIGN KEY (p) REFERENCES p;"),
            2
        );
        assert_eq!(run("ALTER TABLE a ADD COLUMN p int REFERENCES p (id);"), 1);
    }

    #[test]
    fn quiet_with_not_valid_other_constraints_or_new_table() {
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_p_fk FOREIGN KEY (p) REFERENCES p (id) NOT VALID;"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_check CHECK (c > 0) NOT VALID;"),
            0
        );
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_key UNIQUE (c);"), 0);
        assert_eq!(run("CREATE TABLE n (c int, p int);\nALTER TABLE n ADD CONSTRAINT n_c_check CHECK (c > 0);"), 0);
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n ADD COLUMN p int REFERENCES p (id);"),
            0
        );
    }

    #[test]
    fn validate_in_same_transaction_fires() {
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_check CHECK (c > 0) NOT VALID;\nALTER TABLE a VALIDATE CONSTRAINT a_c_check;"),
            1
        );
        // Validating a constraint added by an earlier step is the recommended shape.
        assert_eq!(run("ALTER TABLE a VALIDATE CONSTRAINT a_c_check;"), 0);
    }

    #[test]
    fn validate_in_non_transactional_step_is_fine() {
        let m = manifest_with("", "transactional = false");
        let body = "ALTER TABLE a ADD CONSTRAINT a_c_check CHECK (c > 0) NOT VALID;\nALTER TABLE a VALIDATE CONSTRAINT a_c_check;";
        let d = lint(
            &m,
            &[
                ("01.sql", &format!("{body}\n")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
        );
        assert_eq!(of("SG104", &d).len(), 0);
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step("", "", "SELECT 1;", "ALTER TABLE a ADD CHECK (c > 0);");
        assert_eq!(of("SG104", &d).len(), 0);
    }
}
