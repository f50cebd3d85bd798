//! EN 13757-7 security services: security modes, key derivation, MACs.
//!
//! # Usage summary (for the `decode()` pipeline)
//!
//! ```text
//! frame ──link::wmbus::parse_wmbus──> WmbusFrame { m, id, version, device_type, data: CI.. }
//!   CI 8C..8F ──ell::parse_ell / ell::decrypt_ell──> ELL header (+ AES-CTR plaintext, PL-CRC checked)
//!   CI 90     ──afl::parse_afl──> Afl { mcl, ki, mcr, mac, ml } ; rest = TPDU (TPL CI .. end)
//!   TPL CI    ──security::decrypt_tpl(key, tpdu, cfg_offset, &link_address, afl, &mut out)──>
//!              SecurityConfig + `out` = application data (records), MAC/tag/2F2F verified
//! ```
//!
//! * [`decrypt_tpl`] is the one call for the TPL: it parses the configuration field and its
//!   extension ([`config::parse_config`]), picks the address (long header if present, else the
//!   link address), derives keys (KDF-A, [`crate::crypto::kdf`]), verifies the AFL MAC when the mode needs one
//!   (modes 7/8), decrypts and checks the verification bytes / tag. Mode 0 copies the data.
//! * The per-mode modules hold the primitives and their `encrypt_*` counterparts for the encoder:
//!   [`mode5`] (AES-CBC, IV = address ‖ ACC×8), [`mode7`] (AES-CBC IV 0 + KDF-A + AFL CMAC),
//!   [`mode8`] (AES-CTR + CMAC, layout hypothesis), [`mode9`] (AES-GCM, layout hypothesis),
//!   [`mode10`] (AES-CCM, OMS profile D), [`des`] (modes 2/3), [`mode15`] (DSMR P2
//!   "mode 15"). Modes 9 and 10 share one AEAD framing ([`framing`]).
//! * The primitives (AES key cache, CBC, CTR, CMAC, GMAC, AEAD, DES, KDF-A) are in
//!   [`crate::crypto`]; this module adds what is M-Bus: IVs and nonces from the meter address,
//!   the 2F 2F checks, the framing of the TPL and the dispatch by mode.
//! * All keys are AES-128 (`[u8; 16]`) except DES (`[u8; 8]`). Key schedules are built once per
//!   call; the only allocation per telegram is the plaintext buffer supplied by the caller.
//! * Every failure is a distinct [`SecurityError`] variant; a wrong key shows up as
//!   `MissingVerificationBytes` (CBC modes), `TagMismatch` (CCM/GCM) or `MacMismatch` (AFL).
//!   No plaintext is handed out when a check fails (`out` is cleared).
//!
//! Provenance of every byte layout is in `shared/vectors/security-notes.md`; where sources
//! disagree the verified vectors win, and the choice is written next to the code.

pub mod config;
pub mod des;
pub mod framing;
pub mod mode10;
pub mod mode15;
pub mod mode5;
pub mod mode7;
pub mod mode8;
pub mod mode9;
mod pipeline;

#[cfg(test)]
mod tests;


pub use config::{parse_config, EncryptedLength, SecurityConfig};
pub use pipeline::decrypt_tpl;
pub(crate) use pipeline::decrypt_tpl_parsed;

use std::fmt;

pub use crate::crypto::Key;
use crate::crypto::CryptoError;
use self::mode15::Mode15Error;
use crate::address::Address;

/// Errors of the security layer. Offsets are byte offsets into the buffer documented on the
/// function that returned the error (for [`decrypt_tpl`]: into the TPDU, TPL CI = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityError {
    /// The buffer ends before a field that must be there.
    Truncated {
        /// Where the missing field starts.
        offset: usize,
        /// Bytes needed from `offset`.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
    /// The security mode is recognised but not implemented (1, 4, 6, 11–14, 16–31 ...).
    UnsupportedMode {
        /// The security mode (CFG bits 12..8).
        mode: u8,
    },
    /// A configuration-field coding that is reserved or inconsistent.
    InvalidConfig {
        /// Position of the configuration field (or its extension).
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The configuration field announces more encrypted bytes than there are, or a length
    /// that is not a whole number of cipher blocks.
    BadEncryptedLength {
        /// Start of the encrypted data.
        offset: usize,
        /// Encrypted bytes announced.
        encrypted: usize,
        /// Bytes available.
        available: usize,
    },
    /// The KDF-selection bits name a reserved key derivation function.
    UnsupportedKdf {
        /// The KDF selection (CFG extension bits 5..4).
        kdf: u8,
    },
    /// Key derivation needs a message counter but neither the TPL nor the AFL carries one.
    MissingCounter,
    /// The mode requires an AFL MAC (modes 7 and 8) but there is no AFL or it has no MAC.
    MissingMac {
        /// The security mode.
        mode: u8,
    },
    /// The decrypted data does not start with the verification bytes 2F 2F: wrong key,
    /// wrong IV inputs or corrupted ciphertext. `offset` = start of the encrypted data.
    MissingVerificationBytes {
        /// Start of the encrypted data.
        offset: usize,
    },
    /// DSMR P2: the last encrypted block does not end with at least two 2F fillers.
    MissingFiller {
        /// Position of the first missing filler.
        offset: usize,
    },
    /// DSMR P2: no clear `04 FD 08` frame-counter record after the encrypted blocks.
    MissingFrameCounter {
        /// Where the record should start.
        offset: usize,
    },
    /// The AFL MAC (CMAC/GMAC) does not verify: wrong key or modified message. (The MAC sits
    /// in the AFL, before the TPDU; its position is `Afl::mac_offset`.)
    AflMacMismatch,
    /// An AEAD tag (CCM, GCM) does not verify: wrong key or modified message.
    TagMismatch {
        /// Position of the tag.
        offset: usize,
    },
    /// The MAC/tag length is not one the mode allows.
    BadTagLength {
        /// The length in bytes.
        len: usize,
    },
}

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SecurityError::*;
        match self {
            Truncated { offset, needed, available } => write!(
                f,
                "security header truncated at offset {offset}: needs {needed} bytes, {available} left"
            ),
            UnsupportedMode { mode } => write!(f, "security mode {mode} is not supported"),
            InvalidConfig { offset, reason } => {
                write!(f, "invalid configuration field at offset {offset}: {reason}")
            }
            BadEncryptedLength { offset, encrypted, available } => write!(
                f,
                "encrypted length {encrypted} at offset {offset} does not fit the {available} bytes available"
            ),
            UnsupportedKdf { kdf } => write!(f, "reserved key derivation selection {kdf}"),
            MissingCounter => f.write_str("key derivation needs a message counter but none is present"),
            MissingMac { mode } => write!(f, "security mode {mode} requires an AFL MAC"),
            MissingVerificationBytes { offset } => write!(
                f,
                "decryption at offset {offset} did not yield the 2F 2F verification bytes (wrong key?)"
            ),
            MissingFiller { offset } => {
                write!(f, "encrypted block ending at offset {offset} lacks the 2F filler bytes")
            }
            MissingFrameCounter { offset } => {
                write!(f, "no 04 FD 08 frame-counter record at offset {offset}")
            }
            AflMacMismatch => f.write_str("AFL MAC does not verify (wrong key or modified message)"),
            TagMismatch { offset } => write!(f, "authentication tag at offset {offset} does not verify"),
            BadTagLength { len } => write!(f, "MAC/tag length {len} not allowed"),
        }
    }
}

impl std::error::Error for SecurityError {}

impl SecurityError {
    /// Byte offset of the problem, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        use SecurityError::*;
        match *self {
            Truncated { offset, .. }
            | InvalidConfig { offset, .. }
            | BadEncryptedLength { offset, .. }
            | MissingVerificationBytes { offset }
            | MissingFiller { offset }
            | MissingFrameCounter { offset }
            | TagMismatch { offset } => Some(offset),
            UnsupportedMode { .. }
            | UnsupportedKdf { .. }
            | MissingCounter
            | MissingMac { .. }
            | AflMacMismatch
            | BadTagLength { .. } => None,
        }
    }

    /// The same error with every offset moved by `delta`.
    pub fn shifted(self, delta: usize) -> Self {
        use SecurityError::*;
        match self {
            Truncated {
                offset,
                needed,
                available,
            } => Truncated {
                offset: offset + delta,
                needed,
                available,
            },
            InvalidConfig { offset, reason } => InvalidConfig {
                offset: offset + delta,
                reason,
            },
            BadEncryptedLength {
                offset,
                encrypted,
                available,
            } => BadEncryptedLength {
                offset: offset + delta,
                encrypted,
                available,
            },
            MissingVerificationBytes { offset } => MissingVerificationBytes {
                offset: offset + delta,
            },
            MissingFiller { offset } => MissingFiller {
                offset: offset + delta,
            },
            MissingFrameCounter { offset } => MissingFrameCounter {
                offset: offset + delta,
            },
            TagMismatch { offset } => TagMismatch {
                offset: offset + delta,
            },
            e @ (UnsupportedMode { .. }
            | UnsupportedKdf { .. }
            | MissingCounter
            | MissingMac { .. }
            | AflMacMismatch
            | BadTagLength { .. }) => e,
        }
    }
}

/// Pad `data` with 2F idle fillers to a multiple of `block` bytes (at least one filler is not
/// required). Used by the encoders of the CBC modes.
pub fn pad_2f(data: &mut Vec<u8>, block: usize) {
    let rem = data.len() % block;
    if rem != 0 {
        data.resize(data.len() + block - rem, 0x2F);
    }
}

/// Check the two verification bytes `2F 2F` at the start of decrypted data.
#[inline]
pub(crate) fn check_2f2f(plain: &[u8], offset: usize) -> Result<(), SecurityError> {
    if plain.len() >= 2 && plain[0] == 0x2F && plain[1] == 0x2F {
        Ok(())
    } else {
        Err(SecurityError::MissingVerificationBytes { offset })
    }
}

impl From<Mode15Error> for SecurityError {
    fn from(e: Mode15Error) -> Self {
        match e {
            Mode15Error::BadEncryptedLength { offset, encrypted, available } => {
                SecurityError::BadEncryptedLength { offset, encrypted, available }
            }
            Mode15Error::MissingFrameCounter { offset } => SecurityError::MissingFrameCounter { offset },
            Mode15Error::MissingVerificationBytes { offset } => SecurityError::MissingVerificationBytes { offset },
            Mode15Error::MissingFiller { offset } => SecurityError::MissingFiller { offset },
        }
    }
}

impl SecurityError {
    /// The error of an AEAD mode (9, 10) for a primitive's error: a failed tag check is
    /// `TagMismatch` at offset 0 (the caller moves it to the tag); any other failure is a tag
    /// length the mode cannot use (`tag_len`, or the length the primitive reports).
    pub(crate) fn from_aead(e: CryptoError, tag_len: usize) -> Self {
        match e {
            CryptoError::TagMismatch => SecurityError::TagMismatch { offset: 0 },
            CryptoError::BadTagLength { len } => SecurityError::BadTagLength { len },
            CryptoError::BadNonceLength { .. } | CryptoError::BadLength { .. } => {
                SecurityError::BadTagLength { len: tag_len }
            }
        }
    }
}
