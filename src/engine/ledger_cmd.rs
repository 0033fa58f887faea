//! `stepgate ledger install | verify | log`.

use crate::db::connect::Target;
use crate::db::ledger::{self, Actor, ChainProblem, Event, InstallOptions, NewEvent};
use crate::engine::{Error, Options, Result};

pub fn install(opts: &Options, install: &InstallOptions) -> Result<String> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect("stepgate ledger install")
        .map_err(|e| Error::Database(e.to_string()))?;
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
