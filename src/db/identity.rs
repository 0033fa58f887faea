//! The target identity guard: before any statement of a pack runs, the connected
//! database must be the one the pack names — by name, by the environment label the
//! ledger stores, and by the cluster's system identifier when the pack gives one.

use crate::core::manifest::Target;
use postgres::GenericClient;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub database: String,
    pub environment: Option<String>,
    pub system_identifier: String,
    pub server_version: String,
    pub role: String,
}

pub fn read(client: &mut impl GenericClient) -> Result<Identity, postgres::Error> {
    let r = client.query_one(
        "SELECT current_database()::text, (SELECT system_identifier::text FROM pg_control_system()), \
                current_setting('server_version'), current_user::text",
        &[],
    )?;
    let environment = if crate::db::ledger::installed(client)? {
        crate::db::ledger::meta(client, "environment")?.filter(|e| !e.is_empty())
    } else {
        None
    };
    Ok(Identity {
        database: r.get(0),
        system_identifier: r.get(1),
        server_version: r.get(2),
        role: r.get(3),
        environment,
    })
}

/// Every field that differs, as "field: expected X, connected database has Y".
pub fn mismatches(target: &Target, id: &Identity) -> Vec<String> {
    let mut out = Vec::new();
    if target.database != id.database {
        out.push(format!(
            "database: the pack targets `{}`, the connection is to `{}`",
            target.database, id.database
        ));
    }
    if let Some(env) = &target.environment {
        match &id.environment {
            Some(have) if have == env => {}
            Some(have) => out.push(format!("environment: the pack targets `{env}`, this database is labelled `{have}`")),
            // Suggest installing a ledger only in the pack's own database.
            None if target.database == id.database => out.push(format!(
                "environment: the pack targets `{env}`, this database carries no label (install the ledger with `stepgate ledger install --environment {env}`)"
            )),
            None => out.push(format!(
                "environment: the pack targets `{env}`, this database carries no label"
            )),
        }
    }
    if let Some(sysid) = &target.system_identifier {
        if sysid != &id.system_identifier {
            out.push(format!(
                "system_identifier: the pack targets cluster {sysid}, the connection is to cluster {}",
                id.system_identifier
            ));
        }
    }
    out
}
