//! APDUs: ACSE (AARQ, AARE, RLRQ, RLRE; BER) and xDLMS (LN and SN services, notifications,
//! general-block-transfer, errors; A-XDR), decoded and encoded.

mod error;

pub use error::ApduError;

use super::axdr::Data;
use super::cosem::DateTime;
use super::security::CipheredApdu;

/// One APDU. (Skeleton: the variants are filled in by the APDU stage.)
#[derive(Clone, Debug, PartialEq)]
pub enum Apdu {
    /// A ciphered APDU (glo-/ded- service APDUs, general-glo/ded-ciphering, general-ciphering).
    Ciphered(CipheredApdu),
}

impl Apdu {
    /// The standard's ASN.1 name, lower case with hyphens (`data-notification`, `aare`,
    /// `glo-get-response`, `general-glo-ciphering`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Apdu::Ciphered(c) => c.type_name(),
        }
    }

    /// The invoke-id (long-invoke-id for notifications), where the APDU has one.
    pub fn invoke_id(&self) -> Option<u32> {
        None
    }

    /// The priority bit of the invoke-id: `Some(true)` for high.
    pub fn priority_high(&self) -> Option<bool> {
        None
    }

    /// The service-class bit of the invoke-id: `Some(true)` for confirmed.
    pub fn confirmed(&self) -> Option<bool> {
        None
    }

    /// The date-time the APDU carries (data-notification, event-notification).
    pub fn datetime(&self) -> Option<DateTime> {
        None
    }

    /// The APDU's main Data value: a notification body, a get-response's data, ...
    pub fn value(&self) -> Option<&Data> {
        None
    }

    /// The ciphered APDU, when this is one.
    pub fn ciphered(&self) -> Option<&CipheredApdu> {
        match self {
            Apdu::Ciphered(c) => Some(c),
        }
    }
}

/// Decode one APDU filling all of `buf`.
pub fn decode_apdu(buf: &[u8]) -> Result<Apdu, ApduError> {
    Err(ApduError::Truncated { offset: buf.len() })
}

/// Append the encoding of `apdu`.
pub fn encode_apdu(_apdu: &Apdu, _out: &mut Vec<u8>) -> Result<(), ApduError> {
    Ok(())
}
