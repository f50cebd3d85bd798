//! Security mode 7: AES-128-CBC with IV = 0, ephemeral keys from KDF-A and an AFL AES-CMAC
//! (EN 13757-7 §9.4.5, OMS security profile B) [V: CEN/TR 17167 F.3, OMS profile B short
//! header, sensostar frame B].
//!
//! ```text
//! Kenc, Kmac = KDF-A(MK, DC 00/01, C, ID)        C = TPL MC if present, else AFL.MCR
//! PT  = AES-CBC-Decrypt(Kenc, IV = 0, N×16 bytes) -- starts 2F 2F; clear bytes follow
//! MAC = CMAC(Kmac, MCL ‖ {KI} ‖ {MCR} ‖ {ML} ‖ TPDU)  -- see `afl::compute_mac`, over the ciphertext
//! ```
//! The MAC is checked before decryption (encrypt-then-MAC); [`crate::mbus::security::decrypt_tpl`]
//! does both. The functions here are the cipher part only.

use crate::crypto::kdf::kdf_a_pair;

use super::mode5::{cbc_decrypt_2f2f, encrypt_cbc};
use super::{Key, SecurityError};

/// Derive `(Kenc, Kmac)` for a meter → partner message: `counter` = TPL message counter if
/// the TPL has one, else AFL.MCR; `id` = long-header ID if present, else the DLL ID.
pub fn derive_keys(master: &Key, counter: u32, id: &[u8; 4]) -> (Key, Key) {
    kdf_a_pair(master, counter, id, false)
}

/// Decrypt the mode-7 payload into `out` (cleared first).
///
/// * `kenc`: the derived encryption key (see [`derive_keys`]).
/// * `data`: the bytes after the TPL security header (CFG, extension, optional MC/key version):
///   `blocks`×16 encrypted bytes then clear bytes, to the end of the TPDU.
/// * `out`: plaintext (starts 2F 2F) followed by the clear bytes. Offsets relative to `data`.
pub fn decrypt_mode7_into(
    kenc: &Key,
    data: &[u8],
    blocks: u8,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    cbc_decrypt_2f2f(kenc, &[0u8; 16], data, usize::from(blocks) * 16, 0, out)
}

/// Allocating form of [`decrypt_mode7_into`].
pub fn decrypt_mode7(kenc: &Key, data: &[u8], blocks: u8) -> Result<Vec<u8>, SecurityError> {
    let mut out = Vec::with_capacity(data.len());
    decrypt_mode7_into(kenc, data, blocks, &mut out)?;
    Ok(out)
}

/// Encrypt for mode 7 with the derived `kenc`: `plain` (should start 2F 2F) is padded with 2F
/// and CBC-encrypted with IV 0, then `clear_tail` appended. Returns the bytes after the TPL
/// security header and N. The caller then computes the AFL MAC over the TPDU with Kmac.
pub fn encrypt_mode7(kenc: &Key, plain: &[u8], clear_tail: &[u8]) -> (Vec<u8>, u8) {
    encrypt_cbc(kenc, &[0u8; 16], plain, clear_tail)
}
