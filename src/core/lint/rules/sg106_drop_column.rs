//! SG106 dropping-column: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct DropColumn;

impl Rule for DropColumn {
    fn code(&self) -> &'static str {
        "SG106"
    }
    fn name(&self) -> &'static str {
        "dropping-column"
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
