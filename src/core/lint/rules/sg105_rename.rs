//! SG105 renaming: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct Rename;

impl Rule for Rename {
    fn code(&self) -> &'static str {
        "SG105"
    }
    fn name(&self) -> &'static str {
        "renaming"
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
