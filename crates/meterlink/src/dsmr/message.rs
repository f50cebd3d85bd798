//! A P2 message on the wire (DSMR P2 §3, §4): the link frame (FT1.2 wired, FT3 format A
//! wireless), the control check of §4.1, the data header of §4.2.1, the configuration word, and
//! the application data after it — still encrypted if the word says method 15 ([`Message::open`]).
//!
//! ```text
//! wired     68 L L 68 C A CI [header] data CS 16 | 10 C A CS 16 | E5
//! wireless  L C M(2) A(6) CRC CI [header] data (CRC every 16 bytes)
//! short header  ACC ST CW(2)           (CI 5A 7A 8A)
//! long header   ShortID(8) ACC ST CW(2) (CI 5B 72 80 6C)
//! ```
//! Offsets in errors are input offsets for wired frames, and offsets in the frame with its DLL
//! CRCs removed for wireless ones.

use super::control::{self, header_kind, ConfigWord, HeaderKind, Medium, MessageKind};
use super::error::{Direction, DsmrError};
use super::mode15;
use super::short_id::ShortId;
use crate::address::Address;
use crate::crypto::Key;
use crate::mbus::link::{wired, wmbus};

/// The link-layer address of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkAddress {
    /// Wired: the primary address (0 = unconfigured device, 1–250 configured; §3.1.3).
    Primary(u8),
    /// Wireless: the sender's M and A fields (for the E-meter usually all zero, §3.2.4).
    Radio(Address),
}

/// The data header of §4.2.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// The Short ID of the M-Bus device (long header only).
    pub short_id: Option<ShortId>,
    /// Access number (§4.2.4).
    pub acc: u8,
    /// Status byte (§4.2.5: 0, not used).
    pub status: u8,
    /// Configuration word.
    pub cw: ConfigWord,
}

/// One P2 message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Wired or wireless.
    pub medium: Medium,
    /// Who sends it.
    pub direction: Direction,
    /// Which message of §4.3/§4.4.
    pub kind: MessageKind,
    /// The C field as sent (FCB included).
    pub c: u8,
    /// The link address.
    pub link: LinkAddress,
    /// The CI field (None: short frame, single character).
    pub ci: Option<u8>,
    /// The data header (None for CI 51h and frames without CI).
    pub header: Option<Header>,
    /// The bytes after the header: clear records, or `N × 16` encrypted bytes and the clear
    /// frame-counter record `04 FD 08 FC` (method 15).
    pub payload: Vec<u8>,
    /// Offset of `payload` in the input (see the module note on wireless offsets).
    pub payload_offset: usize,
}

impl Message {
    /// A message with its C field and CI from Tables 5/6; `None` if the kind does not exist
    /// on this medium and direction.
    pub fn new(medium: Medium, kind: MessageKind, link: LinkAddress, header: Option<Header>, payload: Vec<u8>) -> Option<Self> {
        let row = control::ALLOWED.iter().find(|r| r.0 == medium && r.4 == kind)?;
        Some(Message { medium, direction: row.1, kind, c: row.2, link, ci: row.3, header, payload, payload_offset: 0 })
    }

    /// Whether the payload is encrypted (method 15).
    pub fn encrypted(&self) -> bool {
        self.header.is_some_and(|h| h.cw.mode() == 15)
    }

    /// The mode-15 frame counter sent in clear after the encrypted blocks (§5.2).
    pub fn frame_counter(&self) -> Option<u32> {
        let h = self.header?;
        let n = usize::from(h.cw.blocks()) * 16;
        (h.cw.mode() == 15 && n <= self.payload.len()).then(|| mode15::frame_counter(&self.payload[n..]))?
    }

    /// The application data in clear: the payload as is (method 0), or decrypted with `key`
    /// and the device's identity `device` (§5.2: the IV always uses the M-Bus device's Short
    /// ID, whoever sends). Returns the records (starting with 2F 2F when decrypted, fillers
    /// kept) without the clear frame-counter record, and the frame counter.
    pub fn open(&self, key: Option<&Key>, device: &Address) -> Result<(Vec<u8>, Option<u32>), DsmrError> {
        if !self.encrypted() {
            return Ok((self.payload.clone(), None));
        }
        let key = key.ok_or(DsmrError::NoKey)?;
        let blocks = self.header.map_or(0, |h| h.cw.blocks());
        let mut out = Vec::with_capacity(self.payload.len());
        mode15::decrypt_mode15_into(key, device, &self.payload, blocks, None, &mut out)
            .map_err(|error| DsmrError::Decrypt { error, offset: self.payload_offset })?;
        let fc = self.frame_counter();
        out.truncate(usize::from(blocks) * 16);
        Ok((out, fc))
    }

    /// Set the payload to `records` encrypted with method 15 (`key`, frame counter `fc`, the
    /// device identity `device`) and the header's configuration word to match; `key = None`
    /// sends them in clear with method 0. The B/A/S flags come from §4.2.6 for this message.
    pub fn seal(&mut self, records: &[u8], key: Option<&Key>, device: &Address, fc: u32) {
        let flags = ConfigWord::flags_for(self.medium, self.direction, self.kind);
        let (payload, blocks) = match key {
            Some(k) => {
                let mut plain = Vec::with_capacity(records.len() + 2);
                if !records.starts_with(&[0x2F, 0x2F]) {
                    plain.extend_from_slice(&[0x2F, 0x2F]); // §5.1 verification bytes
                }
                plain.extend_from_slice(records);
                let (p, n) = mode15::encrypt_mode15(k, device, fc, &plain);
                (p, Some(n))
            }
            None => (records.to_vec(), None),
        };
        self.payload = payload;
        if let Some(h) = &mut self.header {
            h.cw = ConfigWord::new(flags, blocks);
        }
    }

    /// The message as bytes on the wire (wireless: format A with DLL CRCs).
    pub fn encode(&self) -> Result<Vec<u8>, DsmrError> {
        let mut body = Vec::with_capacity(self.payload.len() + 13);
        if let Some(ci) = self.ci {
            body.push(ci);
        }
        if let Some(h) = &self.header {
            if let Some(s) = h.short_id {
                body.extend_from_slice(&s.wire());
            }
            body.extend_from_slice(&[h.acc, h.status]);
            body.extend_from_slice(&h.cw.0.to_le_bytes());
        }
        body.extend_from_slice(&self.payload);
        let too_long = || DsmrError::State { reason: format!("{} payload bytes do not fit one frame", self.payload.len()) };
        match (self.medium, self.link) {
            (Medium::Wired, LinkAddress::Primary(a)) => match (self.kind, self.ci) {
                (MessageKind::Ack, _) => Ok(vec![wired::SINGLE_ACK]),
                (_, None) => Ok(wired::build_short(self.c, a).to_vec()),
                (_, Some(ci)) => wired::build_long(self.c, a, ci, &body[1..]).ok_or_else(too_long),
            },
            (Medium::Wireless, LinkAddress::Radio(addr)) => {
                wmbus::build_frame(self.c, &addr.bytes(), &body, wmbus::FrameFormat::A).ok_or_else(too_long)
            }
            _ => Err(DsmrError::State { reason: "link address does not match the medium".into() }),
        }
    }
}

/// Parse a received P2 message: link frame, then §4.1 (C/CI allowed for this medium and
/// direction, else `dsmr_control` and nothing else is looked at), then the header the CI
/// requires and the configuration-word rules. Nothing is decrypted ([`Message::open`]).
pub fn parse(medium: Medium, dir: Direction, bytes: &[u8]) -> Result<Message, DsmrError> {
    match medium {
        Medium::Wired => parse_wired(dir, bytes),
        Medium::Wireless => parse_wireless(dir, bytes),
    }
}

fn parse_wired(dir: Direction, bytes: &[u8]) -> Result<Message, DsmrError> {
    let f = wired::parse(bytes).map_err(|e| DsmrError::Frame { reason: e.to_string(), offset: e.offset })?;
    let (c, a, ci, data, data_at) = match f {
        wired::WiredFrame::Ack => {
            if dir != Direction::FromDevice {
                return Err(DsmrError::Control { direction: dir, c: wired::SINGLE_ACK, ci: None, offset: 0 });
            }
            return Ok(Message {
                medium: Medium::Wired,
                direction: dir,
                kind: MessageKind::Ack,
                c: wired::SINGLE_ACK,
                link: LinkAddress::Primary(0),
                ci: None,
                header: None,
                payload: Vec::new(),
                payload_offset: 1,
            });
        }
        wired::WiredFrame::Short { c, a } => (c.0, a, None, &[][..], 3),
        wired::WiredFrame::Long { c, a, ci, data } => (c.0, a, Some(ci), data, wired::LONG_CI_OFFSET + 1),
    };
    let c_at = if ci.is_some() { 4 } else { 1 };
    let kind = control::classify(Medium::Wired, dir, c, ci, c_at)?;
    finish(Medium::Wired, dir, kind, c, LinkAddress::Primary(a), ci, data, data_at)
}

fn parse_wireless(dir: Direction, bytes: &[u8]) -> Result<Message, DsmrError> {
    let f = wmbus::parse_wmbus(bytes, wmbus::FormatHint::A).map_err(|e| DsmrError::Frame {
        reason: e.to_string(),
        offset: match e {
            wmbus::WmbusError::BlockCrc { offset, .. } => offset,
            wmbus::WmbusError::Truncated { available, .. } => available,
            wmbus::WmbusError::BadLength { .. } => 0,
        },
    })?;
    let addr = Address::new(f.m, f.id, f.version, f.device_type);
    let Some((&ci, data)) = f.data.split_first() else {
        return Err(DsmrError::Control { direction: dir, c: f.c, ci: None, offset: 1 });
    };
    let kind = control::classify(Medium::Wireless, dir, f.c, Some(ci), 1)?;
    finish(Medium::Wireless, dir, kind, f.c, LinkAddress::Radio(addr), Some(ci), data, 11)
}

#[allow(clippy::too_many_arguments)]
fn finish(
    medium: Medium,
    dir: Direction,
    kind: MessageKind,
    c: u8,
    link: LinkAddress,
    ci: Option<u8>,
    data: &[u8],
    data_at: usize,
) -> Result<Message, DsmrError> {
    let (header, used) = match ci.map_or(HeaderKind::None, header_kind) {
        HeaderKind::None => (None, 0),
        HeaderKind::Short => (Some(short_header(data, data_at)?), 4),
        HeaderKind::Long => {
            let h = data.get(..12).ok_or(DsmrError::Header { offset: data_at + data.len() })?;
            let mut hdr = short_header(&h[8..], data_at + 8)?;
            hdr.short_id = Some(ShortId::from_wire(h[..8].try_into().expect("8 bytes")));
            (Some(hdr), 12)
        }
    };
    if let Some(h) = &header {
        h.cw.check(medium, dir, data_at + used - 2)?;
    }
    Ok(Message { medium, direction: dir, kind, c, link, ci, header, payload: data[used..].to_vec(), payload_offset: data_at + used })
}

fn short_header(d: &[u8], at: usize) -> Result<Header, DsmrError> {
    match d {
        [acc, st, c0, c1, ..] => Ok(Header { short_id: None, acc: *acc, status: *st, cw: ConfigWord(u16::from_le_bytes([*c0, *c1])) }),
        _ => Err(DsmrError::Header { offset: at + d.len() }),
    }
}
