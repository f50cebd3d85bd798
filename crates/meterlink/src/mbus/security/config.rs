//! TPL configuration field (CFG), its extension and the optional TPL header fields
//! (EN 13757-7 §7.5.8, §7.6, §7.7; DSMR P2 §5.1).
//!
//! CFG is 16 bits, sent LE. Bits 12..8 are the security mode in every mode; the rest depends on
//! the mode (bit numbers MSB = 15):
//!
//! | mode | layout | extension / optional fields |
//! |---|---|---|
//! | 0, 2, 3, 5, 15 | `B A S MMMMM NNNN CC R H` | none |
//! | 7 | `CC Z MMMMM NNNN P III` | ext 1 byte `0 V DD KKKK`; `[MC(4) if Z] [key version if V]` |
//! | 10 | `CC Z MMMMM LLLLLLLL` | ext 2 bytes: bits 9..8 tag code T, 6 V, 5..4 DD, 3..0 KKKK; `[key version if V] [MC(4) if Z]` |
//! | 8, 9 | as mode 10 (hypothesis, see below) | as mode 10 |
//!
//! * N = number of encrypted 16-byte blocks (modes 5, 7, 15) [V]; for DES (modes 2/3) this crate
//!   counts 8-byte DES blocks [?] (no vector; EN 13757-3:2004 text unavailable).
//! * L (modes 8/9/10) = number of encrypted bytes, 0xFF = everything up to the tag [V for 0xFF].
//! * Mode 10 tag length = 4 + 4·T bytes [V for T=1]. Mode 9 tag length: 12 bytes unless T says
//!   otherwise [?]. Mode 7 field order MC-then-key-version and mode 10 order
//!   key-version-then-MC follow the notes (§c.3 / §c.6); both are [S] only.
//! * Modes 8/9: EN 13757-7 §7.7.6/§7.7.7 were not available; their configuration is parsed with
//!   the mode-10 shape (the other counter-based modes) [?]. DSMR "mode 15" uses 4 mode bits with
//!   bit 12 = 0, which reads as 15 in the 5-bit field.

use super::SecurityError;

/// How many bytes the configuration field says are encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncryptedLength {
    /// No encryption (mode 0).
    None,
    /// N 16-byte AES blocks (modes 5, 7, 15).
    AesBlocks(u8),
    /// N 16-byte units of DES-CBC data (modes 2, 3): two DES blocks per unit.
    DesBlocks(u8),
    /// A byte count (modes 8, 9, 10).
    Bytes(u8),
    /// Everything up to the tag (modes 8, 9, 10 with 0xFF).
    ToEnd,
}

/// The decoded configuration field, its extension and the optional TPL header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SecurityConfig {
    /// The 16-bit configuration field.
    pub raw: u16,
    /// Security mode, bits 12..8.
    pub mode: u8,
    /// B bit (bidirectional), modes 0/2/3/5/15.
    pub bidirectional: bool,
    /// A bit (accessibility), modes 0/2/3/5/15.
    pub accessibility: bool,
    /// S bit (synchronous), modes 0/2/3/5/15.
    pub synchronous: bool,
    /// Content of message CC: bits 3..2 in modes 0/2/3/5/15, bits 15..14 in modes 7–10.
    pub content: u8,
    /// Hop count bit H (modes 0/2/3/5; DSMR mode 15 uses bits 1..0 as a hop counter).
    pub hop_count: u8,
    /// Repeater access bit R (modes 0/2/3/5).
    pub repeater_access: bool,
    /// Mode 7: content index III (bits 2..0) and padding bit P (bit 3).
    pub content_index: u8,
    pub padding: bool,
    /// What is encrypted.
    pub encrypted: EncryptedLength,
    /// Z bit: a 4-byte TPL message counter follows (modes 7–10).
    pub counter_present: bool,
    /// Raw configuration-field extension (modes 7–10) and its length in bytes (0 if absent).
    pub ext: u16,
    pub ext_len: u8,
    /// Key ID KKKK (from the extension).
    pub key_id: u8,
    /// KDF selection DD: 0 = persistent key, 1 = KDF-A, 2/3 reserved.
    pub kdf: u8,
    /// Key version byte, if the V bit announced one.
    pub key_version: Option<u8>,
    /// TPL message counter (LE on air), if present.
    pub message_counter: Option<u32>,
    /// Tag length in bytes for the AEAD modes 9/10 (0 otherwise).
    pub tag_len: u8,
    /// Offset (in the buffer given to [`parse_config`]) of the first byte after CFG, its
    /// extension and the optional fields: where the encrypted data starts.
    pub payload_offset: usize,
    /// Offset of the configuration field itself.
    pub cfg_offset: usize,
}

impl SecurityConfig {
    /// Number of encrypted bytes given `available` bytes after the security header (for the
    /// AEAD modes: excluding the tag). Errors if the CFG promises more than there is.
    pub fn encrypted_len(&self, available: usize) -> Result<usize, SecurityError> {
        let n = match self.encrypted {
            EncryptedLength::None => 0,
            EncryptedLength::AesBlocks(n) => usize::from(n) * 16,
            // N counts 16-byte units in the DES modes too: verified on the wmbusmeters
            // tests/test_des.sh telegram (CFG 0x0210, N = 1, 16 encrypted bytes, IV 0).
            EncryptedLength::DesBlocks(n) => usize::from(n) * 16,
            EncryptedLength::Bytes(n) => usize::from(n),
            EncryptedLength::ToEnd => available,
        };
        if n > available {
            return Err(SecurityError::BadEncryptedLength {
                offset: self.payload_offset,
                encrypted: n,
                available,
            });
        }
        Ok(n)
    }

    /// True if the configuration says that data is encrypted (mode != 0 and a non-zero length).
    pub fn is_encrypted(&self) -> bool {
        self.mode != 0
    }
}

fn need(buf: &[u8], at: usize, n: usize) -> Result<(), SecurityError> {
    if buf.len() < at + n {
        Err(SecurityError::Truncated {
            offset: at,
            needed: n,
            available: buf.len().saturating_sub(at),
        })
    } else {
        Ok(())
    }
}

/// The 4-byte little-endian TPL message counter at `buf[at..]`.
fn read_u32_le(buf: &[u8], at: usize) -> Result<u32, SecurityError> {
    need(buf, at, 4)?;
    Ok(u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]))
}

/// Parse the configuration field at `buf[at..]` plus its extension and the optional TPL header
/// fields (key version, message counter).
///
/// `buf`: typically the TPDU (bytes from the TPL CI to the end of the frame, CRCs removed) and
/// `at` the offset of the CFG inside it (3 after a short header `CI ACC STS`, 11 after a long
/// header `CI ID M ver type ACC STS`). All offsets in the result and errors are `buf`-relative.
///
/// Unknown/manufacturer modes parse (only the mode number is meaningful); the caller decides
/// whether it can handle them.
pub fn parse_config(buf: &[u8], at: usize) -> Result<SecurityConfig, SecurityError> {
    need(buf, at, 2)?;
    let raw = u16::from_le_bytes([buf[at], buf[at + 1]]);
    let mode = ((raw >> 8) & 0x1F) as u8;
    let mut c = SecurityConfig {
        raw,
        mode,
        bidirectional: false,
        accessibility: false,
        synchronous: false,
        content: 0,
        hop_count: 0,
        repeater_access: false,
        content_index: 0,
        padding: false,
        encrypted: EncryptedLength::None,
        counter_present: false,
        ext: 0,
        ext_len: 0,
        key_id: 0,
        kdf: 0,
        key_version: None,
        message_counter: None,
        tag_len: 0,
        payload_offset: at + 2,
        cfg_offset: at,
    };
    let mut pos = at + 2;
    match mode {
        0 | 2 | 3 | 5 | 15 => {
            c.bidirectional = raw & 0x8000 != 0;
            c.accessibility = raw & 0x4000 != 0;
            c.synchronous = raw & 0x2000 != 0;
            let n = ((raw >> 4) & 0x0F) as u8;
            c.content = ((raw >> 2) & 0x03) as u8;
            if mode == 15 {
                // DSMR P2 §5.1: bits 1..0 = hop counter HH.
                c.hop_count = (raw & 0x03) as u8;
            } else {
                c.repeater_access = raw & 0x02 != 0;
                c.hop_count = (raw & 0x01) as u8;
            }
            c.encrypted = match mode {
                0 => EncryptedLength::None,
                2 | 3 => EncryptedLength::DesBlocks(n),
                _ => EncryptedLength::AesBlocks(n),
            };
        }
        7 => {
            c.content = (raw >> 14) as u8;
            c.counter_present = raw & 0x2000 != 0;
            c.encrypted = EncryptedLength::AesBlocks(((raw >> 4) & 0x0F) as u8);
            c.padding = raw & 0x08 != 0;
            c.content_index = (raw & 0x07) as u8;
            need(buf, pos, 1)?;
            let ext = buf[pos];
            if ext & 0x80 != 0 {
                return Err(SecurityError::InvalidConfig {
                    offset: pos,
                    reason: "reserved bit 7 of the mode-7 extension is set",
                });
            }
            c.ext = u16::from(ext);
            c.ext_len = 1;
            c.key_id = ext & 0x0F;
            c.kdf = (ext >> 4) & 0x03;
            pos += 1;
            // Optional fields, order per notes §c.3 [S]: MC first, then key version.
            if c.counter_present {
                c.message_counter = Some(read_u32_le(buf, pos)?);
                pos += 4;
            }
            if ext & 0x40 != 0 {
                need(buf, pos, 1)?;
                c.key_version = Some(buf[pos]);
                pos += 1;
            }
        }
        8..=10 => {
            c.content = (raw >> 14) as u8;
            c.counter_present = raw & 0x2000 != 0;
            let l = (raw & 0xFF) as u8;
            c.encrypted = if l == 0xFF {
                EncryptedLength::ToEnd
            } else {
                EncryptedLength::Bytes(l)
            };
            need(buf, pos, 2)?;
            let ext = u16::from_le_bytes([buf[pos], buf[pos + 1]]);
            c.ext = ext;
            c.ext_len = 2;
            c.key_id = (ext & 0x0F) as u8;
            c.kdf = ((ext >> 4) & 0x03) as u8;
            let t = ((ext >> 8) & 0x03) as u8;
            c.tag_len = match mode {
                10 => 4 + 4 * t,
                // Mode 9 [?]: the only source says "tag 12 bytes"; honour a non-zero code.
                9 => {
                    if t == 0 {
                        12
                    } else {
                        4 + 4 * t
                    }
                }
                _ => 0,
            };
            pos += 2;
            // Optional fields, order per notes §c.6 [S]: key version first, then MC.
            if ext & 0x40 != 0 {
                need(buf, pos, 1)?;
                c.key_version = Some(buf[pos]);
                pos += 1;
            }
            if c.counter_present {
                c.message_counter = Some(read_u32_le(buf, pos)?);
                pos += 4;
            }
        }
        _ => {}
    }
    c.payload_offset = pos;
    Ok(c)
}

/// Build the 2-byte configuration field for modes 0/5/15 (`B A S M NNNN CC R H`).
pub fn encode_config_mode5(
    mode: u8,
    blocks: u8,
    bidirectional: bool,
    accessibility: bool,
    synchronous: bool,
    content: u8,
) -> [u8; 2] {
    let raw = (u16::from(bidirectional) << 15)
        | (u16::from(accessibility) << 14)
        | (u16::from(synchronous) << 13)
        | (u16::from(mode & 0x1F) << 8)
        | (u16::from(blocks & 0x0F) << 4)
        | (u16::from(content & 0x03) << 2);
    raw.to_le_bytes()
}
