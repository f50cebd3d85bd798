//! TPL security mode 15: Dutch DSMR P2 v4.2.2 "encryption method code 15" (DSMR P2 §5),
//! AES-128-CBC with a frame-counter IV [V: Appendix B.1.3]. (The DSMR family re-exports it in
//! [`crate::dsmr::mode15`] with the user-key transport of Appendix B.1.1.)
//!
//! ```text
//! CFG (LE on air, e.g. 30 0F = 0x0F30): B A S 0 MMMM(=1111) NNNN CC HH; N = encrypted blocks
//! IV  = M(2) ‖ ID(4) ‖ version ‖ medium ‖ FC(4, LE) ‖ FC(4, LE)           (DSMR P2 §5.2)
//! FC  = the frame counter, sent in clear as the record 04 FD 08 <4 bytes LE> right after the
//!       encrypted blocks
//! PT  = starts with 2F 2F and its last block ends with at least two 2F fillers (§5.1)
//! ```
//! The IV always uses the M-Bus device's identity: the A field (wireless) or the long header's
//! short ID when the device is the receiver; for a wired RSP_UD with a long header use the
//! long header (same rule as OMS).
//!
//! **Erratum in Appendix B.1.3** (notes §f): the example telegram's header says version 0x42,
//! but its ciphertext was produced with IV byte 6 = 0x40 (the IV printed in the Appendix B
//! preamble, `B4 38 89 67 45 23 40 03 01000000 01000000`): 0x40 yields the exact published
//! plaintext, 0x42 corrupts plaintext byte 6 (0D → 0F) while still passing the 2F 2F check.
//! This module follows the §5.2 rule (version from the header); the test feeds 0x40 explicitly
//! and documents the 0x42 outcome. §5.2.1's own example IV shows 0x42.

use std::fmt;

use crate::crypto::block::with_aes;
use crate::crypto::cbc::{cbc_decrypt, encrypt_padded};
use crate::crypto::Key;
use crate::address::Address;

/// Errors of mode 15; offsets are relative to the `data` given to [`decrypt_mode15_into`].
/// (The M-Bus security layer reports them as the `SecurityError` variants of the same names.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode15Error {
    /// No encrypted block, or more blocks announced than there are bytes.
    BadEncryptedLength {
        /// Where the encrypted data starts.
        offset: usize,
        /// Encrypted bytes announced.
        encrypted: usize,
        /// Bytes available.
        available: usize,
    },
    /// No clear `04 FD 08` frame-counter record after the encrypted blocks.
    MissingFrameCounter {
        /// Where the record should start.
        offset: usize,
    },
    /// The plaintext does not start with 2F 2F (wrong key or IV).
    MissingVerificationBytes {
        /// Start of the encrypted data.
        offset: usize,
    },
    /// The last encrypted block does not end with two 2F fillers (§5.1).
    MissingFiller {
        /// Position of the first missing filler.
        offset: usize,
    },
}

impl fmt::Display for Mode15Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mode15Error::BadEncryptedLength { offset, encrypted, available } => {
                write!(f, "mode 15: {encrypted} encrypted bytes at offset {offset}, {available} available")
            }
            Mode15Error::MissingFrameCounter { offset } => write!(f, "mode 15: no frame counter at offset {offset}"),
            Mode15Error::MissingVerificationBytes { offset } => {
                write!(f, "mode 15: no 2F 2F verification bytes at offset {offset} (wrong key?)")
            }
            Mode15Error::MissingFiller { offset } => write!(f, "mode 15: no 2F fillers at offset {offset}"),
        }
    }
}

impl std::error::Error for Mode15Error {}

/// The mode-15 IV: `M ID ver medium FC FC`.
#[inline]
pub fn iv(addr: &Address, frame_counter: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&addr.bytes());
    let fc = frame_counter.to_le_bytes();
    iv[8..12].copy_from_slice(&fc);
    iv[12..].copy_from_slice(&fc);
    iv
}

/// Read the frame counter from the clear record `04 FD 08 <u32 LE>` at the start of
/// `clear_tail` (the bytes right after the encrypted blocks).
pub fn frame_counter(clear_tail: &[u8]) -> Option<u32> {
    match clear_tail {
        [0x04, 0xFD, 0x08, a, b, c, d, ..] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Decrypt a mode-15 payload into `out` (cleared first).
///
/// * `key`: the user key; `addr`: the M-Bus device identity (see module doc).
/// * `data`: the bytes after the configuration word to the end of the user data (before CS):
///   `blocks`×16 encrypted bytes followed by the clear `04 FD 08 FC` record.
/// * `frame_counter`: `None` = read it from the clear record after the blocks (required then);
///   `Some(fc)` = use this value (e.g. E-meter → device messages).
///
/// Checks: 2F 2F at the start, at least two 2F fillers at the end of the last block.
/// `out` = plaintext ‖ clear bytes. Offsets relative to `data`.
pub fn decrypt_mode15_into(
    key: &Key,
    addr: &Address,
    data: &[u8],
    blocks: u8,
    frame_counter: Option<u32>,
    out: &mut Vec<u8>,
) -> Result<(), Mode15Error> {
    out.clear();
    let enc_len = usize::from(blocks) * 16;
    if enc_len == 0 || enc_len > data.len() {
        return Err(Mode15Error::BadEncryptedLength {
            offset: 0,
            encrypted: enc_len,
            available: data.len(),
        });
    }
    let fc = match frame_counter {
        Some(fc) => fc,
        None => self::frame_counter(&data[enc_len..])
            .ok_or(Mode15Error::MissingFrameCounter { offset: enc_len })?,
    };
    out.extend_from_slice(data);
    with_aes(key, |c| cbc_decrypt(c, &iv(addr, fc), &mut out[..enc_len]));
    let err = if out[0] != 0x2F || out[1] != 0x2F {
        Some(Mode15Error::MissingVerificationBytes { offset: 0 })
    } else if out[enc_len - 2] != 0x2F || out[enc_len - 1] != 0x2F {
        Some(Mode15Error::MissingFiller {
            offset: enc_len - 2,
        })
    } else {
        None
    };
    if let Some(e) = err {
        out.clear();
        return Err(e);
    }
    Ok(())
}

/// Encrypt for mode 15: `plain` (should start with 2F 2F) gets at least two trailing 2F
/// fillers and is padded to whole blocks, CBC-encrypted with the frame-counter IV, and the clear
/// record `04 FD 08 FC` is appended. Returns the bytes after the configuration word and N.
pub fn encrypt_mode15(
    key: &Key,
    addr: &Address,
    frame_counter: u32,
    plain: &[u8],
) -> (Vec<u8>, u8) {
    let mut p = Vec::with_capacity(plain.len() + 18);
    p.extend_from_slice(plain);
    p.extend_from_slice(&[0x2F, 0x2F]);
    let mut tail = [0x04, 0xFD, 0x08, 0, 0, 0, 0];
    tail[3..].copy_from_slice(&frame_counter.to_le_bytes());
    encrypt_padded(key, &iv(addr, frame_counter), &p, 0x2F, &tail)
}
