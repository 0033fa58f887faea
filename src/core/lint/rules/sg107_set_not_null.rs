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
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{tables_created_in_pack, Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::{AlterTableType, ConstrType, Constraint, NullTestType, ObjectType};
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
        let created = tables_created_in_pack(ctx);
        let help = "first add CHECK (c IS NOT NULL) NOT VALID and VALIDATE it in an earlier step; SET NOT NULL then skips the scan (PostgreSQL 12+)";
        // (table, column) proven NOT NULL by a validated CHECK earlier in the pack.
        let mut proven: BTreeSet<(String, String)> = BTreeSet::new();
        // (table, constraint) → column, for CHECK (c IS NOT NULL) NOT VALID awaiting VALIDATE.
        let mut pending: BTreeMap<(String, String), String> = BTreeMap::new();
        // Step files only, in manifest order.
        for (_, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                let Some(NodeEnum::AlterTableStmt(a)) = &st.node else {
                    continue;
                };
                if a.objtype != ObjectType::ObjectTable as i32 {
                    continue;
                }
                let Some(rv) = &a.relation else { continue };
                let table = format!(
                    "{}.{}",
                    if rv.schemaname.is_empty() {
                        "public"
                    } else {
                        &rv.schemaname
                    },
                    rv.relname
                );
                if created.contains(&table) {
                    continue;
                }
                for cmd in &a.cmds {
                    let Some(NodeEnum::AlterTableCmd(c)) = cmd.node.as_ref() else {
                        continue;
                    };
                    let def = c.def.as_ref().and_then(|d| d.node.as_ref());
                    let column = if c.subtype == AlterTableType::AtSetNotNull as i32 {
                        if proven.contains(&(table.clone(), c.name.clone())) {
                            continue;
                        }
                        c.name.clone()
                    } else if c.subtype == AlterTableType::AtValidateConstraint as i32 {
                        if let Some(col) = pending.remove(&(table.clone(), c.name.clone())) {
                            proven.insert((table.clone(), col));
                        }
                        continue;
                    } else if c.subtype == AlterTableType::AtAddConstraint as i32 {
                        let Some(NodeEnum::Constraint(k)) = def else {
                            continue;
                        };
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
                        f,
                        st,
                        format!("making column `{column}` of existing table {table} NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock"),
                        Some(help.into()),
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
        let m = manifest_with("", "");
        of(
            "SG107",
            &lint(
                &m,
                &[
                    ("01.sql", &step_sql(body)),
                    ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ],
            ),
        )
        .len()
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
        let m = manifest_with("", "[[step]]\nid = \"2\"\nname = \"two\"\nfile = \"02.sql\"\nrollback = \"rollback/02.sql\"\n");
        let step1 =
            step_sql("ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL) NOT VALID;");
        let step2 = step_sql("ALTER TABLE a VALIDATE CONSTRAINT a_c_nn;\nALTER TABLE a ALTER COLUMN c SET NOT NULL;\nALTER TABLE a DROP CONSTRAINT a_c_nn;");
        let rb = rollback_sql("SELECT 1;");
        let d = lint(
            &m,
            &[
                ("01.sql", &step1),
                ("rollback/01.sql", &rb),
                ("02.sql", &step2),
                ("rollback/02.sql", &rb),
            ],
        );
        assert_eq!(of("SG107", &d).len(), 0);
        // The same SET NOT NULL before the VALIDATE still scans.
        let step2 = step_sql(
            "ALTER TABLE a ALTER COLUMN c SET NOT NULL;\nALTER TABLE a VALIDATE CONSTRAINT a_c_nn;",
        );
        let d = lint(
            &m,
            &[
                ("01.sql", &step1),
                ("rollback/01.sql", &rb),
                ("02.sql", &step2),
                ("rollback/02.sql", &rb),
            ],
        );
        assert_eq!(of("SG107", &d).len(), 1);
    }

    #[test]
    fn quiet_in_rollback_files() {
        let m = manifest_with("", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                (
                    "rollback/01.sql",
                    &rollback_sql("ALTER TABLE a ALTER COLUMN c SET NOT NULL;"),
                ),
            ],
        );
        assert_eq!(of("SG107", &d).len(), 0);
    }
}
