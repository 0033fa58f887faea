//! Engine: one file per verb, each a short composition of the core and the database layer.

pub mod error;
pub mod init;
pub mod lint;
pub mod pack;

pub use error::{Error, Result};
