//! What decoding produces: the [`Telegram`], its link, its [`Protection`], and the names every
//! output (the Python API, the Arrow columns) renders them with, defined once here.

use crate::mbus::afl::Afl;
use crate::mbus::ell::Ell;
use crate::mbus::link::wmbus::FrameFormat;
use crate::mbus::records::{Record, RecordKind};
use crate::mbus::security::{EncryptedLength, SecurityConfig};
use crate::mbus::tpl::{self, Address, CiInfo, HeaderKind, TplHeader};

/// The kind of a wired FT1.2 frame (EN 13757-2 5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// The single character E5h (acknowledgement).
    SingleCharacter,
    /// A short frame `10 C A CS 16`.
    Short,
    /// A long frame without application data (`68 03 03 68 C A CI CS 16`).
    Control,
    /// A long frame with application data.
    Long,
}

impl FrameKind {
    /// The name every output uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            FrameKind::SingleCharacter => "single character",
            FrameKind::Short => "short frame",
            FrameKind::Control => "control frame",
            FrameKind::Long => "long frame",
        }
    }
}

/// The name every output uses for a wireless frame format.
pub const fn frame_format_name(f: FrameFormat) -> &'static str {
    match f {
        FrameFormat::A => "format A",
        FrameFormat::B => "format B",
        FrameFormat::NoCrc => "no CRC",
    }
}

/// The link layer a telegram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkInfo {
    /// Wired FT1.2: C and A fields and the frame kind.
    Wired {
        /// C field (0 for the single character).
        c: u8,
        /// A field, the primary address (0 for the single character).
        a: u8,
        /// Which FT1.2 frame it was.
        kind: FrameKind,
    },
    /// Wireless M-Bus: C field, frame format, the link (transmitter) address, bytes after the
    /// L-delimited frame that were ignored (RSSI etc.).
    Wireless {
        /// C field.
        c: u8,
        /// Frame format A, B, or DLL CRCs already removed.
        format: FrameFormat,
        /// The transmitter's address (M, A fields).
        address: Address,
        /// Bytes after the frame that were ignored.
        trailing: usize,
    },
}

impl LinkInfo {
    /// The frame kind's or frame format's name.
    pub const fn frame_type(&self) -> &'static str {
        match *self {
            LinkInfo::Wired { kind, .. } => kind.as_str(),
            LinkInfo::Wireless { format, .. } => frame_format_name(format),
        }
    }
}

/// Who decrypted the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecryptedBy {
    /// meterlink decrypted and verified it with the configured key.
    Meterlink,
    /// The receiver forwarded it already decrypted (header says encrypted, payload starts 2F2F,
    /// or the ELL payload CRC checks on the bytes as received).
    Receiver,
    /// meterlink decrypted and verified it with a public default key ([`crate::keys::default_keys`]).
    DefaultKey,
}

impl DecryptedBy {
    /// Every value, in the order of [`DecryptedBy::index`].
    pub const ALL: [DecryptedBy; 3] = [DecryptedBy::Meterlink, DecryptedBy::Receiver, DecryptedBy::DefaultKey];

    /// The name every output uses (`decrypted_by`).
    pub const fn as_str(self) -> &'static str {
        match self {
            DecryptedBy::Meterlink => "meterlink",
            DecryptedBy::Receiver => "receiver",
            DecryptedBy::DefaultKey => "default key",
        }
    }

    /// A small dense index (dictionary slot of the Arrow column).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Whether the payload was encrypted (by the ELL or the TPL) and what became of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProtectionState {
    /// Not encrypted.
    #[default]
    Clear,
    /// Encrypted and not decrypted (no key): the payload stays opaque.
    Encrypted,
    /// Encrypted and decrypted.
    Decrypted(DecryptedBy),
}

/// The protection stage's result: the TPL security mode and configuration field, and whether
/// and by whom the payload was decrypted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protection {
    /// The TPL security mode (EN 13757-7 Table 18), where the TPL has a header.
    pub mode: Option<u8>,
    /// The configuration field and its extension split into their bits, where parsed.
    pub config: Option<SecurityConfig>,
    /// Encrypted at all, and who decrypted it.
    pub state: ProtectionState,
}

impl Protection {
    /// True when the ELL or the TPL encrypted the payload (decrypted or not).
    pub const fn encrypted(&self) -> bool {
        !matches!(self.state, ProtectionState::Clear)
    }

    /// True when the encrypted payload was decrypted.
    pub const fn decrypted(&self) -> bool {
        matches!(self.state, ProtectionState::Decrypted(_))
    }

    /// True for an encrypted payload nobody could decrypt (the `no_key` status).
    pub const fn opaque(&self) -> bool {
        matches!(self.state, ProtectionState::Encrypted)
    }

    /// Who decrypted it, where it was decrypted.
    pub const fn decrypted_by(&self) -> Option<DecryptedBy> {
        match self.state {
            ProtectionState::Decrypted(by) => Some(by),
            _ => None,
        }
    }
}

/// Whether the link layer's integrity check was verified: the FT1.2 checksum or the format A/B
/// CRCs (`Verified`), or the frame came without them ("CRCs removed" by a receiver, `Absent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkCrc {
    /// Checksum or CRCs checked.
    Verified,
    /// Nothing checked at the link layer.
    Absent,
}

impl LinkCrc {
    /// The name every output uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            LinkCrc::Verified => "verified",
            LinkCrc::Absent => "absent",
        }
    }
}

/// The check that protected the values against forgery or a wrong key (see the README,
/// "What the checks guarantee"): the strongest one that applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// An AFL MAC (AES-CMAC/GMAC) over the message (modes 7, 8).
    Mac,
    /// An AEAD tag (AES-GCM mode 9, AES-CCM mode 10).
    Aead,
    /// The ELL payload CRC over the decrypted payload (AES-CTR).
    Crc,
    /// The 2F 2F verification bytes (and DSMR's 2F fillers) after AES/DES-CBC (modes 2, 3, 5, 15):
    /// a wrong key fails, but bytes after the first block and header fields outside the IV
    /// are not covered.
    Filler2f2f,
    /// Nothing checked the values (clear data, or data decrypted by the receiver).
    None,
}

impl Integrity {
    /// Every value, in the order of [`Integrity::index`].
    pub const ALL: [Integrity; 5] = [Integrity::Mac, Integrity::Aead, Integrity::Crc, Integrity::Filler2f2f, Integrity::None];

    /// The name every output uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Integrity::Mac => "mac",
            Integrity::Aead => "aead",
            Integrity::Crc => "crc",
            Integrity::Filler2f2f => "filler_2f2f",
            Integrity::None => "none",
        }
    }

    /// A small dense index (dictionary slot of the Arrow column).
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Every counter a telegram carries, for replay checks and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Access number (TPL header, else ELL): 8 bits, wraps; no replay protection.
    pub access_number: Option<u8>,
    /// TPL message counter (configuration-field extension, modes 7–10, EN 13757-7 7.5.8).
    pub tpl_message_counter: Option<u32>,
    /// AFL message counter MCR (EN 13757-7 6.3.5).
    pub afl_message_counter: Option<u32>,
    /// AFL key information KI (EN 13757-7 6.3.4), little endian.
    pub afl_key_info: Option<u16>,
    /// ELL session number SN (EN 13757-4 13.2.12.4).
    pub ell_session: Option<u32>,
    /// DSMR P2 frame counter (the clear `04 FD 08` record of mode 15, DSMR 4.2.2 5.2).
    pub dsmr_frame_counter: Option<u32>,
    /// Key ID of the configuration-field extension (modes 7–10), 0 otherwise.
    pub key_id: u8,
}

impl Counters {
    /// The counter a replay check compares, if the telegram has one that only grows: the AFL
    /// MCR, else the TPL message counter, else the DSMR frame counter, else the ELL session
    /// number. The access number (8 bits, wrapping) is never used.
    pub fn replay_counter(&self) -> Option<u32> {
        self.afl_message_counter.or(self.tpl_message_counter).or(self.dsmr_frame_counter).or(self.ell_session)
    }
}

/// Application data at the end of a telegram that did not decode as records (see
/// [`super::TailPolicy`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecoded {
    /// Offset of the first undecoded byte in the frame.
    pub offset: usize,
    /// Offset of the first undecoded byte in the payload.
    pub start: usize,
    /// Why it did not decode.
    pub reason: String,
}

/// A decoded telegram. Records point into `payload` by [`crate::mbus::records::Span`].
#[derive(Clone, Debug)]
pub struct Telegram {
    /// The link layer it arrived on.
    pub link: LinkInfo,
    /// CI of the transport layer (None for frames without one: short frames, ACK).
    pub ci: Option<u8>,
    /// What the CI means on this link.
    pub ci_meaning: Option<&'static CiInfo>,
    /// The TPL header ([`TplHeader::NONE`] without one).
    pub header: TplHeader,
    /// The meter's identity: long TPL header if present, else the link-layer address.
    pub address: Option<Address>,
    /// Device-type name, where the frame type has its own table (the fixed structure's media).
    pub device_type_name_override: Option<&'static str>,
    /// The extended link layer, if any.
    pub ell: Option<Ell>,
    /// The authentication and fragmentation layer, if any.
    pub afl: Option<Afl>,
    /// Security mode, configuration, encryption and decryption.
    pub protection: Protection,
    /// The text of an application error (CI 70h).
    pub application_error: Option<String>,
    /// Application data (plaintext) the records' spans refer to.
    pub payload: Vec<u8>,
    /// Offset of `payload[0]` in the frame as given (for diagnostics).
    pub payload_offset: usize,
    /// The data records.
    pub records: Vec<Record>,
    /// A tail of the application data that did not decode as records (wireless, see
    /// [`super::TailPolicy`]).
    pub undecoded: Option<Undecoded>,
    /// For an expanded compact frame: the format signature it was expanded with; for a format
    /// frame the cache learnt from: the signature it announced.
    pub compact_signature: Option<u16>,
}

impl Telegram {
    /// An empty telegram of the given link (what [`super::decode_into`] starts from).
    pub fn new(link: LinkInfo) -> Self {
        Telegram {
            link,
            ci: None,
            ci_meaning: None,
            header: TplHeader::NONE,
            address: None,
            device_type_name_override: None,
            ell: None,
            afl: None,
            protection: Protection::default(),
            application_error: None,
            payload: Vec::new(),
            payload_offset: 0,
            records: Vec::new(),
            undecoded: None,
            compact_signature: None,
        }
    }

    /// Become `Telegram::new(link)` again, keeping the payload and record allocations.
    pub(super) fn reset(&mut self, link: LinkInfo) {
        let (mut payload, mut records) = (std::mem::take(&mut self.payload), std::mem::take(&mut self.records));
        payload.clear();
        records.clear();
        *self = Telegram { payload, records, ..Telegram::new(link) };
    }

    /// The access number: the TPL header's, else the ELL's.
    pub fn access_number(&self) -> Option<u8> {
        match (self.header.kind, self.ell) {
            (HeaderKind::None, Some(e)) => Some(e.acc),
            (HeaderKind::None, None) => None,
            _ => Some(self.header.access_number),
        }
    }

    /// The TPL status byte, where the TPL has a header.
    pub fn status(&self) -> Option<u8> {
        (self.header.kind != HeaderKind::None).then_some(self.header.status)
    }

    /// The device type's name.
    pub fn device_type_name(&self) -> Option<&'static str> {
        self.device_type_name_override
            .or_else(|| self.address.map(|a| tpl::device_type_name(a.device_type)))
    }

    /// What the CI means on this telegram's link.
    pub fn ci_info(&self) -> Option<&'static CiInfo> {
        self.ci_meaning.or_else(|| self.ci.map(tpl::ci_info))
    }

    /// The wireless link (transmitter) address, if the telegram came over the air.
    pub fn link_address(&self) -> Option<Address> {
        match self.link {
            LinkInfo::Wireless { address, .. } => Some(address),
            LinkInfo::Wired { .. } => None,
        }
    }

    /// True for the `no_key` outcome: encrypted and not decrypted.
    pub fn is_opaque(&self) -> bool {
        self.protection.opaque()
    }

    /// Whether the link layer's checksum or CRCs were verified.
    pub fn link_crc(&self) -> LinkCrc {
        match self.link {
            LinkInfo::Wireless { format: FrameFormat::NoCrc, .. } => LinkCrc::Absent,
            _ => LinkCrc::Verified,
        }
    }

    /// The check that protected the values (see [`Integrity`]).
    pub fn integrity(&self) -> Integrity {
        let by_key = matches!(
            self.protection.state,
            ProtectionState::Decrypted(DecryptedBy::Meterlink | DecryptedBy::DefaultKey)
        );
        if !by_key {
            return Integrity::None;
        }
        match self.protection.mode {
            Some(7 | 8) => Integrity::Mac,
            Some(9 | 10) => Integrity::Aead,
            Some(2 | 3 | 5 | 15) => Integrity::Filler2f2f,
            // Decrypted, and not by the TPL: the ELL's AES-CTR with its payload CRC.
            _ => Integrity::Crc,
        }
    }

    /// Every counter the telegram carries.
    pub fn counters(&self) -> Counters {
        let cfg = self.protection.config;
        Counters {
            access_number: self.access_number(),
            tpl_message_counter: cfg.and_then(|c| c.message_counter),
            afl_message_counter: self.afl.and_then(|a| a.mcr),
            afl_key_info: self.afl.and_then(|a| a.ki).map(u16::from_le_bytes),
            ell_session: self.ell.and_then(|e| e.sn),
            dsmr_frame_counter: self.dsmr_frame_counter(),
            key_id: cfg.map_or(0, |c| c.key_id),
        }
    }

    /// Mode 15: the frame counter of the clear record after the encrypted blocks.
    fn dsmr_frame_counter(&self) -> Option<u32> {
        let c = self.protection.config.filter(|c| c.mode == 15)?;
        let EncryptedLength::AesBlocks(n) = c.encrypted else { return None };
        let tail = self.payload.get(usize::from(n) * 16..)?;
        crate::mbus::security::mode15::frame_counter(tail)
    }
}

/// The quantity every output names a record by: its VIF's quantity (known manufacturer layouts
/// name theirs there too), or the name of a record kind that has no VIB (EN 13757-3 6.3.3).
pub fn record_quantity(r: &Record) -> &'static str {
    match r.kind {
        RecordKind::Data => r.vif.quantity,
        RecordKind::ManufacturerData { more_records_follow: false } => "Manufacturer specific data",
        RecordKind::ManufacturerData { more_records_follow: true } => "Manufacturer specific data, more records follow",
        RecordKind::GlobalReadout => "Global readout request",
    }
}

/// An LVAR binary number (EN 13757-3 Table 5, LVAR E0h..F6h) as an unsigned integer, if it fits
/// 64 bits: LSB first on the wire, MSB first for the CIs that say so. Every output reads binary
/// numbers with this one function (wider ones: the outputs keep the bytes).
pub fn binary_number(b: &[u8], msb_first: bool) -> Option<u64> {
    let significant = |x: &[u8]| x.iter().all(|&v| v == 0);
    let (lo, hi) = if msb_first {
        let cut = b.len().saturating_sub(8);
        (&b[cut..], &b[..cut])
    } else {
        let cut = b.len().min(8);
        (&b[..cut], &b[cut..])
    };
    if !significant(hi) {
        return None;
    }
    let mut v = 0u64;
    if msb_first {
        for &x in lo {
            v = v << 8 | x as u64;
        }
    } else {
        for &x in lo.iter().rev() {
            v = v << 8 | x as u64;
        }
    }
    Some(v)
}
