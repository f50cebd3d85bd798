//! Replay protection: the last accepted message counter of every meter and key ID.
//!
//! EN 13757-7 7.5.8 / 6.3.5 (the TPL and AFL message counters) and DSMR P2 5.2 (the frame
//! counter) oblige a receiver to reject a telegram whose counter is not greater than the last
//! one it accepted from that meter, and to store a counter only after the telegram verified.
//! [`CounterStore`] does that for [`Telegram`]s: a telegram decrypted with a key (configured or
//! a public default key, [`Telegram::integrity`] other than `none`) that carries a
//! [`Counters::replay_counter`] is checked against, and then recorded as, the last counter of
//! its meter (manufacturer + ID) and key ID. Telegrams without such a counter, clear ones and
//! ones decrypted by a receiver pass unchanged: nothing authenticates their counters.
//!
//! The store keeps one `u32` per (meter, key ID) and never forgets one: its memory grows with
//! the number of distinct meters (about 40 bytes each), which is not bounded. It is
//! thread-safe (a `Mutex` inside); [`CounterStore::check_and_accept`] checks and records under
//! one lock, so two threads never both accept the same counter.
//!
//! DLMS/COSEM (Green Book DLMS UA 1000-2 9.2.7.2.4.2: a receiver accepts an invocation counter
//! only if it is greater than the last one received with the same key): the same store keeps
//! the last accepted invocation counter per [`DlmsSubject`] (sender system title and key kind),
//! apart from the M-Bus counters. [`CounterStore::check_and_accept_dlms`] is called with a
//! ciphered APDU after [`crate::dlms::security::decipher`] verified it; a replay is the
//! `cipher_replayed_counter` error (a `SecurityError` naming the system title).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, ErrorKind};
use crate::keys::KeyError;
use crate::keys::KeyLookup;
use crate::mbus::compact::FormatCache;
use crate::mbus::decode::{decode_full, Counters, DecodeOptions, Integrity, Telegram};
use crate::dlms::security::{CipherError, CipheredApdu, KeyKind};
use crate::mbus::tpl::{id_to_string, manufacturer_to_str};

/// Whose invocation counter a DLMS counter is: the sender's system title and the key that
/// protected the APDU ([`KeyKind::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DlmsSubject {
    /// The sender's system title (the IV's).
    pub system_title: [u8; 8],
    /// The key kind.
    pub key: KeyKind,
}

impl DlmsSubject {
    /// The subject of a ciphered APDU sent by `system_title` (its IV title).
    pub fn of(c: &CipheredApdu, system_title: [u8; 8]) -> Self {
        DlmsSubject { system_title, key: KeyKind::of(c) }
    }
}

/// Whom a counter belongs to: the meter (manufacturer and ID, as the TPL long header or the
/// link layer names it) and the key ID of the configuration-field extension (0 without one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterKey {
    /// Manufacturer code, bits 14..0 (the three letters; bit 15 is not part of them).
    pub manufacturer: u16,
    /// Identification number as on the wire (LE, normally BCD).
    pub id: [u8; 4],
    /// Key ID (EN 13757-7 7.5.8, modes 7–10), 0 otherwise.
    pub key_id: u8,
}

impl MeterKey {
    /// The key of a meter; bit 15 of `manufacturer` is dropped (it is not part of the letters).
    pub const fn new(manufacturer: u16, id: [u8; 4], key_id: u8) -> Self {
        MeterKey { manufacturer: manufacturer & 0x7FFF, id, key_id }
    }

    /// From the texts every output prints: three manufacturer characters (`A`–`Z`, or `@` and
    /// `[\]^_` for codes outside the letters) and the ID as printed (8 digits or hex digits).
    pub fn from_text(manufacturer: &str, id: &str, key_id: u8) -> Result<Self, KeyError> {
        let m = manufacturer_from_text(manufacturer).ok_or_else(|| KeyError::BadManufacturer(crate::keys::Shape::of(manufacturer)))?;
        Ok(MeterKey::new(m, crate::keys::parse_meter_id(id)?, key_id))
    }

    /// The manufacturer's three characters.
    pub fn manufacturer_string(&self) -> String {
        String::from_utf8_lossy(&manufacturer_to_str(self.manufacturer)).into_owned()
    }

    /// The ID as printed on the meter.
    pub fn id_string(&self) -> String {
        id_to_string(self.id)
    }
}

impl fmt::Display for MeterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (key ID {})", self.manufacturer_string(), self.id_string(), self.key_id)
    }
}

/// The inverse of [`manufacturer_to_str`]: three characters `@`..`_` (40h–5Fh) → bits 14..0.
pub fn manufacturer_from_text(s: &str) -> Option<u16> {
    let b: &[u8; 3] = s.as_bytes().try_into().ok()?;
    b.iter().try_fold(0u16, |m, &c| (0x40..=0x5F).contains(&c).then(|| m << 5 | u16::from(c - 0x40)))
}

/// What a replay check compares for one telegram: its meter key and its counter, for telegrams
/// whose counter a key verified ([`Telegram::integrity`] not `none`), that carry a replay
/// counter and name their meter. None for every other telegram (they pass unchecked).
pub fn replay_subject(tg: &Telegram) -> Option<(MeterKey, u32)> {
    let verified = tg.integrity() != Integrity::None;
    subject_of(verified, tg.address.map(|a| (a.manufacturer, a.id)), &tg.counters())
}

/// [`replay_subject`] from its parts (the bulk decoder reads them from table columns):
/// whether a key verified the telegram, its meter (manufacturer, ID) and its counters.
pub fn subject_of(verified: bool, meter: Option<(u16, [u8; 4])>, c: &Counters) -> Option<(MeterKey, u32)> {
    if !verified {
        return None;
    }
    let (m, id) = meter?;
    Some((MeterKey::new(m, id, c.key_id), c.replay_counter()?))
}

/// The last accepted counter per [`MeterKey`] (see the module documentation).
#[derive(Debug, Default)]
pub struct CounterStore {
    last: Mutex<HashMap<MeterKey, u32>>,
    dlms: Mutex<HashMap<DlmsSubject, u32>>,
}

impl CounterStore {
    /// An empty store.
    pub fn new() -> Self {
        CounterStore::default()
    }

    fn map(&self) -> MutexGuard<'_, HashMap<MeterKey, u32>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert).
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(replayed_counter)` when `counter` is not greater than the last one accepted for
    /// `key` (EN 13757-7 7.5.8: the counter of a new message is greater than the last one).
    pub fn check_counter(&self, key: MeterKey, counter: u32) -> Result<(), Error> {
        check_in(&self.map(), key, counter)
    }

    /// Record `counter` as the last accepted one for `key` (a lower value never replaces a
    /// higher one).
    pub fn accept_counter(&self, key: MeterKey, counter: u32) {
        accept_in(&mut self.map(), key, counter);
    }

    /// [`CounterStore::check_counter`], then [`CounterStore::accept_counter`] if it passed,
    /// under one lock.
    pub fn check_and_accept_counter(&self, key: MeterKey, counter: u32) -> Result<(), Error> {
        let mut m = self.map();
        check_in(&m, key, counter)?;
        accept_in(&mut m, key, counter);
        Ok(())
    }

    /// Check a decoded telegram: a verified telegram with a replay counter that is not above
    /// its meter's last accepted counter is a `SecurityError` (`replayed_counter`); every
    /// other telegram passes.
    pub fn check(&self, tg: &Telegram) -> Result<(), Error> {
        replay_subject(tg).map_or(Ok(()), |(k, c)| self.check_counter(k, c))
    }

    /// Record a verified telegram's counter (DSMR P2 5.2: only after verification); telegrams
    /// without a verified replay counter change nothing.
    pub fn accept(&self, tg: &Telegram) {
        if let Some((k, c)) = replay_subject(tg) {
            self.accept_counter(k, c);
        }
    }

    /// [`CounterStore::check`], then [`CounterStore::accept`] if it passed, under one lock.
    pub fn check_and_accept(&self, tg: &Telegram) -> Result<(), Error> {
        replay_subject(tg).map_or(Ok(()), |(k, c)| self.check_and_accept_counter(k, c))
    }

    /// The last accepted counter of `key`.
    pub fn last(&self, key: MeterKey) -> Option<u32> {
        self.map().get(&key).copied()
    }

    /// Number of (meter, key ID) entries and DLMS subjects.
    pub fn len(&self) -> usize {
        self.map().len() + self.dlms_map().len()
    }

    /// True when no counter was accepted yet.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty() && self.dlms_map().is_empty()
    }

    /// Forget every counter (M-Bus and DLMS).
    pub fn clear(&self) {
        self.map().clear();
        self.dlms_map().clear();
    }

    fn dlms_map(&self) -> MutexGuard<'_, HashMap<DlmsSubject, u32>> {
        self.dlms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(cipher_replayed_counter)` when `counter` is not greater than the last invocation
    /// counter accepted for `subject`.
    pub fn check_dlms(&self, subject: DlmsSubject, counter: u32) -> Result<(), CipherError> {
        check_dlms_in(&self.dlms_map(), subject, counter)
    }

    /// Record `counter` as the last accepted one of `subject` (a lower value never replaces a
    /// higher one). Call it only for an APDU whose tag verified (or, encryption-only, that
    /// decoded).
    pub fn accept_dlms(&self, subject: DlmsSubject, counter: u32) {
        let mut m = self.dlms_map();
        let e = m.entry(subject).or_insert(counter);
        *e = (*e).max(counter);
    }

    /// [`CounterStore::check_dlms`] then [`CounterStore::accept_dlms`], under one lock, for a
    /// deciphered APDU `c` sent by `system_title`.
    pub fn check_and_accept_dlms(&self, c: &CipheredApdu, system_title: [u8; 8]) -> Result<(), CipherError> {
        let subject = DlmsSubject::of(c, system_title);
        let mut m = self.dlms_map();
        check_dlms_in(&m, subject, c.invocation_counter)?;
        let e = m.entry(subject).or_insert(c.invocation_counter);
        *e = (*e).max(c.invocation_counter);
        Ok(())
    }

    /// The last accepted invocation counter of `subject`.
    pub fn last_dlms(&self, subject: DlmsSubject) -> Option<u32> {
        self.dlms_map().get(&subject).copied()
    }

    /// Every DLMS entry, sorted (for persistence).
    pub fn dlms_entries(&self) -> Vec<(DlmsSubject, u32)> {
        let mut v: Vec<(DlmsSubject, u32)> = self.dlms_map().iter().map(|(k, c)| (*k, *c)).collect();
        v.sort_unstable();
        v
    }

    /// Add DLMS entries (from persistence); the higher counter stays.
    pub fn extend_dlms(&self, entries: impl IntoIterator<Item = (DlmsSubject, u32)>) {
        for (k, c) in entries {
            self.accept_dlms(k, c);
        }
    }

    /// Every entry, sorted by key (for persistence).
    pub fn entries(&self) -> Vec<(MeterKey, u32)> {
        let mut v: Vec<(MeterKey, u32)> = self.map().iter().map(|(k, c)| (*k, *c)).collect();
        v.sort_unstable();
        v
    }

    /// Add entries (from persistence); where the store already holds a meter, the higher
    /// counter stays.
    pub fn extend(&self, entries: impl IntoIterator<Item = (MeterKey, u32)>) {
        let mut m = self.map();
        for (k, c) in entries {
            accept_in(&mut m, k, c);
        }
    }
}

fn check_in(m: &HashMap<MeterKey, u32>, key: MeterKey, counter: u32) -> Result<(), Error> {
    match m.get(&key) {
        Some(&last) if counter <= last => Err(replayed(key, counter, last)),
        _ => Ok(()),
    }
}

fn check_dlms_in(m: &HashMap<DlmsSubject, u32>, s: DlmsSubject, counter: u32) -> Result<(), CipherError> {
    match m.get(&s) {
        Some(&last) if counter <= last => {
            Err(CipherError::ReplayedCounter { system_title: s.system_title, key: s.key.name(), counter, last })
        }
        _ => Ok(()),
    }
}

fn accept_in(m: &mut HashMap<MeterKey, u32>, key: MeterKey, counter: u32) {
    let e = m.entry(key).or_insert(counter);
    *e = (*e).max(counter);
}

/// [`decode_full`], then the replay check of `store` ([`CounterStore::check_and_accept`]): a
/// telegram verified with a key whose message counter is not greater than the last one
/// accepted for its meter and key ID is a `SecurityError` (`replayed_counter`); otherwise its
/// counter is recorded (EN 13757-7 7.5.8, DSMR P2 5.2). Failed decodes record nothing.
pub fn decode_checked(
    frame: &[u8],
    opts: &DecodeOptions,
    keys: &dyn KeyLookup,
    formats: Option<&FormatCache>,
    store: &CounterStore,
) -> Result<Telegram, Error> {
    let tg = decode_full(frame, opts, keys, formats)?;
    store.check_and_accept(&tg)?;
    Ok(tg)
}

/// The `replayed_counter` error: it belongs to the telegram as a whole, not to a byte.
pub fn replayed(meter: MeterKey, counter: u32, last: u32) -> Error {
    let MeterKey { manufacturer, id, key_id } = meter;
    Error::new(0, ErrorKind::ReplayedCounter { manufacturer, id, key_id, counter, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: MeterKey = MeterKey::new(0x2C2D, [0x78, 0x56, 0x34, 0x12], 0);

    #[test]
    fn counters_must_grow_per_meter_and_key_id() {
        let s = CounterStore::new();
        assert!(s.check_and_accept_counter(K, 7).is_ok());
        let e = s.check_and_accept_counter(K, 7).unwrap_err();
        assert_eq!((e.code(), e.position()), ("replayed_counter", None));
        assert_eq!(e.class(), crate::error::ErrorClass::Security);
        assert_eq!(
            e.to_string(),
            "replayed counter: KAM 12345678 (key ID 0) sent counter 7, not greater than the last accepted counter 7"
        );
        assert!(s.check_counter(K, 3).unwrap_err().to_string().contains("last accepted counter 7"));
        // Another key ID or meter has its own counter.
        assert!(s.check_counter(MeterKey { key_id: 1, ..K }, 1).is_ok());
        assert!(s.check_counter(MeterKey { id: [0x79, 0x56, 0x34, 0x12], ..K }, 1).is_ok());
        assert!(s.check_and_accept_counter(K, 8).is_ok());
        assert_eq!(s.last(K), Some(8));
        // Accepting a lower counter (e.g. from an older file) never moves it back.
        s.accept_counter(K, 2);
        s.extend([(K, 5)]);
        assert_eq!((s.last(K), s.len()), (Some(8), 1));
    }

    mod telegrams {
        use super::super::*;
        use crate::address::Address;
        use crate::keys::{KeyMaterial, KeyStore, NoKeys};
        use crate::mbus::decode::DecodeOptions;
        use crate::mbus::encode::{Builder, SecurityParams};
        use crate::mbus::link::wmbus::FrameFormat;
        use crate::mbus::records::{encode_record, Function, RecordValue};

        const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
        const ID: [u8; 4] = [0x78, 0x56, 0x34, 0x12];

        /// A mode-`mode` wireless frame of KAM 12345678 (key ID `key_id`), counter `mc`.
        fn frame(mode: u8, mc: u32, key_id: u8, key: [u8; 16]) -> Vec<u8> {
            let mut b = Builder::wireless(0x44, Address::new(0x2C2D, ID, 1, 7), FrameFormat::A);
            let counter = matches!(mode, 7..=10).then_some(mc);
            b.security = SecurityParams { mode, message_counter: counter, key_id, ..Default::default() };
            b.key = Some(KeyMaterial::Aes(key));
            let rec = encode_record(0, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(6408)).unwrap();
            b.encode(&rec, &[]).unwrap()
        }

        fn keys() -> KeyStore {
            let mut k = KeyStore::new();
            k.insert(None, ID, KeyMaterial::Aes(KEY));
            k
        }

        fn run(s: &CounterStore, f: &[u8], keys: &dyn crate::keys::KeyLookup) -> Result<usize, Error> {
            decode_checked(f, &DecodeOptions::default(), keys, None, s).map(|t| t.records.len())
        }

        #[test]
        fn the_same_mode7_frame_twice_is_a_replay() {
            let (s, k) = (CounterStore::new(), keys());
            let f = frame(7, 5, 0, KEY);
            assert_eq!(run(&s, &f, &k).unwrap(), 1);
            let e = run(&s, &f, &k).unwrap_err();
            assert_eq!((e.code(), e.class().exception_name()), ("replayed_counter", "SecurityError"));
            assert!(e.to_string().contains("KAM 12345678 (key ID 0) sent counter 5") && e.to_string().contains("last accepted counter 5"), "{e}");
            // A lower counter: rejected, naming the last accepted one; a higher: accepted.
            let e = run(&s, &frame(7, 4, 0, KEY), &k).unwrap_err();
            assert!(e.to_string().ends_with("not greater than the last accepted counter 5"), "{e}");
            assert_eq!(run(&s, &frame(7, 6, 0, KEY), &k).unwrap(), 1);
            assert_eq!(s.last(MeterKey::new(0x2C2D, ID, 0)), Some(6));
            // Another key ID of the same meter counts on its own.
            assert_eq!(run(&s, &frame(7, 1, 1, KEY), &k).unwrap(), 1);
            assert_eq!(s.len(), 2);
        }

        #[test]
        fn unverified_telegrams_never_move_the_counter() {
            let (s, k) = (CounterStore::new(), keys());
            let key = MeterKey::new(0x2C2D, ID, 0);
            s.accept_counter(key, 5);
            // Wrong key: the MAC fails, the decode fails, nothing is stored.
            let wrong = frame(7, 9, 0, [7; 16]);
            assert_eq!(run(&s, &wrong, &k).unwrap_err().code(), "afl_mac");
            // No key: opaque, nothing verified its counter: passes, stores nothing.
            assert_eq!(run(&s, &frame(7, 3, 0, KEY), &NoKeys).unwrap(), 0);
            assert_eq!(run(&s, &frame(7, 9, 0, KEY), &NoKeys).unwrap(), 0);
            assert_eq!(s.last(key), Some(5));
            // Mode 5 has no message counter: passes however often.
            for _ in 0..2 {
                assert_eq!(run(&s, &frame(5, 0, 0, KEY), &k).unwrap(), 1);
            }
            assert_eq!(s.len(), 1);
            // Mode 9 (TPL counter) is checked too, against the same meter and key ID.
            assert_eq!(run(&s, &frame(9, 2, 0, KEY), &k).unwrap_err().code(), "replayed_counter");
            assert_eq!(run(&s, &frame(9, 6, 0, KEY), &k).unwrap(), 1);
            assert_eq!(run(&s, &frame(9, 6, 0, KEY), &k).unwrap_err().code(), "replayed_counter");
        }

        #[test]
        fn threads_accept_each_counter_once() {
            let (s, k) = (CounterStore::new(), keys());
            let frames: Vec<Vec<u8>> = (1..=20).map(|c| frame(7, c, 0, KEY)).collect();
            let ok = std::sync::atomic::AtomicUsize::new(0);
            std::thread::scope(|sc| {
                for _ in 0..4 {
                    sc.spawn(|| {
                        for f in &frames {
                            if run(&s, f, &k).is_ok() {
                                ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    });
                }
            });
            // Every counter is accepted at most once; 20 is accepted by someone.
            assert!(ok.into_inner() <= 20);
            assert_eq!(s.last(MeterKey::new(0x2C2D, ID, 0)), Some(20));
        }
    }

    #[test]
    fn texts_round_trip() {
        assert_eq!(MeterKey::from_text("KAM", "12345678", 0).unwrap(), K);
        assert_eq!((K.manufacturer_string(), K.id_string()), ("KAM".to_string(), "12345678".to_string()));
        let odd = MeterKey::new(0, [0xAB, 0, 0, 0xF1], 3);
        assert_eq!(MeterKey::from_text(&odd.manufacturer_string(), &odd.id_string(), 3).unwrap(), odd);
        assert!(MeterKey::from_text("KA", "12345678", 0).is_err());
        assert!(MeterKey::from_text("KAM", "1234567X", 0).is_err());
        for m in [0u16, 0x2C2D, 0x7FFF, 0x1593] {
            assert_eq!(manufacturer_from_text(std::str::from_utf8(&manufacturer_to_str(m)).unwrap()), Some(m));
        }
    }
}

/// Decode a DLMS/COSEM message and reject a replay: an authenticated APDU whose invocation
/// counter is not greater than the last one accepted for its system title and key kind is a
/// `cipher_replayed_counter` error. A counter is recorded only when the message decoded and its
/// tag verified (Green Book 9.2.7.2.4); encryption-only APDUs have nothing that verifies their
/// counter and are neither checked nor recorded.
pub fn dlms_decode_checked(
    data: &[u8],
    keys: &crate::dlms::decode::Keys,
    opts: &crate::dlms::decode::DecodeOptions,
    store: &CounterStore,
) -> Result<crate::dlms::decode::Message, Error> {
    let msg = crate::dlms::decode::decode(data, keys, opts)?;
    if let (Some(c), Some(title)) = (msg.ciphered(), msg.system_title) {
        if c.security_control.authenticated() {
            store.check_and_accept_dlms(c, title).map_err(|e| crate::dlms::decode::dlms_error(e.into(), 0))?;
        }
    }
    Ok(msg)
}
