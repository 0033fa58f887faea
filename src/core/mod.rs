//! Pure core: no network, no clock reads, no process spawning. Everything here is
//! unit-tested on plain data.

pub mod approval;
pub mod catalog;
pub mod conninfo;
pub mod duration;
pub mod effects;
pub mod error;
pub mod import;
pub mod lint;
pub mod manifest;
pub mod objects;
pub mod plan;
pub mod scope;
pub mod sql;
