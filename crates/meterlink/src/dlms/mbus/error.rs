
use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of DLMS over M-Bus segments. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MbusError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
}

impl MbusError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &["dlms_mbus_truncated"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            MbusError::Truncated { .. } => "dlms_mbus_truncated",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Frame
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            MbusError::Truncated { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for MbusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MbusError::Truncated { offset } => { let _ = offset; f.write_str("input ends early") },
        }
    }
}
