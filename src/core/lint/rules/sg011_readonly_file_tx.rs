//! SG011 read-only-file-transaction-control: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct ReadOnlyFileTx;

impl Rule for ReadOnlyFileTx {
    fn code(&self) -> &'static str {
        "SG011"
    }
    fn name(&self) -> &'static str {
        "read-only-file-transaction-control"
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
