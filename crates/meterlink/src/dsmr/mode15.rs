//! DSMR P2 v4.2.2 §5 "encryption method code 15" and §6.5.1 user-key transport.
//!
//! The cipher itself (AES-128-CBC with the frame-counter IV) is TPL security mode 15 of the
//! M-Bus layer, [`crate::mbus::security::mode15`], re-exported here: DSMR P2 is built on M-Bus,
//! so this family depends on `mbus` and never the other way round. What is DSMR's own lives
//! here: the Appendix B default key, and the user key carried encrypted with the default key
//! (AES-128-ECB) as two 64-bit records (Appendix B.1.1) [V].

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};

use crate::crypto::block::aes;
use crate::crypto::Key;
pub use crate::mbus::security::mode15::{decrypt_mode15_into, encrypt_mode15, frame_counter, iv, Mode15Error};

/// The DSMR default key of Appendix B (used only to transport the user key).
pub const DEFAULT_KEY_EXAMPLE: Key = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];

/// User-key transport (Appendix B.1.1): the user key encrypted with the default key,
/// AES-128 on a single block (ECB).
pub fn wrap_user_key(default_key: &Key, user_key: &Key) -> [u8; 16] {
    let mut b = (*user_key).into();
    aes(default_key).encrypt_block(&mut b);
    b.into()
}

/// Inverse of [`wrap_user_key`].
pub fn unwrap_user_key(default_key: &Key, wrapped: &[u8; 16]) -> Key {
    let mut b = (*wrapped).into();
    aes(default_key).decrypt_block(&mut b);
    b.into()
}

/// The two 64-bit data records that carry a wrapped key in the key-change SND_UD (B.1.1):
/// `07 FD 19 <low half, LSB first>` and `47 FD 19 <high half, LSB first>` (22 bytes).
pub fn key_transport_records(wrapped: &[u8; 16]) -> [u8; 22] {
    let mut r = [0u8; 22];
    r[..3].copy_from_slice(&[0x07, 0xFD, 0x19]);
    r[11..14].copy_from_slice(&[0x47, 0xFD, 0x19]);
    for i in 0..8 {
        r[3 + i] = wrapped[15 - i];
        r[14 + i] = wrapped[7 - i];
    }
    r
}
