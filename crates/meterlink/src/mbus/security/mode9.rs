//! Security mode 9: AES-128-GCM (EN 13757-7 §9.4.7). **Layout hypothesis — no public vector.**
//!
//! Choices (notes §c.5 [?], by analogy with DLMS suite 0 and the verified mode-10 nonce):
//! ```text
//! key  = KDF-A(MK, DC 00, MC, ID) when DD = 01, else the persistent key
//! IV   = M(2) ‖ ID(4) ‖ ver ‖ type ‖ MC (4, big-endian)          (12 bytes: fixed ‖ invocation)
//! AAD  = TPL bytes from the CI through the CFG extension (and key version), MC excluded;
//!        clear bytes after the ciphertext are appended to the AAD (as in mode 10)
//! tag  = last 12 bytes (or 4 + 4·T when the extension's tag code T != 0), no 2F 2F bytes
//! ```
//! The configuration field is parsed with the mode-10 shape (see `config`). Tests use known
//! answers computed with Python `cryptography` (`AESGCM`) for this exact layout. The GCM
//! primitive is [`crate::crypto::aead`]; the framing is shared with mode 10 ([`super::framing`]).

use crate::crypto::aead::Aead;

use super::framing::seal_framed;
use super::{Key, Address, SecurityError};

/// The 12-byte GCM IV: `M ID ver type ‖ MC(BE)` [?].
#[inline]
pub fn iv(addr: &Address, message_counter: u32) -> [u8; 12] {
    addr.iv_with_counter(message_counter)
}

/// Encrypt for mode 9: returns `ciphertext ‖ clear_tail ‖ tag` (the bytes after the MC).
pub fn encrypt_mode9(
    key: &Key,
    addr: &Address,
    mc: u32,
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    seal_framed(Aead::Gcm, key, &iv(addr, mc), aad, plain, clear_tail, tag_len)
}
