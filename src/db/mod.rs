//! Database layer: everything that talks to PostgreSQL or to its client programs.

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
