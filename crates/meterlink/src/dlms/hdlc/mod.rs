//! HDLC framing for DLMS (IEC 62056-46, ISO/IEC 13239 frame format type 3): flags, format
//! field with the segmentation bit, 1/2/4-byte addresses, control field, HCS and FCS
//! (CRC-16/X.25), the LLC header (E6 E6 00 / E6 E7 00), stream splitting and reassembly of
//! segmented frames.

mod error;

pub use error::HdlcError;

/// An HDLC address: upper (logical device) and, for client/server addresses of 2 or 4
/// bytes, lower (physical device).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HdlcAddress {
    /// The upper HDLC address.
    pub upper: u16,
    /// The lower HDLC address (None for a one-byte address).
    pub lower: Option<u16>,
    /// Bytes on the wire: 1, 2 or 4.
    pub length: u8,
}

/// One HDLC frame, borrowed from its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdlcFrame<'a> {
    /// The segmentation bit (S) of the format field.
    pub segmented: bool,
    /// The destination address.
    pub destination: HdlcAddress,
    /// The source address.
    pub source: HdlcAddress,
    /// The control field.
    pub control: u8,
    /// The information field (LLC header included), empty for frames without one.
    pub information: &'a [u8],
}

/// Parse one flagged frame (`7E … 7E`), checking the format, length, HCS and FCS.
pub fn parse_frame(buf: &[u8]) -> Result<HdlcFrame<'_>, HdlcError> {
    Err(HdlcError::Truncated { offset: buf.len() })
}
