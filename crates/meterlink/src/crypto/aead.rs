//! One AEAD over AES-128-GCM (NIST SP 800-38D) and AES-128-CCM (NIST SP 800-38C), used by
//! M-Bus security modes 9 (GCM) and 10 (CCM) and by DLMS/COSEM suite 0 (GCM, 12-byte IV).
//!
//! Both open into a caller buffer (no plaintext is released unless the tag verifies) and seal
//! to `ciphertext ‖ tag`. Supported sizes: GCM with a 12-byte IV and a 12- or 16-byte tag
//! (shorter GCM tags need the RustCrypto `hazmat` feature); CCM with a 13-byte nonce (L = 2)
//! and a 4-, 8-, 12- or 16-byte tag.

use aes::cipher::consts::{U12, U13, U16, U4, U8};
use aes_gcm::aead::AeadInOut;
use aes_gcm::AesGcm;
use ccm::Ccm;

use super::block::{aes, Aes128};
use super::{CryptoError, Key};

/// The AEAD algorithm: AES-128 in GCM or CCM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aead {
    /// AES-128-GCM, 12-byte IV.
    Gcm,
    /// AES-128-CCM, 13-byte nonce (L = 2).
    Ccm,
}

/// Run `$body` with `$c` bound to the cipher of `$aead` for `$tag_len`, or return
/// `BadTagLength`.
macro_rules! with_cipher {
    ($aead:expr, $tag_len:expr, $key:expr, |$c:ident| $body:expr) => {
        match ($aead, $tag_len) {
            (Aead::Gcm, 12) => {
                let $c = AesGcm::<Aes128, U12, U12>::from(aes($key));
                $body
            }
            (Aead::Gcm, 16) => {
                let $c = AesGcm::<Aes128, U12, U16>::from(aes($key));
                $body
            }
            (Aead::Ccm, 4) => {
                let $c = Ccm::<Aes128, U4, U13>::from(aes($key));
                $body
            }
            (Aead::Ccm, 8) => {
                let $c = Ccm::<Aes128, U8, U13>::from(aes($key));
                $body
            }
            (Aead::Ccm, 12) => {
                let $c = Ccm::<Aes128, U12, U13>::from(aes($key));
                $body
            }
            (Aead::Ccm, 16) => {
                let $c = Ccm::<Aes128, U16, U13>::from(aes($key));
                $body
            }
            (_, n) => return Err(CryptoError::BadTagLength { len: n }),
        }
    };
}

impl Aead {
    /// The nonce (IV) length the algorithm takes: 12 (GCM) or 13 (CCM).
    pub const fn nonce_len(self) -> usize {
        match self {
            Aead::Gcm => 12,
            Aead::Ccm => 13,
        }
    }

    /// Check the nonce length; the cipher crates take it as a typed array.
    fn check_nonce(self, nonce: &[u8]) -> Result<(), CryptoError> {
        if nonce.len() == self.nonce_len() {
            Ok(())
        } else {
            Err(CryptoError::BadNonceLength { len: nonce.len() })
        }
    }

    /// Decrypt `ciphertext` into `out` (cleared first) and verify `tag` over `aad` and the
    /// ciphertext. `out` holds the plaintext only on success; on any error it is empty.
    pub fn open_into(
        self,
        key: &Key,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        out.clear();
        self.check_nonce(nonce)?;
        out.extend_from_slice(ciphertext);
        let r = self.open_in_place(key, nonce, aad, out, tag);
        if r.is_err() {
            out.clear();
        }
        r
    }

    /// Decrypt `buf` in place and verify `tag` (the nonce length is checked by the caller).
    fn open_in_place(self, key: &Key, nonce: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        with_cipher!(self, tag.len(), key, |c| {
            let t = tag.try_into().map_err(|_| CryptoError::BadTagLength { len: tag.len() })?;
            let n = nonce.try_into().map_err(|_| CryptoError::BadNonceLength { len: nonce.len() })?;
            c.decrypt_inout_detached(n, aad, buf.into(), t).map_err(|_| CryptoError::TagMismatch)
        })
    }

    /// Encrypt `plain` and authenticate it with `aad`: returns `ciphertext ‖ tag` with a tag of
    /// `tag_len` bytes.
    pub fn seal(self, key: &Key, nonce: &[u8], aad: &[u8], plain: &[u8], tag_len: usize) -> Result<Vec<u8>, CryptoError> {
        self.check_nonce(nonce)?;
        let mut buf = Vec::with_capacity(plain.len() + tag_len);
        buf.extend_from_slice(plain);
        with_cipher!(self, tag_len, key, |c| {
            let n = nonce.try_into().map_err(|_| CryptoError::BadNonceLength { len: nonce.len() })?;
            let tag = c
                .encrypt_inout_detached(n, aad, buf.as_mut_slice().into())
                .map_err(|_| CryptoError::BadLength { len: plain.len() })?;
            buf.extend_from_slice(&tag);
        });
        Ok(buf)
    }
}
