//! Security modes 2 and 3: DES-CBC (deprecated; EN 13757-3:2004, kept in EN 13757-7 §9.4.3).
//!
//! No public test vector exists for these modes ([?] in the notes §c.7). Choices made here:
//! * mode 2: IV = 0; mode 3: IV = `M(2) ‖ ID(4) ‖ version ‖ type` (the 8-byte address, one DES
//!   block) [?];
//! * CFG bits 7..4 count 8-byte DES blocks [?] — the decrypt function takes an explicit byte
//!   length so a caller can override this;
//! * the plaintext starts with 2F 2F like the AES modes.
//!
//! The DES primitive is RustCrypto `des`; CBC chaining via `cbc`.

use aes::cipher::array::Array;
use aes::cipher::consts::U8;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

use super::{check_2f2f, pad_2f, MeterAddress, SecurityError};

/// A DES key (8 bytes, parity bits ignored).
pub type DesKey = [u8; 8];

/// The IV for mode 2 (zero) or mode 3 (the address) [?].
pub fn iv(mode: u8, addr: &MeterAddress) -> [u8; 8] {
    if mode == 3 {
        addr.bytes()
    } else {
        [0u8; 8]
    }
}

/// Decrypt DES-CBC into `out` (cleared first).
///
/// `data`: the bytes after the configuration field to the end of the TPDU; the first
/// `enc_len` bytes (a multiple of 8) are encrypted, the rest is clear and copied.
/// Checks the 2F 2F verification bytes. Offsets relative to `data`.
pub fn decrypt_des_cbc_into(
    key: &DesKey,
    iv: &[u8; 8],
    data: &[u8],
    enc_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), SecurityError> {
    out.clear();
    if enc_len % 8 != 0 || enc_len > data.len() {
        return Err(SecurityError::BadEncryptedLength {
            offset: 0,
            encrypted: enc_len,
            available: data.len(),
        });
    }
    out.extend_from_slice(data);
    if enc_len == 0 {
        return Ok(());
    }
    let (blocks, _) = Array::<u8, U8>::slice_as_chunks_mut(&mut out[..enc_len]);
    cbc::Decryptor::<des::Des>::new(key.into(), iv.into()).decrypt_blocks(blocks);
    if let Err(e) = check_2f2f(out, 0) {
        out.clear();
        return Err(e);
    }
    Ok(())
}

/// Encrypt for modes 2/3: `plain` padded with 2F to a multiple of 8, DES-CBC encrypted, then
/// `clear_tail` appended. Returns the bytes after the configuration field and the number of
/// 8-byte blocks.
pub fn encrypt_des_cbc(
    key: &DesKey,
    iv: &[u8; 8],
    plain: &[u8],
    clear_tail: &[u8],
) -> (Vec<u8>, u8) {
    let mut buf = plain.to_vec();
    pad_2f(&mut buf, 8);
    let n = buf.len() / 8;
    let (blocks, _) = Array::<u8, U8>::slice_as_chunks_mut(&mut buf);
    cbc::Encryptor::<des::Des>::new(key.into(), iv.into()).encrypt_blocks(blocks);
    buf.extend_from_slice(clear_tail);
    (buf, n.min(255) as u8)
}
