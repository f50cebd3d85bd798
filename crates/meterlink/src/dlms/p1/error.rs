//! P1 text telegram errors.

use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of P1 text telegrams. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P1Error {
    /// The text ends before its `!` line (or inside the header line).
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// The text does not start with a `/` identification line.
    Header {
        /// Offset of the wrong byte.
        offset: usize,
    },
    /// A data line is not `reference(value)(value)…` (or is not UTF-8 text).
    Line {
        /// Offset of the line's first byte.
        offset: usize,
    },
    /// The CRC after `!` is not 4 hexadecimal digits.
    CrcSyntax {
        /// Offset of the byte after `!`.
        offset: usize,
    },
    /// The CRC-16 does not match the text from `/` to `!`.
    Crc {
        /// Offset of the CRC digits.
        offset: usize,
        /// The CRC the telegram carries.
        expected: u16,
        /// The CRC computed over the text.
        computed: u16,
    },
    /// Bytes other than line ends and spaces follow the end line.
    Trailing {
        /// Offset of the first such byte.
        offset: usize,
    },
}

impl P1Error {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] =
        &["p1_truncated", "p1_header", "p1_line", "p1_crc_syntax", "p1_crc", "p1_trailing"];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            P1Error::Truncated { .. } => "p1_truncated",
            P1Error::Header { .. } => "p1_header",
            P1Error::Line { .. } => "p1_line",
            P1Error::CrcSyntax { .. } => "p1_crc_syntax",
            P1Error::Crc { .. } => "p1_crc",
            P1Error::Trailing { .. } => "p1_trailing",
        }
    }

    /// Which Python exception the error becomes: a wrong CRC is a `FrameError` (a checksum, as
    /// the link layer's), the rest `DecodeError`.
    pub fn class(&self) -> ErrorClass {
        match self {
            P1Error::Crc { .. } => ErrorClass::Frame,
            _ => ErrorClass::Decode,
        }
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            P1Error::Truncated { offset }
            | P1Error::Header { offset }
            | P1Error::Line { offset }
            | P1Error::CrcSyntax { offset }
            | P1Error::Crc { offset, .. }
            | P1Error::Trailing { offset } => Some(*offset),
        }
    }
}

impl fmt::Display for P1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            P1Error::Truncated { .. } => f.write_str("P1 telegram: the text ends before its '!' line"),
            P1Error::Header { .. } => f.write_str("P1 telegram: no '/' identification line"),
            P1Error::Line { .. } => f.write_str("P1 telegram: malformed data line"),
            P1Error::CrcSyntax { .. } => f.write_str("P1 telegram: CRC after '!' is not 4 hex digits"),
            P1Error::Crc { expected, computed, .. } => {
                write!(f, "P1 telegram: CRC-16 {expected:04X} given, {computed:04X} computed")
            }
            P1Error::Trailing { .. } => f.write_str("P1 telegram: bytes after the '!' line"),
        }
    }
}

impl std::error::Error for P1Error {}
