//! HDLC framing errors (IEC 62056-46).

use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of HDLC framing (IEC 62056-46). Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HdlcError {
    /// The input ends before the frame its format field announces does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// The opening or closing flag (0x7E) is missing.
    Flag {
        /// Where the flag should be.
        offset: usize,
    },
    /// The format field is not frame format type 3 (0xA in its high nibble).
    Format {
        /// Offset of the format field.
        offset: usize,
    },
    /// The frame length field cannot hold the header and check sequences.
    Length {
        /// Offset of the format field.
        offset: usize,
    },
    /// Bytes follow the closing flag.
    Trailing {
        /// Offset of the first byte after the closing flag.
        offset: usize,
    },
    /// An address is not 1, 2 or 4 bytes long (extension bit), or does not end in the header.
    Address {
        /// Offset of the address's first byte.
        offset: usize,
    },
    /// The control field is none of I, RR, RNR, SNRM, DISC, UA, DM, FRMR, UI.
    Control {
        /// Offset of the control field.
        offset: usize,
        /// The control byte.
        control: u8,
    },
    /// The header check sequence is wrong.
    Hcs {
        /// Offset of the HCS.
        offset: usize,
    },
    /// The frame check sequence is wrong.
    Fcs {
        /// Offset of the FCS.
        offset: usize,
    },
    /// The information field does not start with an LLC header (E6 E6 00 or E6 E7 00).
    Llc {
        /// Offset of the information field.
        offset: usize,
    },
    /// A reassembled information field would exceed the reassembler's limit.
    Overflow {
        /// The limit in bytes.
        limit: usize,
    },
    /// A frame cannot be built: an address out of range or an information field too long.
    Encode {
        /// What is out of range.
        what: &'static str,
    },
}

impl HdlcError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &[
        "hdlc_truncated",
        "hdlc_flag",
        "hdlc_format",
        "hdlc_length",
        "hdlc_trailing",
        "hdlc_address",
        "hdlc_control",
        "hdlc_hcs",
        "hdlc_fcs",
        "hdlc_llc",
        "hdlc_overflow",
        "hdlc_encode",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            HdlcError::Truncated { .. } => "hdlc_truncated",
            HdlcError::Flag { .. } => "hdlc_flag",
            HdlcError::Format { .. } => "hdlc_format",
            HdlcError::Length { .. } => "hdlc_length",
            HdlcError::Trailing { .. } => "hdlc_trailing",
            HdlcError::Address { .. } => "hdlc_address",
            HdlcError::Control { .. } => "hdlc_control",
            HdlcError::Hcs { .. } => "hdlc_hcs",
            HdlcError::Fcs { .. } => "hdlc_fcs",
            HdlcError::Llc { .. } => "hdlc_llc",
            HdlcError::Overflow { .. } => "hdlc_overflow",
            HdlcError::Encode { .. } => "hdlc_encode",
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::Frame
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            HdlcError::Truncated { offset }
            | HdlcError::Flag { offset }
            | HdlcError::Format { offset }
            | HdlcError::Length { offset }
            | HdlcError::Trailing { offset }
            | HdlcError::Address { offset }
            | HdlcError::Control { offset, .. }
            | HdlcError::Hcs { offset }
            | HdlcError::Fcs { offset }
            | HdlcError::Llc { offset } => Some(*offset),
            HdlcError::Overflow { .. } | HdlcError::Encode { .. } => None,
        }
    }
}

impl fmt::Display for HdlcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HdlcError::Truncated { .. } => f.write_str("HDLC frame: the input ends before the frame length"),
            HdlcError::Flag { .. } => f.write_str("HDLC frame: flag 0x7E missing"),
            HdlcError::Format { .. } => f.write_str("HDLC frame: format field is not frame format type 3 (0xA)"),
            HdlcError::Length { .. } => f.write_str("HDLC frame: frame length too small for its header"),
            HdlcError::Trailing { .. } => f.write_str("HDLC frame: bytes after the closing flag"),
            HdlcError::Address { .. } => f.write_str("HDLC frame: address is not 1, 2 or 4 bytes long"),
            HdlcError::Control { control, .. } => write!(f, "HDLC frame: unknown control field 0x{control:02X}"),
            HdlcError::Hcs { .. } => f.write_str("HDLC frame: header check sequence (HCS) wrong"),
            HdlcError::Fcs { .. } => f.write_str("HDLC frame: frame check sequence (FCS) wrong"),
            HdlcError::Llc { .. } => f.write_str("HDLC frame: information field has no LLC header (E6 E6 00 / E6 E7 00)"),
            HdlcError::Overflow { limit } => write!(f, "HDLC reassembly: message longer than {limit} bytes"),
            HdlcError::Encode { what } => write!(f, "HDLC frame cannot be built: {what}"),
        }
    }
}

impl std::error::Error for HdlcError {}
