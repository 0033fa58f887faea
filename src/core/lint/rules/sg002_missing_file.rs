//! SG002 missing-file: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct MissingFile;

impl Rule for MissingFile {
    fn code(&self) -> &'static str {
        "SG002"
    }
    fn name(&self) -> &'static str {
        "missing-file"
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
