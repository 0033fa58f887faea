//! The authority inside PostgreSQL: permits, facts, halts and the guard.
//!
//! The SQL (`sql/authority.sql`, with the sshsig verifiers in `sql/ed25519.sql`, `sql/rsa.sql`
//! and `sql/ecdsa.sql`)
//! is installed with the ledger and owned by the ledger admin. This module is the
//! client's side of it: asking for a permit, noting measurements, halting, resuming,
//! installing and inspecting the guard.

use crate::core::plan::Plan;
use crate::db::ledger::Actor;
use postgres::GenericClient;

pub const AUTHORITY_SQL: &str = include_str!("sql/authority.sql");
/// The signature verifiers: sshsig parsing and ed25519 (`ed25519.sql`), RSA (`rsa.sql`) and
/// ECDSA (`ecdsa.sql`), installed together (`stepgate.sshsig_verify` dispatches to all three).
pub const ED25519_SQL: &str = concat!(
    include_str!("sql/ed25519.sql"),
    include_str!("sql/rsa.sql"),
    include_str!("sql/ecdsa.sql")
);

/// Approvals offered to the server: statement texts and their armored signatures, paired.
#[derive(Debug, Clone, Default)]
pub struct Offered {
    pub statements: Vec<String>,
    pub signatures: Vec<String>,
}

/// Creates the pack's state row (idempotent), in its own committed statement: before any
/// step transaction opens.
pub fn register_pack(c: &mut impl GenericClient, pack: &str) -> Result<(), postgres::Error> {
    c.execute("SELECT stepgate.pack_register($1)", &[&pack])?;
    Ok(())
}

/// Asks the server for the permit to run `plan` in the current transaction (or, for a
/// transaction-less step, this session). Errors when the server refuses.
pub fn authorize(
    c: &mut impl GenericClient,
    plan: &Plan,
    offered: &Offered,
    run_id: &str,
    actor: &Actor,
) -> Result<i64, postgres::Error> {
    let row = c.query_one(
        "SELECT stepgate.authorize($1, $2, $3, $4, $5, $6)",
        &[
            &plan.canonical(),
            &offered.statements,
            &offered.signatures,
            &run_id,
            &actor.os_user,
            &actor.host,
        ],
    )?;
    Ok(row.get(0))
}

/// A permit that admits the plan's statements in this transaction and makes it unable
/// to commit.
pub fn rehearsal_permit(c: &mut impl GenericClient, plan: &Plan) -> Result<i64, postgres::Error> {
    Ok(
        c.query_one("SELECT stepgate.rehearsal_permit($1)", &[&plan.canonical()])?
            .get(0),
    )
}

/// Keeps the client's measurements with the permit (shown in the fact as a claim).
pub fn note(
    c: &mut impl GenericClient,
    details: &serde_json::Value,
) -> Result<(), postgres::Error> {
    c.execute(
        "SELECT stepgate.permit_note($1::text::jsonb)",
        &[&details.to_string()],
    )?;
    Ok(())
}

/// Closes a transaction-less step's session permit; returns the fact's id.
pub fn finish_session(c: &mut impl GenericClient) -> Result<i64, postgres::Error> {
    Ok(c.query_one("SELECT stepgate.finish_session_permit()", &[])?
        .get(0))
}

/// Records a halt as a fact; returns its event id.
pub fn halt(
    c: &mut impl GenericClient,
    pack: &str,
    step: Option<&str>,
    reason: &str,
    actor: &Actor,
    run_id: &str,
    details: &serde_json::Value,
) -> Result<i64, postgres::Error> {
    Ok(c.query_one(
        "SELECT stepgate.halt($1, $2, $3, $4, $5, $6, $7::text::jsonb)",
        &[
            &pack,
            &step,
            &reason,
            &actor.os_user,
            &actor.host,
            &run_id,
            &details.to_string(),
        ],
    )?
    .get(0))
}

/// Lifts the halt the resume plan names, when its approvals verify on the server.
pub fn resume(
    c: &mut impl GenericClient,
    plan: &Plan,
    offered: &Offered,
    run_id: &str,
    actor: &Actor,
) -> Result<i64, postgres::Error> {
    Ok(c.query_one(
        "SELECT stepgate.resume($1, $2, $3, $4, $5, $6)",
        &[
            &plan.canonical(),
            &offered.statements,
            &offered.signatures,
            &run_id,
            &actor.os_user,
            &actor.host,
        ],
    )?
    .get(0))
}

/// The halt in force for a pack (its fact's id), read from the admin-owned state.
pub fn halt_in_force(
    c: &mut impl GenericClient,
    pack: &str,
) -> Result<Option<i64>, postgres::Error> {
    let rows = c.query(
        "SELECT halt_event FROM stepgate.pack_state WHERE pack = $1 AND halted",
        &[&pack],
    )?;
    Ok(rows
        .first()
        .map(|r| r.get::<_, Option<i64>>(0).unwrap_or(0)))
}

/// The guard's event trigger. The DDL tracker's (`db::footprint`) come and go with it: both
/// take a superuser to create.
pub const GUARD_TRIGGER_SQL: &str =
    "CREATE EVENT TRIGGER stepgate_guard ON ddl_command_start EXECUTE FUNCTION stepgate.guard_ddl();\n";

/// Puts a role under the guard.
pub fn guarded_role_sql(role: &str) -> String {
    format!(
        "INSERT INTO stepgate.guard_roles (role, mode) VALUES ({}, 'guarded') ON CONFLICT (role) DO UPDATE SET mode = 'guarded';\n",
        crate::db::quote_literal(role)
    )
}

/// The SQL that installs the guard with the ledger: the event trigger, the runner guarded.
pub fn guard_install_sql(runner_role: Option<&str>) -> String {
    let mut sql = String::from(GUARD_TRIGGER_SQL);
    sql.push_str(crate::db::footprint::TRACKER_TRIGGERS_SQL);
    if let Some(r) = runner_role {
        sql.push_str(&guarded_role_sql(r));
    }
    sql
}

pub fn is_superuser(c: &mut impl GenericClient) -> Result<bool, postgres::Error> {
    Ok(c.query_one(
        "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
        &[],
    )?
    .get(0))
}

pub const GUARD_UNINSTALL_SQL: &str = "DROP EVENT TRIGGER IF EXISTS stepgate_guard;\n";
