//! Wrapper errors (IEC 62056-47).

use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of the TCP/UDP wrapper (IEC 62056-47). Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrapperError {
    /// The input ends before the header or the APDU its length field announces.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// The version field is not 0x0001.
    Version {
        /// Offset of the version field.
        offset: usize,
        /// The version found.
        version: u16,
    },
    /// Bytes follow the APDU the length field announces.
    Trailing {
        /// Offset of the first byte after the APDU.
        offset: usize,
    },
    /// A frame cannot be built: the APDU is longer than 65535 bytes.
    Encode,
}

impl WrapperError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] =
        &["wrapper_truncated", "wrapper_version", "wrapper_trailing", "wrapper_encode"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            WrapperError::Truncated { .. } => "wrapper_truncated",
            WrapperError::Version { .. } => "wrapper_version",
            WrapperError::Trailing { .. } => "wrapper_trailing",
            WrapperError::Encode => "wrapper_encode",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Frame
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            WrapperError::Truncated { offset }
            | WrapperError::Version { offset, .. }
            | WrapperError::Trailing { offset } => Some(*offset),
            WrapperError::Encode => None,
        }
    }
}

impl fmt::Display for WrapperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WrapperError::Truncated { .. } => {
                f.write_str("wrapper: the input ends before the header or the length it announces")
            }
            WrapperError::Version { version, .. } => write!(f, "wrapper: version {version}, expected 1"),
            WrapperError::Trailing { .. } => f.write_str("wrapper: bytes after the APDU the length field announces"),
            WrapperError::Encode => f.write_str("wrapper: APDU longer than 65535 bytes"),
        }
    }
}

impl std::error::Error for WrapperError {}
