//! Store conformance (issue 15 §2, §3): the same semantic tests against every [`Store`]
//! (SQLite files in temp dirs; PostgreSQL on a throwaway cluster started here). Rows are built
//! the way the pipeline builds them, with its key functions (`store::schema`): the dedup key is
//! `meter ‖ key id ‖ counter` for a telegram with a counter, else a hash of the frame plus the
//! time bucket.

mod pg;
mod ports;

use std::collections::HashSet;
use std::sync::Arc;

use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::schema;
use meterlink_service::store::sqlite::SqliteStore;
use meterlink_service::store::{Batch, ReadingRow, ReceptionRow, RejectedRow, Store, TelegramRow, WriteReport};

const WINDOW: i64 = 10_000;
const T0: i64 = 1_750_000_000_000;
const HOUR: i64 = 3_600_000;

/// What the tests read back from a store (each store's own query path).
trait Inspect: Store {
    /// `SELECT count(*) FROM table [WHERE ...]`.
    fn count(&mut self, table: &str, filter: &str) -> i64;
    /// `meters.last_counter` of (meter, key id).
    fn last_counter(&mut self, meter: &str, key_id: u8) -> Option<i64>;
}

impl Inspect for PgStore {
    fn count(&mut self, table: &str, filter: &str) -> i64 {
        self.flush().unwrap(); // `meters` / `meter_gateways` are as of the last flush
        let w = if filter.is_empty() { String::new() } else { format!(" WHERE {filter}") };
        self.query_i64(&format!("SELECT count(*) FROM {table}{w}")).unwrap()[0][0].unwrap()
    }
    fn last_counter(&mut self, meter: &str, key_id: u8) -> Option<i64> {
        self.flush().unwrap();
        let q = format!("SELECT last_counter FROM meters WHERE meter = '{meter}' AND key_id = {key_id}");
        self.query_i64(&q).unwrap().first().and_then(|r| r[0])
    }
}

impl Inspect for SqliteStore {
    fn count(&mut self, table: &str, filter: &str) -> i64 {
        self.flush().unwrap(); // `meters` / `meter_gateways` are as of the last flush
        let w = if filter.is_empty() { String::new() } else { format!(" WHERE {filter}") };
        self.connection().query_row(&format!("SELECT count(*) FROM {table}{w}"), [], |r| r.get(0)).unwrap()
    }
    fn last_counter(&mut self, meter: &str, key_id: u8) -> Option<i64> {
        self.flush().unwrap();
        let q = format!("SELECT last_counter FROM meters WHERE meter = '{meter}' AND key_id = {key_id}");
        self.connection().query_row(&q, [], |r| r.get(0)).ok().flatten()
    }
}

/// The M-Bus identity bytes of a meter name (its digits as the ID), as the pipeline keys it.
fn identity(meter: &str) -> [u8; 9] {
    let id: u32 = meter[3..].parse().unwrap();
    let mut i = [0x2d, 0x2c, 0, 0, 0, 0, 0x30, 0x07, 0];
    i[2..6].copy_from_slice(&id.to_le_bytes());
    i
}

fn counter_key(meter: &str, key_id: u8, counter: u32) -> [u8; 16] {
    schema::counter_key(identity(meter), key_id, counter)
}

fn frame_of(meter: &str, counter: u32) -> Vec<u8> {
    let mut f = vec![0x2e, 0x44, 0x2d, 0x2c];
    f.extend_from_slice(meter.as_bytes());
    f.extend_from_slice(&counter.to_le_bytes());
    f
}

/// One telegram heard by `gateways` (one reception each, 100 ms apart), three readings.
fn telegram(b: &mut Batch, meter: &str, counter: Option<u32>, at: i64, gateways: &[&str]) -> [u8; 16] {
    let frame = frame_of(meter, counter.unwrap_or(0));
    let key = match counter {
        Some(c) => counter_key(meter, 0, c),
        None => schema::frame_key(&schema::frame_hash(&frame), at, WINDOW),
    };
    b.telegrams.push(TelegramRow {
        dedup_key: key,
        meter: meter.into(),
        device_type: Some(7),
        key_id: 0,
        counter,
        access_number: Some(counter.unwrap_or(0) as u8),
        status: Some(0),
        integrity: if counter.is_some() { "mac" } else { "clear" },
        protocol: "mbus",
        received_at_ms: at,
        frame,
        worker: Arc::from("w1"),
    });
    for (i, g) in gateways.iter().enumerate() {
        b.receptions.push(ReceptionRow {
            dedup_key: key,
            gateway: Arc::from(*g),
            intake: Arc::from("mqtt"),
            received_at_ms: at + 100 * i as i64,
            rssi: Some(-70.0 - i as f32),
        });
    }
    for idx in 0..3u16 {
        b.readings.push(ReadingRow {
            dedup_key: key,
            idx,
            quantity: ["volume", "flow", "date"][idx as usize].into(),
            unit: Some("m3".into()),
            value: Some(f64::from(counter.unwrap_or(1)) * 0.001 + f64::from(idx)),
            text: None,
            storage: 0,
            tariff: 0,
            subunit: 0,
            function: "instantaneous",
            time_ms: None,
        });
    }
    key
}

fn rejected(b: &mut Batch, at: i64) {
    b.rejected.push(RejectedRow {
        received_at_ms: at,
        gateway: Arc::from("gw1"),
        intake: Arc::from("mqtt"),
        code: "security_mac",
        reason: "MAC mismatch".into(),
        offset: Some(11),
        meter: Some("KAM00000009".into()),
        frame: vec![1, 2, 3],
    });
}

fn report(stored: usize, duplicates: usize, replays: usize, rejected: usize) -> WriteReport {
    WriteReport { stored, duplicates, replays, rejected }
}

/// Every table's row count, in the order telegrams, receptions, readings, rejected, meters,
/// meter_gateways.
fn counts<S: Inspect>(s: &mut S) -> [i64; 6] {
    ["telegrams", "receptions", "readings", "rejected", "meters", "meter_gateways"].map(|t| s.count(t, ""))
}

fn insert_and_duplicate<S: Inspect>(s: &mut S) {
    let mut b = Batch::default();
    telegram(&mut b, "KAM00000001", Some(10), T0, &["gw1", "gw2"]);
    telegram(&mut b, "KAM00000002", None, T0, &["gw1"]);
    rejected(&mut b, T0);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(2, 0, 0, 1));
    assert_eq!(counts(s), [2, 3, 6, 1, 2, 3]);
    assert_eq!(s.last_counter("KAM00000001", 0), Some(10));
    assert_eq!(s.count("readings", "quantity = 'flow' AND value = 1.01"), 1);

    // A third gateway's reception 3 s later, in the next batch: only the reception is added.
    let mut d = Batch::default();
    let key = telegram(&mut d, "KAM00000001", Some(10), T0 + 3_000, &["gw3"]);
    assert_eq!(s.write(&d, WINDOW).unwrap(), report(0, 1, 0, 0));
    assert_eq!(counts(s), [2, 4, 6, 1, 2, 4]);
    assert_eq!(s.count("meter_gateways", "meter = 'KAM00000001' AND gateway = 'gw3' AND rssi = -70"), 1);
    assert_eq!(key, counter_key("KAM00000001", 0, 10));
}

fn replay_outside_window<S: Inspect>(s: &mut S) {
    let mut b = Batch::default();
    telegram(&mut b, "KAM00000003", Some(20), T0, &["gw1"]);
    s.write(&b, WINDOW).unwrap();
    // The same counter an hour later (a recorded telegram sent again) and an older counter.
    let mut r = Batch::default();
    telegram(&mut r, "KAM00000003", Some(20), T0 + HOUR, &["gw2"]);
    telegram(&mut r, "KAM00000003", Some(19), T0 + HOUR, &["gw2"]);
    assert_eq!(s.write(&r, WINDOW).unwrap(), report(0, 0, 2, 2));
    assert_eq!(s.count("rejected", "code = 'replayed_counter' AND meter = 'KAM00000003' AND gateway = 'gw2'"), 2);
    assert_eq!(s.count("telegrams", "meter = 'KAM00000003'"), 1);
    assert_eq!(s.count("receptions", "gateway = 'gw2'"), 0);
    assert_eq!(s.last_counter("KAM00000003", 0), Some(20));
    // The last counter again under another key (other bytes: a key that hashes the frame):
    // not above the last one, so a replay.
    let mut o = Batch::default();
    telegram(&mut o, "KAM00000003", Some(20), T0 + HOUR, &["gw2"]);
    o.telegrams[0].dedup_key[0] ^= 0xff;
    o.telegrams[0].frame.push(0);
    o.receptions[0].dedup_key[0] ^= 0xff;
    o.readings.iter_mut().for_each(|r| r.dedup_key[0] ^= 0xff);
    assert_eq!(s.write(&o, WINDOW).unwrap(), report(0, 0, 1, 1));
    // A counter above the last one is a new telegram and advances the counter.
    let mut n = Batch::default();
    telegram(&mut n, "KAM00000003", Some(21), T0 + HOUR, &["gw2"]);
    assert_eq!(s.write(&n, WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(s.last_counter("KAM00000003", 0), Some(21));
}

fn counterless_repeat_is_new<S: Inspect>(s: &mut S) {
    let mut a = Batch::default();
    let k1 = telegram(&mut a, "KAM00000004", None, T0, &["gw1"]);
    s.write(&a, WINDOW).unwrap();
    let mut b = Batch::default();
    let k2 = telegram(&mut b, "KAM00000004", None, T0 + HOUR, &["gw1"]);
    assert_ne!(k1, k2);
    assert_eq!(a.telegrams[0].frame, b.telegrams[0].frame);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(s.count("telegrams", "meter = 'KAM00000004'"), 2);
    assert_eq!(s.count("readings", ""), 6);
}

/// The same counter-less bytes 4 s apart straddling a bucket boundary: one telegram, two
/// receptions under the first key.
fn neighbour_bucket_is_duplicate<S: Inspect>(s: &mut S) {
    let at = (T0 / WINDOW + 1) * WINDOW - 2_000;
    let mut a = Batch::default();
    let k1 = telegram(&mut a, "KAM00000005", None, at, &["gw1"]);
    assert_eq!(s.write(&a, WINDOW).unwrap(), report(1, 0, 0, 0));
    let mut b = Batch::default();
    let k2 = telegram(&mut b, "KAM00000005", None, at + 4_000, &["gw2"]);
    assert_ne!(k1, k2);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(0, 1, 0, 0));
    assert_eq!(counts(s), [1, 2, 3, 0, 1, 2]);
    assert_eq!(s.count("receptions", "gateway = 'gw2' AND received_at_ms = 1750000012000"), 1);
}

/// Counters in one batch are checked in batch order: a lower one after a higher one of the same
/// meter is a replay.
fn counters_within_a_batch<S: Inspect>(s: &mut S) {
    let mut b = Batch::default();
    telegram(&mut b, "KAM00000006", Some(7), T0, &["gw1"]);
    telegram(&mut b, "KAM00000006", Some(5), T0 + 60_000, &["gw1"]);
    telegram(&mut b, "KAM00000006", Some(8), T0 + 120_000, &["gw1"]);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(2, 0, 1, 1));
    assert_eq!(s.last_counter("KAM00000006", 0), Some(8));
    assert_eq!(s.count("rejected", "code = 'replayed_counter' AND meter = 'KAM00000006'"), 1);
}

fn idempotent_rewrite<S: Inspect>(s: &mut S) {
    let mut b = Batch::default();
    for i in 0..50u32 {
        telegram(&mut b, &format!("KAM{:08}", 100 + i), Some(i + 1), T0 + i64::from(i), &["gw1", "gw2", "gw3"]);
    }
    telegram(&mut b, "KAM00000099", None, T0, &["gw1"]);
    rejected(&mut b, T0);
    rejected(&mut b, T0 + 1);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(51, 0, 0, 2));
    let before = counts(s);
    assert_eq!(before, [51, 151, 153, 2, 51, 151]);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(0, 51, 0, 0));
    assert_eq!(counts(s), before);
    // A redelivery of a batch holding a replay writes its rejection once.
    let mut r = Batch::default();
    telegram(&mut r, "KAM00000100", Some(1), T0 + HOUR, &["gw9"]);
    assert_eq!(s.write(&r, WINDOW).unwrap(), report(0, 0, 1, 1));
    assert_eq!(s.write(&r, WINDOW).unwrap(), report(0, 0, 1, 0));
    assert_eq!(s.count("rejected", "code = 'replayed_counter'"), 1);
}

/// A batch that carries one reception twice (an intake that repeated a line): stored once.
fn repeated_reception_in_a_batch<S: Inspect>(s: &mut S) {
    let mut b = Batch::default();
    telegram(&mut b, "KAM00000007", Some(3), T0, &["gw1"]);
    b.receptions.push(b.receptions[0].clone());
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(counts(s), [1, 1, 3, 0, 1, 1]);
}

fn empty_batch<S: Inspect>(s: &mut S) {
    assert_eq!(s.write(&Batch::default(), WINDOW).unwrap(), report(0, 0, 0, 0));
    assert_eq!(counts(s), [0; 6]);
}

/// Run one case on a fresh, migrated store.
fn case<S: Inspect>(mut s: S, f: fn(&mut S)) {
    s.migrate().unwrap();
    f(&mut s);
}

macro_rules! sqlite_cases {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            let dir = std::env::temp_dir().join(format!("mlsq-{}-{}", std::process::id(), stringify!($name)));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            case(SqliteStore::open(&dir.join("t.db")).unwrap(), super::$name);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    )*};
}

macro_rules! pg_cases {
    ($($name:ident),*) => {$(
        #[test]
        fn $name() {
            let Some(c) = pg::cluster_or_skip(concat!("pg_", stringify!($name))) else { return };
            case(PgStore::connect(&c.new_database()).unwrap(), super::$name);
        }
    )*};
}

macro_rules! all_cases {
    ($m:ident) => {
        $m!(insert_and_duplicate, replay_outside_window, counterless_repeat_is_new, neighbour_bucket_is_duplicate,
            idempotent_rewrite, counters_within_a_batch, repeated_reception_in_a_batch, empty_batch);
    };
}

mod postgres {
    use super::*;
    all_cases!(pg_cases);
}

mod sqlite {
    use super::*;
    all_cases!(sqlite_cases);
}

#[test]
fn pg_migration_twice_and_by_two_workers_at_once() {
    let Some(c) = pg::cluster_or_skip("pg_migration_twice_and_by_two_workers_at_once") else { return };
    let url = c.new_database();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::connect(&url).unwrap().migrate())
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let mut s = PgStore::connect(&url).unwrap();
    s.migrate().unwrap();
    assert_eq!(s.schema_version().unwrap(), schema::SCHEMA_VERSION);
    assert_eq!(s.count("schema_version", ""), 1);
    empty_batch(&mut s);
}

/// Two workers write overlapping batches at the same time (each telegram heard by both
/// workers' gateways, so every key is written twice, concurrently): every telegram is stored
/// exactly once, every reception kept, the counters end at the maximum.
#[test]
fn pg_concurrent_writers_overlapping_batches() {
    let Some(c) = pg::cluster_or_skip("pg_concurrent_writers_overlapping_batches") else { return };
    let url = c.new_database();
    PgStore::connect(&url).unwrap().migrate().unwrap();
    const METERS: u32 = 200;
    const ROUNDS: u32 = 20;
    let worker = |gw: &'static str, reverse: bool| {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut s = PgStore::connect(&url).unwrap();
            let mut stored = 0;
            for round in 0..ROUNDS {
                let mut b = Batch::default();
                let mut meters: Vec<u32> = (0..METERS).collect();
                if reverse {
                    meters.reverse();
                }
                for m in meters {
                    let at = T0 + i64::from(round) * 60_000 + i64::from(m);
                    telegram(&mut b, &format!("KAM{m:08}"), Some(round + 1), at, &[gw]);
                }
                let r = s.write(&b, WINDOW).unwrap();
                assert_eq!(r.replays, 0);
                assert_eq!(r.stored + r.duplicates, METERS as usize);
                stored += r.stored;
            }
            stored
        })
    };
    let (a, b) = (worker("gwA", false), worker("gwB", true));
    let total = a.join().unwrap() + b.join().unwrap();
    let mut s = PgStore::connect(&url).unwrap();
    let n = i64::from(METERS * ROUNDS);
    assert_eq!(total as i64, n);
    assert_eq!(counts(&mut s), [n, 2 * n, 3 * n, 0, i64::from(METERS), 2 * i64::from(METERS)]);
    assert_eq!(s.count("meters", &format!("last_counter = {ROUNDS}")), i64::from(METERS));
    let keys: HashSet<i64> = s.query_i64("SELECT count(*) FROM telegrams GROUP BY meter").unwrap().iter().map(|r| r[0].unwrap()).collect();
    assert_eq!(keys, HashSet::from([i64::from(ROUNDS)]));
}

/// A digest of a table's rows (every column, order-independent) as a number.
fn digest(s: &mut PgStore, table: &str) -> i64 {
    s.flush().unwrap();
    let q = format!(
        "SELECT ('x' || substr(md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')), 1, 15))::bit(60)::bigint FROM {table} t"
    );
    s.query_i64(&q).unwrap()[0][0].unwrap()
}

/// A history mixing every decision: new telegrams heard by two gateways, a counter-less one and
/// a rejection; then late receptions (duplicates), counters replayed an hour later, a lower
/// counter after a higher one in one batch, the same counter-less bytes in the neighbour bucket,
/// new counters; then that batch again (a redelivery); then new counters only (taken as new
/// without a decision), then among new counters one below the stored one (a replay that only
/// the database sees).
fn mixed_history() -> Vec<Batch> {
    let at = (T0 / WINDOW + 1) * WINDOW - 2_000;
    let (mut c, mut d) = (Batch::default(), Batch::default());
    for m in 0..20u32 {
        telegram(&mut c, &format!("KAM{:08}", 200 + m), Some(20), at + 2 * HOUR, &["gw1"]);
        telegram(&mut d, &format!("KAM{:08}", 200 + m), Some(if m == 7 { 3 } else { 21 }), at + 3 * HOUR, &["gw1"]);
    }
    let mut a = Batch::default();
    for m in 0..20u32 {
        telegram(&mut a, &format!("KAM{:08}", 200 + m), Some(5), at + i64::from(m), &["gw1", "gw2"]);
    }
    telegram(&mut a, "KAM00000299", None, at, &["gw1"]);
    rejected(&mut a, at);
    let mut b = Batch::default();
    for m in 0..5u32 {
        telegram(&mut b, &format!("KAM{:08}", 200 + m), Some(5), at + 3_000, &["gw3"]);
    }
    for m in 5..10u32 {
        telegram(&mut b, &format!("KAM{:08}", 200 + m), Some(4 + m % 2), at + HOUR, &["gw3"]);
    }
    telegram(&mut b, "KAM00000215", Some(9), at + 60_000, &["gw1"]);
    telegram(&mut b, "KAM00000215", Some(7), at + 61_000, &["gw1"]);
    telegram(&mut b, "KAM00000299", None, at + 4_000, &["gw2"]);
    telegram(&mut b, "KAM00000216", Some(6), at + 60_000, &["gw2", "gw4"]);
    rejected(&mut b, at + 5);
    vec![a, b.clone(), b, c, d]
}

/// The optimistic path (direct COPY, the database refusing what is not new), the decided path
/// (direct COPY after the database's decision) and the safe path (one statement) decide alike
/// and leave identical tables, row by row.
#[test]
fn pg_all_write_paths_agree() {
    let Some(c) = pg::cluster_or_skip("pg_all_write_paths_agree") else { return };
    let (mut fast, mut safe) = (PgStore::connect(&c.new_database()).unwrap(), PgStore::connect(&c.new_database()).unwrap());
    fast.migrate().unwrap();
    safe.migrate().unwrap();
    safe.set_safe_only(true);
    let reports: Vec<_> = mixed_history().iter().map(|b| (fast.write(b, WINDOW).unwrap(), safe.write(b, WINDOW).unwrap())).collect();
    for (f, s) in &reports {
        assert_eq!(f, s);
    }
    assert_eq!(reports[0].0, report(21, 0, 0, 1));
    // 5 late receptions, 1 neighbour-bucket repeat; 5 replays an hour later, 1 lower counter.
    assert_eq!(reports[1].0, report(2, 6, 6, 7));
    assert_eq!(reports[2].0, report(0, 8, 6, 0));
    assert_eq!(reports[3].0, report(20, 0, 0, 0));
    assert_eq!(reports[4].0, report(19, 0, 1, 1));
    // Decided: the first three (a frame key; duplicates) and the replay after the trap fired.
    let p = fast.path_counts();
    assert_eq!((p.optimistic, p.decided, p.safe, p.missed), (1, 4, 0, 1));
    assert_eq!(safe.path_counts().safe, 5);
    for t in ["telegrams", "receptions", "readings", "rejected", "meters", "meter_gateways"] {
        assert_eq!(digest(&mut fast, t), digest(&mut safe, t), "{t}");
    }
    assert_eq!(counts(&mut fast), [62, 89, 186, 9, 21, 48]);
    assert_eq!(fast.last_counter("KAM00000215", 0), Some(21));
    assert_eq!(fast.last_counter("KAM00000207", 0), Some(20));
}

/// A unique violation (here: a reception repeated within the batch) sends the batch down the
/// paths (optimistic, decided) to the safe one, each in a new transaction: nothing of a failed
/// attempt remains.
#[test]
fn pg_unique_violation_falls_back_to_the_safe_path() {
    let Some(c) = pg::cluster_or_skip("pg_unique_violation_falls_back_to_the_safe_path") else { return };
    let mut s = PgStore::connect(&c.new_database()).unwrap();
    s.migrate().unwrap();
    repeated_reception_in_a_batch(&mut s);
    let p = s.path_counts();
    assert_eq!((p.optimistic, p.decided, p.safe, p.missed), (0, 0, 1, 1));
    let mut b = Batch::default();
    telegram(&mut b, "KAM00000008", Some(1), T0, &["gw1"]);
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(s.path_counts().safe, 1);
}
