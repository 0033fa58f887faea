//! SG114 adding-exclusion-constraint: `ALTER TABLE … ADD CONSTRAINT … EXCLUDE` on a
//! table that already exists.
//!
//! Why: an exclusion constraint builds its index and checks every existing row inside
//! the ALTER TABLE, under an ACCESS EXCLUSIVE lock — no reads, no writes — for the
//! whole build. Unlike UNIQUE there is no `USING INDEX` form and no `NOT VALID`, so it
//! cannot be made cheap: add it when the table is created, or enforce the rule another
//! way (a trigger, or a UNIQUE index on a derived key) and keep the exclusion
//! constraint for a planned maintenance window. Tables created in the same pack are
//! exempt: they are new and empty.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::ConstrType;

pub struct ExclusionConstraint;

impl Rule for ExclusionConstraint {
    fn code(&self) -> &'static str {
        "SG114"
    }
    fn name(&self) -> &'static str {
        "adding-exclusion-constraint"
    }
    fn summary(&self) -> &'static str {
        "ADD CONSTRAINT … EXCLUDE on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "An exclusion constraint builds its index and checks every row under an ACCESS EXCLUSIVE lock, and has neither USING INDEX nor NOT VALID to make it cheap. Add it when the table is created, enforce the rule another way (trigger, UNIQUE index on a derived key), or plan a maintenance window."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for a in alters_on_existing_tables(ctx) {
            let Some(k) = a.added_constraint() else {
                continue;
            };
            if k.contype != ConstrType::ConstrExclusion as i32 {
                continue;
            }
            out.stmt(
                a.file,
                a.stmt,
                format!("an exclusion constraint on existing table {} builds its index and checks every row under an ACCESS EXCLUSIVE lock: no reads or writes meanwhile", a.table),
                Some("add it when the table is created, enforce the rule another way, or plan a maintenance window".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG114", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(
            run("ALTER TABLE r ADD CONSTRAINT r_no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);"),
            1
        );
    }

    #[test]
    fn quiet_on_new_table_or_other_constraints() {
        assert_eq!(run("CREATE TABLE r (room int, during tstzrange);\nALTER TABLE r ADD CONSTRAINT r_x EXCLUDE USING gist (room WITH =);"), 0);
        assert_eq!(
            run("ALTER TABLE r ADD CONSTRAINT r_c CHECK (room > 0) NOT VALID;"),
            0
        );
    }
}
