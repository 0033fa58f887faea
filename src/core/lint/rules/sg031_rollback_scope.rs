//! SG031 rollback-scope: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct RollbackScope;

impl Rule for RollbackScope {
    fn code(&self) -> &'static str {
        "SG031"
    }
    fn name(&self) -> &'static str {
        "rollback-scope"
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
