//! SG018 psql-meta-command: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct PsqlMeta;

impl Rule for PsqlMeta {
    fn code(&self) -> &'static str {
        "SG018"
    }
    fn name(&self) -> &'static str {
        "psql-meta-command"
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
