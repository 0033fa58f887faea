//! Engine: one file per verb, each a short composition of the core and the database layer.

pub mod error;
pub mod init;
pub mod ledger_cmd;
pub mod lint;
pub mod pack;
pub mod preflight;
pub mod rehearse;
pub mod session;
pub mod status;
pub mod step_run;

pub use error::{Error, Result};
pub use session::Options;
