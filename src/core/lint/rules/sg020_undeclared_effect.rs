//! SG020 undeclared-effect: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct UndeclaredEffect;

impl Rule for UndeclaredEffect {
    fn code(&self) -> &'static str {
        "SG020"
    }
    fn name(&self) -> &'static str {
        "undeclared-effect"
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
