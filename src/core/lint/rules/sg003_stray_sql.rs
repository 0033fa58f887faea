//! SG003 stray-sql-file: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct StraySql;

impl Rule for StraySql {
    fn code(&self) -> &'static str {
        "SG003"
    }
    fn name(&self) -> &'static str {
        "stray-sql-file"
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
