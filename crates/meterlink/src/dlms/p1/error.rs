
use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of P1 text telegrams. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P1Error {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
}

impl P1Error {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &["p1_truncated"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            P1Error::Truncated { .. } => "p1_truncated",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Decode
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            P1Error::Truncated { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for P1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            P1Error::Truncated { offset } => { let _ = offset; f.write_str("input ends early") },
        }
    }
}
