//! Compact frames (CI 79h / 7Bh, wireless 73h, 84h/85h; EN 13757-3 Annex / OMS Vol. 2).
//!
//! A compact frame leaves out the DIB/VIB ("format") of every record and sends only
//!
//! ```text
//! format signature (2, LE) | full-frame CRC (2, LE) | the data fields, in format order
//! ```
//!
//! The format comes from an earlier full frame of the same kind, kept in a [`FormatCache`].
//! Rules (see docs/decisions.md):
//! - format signature = CRC-16/EN-13757 over the concatenated DIB+VIB bytes of the full
//!   frame's data records. Verified: three Kamstrup full/compact pairs from the wmbusmeters
//!   kamwater driver tests (signatures A8EDh, C412h, 0905h) all match.
//! - full-frame CRC = CRC-16/EN-13757 over a full frame's data records (DIB, VIB and data).
//!   In those pairs it is the CRC of the full frame the meter sent last, not of the compact
//!   frame's own values: the flowIQ pair (access numbers 56h, 57h) carries the earlier full
//!   frame's CRC 8054h although its flow value changed. So a compact frame is accepted when
//!   the CRC matches its expanded records **or** a full frame recently learnt with the same
//!   signature. Together with the signature and an exact fit of the data lengths this keeps
//!   a wrong or stale format from yielding records: it yields "format unknown" instead.

mod known;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::mbus::link::wmbus::crc16_en13757;
use crate::mbus::records::{Record, RecordKind};

/// Formats learnt from full frames, keyed by their signature. Bounded: when full, the oldest
/// half is forgotten. Shared between threads.
#[derive(Debug)]
pub struct FormatCache {
    inner: Mutex<CacheInner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct CacheInner {
    map: HashMap<u16, Entry>,
    tick: u64,
}

/// How many recent full-frame CRCs are remembered per format.
const RECENT_CRCS: usize = 8;

#[derive(Debug)]
struct Entry {
    last_use: u64,
    format: Arc<[u8]>,
    /// CRCs of the most recent full frames with this format, newest last.
    crcs: Vec<u16>,
}

impl Default for FormatCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl FormatCache {
    /// An empty cache holding at most `capacity` formats (at least 1).
    pub fn new(capacity: usize) -> Self {
        FormatCache { inner: Mutex::new(CacheInner::default()), capacity: capacity.max(1) }
    }

    /// Number of formats held.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.map.len()).unwrap_or(0)
    }

    /// True if no format is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Learn the format of a decoded full frame (`payload` is the buffer its records point
    /// into) and remember its full-frame CRC. Returns the signature, or None when the frame
    /// has nothing to learn.
    pub fn learn(&self, records: &[Record], payload: &[u8]) -> Option<u16> {
        let (format, full) = format_of(records, payload)?;
        let sig = crc16_en13757(&format);
        self.insert(sig, format, Some(crc16_en13757(&full)))
    }

    /// Remember `format` under `sig` (and a full frame's CRC with it), forgetting the older
    /// half of the formats (by last use) when the cache is full.
    fn insert(&self, sig: u16, format: Vec<u8>, crc: Option<u16>) -> Option<u16> {
        let mut g = self.inner.lock().ok()?;
        g.tick += 1;
        let tick = g.tick;
        if g.map.len() >= self.capacity && !g.map.contains_key(&sig) {
            let mut ticks: Vec<u64> = g.map.values().map(|v| v.last_use).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            g.map.retain(|_, v| v.last_use > cut);
        }
        let e = g.map.entry(sig).or_insert_with(|| Entry { last_use: tick, format: Arc::from(format), crcs: vec![] });
        e.last_use = tick;
        if let Some(crc) = crc {
            e.crcs.retain(|&c| c != crc);
            if e.crcs.len() == RECENT_CRCS {
                e.crcs.remove(0);
            }
            e.crcs.push(crc);
        }
        Some(sig)
    }

    /// The format with this signature and the CRCs of the recent full frames that had it.
    fn get(&self, signature: u16) -> Option<(Arc<[u8]>, Vec<u16>)> {
        let mut g = self.inner.lock().ok()?;
        g.tick += 1;
        let tick = g.tick;
        g.map.get_mut(&signature).map(|v| {
            v.last_use = tick;
            (v.format.clone(), v.crcs.clone())
        })
    }
}

/// The format (DIB+VIB bytes of the data records, in order) and the full-frame bytes the
/// full-frame CRC covers (the data records whole). Manufacturer blocks and fillers are in
/// neither. None when there are no data records.
fn format_of(records: &[Record], payload: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut f = Vec::new();
    let mut full = Vec::new();
    for r in records.iter().filter(|r| r.kind == RecordKind::Data) {
        f.extend_from_slice(r.dib.get(payload));
        f.extend_from_slice(r.vib.get(payload));
        full.extend_from_slice(r.dib.get(payload));
        full.extend_from_slice(r.vib.get(payload));
        full.extend_from_slice(r.data.get(payload));
    }
    (!f.is_empty()).then_some((f, full))
}

/// Why a compact frame could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// Fewer than 4 bytes: no signature and CRC.
    Truncated,
    /// No full frame with this format signature has been seen.
    UnknownFormat {
        /// The format signature the compact frame carries.
        signature: u16,
    },
    /// The format does not fit the data (lengths disagree).
    Mismatch {
        /// The format signature the compact frame carries.
        signature: u16,
    },
    /// The expanded records do not reproduce the full-frame CRC.
    BadCrc {
        /// The format signature the compact frame carries.
        signature: u16,
        /// The full-frame CRC the compact frame carries.
        expected: u16,
        /// The CRC computed over the expanded records.
        computed: u16,
    },
}

impl std::fmt::Display for CompactError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompactError::Truncated => f.write_str("compact frame shorter than its signature and CRC"),
            CompactError::UnknownFormat { signature } => {
                write!(f, "compact frame format {signature:04X} unknown: no full frame with it seen yet, and no built-in format")
            }
            CompactError::Mismatch { signature } => {
                write!(f, "compact frame data do not fit format {signature:04X}")
            }
            CompactError::BadCrc { signature, expected, computed } => write!(
                f,
                "compact frame with format {signature:04X}: full-frame CRC {expected:04X} expected, {computed:04X} computed"
            ),
        }
    }
}

/// Data-field length of a DIF (EN 13757-3 Table 4); None for LVAR (0xD) and special functions.
fn data_len(dif: u8) -> Option<usize> {
    Some(match dif & 0x0F {
        0x0 | 0x8 => 0,
        0x1 | 0x9 => 1,
        0x2 | 0xA => 2,
        0x3 | 0xB => 3,
        0x4 | 0x5 | 0xC => 4,
        0x6 | 0xE => 6,
        0x7 => 8,
        _ => return None,
    })
}

/// Length of an LVAR data field after its length byte (EN 13757-3 Table 5).
fn lvar_len(l: u8) -> Option<usize> {
    Some(match l {
        0x00..=0xBF => l as usize,
        0xC0..=0xC9 => (l - 0xC0) as usize,
        0xD0..=0xD9 => (l - 0xD0) as usize,
        0xE0..=0xEF => (l - 0xE0) as usize,
        0xF0..=0xF4 => 4 * (l as usize - 0xEC),
        0xF5 => 48,
        0xF6 => 64,
        _ => return None,
    })
}

/// The DIB+VIB starting at `f` in a format: (end, DIF), or None when it is cut short, too
/// long, or uses a plain-text VIF (which a format cannot express).
fn next_header(format: &[u8], f: usize) -> Option<(usize, u8)> {
    let dif = *format.get(f)?;
    let vif_at = extension_chain_end(format, f)?;
    if *format.get(vif_at)? & 0x7F == 0x7C {
        return None;
    }
    Some((extension_chain_end(format, vif_at)?, dif))
}

/// End of the byte at `start` and its extensions (bit 7 set: another follows), at most 11
/// bytes (a DIF or VIF and 10 extensions, EN 13757-3 6.3.1 / 6.4.1); None when cut short.
fn extension_chain_end(format: &[u8], start: usize) -> Option<usize> {
    let mut f = start + 1;
    while format[f - 1] & 0x80 != 0 {
        format.get(f)?;
        f += 1;
        if f - start > 11 {
            return None;
        }
    }
    Some(f)
}

/// True when `format` is a whole sequence of data-record headers (no special functions).
fn is_format(format: &[u8]) -> bool {
    let mut f = 0;
    while f < format.len() {
        match next_header(format, f) {
            Some((end, dif)) if dif & 0x0F != 0x0F => f = end,
            _ => return false,
        }
    }
    !format.is_empty()
}

impl FormatCache {
    /// Learn the format a format frame (CI 69h–6Bh, 87h/88h) announces. `payload` is its
    /// application data (decrypted). Layout (unverified, no public vector): the format
    /// signature (2, LE), optionally preceded by a length byte, then the DIB/VIB sequence,
    /// possibly after 2F2F and padded with 2Fh. A reading is accepted only when the bytes are
    /// a whole DIB/VIB sequence whose CRC-16/EN-13757 equals the signature, so a wrong guess
    /// learns nothing. Returns the signature.
    pub fn learn_format_frame(&self, payload: &[u8]) -> Option<u16> {
        let p = payload.strip_prefix(&[0x2F, 0x2F]).unwrap_or(payload);
        let trimmed = &p[..p.len() - p.iter().rev().take_while(|&&b| b == 0x2F).count()];
        let mut candidates: Vec<(u16, &[u8])> = Vec::with_capacity(4);
        for body in [p, trimmed] {
            if body.len() > 2 {
                candidates.push((u16::from_le_bytes([body[0], body[1]]), &body[2..]));
            }
            if body.len() > 3 {
                let n = body[0] as usize;
                if let Some(fmt) = body.get(3..3 + n) {
                    candidates.push((u16::from_le_bytes([body[1], body[2]]), fmt));
                }
            }
        }
        let (sig, format) =
            candidates.into_iter().find(|&(sig, fmt)| crc16_en13757(fmt) == sig && is_format(fmt))?;
        self.insert(sig, format.to_vec(), None)
    }
}

/// Expand a compact frame's application data (`compact` = signature, CRC, data) into the
/// equivalent full-frame record bytes. The format comes from `cache` if it learnt one with
/// this signature, else from the built-in formats of known meters ([`known`]), which need
/// the full-frame CRC of the frame's own records.
pub fn expand(cache: Option<&FormatCache>, compact: &[u8]) -> Result<Vec<u8>, CompactError> {
    if compact.len() < 4 {
        return Err(CompactError::Truncated);
    }
    let signature = u16::from_le_bytes([compact[0], compact[1]]);
    let expected = u16::from_le_bytes([compact[2], compact[3]]);
    let (format, learnt_crcs): (Arc<[u8]>, Vec<u16>) = match cache.and_then(|c| c.get(signature)) {
        Some(found) => found,
        None => (Arc::from(known::known_format(signature).ok_or(CompactError::UnknownFormat { signature })?), vec![]),
    };
    let data = &compact[4..];
    let bad = CompactError::Mismatch { signature };
    let mut out = Vec::with_capacity(format.len() + data.len());
    let (mut f, mut d) = (0usize, 0usize);
    while f < format.len() {
        let (end, dif) = next_header(&format, f).ok_or(bad.clone())?;
        out.extend_from_slice(&format[f..end]);
        f = end;
        let n = match data_len(dif) {
            Some(n) => n,
            None if dif & 0x0F == 0x0D => {
                let l = *data.get(d).ok_or(bad.clone())?;
                1 + lvar_len(l).ok_or(bad.clone())?
            }
            None => return Err(bad),
        };
        let field = data.get(d..d + n).ok_or(bad.clone())?;
        out.extend_from_slice(field);
        d += n;
    }
    let computed = crc16_en13757(&out);
    if computed != expected && !learnt_crcs.contains(&expected) {
        return Err(CompactError::BadCrc { signature, expected, computed });
    }
    // Data after the last formatted record (e.g. a manufacturer block) is appended as is.
    out.extend_from_slice(&data[d..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbus::records::parse_records;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn learn_and_expand_round_trip() {
        // Records of the Kamstrup Multical 21 telegram (ELL vector, security-notes.md b.2).
        let full = hex("02FF207100 041308190000 441308190000 615B7F 616713");
        let mut recs = vec![];
        parse_records(&full, false, &mut recs).unwrap();
        let cache = FormatCache::default();
        let sig = cache.learn(&recs, &full).unwrap();
        assert_eq!(sig, crc16_en13757(&hex("02FF20 0413 4413 615B 6167")));
        let data = hex("7100 08190000 08190000 7F 13");
        let mut compact = sig.to_le_bytes().to_vec();
        compact.extend_from_slice(&crc16_en13757(&full).to_le_bytes());
        compact.extend_from_slice(&data);
        assert_eq!(expand(Some(&cache), &compact).unwrap(), full);
        // A changed value with the learnt full frame's CRC is a newer reading: expanded.
        let mut newer = compact.clone();
        newer[4] ^= 1;
        assert_eq!(expand(Some(&cache), &newer).unwrap()[3], full[3] ^ 1);
        // A CRC of neither the expanded records nor a learnt frame: no records.
        let mut wrong = compact.clone();
        wrong[2] ^= 1;
        assert!(matches!(expand(Some(&cache), &wrong), Err(CompactError::BadCrc { .. })));
        // The CRC of the expanded records themselves is accepted too.
        let mut own = compact.clone();
        own[4] ^= 1;
        let mut changed = full.clone();
        changed[3] ^= 1;
        own[2..4].copy_from_slice(&crc16_en13757(&changed).to_le_bytes());
        assert_eq!(expand(Some(&cache), &own).unwrap(), changed);
        let mut unknown = compact.clone();
        unknown[0] ^= 1;
        assert!(matches!(expand(Some(&cache), &unknown), Err(CompactError::UnknownFormat { .. })));
        assert!(matches!(expand(Some(&cache), &compact[..9]), Err(CompactError::Mismatch { .. })));
        assert_eq!(expand(Some(&cache), &compact[..3]), Err(CompactError::Truncated));
    }

    #[test]
    fn bounded() {
        let cache = FormatCache::new(4);
        for v in 0u8..20 {
            let full = [0x01, 0x13, v];
            let mut recs = vec![];
            parse_records(&full, false, &mut recs).unwrap();
            // All share one format: one entry.
            cache.learn(&recs, &full);
        }
        assert_eq!(cache.len(), 1);
        for vif in 0u8..20 {
            let full = [0x01, vif, 0];
            let mut recs = vec![];
            parse_records(&full, false, &mut recs).unwrap();
            cache.learn(&recs, &full);
        }
        assert!(cache.len() <= 4);
    }
}
