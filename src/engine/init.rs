//! `stepgate init PATH`: scaffolds a pack that passes `stepgate lint` as it is.

use crate::engine::{Error, Result};
use std::path::Path;

const MANIFEST: &str = r#"# stepgate pack manifest — every key is documented in docs/pack-format.md
[pack]
id = "{id}"
title = "{id}: describe the change"
preflight = "00_preflight.sql"
verify = "verify/post_step.sql"
protected = []                      # tables no step may ALTER/DROP/TRUNCATE; DML on them needs a WHERE
allowed_signers = "allowed_signers" # OpenSSH allowed-signers copy of the target's signer registry

[pack.target]                       # identity guard, checked before any statement runs
database = "{database}"
environment = "production"          # the label stored by `stepgate ledger install --environment`

[pack.timeouts]                     # SET LOCAL on every transaction the runner opens
statement = "5s"
lock = "3s"
idle_in_transaction = "15s"

[pack.lint]
require_header = ["REHEARSAL-ONLY"]

[gate.owner]
kind = "signature"
signers = ["owner@example.org"]
quorum = 1

[[step]]
id = "1"
name = "create example_table"
file = "01_example.sql"
rollback = "rollback/01_example_rollback.sql"
requires = []
gates = ["owner"]

[step.effects]                      # the exact delta this step may make; nothing else
create = ["table public.example_table"]
"#;

const STEP: &str = r#"-- SECTION A — HEADER
-- step 1: create example_table
-- authorization: none yet. REHEARSAL-ONLY unless the gates are satisfied live.

-- SECTION B — PREFLIGHT ASSERTIONS (read-only; abort if any fails)
DO $$
BEGIN
  IF to_regclass('public.example_table') IS NOT NULL THEN
    RAISE EXCEPTION 'example_table already exists';
  END IF;
END
$$;

-- SECTION C — BEGIN + SESSION GUC
BEGIN;
SET LOCAL statement_timeout = '5s';
SET LOCAL lock_timeout = '3s';
SET LOCAL idle_in_transaction_session_timeout = '15s';

-- SECTION D — FOLD-INS
-- (none)

-- SECTION E — THE ADDITIVE DDL/DML
CREATE TABLE public.example_table (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  label text NOT NULL
);

-- SECTION F — IN-TRANSACTION VERIFICATION
SELECT to_regclass('public.example_table') IS NOT NULL AS created;

-- SECTION G — COMMIT BOUNDARY
-- The runner alone decides the terminal keyword: COMMIT only when every gate holds.
ROLLBACK;

-- SECTION H — POST-COMMIT VERIFICATION
SELECT count(*) AS rows FROM public.example_table;

-- SECTION I — ROLLBACK REFERENCE
-- rollback/01_example_rollback.sql
"#;

const ROLLBACK: &str = r#"-- Rollback of step 1: drops what it created.
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

const VERIFY: &str = r#"-- Read-only verification run after every commit (doc 101 style).
SELECT count(*) AS idle_in_transaction
  FROM pg_stat_activity
 WHERE datname = current_database() AND state = 'idle in transaction';
"#;

const SIGNERS: &str = "# OpenSSH allowed-signers: <principal> <key-type> <base64-key> [comment]\n# It must agree with the target's signer registry (`stepgate signers list`).\n";

/// Creates the pack folder. Refuses to overwrite an existing manifest.
pub fn run(dir: &Path, database: &str) -> Result<Vec<String>> {
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
    let files: Vec<(&str, String)> = vec![
        (
            "stepgate.toml",
            MANIFEST
                .replace("{id}", &id)
                .replace("{database}", database),
        ),
        ("01_example.sql", STEP.to_string()),
        ("rollback/01_example_rollback.sql", ROLLBACK.to_string()),
        ("00_preflight.sql", PREFLIGHT.to_string()),
        ("verify/post_step.sql", VERIFY.to_string()),
        ("allowed_signers", SIGNERS.to_string()),
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
