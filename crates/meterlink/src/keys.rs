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

/// What a rejected text looked like, without its content: a key file's columns may be
/// swapped, and a "meter ID" may then be a key, which must never appear in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Number of characters (after trimming).
    pub chars: usize,
    /// Whether every character is a hex digit.
    pub hex: bool,
}

impl Shape {
    /// The shape of `s` (trimmed).
    pub fn of(s: &str) -> Self {
        let t = s.trim();
        Shape { chars: t.chars().count(), hex: !t.is_empty() && t.bytes().all(|c| c.is_ascii_hexdigit()) }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "got {} characters", self.chars)?;
        if self.hex && (self.chars == 32 || self.chars == 16) {
            f.write_str(" of hex digits: a key? (are the columns swapped?)")
        } else if self.hex {
            f.write_str(" of hex digits")
        } else {
            Ok(())
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// Why a key or a key-store entry was rejected. No variant holds the text it rejected.
pub enum KeyError {
    /// The key has this many bytes, neither 16 nor 8.
    BadKeyLength(usize),
    /// The key text is not hex.
    BadKeyHex,
    /// The meter ID is not 8 digits (or hex digits) as printed; what it looked like.
    BadMeterId(Shape),
    /// The manufacturer is not three letters A-Z; what it looked like.
    BadManufacturer(Shape),
    /// Two entries give the same meter (same manufacturer, or both none, and ID) different
    /// keys: their positions (key-file lines, or entry numbers of a dict).
    Duplicate {
        /// Position of the first entry.
        first: usize,
        /// Position of the second entry.
        second: usize,
    },
    /// A key-file line has too few columns for its layout.
    Columns {
        /// Columns found.
        found: usize,
        /// Columns the layout needs.
        needed: usize,
    },
    /// The header line names no `id` or no `key` column.
    Header,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::BadKeyLength(n) => write!(f, "a key must be 16 bytes (AES-128) or 8 bytes (DES), got {n}"),
            KeyError::BadKeyHex => write!(f, "a key must be 32 or 16 hex digits"),
            KeyError::BadMeterId(s) => write!(f, "meter id must be 8 digits (or hex digits) as printed, {s}"),
            KeyError::BadManufacturer(s) => write!(f, "manufacturer must be three letters A-Z, {s}"),
            KeyError::Duplicate { first, second } => {
                write!(f, "entries {first} and {second} give the same meter different keys (choose on_duplicate=\"first\" or \"last\" to allow it)")
            }
            KeyError::Columns { found, needed } => write!(f, "{found} columns, the key file's layout needs {needed}"),
            KeyError::Header => write!(f, "the header line names no id column or no key column"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A manufacturer's three letters (any case) → the M field.
pub fn parse_manufacturer(s: &str) -> Result<u16, KeyError> {
    crate::address::manufacturer_from_str(&s.to_ascii_uppercase())
        .ok_or_else(|| KeyError::BadManufacturer(Shape::of(s)))
}

/// A meter named as in key files and `keys=` dicts: `"12345678"` (ID only), or manufacturer and
/// ID as `"KAM12345678"` / `"KAM:12345678"` → (M field, ID in wire order).
pub fn parse_meter_name(name: &str) -> Result<(Option<u16>, [u8; 4]), KeyError> {
    let t = name.trim();
    // Three ASCII letters first: then byte 3 (and, for "KAM:...", byte 4) is a char boundary.
    let lettered = |n| {
        t.len() == n && t.as_bytes()[..3].iter().all(u8::is_ascii_alphabetic) && (n == 11 || t.as_bytes()[3].is_ascii())
    };
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
        return Err(KeyError::BadMeterId(Shape::of(s)));
    }
    let v = u32::from_str_radix(t, 16).map_err(|_| KeyError::BadMeterId(Shape::of(s)))?;
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

    /// Whether unprotected payloads of this keyed meter are accepted (issue 12, per key: a
    /// receiver that decrypts in the radio forwards its telegrams in clear). Default: no.
    fn accepts_unprotected(&self, _manufacturer: u16, _id: [u8; 4]) -> bool {
        false
    }
}

/// No keys at all.
pub struct NoKeys;

impl KeyLookup for NoKeys {
    fn key_for(&self, _: u16, _: [u8; 4]) -> Option<&KeyMaterial> {
        None
    }
}

/// The keys of one DLMS/COSEM server (kept here, with the key store, and re-exported by
/// `dlms::security`): the encryption key (16 bytes for suites 0 and 1, 32 for suite 2)
/// and the authentication key, and where needed the broadcast, dedicated and key-encryption keys.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct DlmsKeys {
    /// Global unicast encryption key (GUEK).
    pub ek: Vec<u8>,
    /// Authentication key (GAK).
    pub ak: Option<Vec<u8>>,
    /// Global broadcast encryption key (GBEK), for the broadcast key set; `ek` when None.
    pub broadcast_ek: Option<Vec<u8>>,
    /// The dedicated key of the association (from the xDLMS InitiateRequest), for ded- APDUs
    /// and general-ded-ciphering.
    pub dedicated_key: Option<Vec<u8>>,
    /// The key-encryption (master) key, for general-ciphering's wrapped-key (RFC 3394).
    pub kek: Option<Vec<u8>>,
}

impl DlmsKeys {
    /// The encryption and authentication keys.
    pub fn new(ek: impl Into<Vec<u8>>, ak: Option<Vec<u8>>) -> Self {
        DlmsKeys { ek: ek.into(), ak, ..DlmsKeys::default() }
    }
}

impl fmt::Debug for DlmsKeys {
    /// Key material is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DlmsKeys(<redacted>: ek {} bytes, ak {})", self.ek.len(), if self.ak.is_some() { "set" } else { "none" })
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
    /// Meters (manufacturer or none, ID) whose unprotected payloads are accepted.
    unprotected: Vec<(Option<u16>, [u8; 4])>,
    /// DLMS/COSEM servers' keys by system title.
    dlms: Vec<([u8; 8], DlmsKeys)>,
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
        KeyStore {
            by_id: IdMap::with_capacity_and_hasher(n, Default::default()),
            by_mid: IdMap::default(),
            unprotected: Vec::new(),
            dlms: Vec::new(),
        }
    }
    /// Number of keys (M-Bus meters and DLMS servers).
    pub fn len(&self) -> usize {
        self.by_id.len() + self.by_mid.len() + self.dlms.len()
    }

    /// Add or replace the keys of the DLMS/COSEM server with this system title.
    pub fn insert_dlms(&mut self, system_title: [u8; 8], keys: DlmsKeys) {
        match self.dlms.iter_mut().find(|(t, _)| *t == system_title) {
            Some(entry) => entry.1 = keys,
            None => self.dlms.push((system_title, keys)),
        }
    }

    /// The DLMS/COSEM servers' keys, by system title.
    pub fn dlms_entries(&self) -> &[([u8; 8], DlmsKeys)] {
        &self.dlms
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
    /// Accept unprotected payloads (clear data under an encrypted header, mode 0, clear ELL)
    /// from meter `id` (of `manufacturer` only, if given) although it has a key: the per-key
    /// form of `DecodeOptions::accept_unprotected`, for meters behind a receiver that
    /// decrypts in the radio.
    pub fn accept_unprotected(&mut self, manufacturer: Option<u16>, id: [u8; 4]) {
        if !self.unprotected.contains(&(manufacturer, id)) {
            self.unprotected.push((manufacturer, id));
        }
    }

    /// The key stored for exactly this identity (manufacturer, or none, and ID).
    fn get_exact(&self, manufacturer: Option<u16>, id: [u8; 4]) -> Option<&KeyMaterial> {
        match manufacturer {
            Some(m) => self.by_mid.get(&(m, id)),
            None => self.by_id.get(&id),
        }
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

    /// Load a key file (see [`KeyStore::load_csv_with`]); a meter given two keys is an error.
    pub fn load_csv(&mut self, text: &str) -> Result<usize, KeyFileError> {
        self.load_csv_with(text, OnDuplicate::Error)
    }

    /// Load `id,key` or `manufacturer,id,key` lines (`,` `;` or tab separated, `#` comments and
    /// blank lines skipped). The first content line is a header when one of its columns is a
    /// column name ([`ID_COLUMNS`], [`KEY_COLUMNS`], [`MANUFACTURER_COLUMNS`]); a header in
    /// another order than `id,key` / `manufacturer,id,key` fixes the column order. Returns the
    /// number of entries loaded, or the first bad line (1-based), column and why; no message
    /// holds a value from the file.
    pub fn load_csv_with(&mut self, text: &str, on_duplicate: OnDuplicate) -> Result<usize, KeyFileError> {
        let mut loader = KeyLoader::new(self, on_duplicate);
        // The header's layout; without one, each line's by its column count.
        let mut header: Option<CsvLayout> = None;
        let mut first = true;
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |column: Option<usize>, error| KeyFileError { line: i + 1, column, error };
            let cols: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
            if std::mem::take(&mut first) {
                if let Some(h) = header_columns(&cols).map_err(|e| at(None, e))? {
                    // A header in the usual order keeps the per-line rule (id,key then
                    // manufacturer,id,key lines may mix); another order fixes the columns.
                    header = Some(h).filter(|h| *h != CsvLayout::default_for(cols.len()));
                    continue;
                }
            }
            let l = header.unwrap_or(CsvLayout::default_for(cols.len()));
            let (m, id, key) = l.parse(&cols).map_err(|(c, e)| at(c.map(|c| c + 1), e))?;
            loader.add(m, id, key, i + 1).map_err(|e| at(None, e))?;
            n += 1;
        }
        Ok(n)
    }
}

/// What to do when two entries name the same meter (manufacturer, or none, and ID) with
/// different keys (the same key twice is accepted: there is nothing to choose).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// An error naming both entries (the default).
    #[default]
    Error,
    /// Keep the first entry.
    First,
    /// Keep the last entry.
    Last,
}

impl OnDuplicate {
    /// `"error"`, `"first"` or `"last"`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "error" => OnDuplicate::Error,
            "first" => OnDuplicate::First,
            "last" => OnDuplicate::Last,
            _ => return None,
        })
    }
}

/// Adds entries to a store, noticing meters named twice.
pub struct KeyLoader<'a> {
    store: &'a mut KeyStore,
    seen: HashMap<(Option<u16>, [u8; 4]), usize>,
    on_duplicate: OnDuplicate,
}

impl<'a> KeyLoader<'a> {
    /// A loader adding to `store`.
    pub fn new(store: &'a mut KeyStore, on_duplicate: OnDuplicate) -> Self {
        KeyLoader { store, seen: HashMap::new(), on_duplicate }
    }

    /// Add the entry at `position` (a line or entry number, for messages).
    pub fn add(&mut self, m: Option<u16>, id: [u8; 4], key: KeyMaterial, position: usize) -> Result<(), KeyError> {
        if let Some(&first) = self.seen.get(&(m, id)) {
            // The same key again is no conflict: whichever entry wins, the same key is used.
            if self.store.get_exact(m, id) == Some(&key) {
                return Ok(());
            }
            match self.on_duplicate {
                OnDuplicate::Error => return Err(KeyError::Duplicate { first, second: position }),
                OnDuplicate::First => return Ok(()),
                OnDuplicate::Last => {}
            }
        } else {
            self.seen.insert((m, id), position);
        }
        self.store.insert(m, id, key);
        Ok(())
    }
}

/// A key-file line that could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFileError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column at fault, when one is.
    pub column: Option<usize>,
    /// Why (never holding a value from the file).
    pub error: KeyError,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error, self.column) {
            (KeyError::Duplicate { first, second }, _) => write!(
                f,
                "lines {first} and {second} give the same meter different keys (choose on_duplicate=\"first\" or \"last\" to allow it)"
            ),
            (e, Some(c)) => write!(f, "line {}, column {c}: {e}", self.line),
            (e, None) => write!(f, "line {}: {e}", self.line),
        }
    }
}

impl std::error::Error for KeyFileError {}

/// Which columns of a key file hold what (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CsvLayout {
    manufacturer: Option<usize>,
    id: usize,
    key: usize,
}

impl CsvLayout {
    /// Without a header: `id,key` for two columns, `manufacturer,id,key[,...]` for more.
    fn default_for(n: usize) -> Self {
        if n <= 2 {
            CsvLayout { manufacturer: None, id: 0, key: 1 }
        } else {
            CsvLayout { manufacturer: Some(0), id: 1, key: 2 }
        }
    }

    /// (manufacturer, ID, key) of a line, or the 0-based column at fault and why.
    #[allow(clippy::type_complexity)]
    fn parse(&self, cols: &[&str]) -> Result<(Option<u16>, [u8; 4], KeyMaterial), (Option<usize>, KeyError)> {
        let needed = 1 + self.id.max(self.key).max(self.manufacturer.unwrap_or(0));
        if cols.len() < needed {
            return Err((None, KeyError::Columns { found: cols.len(), needed }));
        }
        let m = match self.manufacturer.filter(|&c| !cols[c].is_empty()) {
            Some(c) => Some(parse_manufacturer(cols[c]).map_err(|e| (Some(c), e))?),
            None => None,
        };
        let id = parse_meter_id(cols[self.id]).map_err(|e| (Some(self.id), e))?;
        let key = parse_key_hex(cols[self.key]).map_err(|e| (Some(self.key), e))?;
        Ok((m, id, key))
    }
}

/// Column names of a key-file header (any case): the meter ID, the key, the manufacturer.
pub const ID_COLUMNS: [&str; 4] = ["id", "meter", "meter_id", "meterid"];
/// Names of the key column.
pub const KEY_COLUMNS: [&str; 3] = ["key", "aes_key", "aeskey"];
/// Names of the manufacturer column.
pub const MANUFACTURER_COLUMNS: [&str; 4] = ["manufacturer", "mfct", "mfr", "manufacturer_code"];

/// The layout a header line names: `Ok(None)` when no column is a column name (a data line),
/// an error when a column is but the id or key column is missing. Other columns are ignored.
fn header_columns(cols: &[&str]) -> Result<Option<CsvLayout>, KeyError> {
    let find = |names: &[&str]| cols.iter().position(|c| names.iter().any(|n| c.eq_ignore_ascii_case(n)));
    let (m, id, key) = (find(&MANUFACTURER_COLUMNS), find(&ID_COLUMNS), find(&KEY_COLUMNS));
    match (id, key) {
        (Some(id), Some(key)) => Ok(Some(CsvLayout { manufacturer: m, id, key })),
        _ if m.is_none() && id.is_none() && key.is_none() => Ok(None),
        _ => Err(KeyError::Header),
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

    fn accepts_unprotected(&self, manufacturer: u16, id: [u8; 4]) -> bool {
        self.unprotected.iter().any(|&(m, i)| i == id && m.is_none_or(|m| m == manufacturer))
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
        assert_eq!(parse_meter_name("K4M12345678"), Err(KeyError::BadMeterId(Shape { chars: 11, hex: false })));
        // Found by the key_file fuzz target: a name of 11 bytes whose byte 3 is inside a
        // multi-byte character must be an error, not a panic.
        assert!(parse_meter_name("id\u{FFFD}123456").is_err());
        assert!(parse_meter_name("KAM\u{FFFD}12345678").is_err());
        assert_eq!(parse_manufacturer("k1m"), Err(KeyError::BadManufacturer(Shape { chars: 3, hex: false })));
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
        let e = ks.load_csv("12345678,zz").unwrap_err();
        assert_eq!((e.line, e.column, e.error), (1, Some(2), KeyError::BadKeyHex));
    }

    const K1: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";

    #[test]
    fn key_file_errors_never_echo_values() {
        // Columns swapped: the "id" is the key; the message names line and column, not the value.
        let e = KeyStore::new().load_csv(&format!("12345678,{K1}\n{K1},12345678\n")).unwrap_err();
        assert_eq!((e.line, e.column), (2, Some(1)));
        let msg = e.to_string();
        assert_eq!(msg, "line 2, column 1: meter id must be 8 digits (or hex digits) as printed, got 32 characters of hex digits: a key? (are the columns swapped?)");
        for text in [format!("{K1}\n"), format!("{K1};{K1};{K1}\n"), format!("x,{K1}\n"), format!("id,key\n1,2,{K1}\n")] {
            let e = KeyStore::new().load_csv(&text).unwrap_err();
            assert!(!e.to_string().contains(&K1[..8]), "{e}");
        }
    }

    #[test]
    fn header_is_recognised_by_its_names() {
        // `KAM,<key>` is no header: it is a line whose id column is not an ID.
        let e = KeyStore::new().load_csv(&format!("KAM,{K1}\n")).unwrap_err();
        assert_eq!((e.line, e.column, e.error), (1, Some(1), KeyError::BadMeterId(Shape { chars: 3, hex: false })));
        // A header fixes the column order; unknown columns are ignored.
        let mut ks = KeyStore::new();
        assert_eq!(ks.load_csv(&format!("Key;note;MFCT;Meter_ID\n{K1};x;kam;12345678\n")), Ok(1));
        assert_eq!(ks.key_for(0x2C2D, [0x78, 0x56, 0x34, 0x12]).unwrap().aes().unwrap()[0], 0xA1);
        assert!(ks.key_for(0x1593, [0x78, 0x56, 0x34, 0x12]).is_none());
        // A header naming a key column but no id column is an error, as is a short line.
        assert_eq!(KeyStore::new().load_csv("key,serial\n").unwrap_err().error, KeyError::Header);
        let e = KeyStore::new().load_csv("id,key,manufacturer\n12345678,0011223344556677\n").unwrap_err();
        assert_eq!((e.line, e.error), (2, KeyError::Columns { found: 2, needed: 3 }));
    }

    #[test]
    fn duplicates_name_both_lines_unless_chosen() {
        let k2 = "000102030405060708090A0B0C0D0E0F";
        let text = format!("12345678,{K1}\n# c\n87654321,{k2}\n12345678,{k2}\nKAM,12345678,{k2}\n");
        let e = KeyStore::new().load_csv(&text).unwrap_err();
        assert_eq!(e.error, KeyError::Duplicate { first: 1, second: 4 });
        assert!(e.to_string().starts_with("lines 1 and 4 give the same meter different keys"), "{e}");
        let id = [0x78, 0x56, 0x34, 0x12];
        for (choice, first_byte) in [(OnDuplicate::First, 0xA1), (OnDuplicate::Last, 0x00)] {
            let mut ks = KeyStore::new();
            // The 3-column line is KAM + ID: another meter than the ID-only entries.
            assert_eq!(ks.load_csv_with(&text, choice), Ok(4));
            assert_eq!(ks.len(), 3);
            assert_eq!(ks.key_for(0x1593, id).unwrap().aes().unwrap()[0], first_byte);
        }
        // The same key twice (ID spelt in another case) is no conflict.
        let mut ks = KeyStore::new();
        assert_eq!(ks.load_csv(&format!("0014a807,{K1}\n0014A807,{K1}\n")), Ok(2));
        assert_eq!(ks.len(), 1);
        assert_eq!(OnDuplicate::parse("last"), Some(OnDuplicate::Last));
        assert_eq!(OnDuplicate::parse("newest"), None);
    }
}
