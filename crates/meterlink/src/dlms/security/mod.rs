//! DLMS/COSEM ciphering (IEC 62056-5-3 5.6, Green Book DLMS UA 1000-2 9.2.7, security suites
//! 0, 1 and 2 as far as AES-GCM goes): the security control byte ([`control`]), the glo-/ded-
//! service APDUs, general-glo/ded-ciphering and general-ciphering ([`ciphered`], [`general`]),
//! AES-GCM with IV = system title ‖ invocation counter ([`gcm`]), and HLS authentication
//! ([`hls`]).

pub mod ciphered;
pub mod control;
mod error;
pub mod gcm;
pub mod general;
pub mod hls;

pub use ciphered::{
    ciphered_tag, encode_ciphered, is_ciphered_tag, parse_ciphered, parse_ciphered_prefix, tag_for_plain, CipheredApdu,
    CipheredTag, CIPHERED_TAGS,
};
pub use control::SecurityControl;
pub use error::CipherError;
pub use gcm::{decipher, decipher_into, encipher, encipher_apdu, wrap_key, DlmsKeys, KeyKind, Protection};
pub use general::{GeneralCiphering, KeyInfo};
