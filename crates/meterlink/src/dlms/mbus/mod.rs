//! DLMS/COSEM over wired M-Bus (EN 13757-2 long frames carrying DLMS CI values, and the CI
//! 00–1F segments of the Austrian meters), reassembled into one APDU.
//!
//! ```text
//! segment frame : 68 L L 68 C A CI STSAP DTSAP <segment> CS 16      CI = 000F SSSS
//!                 CI 0x00..0x1F (EN 13757-7 Table 2: DLMS-based applications): S = segment
//!                 number mod 16 (low nibble), F = last segment (bit 4)
//! single frame  : 68 L L 68 C A CI <TPL header> <APDU> CS 16       CI 0x60/0x7C long header,
//!                                                                   0x61/0x7D short header
//! ```
//! The segment layout follows the Austrian customer-interface documents (Netz NÖ
//! "Kundenschnittstelle", TINETZ; `smart-meter-tirol doc/EXAMPLE.md`): two frames `53 FF 00 01 67`
//! and `53 FF 11 01 67` carry one general-glo-ciphering APDU (STSAP 01, DTSAP 67 in every
//! frame). The frames are checked by the core's FT1.2 parser ([`crate::mbus::link::wired`]).

mod error;

use std::collections::{BTreeMap, HashMap};

pub use error::MbusError;

use crate::mbus::link::wired::{self, WiredFrame};
use crate::mbus::link::{FrameError, FrameErrorReason};
use crate::mbus::tpl::{self, TplHeader};

/// Offset of the CI field in a long frame.
const CI_AT: usize = wired::LONG_CI_OFFSET;
/// The most segment bytes one frame can carry (L = C A CI STSAP DTSAP + segment ≤ 255).
pub const MAX_SEGMENT: usize = 250;

/// Where a DLMS APDU came from on the M-Bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbusDlmsInfo {
    /// The C field of the first frame.
    pub control: u8,
    /// The A field (primary address) of the first frame.
    pub address: u8,
    /// The CI field of the first frame.
    pub ci: u8,
    /// Frames the APDU came in.
    pub segments: usize,
    /// Source transport service access point (segmented transport).
    pub stsap: Option<u8>,
    /// Destination transport service access point (segmented transport).
    pub dtsap: Option<u8>,
    /// The TPL header (CI 60/61/7C/7D).
    pub tpl: Option<TplHeader>,
}

/// A CI value's DLMS meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DlmsCi {
    /// A segment: its number (mod 16) and whether it is the last one.
    Segment {
        /// Segment number, low nibble of the CI.
        number: u8,
        /// Bit 4: the last segment.
        last: bool,
    },
    /// A whole APDU after a TPL header (EN 13757-7 Table 2: 0x60/0x7C long, 0x61/0x7D short).
    Single,
}

/// Classify a CI field; None if it carries no DLMS/COSEM data.
pub fn dlms_ci(ci: u8) -> Option<DlmsCi> {
    match ci {
        0x00..=0x1F => Some(DlmsCi::Segment { number: ci & 0x0F, last: ci & 0x10 != 0 }),
        0x60 | 0x61 | 0x7C | 0x7D => Some(DlmsCi::Single),
        _ => None,
    }
}

fn link_error(e: FrameError) -> MbusError {
    let offset = e.offset;
    match e.reason {
        FrameErrorReason::Empty | FrameErrorReason::Truncated { .. } => MbusError::Truncated { offset },
        FrameErrorReason::BadChecksum { .. } => MbusError::Checksum { offset },
        FrameErrorReason::TrailingBytes { .. } => MbusError::Trailing { offset },
        _ => MbusError::Frame { offset },
    }
}

/// One checked long frame: (C, A, CI, data after the CI).
fn long_frame(frame: &[u8]) -> Result<(u8, u8, u8, &[u8]), MbusError> {
    match wired::parse(frame).map_err(link_error)? {
        WiredFrame::Long { c, a, ci, data } => Ok((c.0, a, ci, data)),
        _ => Err(MbusError::Frame { offset: 0 }),
    }
}

/// The APDU of a CI 60/61/7C/7D frame after its TPL header; TPL encryption is refused (DLMS
/// ciphers the APDU itself).
fn single(ci: u8, data: &[u8]) -> Result<(TplHeader, &[u8]), MbusError> {
    let (h, n) = tpl::parse_header(tpl::ci_info(ci), data).map_err(|_| MbusError::Tpl { offset: CI_AT + 1 })?;
    if h.security_mode() != 0 {
        return Err(MbusError::Tpl { offset: CI_AT + 1 });
    }
    Ok((h, &data[n..]))
}

/// A segment's service access points and bytes (`STSAP DTSAP segment`).
fn segment(data: &[u8]) -> Result<(u8, u8, &[u8]), MbusError> {
    match data {
        [s, d, rest @ ..] => Ok((*s, *d, rest)),
        _ => Err(MbusError::Truncated { offset: CI_AT + 1 + data.len() }),
    }
}

/// The frame at `pos`: its length in the input (up to the end of the input when it claims more).
fn frame_at(buf: &[u8], pos: usize) -> usize {
    wired::frame_len(&buf[pos..]).map_or(buf.len() - pos, |n| n.min(buf.len() - pos))
}

/// Reassemble one reception holding all frames of one APDU back to back: either one CI
/// 60/61/7C/7D frame, or segments numbered 0, 1, … (mod 16) up to the one marked last.
/// Returns where the APDU came from and the APDU bytes (e.g. a general-glo-ciphering APDU).
pub fn reassemble(buf: &[u8]) -> Result<(MbusDlmsInfo, Vec<u8>), MbusError> {
    let mut apdu = Vec::new();
    let mut info: Option<MbusDlmsInfo> = None;
    let mut pos = 0;
    loop {
        if pos >= buf.len() {
            return Err(if pos == 0 { MbusError::Truncated { offset: 0 } } else { MbusError::Incomplete { offset: pos } });
        }
        let n = frame_at(buf, pos);
        let (c, a, ci, data) = long_frame(&buf[pos..pos + n]).map_err(|e| e.rebased(pos))?;
        let end = pos + n;
        match (dlms_ci(ci), info.as_mut()) {
            (Some(DlmsCi::Single), None) => {
                let (h, body) = single(ci, data)?;
                if end < buf.len() {
                    return Err(MbusError::Trailing { offset: end });
                }
                let i = MbusDlmsInfo { control: c, address: a, ci, segments: 1, stsap: None, dtsap: None, tpl: Some(h) };
                return Ok((i, body.to_vec()));
            }
            (Some(DlmsCi::Segment { number, last }), current) => {
                let (s, d, seg) = segment(data).map_err(|e| e.rebased(pos))?;
                let expected = current.as_ref().map_or(0, |i| (i.segments % 16) as u8);
                let same = current.as_ref().is_none_or(|i| (i.address, i.stsap, i.dtsap) == (a, Some(s), Some(d)));
                if number != expected || !same {
                    return Err(MbusError::Sequence { offset: pos + CI_AT });
                }
                match current {
                    Some(i) => i.segments += 1,
                    None => {
                        info = Some(MbusDlmsInfo { control: c, address: a, ci, segments: 1, stsap: Some(s), dtsap: Some(d), tpl: None })
                    }
                }
                apdu.extend_from_slice(seg);
                if last {
                    if end < buf.len() {
                        return Err(MbusError::Trailing { offset: end });
                    }
                    return Ok((info.expect("set above"), apdu));
                }
            }
            (Some(DlmsCi::Single), Some(_)) => return Err(MbusError::Sequence { offset: pos + CI_AT }),
            (None, _) => return Err(MbusError::Ci { offset: pos + CI_AT, ci }),
        }
        pos = end;
    }
}

/// Build the segment frames of one APDU back to back (the inverse of [`reassemble`]):
/// `segment_size` APDU bytes per frame (1..=250), CI = segment number mod 16, bit 4 on the last.
pub fn encode_segments(apdu: &[u8], control: u8, address: u8, stsap: u8, dtsap: u8, segment_size: usize) -> Result<Vec<u8>, MbusError> {
    if segment_size == 0 || segment_size > MAX_SEGMENT {
        return Err(MbusError::Encode);
    }
    let chunks: Vec<&[u8]> = if apdu.is_empty() { vec![&[][..]] } else { apdu.chunks(segment_size).collect() };
    let mut out = Vec::with_capacity(apdu.len() + chunks.len() * 11);
    for (i, chunk) in chunks.iter().enumerate() {
        let ci = (i % 16) as u8 | if i + 1 == chunks.len() { 0x10 } else { 0 };
        let mut data = Vec::with_capacity(chunk.len() + 2);
        data.extend_from_slice(&[stsap, dtsap]);
        data.extend_from_slice(chunk);
        out.extend(wired::build_long(control, address, ci, &data).ok_or(MbusError::Encode)?);
    }
    Ok(out)
}

/// A meter's pending APDU.
#[derive(Clone, Debug)]
struct Pending {
    info: MbusDlmsInfo,
    apdu: Vec<u8>,
    seq: u64,
}

/// Reassembles DLMS segments arriving one frame at a time, one pending APDU per meter.
///
/// A meter is the caller's `channel` (a port, a gateway input) and the frame's A field: the
/// Austrian meters send to the broadcast address 0xFF, so the channel is what tells several
/// meters apart. Memory is bounded like [`crate::mbus::reassembly`]: at most `max_meters`
/// pending APDUs of at most `max_length` bytes; a new meter's first segment arriving when the
/// table is full evicts the pending APDU started longest ago (one), counted in `evicted`.
#[derive(Clone, Debug)]
pub struct MbusDlmsReassembler {
    pending: HashMap<(u64, u8), Pending>,
    order: BTreeMap<u64, (u64, u8)>,
    next_seq: u64,
    max_length: usize,
    max_meters: usize,
    evicted: u64,
}

impl Default for MbusDlmsReassembler {
    /// 64 KiB APDUs, 64 meters.
    fn default() -> Self {
        Self::new(65536, 64)
    }
}

impl MbusDlmsReassembler {
    /// A reassembler keeping at most `max_meters` pending APDUs of `max_length` bytes each.
    pub fn new(max_length: usize, max_meters: usize) -> Self {
        MbusDlmsReassembler {
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_length,
            max_meters: max_meters.max(1),
            evicted: 0,
        }
    }

    /// Pending (incomplete) APDUs.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Pending APDUs evicted to make room so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Add one frame from channel 0 (see [`MbusDlmsReassembler::push_from`]).
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<(MbusDlmsInfo, Vec<u8>)>, MbusError> {
        self.push_from(0, frame)
    }

    /// Add one whole frame from `channel`. Returns the APDU when the frame completes one. A
    /// segment 0 starts a new APDU (dropping an unfinished one of that meter); a segment out of
    /// sequence drops the meter's pending APDU and is an error.
    pub fn push_from(&mut self, channel: u64, frame: &[u8]) -> Result<Option<(MbusDlmsInfo, Vec<u8>)>, MbusError> {
        let (c, a, ci, data) = long_frame(frame)?;
        let key = (channel, a);
        let Some(DlmsCi::Segment { number, last }) = dlms_ci(ci) else {
            return match dlms_ci(ci) {
                Some(DlmsCi::Single) => reassemble(frame).map(Some),
                _ => Err(MbusError::Ci { offset: CI_AT, ci }),
            };
        };
        let (s, d, seg) = segment(data)?;
        // The next segment continues; a segment 0 otherwise starts a new APDU (after 16
        // segments the numbers wrap, and 0 continues).
        let next = |p: &Pending| {
            number == (p.info.segments % 16) as u8 && (p.info.stsap, p.info.dtsap) == (Some(s), Some(d))
        };
        let mut p = match (self.take(&key), number) {
            (Some(p), n) if next(&p) && (n != 0 || p.info.segments >= 16) => p,
            (_, 0) => {
                let info = MbusDlmsInfo { control: c, address: a, ci, segments: 0, stsap: Some(s), dtsap: Some(d), tpl: None };
                Pending { info, apdu: Vec::new(), seq: 0 }
            }
            _ => return Err(MbusError::Sequence { offset: CI_AT }),
        };
        if p.apdu.len() + seg.len() > self.max_length {
            return Err(MbusError::Overflow { limit: self.max_length });
        }
        p.apdu.extend_from_slice(seg);
        p.info.segments += 1;
        if last {
            return Ok(Some((p.info, p.apdu)));
        }
        self.insert(key, p);
        Ok(None)
    }

    fn take(&mut self, key: &(u64, u8)) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.order.remove(&p.seq);
        Some(p)
    }

    fn insert(&mut self, key: (u64, u8), mut p: Pending) {
        if p.info.segments == 1 {
            if self.pending.len() >= self.max_meters {
                if let Some((_, oldest)) = self.order.pop_first() {
                    self.pending.remove(&oldest);
                    self.evicted += 1;
                }
            }
            p.seq = self.next_seq;
            self.next_seq += 1;
        }
        self.order.insert(p.seq, key);
        self.pending.insert(key, p);
    }
}

#[cfg(test)]
mod tests;
