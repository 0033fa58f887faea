//! Database layer: everything that talks to PostgreSQL or to its client programs.

pub mod backup;
pub mod cluster;
pub mod snapshot;

/// Quotes an identifier for SQL text: every identifier that comes from a manifest goes through here.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Quotes a `schema.name` (already split on the unquoted dot) for SQL text.
pub fn quote_qualified(name: &str) -> String {
    crate::core::objects::split_dotted(name)
        .iter()
        .map(|p| quote_ident(&crate::core::objects::normalize_ident(p)))
        .collect::<Vec<_>>()
        .join(".")
}

/// Quotes a string literal.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub mod authority;
pub mod baseline;
pub mod connect;
pub mod delta;
pub mod footprint;
pub mod identity;
pub mod ledger;
pub mod signers;

/// A server error as "SQLSTATE: message (detail; hint)", never including connection secrets.
pub fn describe_pg_error(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.code().code(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" (detail: {d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" (hint: {h})"));
        }
        s
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s.push_str(&format!(": {inner}"));
            src = inner.source();
        }
        connect::redact(&s)
    }
}
