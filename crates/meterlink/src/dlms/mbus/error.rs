//! DLMS-over-M-Bus errors.

use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of DLMS over M-Bus segments. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MbusError {
    /// The input ends inside a frame (or is empty).
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// Not an FT1.2 long frame: start, length bytes, second start or stop byte wrong, or a
    /// short frame / single character where a long frame is needed.
    Frame {
        /// Offset of the wrong byte.
        offset: usize,
    },
    /// The FT1.2 checksum is wrong.
    Checksum {
        /// Offset of the checksum byte.
        offset: usize,
    },
    /// The CI field announces no DLMS/COSEM content.
    Ci {
        /// Offset of the CI field.
        offset: usize,
        /// The CI field.
        ci: u8,
    },
    /// A segment is not the next one of its message (sequence number, address or service
    /// access points differ).
    Sequence {
        /// Offset of the segment's CI field.
        offset: usize,
    },
    /// The input ends before the segment marked last.
    Incomplete {
        /// The input length.
        offset: usize,
    },
    /// Bytes follow the last segment (or a single-frame APDU).
    Trailing {
        /// Offset of the first extra byte.
        offset: usize,
    },
    /// The TPL header of a CI 60/61/7C/7D frame is cut short or announces TPL encryption.
    Tpl {
        /// Offset of the byte after the CI field.
        offset: usize,
    },
    /// A reassembled APDU would exceed the reassembler's limit.
    Overflow {
        /// The limit in bytes.
        limit: usize,
    },
    /// Segments cannot be built: a segment size outside 1..=250.
    Encode,
}

impl MbusError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &[
        "dlms_mbus_truncated",
        "dlms_mbus_frame",
        "dlms_mbus_checksum",
        "dlms_mbus_ci",
        "dlms_mbus_sequence",
        "dlms_mbus_incomplete",
        "dlms_mbus_trailing",
        "dlms_mbus_tpl",
        "dlms_mbus_overflow",
        "dlms_mbus_encode",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            MbusError::Truncated { .. } => "dlms_mbus_truncated",
            MbusError::Frame { .. } => "dlms_mbus_frame",
            MbusError::Checksum { .. } => "dlms_mbus_checksum",
            MbusError::Ci { .. } => "dlms_mbus_ci",
            MbusError::Sequence { .. } => "dlms_mbus_sequence",
            MbusError::Incomplete { .. } => "dlms_mbus_incomplete",
            MbusError::Trailing { .. } => "dlms_mbus_trailing",
            MbusError::Tpl { .. } => "dlms_mbus_tpl",
            MbusError::Overflow { .. } => "dlms_mbus_overflow",
            MbusError::Encode => "dlms_mbus_encode",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        match self {
            MbusError::Ci { .. } | MbusError::Tpl { .. } => ErrorClass::Decode,
            _ => ErrorClass::Frame,
        }
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            MbusError::Truncated { offset }
            | MbusError::Frame { offset }
            | MbusError::Checksum { offset }
            | MbusError::Ci { offset, .. }
            | MbusError::Sequence { offset }
            | MbusError::Incomplete { offset }
            | MbusError::Trailing { offset }
            | MbusError::Tpl { offset } => Some(*offset),
            MbusError::Overflow { .. } | MbusError::Encode => None,
        }
    }

    /// The same error with its offset moved by `base` (a frame's position in a reception).
    pub(crate) fn rebased(self, base: usize) -> MbusError {
        match self {
            MbusError::Truncated { offset } => MbusError::Truncated { offset: offset + base },
            MbusError::Frame { offset } => MbusError::Frame { offset: offset + base },
            MbusError::Checksum { offset } => MbusError::Checksum { offset: offset + base },
            MbusError::Ci { offset, ci } => MbusError::Ci { offset: offset + base, ci },
            MbusError::Sequence { offset } => MbusError::Sequence { offset: offset + base },
            MbusError::Incomplete { offset } => MbusError::Incomplete { offset: offset + base },
            MbusError::Trailing { offset } => MbusError::Trailing { offset: offset + base },
            MbusError::Tpl { offset } => MbusError::Tpl { offset: offset + base },
            e @ (MbusError::Overflow { .. } | MbusError::Encode) => e,
        }
    }
}

impl fmt::Display for MbusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MbusError::Truncated { .. } => f.write_str("DLMS over M-Bus: the input ends inside a frame"),
            MbusError::Frame { .. } => f.write_str("DLMS over M-Bus: not an FT1.2 long frame"),
            MbusError::Checksum { .. } => f.write_str("DLMS over M-Bus: FT1.2 checksum wrong"),
            MbusError::Ci { ci, .. } => write!(f, "DLMS over M-Bus: CI 0x{ci:02X} carries no DLMS/COSEM data"),
            MbusError::Sequence { .. } => f.write_str("DLMS over M-Bus: segment out of sequence"),
            MbusError::Incomplete { .. } => f.write_str("DLMS over M-Bus: the input ends before the last segment"),
            MbusError::Trailing { .. } => f.write_str("DLMS over M-Bus: bytes after the last segment"),
            MbusError::Tpl { .. } => {
                f.write_str("DLMS over M-Bus: TPL header cut short or with TPL encryption (not supported)")
            }
            MbusError::Overflow { limit } => write!(f, "DLMS over M-Bus: APDU longer than {limit} bytes"),
            MbusError::Encode => f.write_str("DLMS over M-Bus: segment size must be 1..=250"),
        }
    }
}

impl std::error::Error for MbusError {}
