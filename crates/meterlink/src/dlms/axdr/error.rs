
use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of A-XDR data. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxdrError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
}

impl AxdrError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &["axdr_truncated"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            AxdrError::Truncated { .. } => "axdr_truncated",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Decode
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            AxdrError::Truncated { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for AxdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxdrError::Truncated { offset } => { let _ = offset; f.write_str("input ends early") },
        }
    }
}
