//! SG012 transaction-shape: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct TransactionShape;

impl Rule for TransactionShape {
    fn code(&self) -> &'static str {
        "SG012"
    }
    fn name(&self) -> &'static str {
        "transaction-shape"
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
