//! MAC primitives: AES-CMAC-128 (NIST SP 800-38B) and AES-GMAC-128 (NIST SP 800-38D, GCM with
//! empty plaintext), plus a constant-time comparison for truncated MACs.

use aes::cipher::consts::{U12, U16};
use aes::Aes128;
use aes_gcm::aead::AeadInOut;
use aes_gcm::AesGcm;
use cmac::{Cmac, KeyInit, Mac};

use super::Key;

/// An AES-CMAC-128 computation that can be fed piecewise (no allocation).
#[derive(Clone)]
pub struct CmacState(Cmac<Aes128>);

impl std::fmt::Debug for CmacState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CmacState")
    }
}

impl CmacState {
    /// Start a CMAC with `key`.
    #[inline]
    pub fn new(key: &Key) -> Self {
        CmacState(<Cmac<Aes128> as KeyInit>::new(key.into()))
    }

    /// Feed `data`.
    #[inline]
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The full 16-byte tag.
    #[inline]
    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into_bytes().into()
    }
}

/// AES-CMAC-128 of `data` under `key` (16-byte tag).
pub fn aes_cmac(key: &Key, data: &[u8]) -> [u8; 16] {
    let mut s = CmacState::new(key);
    s.update(data);
    s.finalize()
}

/// AES-GMAC-128: the GCM tag over `aad` with empty plaintext, key `key`, 12-byte `iv`.
/// Returns the full 16-byte tag; truncate as the protocol requires.
pub fn aes_gmac(key: &Key, iv: &[u8; 12], aad: &[u8]) -> [u8; 16] {
    let gcm = AesGcm::<Aes128, U12, U16>::new(key.into());
    let mut empty = [0u8; 0];
    let tag = gcm
        .encrypt_inout_detached(iv.into(), aad, (&mut empty[..]).into())
        .expect("GMAC over an in-range AAD cannot fail");
    tag.into()
}

/// Constant-time equality of two byte strings of the same length (false if lengths differ).
#[inline]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    d == 0
}
