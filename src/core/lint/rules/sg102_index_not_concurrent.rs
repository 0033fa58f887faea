//! SG102 index-without-concurrently: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct IndexNotConcurrent;

impl Rule for IndexNotConcurrent {
    fn code(&self) -> &'static str {
        "SG102"
    }
    fn name(&self) -> &'static str {
        "index-without-concurrently"
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
