//! Rendering of lint diagnostics: JSON and SARIF 2.1.0 (for code-scanning UIs).
//! The human form is rendered by the CLI through miette.

use super::{rules, Diagnostic, Severity};
use serde_json::{json, Value};

/// `stepgate lint --format json`: a stable, documented shape.
pub fn to_json(pack_id: &str, diags: &[Diagnostic]) -> Value {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    let infos = diags.len() - errors - warnings;
    json!({
        "pack": pack_id,
        "summary": { "errors": errors, "warnings": warnings, "infos": infos, "bad_input": diags.iter().any(|d| d.bad_input) },
        "diagnostics": diags,
    })
}

/// `stepgate lint --format sarif`.
pub fn to_sarif(pack_dir: &str, diags: &[Diagnostic]) -> Value {
    let rule_defs: Vec<Value> = rules::all()
        .iter()
        .map(|r| {
            json!({
                "id": r.code(),
                "name": r.name(),
                "shortDescription": { "text": r.summary() },
                "fullDescription": { "text": r.explanation() },
                "defaultConfiguration": { "level": level(r.default_severity()) },
                "helpUri": format!("https://stepgate.invalid/rules/{}", r.code()),
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut msg = d.message.clone();
            if let Some(h) = &d.help {
                msg.push_str(&format!(" (help: {h})"));
            }
            json!({
                "ruleId": d.code,
                "level": level(d.severity),
                "message": { "text": msg },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": d.file, "uriBaseId": "PACKROOT" },
                        "region": { "startLine": d.line, "startColumn": d.column, "charOffset": d.offset, "charLength": d.length }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "stepgate",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://stepgate.invalid",
                "rules": rule_defs,
            }},
            "originalUriBaseIds": { "PACKROOT": { "uri": format!("file://{}/", pack_dir.trim_end_matches('/')) } },
            "results": results,
        }]
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
