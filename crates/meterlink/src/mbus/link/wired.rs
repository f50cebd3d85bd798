//! EN 13757-2 wired M-Bus link layer: IEC 60870-5-2 FT1.2 frames.
//!
//! ```text
//! single character  E5
//! short frame       10 C A CS 16                 CS = C + A (mod 256)
//! control frame     68 03 03 68 C A CI CS 16
//! long frame        68 L L 68 C A CI data… CS 16 L = bytes from C to the last data byte
//! ```

use super::{FrameError, FrameErrorReason};

/// Start character of a long or control frame (sent twice, around the two L bytes).
pub const START_LONG: u8 = 0x68;
/// Start character of a short frame.
pub const START_SHORT: u8 = 0x10;
/// The single-character frame: an acknowledgement.
pub const SINGLE_ACK: u8 = 0xE5;
/// Stop character that ends short, control and long frames.
pub const STOP: u8 = 0x16;

/// A checked FT1.2 frame, borrowing from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WiredFrame<'a> {
    /// Single character 0xE5 (acknowledgement).
    Ack,
    /// Short frame `10 C A CS 16`.
    Short {
        /// Control field.
        c: CField,
        /// Primary address (see [`AddressKind`]).
        a: u8,
    },
    /// Long frame (a control frame is a long frame with L = 3 and no data).
    Long {
        /// Control field.
        c: CField,
        /// Primary address (see [`AddressKind`]).
        a: u8,
        /// Control information field (EN 13757-7 clause 5.2).
        ci: u8,
        /// The bytes after CI up to the checksum (empty for a control frame).
        data: &'a [u8],
    },
}

impl WiredFrame<'_> {
    /// "single character", "short frame", "control frame" or "long frame".
    pub fn kind_name(&self) -> &'static str {
        match self {
            WiredFrame::Ack => "single character",
            WiredFrame::Short { .. } => "short frame",
            WiredFrame::Long { data: [], .. } => "control frame",
            WiredFrame::Long { .. } => "long frame",
        }
    }
}

/// Offset of the CI field in a long frame; the data after CI start one byte later.
pub const LONG_CI_OFFSET: usize = 6;

/// The control field (EN 13757-2 5.4, IEC 60870-5-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CField(pub u8);

impl CField {
    /// PRM bit (0x40): 1 in frames from the primary station (master), 0 in responses.
    pub const fn from_master(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Function code, bits 3..0.
    pub const fn function(self) -> u8 {
        self.0 & 0x0F
    }
    /// FCB (frame count bit), master frames only.
    pub const fn fcb(self) -> Option<bool> {
        if self.from_master() { Some(self.0 & 0x20 != 0) } else { None }
    }
    /// FCV (frame count bit valid), master frames only.
    pub const fn fcv(self) -> Option<bool> {
        if self.from_master() { Some(self.0 & 0x10 != 0) } else { None }
    }
    /// ACD (access demand), slave frames only.
    pub const fn acd(self) -> Option<bool> {
        if self.from_master() { None } else { Some(self.0 & 0x20 != 0) }
    }
    /// DFC (data flow control), slave frames only.
    pub const fn dfc(self) -> Option<bool> {
        if self.from_master() { None } else { Some(self.0 & 0x10 != 0) }
    }

    /// Name of the service (EN 13757-2 Table 4), or "unknown".
    pub const fn name(self) -> &'static str {
        match (self.from_master(), self.function()) {
            (true, 0x0) => "SND_NKE",
            (true, 0x3) => "SND_UD",
            (true, 0x4) => "SND_UD2",
            (true, 0x9) => "REQ_SKE",
            (true, 0xA) => "REQ_UD1",
            (true, 0xB) => "REQ_UD2",
            (false, 0x0) => "ACK",
            (false, 0x8) => "RSP_UD",
            (false, 0xB) => "RSP_SKE",
            _ => "unknown",
        }
    }
}

/// Meaning of a primary address (EN 13757-2 5.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressKind {
    /// 0: factory default, not yet configured.
    Unconfigured,
    /// 1..=250.
    Primary,
    /// 251, 252: reserved.
    Reserved,
    /// 253: the device is addressed through the network layer (secondary addressing).
    SecondaryAddressing,
    /// 254: broadcast, all slaves reply (test and point-to-point use).
    BroadcastWithReply,
    /// 255: broadcast, no slave replies.
    BroadcastNoReply,
}

impl AddressKind {
    /// Classify primary address `a`.
    pub const fn of(a: u8) -> Self {
        match a {
            0 => AddressKind::Unconfigured,
            1..=250 => AddressKind::Primary,
            251 | 252 => AddressKind::Reserved,
            253 => AddressKind::SecondaryAddressing,
            254 => AddressKind::BroadcastWithReply,
            255 => AddressKind::BroadcastNoReply,
        }
    }
    /// Lower-case name, e.g. "primary", "broadcast with reply".
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Unconfigured => "unconfigured",
            AddressKind::Primary => "primary",
            AddressKind::Reserved => "reserved",
            AddressKind::SecondaryAddressing => "secondary addressing",
            AddressKind::BroadcastWithReply => "broadcast with reply",
            AddressKind::BroadcastNoReply => "broadcast without reply",
        }
    }
}

/// Arithmetic sum modulo 256 (the FT1.2 checksum).
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |acc, &b| acc.wrapping_add(b))
}

fn err(offset: usize, reason: FrameErrorReason) -> FrameError {
    FrameError { offset, reason }
}

/// How many bytes the FT1.2 frame at the start of `buf` occupies, judged from its start and
/// length bytes only (`None` if the header itself is not complete or not FT1.2).
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    match *buf.first()? {
        SINGLE_ACK => Some(1),
        START_SHORT => Some(5),
        START_LONG => Some(*buf.get(1)? as usize + 6),
        _ => None,
    }
}

/// Check one whole FT1.2 frame (nothing before or after it) and split it into its fields.
pub fn parse(frame: &[u8]) -> Result<WiredFrame<'_>, FrameError> {
    let Some(&start) = frame.first() else {
        return Err(err(0, FrameErrorReason::Empty));
    };
    let (frame_len, body) = match start {
        SINGLE_ACK => {
            if frame.len() > 1 {
                return Err(err(1, FrameErrorReason::TrailingBytes { expected: 1, got: frame.len() }));
            }
            return Ok(WiredFrame::Ack);
        }
        START_SHORT => (5, 1..3),
        START_LONG => {
            if frame.len() < 4 {
                return Err(err(frame.len(), FrameErrorReason::Truncated { expected: 4, got: frame.len() }));
            }
            let (l1, l2) = (frame[1], frame[2]);
            if l1 != l2 {
                return Err(err(2, FrameErrorReason::LengthMismatch { l1, l2 }));
            }
            if frame[3] != START_LONG {
                return Err(err(3, FrameErrorReason::BadSecondStart(frame[3])));
            }
            if l1 < 3 {
                return Err(err(1, FrameErrorReason::LengthTooSmall(l1)));
            }
            (l1 as usize + 6, 4..4 + l1 as usize)
        }
        other => return Err(err(0, FrameErrorReason::BadStart(other))),
    };
    if frame.len() < frame_len {
        return Err(err(frame.len(), FrameErrorReason::Truncated { expected: frame_len, got: frame.len() }));
    }
    let cs_at = frame_len - 2;
    let computed = checksum(&frame[body.clone()]);
    if frame[cs_at] != computed {
        return Err(err(cs_at, FrameErrorReason::BadChecksum { expected: frame[cs_at], computed }));
    }
    if frame[frame_len - 1] != STOP {
        return Err(err(frame_len - 1, FrameErrorReason::BadStop(frame[frame_len - 1])));
    }
    if frame.len() > frame_len {
        return Err(err(frame_len, FrameErrorReason::TrailingBytes { expected: frame_len, got: frame.len() }));
    }
    let c = CField(frame[body.start]);
    let a = frame[body.start + 1];
    if start == START_SHORT {
        return Ok(WiredFrame::Short { c, a });
    }
    Ok(WiredFrame::Long { c, a, ci: frame[LONG_CI_OFFSET], data: &frame[LONG_CI_OFFSET + 1..cs_at] })
}

/// Build an FT1.2 long frame around `C A CI data`.
pub fn build_long(c: u8, a: u8, ci: u8, data: &[u8]) -> Option<Vec<u8>> {
    let l = u8::try_from(data.len() + 3).ok()?;
    let mut out = Vec::with_capacity(data.len() + 9);
    out.extend_from_slice(&[START_LONG, l, l, START_LONG, c, a, ci]);
    out.extend_from_slice(data);
    out.push(checksum(&out[4..]));
    out.push(STOP);
    Some(out)
}

/// Build an FT1.2 short frame `10 C A CS 16`.
pub fn build_short(c: u8, a: u8) -> [u8; 5] {
    [START_SHORT, c, a, c.wrapping_add(a), STOP]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    // OMS Vol.2 Annex N, N.2.2 (wired, unencrypted), checksum 0x89 (security-notes.md a.4).
    const OMS_N22: &str = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916";

    #[test]
    fn oms_n22_long_frame() {
        let f = hex(OMS_N22);
        match parse(&f).unwrap() {
            WiredFrame::Long { c, a, ci, data } => {
                assert_eq!(c.name(), "RSP_UD");
                assert_eq!(a, 0xFD);
                assert_eq!(AddressKind::of(a), AddressKind::SecondaryAddressing);
                assert_eq!(ci, 0x72);
                assert_eq!(data.len(), 0x20 - 3);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_and_ack_and_control() {
        assert_eq!(parse(&[0xE5]).unwrap(), WiredFrame::Ack);
        let f = build_short(0x5B, 0xFE);
        assert_eq!(f, [0x10, 0x5B, 0xFE, 0x59, 0x16]);
        match parse(&f).unwrap() {
            WiredFrame::Short { c, a } => {
                assert_eq!(c.name(), "REQ_UD2");
                assert_eq!(c.fcb(), Some(false));
                assert_eq!(c.fcv(), Some(true));
                assert_eq!(AddressKind::of(a), AddressKind::BroadcastWithReply);
            }
            other => panic!("{other:?}"),
        }
        // SND_NKE to primary address 1: 10 40 01 41 16
        assert!(matches!(parse(&hex("1040014116")).unwrap(), WiredFrame::Short { c: CField(0x40), a: 1 }));
        // control frame: application reset (CI 0x50) 68 03 03 68 53 01 50 A4 16
        let ctl = hex("680303685301 50 A4 16");
        assert_eq!(parse(&ctl).unwrap().kind_name(), "control frame");
    }

    #[test]
    fn every_check_fails_with_its_offset() {
        let good = hex(OMS_N22);
        let mut bad = good.clone();
        bad[1] = 0x21;
        assert_eq!(parse(&bad).unwrap_err().reason, FrameErrorReason::LengthMismatch { l1: 0x21, l2: 0x20 });
        let mut bad = good.clone();
        bad[3] = 0x69;
        assert_eq!(parse(&bad).unwrap_err().offset, 3);
        let mut bad = good.clone();
        bad[10] ^= 1;
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.offset, good.len() - 2);
        assert!(matches!(e.reason, FrameErrorReason::BadChecksum { expected: 0x89, .. }));
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 0x17;
        assert_eq!(parse(&bad).unwrap_err().reason, FrameErrorReason::BadStop(0x17));
        for cut in 1..good.len() {
            let e = parse(&good[..cut]).unwrap_err();
            assert!(matches!(e.reason, FrameErrorReason::Truncated { .. }), "cut {cut}: {e}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(parse(&long).unwrap_err().reason, FrameErrorReason::TrailingBytes { .. }));
        assert!(matches!(parse(&[0x11]).unwrap_err().reason, FrameErrorReason::BadStart(0x11)));
        assert!(matches!(parse(&[]).unwrap_err().reason, FrameErrorReason::Empty));
        assert!(matches!(parse(&hex("6802026808011616")).unwrap_err().reason, FrameErrorReason::LengthTooSmall(2)));
        let mut short = build_short(0x5B, 1).to_vec();
        short[3] ^= 0xFF;
        assert_eq!(parse(&short).unwrap_err().offset, 3);
    }

    #[test]
    fn build_long_round_trip() {
        let f = build_long(0x08, 0x01, 0x72, &[1, 2, 3]).unwrap();
        assert!(matches!(parse(&f).unwrap(), WiredFrame::Long { ci: 0x72, data: [1, 2, 3], .. }));
        assert!(build_long(0, 0, 0, &[0; 253]).is_none());
    }

    #[test]
    fn c_field_names() {
        assert_eq!(CField(0x08).name(), "RSP_UD");
        assert_eq!(CField(0x18).dfc(), Some(true));
        assert_eq!(CField(0x28).acd(), Some(true));
        assert_eq!(CField(0x73).name(), "SND_UD");
        assert_eq!(CField(0x7B).fcb(), Some(true));
        assert_eq!(CField(0x49).name(), "REQ_SKE");
        assert_eq!(CField(0x0B).name(), "RSP_SKE");
        assert_eq!(CField(0x5A).name(), "REQ_UD1");
    }
}
