//! SG017 non-transactional-statement: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct NonTransactional;

impl Rule for NonTransactional {
    fn code(&self) -> &'static str {
        "SG017"
    }
    fn name(&self) -> &'static str {
        "non-transactional-statement"
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
