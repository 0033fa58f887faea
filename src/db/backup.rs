//! Table-scoped backups with `pg_dump -Fc`, and table-scoped restores.
//!
//! # Backup
//!
//! [`dump_tables`] writes one custom-format dump per table (`<schema>.<table>.dump`,
//! each name part percent-encoded so that any identifier gives a safe, unique file
//! name), checks each with `pg_restore --list` (it must list the table's
//! `TABLE DATA` entry), and writes a `SHA256SUMS` file in `sha256sum` format, so
//! `sha256sum -c SHA256SUMS` checks the folder by hand.
//!
//! All the dumps read one snapshot: a REPEATABLE READ transaction first takes
//! ACCESS SHARE locks on every table (before its snapshot exists, so no DDL can slip
//! in between), exports its snapshot, and every `pg_dump --snapshot` reads it. The
//! tables of one backup are therefore mutually consistent.
//!
//! Names are exact catalog names `schema.table` (already case-normalised, no SQL
//! quotes), resolved against `pg_class`, so a name with a dot in it is found too.
//! For pg_dump's `--table` pattern each part is double-quoted (embedded quotes
//! doubled), which makes pattern characters such as `*`, `?` and `.` literal. A
//! partitioned table is backed up as its leaf partitions (pg_dump's `--table`
//! does not follow partitions), one dump each.
//!
//! `pg_dump` gets exactly the connection stepgate's own session reached
//! ([`Target::tool_command`]: the same host and port, user, database, TLS settings and
//! certificate files, the libpq environment cleared). The password goes to it through
//! `PGPASSWORD` only, never on a command line, and every message built from its
//! output is redacted.
//!
//! # Restore
//!
//! [`restore_table`] puts one table back to exactly the rows of its dump, in ONE
//! transaction on a `postgres::Client`:
//!
//! ```text
//! BEGIN;
//! SET LOCAL lock_timeout = …;
//! SET LOCAL session_replication_role = replica;  -- user triggers and FK triggers do not fire
//! SET LOCAL row_security = off;                  -- fail rather than restore a filtered view
//! LOCK TABLE t IN EXCLUSIVE MODE;                -- readers go on, writers wait
//! SELECT count(*) FROM t;                        -- rows_before
//! DELETE FROM t;
//! COPY t (cols…) FROM STDIN;                     -- the data lines of `pg_restore --data-only`
//! SELECT count(*) FROM t;                        -- rows_after, must equal the dump's row count
//! -- every validated foreign key into or out of t is re-checked (replica mode skipped them)
//! COMMIT;
//! ```
//!
//! The data comes from `pg_restore --data-only --schema=S --table=T -f -`, which
//! prints `SET …` lines and one `COPY … FROM stdin;` block. Only the data lines of
//! that block are used: the COPY statement is rebuilt from the parsed and re-quoted
//! table and column names, and no other SQL text from the dump is executed. This is
//! why the restore does not go through `psql --single-transaction`: with psql,
//! `rows_before` would be counted outside the restoring transaction, the row-count
//! and foreign-key checks would have to be SQL appended to the script, and the
//! script would run whatever statements the dump file holds. Here any failure
//! (bad data, a count mismatch, an orphaned foreign key, pg_restore exiting non-zero)
//! drops the transaction, and the table is as it was.
//!
//! `session_replication_role` is a superuser setting (PostgreSQL 15+ can grant it:
//! `GRANT SET ON PARAMETER session_replication_role TO role`). In replica mode the
//! table's ordinary triggers (a birth-registry insert, an audit row) and its foreign
//! key triggers do not fire; triggers set `ENABLE ALWAYS` or `ENABLE REPLICA` still
//! do. Because foreign keys are skipped, the restore re-checks them itself before
//! committing, in both directions, and refuses with the constraint's name when a
//! row would be left dangling (restore child tables first). Sequences are not
//! touched: they stay where they are (at or past the dumped values).

use crate::db::cluster::{client_program, find_bindir};
use crate::db::connect::{redact, Target};
use crate::db::quote_ident;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The checksum file written beside the dumps.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// Default lock wait for [`dump_tables`] and [`restore_table`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("table {table} does not exist in {target}")]
    NoSuchTable { table: String, target: String },
    #[error("{name} is a {kind}, not a table: only tables can be backed up or restored")]
    NotATable { name: String, kind: String },
    #[error("`{0}` names more than one table (a dot inside a name?)")]
    Ambiguous(String),
    #[error("{program} failed: {detail}")]
    Tool { program: String, detail: String },
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{0}")]
    Database(String),
    #[error("{file}: sha256 is {actual}, the backup recorded {expected}: the dump was modified or replaced; refusing to use it")]
    ChecksumMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("{file}: {detail}")]
    BadDump { file: String, detail: String },
    #[error("restore of {table} loaded {rows_after} row(s) but the dump holds {rows_in_dump}; rolled back")]
    RowMismatch {
        table: String,
        rows_after: i64,
        rows_in_dump: i64,
    },
    #[error("{0}; rolled back")]
    Integrity(String),
    #[error("{0}")]
    Privilege(String),
}

/// One dumped table.
#[derive(Debug, Clone, Serialize)]
pub struct BackupFile {
    /// `schema.table`, exact catalog names.
    pub table: String,
    /// Full path of the dump.
    pub file: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// `pg_restore --list` lists the table's TABLE DATA entry.
    pub rows_listed: bool,
}

impl BackupFile {
    /// The dump's file name (as written in `SHA256SUMS`).
    pub fn file_name(&self) -> String {
        self.file
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default()
    }
}

/// A finished backup folder.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub dir: PathBuf,
    pub files: Vec<BackupFile>,
    pub total_bytes: u64,
    pub elapsed_ms: u128,
    /// sha256 of the `SHA256SUMS` file.
    pub sums_sha256: String,
}

/// The outcome of a restore.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub table: String,
    pub rows_before: i64,
    pub rows_after: i64,
    pub rows_in_dump: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DumpOptions {
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// How long to wait for the ACCESS SHARE locks.
    pub lock_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// How long to wait for the EXCLUSIVE lock on the table.
    pub lock_timeout: Duration,
}

/// A PostgreSQL client program: from the server installation [`find_bindir`] finds,
/// else from PATH.
pub fn pg_tool(name: &str) -> PathBuf {
    match find_bindir() {
        Ok(bindir) => client_program(&bindir, name),
        Err(_) => PathBuf::from(name),
    }
}

/// The dump file name for a table: `<schema>.<table>.dump`, each part percent-encoded
/// outside `[A-Za-z0-9_-]` (so `.` and `/` inside a name cannot collide or escape).
pub fn dump_file_name(schema: &str, table: &str) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    let name = format!("{}.{}.dump", enc(schema), enc(table));
    if name.len() <= 200 {
        name
    } else {
        // Stay under NAME_MAX: keep a readable prefix, make it unique with a hash.
        let h = hex::encode(Sha256::digest(format!("{schema}.{table}").as_bytes()));
        let mut cut = 160;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}~{}.dump", &name[..cut], &h[..16])
    }
}

/// A pg_dump `--table` pattern that matches exactly `schema.table`: both parts
/// double-quoted, embedded double quotes doubled. Inside double quotes pg_dump takes
/// every character literally, `*`, `?` and `.` included.
pub fn table_pattern(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn io_err(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

fn db_err(e: postgres::Error) -> BackupError {
    BackupError::Database(crate::db::describe_pg_error(&e))
}

/// Removes the password (literally, and anything password-shaped) from tool output.
fn scrub(text: &str, password: Option<&str>) -> String {
    let mut s = redact(text.trim());
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        s = s.replace(pw, "***");
    }
    s
}

/// A client program that only reads a dump file (`pg_restore --list`, `-f -`): it
/// connects to nothing, so it gets no connection settings.
fn tool(name: &str) -> Command {
    let mut c = Command::new(pg_tool(name));
    c.stdin(Stdio::null());
    c
}

fn run_tool(
    mut c: Command,
    program: &str,
    password: Option<&str>,
) -> Result<std::process::Output, BackupError> {
    let out = c.output().map_err(|e| BackupError::Tool {
        program: program.to_string(),
        detail: format!(
            "cannot run {}: {e} (install the PostgreSQL client programs)",
            c.get_program().to_string_lossy()
        ),
    })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(BackupError::Tool {
            program: program.to_string(),
            detail: scrub(
                &format!(
                    "{} ({})",
                    String::from_utf8_lossy(&out.stderr).trim(),
                    out.status
                ),
                password,
            ),
        })
    }
}

/// `pg_restore --list FILE`: the table of contents.
fn restore_list(file: &Path) -> Result<String, BackupError> {
    let mut c = tool("pg_restore");
    c.arg("--list").arg(file);
    let out = run_tool(c, "pg_restore --list", None).map_err(|e| match e {
        BackupError::Tool { detail, .. } => BackupError::BadDump {
            file: file.display().to_string(),
            detail: format!("not a readable pg_dump archive: {detail}"),
        },
        e => e,
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Does the TOC list the TABLE DATA entry of `schema.table` (any entry when `None`)?
fn lists_table_data(toc: &str, table: Option<(&str, &str)>) -> bool {
    toc.lines()
        .filter(|l| !l.starts_with(';'))
        .any(|l| match table {
            Some((s, t)) => l.contains(&format!(" TABLE DATA {s} {t} ")),
            None => l.contains(" TABLE DATA "),
        })
}

/// A table resolved in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rel {
    schema: String,
    name: String,
    oid: u32,
    kind: String,
}

impl Rel {
    fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

fn relkind_name(k: &str) -> &'static str {
    match k {
        "r" => "table",
        "p" => "partitioned table",
        "v" => "view",
        "m" => "materialized view",
        "S" => "sequence",
        "f" => "foreign table",
        "i" | "I" => "index",
        "c" => "composite type",
        "t" => "TOAST table",
        _ => "relation",
    }
}

/// Finds `schema.table` (exact names) in the catalog.
fn resolve(client: &mut postgres::Client, name: &str, target: &Target) -> Result<Rel, BackupError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.oid, c.relkind::text \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname || '.' || c.relname = $1",
            &[&name],
        )
        .map_err(db_err)?;
    match rows.len() {
        0 => Err(BackupError::NoSuchTable {
            table: name.to_string(),
            target: target.display(),
        }),
        1 => Ok(Rel {
            schema: rows[0].get(0),
            name: rows[0].get(1),
            oid: rows[0].get(2),
            kind: rows[0].get(3),
        }),
        _ => Err(BackupError::Ambiguous(name.to_string())),
    }
}

/// The plain tables a name stands for: itself, or a partitioned table's leaves.
fn expand(client: &mut postgres::Client, rel: Rel) -> Result<Vec<Rel>, BackupError> {
    match rel.kind.as_str() {
        "r" => Ok(vec![rel]),
        "p" => {
            let rows = client
                .query(
                    "SELECT n.nspname::text, c.relname::text, c.oid, c.relkind::text \
                     FROM pg_catalog.pg_partition_tree($1::oid) t \
                     JOIN pg_catalog.pg_class c ON c.oid = t.relid \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE t.isleaf AND c.relkind = 'r' ORDER BY 1, 2",
                    &[&rel.oid],
                )
                .map_err(db_err)?;
            Ok(rows
                .iter()
                .map(|r| Rel {
                    schema: r.get(0),
                    name: r.get(1),
                    oid: r.get(2),
                    kind: r.get(3),
                })
                .collect())
        }
        k => Err(BackupError::NotATable {
            name: rel.display(),
            kind: relkind_name(k).to_string(),
        }),
    }
}

fn progress_bar(n: usize, progress: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !progress || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("backup [{bar:30}] {pos}/{len} {elapsed} {msg}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}

/// Dumps `tables` (`schema.table`, exact names) into `out_dir`, one `pg_dump -Fc` file
/// each, verified with `pg_restore --list`, plus `SHA256SUMS`.
pub fn dump_tables(
    target: &Target,
    tables: &[String],
    out_dir: &Path,
    progress: bool,
) -> Result<Backup, BackupError> {
    dump_tables_with(
        target,
        tables,
        out_dir,
        &DumpOptions {
            progress,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        },
    )
}

/// [`dump_tables`] with explicit options.
pub fn dump_tables_with(
    target: &Target,
    tables: &[String],
    out_dir: &Path,
    opts: &DumpOptions,
) -> Result<Backup, BackupError> {
    let started = Instant::now();
    std::fs::create_dir_all(out_dir).map_err(|e| io_err(out_dir, e))?;
    let mut files = Vec::new();
    if !tables.is_empty() {
        let mut client = target
            .connect("stepgate backup")
            .map_err(|e| BackupError::Database(e.to_string()))?;
        let mut rels: Vec<Rel> = Vec::new();
        for t in tables {
            let rel = resolve(&mut client, t, target)?;
            for r in expand(&mut client, rel)? {
                if !rels.contains(&r) {
                    rels.push(r);
                }
            }
        }
        // One snapshot for every dump; locks first, so no DDL lands between the
        // snapshot and pg_dump's own locks.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(db_err)?;
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            millis(opts.lock_timeout)
        ))
        .map_err(db_err)?;
        if !rels.is_empty() {
            let list: Vec<String> = rels.iter().map(Rel::quoted).collect();
            tx.batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                list.join(", ")
            ))
            .map_err(|e| {
                BackupError::Database(format!(
                    "cannot lock {} for the backup within {}ms: {}",
                    rels.iter().map(Rel::display).collect::<Vec<_>>().join(", "),
                    millis(opts.lock_timeout),
                    crate::db::describe_pg_error(&e)
                ))
            })?;
        }
        let snapshot: String = tx
            .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
            .map_err(db_err)?
            .get(0);
        let (conninfo, password) = target.conninfo_for_tools();
        // A fallback: an application_name the user gave still wins, as in our sessions.
        let conninfo = format!("{conninfo} fallback_application_name='stepgate backup (pg_dump)'");
        let pb = progress_bar(rels.len(), opts.progress);
        for rel in &rels {
            pb.set_message(rel.display());
            let file = out_dir.join(dump_file_name(&rel.schema, &rel.name));
            // Exactly the connection stepgate reached: same host:port, user, database,
            // TLS settings and files; password in PGPASSWORD; libpq env cleared.
            let mut c = target.tool_command(pg_tool("pg_dump"));
            c.stdin(Stdio::null());
            c.args([
                "--format=custom",
                "--no-password",
                "--encoding=UTF8",
                "--strict-names",
            ])
            .arg(format!("--snapshot={snapshot}"))
            .arg(format!("--lock-wait-timeout={}", millis(opts.lock_timeout)))
            .arg(format!("--table={}", table_pattern(&rel.schema, &rel.name)))
            .arg("--file")
            .arg(&file)
            .arg("--dbname")
            .arg(&conninfo);
            run_tool(
                c,
                &format!("pg_dump of {}", rel.display()),
                password.as_deref(),
            )?;
            let toc = restore_list(&file)?;
            let rows_listed = lists_table_data(&toc, Some((&rel.schema, &rel.name)));
            if !rows_listed {
                return Err(BackupError::BadDump {
                    file: file.display().to_string(),
                    detail: format!(
                        "pg_restore --list does not list TABLE DATA for {}",
                        rel.display()
                    ),
                });
            }
            let bytes = std::fs::metadata(&file)
                .map_err(|e| io_err(&file, e))?
                .len();
            let sha256 = sha256_file(&file)?;
            files.push(BackupFile {
                table: rel.display(),
                file,
                bytes,
                sha256,
                rows_listed,
            });
            pb.inc(1);
        }
        pb.finish_and_clear();
        tx.rollback().map_err(db_err)?;
    }
    let sums: String = files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.file_name()))
        .collect();
    let sums_path = out_dir.join(SUMS_FILE);
    std::fs::write(&sums_path, sums.as_bytes()).map_err(|e| io_err(&sums_path, e))?;
    Ok(Backup {
        dir: out_dir.to_path_buf(),
        total_bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        elapsed_ms: started.elapsed().as_millis(),
        sums_sha256: hex::encode(Sha256::digest(sums.as_bytes())),
    })
}

fn check_sha(file: &Path, expected: &str) -> Result<(), BackupError> {
    if !file.exists() {
        return Err(BackupError::Io {
            path: file.display().to_string(),
            detail: "the dump file no longer exists".into(),
        });
    }
    let actual = sha256_file(file)?;
    if !actual.eq_ignore_ascii_case(expected.trim()) {
        return Err(BackupError::ChecksumMismatch {
            file: file.display().to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// Re-hashes a dump and checks `pg_restore --list` reads it and lists table data.
pub fn verify_dump(file: &Path, expected_sha256: &str) -> Result<(), BackupError> {
    check_sha(file, expected_sha256)?;
    let toc = restore_list(file)?;
    if !lists_table_data(&toc, None) {
        return Err(BackupError::BadDump {
            file: file.display().to_string(),
            detail: "pg_restore --list lists no TABLE DATA entry".into(),
        });
    }
    Ok(())
}

/// Restores `table` (`schema.table`, exact names) from `dump` — see the module docs.
pub fn restore_table(
    target: &Target,
    dump: &Path,
    table: &str,
    expected_sha256: &str,
) -> Result<RestoreReport, BackupError> {
    restore_table_with(
        target,
        dump,
        table,
        expected_sha256,
        &RestoreOptions {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        },
    )
}

/// [`restore_table`] with explicit options.
pub fn restore_table_with(
    target: &Target,
    dump: &Path,
    table: &str,
    expected_sha256: &str,
    opts: &RestoreOptions,
) -> Result<RestoreReport, BackupError> {
    check_sha(dump, expected_sha256)?;
    let mut client = target
        .connect("stepgate restore")
        .map_err(|e| BackupError::Database(e.to_string()))?;
    let rel = resolve(&mut client, table, target)?;
    if rel.kind != "r" {
        return Err(BackupError::NotATable {
            name: rel.display(),
            kind: relkind_name(&rel.kind).to_string(),
        });
    }
    let toc = restore_list(dump)?;
    if !lists_table_data(&toc, Some((&rel.schema, &rel.name))) {
        return Err(BackupError::BadDump {
            file: dump.display().to_string(),
            detail: format!("holds no data for {}", rel.display()),
        });
    }

    let mut tx = client.transaction().map_err(db_err)?;
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        millis(opts.lock_timeout)
    ))
    .map_err(db_err)?;
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .map_err(|e| {
            BackupError::Privilege(format!(
                "a restore runs with session_replication_role = replica so the table's triggers do not fire, and this role may not set it ({}); run the restore as a superuser, or GRANT SET ON PARAMETER session_replication_role TO the role",
                crate::db::describe_pg_error(&e)
            ))
        })?;
    tx.batch_execute("SET LOCAL row_security = off")
        .map_err(db_err)?;
    let q = rel.quoted();
    tx.batch_execute(&format!("LOCK TABLE {q} IN EXCLUSIVE MODE"))
        .map_err(|e| {
            BackupError::Database(format!(
                "cannot lock {} for the restore within {}ms: {}",
                rel.display(),
                millis(opts.lock_timeout),
                crate::db::describe_pg_error(&e)
            ))
        })?;
    let count_sql = format!("SELECT count(*) FROM ONLY {q}");
    let rows_before: i64 = tx.query_one(&count_sql, &[]).map_err(db_err)?.get(0);
    tx.batch_execute(&format!("DELETE FROM ONLY {q}"))
        .map_err(db_err)?;
    let rows_in_dump = copy_from_dump(&mut tx, dump, &rel)?;
    let rows_after: i64 = tx.query_one(&count_sql, &[]).map_err(db_err)?.get(0);
    if rows_after != rows_in_dump {
        return Err(BackupError::RowMismatch {
            table: rel.display(),
            rows_after,
            rows_in_dump,
        });
    }
    check_foreign_keys(&mut tx, &rel)?;
    tx.commit().map_err(db_err)?;
    Ok(RestoreReport {
        table: rel.display(),
        rows_before,
        rows_after,
        rows_in_dump: Some(rows_in_dump),
    })
}

/// Streams the data lines of the table's COPY block (from `pg_restore --data-only`)
/// into a COPY this function builds itself. Returns the number of data lines.
fn copy_from_dump(
    tx: &mut postgres::Transaction<'_>,
    dump: &Path,
    rel: &Rel,
) -> Result<i64, BackupError> {
    let bad = |detail: String| BackupError::BadDump {
        file: dump.display().to_string(),
        detail,
    };
    let mut child = tool("pg_restore")
        .args(["--data-only", "--no-owner", "--no-privileges"])
        .arg(format!("--schema={}", rel.schema))
        .arg(format!("--table={}", rel.name))
        .args(["--file", "-"])
        .arg(dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::Tool {
            program: "pg_restore".into(),
            detail: format!("cannot run it: {e}"),
        })?;
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let result = (|| -> Result<i64, BackupError> {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| bad("pg_restore gave no output".into()))?;
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut line: Vec<u8> = Vec::new();
        let mut rows: Option<i64> = None;
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| io_err(dump, e))?;
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if let Some(rest) = text.strip_prefix("SET client_encoding = ") {
                if !rest.eq_ignore_ascii_case("'UTF8';") {
                    return Err(bad(format!(
                        "the dump's data is in encoding {rest} (stepgate dumps in UTF8)"
                    )));
                }
                continue;
            }
            if !text.starts_with("COPY ") {
                continue;
            }
            if rows.is_some() {
                return Err(bad(format!(
                    "more than one COPY block for {}",
                    rel.display()
                )));
            }
            let (target_parts, columns) = parse_copy_line(text)
                .ok_or_else(|| bad(format!("cannot read the COPY line `{text}`")))?;
            if target_parts != [rel.schema.clone(), rel.name.clone()] {
                return Err(bad(format!(
                    "its COPY block is for {}, not {}",
                    target_parts.join("."),
                    rel.display()
                )));
            }
            let cols = if columns.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    columns
                        .iter()
                        .map(|c| quote_ident(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let stmt = format!("COPY {}{cols} FROM STDIN", rel.quoted());
            let mut writer = tx.copy_in(stmt.as_str()).map_err(db_err)?;
            let mut count = 0i64;
            let mut ended = false;
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| io_err(dump, e))?;
                if n == 0 {
                    break;
                }
                if line == b"\\.\n" || line == b"\\." {
                    ended = true;
                    break;
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                writer.write_all(&line).map_err(|e| {
                    BackupError::Database(format!("COPY into {} failed: {e}", rel.display()))
                })?;
                count += 1;
            }
            if !ended {
                return Err(bad(format!(
                    "the COPY block for {} has no end marker (truncated?)",
                    rel.display()
                )));
            }
            writer.finish().map_err(db_err)?;
            rows = Some(count);
        }
        rows.ok_or_else(|| bad(format!("holds no COPY data for {}", rel.display())))
    })();
    if result.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| io_err(dump, e))?;
    let stderr_text = err_reader.join().unwrap_or_default();
    let rows = result?;
    if !status.success() {
        return Err(BackupError::Tool {
            program: "pg_restore --data-only".into(),
            detail: scrub(&format!("{stderr_text} ({status})"), None),
        });
    }
    Ok(rows)
}

/// Parses pg_dump's `COPY schema.table (col, …) FROM stdin;` into the target's name
/// parts and the column names (unquoted).
fn parse_copy_line(line: &str) -> Option<(Vec<String>, Vec<String>)> {
    let body = line.strip_prefix("COPY ")?.strip_suffix(" FROM stdin;")?;
    let mut chars = body.chars().peekable();
    let mut target = vec![read_ident(&mut chars)?];
    while chars.peek() == Some(&'.') {
        chars.next();
        target.push(read_ident(&mut chars)?);
    }
    while chars.peek() == Some(&' ') {
        chars.next();
    }
    let mut columns = Vec::new();
    if chars.peek() == Some(&'(') {
        chars.next();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            columns.push(read_ident(&mut chars)?);
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            match chars.next()? {
                ',' => continue,
                ')' => break,
                _ => return None,
            }
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
    }
    if chars.next().is_some() {
        return None;
    }
    Some((target, columns))
}

/// One identifier as pg_dump writes it: `"quoted ""with"" quotes"` or bare lower-case.
fn read_ident(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut out = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        loop {
            match chars.next()? {
                '"' => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        out.push('"');
                    } else {
                        break;
                    }
                }
                c => out.push(c),
            }
        }
        return Some(out);
    }
    while let Some(&c) = chars.peek() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$' {
            out.push(c);
            chars.next();
        } else {
            break;
        }
    }
    (!out.is_empty() && !out.starts_with(|c: char| c.is_ascii_digit())).then_some(out)
}

/// Re-checks every validated foreign key into or out of `rel` (replica mode skipped
/// them during the DELETE and the COPY).
fn check_foreign_keys(tx: &mut postgres::Transaction<'_>, rel: &Rel) -> Result<(), BackupError> {
    let fks = tx
        .query(
            "SELECT c.conname::text, \
                    cn.nspname::text, cr.relname::text, cr.relkind::text, \
                    pn.nspname::text, pr.relname::text, pr.relkind::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
                    ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) \
             FROM pg_catalog.pg_constraint c \
             JOIN pg_catalog.pg_class cr ON cr.oid = c.conrelid \
             JOIN pg_catalog.pg_namespace cn ON cn.oid = cr.relnamespace \
             JOIN pg_catalog.pg_class pr ON pr.oid = c.confrelid \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = pr.relnamespace \
             WHERE c.contype = 'f' AND c.convalidated AND c.conparentid = 0 \
               AND (c.conrelid = $1::oid OR c.confrelid = $1::oid \
                    OR c.conrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1::oid)) \
                    OR c.confrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors($1::oid))) \
             ORDER BY 1",
            &[&rel.oid],
        )
        .map_err(db_err)?;
    for fk in fks {
        let conname: String = fk.get(0);
        let (cs, cr, ck): (String, String, String) = (fk.get(1), fk.get(2), fk.get(3));
        let (ps, pr, pk): (String, String, String) = (fk.get(4), fk.get(5), fk.get(6));
        let ccols: Vec<String> = fk.get(7);
        let pcols: Vec<String> = fk.get(8);
        if ccols.is_empty() || ccols.len() != pcols.len() {
            continue;
        }
        let only = |kind: &str| if kind == "p" { "" } else { "ONLY " };
        let not_null: Vec<String> = ccols
            .iter()
            .map(|c| format!("ch.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let join: Vec<String> = ccols
            .iter()
            .zip(&pcols)
            .map(|(c, p)| format!("pa.{} = ch.{}", quote_ident(p), quote_ident(c)))
            .collect();
        let sql = format!(
            "SELECT count(*) FROM {}{}.{} ch WHERE {} AND NOT EXISTS (SELECT 1 FROM {}{}.{} pa WHERE {})",
            only(&ck),
            quote_ident(&cs),
            quote_ident(&cr),
            not_null.join(" AND "),
            only(&pk),
            quote_ident(&ps),
            quote_ident(&pr),
            join.join(" AND ")
        );
        let orphans: i64 = tx.query_one(&sql, &[]).map_err(db_err)?.get(0);
        if orphans > 0 {
            let child = format!("{cs}.{cr}");
            let parent = format!("{ps}.{pr}");
            let advice = if child == rel.display() {
                format!("restore {parent} first, or restore {child} from a backup that matches it")
            } else {
                format!("restore {child} first (child tables before their parents)")
            };
            return Err(BackupError::Integrity(format!(
                "restoring {} would leave {orphans} row(s) of {child} without a matching {parent} row (foreign key {conname}); {advice}",
                rel.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_unique() {
        assert_eq!(
            dump_file_name("public", "apr_action_types"),
            "public.apr_action_types.dump"
        );
        assert_ne!(dump_file_name("a.b", "c"), dump_file_name("a", "b.c"));
        assert_eq!(dump_file_name("s", "../x"), "s.%2E%2E%2Fx.dump");
        assert!(dump_file_name("s", &"x".repeat(300)).len() < 200);
    }

    #[test]
    fn patterns_quote_everything() {
        assert_eq!(table_pattern("public", "a*"), "\"public\".\"a*\"");
        assert_eq!(
            table_pattern("public", "we\"ird"),
            "\"public\".\"we\"\"ird\""
        );
    }

    #[test]
    fn copy_lines_parse() {
        let (t, c) = parse_copy_line(
            "COPY public.apr_action_types (action_code, label, \"Odd \"\"Col\", x$1) FROM stdin;",
        )
        .unwrap();
        assert_eq!(t, vec!["public", "apr_action_types"]);
        assert_eq!(c, vec!["action_code", "label", "Odd \"Col", "x$1"]);
        let (t, c) = parse_copy_line("COPY \"my.schema\".\"T\"  FROM stdin;").unwrap();
        assert_eq!(t, vec!["my.schema", "T"]);
        assert!(c.is_empty());
        assert!(parse_copy_line("COPY public.t (a); DROP TABLE x; (b) FROM stdin;").is_none());
        assert!(parse_copy_line("COPY public.t (a) TO stdout;").is_none());
    }

    #[test]
    fn toc_matching() {
        let toc =
            ";\n; Archive created\n3339; 0 16402 TABLE DATA public apr_action_types postgres\n";
        assert!(lists_table_data(toc, Some(("public", "apr_action_types"))));
        assert!(!lists_table_data(toc, Some(("public", "apr_action"))));
        assert!(lists_table_data(toc, None));
    }

    #[test]
    fn scrub_removes_password() {
        assert_eq!(
            scrub("failed for s3cret here", Some("s3cret")),
            "failed for *** here"
        );
    }
}
