//! SG110 adding-column-with-volatile-default: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct VolatileDefault;

impl Rule for VolatileDefault {
    fn code(&self) -> &'static str {
        "SG110"
    }
    fn name(&self) -> &'static str {
        "adding-column-with-volatile-default"
    }
    fn summary(&self) -> &'static str {
        "(to be written)"
    }
    fn explanation(&self) -> &'static str {
        "(to be written)"
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, _ctx: &LintContext, _out: &mut Emitter) {}
}
