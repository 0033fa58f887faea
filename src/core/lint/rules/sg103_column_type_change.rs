//! SG103 changing-column-type: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct ColumnTypeChange;

impl Rule for ColumnTypeChange {
    fn code(&self) -> &'static str {
        "SG103"
    }
    fn name(&self) -> &'static str {
        "changing-column-type"
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
