//! SG022 protected-table: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Protected;

impl Rule for Protected {
    fn code(&self) -> &'static str {
        "SG022"
    }
    fn name(&self) -> &'static str {
        "protected-table"
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
