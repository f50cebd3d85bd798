//! Security mode 5: AES-128-CBC with IV = M ‖ ID ‖ version ‖ device type ‖ ACC×8
//! (EN 13757-7 §9.4.4, OMS security profile A) [V: Amber manual, OMS N.2.1, OMS N.5.3, apator162].
//!
//! * N (CFG bits 7..4) 16-byte blocks are encrypted; bytes after them are clear and appended as-is.
//! * The decrypted data must start with the verification bytes 2F 2F.
//! * Address = TPL long header if present, else DLL address; ACC = the **TPL** access number
//!   (not the ELL one) [V: OMS N.5.3].

use crate::crypto::block::with_aes;
use crate::crypto::cbc::{cbc_decrypt, encrypt_padded};

use super::{check_2f2f, Key, Address, SecurityError};

/// The mode-5 IV: `M(2) ID(4) ver type` followed by the TPL access number eight times.
#[inline]
pub fn iv(addr: &Address, acc: u8) -> [u8; 16] {
    let mut iv = [acc; 16];
    iv[..8].copy_from_slice(&addr.bytes());
    iv
}

/// Shared CBC decrypt: copy `data` to `out`, decrypt the first `enc_len` bytes in place with
/// `iv`, check 2F 2F (skipped when `enc_len` is 0: N = 0 means nothing is encrypted). `offset` = position of `data[0]` for error reporting. `out` is cleared on
/// error.
pub(crate) fn cbc_decrypt_2f2f(
    key: &Key,
    iv: &[u8; 16],
    data: &[u8],
    enc_len: usize,
    offset: usize,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    out.clear();
    if enc_len % 16 != 0 || enc_len > data.len() {
        return Err(SecurityError::BadEncryptedLength {
            offset,
            encrypted: enc_len,
            available: data.len(),
        });
    }
    out.extend_from_slice(data);
    if enc_len == 0 {
        // N = 0: nothing is encrypted (no verification bytes either).
        return Ok(());
    }
    with_aes(key, |c| cbc_decrypt(c, iv, &mut out[..enc_len]));
    if let Err(e) = check_2f2f(out, offset) {
        out.clear();
        return Err(e);
    }
    Ok(())
}

/// Decrypt mode 5 into `out` (cleared first).
///
/// * `key`: the persistent AES key; `addr`: see module doc; `acc`: TPL access number.
/// * `data`: the bytes after the configuration field, i.e. the `blocks`×16 encrypted bytes
///   followed by any clear bytes, up to the end of the TPDU (CRCs removed).
/// * `out` receives the plaintext (starting 2F 2F) followed by the clear bytes, same length as
///   `data`. Error offsets are relative to `data`.
pub fn decrypt_mode5_into(
    key: &Key,
    addr: &Address,
    acc: u8,
    data: &[u8],
    blocks: u8,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    cbc_decrypt_2f2f(key, &iv(addr, acc), data, usize::from(blocks) * 16, 0, out)
}

/// Allocating form of [`decrypt_mode5_into`].
pub fn decrypt_mode5(
    key: &Key,
    addr: &Address,
    acc: u8,
    data: &[u8],
    blocks: u8,
) -> Result<Vec<u8>, SecurityError> {
    let mut out = Vec::with_capacity(data.len());
    decrypt_mode5_into(key, addr, acc, data, blocks, &mut out)?;
    Ok(out)
}

/// Encrypt for mode 5. `plain` should start with 2F 2F; it is padded with 2F to a multiple of
/// 16 bytes and encrypted, then `clear_tail` is appended unencrypted. Returns the bytes that
/// follow the configuration field and N (the block count for CFG bits 7..4; at most 15).
pub fn encrypt_mode5(
    key: &Key,
    addr: &Address,
    acc: u8,
    plain: &[u8],
    clear_tail: &[u8],
) -> (Vec<u8>, u8) {
    encrypt_cbc(key, &iv(addr, acc), plain, clear_tail)
}

/// AES-CBC with 2F idle-filler padding (the CBC modes 5, 7 and DSMR 15): `plain` padded with
/// 2F to whole blocks and encrypted, `clear_tail` appended; returns the bytes and N.
pub(crate) fn encrypt_cbc(key: &Key, iv: &[u8; 16], plain: &[u8], clear_tail: &[u8]) -> (Vec<u8>, u8) {
    encrypt_padded(key, iv, plain, 0x2F, clear_tail)
}
