//! `stepgate guard status | install | uninstall | protect | break-glass`: the admin's view
//! of the guard, the event trigger that refuses DDL by guarded roles (the runner at
//! least) and the triggers that refuse their writes to guarded tables, unless the
//! statement is one the current permit admits.
//!
//! What it cannot stop is said by `status` for the roles it guards: a superuser, a role
//! allowed to set `session_replication_role` (which silences triggers), a member of the
//! ledger admin role. Event triggers never fire for databases, roles or tablespaces.

use crate::db::authority;
use crate::db::connect::Target;
use crate::db::ledger::{self, Actor, NewEvent};
use crate::engine::{Error, Options, Result};
use postgres::Client;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct GuardedRole {
    pub role: String,
    pub mode: String,
    /// What lets this role walk around the guard, if anything.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GuardStatus {
    pub target: String,
    pub installed: bool,
    pub enabled: bool,
    pub roles: Vec<GuardedRole>,
    pub tables: Vec<String>,
    /// The DDL tracker (installed with the guard) fires in this session: rehearsals and
    /// applies prove their catalog delta without a catalog pass.
    pub ddl_tracker: bool,
}

fn connect(opts: &Options, what: &str) -> Result<(Target, Client)> {
    let target = Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
    let mut c = target
        .connect(&format!("stepgate guard {what}"))
        .map_err(|e| Error::Database(e.to_string()))?;
    if !ledger::installed(&mut c)? {
        return Err(Error::Refused(format!(
            "no stepgate ledger in {}: the guard is installed with it (`stepgate ledger install`)",
            target.display()
        )));
    }
    Ok((target, c))
}

pub fn status(opts: &Options) -> Result<GuardStatus> {
    let (target, mut c) = connect(opts, "status")?;
    let trig = c.query(
        "SELECT evtenabled <> 'D' FROM pg_catalog.pg_event_trigger WHERE evtname = 'stepgate_guard'",
        &[],
    )?;
    let admin = ledger::meta(&mut c, "admin_role")?.unwrap_or_default();
    let rows = c.query(
        "SELECT g.role::text, g.mode, coalesce(r.rolsuper, false), coalesce(r.rolcreaterole, false), \
                coalesce(r.rolreplication, false), coalesce(r.rolbypassrls, false), r.oid IS NULL, \
                CASE WHEN r.oid IS NULL THEN false \
                     ELSE pg_catalog.has_parameter_privilege(g.role::text, 'session_replication_role', 'SET') END, \
                CASE WHEN r.oid IS NULL OR $1 = '' THEN false \
                     ELSE pg_catalog.pg_has_role(g.role::text, $1, 'MEMBER') END \
           FROM stepgate.guard_roles g LEFT JOIN pg_catalog.pg_roles r ON r.rolname = g.role ORDER BY 1",
        &[&admin],
    )?;
    let roles =
        rows.iter()
            .map(|r| {
                let mut w = Vec::new();
                let flags: [(usize, &str); 6] = [
                (2, "is a superuser: the guard cannot stop it"),
                (3, "has CREATEROLE: it can create roles the guard does not know"),
                (4, "has REPLICATION"),
                (6, "does not exist"),
                (7, "may SET session_replication_role = replica, which silences the write guard"),
                (8, "is a member of the ledger admin role: it can change the guard itself"),
            ];
                for (i, msg) in flags {
                    if r.get::<_, bool>(i) {
                        w.push(msg.to_string());
                    }
                }
                GuardedRole {
                    role: r.get(0),
                    mode: r.get(1),
                    warnings: w,
                }
            })
            .collect();
    let tables = c
        .query(
            "SELECT rel::text FROM stepgate.guarded_tables ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(GuardStatus {
        target: target.display(),
        installed: !trig.is_empty(),
        enabled: trig.first().is_some_and(|r| r.get(0)),
        roles,
        tables,
        ddl_tracker: crate::db::footprint::tracker_ready(&mut c)?,
    })
}

/// What an admin act changes.
pub enum Change<'a> {
    Install { roles: &'a [String] },
    Uninstall,
    Protect { tables: &'a [String] },
    BreakGlass { role: &'a str },
}

/// Runs one admin act and ledgers it (the ledger refuses the record from anyone but the admin).
pub fn change(opts: &Options, what: Change<'_>) -> Result<String> {
    let (target, mut c) = connect(opts, "change")?;
    let (sql, verb, details) = match &what {
        Change::Install { roles } => {
            if !authority::is_superuser(&mut c)? {
                return Err(Error::Refused(
                    "only a superuser may create the guard's event trigger".into(),
                ));
            }
            let mut sql = String::from(authority::GUARD_UNINSTALL_SQL);
            sql.push_str(crate::db::footprint::TRACKER_UNINSTALL_SQL);
            sql.push_str(authority::GUARD_TRIGGER_SQL);
            sql.push_str(crate::db::footprint::TRACKER_TRIGGERS_SQL);
            for r in *roles {
                sql.push_str(&authority::guarded_role_sql(r));
            }
            (sql, "installed", serde_json::json!({"roles": roles}))
        }
        Change::Uninstall => (
            format!(
                "{}{}",
                authority::GUARD_UNINSTALL_SQL,
                crate::db::footprint::TRACKER_UNINSTALL_SQL
            ),
            "uninstalled",
            serde_json::json!({}),
        ),
        Change::Protect { tables } => {
            let sql = tables
                .iter()
                .map(|t| {
                    format!(
                        "SELECT stepgate.guard_table({}::regclass);\n",
                        crate::db::quote_literal(t)
                    )
                })
                .collect();
            (sql, "protected", serde_json::json!({"tables": tables}))
        }
        Change::BreakGlass { role } => (
            format!(
                "INSERT INTO stepgate.guard_roles (role, mode) VALUES ({}, 'break-glass') ON CONFLICT (role) DO UPDATE SET mode = 'break-glass';\n",
                crate::db::quote_literal(role)
            ),
            "break-glass",
            serde_json::json!({"role": role}),
        ),
    };
    let mut tx = c.transaction()?;
    tx.batch_execute(&sql)?;
    // The admin's own change to the catalog (event triggers, a table's guard trigger) is
    // not drift: the baseline starts again from it.
    tx.batch_execute(crate::db::baseline::REBASELINE_SQL)?;
    ledger::append(
        &mut tx,
        &Actor::current(),
        &NewEvent {
            pack: "-",
            verb: "guard",
            result: verb,
            details,
            ..Default::default()
        },
    )?;
    tx.commit()?;
    Ok(target.display())
}
