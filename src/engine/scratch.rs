//! `stepgate scratch`: the safest rehearsal of a whole plan. A throwaway local
//! cluster is built from the target's schema (`pg_dump --schema-only`, plus the data
//! of the tables named) or from a SQL file; every step is applied in order (gates
//! bypassed, and said so — the ledger there is labelled `scratch`), then every step
//! is rolled back in reverse order, and the final catalog must equal the initial one —
//! except for what a step's `rollback_keeps` leaves in place by design, which is named.

use crate::db::cluster::{Cluster, ClusterOptions};
use crate::db::connect::Target;
use crate::db::ledger::InstallOptions;
use crate::db::snapshot;
use crate::engine::apply::{apply_in, ApplyOptions};
use crate::engine::pack;
use crate::engine::session::{Options, Session};
use crate::engine::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(Debug, Clone)]
pub enum Source {
    FromDb,
    FromSql(PathBuf),
}

#[derive(Debug, Clone, Serialize)]
pub struct ScratchRow {
    pub step: String,
    pub name: String,
    pub apply: String,
    pub verify: String,
    pub rollback: String,
    pub apply_ms: u128,
    pub rollback_ms: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScratchReport {
    pub pack: String,
    pub source: String,
    /// Objects that differ between start and end, other than what rollbacks keep by design.
    pub differs: Vec<String>,
    /// Objects the rollbacks keep on purpose (`rollback_keeps`), differing by design.
    pub kept_by_design: Vec<String>,
    pub initial_fingerprint: String,
    pub final_fingerprint: String,
    pub round_trip_equal: bool,
    pub rows: Vec<ScratchRow>,
    pub elapsed_ms: u128,
    pub kept: Option<String>,
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("scratch: {e}"))
}

/// `pg_dump` of the real target into a file (schema, plus data of `tables`), without
/// owners or grants: the scratch cluster has none of the target's roles.
fn dump_target(target: &Target, out: &Path, with_data: &[String]) -> Result<()> {
    let (conninfo, password) = target.conninfo_for_tools();
    let mut c: Command = target.tool_command(crate::db::backup::pg_tool("pg_dump"));
    c.args([
        "--schema-only",
        "--no-owner",
        "--no-privileges",
        "--exclude-schema=stepgate",
        "-f",
    ])
    .arg(out)
    .arg("-d")
    .arg(&conninfo);
    if let Some(p) = &password {
        c.env("PGPASSWORD", p);
    }
    let o = c.output().map_err(fail)?;
    if !o.status.success() {
        return Err(fail(format!(
            "pg_dump --schema-only failed: {}",
            crate::db::connect::redact(&String::from_utf8_lossy(&o.stderr))
        )));
    }
    // The ledger's schema is left out, so its guard triggers (which call into it) must be too.
    let schema = std::fs::read_to_string(out).map_err(fail)?;
    std::fs::write(out, without_guard(&schema)).map_err(fail)?;
    if !with_data.is_empty() {
        let mut c: Command = target.tool_command(crate::db::backup::pg_tool("pg_dump"));
        c.args([
            "--data-only",
            "--no-owner",
            "--no-privileges",
            "--disable-triggers",
        ]);
        for t in with_data {
            c.arg(format!("--table={}", crate::db::quote_qualified(t)));
        }
        let data = out.with_extension("data.sql");
        c.arg("-f").arg(&data).arg("-d").arg(&conninfo);
        if let Some(p) = &password {
            c.env("PGPASSWORD", p);
        }
        let o = c.output().map_err(fail)?;
        if !o.status.success() {
            return Err(fail(format!(
                "pg_dump --data-only failed: {}",
                crate::db::connect::redact(&String::from_utf8_lossy(&o.stderr))
            )));
        }
        let mut text = std::fs::read_to_string(out).map_err(fail)?;
        text.push_str(&std::fs::read_to_string(&data).map_err(fail)?);
        std::fs::write(out, text).map_err(fail)?;
    }
    Ok(())
}

pub fn run(
    opts: &Options,
    source: &Source,
    with_data: &[String],
    keep: bool,
    progress: bool,
) -> Result<ScratchReport> {
    let started = Instant::now();
    let loaded = pack::load(&opts.pack)?;
    let db_name = loaded.pack.manifest.pack.target.database.clone();
    let work = tempfile::tempdir().map_err(fail)?;
    let sql = match source {
        Source::FromSql(p) => p.clone(),
        Source::FromDb => {
            let target =
                Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
            let out = work.path().join("schema.sql");
            dump_target(&target, &out, with_data)?;
            out
        }
    };
    let bar = crate::engine::progress::bar(
        progress,
        4 + 2 * loaded.pack.manifest.step.len() as u64,
        "scratch",
    );
    bar.set_message("starting a throwaway cluster");
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![],
        keep,
    })
    .map_err(fail)?;
    cluster.create_database(&db_name, None)?;
    bar.set_message("loading the schema");
    cluster.psql_file(&db_name, &sql).map_err(fail)?;
    bar.inc(1);
    let sopts = Options {
        pack: opts.pack.clone(),
        db: Some(cluster.conninfo(&db_name)),
    };
    crate::engine::ledger_cmd::install(
        &sopts,
        &InstallOptions {
            environment: Some("scratch".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: true,
        },
    )?;
    let mut session = Session::open_scratch(loaded, &sopts, "scratch")?;
    if !session.scratch {
        return Err(fail(
            "the scratch ledger label is missing; refusing to bypass gates",
        ));
    }
    let initial_snap = snapshot::take(&mut session.ledger)?;
    let initial = initial_snap.fingerprint();
    bar.inc(1);
    let pack = session.pack().clone();
    let mut rows: Vec<ScratchRow> = Vec::new();
    for step in &pack.manifest.step {
        bar.set_message(format!("apply step {}", step.id()));
        let t = Instant::now();
        let mut row = ScratchRow {
            step: step.id().to_string(),
            name: step.name.clone(),
            apply: String::new(),
            verify: "-".into(),
            rollback: "-".into(),
            apply_ms: 0,
            rollback_ms: 0,
        };
        match apply_in(
            &mut session,
            step.id(),
            &ApplyOptions {
                retries: 3,
                auto_backup: false,
                progress: false,
                ..Default::default()
            },
        ) {
            Ok(_) if step.hold => row.apply = "hold".into(),
            Ok(r) if r.committed && r.halted.is_none() => {
                row.apply = "committed".into();
                row.verify = if r.post.as_ref().is_some_and(|p| p.ok) {
                    "passed".into()
                } else {
                    "failed".into()
                };
            }
            Ok(r) => {
                row.apply = format!(
                    "failed: {}",
                    r.halted.unwrap_or_else(|| "not committed".into())
                )
            }
            Err(e) => row.apply = format!("refused: {e}"),
        }
        row.apply_ms = t.elapsed().as_millis();
        bar.inc(1);
        let stop = !(row.apply == "committed" || row.apply == "hold");
        rows.push(row);
        if stop {
            break;
        }
    }
    for row in rows.iter_mut().rev() {
        if row.apply != "committed" {
            continue;
        }
        bar.set_message(format!("roll back step {}", row.step));
        let t = Instant::now();
        row.rollback = match pack.step(&row.step) {
            Some(s) if s.one_way => "one-way door: not reversible".into(),
            _ => match crate::engine::rollback::run_in(&mut session, &row.step, false, false) {
                Ok(r) if r.iter().all(|x| x.committed) => "committed".into(),
                Ok(r) => format!(
                    "failed: {}",
                    r.iter()
                        .flat_map(|x| x.problems.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Err(e) => format!("refused: {e}"),
            },
        };
        row.rollback_ms = t.elapsed().as_millis();
        bar.inc(1);
    }
    let final_snap = snapshot::take(&mut session.ledger)?;
    let final_fp = final_snap.fingerprint();
    // What differs, less what the rollbacks keep by design (`rollback_keeps`).
    let kept: Vec<crate::core::objects::ObjectRef> = pack
        .keeps
        .iter()
        .flat_map(|(objs, _)| objs.iter().cloned())
        .collect();
    let d = crate::core::catalog::diff(&initial_snap, &final_snap);
    let is_kept = |o: &crate::core::objects::ObjectRef| {
        kept.contains(o) || o.table().is_some_and(|t| kept.iter().any(|k| k.name == t))
    };
    let differs: Vec<String> = d
        .added
        .iter()
        .map(|o| format!("+ {o}"))
        .chain(d.removed.iter().map(|o| format!("- {o}")))
        .chain(d.changed.iter().map(|c| format!("~ {}", c.object)))
        .zip(
            d.added
                .iter()
                .chain(d.removed.iter())
                .chain(d.changed.iter().map(|c| &c.object)),
        )
        .filter(|(_, o)| !is_kept(o))
        .map(|(s, _)| s)
        .collect();
    let kept_changes: Vec<String> = d
        .added
        .iter()
        .chain(d.removed.iter())
        .chain(d.changed.iter().map(|c| &c.object))
        .filter(|o| is_kept(o))
        .map(|o| o.to_string())
        .collect();
    bar.finish_and_clear();
    drop(session);
    let kept = if keep {
        let mut cluster = cluster;
        cluster.keep();
        Some(cluster.conninfo(&db_name))
    } else {
        None
    };
    Ok(ScratchReport {
        pack: pack.id().to_string(),
        source: match source {
            Source::FromDb => "target schema (pg_dump --schema-only)".into(),
            Source::FromSql(p) => p.display().to_string(),
        },
        round_trip_equal: differs.is_empty()
            && rows
                .iter()
                .all(|r| r.apply == "hold" || r.rollback == "committed"),
        differs,
        kept_by_design: kept_changes,
        initial_fingerprint: initial,
        final_fingerprint: final_fp,
        rows,
        elapsed_ms: started.elapsed().as_millis(),
        kept,
    })
}

/// A schema dump without the guard's triggers (`stepgate_guard`) and the DDL tracker's
/// (`stepgate_track`, `stepgate_track_drop`): they call functions of the ledger schema, which
/// a scratch copy gets fresh from its own install.
fn without_guard(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    let mut skipping = false;
    for line in dump.split_inclusive('\n') {
        let starts = ["stepgate_guard ", "stepgate_track ", "stepgate_track_drop "]
            .iter()
            .any(|name| {
                line.starts_with(&format!("CREATE EVENT TRIGGER {name}"))
                    || line.starts_with(&format!("ALTER EVENT TRIGGER {name}"))
            })
            || line.starts_with("CREATE TRIGGER stepgate_guard ");
        if starts {
            skipping = true;
        }
        if !skipping {
            out.push_str(line);
        }
        if skipping && line.trim_end().ends_with(';') {
            skipping = false;
        }
    }
    out
}

#[cfg(test)]
mod guard_filter_tests {
    #[test]
    fn guard_triggers_are_left_out_and_nothing_else() {
        let dump = "CREATE TABLE t (a int);\nCREATE EVENT TRIGGER stepgate_guard ON ddl_command_start\n   EXECUTE FUNCTION stepgate.guard_ddl();\nCREATE EVENT TRIGGER stepgate_track ON ddl_command_end\n   EXECUTE FUNCTION stepgate.track_ddl();\nCREATE EVENT TRIGGER stepgate_track_drop ON sql_drop\n   EXECUTE FUNCTION stepgate.track_drop();\nCREATE TRIGGER stepgate_guard BEFORE INSERT ON public.t FOR EACH STATEMENT EXECUTE FUNCTION stepgate.guard_write();\nCREATE TRIGGER keep_me BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();\n";
        let out = super::without_guard(dump);
        assert_eq!(
            out,
            "CREATE TABLE t (a int);\nCREATE TRIGGER keep_me BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION f();\n"
        );
    }
}
