//! The TPL framing of the AEAD modes 9 (GCM) and 10 (CCM), EN 13757-7 §9.4.7/§9.4.8: the bytes
//! after the message counter are `ciphertext ‖ clear bytes ‖ tag`, and the clear bytes are
//! authenticated by appending them to the AAD [?] (see `mode10`). One code path for both modes,
//! over [`crate::crypto::aead::Aead`].

use crate::crypto::aead::Aead;

use super::{Key, SecurityError};

/// Open the bytes after the message counter of a mode-9/10 TPDU into `out` (cleared first).
///
/// * `key`: Kenc (derived or persistent); `nonce`: `mode9::iv` or `mode10::nonce` of the
///   address (long header if present, else DLL) and the message counter (TPL MC, else AFL.MCR).
/// * `aad`: TPDU bytes from the CI through the CFG extension (and key version, if any).
/// * `data`: ciphertext (`enc_len` bytes; CFG bits 7..0, for 0xFF `data.len() - tag_len`),
///   clear bytes, tag (`tag_len` bytes).
///
/// `out` receives plaintext ‖ clear bytes (tag removed). Errors are relative to `data` (a tag
/// mismatch points at the tag); `out` is empty on error.
#[allow(clippy::too_many_arguments)]
pub fn open_framed(
    aead: Aead,
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    data: &[u8],
    enc_len: usize,
    tag_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    if data.len() < tag_len || enc_len > data.len() - tag_len {
        return Err(SecurityError::BadEncryptedLength {
            offset: 0,
            encrypted: enc_len + tag_len,
            available: data.len(),
        });
    }
    let tag_at = data.len() - tag_len;
    let (ct, clear, tag) = (&data[..enc_len], &data[enc_len..tag_at], &data[tag_at..]);
    let r = if clear.is_empty() {
        aead.open_into(key, nonce, aad, ct, tag, out)
    } else {
        let mut full_aad = Vec::with_capacity(aad.len() + clear.len());
        full_aad.extend_from_slice(aad);
        full_aad.extend_from_slice(clear);
        aead.open_into(key, nonce, &full_aad, ct, tag, out)
    };
    r.map_err(|e| SecurityError::from_aead(e, tag_len).shifted(tag_at))?;
    out.extend_from_slice(clear);
    Ok(())
}

/// The encryption side of [`open_framed`]: returns `ciphertext ‖ clear_tail ‖ tag`.
pub fn seal_framed(
    aead: Aead,
    key: &Key,
    nonce: &[u8],
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>, SecurityError> {
    let mut full_aad = aad.to_vec();
    full_aad.extend_from_slice(clear_tail);
    let mut ct = aead
        .seal(key, nonce, &full_aad, plain, tag_len)
        .map_err(|e| SecurityError::from_aead(e, tag_len))?;
    let tag = ct.split_off(plain.len());
    ct.extend_from_slice(clear_tail);
    ct.extend_from_slice(&tag);
    Ok(ct)
}
