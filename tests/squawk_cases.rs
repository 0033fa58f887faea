//! Squawk's own rule test cases, run through stepgate's linter.
//!
//! `tests/squawk/cases/<squawk-rule>/<test>.<ok|err>.sql` are the SQL snippets of the
//! unit tests in Squawk's `crates/squawk_linter/src/rules/*.rs` (Squawk is MIT or
//! Apache-2.0; see `tests/squawk/NOTICE`), extracted by `tests/squawk/extract.py`. The
//! first line of each file records Squawk's linter settings for the case
//! (`pg_version=N`, `assume_in_transaction`).
//!
//! Each case becomes a one-step pack whose step file is the snippet as it is
//! (`server_version` from `pg_version`; transactional when the snippet has a BEGIN or
//! Squawk assumed a transaction). The case counts as flagged when the stepgate rule(s)
//! mapped to the Squawk rule (the table in docs/rules.md) report something. Asserted:
//! at least 95% of the `err` cases are flagged and at most 2% of the `ok` cases are,
//! leaving out Squawk rules stepgate handles structurally and the documented design
//! differences listed in [`DIFFERENCES`].

use std::collections::BTreeMap;
use std::path::Path;
use stepgate::core::lint::{self, PackSources};
use stepgate::core::manifest;

/// Squawk rule → the stepgate rules that cover its hazard.
const MAPPING: &[(&str, &[&str])] = &[
    ("adding-field-with-default", &["SG110"]),
    ("adding-foreign-key-constraint", &["SG104"]),
    ("adding-not-nullable-field", &["SG107"]),
    ("adding-required-field", &["SG101"]),
    ("adding-serial-primary-key-field", &["SG108"]),
    ("ban-alter-domain-with-add-constraint", &["SG125"]),
    ("ban-char-field", &["SG121"]),
    ("ban-create-domain-with-constraint", &["SG125"]),
    ("ban-drop-column", &["SG106"]),
    ("ban-drop-database", &["SG118"]),
    ("ban-drop-not-null", &["SG115"]),
    ("ban-drop-table", &["SG109"]),
    ("ban-duplicate-column-assignments", &["SG128"]),
    ("ban-truncate-cascade", &["SG116"]),
    ("changing-column-type", &["SG103"]),
    ("constraint-missing-not-valid", &["SG104"]),
    ("disallowed-unique-constraint", &["SG108"]),
    ("identifier-too-long", &["SG127"]),
    ("prefer-bigint-over-int", &["SG119"]),
    ("prefer-bigint-over-smallint", &["SG119"]),
    ("prefer-identity", &["SG120"]),
    ("prefer-repack", &["SG129"]),
    ("prefer-text-field", &["SG122"]),
    ("prefer-timestamp-tz", &["SG123"]),
    ("renaming-column", &["SG105"]),
    ("renaming-table", &["SG105"]),
    ("require-concurrent-index-creation", &["SG102"]),
    ("require-concurrent-index-deletion", &["SG111"]),
    ("require-concurrent-partition-detach", &["SG113"]),
    ("require-concurrent-reindex", &["SG112"]),
    ("require-enum-value-ordering", &["SG126"]),
    ("require-table-schema", &["SG133"]),
];

/// Squawk rules whose concern stepgate handles by the shape of a pack, not by a
/// statement rule (docs/rules.md says how); their cases are not counted.
const STRUCTURAL: &[(&str, &str)] = &[
    ("ban-concurrent-index-creation-in-transaction", "SG017: such statements go in `transactional = false` steps"),
    ("ban-uncommitted-transaction", "SG012: every step file ends in the runner's ROLLBACK"),
    ("transaction-nesting", "SG012: exactly one BEGIN, no COMMIT in a step file"),
    ("require-timeout-settings", "SG015: SET LOCAL timeouts right after BEGIN, within [pack.timeouts]"),
    ("require-lock-timeout", "SG015"),
    ("require-statement-timeout", "SG015"),
    ("prefer-robust-stmts", "steps run once under the ledger, rehearsed and reversed by rollback files; IF [NOT] EXISTS would hide drift"),
];

/// Individual cases where stepgate deliberately judges differently: (rule, case, why).
const DIFFERENCES: &[(&str, &str, &str)] = &[
    ("adding-field-with-default", "docs_example_error_on_pg_11_0", "PostgreSQL 11 already stores constant defaults without a rewrite; Squawk only trusts 11 from 11.1"),
    ("adding-foreign-key-constraint", "add_foreign_key_constraint_not_valid_validate_0", "VALIDATE in the same transaction as ADD … NOT VALID keeps the ADD's lock through the scan: SG104 reports it (Squawk does too, under constraint-missing-not-valid)"),
    ("prefer-repack", "cluster_below_pg19_ok_0", "CLUSTER locks ACCESS EXCLUSIVE on every version; SG129 reports it whatever the version"),
    ("prefer-repack", "vacuum_full_below_pg19_ok_0", "VACUUM FULL locks ACCESS EXCLUSIVE on every version; SG129 reports it whatever the version"),
    ("prefer-bigint-over-int", "ok_0", "SG119 covers int and smallint keys alike; this case of one Squawk rule has the other's positives (smallint ids)"),
    ("prefer-bigint-over-smallint", "ok_0", "SG119 covers int and smallint keys alike; this case of one Squawk rule has the other's positives (int ids)"),
    ("ban-char-field", "all_the_types_0", "`m int array[]` does not parse with PostgreSQL 18's parser: SG001 reports the file instead"),
];

struct Case {
    rule: String,
    name: String,
    positive: bool,
    sql: String,
    settings: String,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/squawk/cases");
    let mut out = Vec::new();
    let mut rules: Vec<_> = std::fs::read_dir(&root).expect("cases").flatten().collect();
    rules.sort_by_key(|e| e.file_name());
    for rule in rules {
        let mut files: Vec<_> = std::fs::read_dir(rule.path())
            .expect("rule dir")
            .flatten()
            .collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let file = f.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(f.path()).expect("case text");
            let (first, sql) = text.split_once('\n').unwrap_or(("", &text));
            let (name, kind) = file
                .trim_end_matches(".sql")
                .rsplit_once('.')
                .expect("x.ok|err.sql");
            out.push(Case {
                rule: rule.file_name().to_string_lossy().into_owned(),
                name: name.to_string(),
                positive: kind == "err",
                sql: sql.to_string(),
                settings: first.trim_start_matches("-- squawk:").trim().to_string(),
            });
        }
    }
    out
}

/// The codes stepgate reports for a case, linted as a one-step pack.
fn codes_for(c: &Case) -> Vec<&'static str> {
    let version = c
        .settings
        .split_whitespace()
        .find_map(|s| s.strip_prefix("pg_version="))
        .map(|v| format!("server_version = \"{v}\"\n"))
        .unwrap_or_default();
    let in_tx = c.settings.contains("assume_in_transaction")
        || c.sql.to_ascii_lowercase().contains("begin");
    let m = format!(
        "[pack]\nid = \"squawk\"\ntitle = \"case\"\n[pack.target]\ndatabase = \"db\"\n{version}[[step]]\nid = \"1\"\nname = \"case\"\nfile = \"01.sql\"\nrollback = \"rollback/01.sql\"\ntransactional = {in_tx}\n"
    );
    let pack = manifest::parse("stepgate.toml", &m, Path::new(".")).expect("manifest");
    let mut sources = PackSources::default();
    sources.files.insert("01.sql".into(), Ok(c.sql.clone()));
    sources
        .files
        .insert("rollback/01.sql".into(), Ok("SELECT 1;\n".into()));
    lint::run(&pack, &sources).iter().map(|d| d.code).collect()
}

#[derive(Default, Debug)]
struct Tally {
    pos: usize,
    pos_hit: usize,
    neg: usize,
    neg_hit: usize,
    misses: Vec<String>,
    false_alarms: Vec<String>,
}

#[test]
fn squawk_rule_cases() {
    let mapping: BTreeMap<&str, &[&str]> = MAPPING.iter().copied().collect();
    let mut tally: BTreeMap<String, Tally> = BTreeMap::new();
    let mut skipped = 0;
    for c in cases() {
        if STRUCTURAL.iter().any(|(r, _)| *r == c.rule)
            || DIFFERENCES
                .iter()
                .any(|(r, n, _)| *r == c.rule && *n == c.name)
        {
            skipped += 1;
            continue;
        }
        let Some(codes) = mapping.get(c.rule.as_str()) else {
            panic!("Squawk rule `{}` has no stepgate mapping", c.rule);
        };
        let found = codes_for(&c);
        let hit = found.iter().any(|f| codes.contains(f));
        let t = tally.entry(c.rule.clone()).or_default();
        if c.positive {
            t.pos += 1;
            t.pos_hit += usize::from(hit);
            if !hit {
                t.misses.push(c.name.clone());
            }
        } else {
            t.neg += 1;
            t.neg_hit += usize::from(hit);
            if hit {
                t.false_alarms.push(c.name.clone());
            }
        }
    }
    let (mut pos, mut pos_hit, mut neg, mut neg_hit) = (0, 0, 0, 0);
    for (rule, t) in &tally {
        println!(
            "{rule:45} err {}/{}  ok flagged {}/{}  {}{}",
            t.pos_hit,
            t.pos,
            t.neg_hit,
            t.neg,
            if t.misses.is_empty() {
                String::new()
            } else {
                format!("missed {:?} ", t.misses)
            },
            if t.false_alarms.is_empty() {
                String::new()
            } else {
                format!("false alarms {:?}", t.false_alarms)
            },
        );
        pos += t.pos;
        pos_hit += t.pos_hit;
        neg += t.neg;
        neg_hit += t.neg_hit;
    }
    println!("positives flagged {pos_hit}/{pos}, negatives flagged {neg_hit}/{neg}, cases left out {skipped}");
    assert!(
        pos_hit * 100 >= pos * 95,
        "only {pos_hit}/{pos} of Squawk's positives are flagged"
    );
    assert!(
        neg_hit * 100 <= neg * 2,
        "{neg_hit}/{neg} of Squawk's negatives are flagged"
    );
}

#[test]
fn every_squawk_rule_is_mapped_or_explained() {
    for c in cases() {
        let known = MAPPING.iter().any(|(r, _)| *r == c.rule)
            || STRUCTURAL.iter().any(|(r, _)| *r == c.rule);
        assert!(
            known,
            "Squawk rule `{}` is neither mapped nor explained",
            c.rule
        );
    }
}
