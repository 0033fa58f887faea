//! SG109 dropping-table: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct DropTable;

impl Rule for DropTable {
    fn code(&self) -> &'static str {
        "SG109"
    }
    fn name(&self) -> &'static str {
        "dropping-table"
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
