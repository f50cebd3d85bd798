
use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of HDLC framing (IEC 62056-46). Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HdlcError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
}

impl HdlcError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &["hdlc_truncated"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            HdlcError::Truncated { .. } => "hdlc_truncated",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Frame
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            HdlcError::Truncated { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for HdlcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HdlcError::Truncated { offset } => { let _ = offset; f.write_str("input ends early") },
        }
    }
}
