//! Security modes 2 and 3: DES-CBC (deprecated; EN 13757-3:2004, kept in EN 13757-7 §9.4.3).
//!
//! No public test vector exists for these modes ([?] in the notes §c.7). Choices made here:
//! * mode 2: IV = 0 [verified: the wmbusmeters `tests/test_des.sh` telegram decrypts to 2F2F with
//!   IV 0 and key 0102030405060708]; mode 3: IV = `M(2) ‖ ID(4) ‖ version ‖ type` (the 8-byte
//!   address, one DES block) [?, no vector];
//! * CFG bits 7..4 count 16-byte units (as in mode 5), verified by the same telegram (N = 1,
//!   16 encrypted bytes); the decrypt function takes an explicit byte length;
//! * the plaintext starts with 2F 2F like the AES modes.
//!
//! The DES-CBC primitive is [`crate::crypto::des`].

pub use crate::crypto::des::DesKey;
use crate::crypto::des::{des_cbc_decrypt, des_cbc_encrypt};

use super::{check_2f2f, pad_2f, Address, SecurityError};

/// The IV for mode 2 (zero) or mode 3 (the address) [?].
pub fn iv(mode: u8, addr: &Address) -> [u8; 8] {
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
    des_cbc_decrypt(key, iv, &mut out[..enc_len]);
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
    // Padded to whole 16-byte units: the configuration field's N counts 16-byte units.
    pad_2f(&mut buf, 16);
    let n = buf.len() / 16;
    des_cbc_encrypt(key, iv, &mut buf);
    buf.extend_from_slice(clear_tail);
    (buf, n.min(255) as u8)
}

#[cfg(test)]
mod real_telegram {
    use super::super::decrypt_tpl;
    use crate::address::Address;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Source: wmbusmeters `tests/test_des.sh` (a telegram and key used as test data there):
    /// `1E44 8B05 01000000 04 07 | 7A 01 00 1002 | BBD1EAFD0222F871CB70DA16C78AE098`, DES key
    /// 0102030405060708 → `2F2F 0413 E8030000 2F2F…` (volume 1.000 m³, computed here with Python
    /// `cryptography` TripleDES(k‖k‖k) = DES, CBC, IV 0).
    #[test]
    fn mode2_des_cbc_iv_zero() {
        let frame = hex("1E468B050100000004077A01001002BBD1EAFD0222F871CB70DA16C78AE098");
        let link = Address::from_link_bytes(&frame[2..10].try_into().unwrap());
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&hex("0102030405060708"));
        let mut out = Vec::new();
        let cfg = decrypt_tpl(&key, &frame[10..], 3, &link, None, &mut out).unwrap();
        assert_eq!(cfg.mode, 2);
        assert_eq!(out, hex("2F2F0413E80300002F2F2F2F2F2F2F2F"));
        key[..8].copy_from_slice(&[0xFF; 8]);
        assert!(decrypt_tpl(&key, &frame[10..], 3, &link, None, &mut out).is_err());
    }
}
