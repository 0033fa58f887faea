//! Engine: one file per verb, each a short composition of the core and the database layer.

pub mod apply;
pub mod apply_report;
pub mod approve;
pub mod backup;
pub mod batch;
pub mod error;
pub mod evidence;
pub mod fault;
pub mod freeze;
pub mod gates;
pub mod guard_cmd;
pub mod halt;
pub mod import;
pub mod init;
pub mod ledger_cmd;
pub mod lint;
pub mod locks;
pub mod measure;
pub mod new_step;
pub mod nontx;
pub mod pack;
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod rehearse;
pub mod restore;
pub mod review;
pub mod rollback;
pub mod scratch;
pub mod session;
pub mod signers_cmd;
pub mod status;
pub mod step_tx;
pub mod verify;

pub use error::{Error, Result};
pub use session::Options;
