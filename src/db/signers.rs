//! The signer registry (`stepgate.signers`): the trust root for signature gates.
//! Owned by the ledger admin; the runner role can only read it.

use postgres::GenericClient;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegisteredSigner {
    pub principal: String,
    pub key_type: String,
    pub key_base64: String,
    /// Gates this key may sign; `*` means any gate.
    pub gates: Vec<String>,
    pub added_at: String,
    pub added_by: String,
}

impl RegisteredSigner {
    pub fn may_sign(&self, gate: &str) -> bool {
        self.gates.iter().any(|g| g == "*" || g == gate)
    }
    pub fn openssh_key(&self) -> String {
        format!("{} {}", self.key_type, self.key_base64)
    }
}

pub fn list(c: &mut impl GenericClient) -> Result<Vec<RegisteredSigner>, postgres::Error> {
    let rows = c.query(
        "SELECT principal, key_type, key_base64, gates, to_char(added_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), added_by \
           FROM stepgate.signers ORDER BY principal, key_base64",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| RegisteredSigner {
            principal: r.get(0),
            key_type: r.get(1),
            key_base64: r.get(2),
            gates: r.get(3),
            added_at: r.get(4),
            added_by: r.get(5),
        })
        .collect())
}

pub fn add(
    c: &mut impl GenericClient,
    principal: &str,
    key_type: &str,
    key_base64: &str,
    gates: &[String],
) -> Result<u64, postgres::Error> {
    c.execute(
        "INSERT INTO stepgate.signers (principal, key_type, key_base64, gates) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (principal, key_base64) DO UPDATE SET gates = EXCLUDED.gates",
        &[&principal, &key_type, &key_base64, &gates],
    )
}

pub fn remove(
    c: &mut impl GenericClient,
    principal: &str,
    key_base64: Option<&str>,
) -> Result<u64, postgres::Error> {
    match key_base64 {
        Some(k) => c.execute(
            "DELETE FROM stepgate.signers WHERE principal = $1 AND key_base64 = $2",
            &[&principal, &k],
        ),
        None => c.execute(
            "DELETE FROM stepgate.signers WHERE principal = $1",
            &[&principal],
        ),
    }
}
