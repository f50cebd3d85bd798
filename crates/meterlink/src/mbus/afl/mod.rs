//! EN 13757-7 clause 6: authentication and fragmentation layer (AFL), CI 0x90.
//!
//! ```text
//! 90 | AFLL | FCL(2, LE) | [MCL] | [KI(2)] | [MCR(4, LE)] | [MAC(2..16)] | [ML(2, LE)] | TPDU...
//! FCL: 15 res | 14 MF | 13 MCLP | 12 MLP | 11 MCRP | 10 MACP | 9 KIP | 8 res | 7..0 FID
//! MCL:  7 res | 6 MLMP | 5 MCMP | 4 KIMP | 3..0 AT
//! AT:   0 none | 3/4/5/6/7 AES-CMAC-128 → 2/4/8/12/16 bytes | 8/9 AES-GMAC-128 → 12/16 bytes
//! MAC = CMAC(Kmac, MCL ‖ {KI} ‖ {MCR} ‖ {ML} ‖ TPDU[CI .. last byte])   (truncated)
//! ```
//! [V] for the MCL ‖ MCR case (three mode-7 vectors, AT 5). Including KI and ML when present
//! follows the EN 13757-7:2018 wording quoted by exmbus [S]. KI byte order is unverified [?]:
//! the raw bytes are kept (they enter the MAC as transmitted) and [`Afl::key_info`] reads them LE
//! per the "all multi-byte AFL fields are LE" rule. GMAC IV = `M ‖ ID ‖ ver ‖ type ‖ MCR (BE)`
//! with the MAC input as AAD and empty plaintext is a hypothesis [?] (no vector).
//!
//! Fragmentation [S/?]: FID 0 = unfragmented; fragments count 1, 2, ... with MF set on all but
//! the last. MCL/KI/MCR/ML sit in the first fragment; the MAC may sit in any one fragment (its
//! length comes from the first fragment's MCL). The TPDU is the concatenation of the fragments'
//! payloads; ML, if present, must equal its length. See [`AflReassembler`].

use std::fmt;

use crate::crypto::mac::{aes_gmac, ct_eq, CmacState};
use crate::crypto::Key;
use crate::address::Address;

/// The AFL CI field.
pub const CI_AFL: u8 = 0x90;

/// FCL bits.
pub mod fcl {
    /// MF: more fragments follow.
    pub const MORE_FRAGMENTS: u16 = 1 << 14;
    /// MCLP: the MCL field is present.
    pub const MCL_PRESENT: u16 = 1 << 13;
    /// MLP: the ML field is present.
    pub const ML_PRESENT: u16 = 1 << 12;
    /// MCRP: the MCR field is present.
    pub const MCR_PRESENT: u16 = 1 << 11;
    /// MACP: the MAC field is present.
    pub const MAC_PRESENT: u16 = 1 << 10;
    /// KIP: the KI field is present.
    pub const KI_PRESENT: u16 = 1 << 9;
}

/// MCL bits.
pub mod mcl {
    /// MLMP: the ML field is in the message (and the MAC input).
    pub const ML_IN_MESSAGE: u8 = 1 << 6;
    /// MCMP: the MCR field is in the message (and the MAC input).
    pub const MC_IN_MESSAGE: u8 = 1 << 5;
    /// KIMP: the KI field is in the message (and the MAC input).
    pub const KI_IN_MESSAGE: u8 = 1 << 4;
}

/// Authentication type (MCL bits 3..0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// No MAC (AT 0).
    None,
    /// AES-CMAC-128 truncated to this many bytes (2, 4, 8, 12, 16).
    Cmac(u8),
    /// AES-GMAC-128 with this many tag bytes (12, 16).
    Gmac(u8),
    /// Reserved codes 1, 2, 10–15.
    Reserved(u8),
}

impl AuthType {
    /// The authentication type of MCL bits 3..0.
    pub fn from_at(at: u8) -> Self {
        match at & 0x0F {
            0 => AuthType::None,
            3 => AuthType::Cmac(2),
            4 => AuthType::Cmac(4),
            5 => AuthType::Cmac(8),
            6 => AuthType::Cmac(12),
            7 => AuthType::Cmac(16),
            8 => AuthType::Gmac(12),
            9 => AuthType::Gmac(16),
            r => AuthType::Reserved(r),
        }
    }

    /// The MAC length in bytes (0 for none/reserved).
    pub fn mac_len(self) -> usize {
        match self {
            AuthType::Cmac(n) | AuthType::Gmac(n) => usize::from(n),
            _ => 0,
        }
    }
}

/// A parsed AFL header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Afl {
    /// AFLL: number of AFL bytes after the AFLL byte.
    pub afll: u8,
    /// Fragmentation control field.
    pub fcl: u16,
    /// Message control field (first fragment only).
    pub mcl: Option<u8>,
    /// Key information field, raw bytes as transmitted.
    pub ki: Option<[u8; 2]>,
    /// Message counter (AFL.MCR).
    pub mcr: Option<u32>,
    /// MAC bytes (only the first `mac_len` are meaningful).
    pub mac: [u8; 16],
    /// Number of MAC bytes (0 = no MAC).
    pub mac_len: u8,
    /// Offset of the MAC in the buffer given to [`parse_afl`] (0 if no MAC).
    pub mac_offset: usize,
    /// Message length (AFL.ML).
    pub ml: Option<u16>,
    /// Total AFL length including CI and AFLL: the TPDU (or fragment payload) starts here.
    pub len: usize,
}

impl Afl {
    /// An AFL with the given FCL, MCL and MCR and nothing else: no KI, MAC or ML, AFLL and
    /// length 0 (they are set by [`sign`] / [`Afl::encode`], or by the parser).
    pub const fn new(fcl: u16, mcl: Option<u8>, mcr: Option<u32>) -> Self {
        Afl { afll: 0, fcl, mcl, ki: None, mcr, mac: [0; 16], mac_len: 0, mac_offset: 0, ml: None, len: 0 }
    }

    /// Fragment ID (FCL bits 7..0); 0 = unfragmented.
    pub fn fid(&self) -> u8 {
        (self.fcl & 0xFF) as u8
    }
    /// More-fragments bit.
    pub fn more_fragments(&self) -> bool {
        self.fcl & fcl::MORE_FRAGMENTS != 0
    }
    /// True if this frame is part of a fragmented message.
    pub fn is_fragmented(&self) -> bool {
        self.fid() != 0 || self.more_fragments()
    }
    /// Authentication type from the MCL (None if there is no MCL).
    pub fn auth_type(&self) -> AuthType {
        self.mcl.map_or(AuthType::None, AuthType::from_at)
    }
    /// The MAC field, if present.
    pub fn mac(&self) -> Option<&[u8]> {
        (self.mac_len > 0).then(|| &self.mac[..usize::from(self.mac_len)])
    }
    /// KI read as a little-endian u16 [?]: bits 15..8 key version, 5..4 KDF selection, 3..0 key ID.
    pub fn key_info(&self) -> Option<u16> {
        self.ki.map(u16::from_le_bytes)
    }

    /// Serialise this AFL (CI 0x90 … ML) as it goes on air; used by the encoder.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len.max(4));
        v.push(CI_AFL);
        v.push(0); // AFLL fixed below
        v.extend_from_slice(&self.fcl.to_le_bytes());
        if let Some(m) = self.mcl {
            v.push(m);
        }
        if let Some(ki) = self.ki {
            v.extend_from_slice(&ki);
        }
        if let Some(c) = self.mcr {
            v.extend_from_slice(&c.to_le_bytes());
        }
        v.extend_from_slice(&self.mac[..usize::from(self.mac_len)]);
        if let Some(ml) = self.ml {
            v.extend_from_slice(&ml.to_le_bytes());
        }
        v[1] = (v.len() - 2) as u8;
        v
    }
}

/// Errors of the AFL. Offsets are relative to the buffer given (AFL CI = 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AflError {
    /// The buffer does not start with CI 0x90.
    NotAfl {
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
    /// The fields announced by FCL do not add up to AFLL.
    LengthMismatch {
        /// Position of the AFLL field.
        offset: usize,
        /// The AFLL value.
        afll: u8,
        /// Bytes the announced fields take.
        fields: usize,
    },
    /// MACP is set but the MAC length is unknown (no MCL in this fragment and none given).
    MacLengthUnknown {
        /// Position of the MAC field.
        offset: usize,
    },
    /// MCL names a reserved authentication type.
    ReservedAuthType {
        /// Position of the MCL (or of the MAC field in a follow-up fragment).
        offset: usize,
        /// The AT code.
        at: u8,
    },
    /// MAC verification needed but the AFL has no MAC.
    NoMac,
    /// A MAC needs a message counter (GMAC IV) but there is no MCR.
    NoCounter,
    /// The MAC does not verify (wrong key or modified message).
    MacMismatch {
        /// Position of the MAC field.
        offset: usize,
    },
    /// Fragments: `expected` FID was due but `got` arrived; the pending message is dropped.
    MissingFragments {
        /// The FID that was due.
        expected: u8,
        /// The FID that arrived.
        got: u8,
    },
    /// Fragments: the reassembled TPDU exceeds the configured bound.
    TooLong {
        /// The configured bound in bytes.
        limit: usize,
    },
    /// Fragments: ML says `ml` bytes but the reassembled TPDU has `got`.
    MessageLengthMismatch {
        /// The AFL.ML value.
        ml: u16,
        /// Bytes reassembled.
        got: usize,
    },
    /// Fragments: two fragments carry a MAC.
    DuplicateMac {
        /// The FID of the second fragment with a MAC.
        fid: u8,
    },
}

impl fmt::Display for AflError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AflError::*;
        match self {
            NotAfl { ci } => write!(f, "CI {ci:#04x} is not an AFL"),
            Truncated {
                offset,
                needed,
                available,
            } => {
                write!(
                    f,
                    "AFL truncated at offset {offset}: needs {needed} bytes, {available} left"
                )
            }
            LengthMismatch {
                offset,
                afll,
                fields,
            } => {
                write!(
                    f,
                    "AFL at offset {offset}: AFLL {afll} but the fields take {fields} bytes"
                )
            }
            MacLengthUnknown { offset } => {
                write!(f, "AFL MAC at offset {offset} has unknown length (no MCL)")
            }
            ReservedAuthType { offset, at } => write!(
                f,
                "AFL MCL at offset {offset}: reserved authentication type {at}"
            ),
            NoMac => f.write_str("AFL carries no MAC"),
            NoCounter => f.write_str("AFL carries no message counter"),
            MacMismatch { offset } => write!(f, "AFL MAC at offset {offset} does not verify"),
            MissingFragments { expected, got } => {
                write!(f, "AFL fragment {expected} missing (got fragment {got})")
            }
            TooLong { limit } => write!(f, "reassembled AFL message exceeds {limit} bytes"),
            MessageLengthMismatch { ml, got } => {
                write!(f, "AFL ML says {ml} bytes but {got} were reassembled")
            }
            DuplicateMac { fid } => write!(f, "AFL fragment {fid} carries a second MAC"),
        }
    }
}

impl std::error::Error for AflError {}

/// Parse an AFL. `buf`: from the AFL CI (0x90) to the end of the frame (CRCs removed);
/// the TPDU (or fragment payload) is `&buf[afl.len..]`.
pub fn parse_afl(buf: &[u8]) -> Result<Afl, AflError> {
    parse_afl_fragment(buf, None)
}

/// Parse an AFL of a follow-up fragment whose MAC length comes from the first fragment's MCL
/// (`first_mcl`). With `first_mcl = None` this is [`parse_afl`].
pub fn parse_afl_fragment(buf: &[u8], first_mcl: Option<u8>) -> Result<Afl, AflError> {
    let need = |at: usize, n: usize| -> Result<(), AflError> {
        if buf.len() < at + n {
            Err(AflError::Truncated {
                offset: at,
                needed: n,
                available: buf.len().saturating_sub(at),
            })
        } else {
            Ok(())
        }
    };
    need(0, 4)?;
    if buf[0] != CI_AFL {
        return Err(AflError::NotAfl { ci: buf[0] });
    }
    let afll = buf[1];
    let end = 2 + usize::from(afll);
    need(0, end)?;
    let fcl = u16::from_le_bytes([buf[2], buf[3]]);
    let mut a = Afl::new(fcl, None, None);
    a.afll = afll;
    a.len = end;
    let mut pos = 4;
    let take = |pos: &mut usize, n: usize| -> Result<usize, AflError> {
        if *pos + n > end {
            return Err(AflError::LengthMismatch {
                offset: 1,
                afll,
                fields: *pos + n - 2,
            });
        }
        let p = *pos;
        *pos += n;
        Ok(p)
    };
    if fcl & fcl::MCL_PRESENT != 0 {
        let p = take(&mut pos, 1)?;
        a.mcl = Some(buf[p]);
    }
    if fcl & fcl::KI_PRESENT != 0 {
        let p = take(&mut pos, 2)?;
        a.ki = Some([buf[p], buf[p + 1]]);
    }
    if fcl & fcl::MCR_PRESENT != 0 {
        let p = take(&mut pos, 4)?;
        a.mcr = Some(u32::from_le_bytes([
            buf[p],
            buf[p + 1],
            buf[p + 2],
            buf[p + 3],
        ]));
    }
    if fcl & fcl::MAC_PRESENT != 0 {
        let Some(m) = a.mcl.or(first_mcl) else {
            return Err(AflError::MacLengthUnknown { offset: pos });
        };
        let n = match AuthType::from_at(m) {
            AuthType::Reserved(_) | AuthType::None => {
                return Err(AflError::ReservedAuthType {
                    offset: if a.mcl.is_some() { 4 } else { pos },
                    at: m & 0x0F,
                });
            }
            t => t.mac_len(),
        };
        let p = take(&mut pos, n)?;
        a.mac[..n].copy_from_slice(&buf[p..p + n]);
        a.mac_len = n as u8;
        a.mac_offset = p;
    }
    if fcl & fcl::ML_PRESENT != 0 {
        let p = take(&mut pos, 2)?;
        a.ml = Some(u16::from_le_bytes([buf[p], buf[p + 1]]));
    }
    if pos != end {
        return Err(AflError::LengthMismatch {
            offset: 1,
            afll,
            fields: pos - 2,
        });
    }
    Ok(a)
}

/// Feed the MAC input prefix `MCL ‖ {KI} ‖ {MCR} ‖ {ML}` (as transmitted).
fn mac_prefix(afl: &Afl, out: &mut [u8; 9]) -> usize {
    let mut n = 0;
    if let Some(m) = afl.mcl {
        out[n] = m;
        n += 1;
    }
    if let Some(ki) = afl.ki {
        out[n..n + 2].copy_from_slice(&ki);
        n += 2;
    }
    if let Some(c) = afl.mcr {
        out[n..n + 4].copy_from_slice(&c.to_le_bytes());
        n += 4;
    }
    if let Some(ml) = afl.ml {
        out[n..n + 2].copy_from_slice(&ml.to_le_bytes());
        n += 2;
    }
    n
}

/// The full (untruncated) AES-CMAC-128 over `MCL ‖ {KI} ‖ {MCR} ‖ {ML} ‖ tpdu`.
///
/// `kmac`: Kmac (KDF-A, DC 01) or the persistent key; `tpdu`: bytes from the TPL CI to the end
/// of the (reassembled) message, as transmitted (i.e. ciphertext), CRCs removed.
pub fn compute_cmac(kmac: &Key, afl: &Afl, tpdu: &[u8]) -> [u8; 16] {
    let mut p = [0u8; 9];
    let n = mac_prefix(afl, &mut p);
    let mut s = CmacState::new(kmac);
    s.update(&p[..n]);
    s.update(tpdu);
    s.finalize()
}

/// The GMAC IV used for AT 8/9 [?]: `M ‖ ID ‖ ver ‖ type ‖ MCR (BE)` (same shape as mode 9).
pub fn gmac_iv(addr: &Address, mcr: u32) -> [u8; 12] {
    addr.iv_with_counter(mcr)
}

/// The full AES-GMAC-128 tag over `MCL ‖ {KI} ‖ {MCR} ‖ {ML} ‖ tpdu` [?]. Needs the MCR.
pub fn compute_gmac(
    key: &Key,
    afl: &Afl,
    tpdu: &[u8],
    addr: &Address,
) -> Result<[u8; 16], AflError> {
    let mcr = afl.mcr.ok_or(AflError::NoCounter)?;
    let mut p = [0u8; 9];
    let n = mac_prefix(afl, &mut p);
    let mut aad = Vec::with_capacity(n + tpdu.len());
    aad.extend_from_slice(&p[..n]);
    aad.extend_from_slice(tpdu);
    Ok(aes_gmac(key, &gmac_iv(addr, mcr), &aad))
}

/// Verify the AFL MAC (CMAC at every truncation AT 3..7, GMAC AT 8/9).
///
/// * `key`: Kmac (from KDF-A) or the persistent key.
/// * `tpdu`: bytes from the TPL CI to the end of the (reassembled) message, as transmitted.
/// * `addr`: the meter address, used only for the GMAC IV.
pub fn verify_mac(key: &Key, afl: &Afl, tpdu: &[u8], addr: &Address) -> Result<(), AflError> {
    let mac = afl.mac().ok_or(AflError::NoMac)?;
    let full = match afl.auth_type() {
        AuthType::Cmac(_) => compute_cmac(key, afl, tpdu),
        AuthType::Gmac(_) => compute_gmac(key, afl, tpdu, addr)?,
        AuthType::None | AuthType::Reserved(_) => return Err(AflError::NoMac),
    };
    if ct_eq(&full[..mac.len()], mac) {
        Ok(())
    } else {
        Err(AflError::MacMismatch {
            offset: afl.mac_offset,
        })
    }
}

/// Compute and store the MAC of `afl` (its MCL decides type and length) for `tpdu`; the
/// encoder counterpart of [`verify_mac`]. Sets MACP in the FCL.
pub fn sign(afl: &mut Afl, key: &Key, tpdu: &[u8], addr: &Address) -> Result<(), AflError> {
    let t = afl.auth_type();
    let n = t.mac_len();
    if n == 0 {
        return Err(AflError::NoMac);
    }
    let full = match t {
        AuthType::Gmac(_) => compute_gmac(key, afl, tpdu, addr)?,
        _ => compute_cmac(key, afl, tpdu),
    };
    afl.fcl |= fcl::MAC_PRESENT;
    afl.mac = [0; 16];
    afl.mac[..n].copy_from_slice(&full[..n]);
    afl.mac_len = n as u8;
    let enc = afl.encode();
    afl.afll = enc[1];
    afl.len = enc.len();
    afl.mac_offset = enc.len() - n - if afl.ml.is_some() { 2 } else { 0 };
    Ok(())
}

/// A complete (possibly reassembled) AFL message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AflMessage {
    /// The first fragment's AFL, with the MAC of whichever fragment carried it.
    pub afl: Afl,
    /// The TPDU: concatenated fragment payloads (TPL CI .. end).
    pub tpdu: Vec<u8>,
    /// Number of fragments (1 for an unfragmented message).
    pub fragments: u8,
}

/// In-order AFL fragment reassembler for one sender (keep one per meter address).
///
/// Bounded: at most `max_len` payload bytes are held; there is at most one pending message.
#[derive(Clone, Debug)]
pub struct AflReassembler {
    max_len: usize,
    pending: Option<Pending>,
}

#[derive(Clone, Debug)]
struct Pending {
    afl: Afl,
    next_fid: u8,
    data: Vec<u8>,
    has_mac: bool,
}

impl AflReassembler {
    /// A reassembler holding at most `max_len` bytes of pending TPDU.
    pub fn new(max_len: usize) -> Self {
        AflReassembler {
            max_len,
            pending: None,
        }
    }

    /// The FID expected next, if a message is pending.
    pub fn expected_fid(&self) -> Option<u8> {
        self.pending.as_ref().map(|p| p.next_fid)
    }

    /// Drop any pending message.
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Feed one frame. `buf`: bytes from the AFL CI to the end of the frame (CRCs removed).
    ///
    /// Returns `Ok(Some(message))` when a message is complete (immediately for FID 0),
    /// `Ok(None)` while fragments are outstanding. On a gap (`MissingFragments`) the pending
    /// message is dropped; if the offending fragment is a first fragment (FID 1) it starts a
    /// new message, so the error only reports the loss.
    pub fn push(&mut self, buf: &[u8]) -> Result<Option<AflMessage>, AflError> {
        let first_mcl = self.pending.as_ref().and_then(|p| p.afl.mcl);
        let afl = parse_afl_fragment(buf, first_mcl)?;
        let payload = &buf[afl.len..];
        let fid = afl.fid();
        if fid == 0 && !afl.more_fragments() {
            let lost = self.pending.take().map(|p| p.next_fid);
            if payload.len() > self.max_len {
                return Err(AflError::TooLong {
                    limit: self.max_len,
                });
            }
            if let Some(expected) = lost {
                return Err(AflError::MissingFragments { expected, got: 0 });
            }
            return Ok(Some(AflMessage {
                afl,
                tpdu: payload.to_vec(),
                fragments: 1,
            }));
        }
        if fid <= 1 {
            // a new message (FID 1; FID 0 with MF set is treated the same way)
            let lost = self.pending.take().map(|p| p.next_fid);
            if payload.len() > self.max_len {
                return Err(AflError::TooLong {
                    limit: self.max_len,
                });
            }
            self.pending = Some(Pending {
                afl,
                next_fid: fid.wrapping_add(1).max(2),
                data: payload.to_vec(),
                has_mac: afl.mac_len > 0,
            });
            if let Some(expected) = lost {
                return Err(AflError::MissingFragments { expected, got: fid });
            }
            return self.finish_if_last(&afl);
        }
        let Some(p) = self.pending.as_mut() else {
            return Err(AflError::MissingFragments {
                expected: 1,
                got: fid,
            });
        };
        if fid != p.next_fid {
            let expected = p.next_fid;
            self.pending = None;
            return Err(AflError::MissingFragments { expected, got: fid });
        }
        if p.data.len() + payload.len() > self.max_len {
            self.pending = None;
            return Err(AflError::TooLong {
                limit: self.max_len,
            });
        }
        if afl.mac_len > 0 {
            if p.has_mac {
                self.pending = None;
                return Err(AflError::DuplicateMac { fid });
            }
            p.has_mac = true;
            p.afl.mac = afl.mac;
            p.afl.mac_len = afl.mac_len;
            p.afl.mac_offset = afl.mac_offset;
        }
        p.data.extend_from_slice(payload);
        p.next_fid = fid.saturating_add(1);
        self.finish_if_last(&afl)
    }

    fn finish_if_last(&mut self, last: &Afl) -> Result<Option<AflMessage>, AflError> {
        if last.more_fragments() {
            return Ok(None);
        }
        let p = self.pending.take().expect("pending message exists");
        if let Some(ml) = p.afl.ml {
            if usize::from(ml) != p.data.len() {
                return Err(AflError::MessageLengthMismatch {
                    ml,
                    got: p.data.len(),
                });
            }
        }
        Ok(Some(AflMessage {
            afl: p.afl,
            tpdu: p.data,
            fragments: p.next_fid - 1,
        }))
    }
}

#[cfg(test)]
mod tests;
