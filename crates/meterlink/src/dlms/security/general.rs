//! general-ciphering (Green Book DLMS UA 1000-2 ed. 8 9.2.7.2.3 / 9.5 ASN.1, tag [221]):
//!
//! ```text
//! general-ciphering ::= SEQUENCE {
//!   transaction-id          OCTET STRING,
//!   originator-system-title OCTET STRING,
//!   recipient-system-title  OCTET STRING,
//!   date-time               OCTET STRING,
//!   other-information       OCTET STRING,
//!   key-info                Key-Info OPTIONAL,
//!   ciphered-content        OCTET STRING }
//! Key-Info ::= CHOICE { identified-key [0] Identified-Key, wrapped-key [1] Wrapped-Key,
//!                       agreed-key [2] Agreed-Key }
//! Identified-Key ::= SEQUENCE { key-id ENUMERATED { global-unicast-encryption-key (0),
//!                                                   global-broadcast-encryption-key (1) } }
//! Wrapped-Key ::= SEQUENCE { kek-id ENUMERATED { master-key (0) }, key-ciphered-data OCTET STRING }
//! Agreed-Key ::= SEQUENCE { key-parameters OCTET STRING, key-ciphered-data OCTET STRING }
//! ```
//!
//! A-XDR: OPTIONAL is a presence byte (00/01), CHOICE its tag byte, ENUMERATED one byte.

use super::ciphered::{read_octets, write_octets};
use super::error::CipherError;

/// The key-info of general-ciphering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyInfo {
    /// identified-key: 0 = global unicast encryption key, 1 = global broadcast encryption key.
    Identified {
        /// The key-id.
        key_id: u8,
    },
    /// wrapped-key: the content key wrapped (RFC 3394) under the key-encryption key.
    Wrapped {
        /// The kek-id (0 = master key).
        kek_id: u8,
        /// The wrapped key.
        key_ciphered_data: Vec<u8>,
    },
    /// agreed-key (ECDH of suites 1 and 2): parsed, not supported for deciphering.
    Agreed {
        /// The key-parameters.
        key_parameters: Vec<u8>,
        /// The key-ciphered-data.
        key_ciphered_data: Vec<u8>,
    },
}

/// What general-ciphering carries before its ciphered content (the originator system title
/// is [`super::CipheredApdu::system_title`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneralCiphering {
    /// transaction-id.
    pub transaction_id: Vec<u8>,
    /// recipient-system-title (empty when absent).
    pub recipient_system_title: Vec<u8>,
    /// date-time (empty when absent).
    pub date_time: Vec<u8>,
    /// other-information (empty when absent).
    pub other_information: Vec<u8>,
    /// key-info.
    pub key_info: Option<KeyInfo>,
}

impl GeneralCiphering {
    /// Parse from `*at` (just after the tag) up to the ciphered content: the fields and the
    /// originator system title (8 bytes or empty).
    pub fn parse(buf: &[u8], at: &mut usize) -> Result<(Self, Option<[u8; 8]>), CipherError> {
        let transaction_id = read_octets(buf, at)?.to_vec();
        let title_at = *at;
        let title = match read_octets(buf, at)? {
            [] => None,
            s if s.len() == 8 => Some(s.try_into().expect("8 bytes")),
            s => return Err(CipherError::SystemTitleLength { offset: title_at, len: s.len() }),
        };
        let recipient_system_title = read_octets(buf, at)?.to_vec();
        let date_time = read_octets(buf, at)?.to_vec();
        let other_information = read_octets(buf, at)?.to_vec();
        let key_info = match byte(buf, at)? {
            0 => None,
            1 => Some(KeyInfo::parse(buf, at)?),
            _ => return Err(CipherError::KeyInfo { offset: *at - 1 }),
        };
        Ok((GeneralCiphering { transaction_id, recipient_system_title, date_time, other_information, key_info }, title))
    }

    /// Append the fields (after the tag, before the ciphered content).
    pub fn encode(&self, originator: Option<&[u8; 8]>, out: &mut Vec<u8>) {
        write_octets(&self.transaction_id, out);
        write_octets(originator.map_or(&[][..], |s| &s[..]), out);
        self.encode_after_originator(out);
        match &self.key_info {
            None => out.push(0),
            Some(k) => {
                out.push(1);
                k.encode(out);
            }
        }
    }

    /// recipient-system-title ‖ date-time ‖ other-information, encoded.
    fn encode_after_originator(&self, out: &mut Vec<u8>) {
        write_octets(&self.recipient_system_title, out);
        write_octets(&self.date_time, out);
        write_octets(&self.other_information, out);
    }

    /// The part of the AAD general-ciphering adds after `SC ‖ AK` (Green Book 9.2.7.2.4.5:
    /// transaction-id ‖ originator-system-title ‖ recipient-system-title ‖ date-time ‖
    /// other-information, each as encoded in the APDU).
    pub fn aad_fields(&self, originator: Option<&[u8; 8]>, out: &mut Vec<u8>) {
        write_octets(&self.transaction_id, out);
        write_octets(originator.map_or(&[][..], |s| &s[..]), out);
        self.encode_after_originator(out);
    }
}

fn byte(buf: &[u8], at: &mut usize) -> Result<u8, CipherError> {
    let b = *buf.get(*at).ok_or(CipherError::Truncated { offset: *at })?;
    *at += 1;
    Ok(b)
}

impl KeyInfo {
    /// Parse the CHOICE at `*at`.
    fn parse(buf: &[u8], at: &mut usize) -> Result<Self, CipherError> {
        let choice_at = *at;
        match byte(buf, at)? {
            0 => match byte(buf, at)? {
                key_id @ (0 | 1) => Ok(KeyInfo::Identified { key_id }),
                _ => Err(CipherError::KeyInfo { offset: *at - 1 }),
            },
            1 => {
                let kek_id = byte(buf, at)?;
                if kek_id != 0 {
                    return Err(CipherError::KeyInfo { offset: *at - 1 });
                }
                Ok(KeyInfo::Wrapped { kek_id, key_ciphered_data: read_octets(buf, at)?.to_vec() })
            }
            2 => {
                let key_parameters = read_octets(buf, at)?.to_vec();
                Ok(KeyInfo::Agreed { key_parameters, key_ciphered_data: read_octets(buf, at)?.to_vec() })
            }
            _ => Err(CipherError::KeyInfo { offset: choice_at }),
        }
    }

    /// Append the CHOICE.
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            KeyInfo::Identified { key_id } => out.extend_from_slice(&[0, *key_id]),
            KeyInfo::Wrapped { kek_id, key_ciphered_data } => {
                out.extend_from_slice(&[1, *kek_id]);
                write_octets(key_ciphered_data, out);
            }
            KeyInfo::Agreed { key_parameters, key_ciphered_data } => {
                out.push(2);
                write_octets(key_parameters, out);
                write_octets(key_ciphered_data, out);
            }
        }
    }
}
