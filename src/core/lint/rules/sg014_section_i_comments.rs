//! SG014 section-i-comments-only: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct SectionIComments;

impl Rule for SectionIComments {
    fn code(&self) -> &'static str {
        "SG014"
    }
    fn name(&self) -> &'static str {
        "section-i-comments-only"
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
