//! SG032 rollback-drop-order: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct RollbackOrder;

impl Rule for RollbackOrder {
    fn code(&self) -> &'static str {
        "SG032"
    }
    fn name(&self) -> &'static str {
        "rollback-drop-order"
    }
    fn summary(&self) -> &'static str {
        "(to be written)"
    }
    fn explanation(&self) -> &'static str {
        "(to be written)"
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, _ctx: &LintContext, _out: &mut Emitter) {}
}
