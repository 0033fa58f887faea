//! SG013 post-commit-read-only: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct PostCommitReadOnly;

impl Rule for PostCommitReadOnly {
    fn code(&self) -> &'static str {
        "SG013"
    }
    fn name(&self) -> &'static str {
        "post-commit-read-only"
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
