//! SG107 setting-not-null: `ALTER TABLE … ALTER COLUMN … SET NOT NULL` on a table that
//! already exists.
//!
//! Why: PostgreSQL proves the column has no NULLs by scanning every row, and it does
//! so under an ACCESS EXCLUSIVE lock — no reads, no writes — for the whole scan.
//! Since PostgreSQL 12 the scan is skipped when a valid `CHECK (c IS NOT NULL)`
//! constraint already proves it, so: add `CHECK (c IS NOT NULL) NOT VALID` (brief
//! lock), `VALIDATE CONSTRAINT` it in a later step (scans under a lock that lets reads
//! and writes go on), then `SET NOT NULL` (catalog change only) and drop the CHECK.
//! PostgreSQL 18's table-level `ADD CONSTRAINT … NOT NULL c` scans the same way and is
//! reported too unless it is `NOT VALID` (to be validated later).
//! Tables created earlier in the same pack are exempt: they are new and empty.

use crate::core::lint::{tables_created_in_pack, Emitter, FileRole, LintContext, Rule, Severity};
use pg_query::protobuf::{AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;

pub struct SetNotNull;

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
        let help = "add CHEC(c IS NOT NULL) NOT VALID and VALIDATE it in an earlier step; SET NOT NULL then skips the scan (PostgreSQL 12+)";
        for f in ctx.files.iter().filter(|f| matches!(f.role, FileRole::Step(_))) {
            for st in &f.sql.statements {
                let Some(NodeEnum::AlterTableStmt(a)) = &st.node else { continue };
                if a.objtype != ObjectType::ObjectTable as i32 {
                    continue;
                }
                let Some(rv) = &a.relation else { continue };
                let table = format!("{}.{}", if rv.schemaname.is_empty() { "public" } else { &rv.schemaname }, rv.relname);
                if created.contains(&table) {
                    continue;
                }
                for cmd in &a.cmds {
                    let Some(NodeEnum::AlterTableCmd(c)) = cmd.node.as_ref() else { continue };
                    let column = if c.subtype == AlterTableType::AtSetNotNull as i32 {
                        c.name.clone()
                    } else if c.subtype == AlterTableType::AtAddConstraint as i32 {
                        // PostgreSQL 18: ADD [CONSTRAINT n] NOT NULL c [NOT VALID].
                        let Some(NodeEnum::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) else { continue };
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
        of("SG107", &lint(&m, &[("01.sql", &step_sql(body)), ("rollback/01.sql", &rollback_sql("SELECT 1;"))])).len()
    }

    #[test]
    fn fires_on_existing_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c SET NOT NULL;"), 1);
        assert_eq!(run("ALTER TABLE app.a ALTER c SET NOT NULL, ALTER d SET NOT NULL;"), 2);
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_nn NOT NULL c;"), 1);
    }

    #[test]
    fn quiet_on_other_changes_or_new_table() {
        assert_eq!(run("ALTER TABLE a ALTER COLUMN c DROP NOT NULL;"), 0);
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_nn CHECK (c IS NOT NULL) NOT VALID;"), 0);
        assert_eq!(run("ALTER TABLE a ADD CONSTRAINT a_c_nn NOT NULL c NOT VALID;"), 0);
        assert_eq!(run("CREATE TABLE n (c int);\nALTER TABLE n ALTER COLUMN c SET NOT NULL;"), 0);
    }

    #[test]
    fn quiet_in_rollback_files() {
        let m = manifest_with("", "");
        let d = lint(&m, &[("01.sql", &step_sql("SELECT 1;")), ("rollback/01.sql", &rollback_sql("ALTER TABLE a ALTER COLUMN c SET NOT NULL;"))]);
        assert_eq!(of("SG107", &d).len(), 0);
    }
}
