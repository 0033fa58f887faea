//! SG107 setting-not-null: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct SetNotNull;

impl Rule for SetNotNull {
    fn code(&self) -> &'static str {
        "SG107"
    }
    fn name(&self) -> &'static str {
        "setting-not-null"
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
