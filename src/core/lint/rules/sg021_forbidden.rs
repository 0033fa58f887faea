//! SG021 forbidden: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Forbidden;

impl Rule for Forbidden {
    fn code(&self) -> &'static str {
        "SG021"
    }
    fn name(&self) -> &'static str {
        "forbidden"
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
