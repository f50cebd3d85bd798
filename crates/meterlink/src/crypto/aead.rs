//! One AEAD over AES-128-GCM (NIST SP 800-38D) and AES-128-CCM (NIST SP 800-38C), used by
//! M-Bus security modes 9 (GCM) and 10 (CCM) and by DLMS/COSEM suite 0 (GCM, 12-byte IV).
//!
//! Both open into a caller buffer (no plaintext is released unless the tag verifies) and seal
//! to `ciphertext ‖ tag`. Supported sizes: GCM with a 12-byte IV and a 12- or 16-byte tag
//! (shorter GCM tags need the RustCrypto `hazmat` feature); CCM with a 13-byte nonce (L = 2)
//! and a 4-, 8-, 12- or 16-byte tag.
//!
//! [`gcm_open_detached`], [`gcm_seal_detached`] and [`gcm_keystream`] take a 128- or 256-bit
//! key (by its length): AES-GCM-128 of DLMS/COSEM security suites 0 and 1 and AES-GCM-256 of
//! suite 2 (Green Book DLMS UA 1000-2 9.2.3.3), with a 12-byte IV and a 12- or 16-byte tag.

use aes::cipher::consts::{U12, U13, U16, U4, U8};
use aes_gcm::aead::AeadInOut;
use aes_gcm::AesGcm;
use aes::Aes256;
use aes::cipher::KeyInit;
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

/// Run `$body` with `$c` bound to AES-GCM under `$key` (16 or 32 bytes) with a `$tag_len`
/// (12 or 16) byte tag, or return `BadLength` (key) / `BadTagLength`.
macro_rules! with_gcm {
    ($key:expr, $tag_len:expr, |$c:ident| $body:expr) => {
        match ($key.len(), $tag_len) {
            (16, 12) => {
                let $c = AesGcm::<Aes128, U12, U12>::new_from_slice($key).map_err(|_| CryptoError::BadLength { len: 16 })?;
                $body
            }
            (16, 16) => {
                let $c = AesGcm::<Aes128, U12, U16>::new_from_slice($key).map_err(|_| CryptoError::BadLength { len: 16 })?;
                $body
            }
            (32, 12) => {
                let $c = AesGcm::<Aes256, U12, U12>::new_from_slice($key).map_err(|_| CryptoError::BadLength { len: 32 })?;
                $body
            }
            (32, 16) => {
                let $c = AesGcm::<Aes256, U12, U16>::new_from_slice($key).map_err(|_| CryptoError::BadLength { len: 32 })?;
                $body
            }
            (16 | 32, n) => return Err(CryptoError::BadTagLength { len: n }),
            (k, _) => return Err(CryptoError::BadLength { len: k }),
        }
    };
}

/// AES-GCM decryption in place (SP 800-38D §7.2) under a 16- or 32-byte `key`: verifies `tag`
/// (12 or 16 bytes) over `aad` and the ciphertext in `buf` first; `buf` holds the plaintext
/// only on success and is left as it was (the ciphertext) on any error.
pub fn gcm_open_detached(key: &[u8], iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
    with_gcm!(key, tag.len(), |c| {
        let t = tag.try_into().map_err(|_| CryptoError::BadTagLength { len: tag.len() })?;
        c.decrypt_inout_detached(iv.into(), aad, buf.into(), t).map_err(|_| CryptoError::TagMismatch)
    })
}

/// AES-GCM encryption in place (SP 800-38D §7.1) under a 16- or 32-byte `key`: `buf` becomes
/// the ciphertext; returns the tag, `tag_len` (12 or 16) bytes long.
pub fn gcm_seal_detached(key: &[u8], iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag_len: usize) -> Result<Vec<u8>, CryptoError> {
    let len = buf.len();
    with_gcm!(key, tag_len, |c| {
        let tag = c.encrypt_inout_detached(iv.into(), aad, buf.into()).map_err(|_| CryptoError::BadLength { len })?;
        Ok(tag.to_vec())
    })
}

/// The GCM keystream alone, XORed onto `buf` in place: AES-CTR under a 16- or 32-byte `key`
/// from the counter block `iv ‖ 00000002` (SP 800-38D §7.1 step 3, GCTR from inc32(J0)). It
/// encrypts and decrypts; no tag is computed or checked (DLMS encryption-only protection).
pub fn gcm_keystream(key: &[u8], iv: &[u8; 12], buf: &mut [u8]) -> Result<(), CryptoError> {
    use aes::cipher::{InnerIvInit, StreamCipher};
    let mut icb = [0u8; 16];
    icb[..12].copy_from_slice(iv);
    icb[15] = 2;
    match key.len() {
        16 => {
            let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr32BE>::inner_iv_init(Aes128::new_from_slice(key).map_err(|_| CryptoError::BadLength { len: 16 })?, (&icb).into());
            ctr::Ctr32BE::<Aes128>::from_core(core).apply_keystream(buf);
        }
        32 => {
            let core = ctr::CtrCore::<Aes256, ctr::flavors::Ctr32BE>::inner_iv_init(Aes256::new_from_slice(key).map_err(|_| CryptoError::BadLength { len: 32 })?, (&icb).into());
            ctr::Ctr32BE::<Aes256>::from_core(core).apply_keystream(buf);
        }
        k => return Err(CryptoError::BadLength { len: k }),
    }
    Ok(())
}

/// An AES-GCM key prepared once: its AES key schedule and GHASH key (H = E(K, 0¹²⁸), SP
/// 800-38D §6.4), for opening many messages under the same key with a 12-byte tag (DLMS/COSEM
/// suites 0–2). Opening with it gives the same result as [`gcm_open_detached`]; it only skips
/// the per-message key setup. `Debug` does not show the key.
#[derive(Clone)]
pub struct GcmKey(GcmKeyInner);

#[derive(Clone)]
enum GcmKeyInner {
    A128(AesGcm<Aes128, U12, U12>),
    A256(AesGcm<Aes256, U12, U12>),
}

impl std::fmt::Debug for GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GcmKey { .. }")
    }
}

impl GcmKey {
    /// Prepare a 16- or 32-byte key.
    pub fn new(key: &[u8]) -> Result<GcmKey, CryptoError> {
        let bad = |_| CryptoError::BadLength { len: key.len() };
        Ok(GcmKey(match key.len() {
            16 => GcmKeyInner::A128(AesGcm::new_from_slice(key).map_err(bad)?),
            32 => GcmKeyInner::A256(AesGcm::new_from_slice(key).map_err(bad)?),
            n => return Err(CryptoError::BadLength { len: n }),
        }))
    }

    /// [`gcm_open_detached`] with this key and a 12-byte `tag`: `buf` holds the plaintext only
    /// when the tag verifies.
    pub fn open_detached(&self, iv: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        let t = tag.try_into().map_err(|_| CryptoError::BadTagLength { len: tag.len() })?;
        let r = match &self.0 {
            GcmKeyInner::A128(c) => c.decrypt_inout_detached(iv.into(), aad, buf.into(), t),
            GcmKeyInner::A256(c) => c.decrypt_inout_detached(iv.into(), aad, buf.into(), t),
        };
        r.map_err(|_| CryptoError::TagMismatch)
    }
}
