//! HDLC framing for DLMS (IEC 62056-46, ISO/IEC 13239 frame format type 3): flags, format
//! field with the segmentation bit, 1/2/4-byte addresses, control field, HCS and FCS
//! (CRC-16/X.25), the LLC header (E6 E6 00 / E6 E7 00), stream splitting and reassembly of
//! segmented frames.
//!
//! ```text
//! 7E | format(2) | destination(1,2,4) | source(1,2,4) | control | HCS(2) | information | FCS(2) | 7E
//! 7E | format(2) | destination        | source        | control | FCS(2) | 7E            (no information)
//! format = 1010 S LLLLLLLLLLL: type 0xA, segmentation bit S, frame length L (bytes between the flags)
//! ```
//!
//! Frames are length-delimited (IEC 62056-46 6.4.4.1): a 0x7E inside is data, no octet
//! stuffing is applied by [`parse_frame`]. The [`splitter`] can un-stuff captures of readers
//! that stuff (0x7D escapes), see `docs/decisions.md`.

mod error;
pub mod reassembly;
pub mod splitter;

pub use error::HdlcError;
pub use reassembly::{HdlcMessage, HdlcReassembler};
pub use splitter::{split_stream, unstuff, FrameSplitter, SplitItem};

/// The flag that opens and closes every frame.
pub const FLAG: u8 = 0x7E;
/// Frame format type 3 (ISO/IEC 13239 4.9), the high nibble of the format field.
pub const FORMAT_TYPE_3: u8 = 0xA;
/// The largest frame length the 11-bit length field can hold.
pub const MAX_FRAME_LENGTH: usize = 0x7FF;
/// LLC header of a command (client to server), IEC 62056-46 8.1: destination LSAP E6,
/// source LSAP E6, quality 00.
pub const LLC_COMMAND: [u8; 3] = [0xE6, 0xE6, 0x00];
/// LLC header of a response or push (server to client): E6 E7 00.
pub const LLC_RESPONSE: [u8; 3] = [0xE6, 0xE7, 0x00];

static CRC: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_IBM_SDLC);

/// CRC-16/X.25 (ISO/IEC 13239 4.2.5: poly 0x1021 reflected, init and xor-out 0xFFFF) as used
/// for HCS and FCS; sent least significant byte first.
pub fn crc16_x25(data: &[u8]) -> u16 {
    CRC.checksum(data)
}

/// An HDLC address: upper (logical device) and, for client/server addresses of 2 or 4
/// bytes, lower (physical device).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HdlcAddress {
    /// The upper HDLC address.
    pub upper: u16,
    /// The lower HDLC address (None for a one-byte address).
    pub lower: Option<u16>,
    /// Bytes on the wire: 1, 2 or 4.
    pub length: u8,
}

impl HdlcAddress {
    /// A one-byte address (a client, or a server addressed by its upper address only).
    pub const fn one_byte(upper: u16) -> Self {
        HdlcAddress { upper, lower: None, length: 1 }
    }

    /// A two-byte (7 bits each) or four-byte (14 bits each) server address.
    pub const fn server(upper: u16, lower: u16, length: u8) -> Self {
        HdlcAddress { upper, lower: Some(lower), length }
    }

    /// Read the address at the start of `buf` (IEC 62056-46 6.4.2: the least significant bit
    /// of each byte is the extension bit, 1 in the last byte; the other 7 bits carry the
    /// address). Returns the address and its length, or None if it is not 1, 2 or 4 bytes.
    pub fn parse(buf: &[u8]) -> Option<(HdlcAddress, usize)> {
        let n = buf.iter().take(4).position(|b| b & 1 == 1)? + 1;
        let v = |i: usize| u16::from(buf[i] >> 1);
        let a = match n {
            1 => HdlcAddress::one_byte(v(0)),
            2 => HdlcAddress::server(v(0), v(1), 2),
            4 => HdlcAddress::server((v(0) << 7) | v(1), (v(2) << 7) | v(3), 4),
            _ => return None,
        };
        Some((a, n))
    }

    /// Append the address's bytes, or None if a part does not fit its length.
    pub fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        let parts: &[u16] = match (self.length, self.lower) {
            (1, None) => &[self.upper],
            (2, Some(l)) => &[self.upper, l],
            (4, Some(l)) => &[self.upper >> 7, self.upper & 0x7F, l >> 7, l & 0x7F],
            _ => return None,
        };
        let limit = if self.length == 4 { 0x3FFF } else { 0x7F };
        if self.upper > limit || self.lower.unwrap_or(0) > limit {
            return None;
        }
        let last = parts.len() - 1;
        for (i, p) in parts.iter().enumerate() {
            out.push(((*p as u8) << 1) | u8::from(i == last));
        }
        Some(())
    }
}

/// The control field (IEC 62056-46 6.4.3; ISO/IEC 13239 5.3): the frame kinds DLMS uses.
/// `pf` is the poll/final bit; `ns`/`nr` are the send and receive sequence numbers (0..7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HdlcControl {
    /// Information frame: `RRR P SSS 0`.
    I {
        /// N(S), send sequence number.
        ns: u8,
        /// N(R), receive sequence number.
        nr: u8,
        /// Poll/final bit.
        pf: bool,
    },
    /// Receive ready: `RRR P 0001`.
    Rr {
        /// N(R).
        nr: u8,
        /// Poll/final bit.
        pf: bool,
    },
    /// Receive not ready: `RRR P 0101`.
    Rnr {
        /// N(R).
        nr: u8,
        /// Poll/final bit.
        pf: bool,
    },
    /// Set normal response mode: `100 P 0011`.
    Snrm {
        /// Poll bit.
        pf: bool,
    },
    /// Disconnect: `010 P 0011`.
    Disc {
        /// Poll bit.
        pf: bool,
    },
    /// Unnumbered acknowledge: `011 F 0011`.
    Ua {
        /// Final bit.
        pf: bool,
    },
    /// Disconnected mode: `000 F 1111`.
    Dm {
        /// Final bit.
        pf: bool,
    },
    /// Frame reject: `100 F 0111`.
    Frmr {
        /// Final bit.
        pf: bool,
    },
    /// Unnumbered information: `000 P 0011`.
    Ui {
        /// Poll/final bit.
        pf: bool,
    },
}

impl HdlcControl {
    /// The kind of a control byte, or None for a kind DLMS does not use (REJ, SREJ, others).
    pub fn from_byte(c: u8) -> Option<HdlcControl> {
        let pf = c & 0x10 != 0;
        let nr = c >> 5;
        if c & 1 == 0 {
            return Some(HdlcControl::I { ns: (c >> 1) & 7, nr, pf });
        }
        Some(match c & 0xEF {
            x if x & 0x0F == 0x01 => HdlcControl::Rr { nr, pf },
            x if x & 0x0F == 0x05 => HdlcControl::Rnr { nr, pf },
            0x83 => HdlcControl::Snrm { pf },
            0x43 => HdlcControl::Disc { pf },
            0x63 => HdlcControl::Ua { pf },
            0x0F => HdlcControl::Dm { pf },
            0x87 => HdlcControl::Frmr { pf },
            0x03 => HdlcControl::Ui { pf },
            _ => return None,
        })
    }

    /// The control byte.
    pub fn to_byte(self) -> u8 {
        let p = |pf: bool| if pf { 0x10 } else { 0 };
        match self {
            HdlcControl::I { ns, nr, pf } => ((nr & 7) << 5) | p(pf) | ((ns & 7) << 1),
            HdlcControl::Rr { nr, pf } => ((nr & 7) << 5) | p(pf) | 0x01,
            HdlcControl::Rnr { nr, pf } => ((nr & 7) << 5) | p(pf) | 0x05,
            HdlcControl::Snrm { pf } => 0x83 | p(pf),
            HdlcControl::Disc { pf } => 0x43 | p(pf),
            HdlcControl::Ua { pf } => 0x63 | p(pf),
            HdlcControl::Dm { pf } => 0x0F | p(pf),
            HdlcControl::Frmr { pf } => 0x87 | p(pf),
            HdlcControl::Ui { pf } => 0x03 | p(pf),
        }
    }

    /// The kind's short name: `I`, `RR`, `RNR`, `SNRM`, `DISC`, `UA`, `DM`, `FRMR`, `UI`.
    pub fn name(self) -> &'static str {
        match self {
            HdlcControl::I { .. } => "I",
            HdlcControl::Rr { .. } => "RR",
            HdlcControl::Rnr { .. } => "RNR",
            HdlcControl::Snrm { .. } => "SNRM",
            HdlcControl::Disc { .. } => "DISC",
            HdlcControl::Ua { .. } => "UA",
            HdlcControl::Dm { .. } => "DM",
            HdlcControl::Frmr { .. } => "FRMR",
            HdlcControl::Ui { .. } => "UI",
        }
    }

    /// The poll/final bit.
    pub fn pf(self) -> bool {
        self.to_byte() & 0x10 != 0
    }
}

/// One HDLC frame, borrowed from its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdlcFrame<'a> {
    /// The segmentation bit (S) of the format field.
    pub segmented: bool,
    /// The destination address.
    pub destination: HdlcAddress,
    /// The source address.
    pub source: HdlcAddress,
    /// The control field.
    pub control: u8,
    /// The information field (LLC header included), empty for frames without one.
    pub information: &'a [u8],
}

impl<'a> HdlcFrame<'a> {
    /// The control field's kind (None only for a frame built by hand with an unknown byte).
    pub fn kind(&self) -> Option<HdlcControl> {
        HdlcControl::from_byte(self.control)
    }

    /// The LLC header the information field starts with, if any.
    pub fn llc(&self) -> Option<[u8; 3]> {
        llc_of(self.information)
    }

    /// The APDU: the information field without its LLC header (IEC 62056-46 8.1). Only the
    /// first frame of a segmented message carries the LLC header: join segments with
    /// [`HdlcReassembler`] first.
    pub fn apdu(&self) -> Result<&'a [u8], HdlcError> {
        strip_llc(self.information).ok_or(HdlcError::Llc { offset: self.header_len() })
    }

    /// Bytes from the opening flag to the end of the HCS (or FCS without information).
    fn header_len(&self) -> usize {
        1 + 2 + usize::from(self.destination.length) + usize::from(self.source.length) + 1 + 2
    }
}

/// The LLC header at the start of an information field (E6 E6 00 or E6 E7 00), if any.
pub fn llc_of(information: &[u8]) -> Option<[u8; 3]> {
    let h: [u8; 3] = information.get(..3)?.try_into().ok()?;
    (h == LLC_COMMAND || h == LLC_RESPONSE).then_some(h)
}

/// The information field without its LLC header, or None if it has none.
pub fn strip_llc(information: &[u8]) -> Option<&[u8]> {
    llc_of(information).map(|_| &information[3..])
}

/// The frame length announced by a format field (`b0 b1`), if its type is 3.
pub fn format_length(b0: u8, b1: u8) -> Option<usize> {
    (b0 >> 4 == FORMAT_TYPE_3).then_some((usize::from(b0 & 0x07) << 8) | usize::from(b1))
}

/// Read the addresses and control field after the format field; returns them with the offset
/// of the byte after the control field (offsets in the whole frame, opening flag at 0).
fn parse_header(buf: &[u8], end: usize) -> Result<(HdlcAddress, HdlcAddress, u8, usize), HdlcError> {
    let (destination, dn) = HdlcAddress::parse(&buf[3..end]).ok_or(HdlcError::Address { offset: 3 })?;
    let s_at = 3 + dn;
    let (source, sn) = HdlcAddress::parse(&buf[s_at..end]).ok_or(HdlcError::Address { offset: s_at })?;
    let c_at = s_at + sn;
    if c_at >= end {
        return Err(HdlcError::Length { offset: 1 });
    }
    let control = buf[c_at];
    if HdlcControl::from_byte(control).is_none() {
        return Err(HdlcError::Control { offset: c_at, control });
    }
    Ok((destination, source, control, c_at + 1))
}

/// Check the 2-byte check sequence at `at` against the CRC of `buf[1..at]`.
fn check_crc(buf: &[u8], at: usize) -> bool {
    crc16_x25(&buf[1..at]).to_le_bytes() == [buf[at], buf[at + 1]]
}

/// Parse one flagged frame (`7E … 7E`), checking the format, length, HCS and FCS.
///
/// IEC 62056-46 6.4: the frame length counts the bytes between the flags; the HCS covers
/// format to control, the FCS format to the end of the information field. A frame without
/// information field has one check sequence (the FCS). Nothing may follow the closing flag.
pub fn parse_frame(buf: &[u8]) -> Result<HdlcFrame<'_>, HdlcError> {
    if buf.first() != Some(&FLAG) {
        return Err(if buf.is_empty() { HdlcError::Truncated { offset: 0 } } else { HdlcError::Flag { offset: 0 } });
    }
    if buf.len() < 3 {
        return Err(HdlcError::Truncated { offset: buf.len() });
    }
    let len = format_length(buf[1], buf[2]).ok_or(HdlcError::Format { offset: 1 })?;
    let segmented = buf[1] & 0x08 != 0;
    // Shortest frame: format(2) + two 1-byte addresses + control + FCS(2).
    if len < 7 {
        return Err(HdlcError::Length { offset: 1 });
    }
    let close = len + 1;
    if buf.len() <= close {
        return Err(HdlcError::Truncated { offset: buf.len() });
    }
    if buf[close] != FLAG {
        return Err(HdlcError::Flag { offset: close });
    }
    if buf.len() > close + 1 {
        return Err(HdlcError::Trailing { offset: close + 1 });
    }
    let fcs_at = close - 2;
    let (destination, source, control, hcs_at) = parse_header(buf, fcs_at)?;
    let information = if hcs_at == fcs_at {
        &buf[hcs_at..hcs_at]
    } else if hcs_at + 2 < fcs_at {
        if !check_crc(buf, hcs_at) {
            return Err(HdlcError::Hcs { offset: hcs_at });
        }
        &buf[hcs_at + 2..fcs_at]
    } else {
        // One byte after the control field, or an HCS followed by an empty information field.
        return Err(HdlcError::Length { offset: 1 });
    };
    if !check_crc(buf, fcs_at) {
        return Err(HdlcError::Fcs { offset: fcs_at });
    }
    Ok(HdlcFrame { segmented, destination, source, control, information })
}

/// Build a frame (flags, format, addresses, control, HCS, information, FCS): the inverse of
/// [`parse_frame`]. A frame with an empty information field gets the FCS only.
pub fn encode_frame(frame: &HdlcFrame<'_>) -> Result<Vec<u8>, HdlcError> {
    if HdlcControl::from_byte(frame.control).is_none() {
        return Err(HdlcError::Encode { what: "unknown control field" });
    }
    let mut out = Vec::with_capacity(frame.information.len() + 16);
    out.extend_from_slice(&[FLAG, 0, 0]);
    frame.destination.write(&mut out).ok_or(HdlcError::Encode { what: "destination address out of range" })?;
    frame.source.write(&mut out).ok_or(HdlcError::Encode { what: "source address out of range" })?;
    out.push(frame.control);
    let info = frame.information;
    let len = out.len() - 1 + 2 + if info.is_empty() { 0 } else { info.len() + 2 };
    if len > MAX_FRAME_LENGTH {
        return Err(HdlcError::Encode { what: "information field too long for the 11-bit frame length" });
    }
    out[1] = (FORMAT_TYPE_3 << 4) | (u8::from(frame.segmented) << 3) | (len >> 8) as u8;
    out[2] = len as u8;
    if !info.is_empty() {
        let hcs = crc16_x25(&out[1..]);
        out.extend_from_slice(&hcs.to_le_bytes());
        out.extend_from_slice(info);
    }
    let fcs = crc16_x25(&out[1..]);
    out.extend_from_slice(&fcs.to_le_bytes());
    out.push(FLAG);
    Ok(out)
}

#[cfg(test)]
mod tests;
