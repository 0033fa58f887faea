//! SG001 parse-error: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct ParseError;

impl Rule for ParseError {
    fn code(&self) -> &'static str {
        "SG001"
    }
    fn name(&self) -> &'static str {
        "parse-error"
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
