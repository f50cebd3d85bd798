//! The control layer (DSMR P2 §4): which C/CI combinations may be exchanged (Tables 5 and 6),
//! which data header each CI carries (§4.2.1) and the configuration-word rules (§4.2.6, §5.1).
//! Everything here is a table lookup; [`classify`] runs before any other processing of a
//! received frame, so a combination not in the tables is rejected untouched (§4.1).

use super::error::{Direction, DsmrError};

/// The medium of a P2 port (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Medium {
    /// Wired M-Bus (EN 13757-2, FT1.2 frames, E-meter is the master).
    Wired,
    /// Wireless M-Bus T2 (EN 13757-4, frame format A).
    Wireless,
}

/// The messages of §4.3 (wired) and §4.4 (wireless) and their responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// SND_NKE: reset link (wired: short frame; wireless: CI 80h, also ends the FAC).
    Normalisation,
    /// REQ_UD2: meter data request (wired: short frame; wireless: on-demand, CI 80h).
    DataRequest,
    /// RSP_UD: meter data (wired CI 72h long header; wireless CI 7Ah short header).
    MeterData,
    /// SND_NR (wireless, CI 7Ah): periodic meter data.
    PeriodicData,
    /// SND_UD with application data: wired CI 5Ah (short header), wireless CI 5Bh (long header);
    /// readout list, status clearing, and (wireless, CW 0) set key.
    Control,
    /// SND_UD CI 6Ch: clock synchronisation (long header).
    ClockSync,
    /// SND_UD CI 51h (wired only, no header): set address, set key.
    Unencrypted,
    /// The acknowledgement: wired single character E5h; wireless ACK (C 00h, CI 8Ah).
    Ack,
    /// SND_IR (wireless, CI 7Ah): installation request.
    Installation,
    /// CNF_IR (wireless, CI 80h): installation confirmation.
    InstallConfirm,
    /// REQ_UD1 (wired): allowed by Table 5, not used by DSMR.
    ClassOneRequest,
    /// REQ_SKE (wired): allowed by Table 5, not used by DSMR.
    StatusRequest,
    /// RSP_SKE (wired): allowed by Table 5, not used by DSMR.
    StatusResponse,
}

/// The data header a CI carries (§4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    /// No CI / no header (short frames, E5h, CI 51h).
    None,
    /// `ACC ST CW(2)` (CI 5Ah, 7Ah, 8Ah).
    Short,
    /// `Short ID(8) ACC ST CW(2)` (CI 5Bh, 72h, 80h, 6Ch).
    Long,
}

/// Header kind of a CI (§4.2.1; 6Ch per §4.3.4/§4.4.4).
pub fn header_kind(ci: u8) -> HeaderKind {
    match ci {
        0x5A | 0x7A | 0x8A => HeaderKind::Short,
        0x5B | 0x72 | 0x80 | 0x6C => HeaderKind::Long,
        _ => HeaderKind::None,
    }
}

/// Link-layer function codes (EN 13757-2 / -4, the C field with FCB/FCV and ACD/DFC masked).
pub mod c {
    /// SND_NKE.
    pub const SND_NKE: u8 = 0x40;
    /// SND_UD (FCB = 0; 73h with FCB = 1).
    pub const SND_UD: u8 = 0x53;
    /// REQ_UD2 (FCB = 0; 7Bh with FCB = 1).
    pub const REQ_UD2: u8 = 0x5B;
    /// REQ_UD1.
    pub const REQ_UD1: u8 = 0x5A;
    /// REQ_SKE.
    pub const REQ_SKE: u8 = 0x49;
    /// RSP_UD.
    pub const RSP_UD: u8 = 0x08;
    /// RSP_SKE.
    pub const RSP_SKE: u8 = 0x0B;
    /// SND_NR.
    pub const SND_NR: u8 = 0x44;
    /// SND_IR.
    pub const SND_IR: u8 = 0x46;
    /// CNF_IR.
    pub const CNF_IR: u8 = 0x06;
    /// ACK.
    pub const ACK: u8 = 0x00;
}

/// One allowed row: medium, direction, C function, CI (None = no CI), the message.
type Row = (Medium, Direction, u8, Option<u8>, MessageKind);

use Direction::{FromDevice as Up, ToDevice as Down};
use Medium::{Wired, Wireless};
use MessageKind as K;

/// Tables 5 and 6, as data. Responses are listed in the direction they travel.
/// Table 5 prints REQ_SKE as "C=59h" (FCV set); EN 60870-5-2 sends function 9 with FCV = 0,
/// 49h. Both are accepted (docs/decisions.md); 49h is what the engines send.
pub const ALLOWED: &[Row] = &[
    (Wired, Down, c::SND_NKE, None, K::Normalisation),
    (Wired, Down, c::REQ_UD2, None, K::DataRequest),
    (Wired, Down, c::SND_UD, Some(0x5A), K::Control),
    (Wired, Down, c::SND_UD, Some(0x6C), K::ClockSync),
    (Wired, Down, c::SND_UD, Some(0x51), K::Unencrypted),
    (Wired, Down, c::REQ_UD1, None, K::ClassOneRequest),
    (Wired, Down, c::REQ_SKE, None, K::StatusRequest),
    (Wired, Down, 0x59, None, K::StatusRequest),
    (Wired, Up, c::RSP_UD, Some(0x72), K::MeterData),
    (Wired, Up, c::RSP_SKE, None, K::StatusResponse),
    (Wireless, Down, c::SND_NKE, Some(0x80), K::Normalisation),
    (Wireless, Down, c::REQ_UD2, Some(0x80), K::DataRequest),
    (Wireless, Down, c::SND_UD, Some(0x5B), K::Control),
    (Wireless, Down, c::SND_UD, Some(0x6C), K::ClockSync),
    (Wireless, Down, c::CNF_IR, Some(0x80), K::InstallConfirm),
    (Wireless, Up, c::SND_NR, Some(0x7A), K::PeriodicData),
    (Wireless, Up, c::RSP_UD, Some(0x7A), K::MeterData),
    (Wireless, Up, c::ACK, Some(0x8A), K::Ack),
    (Wireless, Up, c::SND_IR, Some(0x7A), K::Installation),
];

/// The C field's function with the frame-count bits masked: FCB (bit 5) of primary frames and
/// ACD/DFC (bits 5, 4) of secondary frames are ignored (§3.1.2, §3.2.2).
pub fn c_function(c: u8) -> u8 {
    if c & 0x40 != 0 {
        c & !0x20
    } else {
        c & !0x30
    }
}

/// §4.1: the message a C/CI pair is, for this medium and direction; every other combination is
/// an error (`dsmr_control`). `offset` = where the C field sits (for the error).
pub fn classify(medium: Medium, dir: Direction, c: u8, ci: Option<u8>, offset: usize) -> Result<MessageKind, DsmrError> {
    let f = c_function(c);
    ALLOWED
        .iter()
        .find(|r| r.0 == medium && r.1 == dir && r.2 == f && r.3 == ci)
        .map(|r| r.4)
        .ok_or(DsmrError::Control { direction: dir, c, ci, offset })
}

/// The C field and CI of a message (the first allowed row), for building it.
pub fn c_ci(medium: Medium, kind: MessageKind) -> Option<(u8, Option<u8>)> {
    ALLOWED.iter().find(|r| r.0 == medium && r.4 == kind).map(|r| (r.2, r.3))
}

/// Configuration word (§4.2.6, §5.1): `B A S 0 MMMM NNNN CC HH`, sent LE (CW-0 = low byte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConfigWord(pub u16);

impl ConfigWord {
    /// Bit 15: bidirectional communication.
    pub const B: u16 = 0x8000;
    /// Bit 14: accessibility.
    pub const A: u16 = 0x4000;
    /// Bit 13: synchronised.
    pub const S: u16 = 0x2000;

    /// Encryption method code (bits 11..8): 0 or 15 (§5.1).
    pub fn mode(self) -> u8 {
        ((self.0 >> 8) & 0x0F) as u8
    }

    /// Number of encrypted 16-byte blocks (bits 7..4).
    pub fn blocks(self) -> u8 {
        ((self.0 >> 4) & 0x0F) as u8
    }

    /// A word with method 15 and `blocks` (0 for method 0) plus the `flags` (B/A/S).
    pub fn new(flags: u16, encrypted_blocks: Option<u8>) -> Self {
        match encrypted_blocks {
            Some(n) => ConfigWord(flags | 0x0F00 | (u16::from(n & 0x0F) << 4)),
            None => ConfigWord(flags),
        }
    }

    /// The B/A/S flags a sender sets (§4.2.6, §3.2.5): wired and E-meter messages none; a
    /// wireless M-Bus device B (limited access: B = 1, A = 0), plus S on SND_NR only.
    pub fn flags_for(medium: Medium, dir: Direction, kind: MessageKind) -> u16 {
        match (medium, dir) {
            (Medium::Wireless, Direction::FromDevice) if kind == MessageKind::PeriodicData => Self::B | Self::S,
            (Medium::Wireless, Direction::FromDevice) => Self::B,
            _ => 0,
        }
    }

    /// Check the received word against §4.2.6/§5.1. The S bit of a wireless device's
    /// asynchronous messages is not checked: §4.2.6 says 0, but the §4.4.3 ACK and §4.4.7
    /// SND_IR tables print A0h (B and S) — docs/decisions.md.
    pub fn check(self, medium: Medium, dir: Direction, offset: usize) -> Result<(), DsmrError> {
        let err = |rule| Err(DsmrError::ConfigWord { cw: self.0, rule, offset });
        let fixed = self.0 & !0x0FF0; // everything but MMMM and NNNN
        match (medium, dir) {
            (Medium::Wireless, Direction::FromDevice) => {
                if fixed & Self::B == 0 || fixed & Self::A != 0 {
                    return err("a wireless M-Bus device sets B = 1, A = 0 (limited access, §3.2.5)");
                }
                if fixed & !(Self::B | Self::S) != 0 {
                    return err("bits other than B, S, MMMM, NNNN must be 0 (§4.2.6)");
                }
            }
            _ if fixed != 0 => return err("bits other than MMMM and NNNN must be 0 (§4.2.6)"),
            _ => {}
        }
        match (self.mode(), self.blocks()) {
            (0, 0) | (15, 1..) => Ok(()),
            (0, _) => err("encrypted blocks announced with encryption method 0"),
            (15, 0) => err("encryption method 15 with no encrypted block"),
            _ => err("encryption method other than 0 or 15 (§5.1)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_5_and_6() {
        // Table 5: SND_UD CI 5Ah down is a control message; FCB set (73h) is the same.
        assert_eq!(classify(Wired, Down, 0x53, Some(0x5A), 0), Ok(K::Control));
        assert_eq!(classify(Wired, Down, 0x73, Some(0x5A), 0), Ok(K::Control));
        assert_eq!(classify(Wired, Up, 0x08, Some(0x72), 0), Ok(K::MeterData));
        // CI 72h down, CI 5Bh wired, RSP_UD with CI 7Ah wired: not in Table 5.
        assert!(classify(Wired, Down, 0x53, Some(0x72), 0).is_err());
        assert!(classify(Wired, Down, 0x53, Some(0x5B), 0).is_err());
        assert!(classify(Wired, Up, 0x08, Some(0x7A), 0).is_err());
        // Table 6.
        assert_eq!(classify(Wireless, Up, 0x44, Some(0x7A), 0), Ok(K::PeriodicData));
        assert_eq!(classify(Wireless, Up, 0x46, Some(0x7A), 0), Ok(K::Installation));
        assert_eq!(classify(Wireless, Down, 0x06, Some(0x80), 0), Ok(K::InstallConfirm));
        assert_eq!(classify(Wireless, Down, 0x53, Some(0x5B), 0), Ok(K::Control));
        assert!(classify(Wireless, Down, 0x53, Some(0x5A), 0).is_err());
        assert!(classify(Wireless, Down, 0x53, Some(0x51), 0).is_err());
        // §3.2.2: REQ_UD1, ACC_NR (47h), ACC_DMD (48h) are not allowed wirelessly.
        for c in [0x5A, 0x47, 0x48] {
            assert!(classify(Wireless, Up, c, Some(0x7A), 0).is_err());
            assert!(classify(Wireless, Down, c, Some(0x80), 0).is_err());
        }
        // A device cannot send what the E-meter sends, nor the reverse.
        assert!(classify(Wireless, Up, 0x53, Some(0x5B), 0).is_err());
        assert!(classify(Wireless, Down, 0x44, Some(0x7A), 0).is_err());
        let e = classify(Wired, Up, 0x53, Some(0x5A), 7).unwrap_err();
        assert_eq!((e.code(), e.offset()), ("dsmr_control", Some(7)));
    }

    #[test]
    fn config_word_rules() {
        // B1.3: 30 0F on air = 0F30h: 3 blocks, method 15, wired.
        let cw = ConfigWord(0x0F30);
        assert_eq!((cw.mode(), cw.blocks()), (15, 3));
        assert!(cw.check(Wired, Up, 0).is_ok());
        assert!(ConfigWord(0).check(Wired, Down, 0).is_ok());
        assert!(ConfigWord(0x8F30).check(Wired, Up, 0).is_err()); // B on wired
        assert!(ConfigWord(0x0530).check(Wired, Up, 0).is_err()); // mode 5
        assert!(ConfigWord(0x0F00).check(Wired, Up, 0).is_err()); // no blocks
        assert!(ConfigWord(0x0030).check(Wired, Up, 0).is_err()); // blocks, no method
        // §4.4.2: unencrypted SND_NR with CW A0 00h... (B and S), encrypted with B S + 15.
        assert!(ConfigWord(0xA000).check(Wireless, Up, 0).is_ok());
        assert!(ConfigWord(0xAF20).check(Wireless, Up, 0).is_ok());
        assert!(ConfigWord(0x2F20).check(Wireless, Up, 0).is_err()); // no B
        assert!(ConfigWord(0xEF20).check(Wireless, Up, 0).is_err()); // A set
        assert!(ConfigWord(0x8000).check(Wireless, Down, 0).is_err()); // E-meter sets no flag
        assert_eq!(ConfigWord::new(ConfigWord::flags_for(Wireless, Up, K::PeriodicData), Some(3)).0, 0xAF30);
        assert_eq!(ConfigWord::new(ConfigWord::flags_for(Wireless, Up, K::Ack), None).0, 0x8000);
    }
}
