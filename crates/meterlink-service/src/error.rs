//! The service's error: configuration, storage, intake and I/O failures, each with a stable
//! snake_case code (docs/errors.md, "Service").

use std::fmt;

/// A service failure.
#[derive(Debug)]
pub enum ServiceError {
    /// The configuration is invalid: where (a TOML path such as `intake.mqtt[0].url`) and why.
    Config {
        /// The TOML path of the offending value.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The store failed (connection, schema, a write that could not commit).
    Store(String),
    /// An intake failed to start (a port in use, a broker that refuses the connection...).
    Intake(String),
    /// Any other I/O failure.
    Io(String),
}

impl ServiceError {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Config { .. } => "service_config",
            ServiceError::Store(_) => "service_store",
            ServiceError::Intake(_) => "service_intake",
            ServiceError::Io(_) => "service_io",
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Config { path, reason } => write!(f, "configuration: {path}: {reason}"),
            ServiceError::Store(e) => write!(f, "store: {e}"),
            ServiceError::Intake(e) => write!(f, "intake: {e}"),
            ServiceError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServiceError {}
