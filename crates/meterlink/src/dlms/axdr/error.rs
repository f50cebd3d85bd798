use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of A-XDR data. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AxdrError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start (the end of the input).
        offset: usize,
    },
    /// A Data tag that the Blue Book's `Data` CHOICE does not define.
    UnknownTag {
        /// Where the tag is.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A length field that is not A-XDR's: `0x80` alone, more than 4 length octets, a value
    /// that does not fit, or a long form where the short (or a shorter) form was due.
    BadLength {
        /// Where the length field starts.
        offset: usize,
    },
    /// A boolean octet other than 0x00 or 0x01.
    BadBoolean {
        /// Where the octet is.
        offset: usize,
    },
    /// Arrays/structures (or type descriptions) nested deeper than [`super::MAX_DEPTH`].
    TooDeep {
        /// Where the item that is one level too deep starts.
        offset: usize,
    },
    /// A compact-array type description that is not valid (an unknown or nested
    /// compact-array type, or an element that would take no octets).
    BadTypeDescription {
        /// Where the offending description starts.
        offset: usize,
    },
    /// A compact-array whose contents do not fill its contents-length exactly.
    CompactArrayLength {
        /// Where the element that overruns the contents starts.
        offset: usize,
    },
    /// Octets after the one Data item (`decode_data_exact` only).
    TrailingBytes {
        /// Where the trailing octets start.
        offset: usize,
    },
}

impl AxdrError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &[
        "axdr_truncated",
        "axdr_unknown_tag",
        "axdr_bad_length",
        "axdr_bad_boolean",
        "axdr_too_deep",
        "axdr_bad_type_description",
        "axdr_compact_array_length",
        "axdr_trailing_bytes",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            AxdrError::Truncated { .. } => "axdr_truncated",
            AxdrError::UnknownTag { .. } => "axdr_unknown_tag",
            AxdrError::BadLength { .. } => "axdr_bad_length",
            AxdrError::BadBoolean { .. } => "axdr_bad_boolean",
            AxdrError::TooDeep { .. } => "axdr_too_deep",
            AxdrError::BadTypeDescription { .. } => "axdr_bad_type_description",
            AxdrError::CompactArrayLength { .. } => "axdr_compact_array_length",
            AxdrError::TrailingBytes { .. } => "axdr_trailing_bytes",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Decode
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            AxdrError::Truncated { offset }
            | AxdrError::UnknownTag { offset, .. }
            | AxdrError::BadLength { offset }
            | AxdrError::BadBoolean { offset }
            | AxdrError::TooDeep { offset }
            | AxdrError::BadTypeDescription { offset }
            | AxdrError::CompactArrayLength { offset }
            | AxdrError::TrailingBytes { offset } => Some(*offset),
        }
    }

    /// The same error with its offset moved by `base` (for a buffer embedded in a larger one).
    pub fn rebased(self, base: usize) -> AxdrError {
        let mut e = self;
        match &mut e {
            AxdrError::Truncated { offset }
            | AxdrError::UnknownTag { offset, .. }
            | AxdrError::BadLength { offset }
            | AxdrError::BadBoolean { offset }
            | AxdrError::TooDeep { offset }
            | AxdrError::BadTypeDescription { offset }
            | AxdrError::CompactArrayLength { offset }
            | AxdrError::TrailingBytes { offset } => *offset += base,
        }
        e
    }
}

impl fmt::Display for AxdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxdrError::Truncated { .. } => f.write_str("A-XDR data ends early"),
            AxdrError::UnknownTag { tag, .. } => write!(f, "unknown A-XDR Data tag {tag}"),
            AxdrError::BadLength { .. } => f.write_str("invalid A-XDR length field"),
            AxdrError::BadBoolean { .. } => f.write_str("boolean octet is neither 0x00 nor 0x01"),
            AxdrError::TooDeep { .. } => f.write_str("A-XDR data nested too deep"),
            AxdrError::BadTypeDescription { .. } => {
                f.write_str("invalid compact-array type description")
            }
            AxdrError::CompactArrayLength { .. } => {
                f.write_str("compact-array contents do not match their length")
            }
            AxdrError::TrailingBytes { .. } => f.write_str("octets after the A-XDR Data item"),
        }
    }
}
