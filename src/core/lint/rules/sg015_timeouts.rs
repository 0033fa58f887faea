//! SG015 timeouts: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Timeouts;

impl Rule for Timeouts {
    fn code(&self) -> &'static str {
        "SG015"
    }
    fn name(&self) -> &'static str {
        "timeouts"
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
