//! SG019 required-header: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct RequiredHeader;

impl Rule for RequiredHeader {
    fn code(&self) -> &'static str {
        "SG019"
    }
    fn name(&self) -> &'static str {
        "required-header"
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
