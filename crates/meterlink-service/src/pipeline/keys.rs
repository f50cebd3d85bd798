//! The key store of `[keys].files`, hot-reloaded (issue 15 §2): the files' modification time
//! and length are polled; when one changed, every file is read again into a new store, which
//! replaces the old one only if all of them loaded. A bad file is logged and the old store kept,
//! so an operator's typo never takes the keys away from a running head-end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use meterlink::keys::KeyStore;

use crate::error::ServiceError;

/// What identifies a file's version: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

/// The key files and the store last loaded from them.
pub struct KeyFiles {
    paths: Vec<PathBuf>,
    stamps: Vec<Stamp>,
    current: Arc<KeyStore>,
}

fn stamp(p: &PathBuf) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Read every file into one store (`meterlink` key CSV: `[manufacturer,]id,key`).
fn load_all(paths: &[PathBuf]) -> Result<KeyStore, ServiceError> {
    let mut store = KeyStore::new();
    for p in paths {
        let text = std::fs::read_to_string(p).map_err(|e| ServiceError::Io(format!("key file {}: {e}", p.display())))?;
        let bad = |reason: String| ServiceError::Config { path: format!("keys.files ({})", p.display()), reason };
        let text = take_dlms_lines(&text, &mut store).map_err(bad)?;
        store.load_csv(&text).map_err(|e| bad(e.to_string()))?;
    }
    Ok(store)
}

/// DLMS/COSEM keys in a key file: `dlms,<system title: 16 hex digits>,<ek>[,<ak>]` (`,` `;` or
/// tab), by system title as `meterlink::dlms::decode::Keys::ByTitle` takes them. They are taken
/// out before the M-Bus lines are read (left blank, so M-Bus errors keep their line numbers);
/// an error names the line, never a value.
fn take_dlms_lines(text: &str, store: &mut KeyStore) -> Result<String, String> {
    let mut rest = String::with_capacity(text.len());
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.trim().split([',', ';', '\t']).map(str::trim).collect();
        if !cols[0].eq_ignore_ascii_case("dlms") {
            rest.push_str(line);
            rest.push('\n');
            continue;
        }
        let why = |what: &str| format!("line {}: {what}", n + 1);
        let hex = |s: &str| meterlink::hex::parse_hex(s).ok();
        let title: [u8; 8] = cols.get(1).and_then(|s| hex(s)).and_then(|t| t.try_into().ok()).ok_or_else(|| why("a DLMS line needs a system title of 16 hex digits"))?;
        let ek = cols.get(2).and_then(|s| hex(s)).filter(|k| matches!(k.len(), 16 | 32)).ok_or_else(|| why("a DLMS line needs an encryption key of 16 or 32 bytes"))?;
        let ak = match cols.get(3).filter(|s| !s.is_empty()) {
            Some(s) => Some(hex(s).ok_or_else(|| why("the DLMS authentication key is not hex"))?),
            None => None,
        };
        store.insert_dlms(title, meterlink::keys::DlmsKeys::new(ek, ak));
        rest.push('\n');
    }
    Ok(rest)
}

impl KeyFiles {
    /// Load `paths` (a failure here is fatal: the service does not start without its keys).
    pub fn load(paths: Vec<PathBuf>) -> Result<Self, ServiceError> {
        let stamps = paths.iter().map(stamp).collect();
        let current = Arc::new(load_all(&paths)?);
        Ok(KeyFiles { paths, stamps, current })
    }

    /// The store in force.
    pub fn current(&self) -> Arc<KeyStore> {
        self.current.clone()
    }

    /// Reload when a file changed; true when a new store is in force. An invalid or missing
    /// file keeps the old store (logged; it is tried again on its next change).
    pub fn poll(&mut self) -> bool {
        let now: Vec<Stamp> = self.paths.iter().map(stamp).collect();
        if now == self.stamps {
            return false;
        }
        self.stamps = now;
        match load_all(&self.paths) {
            Ok(store) => {
                tracing::info!(keys = store.len(), "key files reloaded");
                self.current = Arc::new(store);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, code = e.code(), "key files not reloaded, keeping the previous keys");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_file_keeps_the_old_store() {
        let dir = std::env::temp_dir().join(format!("ml-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("keys.csv");
        std::fs::write(&f, "12345678,000102030405060708090A0B0C0D0E0F\n").unwrap();
        let mut k = KeyFiles::load(vec![f.clone()]).unwrap();
        assert_eq!(k.current().len(), 1);
        std::fs::write(&f, "12345678,not-a-key-at-all\n").unwrap();
        assert!(!k.poll());
        assert_eq!(k.current().len(), 1);
        std::fs::write(&f, "12345678,000102030405060708090A0B0C0D0E0F\n87654321,000102030405060708090A0B0C0D0E0F\n").unwrap();
        assert!(k.poll());
        assert_eq!(k.current().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
