//! The documentation keeps up with the code:
//!
//! * every lint rule returned by `stepgate::core::lint::rules::all()` has its code as a
//!   heading in docs/rules.md;
//! * every key the manifest accepts has a row in a key table of docs/pack-format.md
//!   (`| `key` |`), and every manifest table has its header there;
//! * the list of keys below is the complete list: it is checked against the field names
//!   of the deserialized structs in src/core/manifest.rs, so a key added to the manifest
//!   fails this test until it is documented (and added here);
//! * the worked example of docs/pack-format.md (the files marked
//!   `<!-- example-file: PATH -->`) loads and lints without errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const RULES_MD: &str = include_str!("../docs/rules.md");
const PACK_FORMAT_MD: &str = include_str!("../docs/pack-format.md");
const MANIFEST_RS: &str = include_str!("../src/core/manifest.rs");

/// Every key `stepgate.toml` accepts, read from src/core/manifest.rs (the serde fields
/// of `Manifest`, `PackSection`, `Target`, `Timeouts`, `LintConfig`, `Invariant`,
/// `Gate`, `Step`, `Effects`, `RowCounts`, `NegativeTest`, `Measure`).
const MANIFEST_KEYS: &[&str] = &[
    // top level (Manifest)
    "pack",
    "invariant",
    "gate",
    "step",
    // [pack] (PackSection)
    "id",
    "title",
    "preflight",
    "verify",
    "protected",
    "organic",
    "allowed_signers",
    "target",
    "timeouts",
    "lint",
    "max_rehearsal_age",
    "max_backup_age",
    "fail_on_residue",
    "evidence_dir",
    // [pack.target] (Target)
    "database",
    "environment",
    "system_identifier",
    "server_version",
    // [pack.timeouts] (Timeouts)
    "statement",
    "lock",
    "idle_in_transaction",
    // [pack.lint] (LintConfig)
    "require_header",
    "severity",
    "profile",
    // [[invariant]] (Invariant)
    "name",
    "sql",
    "expect",
    // [gate.NAME] (Gate)
    "kind",
    "signers",
    "quorum",
    // [[step]] (Step)
    "file",
    "rollback",
    "requires",
    "gates",
    "rollback_gates",
    "transactional",
    "one_way",
    "irreversible_reason",
    "hold",
    "backup",
    "forbid",
    "effects",
    "negative",
    "measure",
    "rollback_keeps",
    "batch",
    // batch = { ... } (BatchSpec; its `rollback` is listed above)
    "rehearse",
    "max_batches",
    // [step.effects] (Effects)
    "create",
    "alter",
    "drop",
    "rows",
    // rows entries (RowCounts)
    "insert",
    "update",
    "delete",
    // [[step.negative]] (NegativeTest)
    "sqlstate",
];

/// The table headers the format has, as the doc must spell them.
const MANIFEST_TABLES: &[&str] = &[
    "[pack]",
    "[pack.target]",
    "[pack.timeouts]",
    "[pack.lint]",
    "[[invariant]]",
    "[gate.NAME]",
    "[[step]]",
    "[step.effects]",
    "[step.timeouts]",
    "[[step.negative]]",
    "[[step.measure]]",
];

fn is_heading_with(line: &str, code: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('#')
        && t.trim_start_matches('#')
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == code)
}

#[test]
fn every_rule_has_a_heading_in_rules_md() {
    let rules = stepgate::core::lint::rules::all();
    assert!(!rules.is_empty());
    let missing: Vec<&str> = rules
        .iter()
        .map(|r| r.code())
        .filter(|code| !RULES_MD.lines().any(|l| is_heading_with(l, code)))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/rules.md has no heading for rule(s) {missing:?}: add a `## CODE — name` section"
    );
    // Each rule's heading also carries its name, so a renumbered rule is noticed.
    for r in rules {
        let heading = RULES_MD
            .lines()
            .find(|l| is_heading_with(l, r.code()))
            .unwrap();
        assert!(
            heading.contains(r.name()),
            "the heading of {} in docs/rules.md (`{heading}`) does not name the rule `{}`",
            r.code(),
            r.name()
        );
    }
}

#[test]
fn every_manifest_key_has_a_row_in_pack_format_md() {
    let missing: Vec<&&str> = MANIFEST_KEYS
        .iter()
        .filter(|k| !PACK_FORMAT_MD.contains(&format!("| `{k}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/pack-format.md has no key-table row (`| `key` | …`) for manifest key(s) {missing:?}"
    );
    let missing: Vec<&&str> = MANIFEST_TABLES
        .iter()
        .filter(|t| !PACK_FORMAT_MD.contains(&format!("`{t}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/pack-format.md does not document table(s) {missing:?}"
    );
    for kind in ["signature", "sql"] {
        assert!(
            PACK_FORMAT_MD.contains(&format!("`\"{kind}\"`")),
            "docs/pack-format.md does not name gate kind \"{kind}\""
        );
    }
}

/// The serde field names of every `Deserialize` struct in manifest.rs.
fn deserialized_fields(src: &str) -> BTreeMap<String, Vec<String>> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = BTreeMap::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("")
                .to_string();
            // The attributes right above the struct.
            let mut j = i;
            let mut derives_deserialize = false;
            while j > 0 {
                j -= 1;
                let a = lines[j].trim();
                if a.starts_with("#[") || a.starts_with("///") {
                    if a.starts_with("#[derive") && a.contains("Deserialize") {
                        derives_deserialize = true;
                    }
                } else {
                    break;
                }
            }
            if derives_deserialize && line.ends_with('{') {
                let mut fields = Vec::new();
                i += 1;
                while i < lines.len() && lines[i].trim() != "}" {
                    let f = lines[i].trim();
                    if let Some(rest) = f.strip_prefix("pub ") {
                        if let Some((field, _)) = rest.split_once(':') {
                            fields.push(field.trim().to_string());
                        }
                    }
                    assert!(
                        !f.contains("serde(rename"),
                        "manifest.rs renames a field ({f}); teach tests/docs.rs about it"
                    );
                    i += 1;
                }
                out.insert(name, fields);
            }
        }
        i += 1;
    }
    out
}

#[test]
fn the_key_list_is_complete() {
    let structs = deserialized_fields(MANIFEST_RS);
    for expected in [
        "Manifest",
        "PackSection",
        "Target",
        "Timeouts",
        "LintConfig",
        "Invariant",
        "Gate",
        "Step",
        "Effects",
        "RowCounts",
        "NegativeTest",
        "Measure",
    ] {
        assert!(
            structs.contains_key(expected),
            "expected a Deserialize struct `{expected}` in src/core/manifest.rs; found {:?}",
            structs.keys().collect::<Vec<_>>()
        );
    }
    let known: BTreeSet<&str> = MANIFEST_KEYS.iter().copied().collect();
    let mut unlisted = Vec::new();
    for (st, fields) in &structs {
        for f in fields {
            if !known.contains(f.as_str()) {
                unlisted.push(format!("{st}.{f}"));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "src/core/manifest.rs accepts key(s) {unlisted:?} that tests/docs.rs does not list: \
         document them in docs/pack-format.md and add them to MANIFEST_KEYS"
    );
    // And the other way round: every listed key is still a field of the manifest.
    let fields: BTreeSet<&str> = structs.values().flatten().map(String::as_str).collect();
    let stale: Vec<&&str> = MANIFEST_KEYS
        .iter()
        .filter(|k| !fields.contains(**k))
        .collect();
    assert!(
        stale.is_empty(),
        "tests/docs.rs lists key(s) {stale:?} that src/core/manifest.rs no longer accepts"
    );
}

/// `(path, contents)` of every code block marked `<!-- example-file: PATH -->`.
fn example_files(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = md.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .trim()
            .strip_prefix("<!-- example-file:")
            .and_then(|r| r.strip_suffix("-->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or("");
        assert!(
            fence.starts_with("```"),
            "the example file {path} must be the code block right after its marker"
        );
        let mut body = String::new();
        for l in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push((path.trim().to_string(), body));
    }
    out
}

#[test]
fn the_worked_example_loads_and_lints_clean() {
    use stepgate::core::lint::{self, PackSources, Severity};
    let files = example_files(PACK_FORMAT_MD);
    let manifest = files
        .iter()
        .find(|(p, _)| p == "stepgate.toml")
        .map(|(_, c)| c.clone())
        .expect("docs/pack-format.md marks its example stepgate.toml");
    let pack = stepgate::core::manifest::parse("stepgate.toml", &manifest, Path::new("."))
        .unwrap_or_else(|e| panic!("the example manifest does not load: {e:?}"));
    let mut sources = PackSources::default();
    for (path, contents) in &files {
        if path == "stepgate.toml" {
            continue;
        }
        sources.files.insert(path.clone(), Ok(contents.clone()));
        if path.ends_with(".sql") {
            sources.sql_on_disk.push(path.clone());
        }
    }
    let diags = lint::run(&pack, &sources);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{}:{}: [{}] {}", d.file, d.line, d.code, d.message))
        .collect();
    assert!(
        errors.is_empty(),
        "the worked example of docs/pack-format.md has lint errors:\n{}",
        errors.join("\n")
    );
    // Every step's file and rollback is among the example files.
    for s in &pack.manifest.step {
        for f in [&s.file, &s.rollback].into_iter().flatten() {
            assert!(
                files.iter().any(|(p, _)| p == f.get_ref()),
                "the example names {} but the doc does not show it",
                f.get_ref()
            );
        }
    }
}
