//! ELL AES-128-CTR (EN 13757-4 §13.2.12) [V: Kamstrup Multical 21, wmbusmeters serial_aes.msg].
//!
//! ```text
//! ICB = M(2) ‖ A(6) ‖ CC' ‖ SN(4, LE) ‖ FN(2, LE) ‖ BC(1)        CC' = CC & !(H 0x10 | R 0x02)
//! keystream block i = AES(K, ICB + i)                               (BC is the low byte)
//! ```
//! M/A = the DLL (transmitter) address [V]. For ELL IV (CI 8F, with receiver address) the DLL
//! address is used too (as all known implementations do) [?]. FN = 0 for unfragmented frames.

use super::prim::{ctr_apply, with_aes};
use super::{Key, MeterAddress};

/// The initial counter block for the ELL.
#[inline]
pub fn icb(addr: &MeterAddress, cc: u8, sn: u32, frame_number: u16) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&addr.bytes());
    b[8] = cc & !0x12;
    b[9..13].copy_from_slice(&sn.to_le_bytes());
    b[13..15].copy_from_slice(&frame_number.to_le_bytes());
    b
}

/// Apply the ELL keystream in place (decrypts or encrypts). `buf` = the bytes from the
/// payload-CRC field to the end of the frame (DLL CRCs removed).
pub fn ell_ctr_apply(key: &Key, icb: &[u8; 16], buf: &mut [u8]) {
    with_aes(key, |c| ctr_apply(c, icb, buf));
}
