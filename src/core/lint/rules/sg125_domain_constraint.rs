//! SG125 domain-constraint: `CREATE DOMAIN … CHECK/NOT NULL`, or `ALTER DOMAIN … ADD
//! CONSTRAINT` without `NOT VALID`.
//!
//! Why: adding a constraint to a domain checks every column of every table that uses
//! the domain, scanning each table while holding a lock that blocks its writes — and
//! which tables those are is not visible in the statement. A constraint written into
//! `CREATE DOMAIN` is where that later cost comes from: to change it you must add or
//! drop constraints on the domain, with the same hidden scans, and PostgreSQL does not
//! check domain constraints everywhere a value appears (e.g. in some casts and in
//! composite columns). Put CHECK constraints on the table columns instead (they can be
//! added `NOT VALID` and validated later, SG104), or, for an existing domain, add the
//! constraint `NOT VALID` and `VALIDATE CONSTRAINT` it in a later step.

use crate::core::lint::hazard::step_statements;
use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use pg_query::protobuf::{ConstrType, Node};
use pg_query::NodeEnum;

pub struct DomainConstraint;

fn is_check_or_not_null(n: &Node) -> bool {
    matches!(n.node.as_ref(), Some(NodeEnum::Constraint(k))
        if k.contype == ConstrType::ConstrCheck as i32 || k.contype == ConstrType::ConstrNotnull as i32)
}

impl Rule for DomainConstraint {
    fn code(&self) -> &'static str {
        "SG125"
    }
    fn name(&self) -> &'static str {
        "domain-constraint"
    }
    fn summary(&self) -> &'static str {
        "a CHECK/NOT NULL in CREATE DOMAIN, or ALTER DOMAIN … ADD CONSTRAINT without NOT VALID"
    }
    fn explanation(&self) -> &'static str {
        "Adding a domain constraint scans every table column that uses the domain under a write-blocking lock, and which tables those are is invisible in the statement; constraints written into CREATE DOMAIN can only be changed that way. Put CHECKs on table columns (NOT VALID, then VALIDATE), or add domain constraints NOT VALID and validate them in a later step."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for s in step_statements(ctx) {
            match &s.stmt.node {
                Some(NodeEnum::CreateDomainStmt(d)) if d.constraints.iter().any(is_check_or_not_null) => out.stmt(
                    s.file,
                    s.stmt,
                    "a constraint written into CREATE DOMAIN can only be changed later by altering the domain, which scans every table that uses it",
                    Some("put CHECK constraints on the table columns instead".into()),
                ),
                Some(NodeEnum::AlterDomainStmt(d)) if d.subtype == "C" => {
                    let not_valid = matches!(d.def.as_deref().and_then(|n| n.node.as_ref()),
                        Some(NodeEnum::Constraint(k)) if k.skip_validation);
                    if !not_valid {
                        out.stmt(
                            s.file,
                            s.stmt,
                            "adding a constraint to a domain scans every column of every table that uses it, blocking their writes meanwhile",
                            Some("add it NOT VALID, then ALTER DOMAIN … VALIDATE CONSTRAINT in a later step".into()),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG125", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_domain_constraints() {
        assert_eq!(run("CREATE DOMAIN pos AS numeric CHECK (VALUE > 0);"), 1);
        assert_eq!(run("CREATE DOMAIN d AS text NOT NULL;"), 1);
        assert_eq!(
            run("ALTER DOMAIN pos ADD CONSTRAINT pos_check CHECK (VALUE > 0);"),
            1
        );
    }

    #[test]
    fn quiet_otherwise() {
        assert_eq!(run("CREATE DOMAIN d AS text;"), 0);
        assert_eq!(
            run("ALTER DOMAIN pos ADD CONSTRAINT pos_check CHECK (VALUE > 0) NOT VALID;"),
            0
        );
        assert_eq!(run("ALTER DOMAIN pos VALIDATE CONSTRAINT pos_check;"), 0);
    }
}
