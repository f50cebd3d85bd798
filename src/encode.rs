//! The telegram encoder: build, encrypt and authenticate M-Bus / wireless M-Bus telegrams.
//!
//! The counterpart of [`crate::telegram::decode_with_keys`]: [`Builder::encode`] takes the link
//! parameters, an optional extended link layer (ELL), an optional authentication and
//! fragmentation layer (AFL), the transport layer (TPL) header, a security mode with its
//! parameters and the application data (raw data records), and returns the frame bytes.
//! [`encode_record`] builds single data records from values.
//!
//! Layers are built inside out, each with the primitives the decoder verifies against:
//!
//! ```text
//! records ──TPL security (security::mode5/7/8/9/10, des, dsmr)──> TPDU = CI header CFG [ext] data
//!         ──AFL (afl::sign, Afl::encode; modes 7/8 always, 9/10 on request)──> 90 AFLL ... TPDU
//!         ──ELL (ell::encrypt_ell, CI 8C..8F, optional AES-CTR)──> 8x CC ACC ... (AFL|TPDU)
//!         ──link (link::wired::build_long | L C M A + link::wmbus::add_crcs_a/_b)──> frame
//! ```
//!
//! Choices that mirror the decoder (so that `decode(encode(t, key), key) == t`):
//! * The address in IVs, nonces and KDF inputs is the TPL long header's when there is one, else
//!   the wireless link address; a wired frame with a short header has no identity, the all-zero
//!   address is used (the decoder does the same, and cannot find a key for it).
//! * The CBC modes (2, 3, 5, 7, 15) get the verification bytes `2F 2F` in front of `records`
//!   and 2F fillers up to whole 16-byte blocks; `clear` follows the encrypted blocks unencrypted
//!   (for mode 15 after the clear `04 FD 08` frame-counter record). N (CFG bits 7..4) is
//!   computed from the data, at most 15 blocks.
//! * Modes 8/9/10: the CFG length byte is 0xFF ("everything up to the tag") when `clear` is
//!   empty, else the number of encrypted bytes; the clear bytes are authenticated (AAD / MAC).
//! * KDF-A derives the keys for the meter → partner direction (DC 00/01), from the message
//!   counter and the ID of the address above.
//! * Modes 7/8 carry an AFL with an AES-CMAC (AT 5, 8 bytes, unless chosen otherwise) over
//!   `MCL ‖ {MCR} ‖ TPDU`; the message counter goes into AFL.MCR unless it is asked to be in the
//!   TPL (Z bit). Modes 9/10 put the counter into the TPL by default.

use std::fmt;

use crate::afl::{self, Afl};
use crate::ell;
use crate::keys::KeyMaterial;
use crate::link::wired;
use crate::link::wmbus::{self, FrameFormat};
use crate::security::config::encode_config_mode5;
use crate::security::kdf::kdf_a_pair;
use crate::security::{des, dsmr, mode10, mode5, mode7, mode8, mode9, Key, MeterAddress};
use crate::tpl::{self, CiHeader, CiPayload};

/// Why a telegram could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A parameter value is out of range or the combination is not possible.
    Invalid(String),
    /// The mode needs a key and none (or one of the wrong kind) was given.
    Key(String),
    /// The telegram does not fit the frame, the configuration field or the record coding.
    TooLong(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Invalid(s) | EncodeError::Key(s) | EncodeError::TooLong(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for EncodeError {}

fn invalid<T>(s: impl Into<String>) -> Result<T, EncodeError> {
    Err(EncodeError::Invalid(s.into()))
}

/// The link layer to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkParams {
    /// EN 13757-2 FT1.2 long frame `68 L L 68 C A CI ... CS 16`.
    Wired { c: u8, a: u8 },
    /// EN 13757-4 frame `L C M A ...` with the DLL CRCs of `format` (`NoCrc`: none, as a
    /// receiver that strips them hands frames on). `address` is the transmitter's identity.
    Wireless { c: u8, address: MeterAddress, format: FrameFormat },
}

/// Extended link layer (wireless only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EllParams {
    /// Communication control field (see [`crate::ell::cc`]).
    pub cc: u8,
    /// ELL access number.
    pub acc: u8,
    /// Session number: `Some` gives CI 8D/8F (SN and payload CRC), `None` CI 8C/8E.
    /// Bits 31..29 (ENC) are set from `encrypt`.
    pub session: Option<u32>,
    /// Receiver address `M2` and `A2 = ID(4) ver type`: gives CI 8E/8F.
    pub receiver: Option<(u16, [u8; 6])>,
    /// AES-128-CTR encryption of everything after the SN (needs `session` and an AES key).
    pub encrypt: bool,
}

impl EllParams {
    /// The ELL CI this configuration gives (0x8C..0x8F).
    pub fn ci(&self) -> u8 {
        match (self.receiver.is_some(), self.session.is_some()) {
            (false, false) => 0x8C,
            (false, true) => 0x8D,
            (true, false) => 0x8E,
            (true, true) => 0x8F,
        }
    }
}

/// The TPL header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// No TPL header (CI 0x78, 0x51 ...): no security mode.
    None,
    /// `ACC STS CFG(2)`; the identity is the link address.
    Short,
    /// `ID(4) M(2) ver type ACC STS CFG(2)` with this identity.
    Long(MeterAddress),
}

/// Security mode and its parameters (EN 13757-7 §7.5.8, §7.6, §9; DSMR P2 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityParams {
    /// 0 (none), 2/3 (DES-CBC), 5 (AES-CBC), 7 (AES-CBC + KDF-A + AFL CMAC), 8 (AES-CTR + AFL
    /// CMAC), 9 (AES-GCM), 10 (AES-CCM), 15 (DSMR P2).
    pub mode: u8,
    /// B, A, S bits of the configuration field (modes 0, 2, 3, 5, 15).
    pub bidirectional: bool,
    pub accessibility: bool,
    pub synchronous: bool,
    /// Content of message CC (2 bits; bits 3..2 in modes 0–5/15, bits 15..14 in modes 7–10).
    pub content: u8,
    /// Message counter (modes 7–10: KDF, nonce and ICB input) or DSMR frame counter (mode 15).
    pub message_counter: Option<u32>,
    /// Where the counter goes in modes 7–10: the TPL (Z bit) or the AFL (MCR). `None`: AFL for
    /// modes 7/8, TPL for modes 9/10 (or the TPL whenever there is no AFL).
    pub counter_in_tpl: Option<bool>,
    /// KDF selection: KDF-A (DD = 01) if true, else the key is used as is (DD = 00). Modes 7–10.
    pub kdf: bool,
    /// Key ID KKKK of the configuration-field extension (modes 7–10).
    pub key_id: u8,
    /// Optional key-version byte (V bit of the extension, modes 7–10).
    pub key_version: Option<u8>,
    /// AEAD tag length in bytes: mode 9 12 or 16 (default 12), mode 10 4/8/12/16 (default 8).
    pub tag_len: Option<u8>,
    /// AFL with a MAC: `None` = only where the mode needs one (7, 8); `Some(true)` also for
    /// modes 9/10; `Some(false)` never (modes 7/8 then fail).
    pub afl: Option<bool>,
    /// AFL authentication type AT (MCL bits 3..0): 3..7 = AES-CMAC 2/4/8/12/16 bytes,
    /// 8/9 = AES-GMAC 12/16 bytes. Default 5.
    pub afl_auth: u8,
}

impl Default for SecurityParams {
    fn default() -> Self {
        SecurityParams {
            mode: 0,
            bidirectional: false,
            accessibility: false,
            synchronous: false,
            content: 0,
            message_counter: None,
            counter_in_tpl: None,
            kdf: true,
            key_id: 0,
            key_version: None,
            tag_len: None,
            afl: None,
            afl_auth: 5,
        }
    }
}

/// Everything that describes one telegram except its application data.
#[derive(Clone, Debug)]
pub struct Builder {
    pub link: LinkParams,
    pub ell: Option<EllParams>,
    /// TPL CI; `None` picks the response CI of the header kind: 0x72 long, 0x7A short, 0x78 none.
    pub ci: Option<u8>,
    pub header: Header,
    /// TPL access number and status byte (short/long header).
    pub access_number: u8,
    pub status: u8,
    pub security: SecurityParams,
    /// The meter key: AES-128 for modes 5/7/8/9/10/15 and the ELL; DES (or the first 8 bytes of
    /// an AES key) for modes 2/3. Modes 7–10 with KDF-A: the master key.
    pub key: Option<KeyMaterial>,
}

impl Builder {
    /// A wired long frame (C, primary address A) with a long header for `meter`, mode 0.
    pub fn wired(c: u8, a: u8, meter: MeterAddress) -> Self {
        Builder {
            link: LinkParams::Wired { c, a },
            ell: None,
            ci: None,
            header: Header::Long(meter),
            access_number: 0,
            status: 0,
            security: SecurityParams::default(),
            key: None,
        }
    }

    /// A wireless frame sent by `meter` with a short header, mode 0.
    pub fn wireless(c: u8, meter: MeterAddress, format: FrameFormat) -> Self {
        Builder {
            link: LinkParams::Wireless { c, address: meter, format },
            ell: None,
            ci: None,
            header: Header::Short,
            access_number: 0,
            status: 0,
            security: SecurityParams::default(),
            key: None,
        }
    }

    /// The TPL CI that will be sent.
    pub fn tpl_ci(&self) -> u8 {
        self.ci.unwrap_or(match self.header {
            Header::None => 0x78,
            Header::Short => 0x7A,
            Header::Long(_) => 0x72,
        })
    }

    /// The identity that goes into IVs, nonces and KDF inputs (see the module doc).
    fn security_address(&self) -> MeterAddress {
        match (self.header, self.link) {
            (Header::Long(a), _) => a,
            (_, LinkParams::Wireless { address, .. }) => address,
            (_, LinkParams::Wired { .. }) => MeterAddress::default(),
        }
    }

    fn aes_key(&self, what: &str) -> Result<Key, EncodeError> {
        match self.key {
            Some(KeyMaterial::Aes(k)) => Ok(k),
            Some(KeyMaterial::Des(_)) => Err(EncodeError::Key(format!("{what} needs a 16-byte AES key, not a DES key"))),
            None => Err(EncodeError::Key(format!("{what} needs a key"))),
        }
    }

    /// Build the frame. `records`: the application data to protect (raw data records, e.g.
    /// from [`encode_record`]; without the 2F 2F verification bytes, which are added where the
    /// mode has them); `clear`: application data sent unencrypted after the encrypted part.
    pub fn encode(&self, records: &[u8], clear: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let (tpdu, afl) = self.build_tpdu(records, clear)?;
        let mut body = match afl {
            Some(a) => {
                let mut v = a.encode();
                v.extend_from_slice(&tpdu);
                v
            }
            None => tpdu,
        };
        match self.link {
            LinkParams::Wired { c, a } => {
                if self.ell.is_some() {
                    return invalid("the extended link layer (ELL) exists only on wireless links");
                }
                let ci = body[0];
                wired::build_long(c, a, ci, &body[1..]).ok_or_else(|| {
                    EncodeError::TooLong(format!(
                        "wired long frame holds at most 252 bytes after the A field, got {}",
                        body.len()
                    ))
                })
            }
            LinkParams::Wireless { c, address, format } => {
                if let Some(e) = &self.ell {
                    body = self.build_ell(e, &address, &body)?;
                }
                let mut f = Vec::with_capacity(body.len() + 40);
                f.push(0);
                f.push(c);
                f.extend_from_slice(&address.bytes());
                f.extend_from_slice(&body);
                let n = f.len();
                let too_long = match format {
                    FrameFormat::A | FrameFormat::NoCrc => n > 256,
                    FrameFormat::B => (if n + 2 <= 128 { n + 2 } else { n + 4 }) > 256,
                };
                if too_long {
                    return Err(EncodeError::TooLong(format!(
                        "wireless frame of {n} bytes does not fit the L field (format {format:?})"
                    )));
                }
                f[0] = (n - 1) as u8;
                Ok(match format {
                    FrameFormat::A => wmbus::add_crcs_a(&f),
                    FrameFormat::B => wmbus::add_crcs_b(&f),
                    FrameFormat::NoCrc => f,
                })
            }
        }
    }

    fn build_ell(&self, e: &EllParams, link: &MeterAddress, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
        if e.encrypt {
            let Some(sn) = e.session else {
                return invalid("ELL encryption needs a session number (CI 8D/8F)");
            };
            let key = self.aes_key("ELL encryption")?;
            return Ok(ell::encrypt_ell(&key, link, e.cc, e.acc, sn, e.receiver, payload));
        }
        let mut v = Vec::with_capacity(17 + payload.len());
        v.extend_from_slice(&[e.ci(), e.cc, e.acc]);
        if let Some((m2, a2)) = e.receiver {
            v.extend_from_slice(&m2.to_le_bytes());
            v.extend_from_slice(&a2);
        }
        if let Some(sn) = e.session {
            v.extend_from_slice(&(sn & 0x1FFF_FFFF).to_le_bytes());
            v.extend_from_slice(&wmbus::crc16_en13757(payload).to_le_bytes());
        }
        v.extend_from_slice(payload);
        Ok(v)
    }

    /// The TPDU (TPL CI to the end) and, for the modes that use one, the signed AFL.
    fn build_tpdu(&self, records: &[u8], clear: &[u8]) -> Result<(Vec<u8>, Option<Afl>), EncodeError> {
        let ci = self.tpl_ci();
        let info = tpl::ci_info(ci);
        let kind = match self.header {
            Header::None => CiHeader::None,
            Header::Short => CiHeader::Short,
            Header::Long(_) => CiHeader::Long,
        };
        if info.header != kind {
            return invalid(format!(
                "CI 0x{ci:02X} announces a {:?} TPL header, but the header is {:?}",
                info.header, kind
            ));
        }
        if matches!(info.payload, CiPayload::Reserved) {
            return invalid(format!("CI 0x{ci:02X} is reserved"));
        }
        let mut t = Vec::with_capacity(records.len() + clear.len() + 64);
        t.push(ci);
        let sec = &self.security;
        match self.header {
            Header::None => {
                if sec.mode != 0 {
                    return invalid(format!("security mode {} needs a short or long TPL header", sec.mode));
                }
                t.extend_from_slice(records);
                t.extend_from_slice(clear);
                return Ok((t, None));
            }
            Header::Short => {}
            Header::Long(a) => {
                t.extend_from_slice(&a.id);
                t.extend_from_slice(&a.m.to_le_bytes());
                t.push(a.version);
                t.push(a.device_type);
            }
        }
        t.push(self.access_number);
        t.push(self.status);
        let addr = self.security_address();
        let acc = self.access_number;
        if sec.content > 3 {
            return invalid("content of message (CC) is a 2-bit field");
        }
        let cbc_plain = || {
            let mut p = Vec::with_capacity(records.len() + 18);
            p.extend_from_slice(&[0x2F, 0x2F]);
            p.extend_from_slice(records);
            p
        };
        let cfg5 = |mode: u8, n: u8| {
            encode_config_mode5(mode, n, sec.bidirectional, sec.accessibility, sec.synchronous, sec.content)
        };
        let check_n = |n: u8, what: &str| -> Result<(), EncodeError> {
            if n > 15 {
                Err(EncodeError::TooLong(format!(
                    "{what}: {n} encrypted 16-byte blocks, the configuration field holds at most 15"
                )))
            } else {
                Ok(())
            }
        };
        if matches!(sec.mode, 0 | 2 | 3 | 5 | 15) && sec.afl == Some(true) {
            return invalid(format!("security mode {} does not use an AFL", sec.mode));
        }
        match sec.mode {
            0 => {
                t.extend_from_slice(&cfg5(0, 0));
                t.extend_from_slice(records);
                t.extend_from_slice(clear);
                Ok((t, None))
            }
            5 => {
                let key = self.aes_key("security mode 5")?;
                let (data, n) = mode5::encrypt_mode5(&key, &addr, acc, &cbc_plain(), clear);
                check_n(n, "security mode 5")?;
                t.extend_from_slice(&cfg5(5, n));
                t.extend_from_slice(&data);
                Ok((t, None))
            }
            2 | 3 => {
                let key: [u8; 8] = match self.key {
                    Some(KeyMaterial::Des(k)) => k,
                    Some(KeyMaterial::Aes(k)) => k[..8].try_into().unwrap_or_default(),
                    None => return Err(EncodeError::Key(format!("security mode {} needs a DES key", sec.mode))),
                };
                let (data, n) = des::encrypt_des_cbc(&key, &des::iv(sec.mode, &addr), &cbc_plain(), clear);
                check_n(n, "DES security mode")?;
                t.extend_from_slice(&cfg5(sec.mode, n));
                t.extend_from_slice(&data);
                Ok((t, None))
            }
            15 => {
                let key = self.aes_key("DSMR mode 15")?;
                let fc = sec.message_counter.ok_or_else(|| {
                    EncodeError::Invalid("DSMR mode 15 needs the frame counter (message_counter)".into())
                })?;
                let (data, n) = dsmr::encrypt_mode15(&key, &addr, fc, &cbc_plain());
                check_n(n, "DSMR mode 15")?;
                t.extend_from_slice(&cfg5(15, n));
                t.extend_from_slice(&data);
                t.extend_from_slice(clear);
                Ok((t, None))
            }
            7..=10 => self.build_counter_mode(t, &addr, records, clear),
            m => invalid(format!("security mode {m} is not supported by the encoder")),
        }
    }

    /// Modes 7–10: CFG + extension + optional key version / MC, encryption, AFL MAC.
    fn build_counter_mode(
        &self,
        mut t: Vec<u8>,
        addr: &MeterAddress,
        records: &[u8],
        clear: &[u8],
    ) -> Result<(Vec<u8>, Option<Afl>), EncodeError> {
        let sec = &self.security;
        let mode = sec.mode;
        let key = self.aes_key(&format!("security mode {mode}"))?;
        let mc = sec.message_counter.ok_or_else(|| {
            EncodeError::Invalid(format!("security mode {mode} needs a message counter"))
        })?;
        let use_afl = sec.afl.unwrap_or(matches!(mode, 7 | 8));
        if matches!(mode, 7 | 8) && !use_afl {
            return invalid(format!("security mode {mode} needs an AFL MAC"));
        }
        let in_tpl = sec.counter_in_tpl.unwrap_or(!matches!(mode, 7 | 8)) || !use_afl;
        if sec.key_id > 15 {
            return invalid("key ID is a 4-bit field");
        }
        let (kenc, kmac) = if sec.kdf { kdf_a_pair(&key, mc, &addr.id, false) } else { (key, key) };
        let z = u16::from(in_tpl) << 13;
        let cc = u16::from(sec.content) << 14;
        let dd = u8::from(sec.kdf) << 4;
        let v = if sec.key_version.is_some() { 0x40 } else { 0 };
        let cfg_at = t.len();
        if mode == 7 {
            // CC Z MMMMM NNNN P III; ext 0 V DD KKKK; [MC] [key version]
            let mut plain = Vec::with_capacity(records.len() + 18);
            plain.extend_from_slice(&[0x2F, 0x2F]);
            plain.extend_from_slice(records);
            let (data, n) = mode7::encrypt_mode7(&kenc, &plain, clear);
            if n > 15 {
                return Err(EncodeError::TooLong(format!(
                    "security mode 7: {n} encrypted 16-byte blocks, the configuration field holds at most 15"
                )));
            }
            let raw = cc | z | (7 << 8) | (u16::from(n) << 4);
            t.extend_from_slice(&raw.to_le_bytes());
            t.push(v | dd | sec.key_id);
            if in_tpl {
                t.extend_from_slice(&mc.to_le_bytes());
            }
            if let Some(kv) = sec.key_version {
                t.push(kv);
            }
            t.extend_from_slice(&data);
        } else {
            // CC Z MMMMM LLLLLLLL; ext (T << 8) | V DD KKKK; [key version] [MC]
            let tag_len = match mode {
                9 => sec.tag_len.unwrap_or(12),
                10 => sec.tag_len.unwrap_or(8),
                _ => 0,
            };
            let t_code: u16 = match (mode, tag_len) {
                (8, 0) => 0,
                (9, 12) => 0,
                (9, 16) => 3,
                (10, 4 | 8 | 12 | 16) => u16::from(tag_len / 4 - 1),
                _ => return invalid(format!("security mode {mode} does not allow a {tag_len}-byte tag")),
            };
            let l: u8 = if clear.is_empty() {
                0xFF
            } else {
                u8::try_from(records.len()).ok().filter(|&n| n < 0xFF).ok_or_else(|| {
                    EncodeError::TooLong(format!(
                        "security mode {mode} with clear data encrypts at most 254 bytes, got {}",
                        records.len()
                    ))
                })?
            };
            let raw = cc | z | (u16::from(mode) << 8) | u16::from(l);
            t.extend_from_slice(&raw.to_le_bytes());
            let ext = (t_code << 8) | u16::from(v | dd | sec.key_id);
            t.extend_from_slice(&ext.to_le_bytes());
            if let Some(kv) = sec.key_version {
                t.push(kv);
            }
            let aad_end = t.len();
            if in_tpl {
                t.extend_from_slice(&mc.to_le_bytes());
            }
            let data = match mode {
                8 => mode8::encrypt_mode8(&kenc, addr, mc, records, clear),
                9 => mode9::encrypt_mode9(&kenc, addr, mc, &t[..aad_end], records, clear, usize::from(tag_len))
                    .map_err(|e| EncodeError::Invalid(e.to_string()))?,
                _ => mode10::encrypt_mode10(&kenc, addr, mc, &t[..aad_end], records, clear, usize::from(tag_len))
                    .map_err(|e| EncodeError::Invalid(e.to_string()))?,
            };
            t.extend_from_slice(&data);
        }
        debug_assert!(t.len() > cfg_at);
        if !use_afl {
            return Ok((t, None));
        }
        let at = sec.afl_auth;
        if !matches!(at, 3..=9) {
            return invalid(format!("AFL authentication type {at} is not a MAC (3..7 CMAC, 8/9 GMAC)"));
        }
        let mut fcl = afl::fcl::MCL_PRESENT;
        let mut mcl = at;
        let mcr = if in_tpl {
            None
        } else {
            fcl |= afl::fcl::MCR_PRESENT;
            mcl |= afl::mcl::MC_IN_MESSAGE;
            Some(mc)
        };
        if matches!(at, 8 | 9) && mcr.is_none() {
            return invalid("an AFL GMAC needs the message counter in the AFL");
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
        afl::sign(&mut a, &kmac, &t, addr).map_err(|e| EncodeError::Invalid(e.to_string()))?;
        Ok((t, Some(a)))
    }
}

/// Function field of a data record (DIF bits 5..4).
pub use crate::records::Function;

/// The value of one data record and how its data field is coded.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordValue {
    /// No data field (DIF data field 0).
    None,
    /// Signed integer (type B) in `size` bytes: 1, 2, 3, 4, 6 or 8.
    Int { value: i64, size: u8 },
    /// BCD (type A) with `digits` digits: 2, 4, 6, 8 or 12. Negative values use the top
    /// nibble 0xF as the minus sign (one digit fewer).
    Bcd { value: i64, digits: u8 },
    /// 32-bit IEEE 754 real (type H).
    Real(f32),
    /// Text (LVAR 0x00..0xBF), Latin-1, sent last character first.
    Text(String),
}

impl RecordValue {
    /// The smallest integer coding that holds `value`.
    pub fn int(value: i64) -> Self {
        let size = [1u8, 2, 3, 4, 6, 8]
            .into_iter()
            .find(|&s| fits_signed(value, s))
            .unwrap_or(8);
        RecordValue::Int { value, size }
    }

    /// The smallest BCD coding that holds `value` (None if it has more than 12 digits).
    pub fn bcd(value: i64) -> Option<Self> {
        [2u8, 4, 6, 8, 12]
            .into_iter()
            .find(|&d| fits_bcd(value, d))
            .map(|digits| RecordValue::Bcd { value, digits })
    }
}

fn fits_signed(v: i64, size: u8) -> bool {
    if size >= 8 {
        return true;
    }
    let bits = u32::from(size) * 8;
    let min = -(1i64 << (bits - 1));
    let max = (1i64 << (bits - 1)) - 1;
    (min..=max).contains(&v)
}

fn fits_bcd(v: i64, digits: u8) -> bool {
    let d = u32::from(digits) - u32::from(v < 0);
    v.unsigned_abs() < 10u64.pow(d)
}

/// Encode one data record: DIF (+ DIFEs for storage > 1, tariff, subunit), the VIF bytes as
/// given (VIF + VIFEs, e.g. `[0x13]` or `[0xFD, 0x17]`) and the data field.
///
/// Storage numbers up to 2^41 − 1, tariffs up to 2^20 − 1 and subunits up to 2^10 − 1 fit the
/// 10 DIFEs EN 13757-3 allows.
pub fn encode_record(
    storage: u64,
    tariff: u32,
    subunit: u16,
    function: Function,
    vif: &[u8],
    value: &RecordValue,
) -> Result<Vec<u8>, EncodeError> {
    if vif.is_empty() {
        return invalid("a data record needs at least one VIF byte");
    }
    let plain_text_vif = vif[0] & 0x7F == 0x7C;
    if !plain_text_vif {
        let last = vif.len() - 1;
        if vif[..last].iter().any(|b| b & 0x80 == 0) || vif[last] & 0x80 != 0 {
            return invalid("VIF bytes: every byte but the last needs the extension bit 0x80");
        }
    }
    if vif.len() > 11 {
        return invalid("more than 10 VIFEs");
    }
    let (code, data): (u8, Vec<u8>) = match value {
        RecordValue::None => (0x0, Vec::new()),
        RecordValue::Int { value, size } => {
            let code = match size {
                1 => 0x1,
                2 => 0x2,
                3 => 0x3,
                4 => 0x4,
                6 => 0x6,
                8 => 0x7,
                _ => return invalid(format!("integer size {size} bytes: 1, 2, 3, 4, 6 or 8")),
            };
            if !fits_signed(*value, *size) {
                return Err(EncodeError::TooLong(format!("{value} does not fit a {size}-byte signed integer")));
            }
            (code, value.to_le_bytes()[..usize::from(*size)].to_vec())
        }
        RecordValue::Bcd { value, digits } => {
            let code = match digits {
                2 => 0x9,
                4 => 0xA,
                6 => 0xB,
                8 => 0xC,
                12 => 0xE,
                _ => return invalid(format!("BCD with {digits} digits: 2, 4, 6, 8 or 12")),
            };
            if !fits_bcd(*value, *digits) {
                return Err(EncodeError::TooLong(format!("{value} does not fit {digits} BCD digits")));
            }
            let n = usize::from(*digits) / 2;
            let mut m = value.unsigned_abs();
            let mut b = vec![0u8; n];
            for byte in b.iter_mut() {
                let lo = (m % 10) as u8;
                m /= 10;
                let hi = (m % 10) as u8;
                m /= 10;
                *byte = hi << 4 | lo;
            }
            if *value < 0 {
                b[n - 1] |= 0xF0;
            }
            (code, b)
        }
        RecordValue::Real(f) => (0x5, f.to_le_bytes().to_vec()),
        RecordValue::Text(s) => {
            let mut b = Vec::with_capacity(s.len() + 1);
            for ch in s.chars().rev() {
                let c = u32::from(ch);
                if c > 0xFF {
                    return invalid(format!("text character {ch:?} is not Latin-1"));
                }
                b.push(c as u8);
            }
            if b.len() > 0xBF {
                return Err(EncodeError::TooLong(format!("text of {} characters (at most 191)", b.len())));
            }
            b.insert(0, b.len() as u8);
            (0xD, b)
        }
    };
    let f = match function {
        Function::Instantaneous => 0u8,
        Function::Maximum => 1,
        Function::Minimum => 2,
        Function::Error => 3,
    };
    // DIFE k carries storage bits 1+4k..4+4k, tariff bits 2k..2k+1, subunit bit k.
    let rest = storage >> 1;
    let mut n = 0usize;
    while n < 11 && ((rest >> (4 * n)) != 0 || (u64::from(tariff) >> (2 * n)) != 0 || (u64::from(subunit) >> n) != 0)
    {
        n += 1;
    }
    if n > crate::records::MAX_DIFES {
        return Err(EncodeError::TooLong(format!(
            "storage {storage}, tariff {tariff}, subunit {subunit} need more than 10 DIFEs"
        )));
    }
    let mut out = Vec::with_capacity(1 + n + vif.len() + data.len());
    out.push(u8::from(n > 0) << 7 | ((storage & 1) as u8) << 6 | f << 4 | code);
    for k in 0..n {
        let s = ((rest >> (4 * k)) & 0x0F) as u8;
        let t = ((tariff >> (2 * k)) & 0x03) as u8;
        let u = ((subunit >> k) & 0x01) as u8;
        out.push(u8::from(k + 1 < n) << 7 | u << 6 | t << 4 | s);
    }
    out.extend_from_slice(vif);
    out.extend_from_slice(&data);
    Ok(out)
}

#[cfg(test)]
mod tests {
}
