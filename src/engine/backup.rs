//! `stepgate backup --step ID` and `stepgate restore --step ID --table T`.
//!
//! A backup dumps every existing table the step can change (its `backup` list, the
//! tables its effects write rows to, alter or drop members of, or drop) into the
//! evidence folder `<evidence root>/<target>/<pack id>/<step id>/<UTC time>/` (outside
//! the pack by default; see [`crate::engine::evidence`]), folders 0700 and files 0600,
//! verifies each dump, and records a `backup`/`verified` ledger event whose
//! `file_sha256` is the sha256 of the folder's `SHA256SUMS`. A restore takes the
//! step's pre-commit dump (its latest verified backup holding the table taken before
//! the step's last committed apply), checks the dump's sha256
//! against the ledger, and puts the table back in one transaction (see
//! [`crate::db::backup`]). Gates are the caller's business.

use crate::core::manifest::Pack;
use crate::core::objects::{ObjKind, ObjectRef};
pub use crate::db::backup::RestoreReport;
use crate::db::backup::{self as dbb, Backup, BackupError, DumpOptions, RestoreOptions};
use crate::db::ledger::Event;
use crate::engine::session::Session;
use crate::engine::{Error, Result};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub event_id: i64,
    pub backup: Backup,
    /// Tables large enough to warn about, with their size (also printed before the dump).
    pub warnings: Vec<String>,
}

/// The tables step `step_index` needs backed up, sorted and deduplicated: its
/// `backup` list, every table its effects write rows to, the tables whose members
/// it alters or drops, the tables it alters or drops — of those, only the ones
/// `existing` says exist now (a table the step creates does not yet).
pub fn tables_for_step(
    pack: &Pack,
    step_index: usize,
    existing: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    let Some(step) = pack.manifest.step.get(step_index) else {
        return vec![];
    };
    for b in &step.backup {
        match ObjectRef::parse(&format!("table {}", b.get_ref())) {
            Ok(r) => out.insert(r.name),
            Err(_) => out.insert(b.get_ref().clone()),
        };
    }
    if let Some(eff) = pack.effects.get(step_index) {
        out.extend(eff.rows.keys().cloned());
        for r in eff.alter.iter().chain(eff.drop.iter()) {
            if r.kind == ObjKind::Table {
                out.insert(r.name.clone());
            } else if let Some(t) = r.table() {
                out.insert(t);
            }
        }
    }
    out.into_iter().filter(|t| existing(t)).collect()
}

fn step_index(pack: &Pack, step_id: &str) -> Result<usize> {
    pack.step_index(step_id).ok_or_else(|| {
        Error::BadInput(format!(
            "no step `{step_id}` in pack `{}`; steps: {}",
            pack.id(),
            pack.step_ids().join(", ")
        ))
    })
}

/// Maps a database-layer backup error onto the engine's exit-code classes.
pub fn engine_error(e: BackupError) -> Error {
    let msg = e.to_string();
    match e {
        BackupError::NoSuchTable { .. }
        | BackupError::NotATable { .. }
        | BackupError::Ambiguous(_) => Error::BadInput(msg),
        BackupError::ChecksumMismatch { .. }
        | BackupError::BadDump { .. }
        | BackupError::Privilege(_)
        | BackupError::Integrity(_) => Error::Refused(msg),
        BackupError::Database(_) => Error::Database(msg),
        BackupError::Tool { .. } | BackupError::Io { .. } | BackupError::RowMismatch { .. } => {
            Error::Failed(msg)
        }
    }
}

/// `YYYYmmddTHHMMSSZ`, now, in UTC.
fn utc_stamp() -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::now_utc()
        .format(&fmt)
        .unwrap_or_else(|_| "00000000T000000Z".into())
}

/// The tables (plain or partitioned) among `$1`, `schema.table` names, as `w.name` and
/// `c`. Looked up through pg_class's name index: comparing `nspname || '.' || relname`
/// reads the whole of pg_class (21 ms at 10,000 tables, twice per apply).
const TABLES_NAMED: &str = "(SELECT DISTINCT unnest($1::text[]) AS name) w \
     JOIN pg_catalog.pg_namespace n ON pg_catalog.starts_with(w.name, n.nspname || '.') \
     JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid \
      AND c.relname = pg_catalog.substr(w.name, pg_catalog.length(n.nspname) + 2) \
     WHERE c.relkind IN ('r', 'p')";

/// Which of `names` exist now as tables (plain or partitioned).
fn existing_tables(session: &mut Session, names: &[String]) -> Result<BTreeSet<String>> {
    let rows = session
        .ledger
        .query(&format!("SELECT w.name FROM {TABLES_NAMED}"), &[&names])?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// The tables a backup of step `step_idx` must hold now: those it writes, alters or drops
/// that exist.
pub fn tables_to_cover(session: &mut Session, step_idx: usize) -> Result<Vec<String>> {
    let pack = session.pack().clone();
    let candidates = tables_for_step(&pack, step_idx, &|_| true);
    let exist = existing_tables(session, &candidates)?;
    Ok(tables_for_step(&pack, step_idx, &|t| exist.contains(t)))
}

/// Backs up step `step_id`'s tables and records the `backup` event.
pub fn run(session: &mut Session, step_id: &str, progress: bool) -> Result<BackupReport> {
    let pack = session.pack().clone();
    let idx = step_index(&pack, step_id)?;
    let candidates = tables_for_step(&pack, idx, &|_| true);
    let exist = existing_tables(session, &candidates)?;
    let tables = tables_for_step(&pack, idx, &|t| exist.contains(t));
    let evidence = crate::engine::evidence::session_dir(session);
    let dir = crate::engine::evidence::new_step_dir(&evidence, step_id, &utc_stamp())?;
    let sizes = table_sizes(session, &tables)?;
    let warnings = crate::engine::evidence::large_table_warnings(
        &sizes,
        crate::engine::evidence::LARGE_TABLE_BYTES,
    );
    if progress {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    let opts = DumpOptions {
        progress,
        lock_timeout: pack.timeouts.lock,
    };
    let backup = match dbb::dump_tables_with(&session.target, &tables, &dir, &opts) {
        Ok(b) => b,
        Err(e) => {
            let msg = e.to_string();
            let _ = session.event(
                Some(step_id),
                "backup",
                "failed",
                None,
                serde_json::json!({ "dir": dir.display().to_string(), "tables": tables, "error": msg }),
            );
            return Err(engine_error(e));
        }
    };
    crate::engine::evidence::private_files(&backup.dir)?;
    let files: Vec<serde_json::Value> = backup
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "table": f.table,
                "file": f.file_name(),
                "bytes": f.bytes,
                "sha256": f.sha256,
            })
        })
        .collect();
    let mut details = serde_json::json!({
        "dir": backup.dir.display().to_string(),
        "files": files,
        "total_bytes": backup.total_bytes,
        "elapsed_ms": backup.elapsed_ms as u64,
        "table_bytes": sizes.iter().map(|(t, b)| (t.clone(), serde_json::json!(b))).collect::<serde_json::Map<_, _>>(),
    });
    if !warnings.is_empty() {
        details["large_tables"] = serde_json::json!(warnings);
    }
    let skipped: Vec<&String> = candidates.iter().filter(|t| !exist.contains(*t)).collect();
    if !skipped.is_empty() {
        // Tables the step creates, or a misspelt `backup` entry: visible, never silent.
        details["skipped_not_existing"] = serde_json::json!(skipped);
    }
    if backup.files.is_empty() {
        details["note"] = serde_json::json!(if candidates.is_empty() {
            "nothing to back up: the step writes to no table".to_string()
        } else {
            format!(
                "nothing to back up: no table the step changes exists yet ({})",
                candidates.join(", ")
            )
        });
    }
    let sums = backup.sums_sha256.clone();
    let event_id = session.event(Some(step_id), "backup", "verified", Some(&sums), details)?;
    Ok(BackupReport {
        event_id,
        backup,
        warnings,
    })
}

/// On-disk size (table, indexes, TOAST) of each of `tables`.
fn table_sizes(session: &mut Session, tables: &[String]) -> Result<Vec<(String, i64)>> {
    let rows = session.ledger.query(
        &format!(
            "SELECT w.name, pg_catalog.pg_total_relation_size(c.oid) FROM {TABLES_NAMED} ORDER BY 1"
        ),
        &[&tables],
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect())
}

/// The latest verified backup of `step` that is still current: taken after the step's
/// last committed apply or rollback. A dump from before them shows a state the table
/// has since left, so a re-apply after a rollback (or a rollback after an apply) takes
/// a new one. The caller still checks its age and that its files are intact.
pub fn current_backup<'a>(events: &'a [Event], step: &str) -> Option<&'a Event> {
    let last_change = events
        .iter()
        .filter(|e| {
            e.step.as_deref() == Some(step)
                && (e.verb == "apply" || e.verb == "rollback")
                && e.result == "committed"
        })
        .map(|e| e.id)
        .max();
    latest_backup(events, step).filter(|b| last_change.is_none_or(|c| b.id > c))
}

/// The last `backup`/`verified` event of `step`.
pub fn latest_backup<'a>(events: &'a [Event], step: &str) -> Option<&'a Event> {
    events.iter().rev().find(|e| is_backup_of(e, step))
}

fn is_backup_of(e: &Event, step: &str) -> bool {
    e.verb == "backup" && e.result == "verified" && e.step.as_deref() == Some(step)
}

/// A dump recorded in a backup event.
struct RecordedDump {
    table: String,
    path: PathBuf,
    sha256: String,
}

fn recorded_dumps(e: &Event) -> Vec<RecordedDump> {
    let dir = e.details.get("dir").and_then(|d| d.as_str()).unwrap_or("");
    e.details
        .get("files")
        .and_then(|f| f.as_array())
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    Some(RecordedDump {
                        table: f.get("table")?.as_str()?.to_string(),
                        path: Path::new(dir).join(f.get("file")?.as_str()?),
                        sha256: f.get("sha256")?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves `--table` (`t` or `schema.t`, SQL-style: quoted keeps its case) against
/// the tables the step's backups hold. A bare `t` matches that table in any schema
/// and is refused as ambiguous when two schemas hold one (no silent `public`).
fn resolve_table(input: &str, known: &BTreeSet<String>) -> std::result::Result<String, String> {
    if known.contains(input) {
        return Ok(input.to_string());
    }
    let parts = crate::core::objects::split_dotted(input);
    if parts.len() == 1 {
        let want = crate::core::objects::normalize_ident(&parts[0]);
        let hits: Vec<&String> = known
            .iter()
            .filter(|k| k.split_once('.').map(|(_, t)| t) == Some(want.as_str()))
            .collect();
        match hits.len() {
            1 => return Ok(hits[0].clone()),
            n if n > 1 => {
                return Err(format!(
                    "`{input}` is ambiguous: the backups hold {}; name the schema",
                    hits.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
            _ => {}
        }
    }
    // A qualified name, SQL-style (bare parts fold to lower case).
    if let Ok(r) = ObjectRef::parse(&format!("table {input}")) {
        if known.contains(&r.name) {
            return Ok(r.name);
        }
    }
    Err(if known.is_empty() {
        "the step has no verified backup holding any table".to_string()
    } else {
        format!(
            "no verified backup of the step holds `{input}`; its backups hold {}",
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Restores `table` from step `step_id`'s latest verified backup holding it, and
/// records the `restore` event (`restored`, or `failed` with the error).
pub fn restore(session: &mut Session, step_id: &str, table: &str) -> Result<RestoreReport> {
    let pack = session.pack().clone();
    step_index(&pack, step_id)?;
    let events = session.events()?;
    let known: BTreeSet<String> = events
        .iter()
        .filter(|e| is_backup_of(e, step_id))
        .flat_map(|e| recorded_dumps(e).into_iter().map(|d| d.table))
        .collect();
    let name = resolve_table(table, &known).map_err(|m| {
        Error::Refused(format!(
            "cannot restore `{table}` for step `{step_id}`: {m}"
        ))
    })?;
    // The pre-commit dump: taken before the step's last committed apply (a later dump,
    // before a rollback say, shows the applied state).
    let last_apply = events
        .iter()
        .filter(|e| {
            e.step.as_deref() == Some(step_id) && e.verb == "apply" && e.result == "committed"
        })
        .map(|e| e.id)
        .max();
    let (event_id, dump) = events
        .iter()
        .rev()
        .filter(|e| is_backup_of(e, step_id) && last_apply.is_none_or(|a| e.id < a))
        .find_map(|e| {
            recorded_dumps(e)
                .into_iter()
                .find(|d| d.table == name)
                .map(|d| (e.id, d))
        })
        .ok_or_else(|| {
            Error::Refused(format!(
                "no verified backup of step `{step_id}` holds {name}"
            ))
        })?;
    let opts = RestoreOptions {
        lock_timeout: pack.timeouts.lock,
    };
    let base = serde_json::json!({
        "table": name,
        "file": dump.path.display().to_string(),
        "backup_event": event_id,
    });
    match dbb::restore_table_with(&session.target, &dump.path, &name, &dump.sha256, &opts) {
        Ok(report) => {
            let mut details = base;
            details["rows_before"] = serde_json::json!(report.rows_before);
            details["rows_after"] = serde_json::json!(report.rows_after);
            details["rows_in_dump"] = serde_json::json!(report.rows_in_dump);
            session.event(
                Some(step_id),
                "restore",
                "restored",
                Some(&dump.sha256),
                details,
            )?;
            Ok(report)
        }
        Err(e) => {
            let mut details = base;
            details["error"] = serde_json::json!(e.to_string());
            let _ = session.event(
                Some(step_id),
                "restore",
                "failed",
                Some(&dump.sha256),
                details,
            );
            Err(engine_error(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: i64, verb: &str, result: &str) -> Event {
        Event {
            id,
            at: String::new(),
            at_micros: id,
            pack: "p".into(),
            step: Some("1".into()),
            verb: verb.into(),
            result: result.into(),
            os_user: None,
            host: None,
            db_role: "r".into(),
            file_sha256: None,
            run_id: None,
            details: serde_json::Value::Null,
            fact: false,
            details_text: String::new(),
            prev_hash: String::new(),
            row_hash: String::new(),
        }
    }

    #[test]
    fn a_backup_older_than_the_last_apply_or_rollback_is_stale() {
        let mut events = vec![ev(1, "backup", "verified"), ev(2, "apply", "committed")];
        assert!(current_backup(&events, "1").is_none());
        assert_eq!(latest_backup(&events, "1").map(|e| e.id), Some(1));
        events.push(ev(3, "backup", "verified"));
        assert_eq!(current_backup(&events, "1").map(|e| e.id), Some(3));
        // Rolled back: the dump taken before the rollback shows the applied state.
        events.push(ev(4, "rollback", "committed"));
        assert!(current_backup(&events, "1").is_none());
        // A failed apply changes nothing; the backup stays current.
        events.push(ev(5, "backup", "verified"));
        events.push(ev(6, "apply", "failed"));
        assert_eq!(current_backup(&events, "1").map(|e| e.id), Some(5));
        // Another step's apply does not matter.
        let mut other = ev(7, "apply", "committed");
        other.step = Some("2".into());
        events.push(other);
        assert_eq!(current_backup(&events, "1").map(|e| e.id), Some(5));
    }

    #[test]
    fn table_names_resolve() {
        let known: BTreeSet<String> = [
            "public.apr_action_types",
            "public.t",
            "other.t",
            "public.Mixed",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            resolve_table("apr_action_types", &known).unwrap(),
            "public.apr_action_types"
        );
        assert_eq!(
            resolve_table("public.apr_action_types", &known).unwrap(),
            "public.apr_action_types"
        );
        assert_eq!(
            resolve_table("APR_ACTION_TYPES", &known).unwrap(),
            "public.apr_action_types"
        );
        assert_eq!(resolve_table("other.t", &known).unwrap(), "other.t");
        assert_eq!(
            resolve_table("public.Mixed", &known).unwrap(),
            "public.Mixed"
        );
        assert_eq!(resolve_table("\"Mixed\"", &known).unwrap(), "public.Mixed");
        assert!(resolve_table("t", &known)
            .unwrap_err()
            .contains("ambiguous"));
        assert!(resolve_table("nope", &known).unwrap_err().contains("holds"));
    }
}
