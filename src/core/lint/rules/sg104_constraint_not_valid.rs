//! SG104 constraint-without-not-valid: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct ConstraintNotValid;

impl Rule for ConstraintNotValid {
    fn code(&self) -> &'static str {
        "SG104"
    }
    fn name(&self) -> &'static str {
        "constraint-without-not-valid"
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
