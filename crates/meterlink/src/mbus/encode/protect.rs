//! The security stage of the encoder (EN 13757-7 clause 9; DSMR P2 §5): the configuration field
//! (packed by [`crate::mbus::security::config`]), the encryption of the mode and, for the modes
//! that have one, the signed AFL (EN 13757-7 clause 6). The mirror of the decoder's protection
//! stage.

use super::{Builder, EncodeError, Header};
use crate::keys::KeyMaterial;
use crate::mbus::afl::{self, Afl};
use crate::mbus::security::config::{tag_code, EncryptedLength, SecurityConfig};
use crate::crypto::kdf::kdf_a_pair;
use crate::crypto::Key;
use crate::mbus::security::mode15 as dsmr;
use crate::mbus::security::{des, mode10, mode5, mode7, mode8, mode9};
use crate::mbus::tpl::Address;

/// The TPDU so far and the signed AFL, if the mode has one.
type Protected = Result<(Vec<u8>, Option<Afl>), EncodeError>;

/// What modes 7–10 share: the counter, the keys (after KDF-A if asked) and where the counter goes.
struct CounterSetup {
    mode: u8,
    mc: u32,
    kenc: Key,
    kmac: Key,
    use_afl: bool,
    in_tpl: bool,
}

/// The plaintext of the CBC modes (2, 3, 5, 7, 15): the verification bytes `2F 2F` and `records`.
fn cbc_plain(records: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(records.len() + 18);
    p.extend_from_slice(&[0x2F, 0x2F]);
    p.extend_from_slice(records);
    p
}

/// N (CFG bits 7..4) counts at most 15 encrypted blocks.
fn check_blocks(mode: u8, blocks: u8) -> Result<(), EncodeError> {
    if blocks > 15 {
        Err(EncodeError::TooManyBlocks { mode, blocks })
    } else {
        Ok(())
    }
}

impl Builder {
    /// Append the configuration field and the protected application data to `t` (the TPL CI and
    /// header so far).
    pub(super) fn protect(&self, mut t: Vec<u8>, records: &[u8], clear: &[u8]) -> Protected {
        let sec = &self.security;
        if sec.content > 3 {
            return Err(EncodeError::FieldTooWide {
                field: "content of message (CC)",
                bits: 2,
            });
        }
        if matches!(sec.mode, 0 | 2 | 3 | 5 | 15) && sec.afl == Some(true) {
            return Err(EncodeError::AflNotUsed { mode: sec.mode });
        }
        match sec.mode {
            0 => {
                self.block_config(0, 0).write(&mut t);
                t.extend_from_slice(records);
                t.extend_from_slice(clear);
                Ok((t, None))
            }
            2 | 3 | 5 | 15 => {
                self.block_mode(&mut t, records, clear)?;
                Ok((t, None))
            }
            7..=10 => self.counter_mode(t, records, clear),
            mode => Err(EncodeError::UnsupportedMode { mode }),
        }
    }

    /// The configuration of modes 0/2/3/5/15 (`B A S MMMMM NNNN CC R H`, R = H = 0).
    fn block_config(&self, mode: u8, blocks: u8) -> SecurityConfig {
        let sec = &self.security;
        SecurityConfig {
            bidirectional: sec.bidirectional,
            accessibility: sec.accessibility,
            synchronous: sec.synchronous,
            content: sec.content,
            encrypted: match mode {
                0 => EncryptedLength::None,
                2 | 3 => EncryptedLength::DesBlocks(blocks),
                _ => EncryptedLength::AesBlocks(blocks),
            },
            ..SecurityConfig::new(mode)
        }
    }

    /// The CBC modes: DES 2/3 (EN 13757-7 9.4), AES 5 (9.5), DSMR 15 (DSMR P2 §5.2; the clear
    /// `04 FD 08` frame-counter record follows the encrypted blocks, then `clear`).
    fn block_mode(&self, t: &mut Vec<u8>, records: &[u8], clear: &[u8]) -> Result<(), EncodeError> {
        let mode = self.security.mode;
        let addr = self.security_address();
        let (data, n) = match mode {
            2 | 3 => {
                let key = self.des_key(mode)?;
                des::encrypt_des_cbc(&key, &des::iv(mode, &addr), &cbc_plain(records), clear)
            }
            5 => {
                let key = self.aes_key(Some(5))?;
                mode5::encrypt_mode5(&key, &addr, self.access_number, &cbc_plain(records), clear)
            }
            _ => {
                let key = self.aes_key(Some(15))?;
                let fc = self.security.message_counter.ok_or(EncodeError::MissingCounter { mode: 15 })?;
                dsmr::encrypt_mode15(&key, &addr, fc, &cbc_plain(records))
            }
        };
        check_blocks(mode, n)?;
        self.block_config(mode, n).write(t);
        t.extend_from_slice(&data);
        if mode == 15 {
            t.extend_from_slice(clear);
        }
        Ok(())
    }

    /// The DES key of modes 2/3 (the first 8 bytes of an AES key are taken as one).
    fn des_key(&self, mode: u8) -> Result<[u8; 8], EncodeError> {
        match self.key {
            Some(KeyMaterial::Des(k)) => Ok(k),
            Some(KeyMaterial::Aes(k)) => Ok(k[..8].try_into().unwrap_or_default()),
            None => Err(EncodeError::MissingKey { mode: Some(mode) }),
        }
    }

    /// Modes 7–10: CFG + extension + optional key version / MC, encryption, AFL MAC.
    fn counter_mode(&self, mut t: Vec<u8>, records: &[u8], clear: &[u8]) -> Protected {
        let addr = self.security_address();
        let s = self.counter_setup(&addr)?;
        if s.mode == 7 {
            self.mode7_body(&mut t, &s, records, clear)?;
        } else {
            self.aead_body(&mut t, &s, &addr, records, clear)?;
        }
        if !s.use_afl {
            return Ok((t, None));
        }
        let a = self.signed_afl(&s, &t, &addr)?;
        Ok((t, Some(a)))
    }

    /// Key, counter, AFL use and counter placement of modes 7–10; KDF-A derives the keys for
    /// the meter → partner direction (EN 13757-7 9.6.2, DC 00/01).
    fn counter_setup(&self, addr: &Address) -> Result<CounterSetup, EncodeError> {
        let sec = &self.security;
        let mode = sec.mode;
        let key = self.aes_key(Some(mode))?;
        let mc = sec.message_counter.ok_or(EncodeError::MissingCounter { mode })?;
        let use_afl = sec.afl.unwrap_or(matches!(mode, 7 | 8));
        if matches!(mode, 7 | 8) && !use_afl {
            return Err(EncodeError::AflRequired { mode });
        }
        let in_tpl = sec.counter_in_tpl.unwrap_or(!matches!(mode, 7 | 8)) || !use_afl;
        if sec.key_id > 15 {
            return Err(EncodeError::FieldTooWide { field: "key ID", bits: 4 });
        }
        let (kenc, kmac) = if sec.kdf {
            kdf_a_pair(&key, mc, &addr.id, false)
        } else {
            (key, key)
        };
        Ok(CounterSetup { mode, mc, kenc, kmac, use_afl, in_tpl })
    }

    /// The configuration of modes 7–10 with `encrypted` and `tag_len` (the key, counter and
    /// extension fields from the parameters).
    fn counter_config(&self, s: &CounterSetup, encrypted: EncryptedLength, tag_len: u8) -> SecurityConfig {
        let sec = &self.security;
        SecurityConfig {
            content: sec.content,
            counter_present: s.in_tpl,
            message_counter: s.in_tpl.then_some(s.mc),
            encrypted,
            kdf: u8::from(sec.kdf),
            key_id: sec.key_id,
            key_version: sec.key_version,
            tag_len,
            ..SecurityConfig::new(s.mode)
        }
    }

    /// Mode 7 (EN 13757-7 9.6): AES-CBC with IV 0 over `2F 2F records`, `clear` after it.
    fn mode7_body(&self, t: &mut Vec<u8>, s: &CounterSetup, records: &[u8], clear: &[u8]) -> Result<(), EncodeError> {
        let (data, n) = mode7::encrypt_mode7(&s.kenc, &cbc_plain(records), clear);
        check_blocks(7, n)?;
        self.counter_config(s, EncryptedLength::AesBlocks(n), 0).write(t);
        t.extend_from_slice(&data);
        Ok(())
    }

    /// Modes 8 (AES-CTR), 9 (AES-GCM) and 10 (AES-CCM): L = 0xFF when `clear` is empty, else
    /// the number of encrypted bytes; the AEAD modes authenticate the header up to the counter.
    fn aead_body(
        &self,
        t: &mut Vec<u8>,
        s: &CounterSetup,
        addr: &Address,
        records: &[u8],
        clear: &[u8],
    ) -> Result<(), EncodeError> {
        let mode = s.mode;
        let tag_len = match mode {
            9 => self.security.tag_len.unwrap_or(12),
            10 => self.security.tag_len.unwrap_or(8),
            _ => 0,
        };
        if tag_code(mode, tag_len).is_none() {
            return Err(EncodeError::TagLength { mode, tag_len });
        }
        let encrypted = if clear.is_empty() {
            EncryptedLength::ToEnd
        } else {
            let l = u8::try_from(records.len()).ok().filter(|&n| n < 0xFF);
            EncryptedLength::Bytes(l.ok_or(EncodeError::EncryptedTooLong { mode, len: records.len() })?)
        };
        self.counter_config(s, encrypted, tag_len).write(t);
        let aad_end = t.len() - if s.in_tpl { 4 } else { 0 };
        let (k, mc, aad, tag) = (&s.kenc, s.mc, &t[..aad_end], usize::from(tag_len));
        let data = match mode {
            // The counter block takes only the MAC-covered long-header address (see mode8.rs).
            8 => mode8::encrypt_mode8(k, matches!(self.header, Header::Long(_)).then_some(addr), mc, records, clear),
            9 => mode9::encrypt_mode9(k, addr, mc, aad, records, clear, tag).map_err(EncodeError::Seal)?,
            _ => mode10::encrypt_mode10(k, addr, mc, aad, records, clear, tag).map_err(EncodeError::Seal)?,
        };
        t.extend_from_slice(&data);
        Ok(())
    }

    /// The AFL of modes 7–10 (EN 13757-7 6.3): MCL with the authentication type, MCR when the
    /// counter is not in the TPL, and the MAC over `MCL ‖ {MCR} ‖ TPDU`.
    fn signed_afl(&self, s: &CounterSetup, tpdu: &[u8], addr: &Address) -> Result<Afl, EncodeError> {
        let at = self.security.afl_auth;
        if !matches!(at, 3..=9) {
            return Err(EncodeError::AflAuthType { at });
        }
        let mut fcl = afl::fcl::MCL_PRESENT;
        let mut mcl = at;
        let mcr = if s.in_tpl {
            None
        } else {
            fcl |= afl::fcl::MCR_PRESENT;
            mcl |= afl::mcl::MC_IN_MESSAGE;
            Some(s.mc)
        };
        if matches!(at, 8 | 9) && mcr.is_none() {
            return Err(EncodeError::GmacNeedsCounterInAfl);
        }
        let mut a = Afl {
            afll: 0,
            fcl,
            mcl: Some(mcl),
            ki: None,
            mcr,
            mac: [0; 16],
            mac_len: 0,
            mac_offset: 0,
            ml: None,
            len: 0,
        };
        afl::sign(&mut a, &s.kmac, tpdu, addr).map_err(EncodeError::AflSign)?;
        Ok(a)
    }
}
