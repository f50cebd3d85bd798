//! The telegram encoder: build, encrypt and authenticate M-Bus / wireless M-Bus telegrams.
//!
//! The counterpart of [`crate::mbus::decode::decode_with_keys`]: [`Builder::encode`] takes the link
//! parameters, an optional extended link layer (ELL), an optional authentication and
//! fragmentation layer (AFL), the transport layer (TPL) header, a security mode with its
//! parameters and the application data (raw data records), and returns the frame bytes.
//! [`encode_record`] (from [`crate::mbus::records`]) builds single data records from values.
//!
//! Layers are built inside out, each with the builder that sits next to its parser (records →
//! `records::encode`, configuration field → `security::config`, TPL header → `tpl::write_header`,
//! AFL → `afl::sign`, ELL → `ell::encrypt_ell`, link → `link::wired::build_long` /
//! `link::wmbus::build_frame`); this module stacks them in the decode pipeline's order:
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

pub use crate::mbus::encode_error as error;
mod protect;
#[cfg(test)]
mod tests;

use crate::keys::KeyMaterial;
use crate::mbus::afl::Afl;
use crate::mbus::ell;
use crate::mbus::link::wired;
use crate::mbus::link::wmbus::{self, FrameFormat};
use crate::mbus::security::Key;
use crate::mbus::tpl::Address;
use crate::mbus::tpl::{self, CiHeader, CiPayload};

pub use error::{EncodeError, EncodeErrorKind};
/// Data records are built in [`crate::mbus::records`]; re-exported here for compatibility.
pub use crate::mbus::records::{encode_record, Function, RecordValue};

/// The link layer to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkParams {
    /// EN 13757-2 FT1.2 long frame `68 L L 68 C A CI ... CS 16`.
    Wired {
        /// C field.
        c: u8,
        /// Primary address A.
        a: u8,
    },
    /// EN 13757-4 frame `L C M A ...` with the DLL CRCs of `format` (`NoCrc`: none, as a
    /// receiver that strips them hands frames on). `address` is the transmitter's identity.
    Wireless {
        /// C field.
        c: u8,
        /// The link address `M A` (the transmitter).
        address: Address,
        /// Frame format: the DLL CRC layout.
        format: FrameFormat,
    },
}

/// Extended link layer (wireless only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EllParams {
    /// Communication control field (see [`crate::mbus::ell::cc`]).
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
    Long(Address),
}

/// Security mode and its parameters (EN 13757-7 §7.5.8, §7.6, §9; DSMR P2 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityParams {
    /// 0 (none), 2/3 (DES-CBC), 5 (AES-CBC), 7 (AES-CBC + KDF-A + AFL CMAC), 8 (AES-CTR + AFL
    /// CMAC), 9 (AES-GCM), 10 (AES-CCM), 15 (DSMR P2).
    pub mode: u8,
    /// B bit of the configuration field (bidirectional; modes 0, 2, 3, 5, 15).
    pub bidirectional: bool,
    /// A bit of the configuration field (accessibility; modes 0, 2, 3, 5, 15).
    pub accessibility: bool,
    /// S bit of the configuration field (synchronous; modes 0, 2, 3, 5, 15).
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
    /// The link layer.
    pub link: LinkParams,
    /// The extended link layer (wireless only).
    pub ell: Option<EllParams>,
    /// TPL CI; `None` picks the response CI of the header kind: 0x72 long, 0x7A short, 0x78 none.
    pub ci: Option<u8>,
    /// The TPL header kind (and, for a long header, the meter identity).
    pub header: Header,
    /// TPL access number (short/long header).
    pub access_number: u8,
    /// TPL status byte (short/long header).
    pub status: u8,
    /// The TPL security mode and its parameters.
    pub security: SecurityParams,
    /// The meter key: AES-128 for modes 5/7/8/9/10/15 and the ELL; DES (or the first 8 bytes of
    /// an AES key) for modes 2/3. Modes 7–10 with KDF-A: the master key.
    pub key: Option<KeyMaterial>,
}

impl Builder {
    /// A wired long frame (C, primary address A) with a long header for `meter`, mode 0.
    pub fn wired(c: u8, a: u8, meter: Address) -> Self {
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
    pub fn wireless(c: u8, meter: Address, format: FrameFormat) -> Self {
        Builder {
            link: LinkParams::Wireless {
                c,
                address: meter,
                format,
            },
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
    fn security_address(&self) -> Address {
        match (self.header, self.link) {
            (Header::Long(a), _) => a,
            (_, LinkParams::Wireless { address, .. }) => address,
            (_, LinkParams::Wired { .. }) => Address::default(),
        }
    }

    /// The AES key for security `mode` (`None`: the ELL encryption).
    fn aes_key(&self, mode: Option<u8>) -> Result<Key, EncodeError> {
        match self.key {
            Some(KeyMaterial::Aes(k)) => Ok(k),
            Some(KeyMaterial::Des(_)) => Err(EncodeError::NotAesKey { mode }),
            None => Err(EncodeError::MissingKey { mode }),
        }
    }

    /// Build the frame. `records`: the application data to protect (raw data records, e.g.
    /// from [`encode_record`]; without the 2F 2F verification bytes, which are added where the
    /// mode has them); `clear`: application data sent unencrypted after the encrypted part.
    ///
    /// The stages, inside out: TPL header and security (with the AFL MAC where the mode has
    /// one), AFL, ELL, link.
    pub fn encode(&self, records: &[u8], clear: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let (tpdu, afl) = self.build_tpdu(records, clear)?;
        let body = match afl {
            Some(a) => {
                let mut v = a.encode();
                v.extend_from_slice(&tpdu);
                v
            }
            None => tpdu,
        };
        self.build_link(body)
    }

    /// The link stage: ELL (wireless) and the link frame around `body` (AFL or TPDU).
    fn build_link(&self, mut body: Vec<u8>) -> Result<Vec<u8>, EncodeError> {
        match self.link {
            LinkParams::Wired { c, a } => {
                if self.ell.is_some() {
                    return Err(EncodeError::EllOnWiredLink);
                }
                let ci = body[0];
                wired::build_long(c, a, ci, &body[1..]).ok_or(EncodeError::WiredFrameTooLong { len: body.len() })
            }
            LinkParams::Wireless { c, address, format } => {
                if let Some(e) = &self.ell {
                    body = self.build_ell(e, &address, &body)?;
                }
                wmbus::build_frame(c, &address.bytes(), &body, format).ok_or(EncodeError::WirelessFrameTooLong {
                    len: body.len() + 10,
                    format,
                })
            }
        }
    }

    /// The ELL stage (EN 13757-4 clause 13): `CI CC ACC [M2 A2] [SN CRC]` in front of `payload`,
    /// AES-CTR encrypted by [`ell::encrypt_ell`] when asked.
    fn build_ell(&self, e: &EllParams, link: &Address, payload: &[u8]) -> Result<Vec<u8>, EncodeError> {
        if e.encrypt {
            let Some(sn) = e.session else {
                return Err(EncodeError::EllEncryptionWithoutSession);
            };
            let key = self.aes_key(None)?;
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

    /// The TPL stage: the TPDU (TPL CI to the end) and, for the modes that use one, the signed
    /// AFL. The header comes from [`tpl::write_header`], the rest from the security stage.
    fn build_tpdu(&self, records: &[u8], clear: &[u8]) -> Result<(Vec<u8>, Option<Afl>), EncodeError> {
        let ci = self.tpl_ci();
        self.check_ci(ci)?;
        let mut t = Vec::with_capacity(records.len() + clear.len() + 64);
        t.push(ci);
        let long = match self.header {
            Header::None => {
                if self.security.mode != 0 {
                    return Err(EncodeError::ModeNeedsHeader { mode: self.security.mode });
                }
                t.extend_from_slice(records);
                t.extend_from_slice(clear);
                return Ok((t, None));
            }
            Header::Short => None,
            Header::Long(a) => Some(a),
        };
        tpl::write_header(&mut t, long.as_ref(), self.access_number, self.status);
        self.protect(t, records, clear)
    }

    /// The CI must announce the header kind given and must not be reserved (EN 13757-7 5.2).
    fn check_ci(&self, ci: u8) -> Result<(), EncodeError> {
        let info = tpl::ci_info(ci);
        let given = match self.header {
            Header::None => CiHeader::None,
            Header::Short => CiHeader::Short,
            Header::Long(_) => CiHeader::Long,
        };
        if info.header != given {
            return Err(EncodeError::CiHeaderMismatch {
                ci,
                announced: info.header,
                given,
            });
        }
        if matches!(info.payload, CiPayload::Reserved) {
            return Err(EncodeError::ReservedCi { ci });
        }
        Ok(())
    }
}

