//! EN 13757-4 wireless M-Bus data link layer: CRC-16/EN-13757, frame formats A and B, and the
//! 10-byte link header (L, C, M, A).
//!
//! Byte layouts (see `shared/vectors/security-notes.md` §a, all verified by vectors):
//!
//! * Format A: block 1 = `L C M(2) A(6)` + CRC; then 16-byte blocks + CRC each; the last block
//!   holds 1..16 bytes + CRC. `L` counts the bytes after `L` **without** CRCs.
//! * Format B: `L C M A CI ...` with one CRC at the end when `L + 1 <= 128`, else one CRC at
//!   offset 126 (covering bytes 0..126) and one at the end (covering bytes 128..). `L` counts
//!   everything after `L` **including** the CRCs.
//! * CRCs are sent high byte first.
//!
//! [`parse_wmbus`] returns the link header and the data after it (from the first CI field on)
//! with all CRCs removed. When the input carries no CRCs the data is borrowed (no allocation).

use std::borrow::Cow;
use std::fmt;

/// CRC-16/EN-13757 from the `crc` crate, slice-by-16 tables: sixteen independent lookups per
/// step instead of a chain of dependent ones (the CRC is on the hot path of every wireless
/// frame, and auto-detection may run it twice).
static CRC: crc::Crc<u16, crc::Table<16>> = crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_EN_13757);

/// CRC-16/EN-13757 (poly 0x3D65, init 0x0000, no reflection, xorout 0xFFFF) over `data`.
///
/// Check value: `crc16_en13757(b"123456789") == 0xC2B7`. Used for the wireless DLL block CRCs
/// (sent big-endian) and the ELL payload CRC (sent little-endian).
#[inline]
pub fn crc16_en13757(data: &[u8]) -> u16 {
    CRC.checksum(data)
}

/// How the DLL CRCs were (or should be) laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameFormat {
    /// Frame format A (modes T, S, C with FFA...): a CRC after block 1 and every 16 bytes.
    A,
    /// Frame format B (modes C, N): one or two CRCs, `L` includes them.
    B,
    /// The receiver already removed the CRCs (rtl-wmbus, many dongles); `L` counts data bytes.
    /// No integrity was checked at this layer.
    NoCrc,
}

/// Which format the caller expects. `Auto` tries A, then B, then "no CRCs" (see [`parse_wmbus`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FormatHint {
    /// Detect the format from the CRCs and the length.
    #[default]
    Auto,
    /// Frame format A only.
    A,
    /// Frame format B only.
    B,
    /// The CRCs are already removed; nothing is verified.
    NoCrc,
    /// Format A or B, detected, with their CRCs verified: never the unchecked CRC-less reading
    /// (a source known to carry DLL CRCs, or `strict` decoding).
    Crc,
}

/// Errors of the wireless link layer. Offsets are byte offsets into the frame passed in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WmbusError {
    /// The frame is shorter than its L field (or than the minimal 10-byte header) demands.
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// `L` is too small to hold the link header (and, for format B, the CRC).
    BadLength {
        /// The L field as received.
        l: u8,
    },
    /// A block CRC does not match. `block` is 1-based (block 1 = link header), `offset` is where
    /// the block's CRC sits in the frame.
    BlockCrc {
        /// The frame format whose CRC layout was checked.
        format: FrameFormat,
        /// 1-based block number (block 1 = link header).
        block: usize,
        /// Offset of the block's CRC in the frame.
        offset: usize,
        /// CRC computed over the block.
        expected: u16,
        /// CRC the frame carries.
        found: u16,
    },
}

impl fmt::Display for WmbusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WmbusError::Truncated { needed, available } => {
                write!(f, "wM-Bus frame truncated: needs {needed} bytes, has {available}")
            }
            WmbusError::BadLength { l } => write!(f, "wM-Bus L field {l:#04x} too small"),
            WmbusError::BlockCrc { format, block, offset, expected, found } => write!(
                f,
                "wM-Bus frame format {format:?}: CRC of block {block} at offset {offset} is {found:04X}, expected {expected:04X}"
            ),
        }
    }
}

impl std::error::Error for WmbusError {}

impl WmbusError {
    /// Byte offset of the problem in the frame.
    pub fn offset(&self) -> usize {
        match *self {
            WmbusError::Truncated { available, .. } => available,
            WmbusError::BadLength { .. } => 0,
            WmbusError::BlockCrc { offset, .. } => offset,
        }
    }
}

/// C-field values of EN 13757-4 (function codes, with the FCB/FCV bits as commonly transmitted).
pub mod c_field {
    /// SND_NKE: link reset after communication.
    pub const SND_NKE: u8 = 0x40;
    /// SND_UD: send user data (command) to the meter; 0x73 with FCB set.
    pub const SND_UD: u8 = 0x53;
    /// SND_UD2: send command with subsequent response.
    pub const SND_UD2: u8 = 0x43;
    /// SND_NR: send spontaneous or periodic data without request (no reply).
    pub const SND_NR: u8 = 0x44;
    /// SND_UD3: send command to multiple meters (no reply); 0x75 with FCB set.
    pub const SND_UD3: u8 = 0x55;
    /// SND_IR: send installation request (manually triggered installation data).
    pub const SND_IR: u8 = 0x46;
    /// ACC_NR: no data, only an access opportunity for a bidirectional meter.
    pub const ACC_NR: u8 = 0x47;
    /// ACC_DMD: access demand from the meter.
    pub const ACC_DMD: u8 = 0x48;
    /// REQ_UD1: request class 1 (alarm) data; 0x7A with FCB set.
    pub const REQ_UD1: u8 = 0x5A;
    /// REQ_UD2: request class 2 (user) data; 0x7B with FCB set.
    pub const REQ_UD2: u8 = 0x5B;
    /// ACK: acknowledgement.
    pub const ACK: u8 = 0x00;
    /// NACK: negative acknowledgement.
    pub const NACK: u8 = 0x01;
    /// CNF_IR: confirms an installation request.
    pub const CNF_IR: u8 = 0x06;
    /// RSP_UD: response with user data after a request.
    pub const RSP_UD: u8 = 0x08;
}

/// Name of a wireless C-field (EN 13757-4 Table "C-field"), ignoring the FCB bit (0x20) of the
/// SND_UD/REQ_UD family. `None` for values the standard does not name.
pub fn c_field_name(c: u8) -> Option<&'static str> {
    use c_field::*;
    let base = match c {
        0x73 | 0x75 | 0x7A | 0x7B => c & !0x20,
        _ => c,
    };
    Some(match base {
        SND_NKE => "SND_NKE",
        SND_UD => "SND_UD",
        SND_UD2 => "SND_UD2",
        SND_NR => "SND_NR",
        SND_UD3 => "SND_UD3",
        SND_IR => "SND_IR",
        ACC_NR => "ACC_NR",
        ACC_DMD => "ACC_DMD",
        REQ_UD1 => "REQ_UD1",
        REQ_UD2 => "REQ_UD2",
        ACK => "ACK",
        NACK => "NACK",
        CNF_IR => "CNF_IR",
        RSP_UD => "RSP_UD",
        _ => return None,
    })
}

/// A parsed wireless M-Bus frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WmbusFrame<'a> {
    /// Which CRC layout the frame had.
    pub format: FrameFormat,
    /// The L field as received.
    pub l: u8,
    /// C field (see [`c_field_name`]).
    pub c: u8,
    /// Manufacturer (M field, sent LE).
    pub m: u16,
    /// Identification number, 4 bytes as on air (LE BCD).
    pub id: [u8; 4],
    /// Version (generation) of the device, from the A field.
    pub version: u8,
    /// Device type (medium) from the A field (EN 13757-7 7.5.4, see
    /// [`device_type_name`](crate::mbus::tpl::device_type_name)).
    pub device_type: u8,
    /// Bytes after the 10-byte link header (first CI field onwards), CRCs removed.
    pub data: Cow<'a, [u8]>,
    /// Number of bytes after the L-delimited frame that were ignored (RSSI bytes, padding...).
    pub trailing: usize,
}

impl WmbusFrame<'_> {
    /// Identification number as a decimal value if it is valid BCD.
    pub fn id_bcd(&self) -> Option<u32> {
        let mut v = 0u32;
        for &b in self.id.iter().rev() {
            let (hi, lo) = (b >> 4, b & 0x0F);
            if hi > 9 || lo > 9 {
                return None;
            }
            v = v * 100 + u32::from(hi) * 10 + u32::from(lo);
        }
        Some(v)
    }
}

/// Total on-air length of a format-A frame with L field `l` (CRCs included).
#[inline]
pub fn frame_a_len(l: u8) -> usize {
    let l = usize::from(l);
    let data_after_block1 = l.saturating_sub(9);
    1 + l + 2 * (1 + data_after_block1.div_ceil(16))
}

fn read_crc(frame: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([frame[at], frame[at + 1]])
}

/// Verify format-A CRCs of `frame` (which holds at least [`frame_a_len`] bytes) and append the
/// data bytes after the link header to `out`.
fn strip_a(frame: &[u8], l: u8, out: &mut Vec<u8>) -> Result<(), WmbusError> {
    let total = frame_a_len(l);
    if frame.len() < total {
        return Err(WmbusError::Truncated {
            needed: total,
            available: frame.len(),
        });
    }
    // block 1
    check_block(frame, FrameFormat::A, 1, 0, 10)?;
    let mut pos = 12;
    let mut remaining = usize::from(l) - 9;
    let mut block = 2;
    out.reserve(remaining);
    while remaining > 0 {
        let n = remaining.min(16);
        check_block(frame, FrameFormat::A, block, pos, n)?;
        out.extend_from_slice(&frame[pos..pos + n]);
        pos += n + 2;
        remaining -= n;
        block += 1;
    }
    Ok(())
}

#[inline]
fn check_block(
    frame: &[u8],
    format: FrameFormat,
    block: usize,
    start: usize,
    len: usize,
) -> Result<(), WmbusError> {
    let expected = crc16_en13757(&frame[start..start + len]);
    let found = read_crc(frame, start + len);
    if expected != found {
        return Err(WmbusError::BlockCrc {
            format,
            block,
            offset: start + len,
            expected,
            found,
        });
    }
    Ok(())
}

/// Verify format-B CRCs of `frame[..l+1]` and append the data after the link header to `out`.
fn strip_b(frame: &[u8], l: u8, out: &mut Vec<u8>) -> Result<(), WmbusError> {
    let total = usize::from(l) + 1;
    if total < 12 {
        return Err(WmbusError::BadLength { l });
    }
    if frame.len() < total {
        return Err(WmbusError::Truncated {
            needed: total,
            available: frame.len(),
        });
    }
    if total <= 128 {
        check_block(frame, FrameFormat::B, 2, 0, total - 2)?;
        out.extend_from_slice(&frame[10..total - 2]);
    } else {
        if total < 131 {
            // a second block must hold at least one byte plus its CRC
            return Err(WmbusError::BadLength { l });
        }
        check_block(frame, FrameFormat::B, 2, 0, 126)?;
        check_block(frame, FrameFormat::B, 3, 128, total - 2 - 128)?;
        out.reserve(total - 14);
        out.extend_from_slice(&frame[10..126]);
        out.extend_from_slice(&frame[128..total - 2]);
    }
    Ok(())
}

/// Remove and verify the DLL CRCs of a format-A frame: returns `L C M A data...` without CRCs,
/// L unchanged. Trailing bytes after the frame are dropped.
pub fn strip_crcs_a(frame: &[u8]) -> Result<Vec<u8>, WmbusError> {
    let l = *frame.first().ok_or(WmbusError::Truncated {
        needed: 1,
        available: 0,
    })?;
    if l < 9 {
        return Err(WmbusError::BadLength { l });
    }
    let mut out = Vec::with_capacity(usize::from(l) + 1);
    out.extend_from_slice(&frame[..10.min(frame.len())]);
    strip_a(frame, l, &mut out)?;
    Ok(out)
}

/// Remove and verify the DLL CRCs of a format-B frame: returns `L C M A data...` without CRCs.
/// The L field is left as received (it still counts the CRC bytes).
pub fn strip_crcs_b(frame: &[u8]) -> Result<Vec<u8>, WmbusError> {
    let l = *frame.first().ok_or(WmbusError::Truncated {
        needed: 1,
        available: 0,
    })?;
    let mut out = Vec::with_capacity(usize::from(l) + 1);
    out.extend_from_slice(&frame[..10.min(frame.len())]);
    strip_b(frame, l, &mut out)?;
    Ok(out)
}

/// Add format-A CRCs to `frame` = `L C M A data...` (no CRCs; `L` must equal `frame.len() - 1`).
/// Counterpart of [`strip_crcs_a`] for the encoder.
pub fn add_crcs_a(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 2 * (2 + frame.len() / 16));
    for chunk in std::iter::once(&frame[..10.min(frame.len())])
        .chain(frame.get(10..).unwrap_or(&[]).chunks(16))
    {
        out.extend_from_slice(chunk);
        out.extend_from_slice(&crc16_en13757(chunk).to_be_bytes());
    }
    out
}

/// Add format-B CRCs to `frame` = `L C M A CI data...` (no CRCs; `L` is ignored and rewritten to
/// count the CRC bytes as format B requires). Counterpart of [`strip_crcs_b`].
///
/// Panics if the frame would exceed 256 bytes (L > 255).
pub fn add_crcs_b(frame: &[u8]) -> Vec<u8> {
    let n = frame.len();
    let total = if n + 2 <= 128 { n + 2 } else { n + 4 };
    assert!(total <= 256, "format B frame too long");
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(frame);
    out[0] = (total - 1) as u8;
    if total <= 128 {
        let crc = crc16_en13757(&out[..n]);
        out.extend_from_slice(&crc.to_be_bytes());
    } else {
        let crc1 = crc16_en13757(&out[..126]);
        let tail = out.split_off(126);
        out.extend_from_slice(&crc1.to_be_bytes());
        out.extend_from_slice(&tail);
        let crc2 = crc16_en13757(&out[128..]);
        out.extend_from_slice(&crc2.to_be_bytes());
    }
    out
}

/// Build a wireless frame `L C M A body` (EN 13757-4 clause 5.2: `address` = `M(2) ID(4) ver
/// type` as sent) with the DLL CRCs of `format` ([`add_crcs_a`], [`add_crcs_b`]; none for
/// `NoCrc`). `None` if the frame does not fit the L field (255 bytes after L, CRCs of format B
/// included). The encoder counterpart of [`parse_wmbus`].
pub fn build_frame(c: u8, address: &[u8; 8], body: &[u8], format: FrameFormat) -> Option<Vec<u8>> {
    let n = body.len() + 10;
    let too_long = match format {
        FrameFormat::A | FrameFormat::NoCrc => n > 256,
        FrameFormat::B => (if n + 2 <= 128 { n + 2 } else { n + 4 }) > 256,
    };
    if too_long {
        return None;
    }
    let mut f = Vec::with_capacity(n + 40);
    f.push((n - 1) as u8);
    f.push(c);
    f.extend_from_slice(address);
    f.extend_from_slice(body);
    Some(match format {
        FrameFormat::A => add_crcs_a(&f),
        FrameFormat::B => add_crcs_b(&f),
        FrameFormat::NoCrc => f,
    })
}

/// Parse a wireless M-Bus frame.
///
/// `frame`: the bytes as received, starting at the L field (no preamble/sync word), with or
/// without DLL CRCs; bytes after the L-delimited frame are tolerated and counted in
/// [`WmbusFrame::trailing`].
///
/// `hint`:
/// * `A`, `B`, `NoCrc`: parse exactly that layout; a CRC failure is reported with its block.
/// * `Auto`: if all format-A CRCs check, A; else if all format-B CRCs check, B; else, when the
///   frame is too short to be format A, "CRCs already removed" (`NoCrc`: nothing is verified);
///   else (long enough to be format A but a CRC fails) the format-A CRC error.
///   Note that a corrupted format-B frame cannot be told from a CRC-less frame by its length;
///   pass `FormatHint::B` when the radio reports frame format B.
///
/// The returned `data` borrows from `frame` for `NoCrc` and is owned otherwise.
pub fn parse_wmbus(frame: &[u8], hint: FormatHint) -> Result<WmbusFrame<'_>, WmbusError> {
    if frame.len() < 10 {
        return Err(WmbusError::Truncated {
            needed: 10,
            available: frame.len(),
        });
    }
    let l = frame[0];
    if l < 9 {
        return Err(WmbusError::BadLength { l });
    }
    let (format, data, used) = match hint {
        FormatHint::A => {
            let mut v = Vec::new();
            strip_a(frame, l, &mut v)?;
            (FrameFormat::A, Cow::Owned(v), frame_a_len(l))
        }
        FormatHint::B => {
            let mut v = Vec::new();
            strip_b(frame, l, &mut v)?;
            (FrameFormat::B, Cow::Owned(v), usize::from(l) + 1)
        }
        FormatHint::NoCrc => no_crc(frame, l)?,
        FormatHint::Auto | FormatHint::Crc => detect(frame, l, hint == FormatHint::Crc)?,
    };
    Ok(WmbusFrame {
        format,
        l,
        c: frame[1],
        m: u16::from_le_bytes([frame[2], frame[3]]),
        id: [frame[4], frame[5], frame[6], frame[7]],
        version: frame[8],
        device_type: frame[9],
        data,
        trailing: frame.len() - used,
    })
}

/// A frame with a verifying format-A or format-B CRC structure, else (unless `crc_required`)
/// the CRC-less reading. A frame whose format-A structure is recognisable (a data block's CRC
/// verifies at its place for this frame's length, or block 1's does) but fails is rejected:
/// a corrupted L field or data byte must not turn a format-A frame into a "CRCs removed" one.
fn detect(frame: &[u8], l: u8, crc_required: bool) -> Result<(FrameFormat, Cow<'_, [u8]>, usize), WmbusError> {
    let len_a = frame_a_len(l);
    let mut v = Vec::new();
    let a_result = (frame.len() >= len_a).then(|| strip_a(frame, l, &mut v));
    if let Some(Ok(())) = a_result {
        return Ok((FrameFormat::A, Cow::Owned(v), len_a));
    }
    v.clear();
    let b_result = (frame.len() > usize::from(l)).then(|| strip_b(frame, l, &mut v));
    if let Some(Ok(())) = b_result {
        return Ok((FrameFormat::B, Cow::Owned(v), usize::from(l) + 1));
    }
    if let Some(Err(e)) = a_result {
        return Err(e);
    }
    if block1_crc_ok(frame) {
        // Block 1 carries a valid format-A CRC (a 1 in 65536 chance otherwise): this is a
        // format-A frame cut short, not a CRC-less one.
        return Err(WmbusError::Truncated { needed: len_a, available: frame.len() });
    }
    if let Some(e) = format_a_shaped(frame) {
        return Err(e);
    }
    match b_result {
        Some(Err(e)) if crc_required => Err(e),
        _ if crc_required => Err(WmbusError::Truncated { needed: len_a, available: frame.len() }),
        _ => no_crc(frame, l),
    }
}

fn block1_crc_ok(frame: &[u8]) -> bool {
    frame.len() >= 12 && crc16_en13757(&frame[..10]) == u16::from_be_bytes([frame[10], frame[11]])
}

/// Format A's data blocks (EN 13757-4 Annex, 16 bytes + CRC after block 1's 10 + CRC) do not
/// cover the L field: when block 2's CRC verifies where this frame's length puts it, the frame
/// is format A whatever its L says. Returns the CRC error of block 1 then (a 1 in 65536 chance
/// for a CRC-less frame).
fn format_a_shaped(frame: &[u8]) -> Option<WmbusError> {
    let end = if frame.len() >= 30 { 30 } else { frame.len() };
    if end < 15 {
        return None;
    }
    let (data, crc) = frame[12..end].split_at(end - 14);
    if crc16_en13757(data) != u16::from_be_bytes([crc[0], crc[1]]) {
        return None;
    }
    Some(WmbusError::BlockCrc {
        format: FrameFormat::A,
        block: 1,
        offset: 10,
        expected: crc16_en13757(&frame[..10]),
        found: u16::from_be_bytes([frame[10], frame[11]]),
    })
}

fn no_crc(frame: &[u8], l: u8) -> Result<(FrameFormat, Cow<'_, [u8]>, usize), WmbusError> {
    let total = usize::from(l) + 1;
    if frame.len() < total {
        return Err(WmbusError::Truncated {
            needed: total,
            available: frame.len(),
        });
    }
    Ok((FrameFormat::NoCrc, Cow::Borrowed(&frame[10..total]), total))
}

#[cfg(test)]
mod tests {
    //! Unit tests; the public-vector tests (frames A/B, CRC catalogue values) are in
    //! `security::tests` (they read `tests/vectors/security/*.json`).
    use super::*;

    proptest::proptest! {
        #[test]
        fn crc_matches_the_bitwise_definition(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            // EN 13757-4: polynomial 0x3D65, MSB first, register starts at 0, result inverted.
            let mut crc: u16 = 0;
            for &b in &data {
                crc ^= u16::from(b) << 8;
                for _ in 0..8 {
                    crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x3D65 } else { crc << 1 };
                }
            }
            proptest::prop_assert_eq!(crc16_en13757(&data), !crc);
        }
    }

    #[test]
    fn wmbus_crc_check_value() {
        assert_eq!(crc16_en13757(b"123456789"), 0xC2B7);
        assert_eq!(crc16_en13757(&[]), 0xFFFF);
    }

    #[test]
    fn wmbus_round_trip_all_lengths() {
        for l in 9u8..=250 {
            let mut f: Vec<u8> = (0..=l).map(|i| i.wrapping_mul(37)).collect();
            f[0] = l;
            let a = add_crcs_a(&f);
            assert_eq!(a.len(), frame_a_len(l));
            let p = parse_wmbus(&a, FormatHint::Auto).unwrap();
            assert_eq!(
                (p.format, &p.data[..], p.trailing),
                (FrameFormat::A, &f[10..], 0)
            );
            if f.len() + 4 <= 256 {
                let b = add_crcs_b(&f);
                let p = parse_wmbus(&b, FormatHint::B).unwrap();
                assert_eq!((p.format, &p.data[..]), (FrameFormat::B, &f[10..]));
                assert_eq!(strip_crcs_b(&b).unwrap()[1..], f[1..]); // L keeps counting the CRCs
            }
            assert_eq!(strip_crcs_a(&a).unwrap(), f);
        }
    }

    #[test]
    fn wmbus_c_field_names() {
        for (c, n) in [
            (0x44, "SND_NR"),
            (0x46, "SND_IR"),
            (0x47, "ACC_NR"),
            (0x48, "ACC_DMD"),
            (0x5A, "REQ_UD1"),
            (0x7B, "REQ_UD2"),
            (0x08, "RSP_UD"),
            (0x73, "SND_UD"),
            (0x40, "SND_NKE"),
            (0x06, "CNF_IR"),
            (0x00, "ACK"),
        ] {
            assert_eq!(c_field_name(c), Some(n));
        }
        assert_eq!(c_field_name(0xFF), None);
    }

    #[test]
    fn wmbus_short_inputs() {
        assert_eq!(
            parse_wmbus(&[], FormatHint::Auto),
            Err(WmbusError::Truncated {
                needed: 10,
                available: 0
            })
        );
        assert_eq!(
            parse_wmbus(&[5; 12], FormatHint::Auto),
            Err(WmbusError::BadLength { l: 5 })
        );
        let mut f = vec![0x20u8; 20];
        f[0] = 0x20;
        assert!(matches!(
            parse_wmbus(&f, FormatHint::NoCrc),
            Err(WmbusError::Truncated { needed: 33, .. })
        ));
    }

    #[test]
    fn truncated_format_a_is_not_taken_for_crc_less() {
        // A format-A frame cut by 1..=3 bytes is still long enough to hold L+1 bytes; its valid
        // block-1 CRC shows it is format A, so it must be rejected, not read as CRC-less.
        for l in [0x20u8, 0x34, 0x60] {
            let mut f: Vec<u8> = (0..=l).map(|i| i.wrapping_mul(11)).collect();
            f[0] = l;
            let a = add_crcs_a(&f);
            for cut in 1..=3 {
                let e = parse_wmbus(&a[..a.len() - cut], FormatHint::Auto).unwrap_err();
                assert!(matches!(e, WmbusError::Truncated { .. } | WmbusError::BlockCrc { .. }), "{e}");
            }
        }
    }
}
