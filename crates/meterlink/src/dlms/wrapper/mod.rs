//! The TCP/UDP wrapper (IEC 62056-47 / Green Book 7.3.3.2): version, source and destination
//! wPort, length.
//!
//! ```text
//! version(2) = 0x0001 | source wPort(2) | destination wPort(2) | length(2) | APDU (length bytes)
//! ```
//! All fields big-endian.

mod error;

pub use error::WrapperError;

/// The wrapper protocol version (IEC 62056-47 6.2).
pub const VERSION: u16 = 1;
/// Bytes in the wrapper header.
pub const HEADER_LEN: usize = 8;

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

impl WrapperHeader {
    /// The header's 8 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        for (i, v) in [self.version, self.source_wport, self.destination_wport, self.length].iter().enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

fn be16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([buf[at], buf[at + 1]])
}

/// Read the header at the start of `buf` (the version checked), without the length check.
pub fn parse_header(buf: &[u8]) -> Result<WrapperHeader, WrapperError> {
    if buf.len() < HEADER_LEN {
        return Err(WrapperError::Truncated { offset: buf.len() });
    }
    let version = be16(buf, 0);
    if version != VERSION {
        return Err(WrapperError::Version { offset: 0, version });
    }
    Ok(WrapperHeader { version, source_wport: be16(buf, 2), destination_wport: be16(buf, 4), length: be16(buf, 6) })
}

/// How many bytes the wrapper frame at the start of `buf` occupies (header and APDU), from its
/// header alone; None if the header is incomplete. For cutting a TCP stream into frames.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    (buf.len() >= HEADER_LEN).then(|| HEADER_LEN + usize::from(be16(buf, 6)))
}

/// Split a wrapper frame into its header and the APDU, checking the length.
pub fn parse(buf: &[u8]) -> Result<(WrapperHeader, &[u8]), WrapperError> {
    let h = parse_header(buf)?;
    let end = HEADER_LEN + usize::from(h.length);
    if buf.len() < end {
        return Err(WrapperError::Truncated { offset: buf.len() });
    }
    if buf.len() > end {
        return Err(WrapperError::Trailing { offset: end });
    }
    Ok((h, &buf[HEADER_LEN..]))
}

/// Build a wrapper frame (version 1) around `apdu`.
pub fn encode(source_wport: u16, destination_wport: u16, apdu: &[u8]) -> Result<Vec<u8>, WrapperError> {
    let length = u16::try_from(apdu.len()).map_err(|_| WrapperError::Encode)?;
    let h = WrapperHeader { version: VERSION, source_wport, destination_wport, length };
    let mut out = Vec::with_capacity(HEADER_LEN + apdu.len());
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(apdu);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_errors() {
        let f = encode(0x10, 0x01, &[0xC0, 0x01]).unwrap();
        assert_eq!(f, [0, 1, 0, 0x10, 0, 1, 0, 2, 0xC0, 0x01]);
        let (h, apdu) = parse(&f).unwrap();
        assert_eq!((h.source_wport, h.destination_wport, h.length, apdu), (0x10, 1, 2, &[0xC0, 0x01][..]));
        assert_eq!(h.to_bytes(), f[..8]);
        assert_eq!(frame_len(&f), Some(10));
        assert_eq!(parse(&f[..9]).unwrap_err(), WrapperError::Truncated { offset: 9 });
        assert_eq!(parse(&f[..5]).unwrap_err(), WrapperError::Truncated { offset: 5 });
        let mut long = f.clone();
        long.push(0);
        assert_eq!(parse(&long).unwrap_err(), WrapperError::Trailing { offset: 10 });
        let mut v = f.clone();
        v[1] = 2;
        assert_eq!(parse(&v).unwrap_err().code(), "wrapper_version");
        assert_eq!(encode(1, 1, &vec![0; 65536]).unwrap_err().code(), "wrapper_encode");
    }
}
