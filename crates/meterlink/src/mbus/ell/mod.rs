//! EN 13757-7 / EN 13757-4 extended link layer (ELL), CI 0x8C-0x8F and 0x86.
//!
//! | CI | name | fields after CI |
//! |---|---|---|
//! | 8C | ELL I | CC, ACC |
//! | 8D | ELL II | CC, ACC, SN(4, LE), PayloadCRC(2, LE) |
//! | 8E | ELL III | CC, ACC, M2(2), A2(6) |
//! | 8F | ELL IV | CC, ACC, M2(2), A2(6), SN(4, LE), PayloadCRC(2, LE) |
//! | 86 | ELL V | variable: optional fields selected individually (layout not available) |
//!
//! [V] for 8C/8D/8E (OMS N.5.3, Kamstrup C1, CEN/TR 17167 F.3), [S] for 8F; CI 86 is reported
//! as [`EllError::UnsupportedEllV`] because EN 13757-4 Table 48 was not available.
//!
//! * CC bits (7→0): B bidirectional, D response delay, S synchronized, H hop count, P priority,
//!   A accessibility, R repeated access, X delay extension.
//! * SN: bits 31..29 ENC (0 none, 1 AES-128-CTR), 28..4 time (minutes), 3..0 session.
//! * With SN present the payload CRC (CRC-16/EN-13757, LE) covers the payload after it; with
//!   ENC = 1 the CRC field and everything after it are AES-128-CTR encrypted
//!   ([`icb`], [`ell_ctr_apply`]; ICB per notes §b.2).

use std::fmt;

use crate::mbus::link::wmbus::crc16_en13757;
use crate::crypto::block::with_aes;
use crate::crypto::ctr::ctr_apply;
use crate::crypto::Key;
use crate::address::Address;

/// The initial counter block of the ELL AES-128-CTR (EN 13757-4 §13.2.12) [V: Kamstrup
/// Multical 21, wmbusmeters serial_aes.msg]:
///
/// ```text
/// ICB = M(2) ‖ A(6) ‖ CC' ‖ SN(4, LE) ‖ FN(2, LE) ‖ BC(1)        CC' = CC & !(H 0x10 | R 0x02)
/// keystream block i = AES(K, ICB + i)                               (BC is the low byte)
/// ```
/// M/A = the DLL (transmitter) address [V]. For ELL IV (CI 8F, with receiver address) the DLL
/// address is used too (as all known implementations do) [?]. FN = 0 for unfragmented frames.
#[inline]
pub fn icb(addr: &Address, cc: u8, sn: u32, frame_number: u16) -> [u8; 16] {
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

/// CC-field bits.
pub mod cc {
    /// B: bidirectional communication.
    pub const BIDIRECTIONAL: u8 = 0x80;
    /// D: response delay (slow).
    pub const RESPONSE_DELAY: u8 = 0x40;
    /// S: synchronised frame.
    pub const SYNCHRONIZED: u8 = 0x20;
    /// H: hop count (repeated once).
    pub const HOP_COUNT: u8 = 0x10;
    /// P: priority.
    pub const PRIORITY: u8 = 0x08;
    /// A: the meter is accessible after this frame.
    pub const ACCESSIBILITY: u8 = 0x04;
    /// R: repeated access.
    pub const REPEATED_ACCESS: u8 = 0x02;
    /// X: delay extension.
    pub const DELAY_EXTENSION: u8 = 0x01;
}

/// A parsed ELL header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ell {
    /// The ELL CI (0x8C..0x8F).
    pub ci: u8,
    /// Communication control field (see [`cc`]).
    pub cc: u8,
    /// ELL access number.
    pub acc: u8,
    /// Receiver address (CI 8E/8F): manufacturer and `ID(4) ver type`.
    pub m2: Option<u16>,
    /// Receiver address A2 (CI 8E/8F).
    pub a2: Option<[u8; 6]>,
    /// Session number (CI 8D/8F).
    pub sn: Option<u32>,
    /// Payload CRC as transmitted (CI 8D/8F; encrypted when ENC = 1, so only meaningful after
    /// decryption: see [`decrypt_ell_into`]).
    pub payload_crc_raw: Option<[u8; 2]>,
    /// Offset (in the buffer given to [`parse_ell`]) of the payload CRC for 8D/8F, or of the
    /// next CI field for 8C/8E.
    pub crc_offset: usize,
    /// Offset of the first byte after the ELL (after the payload CRC for 8D/8F).
    pub payload_offset: usize,
}

impl Ell {
    /// ENC field of the session number (0 none, 1 AES-128-CTR, 2..7 reserved).
    pub fn enc(&self) -> u8 {
        self.sn.map_or(0, |s| (s >> 29) as u8)
    }
    /// Time field of the session number (minutes).
    pub fn time_minutes(&self) -> Option<u32> {
        self.sn.map(|s| (s >> 4) & 0x01FF_FFFF)
    }
    /// Session field of the session number.
    pub fn session(&self) -> Option<u8> {
        self.sn.map(|s| (s & 0x0F) as u8)
    }
    /// True when the payload after the ELL is encrypted at the link layer.
    pub fn is_encrypted(&self) -> bool {
        self.enc() != 0
    }
}

/// Errors of the ELL. Offsets are relative to the buffer given (ELL CI = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EllError {
    /// Not an ELL CI.
    NotEll {
        /// The CI found.
        ci: u8,
    },
    /// The buffer ends before a field that must be there.
    Truncated {
        /// Where the missing field starts.
        offset: usize,
        /// Bytes needed from `offset`.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
    /// CI 0x86 (variable ELL): layout not supported.
    UnsupportedEllV,
    /// SN.ENC is reserved (2..7).
    UnsupportedEncryption {
        /// The ENC value (SN bits 31..29).
        enc: u8,
    },
    /// The payload CRC does not match (after decryption if ENC = 1: wrong key or corruption).
    PayloadCrc {
        /// Position of the payload-CRC field.
        offset: usize,
        /// The CRC in the frame.
        expected: u16,
        /// The CRC of the payload.
        computed: u16,
    },
}

impl fmt::Display for EllError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EllError::NotEll { ci } => write!(f, "CI {ci:#04x} is not an ELL"),
            EllError::Truncated { offset, needed, available } => {
                write!(f, "ELL truncated at offset {offset}: needs {needed} bytes, {available} left")
            }
            EllError::UnsupportedEllV => f.write_str("variable ELL (CI 0x86) is not supported"),
            EllError::UnsupportedEncryption { enc } => write!(f, "ELL encryption {enc} is reserved"),
            EllError::PayloadCrc { offset, expected, computed } => write!(
                f,
                "ELL payload CRC at offset {offset} is {expected:04X}, computed {computed:04X} (wrong key?)"
            ),
        }
    }
}

impl std::error::Error for EllError {}

/// True for the CI values that start an ELL.
pub fn is_ell_ci(ci: u8) -> bool {
    matches!(ci, 0x8C..=0x8F | 0x86)
}

/// Parse an ELL header. `buf`: from the ELL CI to the end of the frame (DLL CRCs removed).
pub fn parse_ell(buf: &[u8]) -> Result<Ell, EllError> {
    let ci = *buf.first().ok_or(EllError::Truncated {
        offset: 0,
        needed: 1,
        available: 0,
    })?;
    let (has_a2, has_sn) = match ci {
        0x8C => (false, false),
        0x8D => (false, true),
        0x8E => (true, false),
        0x8F => (true, true),
        0x86 => return Err(EllError::UnsupportedEllV),
        _ => return Err(EllError::NotEll { ci }),
    };
    let len = 3 + if has_a2 { 8 } else { 0 } + if has_sn { 6 } else { 0 };
    if buf.len() < len {
        return Err(EllError::Truncated {
            offset: 0,
            needed: len,
            available: buf.len(),
        });
    }
    let mut e = Ell {
        ci,
        cc: buf[1],
        acc: buf[2],
        m2: None,
        a2: None,
        sn: None,
        payload_crc_raw: None,
        crc_offset: len,
        payload_offset: len,
    };
    let mut p = 3;
    if has_a2 {
        e.m2 = Some(u16::from_le_bytes([buf[3], buf[4]]));
        e.a2 = Some([buf[5], buf[6], buf[7], buf[8], buf[9], buf[10]]);
        p = 11;
    }
    if has_sn {
        e.sn = Some(u32::from_le_bytes([
            buf[p],
            buf[p + 1],
            buf[p + 2],
            buf[p + 3],
        ]));
        e.payload_crc_raw = Some([buf[p + 4], buf[p + 5]]);
        e.crc_offset = p + 4;
    }
    Ok(e)
}

/// Parse the ELL and produce the data that follows it, decrypted and CRC-checked.
///
/// * `key`: the ELL AES key (needed only when SN.ENC = 1; pass `None` otherwise — an encrypted
///   ELL without a key gives `Ok` with `out` empty, check [`Ell::is_encrypted`]).
/// * `link`: the DLL address of the frame (transmitter) — goes into the ICB.
/// * `buf`: from the ELL CI to the end of the frame (DLL CRCs removed).
/// * `out` (cleared): the bytes after the ELL (after the payload CRC for 8D/8F), starting at
///   the next CI. For 8C/8E this is a plain copy; callers that want no copy can slice
///   `&buf[ell.payload_offset..]` instead.
///
/// The payload CRC is verified for 8D/8F (ENC 0 or 1).
pub fn decrypt_ell_into(
    key: Option<&Key>,
    link: &Address,
    buf: &[u8],
    out: &mut Vec<u8>,
) -> Result<Ell, EllError> {
    let ell = parse_ell(buf)?;
    out.clear();
    let Some(sn) = ell.sn else {
        out.extend_from_slice(&buf[ell.payload_offset..]);
        return Ok(ell);
    };
    let enc = ell.enc();
    let at = ell.crc_offset;
    match enc {
        0 => {
            out.extend_from_slice(&buf[at..]);
        }
        1 => {
            let Some(key) = key else {
                return Ok(ell);
            };
            out.extend_from_slice(&buf[at..]);
            ell_ctr_apply(key, &icb(link, ell.cc, sn, 0), out);
        }
        _ => return Err(EllError::UnsupportedEncryption { enc }),
    }
    let expected = u16::from_le_bytes([out[0], out[1]]);
    let computed = crc16_en13757(&out[2..]);
    if expected != computed {
        out.clear();
        return Err(EllError::PayloadCrc {
            offset: at,
            expected,
            computed,
        });
    }
    out.drain(..2);
    Ok(ell)
}

/// Build an ELL II (8D) or IV (8F, when `receiver` is given) with AES-128-CTR encryption
/// (ENC = 1 is forced into `sn`) around `payload` (next CI onwards); the encoder counterpart of
/// [`decrypt_ell_into`]. Returns the bytes from the ELL CI to the end of the frame.
pub fn encrypt_ell(
    key: &Key,
    link: &Address,
    cc: u8,
    acc: u8,
    sn: u32,
    receiver: Option<(u16, [u8; 6])>,
    payload: &[u8],
) -> Vec<u8> {
    let sn = (sn & 0x1FFF_FFFF) | (1 << 29);
    let mut v = Vec::with_capacity(17 + payload.len());
    v.push(if receiver.is_some() { 0x8F } else { 0x8D });
    v.push(cc);
    v.push(acc);
    if let Some((m2, a2)) = receiver {
        v.extend_from_slice(&m2.to_le_bytes());
        v.extend_from_slice(&a2);
    }
    v.extend_from_slice(&sn.to_le_bytes());
    let at = v.len();
    v.extend_from_slice(&crc16_en13757(payload).to_le_bytes());
    v.extend_from_slice(payload);
    ell_ctr_apply(key, &icb(link, cc, sn, 0), &mut v[at..]);
    v
}

#[cfg(test)]
mod tests;
