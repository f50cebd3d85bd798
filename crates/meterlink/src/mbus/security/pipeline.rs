//! [`decrypt_tpl`]: the single TPL security entry point used by the decode pipeline.

use crate::mbus::afl::{verify_mac, Afl, AflError};

use super::config::{parse_config, EncryptedLength, SecurityConfig};
use crate::crypto::aead::Aead;
use crate::crypto::kdf::kdf_a_pair;
use super::mode15;

use super::framing::open_framed;
use super::{des, mode10, mode5, mode7, mode8, mode9};
use super::{Address, Key, SecurityError};

/// Verify and decrypt the TPL of one message.
///
/// * `key`: the meter's AES-128 key (persistent key, or master key when the CFG extension
///   selects KDF-A). For the DES modes 2/3 the first 8 bytes are the DES key.
/// * `tpdu`: bytes from the TPL CI to the end of the message, CRCs removed (after ELL
///   decryption / AFL reassembly; for modes 7/8 exactly the bytes the AFL MAC covers).
/// * `cfg_offset`: offset of the configuration field in `tpdu`: 3 after a short header
///   (`CI ACC STS`), 11 after a long header (`CI ID(4) M(2) ver type ACC STS`). With 11 the
///   address for IV/nonce/KDF is taken from the long header, otherwise `link` is used.
///   The access number is `tpdu[cfg_offset - 2]`.
/// * `link`: the DLL address (wireless A field, or for wired M-Bus whatever identifies the
///   device; only used with short headers).
/// * `afl`: the AFL of the message, if any. Modes 7 and 8 require its MAC (checked before
///   decryption); modes 9/10 check it when present; KDF counters fall back to `afl.mcr`.
/// * `out` (cleared): the application data after the security header — decrypted bytes
///   (including the 2F 2F verification bytes for the CBC modes) followed by the clear bytes;
///   for modes 9/10 the tag is removed. `out[i]` is at `tpdu[cfg.payload_offset + i]`.
///   Mode 0 copies the data unchanged.
///
/// Returns the parsed configuration. Errors carry `tpdu`-relative offsets; `out` is empty on
/// error.
pub fn decrypt_tpl(
    key: &Key,
    tpdu: &[u8],
    cfg_offset: usize,
    link: &Address,
    afl: Option<&Afl>,
    out: &mut Vec<u8>,
) -> Result<SecurityConfig, SecurityError> {
    out.clear();
    if cfg_offset < 3 {
        return Err(SecurityError::InvalidConfig {
            offset: cfg_offset,
            reason: "no TPL header before the configuration field",
        });
    }
    let cfg = parse_config(tpdu, cfg_offset)?;
    decrypt_tpl_parsed(key, tpdu, cfg, link, afl, out)
}

/// [`decrypt_tpl`] with the configuration field already parsed (`parse_config(tpdu, o)` with
/// `o` 3 or 11), for the decode pipeline, which parses it to report the header anyway.
pub(crate) fn decrypt_tpl_parsed(
    key: &Key,
    tpdu: &[u8],
    cfg: SecurityConfig,
    link: &Address,
    afl: Option<&Afl>,
    out: &mut Vec<u8>,
) -> Result<SecurityConfig, SecurityError> {
    out.clear();
    let cfg_offset = cfg.cfg_offset;
    let acc = tpdu[cfg_offset - 2];
    let addr = if cfg_offset == 11 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&tpdu[1..9]);
        Address::from_wire(b)
    } else {
        *link
    };
    let po = cfg.payload_offset;
    let data = &tpdu[po..];
    let r = match cfg.mode {
        0 => {
            out.extend_from_slice(data);
            Ok(())
        }
        5 => {
            let n = block_count(&cfg);
            cfg.encrypted_len(data.len())?;
            mode5::decrypt_mode5_into(key, &addr, acc, data, n, out)
        }
        15 => {
            let n = block_count(&cfg);
            cfg.encrypted_len(data.len())?;
            mode15::decrypt_mode15_into(key, &addr, data, n, None, out).map_err(SecurityError::from)
        }
        2 | 3 => {
            let enc_len = cfg.encrypted_len(data.len())?;
            let mut k = [0u8; 8];
            k.copy_from_slice(&key[..8]);
            des::decrypt_des_cbc_into(&k, &des::iv(cfg.mode, &addr), data, enc_len, out)
        }
        7 | 8 => {
            let afl = match afl {
                Some(a) if a.mac_len > 0 => a,
                _ => return Err(SecurityError::MissingMac { mode: cfg.mode }),
            };
            let (kenc, kmac) = keys(key, &cfg, &addr, Some(afl))?;
            check_afl(&kmac, afl, tpdu, &addr)?;
            let enc_len = cfg.encrypted_len(data.len())?;
            if cfg.mode == 7 {
                mode7::decrypt_mode7_into(&kenc, data, block_count(&cfg), out)
            } else {
                let mc = counter(&cfg, Some(afl))?;
                // Only a long header's address is covered by the MAC (see mode8.rs).
                let covered = (cfg_offset == 11).then_some(&addr);
                mode8::decrypt_mode8_into(&kenc, covered, mc, data, enc_len, out);
                Ok(())
            }
        }
        9 | 10 => {
            let (kenc, kmac) = keys(key, &cfg, &addr, afl)?;
            if let Some(a) = afl.filter(|a| a.mac_len > 0) {
                check_afl(&kmac, a, tpdu, &addr)?;
            }
            let mc = counter(&cfg, afl)?;
            let tag_len = usize::from(cfg.tag_len);
            let aad_end = if cfg.counter_present { po - 4 } else { po };
            let aad = &tpdu[..aad_end];
            let enc_len = match cfg.encrypted {
                EncryptedLength::ToEnd => data.len().saturating_sub(tag_len),
                _ => cfg.encrypted_len(data.len().saturating_sub(tag_len))?,
            };
            let (aead, nonce) = aead_nonce(cfg.mode, &addr, mc);
            open_framed(aead, &kenc, &nonce[..aead.nonce_len()], aad, data, enc_len, tag_len, out)
        }
        m => Err(SecurityError::UnsupportedMode { mode: m }),
    };
    match r {
        Ok(()) => Ok(cfg),
        Err(e) => {
            out.clear();
            Err(e.shifted(po))
        }
    }
}

/// The AEAD of mode 9 (GCM, 12-byte IV) or 10 (CCM, 13-byte nonce) and its nonce, in a
/// 13-byte buffer of which the first `nonce_len()` bytes count.
fn aead_nonce(mode: u8, addr: &Address, mc: u32) -> (Aead, [u8; 13]) {
    if mode == 10 {
        (Aead::Ccm, mode10::nonce(addr, mc))
    } else {
        let mut n = [0u8; 13];
        n[..12].copy_from_slice(&mode9::iv(addr, mc));
        (Aead::Gcm, n)
    }
}

fn block_count(cfg: &SecurityConfig) -> u8 {
    match cfg.encrypted {
        EncryptedLength::AesBlocks(n) | EncryptedLength::DesBlocks(n) => n,
        _ => 0,
    }
}

/// The KDF counter: TPL message counter if present, else AFL.MCR.
fn counter(cfg: &SecurityConfig, afl: Option<&Afl>) -> Result<u32, SecurityError> {
    cfg.message_counter
        .or_else(|| afl.and_then(|a| a.mcr))
        .ok_or(SecurityError::MissingCounter)
}

/// `(enc, mac)` keys: KDF-A (DD = 01) or the persistent key for both (DD = 00).
fn keys(
    key: &Key,
    cfg: &SecurityConfig,
    addr: &Address,
    afl: Option<&Afl>,
) -> Result<(Key, Key), SecurityError> {
    match cfg.kdf {
        0 => Ok((*key, *key)),
        1 => Ok(kdf_a_pair(key, counter(cfg, afl)?, &addr.id, false)),
        k => Err(SecurityError::UnsupportedKdf { kdf: k }),
    }
}

fn check_afl(kmac: &Key, afl: &Afl, tpdu: &[u8], addr: &Address) -> Result<(), SecurityError> {
    match verify_mac(kmac, afl, tpdu, addr) {
        Ok(()) => Ok(()),
        Err(AflError::MacMismatch { .. }) => Err(SecurityError::AflMacMismatch),
        Err(AflError::NoCounter) => Err(SecurityError::MissingCounter),
        Err(_) => Err(SecurityError::MissingMac { mode: 0 }),
    }
}
