//! EN 13757-7 transport layer (TPL): CI field (clause 5.2), short and long headers (clause 7),
//! application errors, and the legacy EN 1434-3 fixed data structure.

pub mod ci;
pub mod device;
pub mod fixed;

pub use ci::{lookup as ci_info, CiHeader, CiInfo, CiPayload};
pub use device::{device_type_name, id_to_string, manufacturer_to_str, Status};

use std::fmt;

pub use crate::address::Address;

/// The text renderings of an address (the type itself is [`super::address::Address`]).
impl Address {
    /// The identification number as printed on the meter (BCD digits, most significant first).
    pub fn id_string(&self) -> String {
        id_to_string(self.id)
    }
    /// The manufacturer as its three letters (EN 13757-3 FLAG association).
    pub fn manufacturer_string(&self) -> String {
        String::from_utf8_lossy(&manufacturer_to_str(self.manufacturer)).into_owned()
    }
}

/// Which TPL header a telegram has (EN 13757-7 clause 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    /// No TPL header.
    None,
    /// Short header: ACC, STS, CFG(2).
    Short,
    /// Long header: ID(4), M(2), VER, TYPE, ACC, STS, CFG(2).
    Long,
}

/// A parsed short or long TPL header (or the absence of one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TplHeader {
    /// Short, long or no header.
    pub kind: HeaderKind,
    /// Only for long headers.
    pub address: Option<Address>,
    /// Access number (ACC, EN 13757-7 7.5.5). 0 without a header.
    pub access_number: u8,
    /// Status byte (STS, EN 13757-7 7.5.6; see [`Status`]). 0 without a header.
    pub status: u8,
    /// Configuration field (EN 13757-7 7.5.8), LE on the wire. 0 without a header.
    pub config: u16,
}

impl TplHeader {
    /// No TPL header: kind [`HeaderKind::None`], all fields zero.
    pub const NONE: TplHeader =
        TplHeader { kind: HeaderKind::None, address: None, access_number: 0, status: 0, config: 0 };

    /// Security mode, configuration field bits 12..8 (EN 13757-7 7.5.8).
    pub fn security_mode(&self) -> u8 {
        ((self.config >> 8) & 0x1F) as u8
    }
}

/// A TPL error. `offset` is relative to the slice handed to the parser; the pipeline makes it
/// frame-relative.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TplError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub reason: TplErrorReason,
}

/// What is wrong in a rejected TPL header (see [`TplError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TplErrorReason {
    /// Fewer bytes follow the CI than the header needs.
    Truncated {
        /// The structure that is cut short, e.g. "short TPL header".
        what: &'static str,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The CI announces something that is not supported.
    Unsupported {
        /// The CI field.
        ci: u8,
        /// What is not supported.
        what: &'static str,
    },
}

impl fmt::Display for TplError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            TplErrorReason::Truncated { what, needed, available } => write!(
                f,
                "{what} at offset {} is truncated: needs {needed} bytes, {available} present",
                self.offset
            ),
            TplErrorReason::Unsupported { ci, what } => {
                write!(f, "CI 0x{ci:02X} at offset {}: {what}", self.offset)
            }
        }
    }
}

impl std::error::Error for TplError {}

/// Parse the TPL header that the CI announces. `after_ci` starts right after the CI byte.
/// Returns the header and its length in bytes.
pub fn parse_header(info: &CiInfo, after_ci: &[u8]) -> Result<(TplHeader, usize), TplError> {
    let need = |what, n: usize| -> Result<(), TplError> {
        if after_ci.len() < n {
            Err(TplError { offset: 0, reason: TplErrorReason::Truncated { what, needed: n, available: after_ci.len() } })
        } else {
            Ok(())
        }
    };
    match info.header {
        CiHeader::Short => {
            need("short TPL header", 4)?;
            let b = after_ci;
            Ok((
                TplHeader {
                    kind: HeaderKind::Short,
                    address: None,
                    access_number: b[0],
                    status: b[1],
                    config: u16::from_le_bytes([b[2], b[3]]),
                },
                4,
            ))
        }
        CiHeader::Long => {
            need("long TPL header", 12)?;
            let b = after_ci;
            Ok((
                TplHeader {
                    kind: HeaderKind::Long,
                    address: Some(Address {
                        id: [b[0], b[1], b[2], b[3]],
                        manufacturer: u16::from_le_bytes([b[4], b[5]]),
                        version: b[6],
                        device_type: b[7],
                    }),
                    access_number: b[8],
                    status: b[9],
                    config: u16::from_le_bytes([b[10], b[11]]),
                },
                12,
            ))
        }
        _ => Ok((TplHeader::NONE, 0)),
    }
}

/// Append a TPL header without its configuration field (clause 7.5): `ACC STS` for a short
/// header, `ID(4) M(2) ver type ACC STS` for a long one (`address` = `Some`). The encoder
/// counterpart of [`parse_header`]; the configuration field that ends either header is built by
/// `security::config` (it depends on the encryption).
pub fn write_header(out: &mut Vec<u8>, address: Option<&Address>, access_number: u8, status: u8) {
    if let Some(a) = address {
        out.extend_from_slice(&a.id);
        out.extend_from_slice(&a.manufacturer.to_le_bytes());
        out.push(a.version);
        out.push(a.device_type);
    }
    out.push(access_number);
    out.push(status);
}

/// General application error codes (EN 13757-3 Table "codes for general application errors",
/// the CI 0x70 / 0x6E / 0x6F payload's first byte).
static APPLICATION_ERRORS: [&str; 10] = [
    "Unspecified error",
    "Unimplemented CI-Field",
    "Buffer too long, truncated",
    "Too many records",
    "Premature end of record",
    "More than 10 DIFEs",
    "More than 10 VIFEs",
    "Reserved",
    "Application busy",
    "Too many readouts",
];

/// The readable reason of an application error payload (the bytes after the CI / header).
/// An empty payload is an unspecified error.
pub fn application_error_text(payload: &[u8]) -> String {
    match payload.first() {
        None => APPLICATION_ERRORS[0].to_string(),
        Some(&code) => match APPLICATION_ERRORS.get(code as usize) {
            Some(text) if payload.len() == 1 => (*text).to_string(),
            Some(text) => format!("{text} (additional data {})", crate::hex::to_hex_lower(&payload[1..])),
            None => format!("Reserved application error code 0x{code:02X}"),
        },
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_header_oms_n22() {
        // OMS Vol.2 N.2.2: 72 | 78563412 9315 33 03 | 00 00 0000
        let after = [0x78, 0x56, 0x34, 0x12, 0x93, 0x15, 0x33, 0x03, 0x2A, 0x00, 0x00, 0x00, 0x0C];
        let (h, n) = parse_header(ci_info(0x72), &after).unwrap();
        assert_eq!(n, 12);
        let a = h.address.unwrap();
        assert_eq!(a.id_string(), "12345678");
        assert_eq!(a.manufacturer_string(), "ELS");
        assert_eq!(a.version, 0x33);
        assert_eq!(device_type_name(a.device_type), "Gas");
        assert_eq!(h.access_number, 0x2A);
        assert_eq!(a.bytes(), [0x93, 0x15, 0x78, 0x56, 0x34, 0x12, 0x33, 0x03]);
        let e = parse_header(ci_info(0x72), &after[..11]).unwrap_err();
        assert!(matches!(e.reason, TplErrorReason::Truncated { needed: 12, available: 11, .. }));
    }

    #[test]
    fn short_header_amber_mode5() {
        // Amber AMB8426-M manual §10 (security-notes.md c.2): 7A 35 00 1005 → ACC 0x35, CFG 0x0510
        let (h, n) = parse_header(ci_info(0x7A), &[0x35, 0x00, 0x10, 0x05]).unwrap();
        assert_eq!((n, h.access_number, h.config, h.security_mode()), (4, 0x35, 0x0510, 5));
        // DSMR P2 B.1.3: config 30 0F on air → mode 15 (security-notes.md f)
        let (h, _) = parse_header(ci_info(0x7A), &[0, 0, 0x30, 0x0F]).unwrap();
        assert_eq!(h.security_mode(), 15);
    }

    #[test]
    fn header_round_trip() {
        let a = Address { id: [0x78, 0x56, 0x34, 0x12], manufacturer: 0x1593, version: 0x33, device_type: 0x03 };
        let mut out = Vec::new();
        write_header(&mut out, Some(&a), 0x2A, 0x04);
        out.extend_from_slice(&[0x00, 0x05]);
        let (h, n) = parse_header(ci_info(0x72), &out).unwrap();
        assert_eq!((n, h.address, h.access_number, h.status, h.config), (12, Some(a), 0x2A, 0x04, 0x0500));
        out.clear();
        write_header(&mut out, None, 0x35, 0x00);
        out.extend_from_slice(&[0x10, 0x05]);
        let (h, n) = parse_header(ci_info(0x7A), &out).unwrap();
        assert_eq!((n, h.kind, h.access_number, h.config), (4, HeaderKind::Short, 0x35, 0x0510));
    }

    #[test]
    fn application_errors() {
        assert_eq!(application_error_text(&[]), "Unspecified error");
        assert_eq!(application_error_text(&[8]), "Application busy");
        assert_eq!(application_error_text(&[2]), "Buffer too long, truncated");
        assert_eq!(application_error_text(&[9]), "Too many readouts");
        assert_eq!(application_error_text(&[0x20]), "Reserved application error code 0x20");
        assert_eq!(application_error_text(&[4, 0xAB]), "Premature end of record (additional data ab)");
    }
}
