//! Security mode 10: AES-128-CCM (EN 13757-7 §9.4.8, OMS security profile D)
//! [V for the short TPL header: two Kamstrup telegrams from wmbusmeters issue #1667].
//!
//! ```text
//! Kenc  = KDF-A(MK, DC 00, MC, ID)  when CFG-ext DD = 01, else the persistent key
//! nonce = M(2) ‖ ID(4) ‖ ver ‖ type ‖ 00 ‖ MC (4, **big-endian**)            (13 bytes, CCM L = 2)
//! AAD   = TPL bytes from the CI up to and including the CFG extension (MC excluded)
//! tag   = last 4/8/12/16 bytes of the TPDU (CFG-ext bits 9..8); no 2F 2F bytes
//! ```
//! [?] choices (no vector): with a key-version byte (ext bit 6) the AAD runs up to and
//! including that byte (everything before the MC); with partial encryption (CFG length byte
//! != 0xFF) the clear bytes between ciphertext and tag are appended to the AAD, so they are
//! authenticated; long-header telegrams use the long header's address in the nonce.
//! The CCM primitive is [`crate::crypto::aead`]; the framing is shared with mode 9.

use crate::crypto::aead::Aead;

use super::framing::seal_framed;
use super::{Key, Address, SecurityError};

/// The 13-byte CCM nonce: `M ID ver type 00 MC(BE)`.
#[inline]
pub fn nonce(addr: &Address, message_counter: u32) -> [u8; 13] {
    let mut n = [0u8; 13];
    n[..8].copy_from_slice(&addr.bytes());
    n[9..].copy_from_slice(&message_counter.to_be_bytes());
    n
}

/// Encrypt for mode 10: returns the bytes that follow the MC: `ciphertext ‖ clear_tail ‖ tag`.
/// `aad`: TPDU bytes from the CI through the CFG extension (and key version, if any), without
/// the clear tail (it is appended here).
pub fn encrypt_mode10(
    key: &Key,
    addr: &Address,
    mc: u32,
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    seal_framed(Aead::Ccm, key, &nonce(addr, mc), aad, plain, clear_tail, tag_len)
}
