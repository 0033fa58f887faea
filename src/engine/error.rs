//! The engine's error: every failure maps to one documented exit code.

use crate::core::error::{exit, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Malformed input: nothing was executed against the database.
    #[error("{0}")]
    Source(Box<SourceError>),
    #[error("{0}")]
    BadInput(String),
    /// A gate refused; the message says which and why.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Halted(String),
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    WrongTarget(String),
    #[error("{0}")]
    Busy(String),
    /// A check ran and failed (the report has already been printed).
    #[error("{0}")]
    Failed(String),
    /// An idempotent repeat: the wanted end state already holds (exit 0, "nothing to do").
    #[error("{0}")]
    NothingToDo(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Source(_) | Error::BadInput(_) => exit::BAD_INPUT,
            Error::Refused(_) => exit::REFUSED,
            Error::Halted(_) => exit::HALTED,
            Error::Database(_) => exit::DATABASE,
            Error::WrongTarget(_) => exit::WRONG_TARGET,
            Error::Busy(_) => exit::BUSY,
            Error::Failed(_) => exit::FAILED,
            Error::NothingToDo(_) => exit::OK,
        }
    }
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Self {
        Error::Source(Box::new(e))
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::Database(crate::db::describe_pg_error(&e))
    }
}
