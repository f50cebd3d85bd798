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
    /// Mode 7: content index III (bits 2..0).
    pub content_index: u8,
    /// Mode 7: padding bit P (bit 3).
    pub padding: bool,
    /// What is encrypted.
    pub encrypted: EncryptedLength,
    /// Z bit: a 4-byte TPL message counter follows (modes 7–10).
    pub counter_present: bool,
    /// Raw configuration-field extension (modes 7–10).
    pub ext: u16,
    /// Length of the extension in bytes (0 if absent).
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
    let mut c = SecurityConfig::blank(raw, at);
    let pos = match c.mode {
        0 | 2 | 3 | 5 | 15 => {
            parse_block_mode(&mut c);
            at + 2
        }
        7 => parse_mode7(buf, at + 2, &mut c)?,
        8..=10 => parse_counter_mode(buf, at + 2, &mut c)?,
        _ => at + 2,
    };
    c.payload_offset = pos;
    Ok(c)
}

/// Modes 0/2/3/5/15: `B A S MMMMM NNNN CC R H` (§7.5.8; DSMR P2 §5.1 for mode 15's `HH`).
#[inline]
fn parse_block_mode(c: &mut SecurityConfig) {
    let raw = c.raw;
    c.bidirectional = raw & 0x8000 != 0;
    c.accessibility = raw & 0x4000 != 0;
    c.synchronous = raw & 0x2000 != 0;
    let n = ((raw >> 4) & 0x0F) as u8;
    c.content = ((raw >> 2) & 0x03) as u8;
    if c.mode == 15 {
        // DSMR P2 §5.1: bits 1..0 = hop counter HH.
        c.hop_count = (raw & 0x03) as u8;
    } else {
        c.repeater_access = raw & 0x02 != 0;
        c.hop_count = (raw & 0x01) as u8;
    }
    c.encrypted = match c.mode {
        0 => EncryptedLength::None,
        2 | 3 => EncryptedLength::DesBlocks(n),
        _ => EncryptedLength::AesBlocks(n),
    };
}

/// Mode 7 (§7.6.3): `CC Z MMMMM NNNN P III`, extension `0 V DD KKKK` at `pos`, then
/// `[MC(4) if Z] [key version if V]`. Returns the offset after the optional fields.
#[inline]
fn parse_mode7(buf: &[u8], mut pos: usize, c: &mut SecurityConfig) -> Result<usize, SecurityError> {
    let raw = c.raw;
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
    Ok(pos)
}

/// Modes 8/9/10 (§7.6.4, the mode-10 shape): `CC Z MMMMM LLLLLLLL`, 2-byte extension
/// `T(9..8) V DD KKKK` at `pos`, then `[key version if V] [MC(4) if Z]`. Returns the offset after
/// the optional fields.
#[inline]
fn parse_counter_mode(buf: &[u8], mut pos: usize, c: &mut SecurityConfig) -> Result<usize, SecurityError> {
    let raw = c.raw;
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
    c.tag_len = tag_len_of(c.mode, ((ext >> 8) & 0x03) as u8);
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
    Ok(pos)
}

/// The AEAD tag length (bytes) that extension code T gives in `mode`: mode 10 `4 + 4·T`;
/// mode 9 12 for T = 0 [?] (the only source says "tag 12 bytes"; a non-zero code is honoured);
/// 0 for mode 8 (no tag).
fn tag_len_of(mode: u8, t: u8) -> u8 {
    match mode {
        10 => 4 + 4 * t,
        9 if t == 0 => 12,
        9 => 4 + 4 * t,
        _ => 0,
    }
}

/// The extension code T for a `tag_len`-byte tag in `mode` (the inverse of the parser's mapping;
/// mode 8 has no tag): `None` if the mode does not allow that length.
pub fn tag_code(mode: u8, tag_len: u8) -> Option<u8> {
    match (mode, tag_len) {
        (8, 0) | (9, 12) => Some(0),
        (9, 16) => Some(3),
        (10, 4 | 8 | 12 | 16) => Some(tag_len / 4 - 1),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Building: the encoder counterpart of `parse_config`
// ---------------------------------------------------------------------------------------------

impl SecurityConfig {
    /// A configuration of `raw` (mode from bits 12..8) with every other field zero or absent; the
    /// CFG at `at`, nothing after it.
    const fn blank(raw: u16, at: usize) -> Self {
        SecurityConfig {
            raw,
            mode: ((raw >> 8) & 0x1F) as u8,
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
        }
    }

    /// A configuration of security `mode` to fill in for the encoder (`SecurityConfig { ..,
    /// ..SecurityConfig::new(mode) }`), then [`packed`](Self::packed) and
    /// [`write`](Self::write). Every other field is zero or absent, the CFG at offset 0.
    pub const fn new(mode: u8) -> Self {
        SecurityConfig::blank((mode as u16 & 0x1F) << 8, 0)
    }

    /// The same configuration with `raw`, `ext`, `ext_len` and `payload_offset` computed from the
    /// other fields, as [`parse_config`] of [`write`](Self::write)'s bytes at `cfg_offset` gives them.
    pub fn packed(mut self) -> Self {
        self.raw = self.cfg_word();
        self.ext = self.ext_word();
        self.ext_len = match self.mode {
            7 => 1,
            8..=10 => 2,
            _ => 0,
        };
        let optional = 4 * usize::from(self.message_counter.is_some()) + usize::from(self.key_version.is_some());
        self.payload_offset = self.cfg_offset + 2 + usize::from(self.ext_len) + optional;
        self
    }

    /// The 16-bit configuration field of these fields (the layouts of the module table). For a
    /// mode without a known layout: `raw` as it is.
    pub fn cfg_word(&self) -> u16 {
        let cc = u16::from(self.content & 0x03);
        let z = u16::from(self.counter_present) << 13;
        let mode = u16::from(self.mode & 0x1F) << 8;
        match self.mode {
            0 | 2 | 3 | 5 | 15 => {
                let low = if self.mode == 15 {
                    self.hop_count & 0x03
                } else {
                    u8::from(self.repeater_access) << 1 | (self.hop_count & 0x01)
                };
                block_cfg_word(self.mode, self.blocks(), self.bidirectional, self.accessibility, self.synchronous, self.content)
                    | u16::from(low)
            }
            7 => {
                let p = u16::from(self.padding) << 3;
                cc << 14 | z | mode | u16::from(self.blocks() & 0x0F) << 4 | p | u16::from(self.content_index & 0x07)
            }
            8..=10 => {
                let l = match self.encrypted {
                    EncryptedLength::Bytes(l) => l,
                    _ => 0xFF,
                };
                cc << 14 | z | mode | u16::from(l)
            }
            _ => self.raw,
        }
    }

    /// The configuration-field extension of these fields: mode 7 `0 V DD KKKK`, modes 8–10
    /// `T(9..8) V DD KKKK` with T from [`tag_code`]; 0 for the other modes.
    pub fn ext_word(&self) -> u16 {
        let v = u16::from(self.key_version.is_some()) << 6;
        let low = v | u16::from(self.kdf & 0x03) << 4 | u16::from(self.key_id & 0x0F);
        match self.mode {
            7 => low,
            8..=10 => u16::from(tag_code(self.mode, self.tag_len).unwrap_or(0)) << 8 | low,
            _ => 0,
        }
    }

    /// N of the block modes: the encrypted 16-byte blocks (0 for the other lengths).
    fn blocks(&self) -> u8 {
        match self.encrypted {
            EncryptedLength::AesBlocks(n) | EncryptedLength::DesBlocks(n) => n,
            _ => 0,
        }
    }

    /// Append the configuration field, its extension and the optional TPL header fields in the
    /// mode's order (mode 7: MC then key version; modes 8–10: key version then MC). The CFG and
    /// the extension are computed from the fields ([`cfg_word`](Self::cfg_word),
    /// [`ext_word`](Self::ext_word)); the counter is written if `message_counter` is `Some`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cfg_word().to_le_bytes());
        let ext = self.ext_word().to_le_bytes();
        let mc = self.message_counter.map(u32::to_le_bytes);
        match self.mode {
            7 => {
                out.push(ext[0]);
                out.extend(mc.iter().flatten());
                out.extend(self.key_version);
            }
            8..=10 => {
                out.extend_from_slice(&ext);
                out.extend(self.key_version);
                out.extend(mc.iter().flatten());
            }
            _ => {}
        }
    }
}

/// `B A S MMMMM NNNN CC 0 0`: the configuration field of modes 0/2/3/5/15 without R and H.
fn block_cfg_word(mode: u8, blocks: u8, bidirectional: bool, accessibility: bool, synchronous: bool, content: u8) -> u16 {
    (u16::from(bidirectional) << 15)
        | (u16::from(accessibility) << 14)
        | (u16::from(synchronous) << 13)
        | (u16::from(mode & 0x1F) << 8)
        | (u16::from(blocks & 0x0F) << 4)
        | (u16::from(content & 0x03) << 2)
}

/// Build the 2-byte configuration field for modes 0/5/15 (`B A S M NNNN CC R H`, R = H = 0).
pub fn encode_config_mode5(
    mode: u8,
    blocks: u8,
    bidirectional: bool,
    accessibility: bool,
    synchronous: bool,
    content: u8,
) -> [u8; 2] {
    block_cfg_word(mode, blocks, bidirectional, accessibility, synchronous, content).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse_config(write(c)) == c` and `write(parse_config(b)) == b` for every mode's layout.
    #[test]
    fn round_trip_every_mode() {
        let cases: &[&[u8]] = &[
            &[0x00, 0x00],                                                // mode 0
            &[0x0B, 0x80],                                                // mode 0: B, CC, R, H
            &[0x10, 0x02],                                                // mode 2, N = 1
            &[0x34, 0xE3],                                                // mode 3: B A S, N = 3, CC 1
            &[0x20, 0x25],                                                // mode 5: S, N = 2 (OMS N.2.1)
            &[0x30, 0x0F],                                                // mode 15 (DSMR B.1.3)
            &[0x33, 0x0F],                                                // mode 15, hop count 3
            &[0x20, 0x07, 0x10],                                          // mode 7, N = 2, KDF-A
            &[0x2F, 0xA7, 0x55, 0xB3, 0x0A, 0, 0, 0x09],                  // mode 7: Z, P, III, V, MC, KV
            &[0xFF, 0x08, 0x10, 0x00],                                    // mode 8, L = FF
            &[0x20, 0x69, 0x45, 0x03, 0x07, 1, 2, 3, 4],                  // mode 9: Z, L 0x20, tag 16, V
            &[0xFF, 0x09, 0x15, 0x00],                                    // mode 9, tag 12
            &[0xFF, 0x2A, 0x10, 0x01, 0x8C, 0x57, 0x0E, 0x00],            // mode 10 (KAW), tag 8, MC
            &[0x10, 0xCA, 0x4F, 0x03, 0x02],                              // mode 10: CC 3, L 16, tag 16, V
            &[0x10, 0x0A, 0x00, 0x00],                                    // mode 10, tag 4
        ];
        for &bytes in cases {
            let c = parse_config(bytes, 0).unwrap();
            assert_eq!(c.payload_offset, bytes.len(), "{bytes:02X?}");
            let mut out = Vec::new();
            c.write(&mut out);
            assert_eq!(out, bytes, "mode {}", c.mode);
            assert_eq!(parse_config(&out, 0).unwrap(), c);
            // `packed` of the semantic fields gives the same configuration
            let fresh = SecurityConfig { raw: 0, ext: 0, ext_len: 0, payload_offset: 0, ..c }.packed();
            assert_eq!(fresh, c, "mode {}", c.mode);
        }
    }

    #[test]
    fn builder_fields_of_every_mode() {
        // As the encoder fills them in: mode 5 CFG of OMS N.2.1, mode 7 of CEN/TR 17167 F.3.
        let c = SecurityConfig {
            synchronous: true,
            encrypted: EncryptedLength::AesBlocks(2),
            ..SecurityConfig::new(5)
        }
        .packed();
        let mut out = Vec::new();
        c.write(&mut out);
        assert_eq!(out, [0x20, 0x25]);
        assert_eq!(encode_config_mode5(5, 2, false, false, true, 0), [0x20, 0x25]);
        let c = SecurityConfig {
            encrypted: EncryptedLength::AesBlocks(2),
            kdf: 1,
            ..SecurityConfig::new(7)
        }
        .packed();
        out.clear();
        c.write(&mut out);
        assert_eq!(out, [0x20, 0x07, 0x10]);
        assert_eq!(parse_config(&out, 0).unwrap(), c);
        for (mode, tag) in [(8u8, 0u8), (9, 12), (9, 16), (10, 4), (10, 8), (10, 12), (10, 16)] {
            let c = SecurityConfig {
                tag_len: tag,
                encrypted: EncryptedLength::ToEnd,
                ..SecurityConfig::new(mode)
            }
            .packed();
            out.clear();
            c.write(&mut out);
            assert_eq!(parse_config(&out, 0).unwrap(), c, "mode {mode} tag {tag}");
        }
        assert_eq!(tag_code(9, 8), None);
        assert_eq!(tag_code(10, 6), None);
        assert_eq!(tag_code(8, 4), None);
    }
}
