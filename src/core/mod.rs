//! Pure core: no network, no clock reads, no process spawning. Everything here is
//! unit-tested on plain data.

pub mod catalog;
pub mod objects;
