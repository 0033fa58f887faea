//! stepgate: governed PostgreSQL changes.
//!
//! Layering (see docs/architecture.md): `core` (pure) → `db` (PostgreSQL) →
//! `engine` (the verbs) → `cli` (arguments and rendering). Data flows one way.

pub mod cli;
pub mod core;
pub mod db;
pub mod engine;
