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

use aes::Aes128;
use ccm::aead::AeadInOut;
use ccm::consts::{U12, U13, U16, U4, U8};
use ccm::Ccm;

use super::prim::aes;
use super::{Key, MeterAddress, SecurityError};

/// The 13-byte CCM nonce: `M ID ver type 00 MC(BE)`.
#[inline]
pub fn nonce(addr: &MeterAddress, message_counter: u32) -> [u8; 13] {
    let mut n = [0u8; 13];
    n[..8].copy_from_slice(&addr.bytes());
    n[9..].copy_from_slice(&message_counter.to_be_bytes());
    n
}

macro_rules! with_ccm {
    ($tag_len:expr, $key:expr, |$c:ident| $body:expr) => {
        match $tag_len {
            4 => {
                let $c = Ccm::<Aes128, U4, U13>::from(aes($key));
                $body
            }
            8 => {
                let $c = Ccm::<Aes128, U8, U13>::from(aes($key));
                $body
            }
            12 => {
                let $c = Ccm::<Aes128, U12, U13>::from(aes($key));
                $body
            }
            16 => {
                let $c = Ccm::<Aes128, U16, U13>::from(aes($key));
                $body
            }
            n => return Err(SecurityError::BadTagLength { len: n }),
        }
    };
}

/// AES-128-CCM decryption with a 13-byte nonce into `out` (cleared first).
///
/// * `key`: Kenc (derived or persistent); `nonce`: see [`nonce`]; `aad`: see module doc.
/// * `ciphertext`: the encrypted bytes (after the MC); `tag`: the 4/8/12/16 tag bytes.
/// * `out` receives the plaintext (same length as `ciphertext`) only if the tag verifies;
///   otherwise `TagMismatch { offset: 0 }` (the caller shifts it to the tag position).
pub fn decrypt_ccm_into(
    key: &Key,
    nonce: &[u8; 13],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    out.clear();
    out.extend_from_slice(ciphertext);
    let ok = with_ccm!(tag.len(), key, |c| {
        let t = tag
            .try_into()
            .map_err(|_| SecurityError::BadTagLength { len: tag.len() })?;
        c.decrypt_inout_detached(nonce.into(), aad, out.as_mut_slice().into(), t)
            .is_ok()
    });
    if !ok {
        out.clear();
        return Err(SecurityError::TagMismatch { offset: 0 });
    }
    Ok(())
}

/// AES-128-CCM encryption: returns `ciphertext ‖ tag` (tag of `tag_len` = 4, 8, 12 or 16 bytes).
pub fn encrypt_ccm(
    key: &Key,
    nonce: &[u8; 13],
    aad: &[u8],
    plain: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    let mut buf = Vec::with_capacity(plain.len() + tag_len);
    buf.extend_from_slice(plain);
    with_ccm!(tag_len, key, |c| {
        let tag = c
            .encrypt_inout_detached(nonce.into(), aad, buf.as_mut_slice().into())
            .map_err(|_| SecurityError::BadTagLength { len: tag_len })?;
        buf.extend_from_slice(&tag);
    });
    Ok(buf)
}

/// Mode-10 decryption of a whole TPDU section.
///
/// * `key`: Kenc; `addr`: long-header address if present else the DLL address; `mc`: the TPL
///   message counter (or AFL.MCR if the TPL has none).
/// * `aad`: TPDU bytes from the CI through the CFG extension (and key version, if any).
/// * `data`: the bytes after the MC to the end of the TPDU: ciphertext, clear bytes, tag.
/// * `enc_len`: number of encrypted bytes (CFG bits 7..0; for 0xFF pass `data.len() - tag_len`).
///
/// `out` receives plaintext ‖ clear bytes (tag removed). Errors are relative to `data`.
#[allow(clippy::too_many_arguments)]
pub fn decrypt_mode10_into(
    key: &Key,
    addr: &MeterAddress,
    mc: u32,
    aad: &[u8],
    data: &[u8],
    enc_len: usize,
    tag_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    let n = nonce(addr, mc);
    super::open_aead_framed(aad, data, enc_len, tag_len, out, |aad, ct, tag, out| {
        decrypt_ccm_into(key, &n, aad, ct, tag, out)
    })
}

/// Encrypt for mode 10: returns the bytes that follow the MC: `ciphertext ‖ clear_tail ‖ tag`.
/// `aad` as for [`decrypt_mode10_into`] (without the clear tail; it is appended here).
pub fn encrypt_mode10(
    key: &Key,
    addr: &MeterAddress,
    mc: u32,
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    let n = nonce(addr, mc);
    super::seal_aead_framed(aad, plain, clear_tail, |aad, plain| encrypt_ccm(key, &n, aad, plain, tag_len))
}
