//! `stepgate ledger install | verify | log`.

use crate::db::connect::Target;
use crate::db::ledger::{self, Actor, ChainProblem, Event, InstallOptions, NewEvent};
use crate::engine::{Error, Options, Result};

/// The `[pack.target]` of the pack in `--pack`, when there is one (a `stepgate.toml`).
pub fn pack_target(opts: &Options) -> Result<Option<crate::core::manifest::Target>> {
    if !opts
        .pack
        .join(crate::core::manifest::MANIFEST_FILE)
        .is_file()
    {
        return Ok(None);
    }
    // Only the manifest: a pack whose step files are still being written may name its target.
    let pack = crate::core::manifest::load(&opts.pack)?;
    Ok(Some(pack.manifest.pack.target))
}

/// In a pack, the ledger goes only into the pack's target: same database name, and the
/// same cluster when the manifest names one. Refuses (wrong target) naming both.
fn check_pack_target(
    c: &mut postgres::Client,
    target: &Target,
    expected: &crate::core::manifest::Target,
) -> Result<()> {
    let r = c.query_one(
        "SELECT current_database()::text, (SELECT system_identifier::text FROM pg_control_system())",
        &[],
    )?;
    let (db, sysid): (String, String) = (r.get(0), r.get(1));
    let mut problems = Vec::new();
    if db != expected.database {
        problems.push(format!(
            "database: the pack targets `{}`, the connection is to `{db}`",
            expected.database
        ));
    }
    if let Some(want) = &expected.system_identifier {
        if want != &sysid {
            problems.push(format!(
                "system_identifier: the pack targets cluster {want}, the connection is to cluster {sysid}"
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::WrongTarget(format!(
        "refusing to install the ledger: {} is not this pack's target\n  {}\n  (connect to the pack's target, or run outside the pack to install elsewhere)",
        target.display(),
        problems.join("\n  ")
    )))
}

pub fn install(opts: &Options, install: &InstallOptions) -> Result<String> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let expected = pack_target(opts)?;
    let mut c = target
        .connect("stepgate ledger install")
        .map_err(|e| Error::Database(e.to_string()))?;
    if let Some(expected) = &expected {
        check_pack_target(&mut c, &target, expected)?;
    }
    if ledger::installed(&mut c)? {
        let env = ledger::meta(&mut c, "environment")?.unwrap_or_default();
        return Err(Error::NothingToDo(format!(
            "the ledger is already installed in {} (environment `{env}`); it is never re-created",
            target.display()
        )));
    }
    if install.guard && !crate::db::authority::is_superuser(&mut c)? {
        return Err(Error::Refused(
            "the guard is an event trigger, and only a superuser may create one: install as a superuser (or your platform's equivalent), or pass --no-guard and rely on the permit alone (see `stepgate guard --help` for what that gives up)".into(),
        ));
    }
    let sql = ledger::install_sql(install);
    let mut tx = c.transaction()?;
    tx.batch_execute(&sql)?;
    let actor = Actor::current();
    ledger::append(
        &mut tx,
        &actor,
        &NewEvent {
            pack: "-",
            verb: "install",
            result: "installed",
            details: serde_json::json!({
                "schema_version": ledger::SCHEMA_VERSION,
                "environment": install.environment,
                "runner_role": install.runner_role,
                "floor_min_signatures": install.floor_min_signatures,
                "guard": install.guard,
            }),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    Ok(target.display())
}

pub struct VerifyReport {
    pub target: String,
    pub rows: usize,
    pub problems: Vec<ChainProblem>,
}

pub fn verify(opts: &Options) -> Result<VerifyReport> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect("stepgate ledger verify")
        .map_err(|e| Error::Database(e.to_string()))?;
    if !ledger::installed(&mut c)? {
        return Err(Error::Refused(format!(
            "no stepgate ledger in {}",
            target.display()
        )));
    }
    let (rows, problems) = ledger::check(&mut c)?;
    Ok(VerifyReport {
        target: target.display(),
        rows,
        problems,
    })
}

pub fn log(opts: &Options, pack: Option<&str>) -> Result<Vec<Event>> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect("stepgate ledger log")
        .map_err(|e| Error::Database(e.to_string()))?;
    if !ledger::installed(&mut c)? {
        return Err(Error::Refused(format!(
            "no stepgate ledger in {}",
            target.display()
        )));
    }
    Ok(match pack {
        Some(p) => ledger::events_for_pack(&mut c, p)?,
        None => ledger::all_events(&mut c)?,
    })
}

/// Refuses anyone but the ledger admin (the ledger would refuse the record anyway).
fn require_admin(c: &mut postgres::Client, what: &str) -> Result<String> {
    let admin = ledger::meta(c, "admin_role")?.unwrap_or_default();
    let ok: bool = c
        .query_one(
            "SELECT $1 <> '' AND pg_catalog.pg_has_role(session_user, $1, 'MEMBER')",
            &[&admin],
        )?
        .get(0);
    if !ok {
        return Err(Error::Refused(format!(
            "only the ledger admin ({admin}) may {what}"
        )));
    }
    Ok(admin)
}

fn connect_installed(opts: &Options, verb: &str) -> Result<(Target, postgres::Client)> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect(&format!("stepgate ledger {verb}"))
        .map_err(|e| Error::Database(e.to_string()))?;
    if !ledger::installed(&mut c)? {
        return Err(Error::Refused(format!(
            "no stepgate ledger in {}",
            target.display()
        )));
    }
    Ok((target, c))
}

#[derive(Debug, serde::Serialize)]
pub struct RelabelReport {
    pub target: String,
    pub old: String,
    pub new: String,
}

/// `ledger relabel --environment NEW`: an admin act, ledgered with the old and new labels.
pub fn relabel(opts: &Options, environment: &str) -> Result<RelabelReport> {
    if environment.trim().is_empty() {
        return Err(Error::BadInput("--environment must not be empty".into()));
    }
    let (target, mut c) = connect_installed(opts, "relabel")?;
    require_admin(&mut c, "relabel the ledger")?;
    let mut tx = c.transaction()?;
    let old = ledger::meta(&mut tx, "environment")?.unwrap_or_default();
    if old == environment {
        return Err(Error::Refused(format!(
            "{} is already labelled `{environment}`",
            target.display()
        )));
    }
    tx.execute(
        "UPDATE stepgate.meta SET value = $1 WHERE key = 'environment'",
        &[&environment],
    )?;
    ledger::append(
        &mut tx,
        &Actor::current(),
        &NewEvent {
            pack: "-",
            verb: "relabel",
            result: "relabelled",
            details: serde_json::json!({"old": old, "new": environment}),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    Ok(RelabelReport {
        target: target.display(),
        old,
        new: environment.to_string(),
    })
}

#[derive(Debug, serde::Serialize)]
pub struct UninstallReport {
    pub target: String,
    pub environment: String,
    pub events: i64,
    pub head_id: String,
    pub head_hash: String,
    /// `pack/step` of every step the ledger held committed.
    pub committed_steps: Vec<String>,
    pub guard: bool,
    pub guarded_tables: Vec<String>,
    pub forced: bool,
    pub removed: bool,
}

const COMMITTED_STEPS_SQL: &str = "SELECT pack || '/' || step FROM ( \
       SELECT DISTINCT ON (pack, step) pack, step, verb FROM stepgate.events \
        WHERE fact AND step IS NOT NULL \
          AND (verb, result) IN (('apply', 'committed'), ('hold', 'reached'), ('rollback', 'committed')) \
        ORDER BY pack, step, id DESC) last \
     WHERE verb IN ('apply', 'hold') ORDER BY 1";

/// `ledger uninstall [--force]`: an admin act that removes the ledger, the guard and its
/// triggers in one transaction. It cannot ledger itself (the ledger is gone): the report,
/// with the head hash, is the record.
pub fn uninstall(opts: &Options, force: bool) -> Result<UninstallReport> {
    let (target, mut c) = connect_installed(opts, "uninstall")?;
    require_admin(&mut c, "uninstall the ledger")?;
    let mut tx = c.transaction()?;
    // Serialise with appends: nothing is recorded between the summary and the drop.
    tx.batch_execute("LOCK TABLE stepgate.meta IN EXCLUSIVE MODE")?;
    let committed: Vec<String> = tx
        .query(COMMITTED_STEPS_SQL, &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let events: i64 = tx
        .query_one("SELECT count(*) FROM stepgate.events", &[])?
        .get(0);
    let guard = !tx
        .query(
            "SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'stepgate_guard'",
            &[],
        )?
        .is_empty();
    let guarded_tables: Vec<String> = tx
        .query(
            "SELECT t.tgrelid::regclass::text FROM pg_catalog.pg_trigger t \
              WHERE t.tgname = 'stepgate_guard' AND NOT t.tgisinternal ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut report = UninstallReport {
        target: target.display(),
        environment: ledger::meta(&mut tx, "environment")?.unwrap_or_default(),
        events,
        head_id: ledger::meta(&mut tx, "head_id")?.unwrap_or_default(),
        head_hash: ledger::meta(&mut tx, "head_hash")?.unwrap_or_default(),
        committed_steps: committed,
        guard,
        guarded_tables,
        forced: force,
        removed: false,
    };
    if !report.committed_steps.is_empty() && !force {
        return Err(Error::Refused(format!(
            "refusing to uninstall the ledger of {}: {} step(s) are committed ({}); uninstalling loses {} event(s), the record of those steps{} — pass --force to uninstall anyway",
            report.target,
            report.committed_steps.len(),
            report.committed_steps.join(", "),
            report.events,
            if report.guard { " and the guard" } else { "" }
        )));
    }
    if report.guard {
        tx.batch_execute(crate::db::authority::GUARD_UNINSTALL_SQL)?;
        tx.batch_execute(crate::db::footprint::TRACKER_UNINSTALL_SQL)?;
    }
    for t in &report.guarded_tables {
        // Names come from regclass::text: already quoted where needed.
        tx.batch_execute(&format!("DROP TRIGGER IF EXISTS stepgate_guard ON {t}"))?;
    }
    tx.batch_execute("DROP SCHEMA stepgate CASCADE")?;
    tx.commit()?;
    report.removed = true;
    Ok(report)
}
