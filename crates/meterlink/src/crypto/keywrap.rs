//! AES key wrap (RFC 3394 §2.2, the "index based" form), with the default initial value
//! A6A6A6A6A6A6A6A6: the key-transfer wrapping of DLMS/COSEM security suite 0.

use aes::cipher::array::Array;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};

use super::block::aes;
use super::mac::ct_eq;
use super::{CryptoError, Key};

/// The default initial value of RFC 3394 §2.2.3.1.
pub const DEFAULT_IV: [u8; 8] = [0xA6; 8];

/// Wrap `key_data` (n ≥ 2 64-bit blocks) under the key-encryption key `kek`: returns the
/// n + 1 blocks `A ‖ R[1..n]` (§2.2.1).
pub fn wrap(kek: &Key, key_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if key_data.len() % 8 != 0 || key_data.len() < 16 {
        return Err(CryptoError::BadLength { len: key_data.len() });
    }
    let cipher = aes(kek);
    let n = key_data.len() / 8;
    let mut out = Vec::with_capacity(key_data.len() + 8);
    out.extend_from_slice(&DEFAULT_IV);
    out.extend_from_slice(key_data);
    let mut b = Array::default();
    for j in 0..6 {
        for i in 1..=n {
            b[..8].copy_from_slice(&out[..8]);
            b[8..].copy_from_slice(&out[8 * i..8 * i + 8]);
            cipher.encrypt_block(&mut b);
            let t = ((n * j + i) as u64).to_be_bytes();
            for k in 0..8 {
                out[k] = b[k] ^ t[k];
            }
            out[8 * i..8 * i + 8].copy_from_slice(&b[8..]);
        }
    }
    Ok(out)
}

/// Unwrap `wrapped` (n + 1 ≥ 3 64-bit blocks) under `kek` (§2.2.2) and check the integrity
/// value (§2.2.3): returns the n blocks of key data, or `TagMismatch`.
pub fn unwrap(kek: &Key, wrapped: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if wrapped.len() % 8 != 0 || wrapped.len() < 24 {
        return Err(CryptoError::BadLength { len: wrapped.len() });
    }
    let cipher = aes(kek);
    let n = wrapped.len() / 8 - 1;
    let mut a = [0u8; 8];
    a.copy_from_slice(&wrapped[..8]);
    let mut r = wrapped[8..].to_vec();
    let mut b = Array::default();
    for j in (0..6).rev() {
        for i in (1..=n).rev() {
            let t = ((n * j + i) as u64).to_be_bytes();
            for k in 0..8 {
                b[k] = a[k] ^ t[k];
            }
            b[8..].copy_from_slice(&r[8 * (i - 1)..8 * i]);
            cipher.decrypt_block(&mut b);
            a.copy_from_slice(&b[..8]);
            r[8 * (i - 1)..8 * i].copy_from_slice(&b[8..]);
        }
    }
    if ct_eq(&a, &DEFAULT_IV) {
        Ok(r)
    } else {
        Err(CryptoError::TagMismatch)
    }
}
