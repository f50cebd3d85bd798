
use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of ciphering. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CipherError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
}

impl CipherError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &["cipher_truncated"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            CipherError::Truncated { .. } => "cipher_truncated",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Security
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            CipherError::Truncated { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CipherError::Truncated { offset } => { let _ = offset; f.write_str("input ends early") },
        }
    }
}
