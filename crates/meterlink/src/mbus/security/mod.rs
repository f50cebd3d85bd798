//! EN 13757-7 security services: security modes, key derivation, MACs.
//!
//! # Usage summary (for the `decode()` pipeline)
//!
//! ```text
//! frame ──link::wmbus::parse_wmbus──> WmbusFrame { m, id, version, device_type, data: CI.. }
//!   CI 8C..8F ──ell::parse_ell / ell::decrypt_ell──> ELL header (+ AES-CTR plaintext, PL-CRC checked)
//!   CI 90     ──afl::parse_afl──> Afl { mcl, ki, mcr, mac, ml } ; rest = TPDU (TPL CI .. end)
//!   TPL CI    ──security::decrypt_tpl(key, tpdu, cfg_offset, &link_address, afl, &mut out)──>
//!              SecurityConfig + `out` = application data (records), MAC/tag/2F2F verified
//! ```
//!
//! * [`decrypt_tpl`] is the one call for the TPL: it parses the configuration field and its
//!   extension ([`config::parse_config`]), picks the address (long header if present, else the
//!   link address), derives keys (KDF-A, [`kdf`]), verifies the AFL MAC when the mode needs one
//!   (modes 7/8), decrypts and checks the verification bytes / tag. Mode 0 copies the data.
//! * The per-mode modules hold the primitives and their `encrypt_*` counterparts for the encoder:
//!   [`mode5`] (AES-CBC, IV = address ‖ ACC×8), [`mode7`] (AES-CBC IV 0 + KDF-A + AFL CMAC),
//!   [`mode8`] (AES-CTR + CMAC, layout hypothesis), [`mode9`] (AES-GCM, layout hypothesis),
//!   [`mode10`] (AES-CCM, OMS profile D), [`des`] (modes 2/3), [`dsmr`] (DSMR P2 "mode 15"),
//!   [`ell_ctr`] (ELL AES-CTR), [`mac`] (AES-CMAC / AES-GMAC helpers, constant-time compare).
//! * All keys are AES-128 (`[u8; 16]`) except DES (`[u8; 8]`). Key schedules are built once per
//!   call; the only allocation per telegram is the plaintext buffer supplied by the caller.
//! * Every failure is a distinct [`SecurityError`] variant; a wrong key shows up as
//!   `MissingVerificationBytes` (CBC modes), `TagMismatch` (CCM/GCM) or `MacMismatch` (AFL).
//!   No plaintext is handed out when a check fails (`out` is cleared).
//!
//! Provenance of every byte layout is in `shared/vectors/security-notes.md`; where sources
//! disagree the verified vectors win, and the choice is written next to the code.

pub mod config;
pub mod des;
pub mod dsmr;
pub mod ell_ctr;
pub mod kdf;
pub mod mac;
pub mod mode10;
pub mod mode5;
pub mod mode7;
pub mod mode8;
pub mod mode9;
mod pipeline;

#[cfg(test)]
mod tests;

pub use config::{parse_config, EncryptedLength, SecurityConfig};
pub use pipeline::decrypt_tpl;
pub(crate) use pipeline::decrypt_tpl_parsed;

use std::fmt;

/// An AES-128 key.
pub type Key = [u8; 16];

/// The identity that goes into IVs, nonces and KDF inputs: the meter's manufacturer, ID,
/// version and device type.
///
/// Which one to use (EN 13757-7 9.6.2 / OMS; verified by OMS N.5.3 and CEN/TR 17167 F.3): the
/// TPL long header's address when the TPL has a long header, otherwise the DLL (link) address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MeterAddress {
    /// Manufacturer code (sent LE).
    pub m: u16,
    /// Identification number, 4 bytes as on air (LE BCD).
    pub id: [u8; 4],
    pub version: u8,
    pub device_type: u8,
}

impl From<crate::mbus::tpl::Address> for MeterAddress {
    fn from(a: crate::mbus::tpl::Address) -> Self {
        MeterAddress::new(a.manufacturer, a.id, a.version, a.device_type)
    }
}

impl MeterAddress {
    pub const fn new(m: u16, id: [u8; 4], version: u8, device_type: u8) -> Self {
        MeterAddress {
            m,
            id,
            version,
            device_type,
        }
    }

    /// From the 8 bytes after the C field of a wireless link header: `M(2) ID(4) ver type`.
    pub fn from_link_bytes(b: &[u8; 8]) -> Self {
        MeterAddress {
            m: u16::from_le_bytes([b[0], b[1]]),
            id: [b[2], b[3], b[4], b[5]],
            version: b[6],
            device_type: b[7],
        }
    }

    /// From the 8 address bytes of a TPL long header: `ID(4) M(2) ver type` (note the order).
    pub fn from_long_header(b: &[u8; 8]) -> Self {
        MeterAddress {
            m: u16::from_le_bytes([b[4], b[5]]),
            id: [b[0], b[1], b[2], b[3]],
            version: b[6],
            device_type: b[7],
        }
    }

    /// `M(2, LE) || ID(4) || version || device type`: the first 8 bytes of every IV/nonce.
    #[inline]
    pub fn bytes(&self) -> [u8; 8] {
        let m = self.m.to_le_bytes();
        [
            m[0],
            m[1],
            self.id[0],
            self.id[1],
            self.id[2],
            self.id[3],
            self.version,
            self.device_type,
        ]
    }
}

/// Errors of the security layer. Offsets are byte offsets into the buffer documented on the
/// function that returned the error (for [`decrypt_tpl`]: into the TPDU, TPL CI = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityError {
    /// The buffer ends before a field that must be there.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// The security mode is recognised but not implemented (1, 4, 6, 11–14, 16–31 ...).
    UnsupportedMode { mode: u8 },
    /// A configuration-field coding that is reserved or inconsistent.
    InvalidConfig { offset: usize, reason: &'static str },
    /// The configuration field announces more encrypted bytes than there are, or a length
    /// that is not a whole number of cipher blocks.
    BadEncryptedLength {
        offset: usize,
        encrypted: usize,
        available: usize,
    },
    /// The KDF-selection bits name a reserved key derivation function.
    UnsupportedKdf { kdf: u8 },
    /// Key derivation needs a message counter but neither the TPL nor the AFL carries one.
    MissingCounter,
    /// The mode requires an AFL MAC (modes 7 and 8) but there is no AFL or it has no MAC.
    MissingMac { mode: u8 },
    /// The decrypted data does not start with the verification bytes 2F 2F: wrong key,
    /// wrong IV inputs or corrupted ciphertext. `offset` = start of the encrypted data.
    MissingVerificationBytes { offset: usize },
    /// DSMR P2: the last encrypted block does not end with at least two 2F fillers.
    MissingFiller { offset: usize },
    /// DSMR P2: no clear `04 FD 08` frame-counter record after the encrypted blocks.
    MissingFrameCounter { offset: usize },
    /// The AFL MAC (CMAC/GMAC) does not verify: wrong key or modified message. (The MAC sits
    /// in the AFL, before the TPDU; its position is `Afl::mac_offset`.)
    AflMacMismatch,
    /// An AEAD tag (CCM, GCM) does not verify: wrong key or modified message.
    TagMismatch { offset: usize },
    /// The MAC/tag length is not one the mode allows.
    BadTagLength { len: usize },
}

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SecurityError::*;
        match self {
            Truncated { offset, needed, available } => write!(
                f,
                "security header truncated at offset {offset}: needs {needed} bytes, {available} left"
            ),
            UnsupportedMode { mode } => write!(f, "security mode {mode} is not supported"),
            InvalidConfig { offset, reason } => {
                write!(f, "invalid configuration field at offset {offset}: {reason}")
            }
            BadEncryptedLength { offset, encrypted, available } => write!(
                f,
                "encrypted length {encrypted} at offset {offset} does not fit the {available} bytes available"
            ),
            UnsupportedKdf { kdf } => write!(f, "reserved key derivation selection {kdf}"),
            MissingCounter => f.write_str("key derivation needs a message counter but none is present"),
            MissingMac { mode } => write!(f, "security mode {mode} requires an AFL MAC"),
            MissingVerificationBytes { offset } => write!(
                f,
                "decryption at offset {offset} did not yield the 2F 2F verification bytes (wrong key?)"
            ),
            MissingFiller { offset } => {
                write!(f, "encrypted block ending at offset {offset} lacks the 2F filler bytes")
            }
            MissingFrameCounter { offset } => {
                write!(f, "no 04 FD 08 frame-counter record at offset {offset}")
            }
            AflMacMismatch => f.write_str("AFL MAC does not verify (wrong key or modified message)"),
            TagMismatch { offset } => write!(f, "authentication tag at offset {offset} does not verify"),
            BadTagLength { len } => write!(f, "MAC/tag length {len} not allowed"),
        }
    }
}

impl std::error::Error for SecurityError {}

impl SecurityError {
    /// Byte offset of the problem, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        use SecurityError::*;
        match *self {
            Truncated { offset, .. }
            | InvalidConfig { offset, .. }
            | BadEncryptedLength { offset, .. }
            | MissingVerificationBytes { offset }
            | MissingFiller { offset }
            | MissingFrameCounter { offset }
            | TagMismatch { offset } => Some(offset),
            UnsupportedMode { .. }
            | UnsupportedKdf { .. }
            | MissingCounter
            | MissingMac { .. }
            | AflMacMismatch
            | BadTagLength { .. } => None,
        }
    }

    /// The same error with every offset moved by `delta`.
    pub fn shifted(self, delta: usize) -> Self {
        use SecurityError::*;
        match self {
            Truncated {
                offset,
                needed,
                available,
            } => Truncated {
                offset: offset + delta,
                needed,
                available,
            },
            InvalidConfig { offset, reason } => InvalidConfig {
                offset: offset + delta,
                reason,
            },
            BadEncryptedLength {
                offset,
                encrypted,
                available,
            } => BadEncryptedLength {
                offset: offset + delta,
                encrypted,
                available,
            },
            MissingVerificationBytes { offset } => MissingVerificationBytes {
                offset: offset + delta,
            },
            MissingFiller { offset } => MissingFiller {
                offset: offset + delta,
            },
            MissingFrameCounter { offset } => MissingFrameCounter {
                offset: offset + delta,
            },
            TagMismatch { offset } => TagMismatch {
                offset: offset + delta,
            },
            e @ (UnsupportedMode { .. }
            | UnsupportedKdf { .. }
            | MissingCounter
            | MissingMac { .. }
            | AflMacMismatch
            | BadTagLength { .. }) => e,
        }
    }
}

/// The message framing shared by the AEAD modes 9 and 10: the bytes after the message counter
/// are `ciphertext ‖ clear bytes ‖ tag`, and the clear bytes are authenticated by appending them
/// to the AAD. `open(aad, ciphertext, tag, out)` is the mode's AEAD; errors are relative to `data`.
pub(crate) fn open_aead_framed(
    aad: &[u8],
    data: &[u8],
    enc_len: usize,
    tag_len: usize,
    out: &mut Vec<u8>,
    open: impl FnOnce(&[u8], &[u8], &[u8], &mut Vec<u8>) -> Result<(), SecurityError>,
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
        open(aad, ct, tag, out)
    } else {
        let mut full_aad = Vec::with_capacity(aad.len() + clear.len());
        full_aad.extend_from_slice(aad);
        full_aad.extend_from_slice(clear);
        open(&full_aad, ct, tag, out)
    };
    r.map_err(|e| e.shifted(tag_at))?;
    out.extend_from_slice(clear);
    Ok(())
}

/// The encryption side of [`open_aead_framed`]: `seal(aad, plain)` returns `ciphertext ‖ tag`;
/// the result is `ciphertext ‖ clear_tail ‖ tag`.
pub(crate) fn seal_aead_framed(
    aad: &[u8],
    plain: &[u8],
    clear_tail: &[u8],
    seal: impl FnOnce(&[u8], &[u8]) -> Result<Vec<u8>, SecurityError>,
) -> Result<Vec<u8>, SecurityError> {
    let mut full_aad = aad.to_vec();
    full_aad.extend_from_slice(clear_tail);
    let mut ct = seal(&full_aad, plain)?;
    let tag = ct.split_off(plain.len());
    ct.extend_from_slice(clear_tail);
    ct.extend_from_slice(&tag);
    Ok(ct)
}

/// Pad `data` with 2F idle fillers to a multiple of `block` bytes (at least one filler is not
/// required). Used by the encoders of the CBC modes.
pub fn pad_2f(data: &mut Vec<u8>, block: usize) {
    let rem = data.len() % block;
    if rem != 0 {
        data.resize(data.len() + block - rem, 0x2F);
    }
}

/// Check the two verification bytes `2F 2F` at the start of decrypted data.
#[inline]
pub(crate) fn check_2f2f(plain: &[u8], offset: usize) -> Result<(), SecurityError> {
    if plain.len() >= 2 && plain[0] == 0x2F && plain[1] == 0x2F {
        Ok(())
    } else {
        Err(SecurityError::MissingVerificationBytes { offset })
    }
}

/// Low-level AES helpers shared by the modes (RustCrypto `aes`, `cbc`, `ctr`).
pub(crate) mod prim {
    use aes::cipher::array::Array;
    use aes::cipher::consts::U16;
    use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit, StreamCipher};
    pub(crate) use aes::Aes128;

    #[inline]
    pub(crate) fn aes(key: &super::Key) -> Aes128 {
        Aes128::new(key.into())
    }

    /// Run `f` with the expanded `key`, taken from a small per-thread cache: bulk decoding
    /// meets the same meter keys again and again, and expanding a key costs about as much as
    /// decrypting a short telegram. (The expanded keys stay in the cache as they would stay in
    /// freed memory: `aes` does not wipe them either.)
    pub(crate) fn with_aes<R>(key: &super::Key, f: impl FnOnce(&Aes128) -> R) -> R {
        use std::cell::RefCell;
        const WAYS: usize = 4;
        type Ways = (usize, [Option<(super::Key, Aes128)>; WAYS]);
        thread_local! {
            static CACHE: RefCell<Ways> = const { RefCell::new((0, [None, None, None, None])) };
        }
        CACHE.with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                // Re-entered from `f` (not done today): no cache.
                return f(&aes(key));
            };
            let (next, ways) = &mut *cache;
            if let Some((_, cipher)) = ways.iter().flatten().find(|(k, _)| k == key) {
                return f(cipher);
            }
            let slot = *next;
            *next = (slot + 1) % WAYS;
            let (_, cipher) = ways[slot].insert((*key, aes(key)));
            f(cipher)
        })
    }

    /// In-place AES-128-CBC decryption; `buf.len()` must be a multiple of 16.
    #[inline]
    pub(crate) fn cbc_decrypt(cipher: &Aes128, iv: &[u8; 16], buf: &mut [u8]) {
        let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(buf);
        debug_assert!(rest.is_empty());
        let mut dec = cbc::Decryptor::<Aes128>::inner_iv_init(cipher.clone(), iv.into());
        dec.decrypt_blocks(blocks);
    }

    /// In-place AES-128-CBC encryption; `buf.len()` must be a multiple of 16.
    #[inline]
    pub(crate) fn cbc_encrypt(cipher: &Aes128, iv: &[u8; 16], buf: &mut [u8]) {
        let (blocks, rest) = Array::<u8, U16>::slice_as_chunks_mut(buf);
        debug_assert!(rest.is_empty());
        let mut enc = cbc::Encryptor::<Aes128>::inner_iv_init(cipher.clone(), iv.into());
        enc.encrypt_blocks(blocks);
    }

    /// In-place AES-128-CTR (128-bit big-endian counter starting at `icb`); encrypts or decrypts.
    #[inline]
    pub(crate) fn ctr_apply(cipher: &Aes128, icb: &[u8; 16], buf: &mut [u8]) {
        let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
            cipher.clone(),
            icb.into(),
        );
        let mut c = ctr::Ctr128BE::<Aes128>::from_core(core);
        c.apply_keystream(buf);
    }

    #[cfg(test)]
    mod cache_tests {
        use super::*;

        /// FIPS-197 Appendix C.1 (AES-128): key 000102..0F, plaintext 00112233..FF.
        const FIPS_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        const FIPS_PLAIN: [u8; 16] =
            [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF];
        const FIPS_CIPHER: [u8; 16] =
            [0x69, 0xC4, 0xE0, 0xD8, 0x6A, 0x7B, 0x04, 0x30, 0xD8, 0xCD, 0xB7, 0x80, 0x70, 0xB4, 0xC5, 0x5A];

        fn encrypt(c: &Aes128, block: [u8; 16]) -> [u8; 16] {
            use aes::cipher::BlockCipherEncrypt;
            let mut b = Array::from(block);
            c.encrypt_block(&mut b);
            b.into()
        }

        #[test]
        fn cached_keys_are_the_right_keys_across_evictions() {
            // More keys than ways, visited in turn twice: every lookup after an eviction must
            // give that key's schedule, never a neighbour's.
            let keys: Vec<[u8; 16]> = (0u8..7).map(|k| std::array::from_fn(|i| if k == 0 { i as u8 } else { k ^ (i as u8) << 4 })).collect();
            for _ in 0..2 {
                for k in &keys {
                    let got = with_aes(k, |c| encrypt(c, FIPS_PLAIN));
                    assert_eq!(got, encrypt(&aes(k), FIPS_PLAIN));
                }
            }
            assert_eq!(keys[0], FIPS_KEY);
            assert_eq!(with_aes(&FIPS_KEY, |c| encrypt(c, FIPS_PLAIN)), FIPS_CIPHER);
        }
    }
}
