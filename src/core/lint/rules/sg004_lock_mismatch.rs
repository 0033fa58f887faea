//! SG004 lock-mismatch: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct LockMismatch;

impl Rule for LockMismatch {
    fn code(&self) -> &'static str {
        "SG004"
    }
    fn name(&self) -> &'static str {
        "lock-mismatch"
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
