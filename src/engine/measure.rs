//! Side-effect measurement (`[[step.measure]]`): a read-only query captured before
//! and after commit into the evidence folder (CSV + sha256) and summarised — rows,
//! rows changed, and per column the distinct values and min/max before and after.
//! Made for effects no catalog diff shows, like a backfill whose trigger bumps
//! `updated_at` on every row it touches.

use crate::engine::{step_tx, Result};
use postgres::{Client, SimpleQueryMessage};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Capture {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Runs `sql` in a READ ONLY transaction with the pack's timeouts.
pub fn capture(
    c: &mut Client,
    sql: &str,
    t: &crate::core::manifest::TimeoutValues,
) -> Result<Capture> {
    // Exactly one read-only statement, checked before anything is sent; it runs in a READ
    // ONLY transaction whose snapshot is already taken, so it cannot turn it read-write.
    let stmts =
        crate::core::plan::executable("measure", sql, crate::core::plan::Context::ReadOnly)?;
    if stmts.len() != 1 {
        return Err(crate::engine::Error::BadInput(format!(
            "a measure query must be exactly one SELECT; this one has {} statements",
            stmts.len()
        )));
    }
    let mut tx = step_tx::begin_read_only(c, t)?;
    let msgs = tx.simple_query(sql)?;
    tx.rollback()?;
    let mut cap = Capture::default();
    for m in msgs {
        if let SimpleQueryMessage::Row(r) = m {
            if cap.columns.is_empty() {
                cap.columns = r.columns().iter().map(|c| c.name().to_string()).collect();
            }
            cap.rows
                .push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    Ok(cap)
}

fn csv_field(v: &Option<String>) -> String {
    match v {
        None => String::new(),
        Some(s) if s.contains([',', '"', '\n', '\r']) || s.is_empty() => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        Some(s) => s.clone(),
    }
}

pub fn to_csv(c: &Capture) -> String {
    let mut out = c.columns.join(",");
    out.push('\n');
    for r in &c.rows {
        out.push_str(&r.iter().map(csv_field).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// A measure's name as a file name: anything but letters, digits, `-` and `_` becomes `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes the CSV and returns its sha256.
/// Writes the capture as `dir/name` (folders 0700, the file 0600: it holds table data).
pub fn write_csv(dir: &Path, name: &str, c: &Capture) -> Result<String> {
    crate::engine::evidence::private_dir(dir)?;
    let text = to_csv(c);
    crate::engine::evidence::write_private(&dir.join(name), text.as_bytes())?;
    Ok(crate::engine::pack::sha256_hex(text.as_bytes()))
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnSummary {
    pub column: String,
    pub distinct_before: usize,
    pub distinct_after: usize,
    pub min_before: Option<String>,
    pub max_before: Option<String>,
    pub min_after: Option<String>,
    pub max_after: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureSummary {
    pub name: String,
    pub rows_before: usize,
    pub rows_after: usize,
    /// Rows whose key (first column) exists on both sides with any other value changed.
    pub rows_changed: usize,
    pub rows_added: usize,
    pub rows_removed: usize,
    pub columns: Vec<ColumnSummary>,
    pub csv_before_sha256: String,
    pub csv_after_sha256: String,
}

/// Orders numbers as numbers and everything else as text.
fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.cmp(b),
    }
}

fn col_stats(c: &Capture, i: usize) -> (usize, Option<String>, Option<String>) {
    let vals: Vec<&str> = c
        .rows
        .iter()
        .filter_map(|r| r.get(i).and_then(|v| v.as_deref()))
        .collect();
    let distinct: BTreeSet<&str> = vals.iter().copied().collect();
    let min = vals
        .iter()
        .copied()
        .min_by(|a, b| cmp_values(a, b))
        .map(str::to_string);
    let max = vals
        .iter()
        .copied()
        .max_by(|a, b| cmp_values(a, b))
        .map(str::to_string);
    (distinct.len(), min, max)
}

pub fn summarize(
    name: &str,
    before: &Capture,
    after: &Capture,
    sha_before: String,
    sha_after: String,
) -> MeasureSummary {
    let key = |c: &Capture| -> BTreeMap<Option<String>, Vec<Option<String>>> {
        c.rows
            .iter()
            .map(|r| (r.first().cloned().flatten(), r.clone()))
            .collect()
    };
    let (kb, ka) = (key(before), key(after));
    let rows_changed = kb
        .iter()
        .filter(|(k, v)| ka.get(*k).is_some_and(|w| w != *v))
        .count();
    let rows_added = ka.keys().filter(|k| !kb.contains_key(*k)).count();
    let rows_removed = kb.keys().filter(|k| !ka.contains_key(*k)).count();
    let columns = after
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let (db, minb, maxb) = col_stats(before, i);
            let (da, mina, maxa) = col_stats(after, i);
            ColumnSummary {
                column: col.clone(),
                distinct_before: db,
                distinct_after: da,
                min_before: minb,
                max_before: maxb,
                min_after: mina,
                max_after: maxa,
            }
        })
        .collect();
    MeasureSummary {
        name: name.to_string(),
        rows_before: before.rows.len(),
        rows_after: after.rows.len(),
        rows_changed,
        rows_added,
        rows_removed,
        columns,
        csv_before_sha256: sha_before,
        csv_after_sha256: sha_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn cap(rows: &[(&str, &str)]) -> Capture {
        Capture {
            columns: vec!["id".into(), "updated_at".into()],
            rows: rows
                .iter()
                .map(|(a, b)| vec![Some(a.to_string()), Some(b.to_string())])
                .collect(),
        }
    }
    #[test]
    fn summarises_changes() {
        let b = cap(&[
            ("1", "2026-01-01"),
            ("2", "2026-01-01"),
            ("10", "2026-01-01"),
        ]);
        let a = cap(&[
            ("1", "2026-02-01"),
            ("2", "2026-02-01"),
            ("10", "2026-01-01"),
            ("11", "2026-02-01"),
        ]);
        let s = summarize("m", &b, &a, String::new(), String::new());
        assert_eq!(
            (
                s.rows_before,
                s.rows_after,
                s.rows_changed,
                s.rows_added,
                s.rows_removed
            ),
            (3, 4, 2, 1, 0)
        );
        assert_eq!(s.columns[0].max_after.as_deref(), Some("11"));
        assert_eq!(s.columns[1].distinct_before, 1);
        assert_eq!(s.columns[1].distinct_after, 2);
        assert!(to_csv(&b).starts_with("id,updated_at\n1,2026-01-01\n"));
    }
}
