//! `stepgate init PATH`: scaffolds a pack that passes `stepgate lint` as it is, in the
//! plain profile (plain SQL step files) or the sections profile (the A–I layout).

use crate::core::manifest::LintProfile;
use crate::engine::{Error, Result};
use std::path::Path;

const MANIFEST: &str = r#"# stepgate pack manifest — every key is documented in docs/pack-format.md
[pack]
id = "{id}"
title = "{id}: describe the change"
preflight = "00_preflight.sql"      # read-only checks run by `stepgate preflight`
verify = "verify/post_step.sql"     # read-only checks run after every commit
protected = []                      # tables no step may ALTER/DROP/TRUNCATE; row changes on them need a WHERE
allowed_signers = "allowed_signers" # OpenSSH allowed-signers copy of the target's signer registry

[pack.target]                       # checked before any statement runs
database = {database}
{environment}
[pack.timeouts]                     # set on every transaction the runner opens
statement = "5s"
lock = "3s"
idle_in_transaction = "15s"

[pack.lint]
profile = "{profile}"{profile_note}

[gate.owner]                        # who approves each step
kind = "signature"
signers = ["owner@example.org"]
quorum = 1

[gate.resume]                       # who may lift a halt (`stepgate halt` / `stepgate resume`)
kind = "signature"
signers = ["owner@example.org"]

[[step]]
id = "1"
name = "create example_table"
file = "01_example.sql"
rollback = "rollback/01_example_rollback.sql"
requires = []
gates = ["owner"]

[step.effects]                      # exactly what this step changes; the rehearsal holds it to this
create = ["table public.example_table"]
"#;

const PLAIN_STEP: &str = r#"-- step 1: create example_table
-- Plain SQL. stepgate runs this file in one transaction with the timeouts of
-- stepgate.toml: `stepgate rehearse` rolls it back, `stepgate apply` commits it
-- once every gate is satisfied. No BEGIN, COMMIT or SET LOCAL here.
CREATE TABLE public.example_table (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  label text NOT NULL
);
"#;

const PLAIN_ROLLBACK: &str = r#"-- Rollback of step 1: drops what it created (run by `stepgate rollback`, under its own approvals).
DROP TABLE public.example_table;
"#;

const SECTIONS_STEP: &str = r#"-- SECTION A — HEADER
-- step 1: create example_table
-- Not approved yet: only rehearsals may run it until every gate is satisfied.

-- SECTION B — CHECKS BEFORE THE CHANGE (read-only; abort if any fails)
DO $$
BEGIN
  IF to_regclass('public.example_table') IS NOT NULL THEN
    RAISE EXCEPTION 'example_table already exists';
  END IF;
END
$$;

-- SECTION C — BEGIN + TIMEOUTS
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
-- (none)

-- SECTION E — THE CHANGE
CREATE TABLE public.example_table (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  label text NOT NULL
);

-- SECTION F — CHECKS INSIDE THE TRANSACTION
SELECT to_regclass('public.example_table') IS NOT NULL AS created;

-- SECTION G — COMMIT BOUNDARY
-- The runner alone decides the terminal keyword: COMMIT only when every gate holds.
ROLLBACK;

-- SECTION H — CHECKS AFTER COMMIT (read-only)
SELECT count(*) AS rows FROM public.example_table;

-- SECTION I — ROLLBACK REFERENCE
-- rollback/01_example_rollback.sql
"#;

const SECTIONS_ROLLBACK: &str = r#"-- Rollback of step 1: drops what it created.
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';
DROP TABLE public.example_table;
COMMIT;
"#;

const PREFLIGHT: &str = r#"-- Read-only checks run by `stepgate preflight` (no transaction control here).
SELECT current_database() AS database, version() AS server;
"#;

const VERIFY: &str = r#"-- Read-only checks run after every commit: nothing should be left idle in a transaction.
SELECT count(*) AS idle_in_transaction
  FROM pg_stat_activity
 WHERE datname = current_database() AND state = 'idle in transaction';
"#;

const SIGNERS: &str = "# OpenSSH allowed-signers: <principal> <key-type> <base64-key> [comment]\n# It must agree with the target's signer registry (`stepgate signers list`).\n";

/// What `init` writes.
pub struct InitOptions<'a> {
    pub database: &'a str,
    /// The label of `stepgate ledger install --environment`; none is written if absent.
    pub environment: Option<&'a str>,
    pub profile: LintProfile,
}

/// The sections-profile scaffold for `database`, with no environment.
pub fn run(dir: &Path, database: &str) -> Result<Vec<String>> {
    run_with(
        dir,
        &InitOptions {
            database,
            environment: None,
            profile: LintProfile::Sections,
        },
    )
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Creates the pack folder. Refuses to overwrite an existing manifest.
pub fn run_with(dir: &Path, o: &InitOptions<'_>) -> Result<Vec<String>> {
    if dir.join("stepgate.toml").exists() {
        return Err(Error::BadInput(format!(
            "{}: already a pack (stepgate.toml exists); not overwriting",
            dir.display()
        )));
    }
    let id: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "my-pack".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let id = if id.is_empty() {
        "my-pack".to_string()
    } else {
        id
    };
    let environment = match o.environment {
        Some(e) => format!(
            "environment = {}   # must equal `stepgate ledger install --environment` on the target\n",
            toml_str(e)
        ),
        None => "# environment = \"staging\"        # set it to the label of `stepgate ledger install --environment`\n".to_string(),
    };
    let (profile, note, step, rollback) = match o.profile {
        LintProfile::Plain => (
            "plain",
            "                  # step files are plain SQL; \"sections\" for the A–I layout",
            PLAIN_STEP,
            PLAIN_ROLLBACK,
        ),
        LintProfile::Sections => (
            "sections",
            "               # step files carry sections A–I; \"plain\" for plain SQL",
            SECTIONS_STEP,
            SECTIONS_ROLLBACK,
        ),
    };
    let manifest = MANIFEST
        .replace("{id}", &id)
        .replace("{database}", &toml_str(o.database))
        .replace("{environment}", &environment)
        .replace("{profile}", profile)
        .replace("{profile_note}", note);
    let files: Vec<(&str, String)> = vec![
        ("stepgate.toml", manifest),
        ("01_example.sql", step.to_string()),
        ("rollback/01_example_rollback.sql", rollback.to_string()),
        ("00_preflight.sql", PREFLIGHT.to_string()),
        ("verify/post_step.sql", VERIFY.to_string()),
        ("allowed_signers", SIGNERS.to_string()),
        (".gitignore", crate::core::import::GITIGNORE.to_string()),
    ];
    let mut written = Vec::new();
    for (rel, text) in files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::BadInput(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&p, text).map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))?;
        written.push(rel.to_string());
    }
    Ok(written)
}
