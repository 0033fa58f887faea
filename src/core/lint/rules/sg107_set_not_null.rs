//! SG107 setting-not-null: `ALTER TABLE … ALTER COLUMN … SET NOT NULL` on a table that
//! already exists.
//!
//! Why: PostgreSQL proves the column has no NULLs by scanning every row, and it does
//! so under an ACCESS EXCLUSIVE lock — no reads, no writes — for the whole scan.
//! Since PostgreSQL 12 the scan is skipped when a valid `CHECK (c IS NOT NULL)`
//! constraint already proves it, so: add `CHECK (c IS NOT NULL) NOT VALID` (brief
//! lock), `VALIDATE CONSTRAINT` it in a later step (scans under a lock that lets reads
//! and writes go on), then `SET NOT NULL` (catalog change only) and drop the CHECK.
//! When the pack itself adds and validates such a CHECK before the `SET NOT NULL`,
//! the rule stays quiet; it cannot see CHECKs that already exist in the database.
//! PostgreSQL 18's table-level `ADD CONSTRAINT … NOT NULL c` scans the same way and is
//! reported too unless it is `NOT VALID` (to be validated in a later step).
//! A `VALIDATE CONSTRAINT` of a constraint added before the pack (the usual shape: the
//! CHECK came `NOT VALID` in an earlier pack) counts as that proof for a column the
//! constraint's name mentions (`orders_customer_id_not_null` → `customer_id`).
//! With `[pack.target] server_version` below 12 a validated CHECK does not spare the
//! scan, so `SET NOT NULL` is reported whatever comes before it.
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{alters_on_existing_tables, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::{AlterTableType, ConstrType, Constraint, NullTestType};
use pg_query::NodeEnum;
use std::collections::{BTreeMap, BTreeSet};

pub struct SetNotNull;

/// The column `c` of a `CHECK (c IS NOT NULL)` constraint.
fn not_null_check_column(k: &Constraint) -> Option<String> {
    if k.contype != ConstrType::ConstrCheck as i32 {
        return None;
    }
    let Some(NodeEnum::NullTest(t)) = k.raw_expr.as_ref().and_then(|e| e.node.as_ref()) else {
        return None;
    };
    if t.nulltesttype != NullTestType::IsNotNull as i32 {
        return None;
    }
    let Some(NodeEnum::ColumnRef(r)) = t.arg.as_ref().and_then(|a| a.node.as_ref()) else {
        return None;
    };
    match r.fields.as_slice() {
        [f] => match f.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// True when constraint name `k` mentions column `col` between `_` separators.
fn names_column(k: &str, col: &str) -> bool {
    let (k, col) = (k.to_ascii_lowercase(), col.to_ascii_lowercase());
    k.match_indices(&col).any(|(i, _)| {
        let before = k[..i].chars().next_back();
        let after = k[i + col.len()..].chars().next();
        before.is_none_or(|c| c == '_') && after.is_none_or(|c| c == '_')
    })
}

impl Rule for SetNotNull {
    fn code(&self) -> &'static str {
        "SG107"
    }
    fn name(&self) -> &'static str {
        "setting-not-null"
    }
    fn summary(&self) -> &'static str {
        "ALTER COLUMN … SET NOT NULL on an existing table"
    }
    fn explanation(&self) -> &'static str {
        "Scans the whole table under an ACCESS EXCLUSIVE lock to prove there are no NULLs. Add CHECK (c IS NOT NULL) NOT VALID, VALIDATE it in a later step, then SET NOT NULL: PostgreSQL 12+ uses the validated CHECK and skips the scan. Drop the CHECK afterwards."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        let help = if ctx.server_before(12) {
            "before PostgreSQL 12 a validated CHECK does not spare the scan: keep the column nullable with a validated CHECK (c IS NOT NULL) NOT VALID constraint instead, or SET NOT NULL in a quiet window"
        } else {
            "first add CHECK (c IS NOT NULL) NOT VALID and VALIDATE it in an earlier step; SET NOT NULL then skips the scan (PostgreSQL 12+)"
        };
        // Before 12, SET NOT NULL scans whatever CHECKs exist.
        let checks_count = !ctx.server_before(12);
        // (table, column) proven NOT NULL by a validated CHECK earlier in the pack.
        let mut proven: BTreeSet<(String, String)> = BTreeSet::new();
        // (table, constraint) → column, for CHECK (c IS NOT NULL) NOT VALID awaiting VALIDATE.
        let mut pending: BTreeMap<(String, String), String> = BTreeMap::new();
        // (table, constraint) validated by the pack but added before it (an earlier pack's
        // `CHECK (c IS NOT NULL) NOT VALID`): taken as proof for a column its name mentions.
        let mut validated_elsewhere: BTreeSet<(String, String)> = BTreeSet::new();
        // Step files only, in manifest order.
        for a in alters_on_existing_tables(ctx) {
            let (c, table) = (a.cmd, &a.table);
            let column = if c.subtype == AlterTableType::AtSetNotNull as i32 {
                let by_name = validated_elsewhere
                    .iter()
                    .any(|(t, k)| t == table && names_column(k, &c.name));
                if checks_count && (by_name || proven.contains(&(table.clone(), c.name.clone()))) {
                    continue;
                }
                c.name.clone()
            } else if c.subtype == AlterTableType::AtValidateConstraint as i32 {
                match pending.remove(&(table.clone(), c.name.clone())) {
                    Some(col) => {
                        proven.insert((table.clone(), col));
                    }
                    None => {
                        validated_elsewhere.insert((table.clone(), c.name.clone()));
                    }
                }
                continue;
            } else if let Some(k) = a.added_constraint() {
                if let Some(col) = not_null_check_column(k) {
                    if k.skip_validation {
                        pending.insert((table.clone(), k.conname.clone()), col);
                    } else {
                        proven.insert((table.clone(), col));
                    }
                    continue;
                }
                // PostgreSQL 18: ADD [CONSTRAINT n] NOT NULL c [NOT VALID].
                if k.contype != ConstrType::ConstrNotnull as i32 || k.skip_validation {
                    continue;
                }
                let keys: Vec<&str> = k
                    .keys
                    .iter()
                    .filter_map(|n| match n.node.as_ref() {
                        Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                        _ => None,
                    })
                    .collect();
                keys.join(", ")
            } else {
                continue;
            };
            out.stmt(
                a.file,
                a.stmt,
                format!("making column `{column}` of existing table {table} NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock"),
                Some(help.into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG107", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn validating_a_check_from_an_earlier_pack_counts_for_its_column() {
        assert_eq!(run("ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;"), 0);
        assert_eq!(run("ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;\nALTER TABLE foo ALTER COLUMN baz SET NOT NULL;"), 1);
        assert_eq!(run("ALTER TABLE foo VALIDATE CONSTRAINT foo_barn_not_null;\nALTER TABLE foo ALTER COLUMN bar SET NOT NULL;"), 1);
    }

    #[test]
    fn before_pg_12_a_validated_check_does_not_help() {
        let body = "ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL);\nALTER TABLE a ALTER COLUMN c SET NOT NULL;";
        assert_eq!(run(body), 0);
        assert_eq!(of("SG107", &lint_step_on("11", body)).len(), 1);
        assert_eq!(of("SG107", &lint_step_on("12", body)).len(), 0);
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c SET NOT NULL;"), 1);
        assert_eq!(
            run("ALTER TABLE app.a ALTER c SET NOT NULL, ALTER d SET NOT NULL;"),
            2
        );
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_nn NOT NULL c;"), 1);
        // A CHECK on another column, or one never validated, proves nothing.
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_d_nn CHECK (d IS NOT NULL);\nALTER TABLE a ALTER COLUMN c SET NOT NULL;"), 1);
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL) NOT VALID;\nALTER TABLE a ALTER COLUMN c SET NOT NULL;"), 1);
    }

    #[test]
    fn quiet_on_other_changes_or_new_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c DROP NOT NULL;"), 0);
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL) NOT VALID;"),
            0
        );
        assert_eq!(
            run("ALTER TABLE a ADD CONSTRAINT a_c_nn NOT NULL c NOT VALID;"),
            0
        );
        assert_eq!(
            run("CREATE TABLE n (c int);\nALTER TABLE n ALTER COLUMN c SET NOT NULL;"),
            0
        );
    }

    #[test]
    fn quiet_after_validated_check_in_an_earlier_step() {
        let step1 = "ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL) NOT VALID;";
        let step2 = "ALTER TABLE a VALIDATE CONSTRAINT a_c_nn;\nALTER TABLE a ALTER COLUMN c SET NOT NULL;\nALTER TABLE a DROP CONSTRAINT a_c_nn;";
        let d = lint_two_steps(step1, step2);
        assert_eq!(of("SG107", &d).len(), 0);
        // The same SET NOT NULL before the VALIDATE still scans.
        let step2 =
            "ALTER TABLE a ALTER COLUMN c SET NOT NULL;\nALTER TABLE a VALIDATE CONSTRAINT a_c_nn;";
        let d = lint_two_steps(step1, step2);
        assert_eq!(of("SG107", &d).len(), 1);
    }

    #[test]
    fn quiet_in_rollback_files() {
        let d = lint_step(
            "",
            "",
            "SELECT 1;",
            "ALTER TABLE a ALTER COLUMN c SET NOT NULL;",
        );
        assert_eq!(of("SG107", &d).len(), 0);
    }
}
