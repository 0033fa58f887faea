//! SG108 unique-constraint-without-index: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct UniqueWithoutIndex;

impl Rule for UniqueWithoutIndex {
    fn code(&self) -> &'static str {
        "SG108"
    }
    fn name(&self) -> &'static str {
        "unique-constraint-without-index"
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
