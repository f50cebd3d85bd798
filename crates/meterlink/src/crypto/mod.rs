//! Shared cryptographic primitives: the leaf every protocol family builds on.
//!
//! This module imports nothing from the protocols (`mbus`, `dsmr`) nor from `keys`: it works
//! on key bytes, IVs and buffers, and the protocol layers build their IVs, nonces and framing
//! around it. Everything is AES-128 except the DES cipher of the deprecated M-Bus modes 2/3 and
//! the AES-256-GCM of DLMS/COSEM security suite 2 ([`aead::gcm_open_detached`] and its siblings
//! take 16- or 32-byte keys).
//!
//! - [`block`]: AES-128 key schedules and the per-thread cache of expanded keys
//! - [`cbc`], [`ctr`]: the AES-CBC and AES-CTR modes, in place
//! - [`mac`]: AES-CMAC (NIST SP 800-38B), AES-GMAC (SP 800-38D), constant-time comparison
//! - [`aead`]: one AEAD over AES-GCM (SP 800-38D) and AES-CCM (SP 800-38C); AES-GCM-128/256
//!   with detached tags and the GCM keystream alone (DLMS suites 0, 1, 2)
//! - [`kdf`]: key derivation function A of EN 13757-7 §9.6.2 (one CMAC block)
//! - [`keywrap`]: AES key wrap (RFC 3394)
//! - [`des`]: the DES-CBC cipher (FIPS 46-3, SP 800-38A chaining)
//!
//! Errors are typed ([`CryptoError`]); callers map them to their layer's error with offsets.

pub mod aead;
pub mod block;
pub mod cbc;
pub mod ctr;
pub mod des;
pub mod kdf;
pub mod keywrap;
pub mod mac;

#[cfg(test)]
mod tests;

use std::fmt;

/// An AES-128 key.
pub type Key = [u8; 16];

/// Errors of the primitives. None carries an offset: the caller knows where its input sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CryptoError {
    /// An authentication tag (AEAD) or an integrity check value (key wrap) does not verify:
    /// wrong key or modified data. No plaintext is released.
    TagMismatch,
    /// The tag length is not one the algorithm supports.
    BadTagLength {
        /// The length asked for, in bytes.
        len: usize,
    },
    /// The nonce/IV length is not the one the algorithm takes.
    BadNonceLength {
        /// The length given, in bytes.
        len: usize,
    },
    /// The input length is not one the algorithm accepts (key wrap: a multiple of 8 bytes,
    /// at least 16 to wrap and 24 to unwrap).
    BadLength {
        /// The length given, in bytes.
        len: usize,
    },
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::TagMismatch => f.write_str("authentication tag does not verify"),
            CryptoError::BadTagLength { len } => write!(f, "tag length {len} not supported"),
            CryptoError::BadNonceLength { len } => write!(f, "nonce length {len} not supported"),
            CryptoError::BadLength { len } => write!(f, "input length {len} not supported"),
        }
    }
}

impl std::error::Error for CryptoError {}
