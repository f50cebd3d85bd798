//! AES-128-CBC (NIST SP 800-38A §6.2), in place on whole 16-byte blocks.

use aes::cipher::array::Array;
use aes::cipher::consts::U16;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};

use super::block::{aes, Aes128};
use super::Key;

/// In-place AES-128-CBC decryption; `buf.len()` must be a multiple of 16.
#[inline]
pub fn cbc_decrypt(cipher: &Aes128, iv: &[u8; 16], buf: &mut [u8]) {
    let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    let mut dec = cbc::Decryptor::<Aes128>::inner_iv_init(cipher.clone(), iv.into());
    dec.decrypt_blocks(blocks);
}

/// In-place AES-128-CBC encryption; `buf.len()` must be a multiple of 16.
#[inline]
pub fn cbc_encrypt(cipher: &Aes128, iv: &[u8; 16], buf: &mut [u8]) {
    let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    let mut enc = cbc::Encryptor::<Aes128>::inner_iv_init(cipher.clone(), iv.into());
    enc.encrypt_blocks(blocks);
}

/// `plain` padded with `fill` bytes to whole blocks and CBC-encrypted, then `clear_tail`
/// appended unencrypted. Returns the bytes and the number of encrypted blocks (at most 255).
pub fn encrypt_padded(key: &Key, iv: &[u8; 16], plain: &[u8], fill: u8, clear_tail: &[u8]) -> (Vec<u8>, u8) {
    let mut buf = Vec::with_capacity(plain.len() + 16 + clear_tail.len());
    buf.extend_from_slice(plain);
    let rem = buf.len() % 16;
    if rem != 0 {
        buf.resize(buf.len() + 16 - rem, fill);
    }
    let n = buf.len() / 16;
    cbc_encrypt(&aes(key), iv, &mut buf);
    buf.extend_from_slice(clear_tail);
    (buf, n.min(255) as u8)
}
