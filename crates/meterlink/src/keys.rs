//! Key store: meter keys by identification number (optionally manufacturer + ID).
//!
//! Keys are looked up by the identity that protects a telegram (long TPL header, else link
//! address). An entry for manufacturer + ID wins over an ID-only entry. Key bytes never appear in
//! `Debug` output or error messages.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A key: AES-128 (security modes 5/7/8/9/10/15, ELL) or DES (legacy modes 2/3).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyMaterial {
    /// An AES-128 key.
    Aes([u8; 16]),
    /// A DES key (modes 2/3).
    Des([u8; 8]),
}

impl KeyMaterial {
    /// A key from 16 (AES-128) or 8 (DES) bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, KeyError> {
        match b.len() {
            16 => Ok(KeyMaterial::Aes(b.try_into().unwrap_or([0; 16]))),
            8 => Ok(KeyMaterial::Des(b.try_into().unwrap_or([0; 8]))),
            n => Err(KeyError::BadKeyLength(n)),
        }
    }
    /// The AES-128 key, if this is one.
    pub fn aes(&self) -> Option<&[u8; 16]> {
        match self {
            KeyMaterial::Aes(k) => Some(k),
            KeyMaterial::Des(_) => None,
        }
    }
    /// The DES key, if this is one.
    pub fn des(&self) -> Option<&[u8; 8]> {
        match self {
            KeyMaterial::Des(k) => Some(k),
            KeyMaterial::Aes(_) => None,
        }
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::Aes(_) => f.write_str("KeyMaterial::Aes(<redacted>)"),
            KeyMaterial::Des(_) => f.write_str("KeyMaterial::Des(<redacted>)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// Why a key or a key-store entry was rejected.
pub enum KeyError {
    /// The key has this many bytes, neither 16 nor 8.
    BadKeyLength(usize),
    /// The key text is not hex.
    BadKeyHex,
    /// The meter ID is not 8 digits (or hex digits) as printed.
    BadMeterId(String),
    /// The manufacturer is not three letters A-Z.
    BadManufacturer(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::BadKeyLength(n) => write!(f, "a key must be 16 bytes (AES-128) or 8 bytes (DES), got {n}"),
            KeyError::BadKeyHex => write!(f, "a key must be 32 or 16 hex digits"),
            KeyError::BadMeterId(s) => write!(f, "meter id must be 8 digits (or hex digits) as printed, got {s:?}"),
            KeyError::BadManufacturer(s) => write!(f, "manufacturer must be three letters A-Z, got {s:?}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A manufacturer's three letters (any case) → the M field.
pub fn parse_manufacturer(s: &str) -> Result<u16, KeyError> {
    crate::address::manufacturer_from_str(&s.to_ascii_uppercase())
        .ok_or_else(|| KeyError::BadManufacturer(s.to_string()))
}

/// A meter named as in key files and `keys=` dicts: `"12345678"` (ID only), or manufacturer and
/// ID as `"KAM12345678"` / `"KAM:12345678"` → (M field, ID in wire order).
pub fn parse_meter_name(name: &str) -> Result<(Option<u16>, [u8; 4]), KeyError> {
    let t = name.trim();
    let lettered = |n| t.len() == n && t[..3].chars().all(|c| c.is_ascii_alphabetic());
    let (m, id) = if lettered(11) {
        (Some(&t[..3]), &t[3..])
    } else if lettered(12) {
        (Some(&t[..3]), &t[4..])
    } else {
        (None, t)
    };
    let m = m.map(parse_manufacturer).transpose()?;
    Ok((m, parse_meter_id(id)?))
}

/// Parse a meter ID as printed ("12345678", or hex digits for a non-BCD ID) into wire order.
pub fn parse_meter_id(s: &str) -> Result<[u8; 4], KeyError> {
    let t = s.trim();
    if t.is_empty() || t.len() > 8 || !t.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(KeyError::BadMeterId(s.to_string()));
    }
    let v = u32::from_str_radix(t, 16).map_err(|_| KeyError::BadMeterId(s.to_string()))?;
    Ok(v.to_le_bytes())
}

/// Parse 32 (AES) or 16 (DES) hex digits.
pub fn parse_key_hex(s: &str) -> Result<KeyMaterial, KeyError> {
    let t = s.trim();
    if !(t.len() == 32 || t.len() == 16) || !t.is_ascii() {
        return Err(KeyError::BadKeyHex);
    }
    let mut out = [0u8; 16];
    for (i, chunk) in t.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(chunk).map_err(|_| KeyError::BadKeyHex)?;
        out[i] = u8::from_str_radix(hex, 16).map_err(|_| KeyError::BadKeyHex)?;
    }
    KeyMaterial::from_bytes(&out[..t.len() / 2])
}

/// Where keys come from when decoding.
pub trait KeyLookup {
    /// The key for a meter identity (manufacturer code, ID in wire order).
    fn key_for(&self, manufacturer: u16, id: [u8; 4]) -> Option<&KeyMaterial>;
}

/// No keys at all.
pub struct NoKeys;

impl KeyLookup for NoKeys {
    fn key_for(&self, _: u16, _: [u8; 4]) -> Option<&KeyMaterial> {
        None
    }
}

/// Hasher for the key maps: meter IDs are 4 bytes, one lookup per telegram, and SipHash was
/// most of the lookup. The entries come from the user's key list, not from the frames, so
/// there is no collision attack to defend against; the murmur3 finaliser spreads every
/// input bit over the bucket index.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u16(&mut self, v: u16) {
        self.0 = self.0.rotate_left(16) ^ u64::from(v);
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = self.0.rotate_left(16) ^ v as u64;
    }
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type IdMap<K> = HashMap<K, KeyMaterial, BuildHasherDefault<IdHasher>>;

#[derive(Clone, Default)]
/// Meter keys by identification number, optionally qualified by manufacturer.
pub struct KeyStore {
    by_id: IdMap<[u8; 4]>,
    by_mid: IdMap<(u16, [u8; 4])>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyStore({} keys)", self.len())
    }
}

impl KeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty store with room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        KeyStore { by_id: IdMap::with_capacity_and_hasher(n, Default::default()), by_mid: IdMap::default() }
    }
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_mid.len()
    }
    /// True if the store holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Add or replace the key of meter `id` (of `manufacturer` only, if given).
    pub fn insert(&mut self, manufacturer: Option<u16>, id: [u8; 4], key: KeyMaterial) {
        match manufacturer {
            Some(m) => self.by_mid.insert((m, id), key),
            None => self.by_id.insert(id, key),
        };
    }
    /// Insert from text: ID as printed, optional three-letter manufacturer, hex key.
    pub fn insert_text(&mut self, manufacturer: Option<&str>, id: &str, key_hex: &str) -> Result<(), KeyError> {
        let m = match manufacturer.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(parse_manufacturer(s)?),
            None => None,
        };
        self.insert(m, parse_meter_id(id)?, parse_key_hex(key_hex)?);
        Ok(())
    }

    /// Load `id,key` or `manufacturer,id,key` lines (a header line and `#` comments are
    /// skipped). Returns the number of keys loaded, or the first bad line (1-based) and why.
    pub fn load_csv(&mut self, text: &str) -> Result<usize, (usize, KeyError)> {
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
            let (m, id, key) = match cols.as_slice() {
                [id, key] => (None, *id, *key),
                [m, id, key, ..] => (Some(*m), *id, *key),
                _ => return Err((i + 1, KeyError::BadMeterId(line.to_string()))),
            };
            match self.insert_text(m, id, key) {
                Ok(()) => n += 1,
                // A header line ("id,key" / "manufacturer,id,key") is the only tolerated failure.
                Err(_) if n == 0 && i == 0 && !id.bytes().any(|c| c.is_ascii_digit()) => {}
                Err(e) => return Err((i + 1, e)),
            }
        }
        Ok(n)
    }
}

impl KeyLookup for KeyStore {
    fn key_for(&self, manufacturer: u16, id: [u8; 4]) -> Option<&KeyMaterial> {
        if !self.by_mid.is_empty() {
            if let Some(k) = self.by_mid.get(&(manufacturer, id)) {
                return Some(k);
            }
        }
        self.by_id.get(&id)
    }
}

/// Public default keys, tried when no key is configured for a meter (see
/// [`crate::mbus::decode::DecodeOptions::default_keys`]). A default key is used only when the
/// telegram verifies with it (2F2F, MAC), so a meter with its own key is not affected.
/// (manufacturer code or None for any, key, where the fact comes from.)
const DEFAULT_KEYS: &[(Option<&str>, [u8; 16], &str)] = &[
    // Unconfigured meters often ship with the all-zero key.
    (None, [0; 16], "all-zero key of unconfigured meters"),
    // Diehl PRIOS default key 51 72 89 10 E6 6D 83 F8, doubled to 16 bytes for AES (Diehl
    // Metering "DME", Hydrometer "HYD"); the wmbusmeters hydrus driver test decodes such a
    // telegram with no key given.
    (
        Some("DME"),
        [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8],
        "Diehl PRIOS default",
    ),
    (
        Some("HYD"),
        [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8],
        "Diehl PRIOS default",
    ),
];

/// The default keys that apply to a manufacturer, the manufacturer's own first.
pub fn default_keys(manufacturer: u16) -> impl Iterator<Item = &'static [u8; 16]> {
    let name = crate::address::manufacturer_to_str(manufacturer);
    let own = DEFAULT_KEYS.iter().filter(move |(m, _, _)| m.is_some_and(|m| m.as_bytes() == name));
    let any = DEFAULT_KEYS.iter().filter(|(m, _, _)| m.is_none());
    own.chain(any).map(|(_, k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_names() {
        // KAM = 0x2C2D (EN 13757-7 manufacturer coding); IDs in wire order (LSB first).
        assert_eq!(parse_meter_name("12345678"), Ok((None, [0x78, 0x56, 0x34, 0x12])));
        assert_eq!(parse_meter_name(" kam12345678 "), Ok((Some(0x2C2D), [0x78, 0x56, 0x34, 0x12])));
        assert_eq!(parse_meter_name("KAM:12345678"), Ok((Some(0x2C2D), [0x78, 0x56, 0x34, 0x12])));
        assert_eq!(parse_meter_name("K4M12345678"), Err(KeyError::BadMeterId("K4M12345678".into())));
        assert_eq!(parse_manufacturer("k1m"), Err(KeyError::BadManufacturer("k1m".into())));
    }

    #[test]
    fn ids_keys_and_lookup() {
        assert_eq!(parse_meter_id("12345678").unwrap(), [0x78, 0x56, 0x34, 0x12]);
        assert_eq!(parse_meter_id("0014a807").unwrap(), parse_meter_id("0014A807").unwrap());
        assert!(parse_meter_id("123456789").is_err());
        assert!(parse_meter_id("1234567x").is_err());
        assert!(matches!(parse_key_hex("000102030405060708090A0B0C0D0E0F").unwrap(), KeyMaterial::Aes(_)));
        assert!(matches!(parse_key_hex("0011223344556677").unwrap(), KeyMaterial::Des(_)));
        assert!(parse_key_hex("0011").is_err());
        let mut ks = KeyStore::new();
        ks.insert_text(None, "12345678", "000102030405060708090A0B0C0D0E0F").unwrap();
        ks.insert_text(Some("kam"), "12345678", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").unwrap();
        let id = [0x78, 0x56, 0x34, 0x12];
        assert_eq!(ks.key_for(0x2C2D, id).unwrap().aes().unwrap()[0], 0xFF);
        assert_eq!(ks.key_for(0x1593, id).unwrap().aes().unwrap()[0], 0x00);
        assert!(ks.key_for(0x1593, [0; 4]).is_none());
        assert_eq!(format!("{ks:?}"), "KeyStore(2 keys)");
        assert!(!format!("{:?}", ks.key_for(0x1593, id).unwrap()).contains("00"));
    }

    #[test]
    fn csv() {
        let mut ks = KeyStore::new();
        let n = ks
            .load_csv("id,key\n# comment\n12345678,000102030405060708090A0B0C0D0E0F\nKAM;76348799;28F64A24988064A079AA2C807D6102AE\n")
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(ks.load_csv("12345678,zz").unwrap_err().0, 1);
    }
}
