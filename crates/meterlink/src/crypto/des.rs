//! DES-CBC (FIPS 46-3 cipher, NIST SP 800-38A CBC), in place on whole 8-byte blocks: the
//! cipher of the deprecated M-Bus security modes 2/3 (RustCrypto `des` and `cbc`).

use aes::cipher::array::Array;
use aes::cipher::consts::U8;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

/// A DES key (8 bytes, parity bits ignored).
pub type DesKey = [u8; 8];

/// In-place DES-CBC decryption; `buf.len()` must be a multiple of 8.
pub fn des_cbc_decrypt(key: &DesKey, iv: &[u8; 8], buf: &mut [u8]) {
    let (blocks, rest) = Array::<u8, U8>::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    cbc::Decryptor::<des::Des>::new(key.into(), iv.into()).decrypt_blocks(blocks);
}

/// In-place DES-CBC encryption; `buf.len()` must be a multiple of 8.
pub fn des_cbc_encrypt(key: &DesKey, iv: &[u8; 8], buf: &mut [u8]) {
    let (blocks, rest) = Array::<u8, U8>::slice_as_chunks_mut(buf);
    debug_assert!(rest.is_empty());
    cbc::Encryptor::<des::Des>::new(key.into(), iv.into()).encrypt_blocks(blocks);
}
