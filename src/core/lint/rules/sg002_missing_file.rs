//! SG002 missing-file: a file the manifest names is missing, unreadable or not UTF-8.
//!
//! Why: the manifest is the pack's table of contents — the preflight and verify
//! files, every step file, every rollback mirror and the `allowed_signers` trust file.
//! A name that points at nothing means the pack cannot be rehearsed, approved (an
//! approval binds the file's checksum) or reversed; a file that is not UTF-8 cannot be
//! parsed or shown to an approver faithfully. The finding sits on the manifest key
//! that names the file, and is bad input (exit 2).

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use std::ops::Range;

pub struct MissingFile;

/// Every file the manifest names: (manifest key, relative path, span of the value).
pub fn named_files(ctx: &LintContext) -> Vec<(String, String, Range<usize>)> {
    let p = &ctx.pack.manifest.pack;
    let mut out = Vec::new();
    for (key, f) in [
        ("preflight", &p.preflight),
        ("verify", &p.verify),
        ("allowed_signers", &p.allowed_signers),
    ] {
        if let Some(f) = f {
            out.push((key.to_string(), f.get_ref().clone(), f.span()));
        }
    }
    for s in &ctx.pack.manifest.step {
        for (key, f) in [("file", &s.file), ("rollback", &s.rollback)] {
            if let Some(f) = f {
                out.push((
                    format!("step `{}` {key}", s.id()),
                    f.get_ref().clone(),
                    f.span(),
                ));
            }
        }
    }
    out
}

impl Rule for MissingFile {
    fn code(&self) -> &'static str {
        "SG002"
    }
    fn name(&self) -> &'static str {
        "missing-file"
    }
    fn summary(&self) -> &'static str {
        "a file named by the manifest is missing, unreadable or not UTF-8"
    }
    fn explanation(&self) -> &'static str {
        "Every path in stepgate.toml (preflight, verify, allowed_signers, each step's file and rollback) must exist inside the pack folder and be readable UTF-8 text. Approvals bind each file's sha256, the rehearsal runs it and an approver reads it, so a dangling name or a binary file stops the pack. Create the file, fix the path, or re-save it as UTF-8. This is bad input: lint exits 2."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (key, rel, span) in named_files(ctx) {
            match ctx.sources.files.get(&rel) {
                None => {
                    out.manifest(
                        ctx,
                        span,
                        format!("{key} names `{rel}`, which does not exist in the pack"),
                        Some(
                            "create the file or correct the path (relative to the pack folder)"
                                .into(),
                        ),
                    );
                    out.bad_input();
                }
                Some(Err(reason)) => {
                    let help = if reason.contains("UTF-8") {
                        "re-save the file as UTF-8 text; stepgate reads SQL exactly as it is approved"
                    } else {
                        "make the file readable and keep it inside the pack folder"
                    };
                    out.manifest(
                        ctx,
                        span,
                        format!("{key} names `{rel}`, which cannot be used: {reason}"),
                        Some(help.into()),
                    );
                    out.bad_input();
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    #[test]
    fn fires_on_missing_and_non_utf8() {
        let m = manifest_with("", "");
        let d = of("SG002", &lint(&m, &[("01.sql", &step_sql("SELECT 1;"))]));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("rollback/01.sql"));
        assert!(d[0].bad_input);
        assert_eq!(d[0].file, "stepgate.toml");
        assert_eq!(d[0].line, 15, "{d:?}");

        let m = manifest_with("allowed_signers = \"allowed_signers\"", "");
        let d = lint_with(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
            ],
            |s| {
                s.files.insert(
                    "01.sql".into(),
                    Err("not valid UTF-8 (first bad byte at offset 3)".into()),
                );
            },
        );
        let d = of("SG002", &d);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|x| x.message.contains("UTF-8")
            && x.help.as_deref().is_some_and(|h| h.contains("UTF-8"))));
        assert!(d.iter().any(|x| x.message.contains("allowed_signers")));
    }

    #[test]
    fn quiet_when_all_files_exist() {
        let m = manifest_with("allowed_signers = \"allowed_signers\"", "");
        let d = lint(
            &m,
            &[
                ("01.sql", &step_sql("SELECT 1;")),
                ("rollback/01.sql", &rollback_sql("SELECT 1;")),
                ("allowed_signers", ""),
            ],
        );
        assert!(of("SG002", &d).is_empty(), "{d:?}");
    }
}
