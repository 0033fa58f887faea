//! SG016 session-level-timeout: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct SessionSet;

impl Rule for SessionSet {
    fn code(&self) -> &'static str {
        "SG016"
    }
    fn name(&self) -> &'static str {
        "session-level-timeout"
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
