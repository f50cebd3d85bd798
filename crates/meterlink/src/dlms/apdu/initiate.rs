//! xDLMS InitiateRequest (tag 01h) and InitiateResponse (tag 08h), carried in the AARQ/AARE
//! user-information (Green Book 9.5; IEC 62056-5-3 Annex B Tables B.1–B.3), and the
//! conformance block.

use super::cursor::{put_octets, Reader};
use super::ApduError;

/// The conformance block's bit names, bit 0 first (Green Book Table B.1; bit 0 is the most
/// significant bit of the first octet).
pub const CONFORMANCE_BITS: [&str; 24] = [
    "reserved-zero",
    "general-protection",
    "general-block-transfer",
    "read",
    "write",
    "unconfirmed-write",
    "delta-value-encoding",
    "reserved-seven",
    "attribute0-supported-with-set",
    "priority-mgmt-supported",
    "attribute0-supported-with-get",
    "block-transfer-with-get-or-read",
    "block-transfer-with-set-or-write",
    "block-transfer-with-action",
    "multiple-references",
    "information-report",
    "data-notification",
    "access",
    "parameterized-access",
    "get",
    "set",
    "selective-access",
    "event-notification",
    "action",
];

/// Conformance ::= \[APPLICATION 31\] IMPLICIT BIT STRING (SIZE(24)), BER-encoded even in
/// A-XDR: `5F 1F 04 00` and three octets. The value holds the 24 bits, bit 0 as 2^23.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Conformance(pub u32);

impl Conformance {
    /// Whether the named bit is set (`get`, `block-transfer-with-action`, ...).
    pub fn has(self, name: &str) -> bool {
        CONFORMANCE_BITS.iter().position(|n| *n == name).is_some_and(|i| self.0 & 1 << (23 - i) != 0)
    }

    /// The names of the bits set, bit 0 first.
    pub fn names(self) -> Vec<&'static str> {
        (0..24).filter(|i| self.0 & 1 << (23 - i) != 0).map(|i| CONFORMANCE_BITS[i]).collect()
    }

    /// The block with the named bits set (unknown names are ignored).
    pub fn from_names(names: &[&str]) -> Conformance {
        Conformance(
            CONFORMANCE_BITS.iter().enumerate().filter(|(_, n)| names.contains(n)).fold(0, |v, (i, _)| v | 1 << (23 - i)),
        )
    }

    fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let at = r.pos();
        let head = r.bytes(4)?;
        if head != [0x5F, 0x1F, 0x04, 0x00] {
            return Err(ApduError::BadValue { offset: at, what: "conformance block (not 5F 1F 04 00 and 3 octets)" });
        }
        let b = r.bytes(3)?;
        Ok(Conformance(u32::from_be_bytes([0, b[0], b[1], b[2]])))
    }

    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x5F, 0x1F, 0x04, 0x00]);
        out.extend_from_slice(&self.0.to_be_bytes()[1..]);
    }
}

/// InitiateRequest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InitiateRequest {
    /// dedicated-key (OPTIONAL).
    pub dedicated_key: Option<Vec<u8>>,
    /// response-allowed (DEFAULT TRUE): `None` when the default was sent (flag 00).
    pub response_allowed: Option<bool>,
    /// proposed-quality-of-service (OPTIONAL, \[0\] Integer8).
    pub quality_of_service: Option<i8>,
    /// proposed-dlms-version-number.
    pub dlms_version: u8,
    /// proposed-conformance.
    pub conformance: Conformance,
    /// client-max-receive-pdu-size.
    pub max_pdu_size: u16,
}

impl InitiateRequest {
    /// Whether the client allows a response (the DEFAULT applied).
    pub fn response_allowed(&self) -> bool {
        self.response_allowed.unwrap_or(true)
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let dedicated_key = if r.flag("dedicated-key flag")? { Some(r.octets()?.to_vec()) } else { None };
        let response_allowed = if r.flag("response-allowed flag")? { Some(r.boolean()?) } else { None };
        let quality_of_service = if r.flag("quality-of-service flag")? { Some(r.u8()? as i8) } else { None };
        Ok(InitiateRequest {
            dedicated_key,
            response_allowed,
            quality_of_service,
            dlms_version: r.u8()?,
            conformance: Conformance::read(r)?,
            max_pdu_size: r.u16()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match &self.dedicated_key {
            None => out.push(0),
            Some(k) => {
                out.push(1);
                put_octets(out, k);
            }
        }
        match self.response_allowed {
            None => out.push(0),
            Some(b) => out.extend_from_slice(&[1, b as u8]),
        }
        match self.quality_of_service {
            None => out.push(0),
            Some(q) => out.extend_from_slice(&[1, q as u8]),
        }
        out.push(self.dlms_version);
        self.conformance.write(out);
        out.extend_from_slice(&self.max_pdu_size.to_be_bytes());
    }
}

/// InitiateResponse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InitiateResponse {
    /// negotiated-quality-of-service (OPTIONAL, \[0\] Integer8).
    pub quality_of_service: Option<i8>,
    /// negotiated-dlms-version-number.
    pub dlms_version: u8,
    /// negotiated-conformance.
    pub conformance: Conformance,
    /// server-max-receive-pdu-size.
    pub max_pdu_size: u16,
    /// vaa-name (0007h for LN referencing, FA00h for SN).
    pub vaa_name: u16,
}

impl InitiateResponse {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let quality_of_service = if r.flag("quality-of-service flag")? { Some(r.u8()? as i8) } else { None };
        Ok(InitiateResponse {
            quality_of_service,
            dlms_version: r.u8()?,
            conformance: Conformance::read(r)?,
            max_pdu_size: r.u16()?,
            vaa_name: r.u16()?,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self.quality_of_service {
            None => out.push(0),
            Some(q) => out.extend_from_slice(&[1, q as u8]),
        }
        out.push(self.dlms_version);
        self.conformance.write(out);
        out.extend_from_slice(&self.max_pdu_size.to_be_bytes());
        out.extend_from_slice(&self.vaa_name.to_be_bytes());
    }
}
