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
//! answers computed with Python `cryptography` (`AESGCM`) for this exact layout.

use aes::cipher::consts::{U12, U16};
use aes::Aes128;
use aes_gcm::aead::AeadInOut;
use aes_gcm::AesGcm;

use super::prim::aes;
use super::{Key, MeterAddress, SecurityError};

/// The 12-byte GCM IV: `M ID ver type ‖ MC(BE)` [?].
#[inline]
pub fn iv(addr: &MeterAddress, message_counter: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&addr.bytes());
    n[8..].copy_from_slice(&message_counter.to_be_bytes());
    n
}

macro_rules! with_gcm {
    ($tag_len:expr, $key:expr, |$c:ident| $body:expr) => {
        match $tag_len {
            12 => {
                let $c = AesGcm::<Aes128, U12, U12>::from(aes($key));
                $body
            }
            16 => {
                let $c = AesGcm::<Aes128, U12, U16>::from(aes($key));
                $body
            }
            n => return Err(SecurityError::BadTagLength { len: n }),
        }
    };
}

/// AES-128-GCM decryption into `out` (cleared first); plaintext only if the tag verifies,
/// else `TagMismatch { offset: 0 }`. `tag` may be 12 or 16 bytes (GCM tags below 96 bits are
/// not offered by the RustCrypto crate without its `hazmat` feature).
pub fn decrypt_gcm_into(
    key: &Key,
    iv: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    out.clear();
    out.extend_from_slice(ciphertext);
    let ok = with_gcm!(tag.len(), key, |c| {
        let t = tag
            .try_into()
            .map_err(|_| SecurityError::BadTagLength { len: tag.len() })?;
        c.decrypt_inout_detached(iv.into(), aad, out.as_mut_slice().into(), t)
            .is_ok()
    });
    if !ok {
        out.clear();
        return Err(SecurityError::TagMismatch { offset: 0 });
    }
    Ok(())
}

/// AES-128-GCM encryption: returns `ciphertext ‖ tag` (`tag_len` 12 or 16).
pub fn encrypt_gcm(
    key: &Key,
    iv: &[u8; 12],
    aad: &[u8],
    plain: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    let mut buf = Vec::with_capacity(plain.len() + tag_len);
    buf.extend_from_slice(plain);
    with_gcm!(tag_len, key, |c| {
        let tag = c
            .encrypt_inout_detached(iv.into(), aad, buf.as_mut_slice().into())
            .map_err(|_| SecurityError::BadTagLength { len: tag_len })?;
        buf.extend_from_slice(&tag);
    });
    Ok(buf)
}

/// Mode-9 decryption; arguments exactly as [`super::mode10::decrypt_mode10_into`]
/// (`data` = bytes after the MC: ciphertext ‖ clear bytes ‖ tag). Errors relative to `data`.
#[allow(clippy::too_many_arguments)]
pub fn decrypt_mode9_into(
    key: &Key,
    addr: &MeterAddress,
    mc: u32,
    aad: &[u8],
    data: &[u8],
    enc_len: usize,
    tag_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    let n = iv(addr, mc);
    super::open_aead_framed(aad, data, enc_len, tag_len, out, |aad, ct, tag, out| {
        decrypt_gcm_into(key, &n, aad, ct, tag, out)
    })
}

/// Encrypt for mode 9: returns `ciphertext ‖ clear_tail ‖ tag` (the bytes after the MC).
pub fn encrypt_mode9(
    key: &Key,
    addr: &MeterAddress,
    mc: u32,
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    let n = iv(addr, mc);
    super::seal_aead_framed(aad, plain, clear_tail, |aad, plain| encrypt_gcm(key, &n, aad, plain, tag_len))
}
