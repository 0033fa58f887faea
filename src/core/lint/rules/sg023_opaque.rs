//! SG023 opaque-statement: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Opaque;

impl Rule for Opaque {
    fn code(&self) -> &'static str {
        "SG023"
    }
    fn name(&self) -> &'static str {
        "opaque-statement"
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
