//! SG030 rollback-missing: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct RollbackMissing;

impl Rule for RollbackMissing {
    fn code(&self) -> &'static str {
        "SG030"
    }
    fn name(&self) -> &'static str {
        "rollback-missing"
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
