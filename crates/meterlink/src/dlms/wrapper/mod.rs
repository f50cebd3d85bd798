//! The TCP/UDP wrapper (IEC 62056-47): version, source and destination wPort, length.

mod error;

pub use error::WrapperError;

/// The 8-byte wrapper header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WrapperHeader {
    /// Protocol version (1).
    pub version: u16,
    /// Source wPort.
    pub source_wport: u16,
    /// Destination wPort.
    pub destination_wport: u16,
    /// Length of the APDU that follows.
    pub length: u16,
}

/// Split a wrapper frame into its header and the APDU, checking the length.
pub fn parse(buf: &[u8]) -> Result<(WrapperHeader, &[u8]), WrapperError> {
    Err(WrapperError::Truncated { offset: buf.len() })
}
