//! SG033 requires-dependency: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Requires;

impl Rule for Requires {
    fn code(&self) -> &'static str {
        "SG033"
    }
    fn name(&self) -> &'static str {
        "requires-dependency"
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
