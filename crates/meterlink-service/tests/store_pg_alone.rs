//! The PostgreSQL store's sole-writer knowledge (`store/postgres/alone.rs`; decisions
//! "PostgreSQL: the sole writer's knowledge"): a worker alone on the database leaves the
//! counter-less telegrams it knows to be new out of the decision, and still finds every
//! duplicate of a frame in a neighbouring bucket: its own, those of a worker that wrote and
//! left, and those of a worker connected beside it. A real cluster (tests/pg).

mod pg;
mod ports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::{schema, Batch, ReadingRow, ReceptionRow, Store, TelegramRow, WriteReport};

const WINDOW: i64 = 10_000;
/// A bucket boundary: `T0 / WINDOW` is a whole number.
const T0: i64 = 1_750_000_000_000;

/// A counter-less (mode 5: frame key) telegram of meter `SEN<id>` with `frame`, heard by `gw`
/// at `at`.
fn telegram(b: &mut Batch, id: u32, frame: &[u8], gw: &str, at: i64) {
    let key = schema::frame_key(&schema::frame_hash(frame), at, WINDOW);
    b.telegrams.push(TelegramRow {
        dedup_key: key,
        meter: format!("SEN{id:08}"),
        device_type: Some(7),
        key_id: 0,
        counter: None,
        access_number: Some(frame[0]),
        status: Some(0),
        integrity: "decrypted",
        protocol: "mbus",
        received_at_ms: at,
        frame: frame.to_vec(),
        worker: Arc::from("w"),
    });
    b.receptions.push(ReceptionRow { dedup_key: key, gateway: Arc::from(gw), intake: Arc::from("mqtt"), received_at_ms: at, rssi: Some(-70.0) });
}

fn batch(rows: &[(u32, &[u8], &str, i64)]) -> Batch {
    let mut b = Batch::default();
    for &(id, frame, gw, at) in rows {
        telegram(&mut b, id, frame, gw, at);
    }
    b
}

fn worker(url: &str) -> PgStore {
    let mut s = PgStore::connect(url).unwrap();
    s.migrate().unwrap();
    s
}

fn count(s: &mut PgStore, q: &str) -> i64 {
    s.query_i64(q).unwrap()[0][0].unwrap_or(0)
}

const fn report(stored: usize, duplicates: usize) -> WriteReport {
    WriteReport { stored, duplicates, replays: 0, rejected: 0 }
}

/// Wait until `s` is the only session on its database (a closed worker's backend exits
/// shortly after its client went, and holds its registration until then).
fn wait_alone(s: &mut PgStore) {
    let until = Instant::now() + Duration::from_secs(10);
    while count(s, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()") > 1 {
        assert!(Instant::now() < until, "the other session did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_sole_writer_proves_new_frames_and_still_finds_its_duplicates() {
    let Some(c) = pg::cluster_or_skip("a_sole_writer_proves_new_frames_and_still_finds_its_duplicates") else { return };
    let mut a = worker(&c.new_database());
    assert_eq!(a.write(&batch(&[(1, b"one", "gw1", T0 + 9_000), (2, b"two", "gw1", T0 + 9_500)]), WINDOW).unwrap(), report(2, 0));
    assert_eq!(a.path_counts().proven, 2, "an empty database: both new without a probe");
    // The first frame again 2 s later, in the next bucket (another gateway, as a cache that
    // forgot would hand it over): its own key is new, its neighbour key is this worker's.
    assert_eq!(a.write(&batch(&[(1, b"one", "gw2", T0 + 11_000), (3, b"three", "gw2", T0 + 11_500)]), WINDOW).unwrap(), report(1, 1));
    assert_eq!(a.path_counts().proven, 3, "only the third frame proven");
    // The same bytes a minute later: a new telegram (outside the window), and proven.
    assert_eq!(a.write(&batch(&[(1, b"one", "gw1", T0 + 69_000)]), WINDOW).unwrap(), report(1, 0));
    assert_eq!(a.path_counts().proven, 4);
    assert_eq!(count(&mut a, "SELECT count(*) FROM telegrams"), 4);
    assert_eq!(count(&mut a, "SELECT count(*) FROM receptions"), 5);
    let first = schema::frame_key(&schema::frame_hash(b"one"), T0 + 9_000, WINDOW);
    let hex: String = first.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(count(&mut a, &format!("SELECT count(*) FROM receptions WHERE dedup_key = '\\x{hex}'::bytea")), 2, "gw2's reception joined the first telegram");
}

/// A worker that registered, wrote and left between two of `a`'s transactions: `a` is alone
/// again, but its knowledge predates the other's rows, so it starts over from the database.
#[test]
fn a_writer_that_came_and_went_is_seen() {
    let Some(c) = pg::cluster_or_skip("a_writer_that_came_and_went_is_seen") else { return };
    let url = c.new_database();
    let mut a = worker(&url);
    assert_eq!(a.write(&batch(&[(1, b"one", "gw1", T0 + 1_000)]), WINDOW).unwrap(), report(1, 0));
    assert_eq!(a.path_counts().proven, 1);
    {
        let mut b = worker(&url);
        assert_eq!(b.write(&batch(&[(5, b"five", "gw2", T0 + 59_000)]), WINDOW).unwrap(), report(1, 0));
    }
    wait_alone(&mut a);
    // `five` 2 s later through a's gateway, in the next bucket: b's telegram, a duplicate. And
    // a new frame two buckets on, which a proves again (so a was alone in this transaction).
    let next = batch(&[(5, b"five", "gw1", T0 + 61_000), (6, b"six", "gw1", T0 + 75_000)]);
    assert_eq!(a.write(&next, WINDOW).unwrap(), report(1, 1));
    assert_eq!(a.path_counts().proven, 2, "alone: only `six` proven");
    assert_eq!(count(&mut a, "SELECT count(*) FROM telegrams"), 3);
}

/// While another worker is connected, nothing is proven: its commits may land between any two
/// of this worker's statements.
#[test]
fn nothing_is_proven_beside_another_writer() {
    let Some(c) = pg::cluster_or_skip("nothing_is_proven_beside_another_writer") else { return };
    let url = c.new_database();
    let mut a = worker(&url);
    let mut b = worker(&url);
    assert_eq!(b.write(&batch(&[(7, b"seven", "gw2", T0 + 9_000)]), WINDOW).unwrap(), report(1, 0));
    assert_eq!(a.write(&batch(&[(7, b"seven", "gw1", T0 + 11_000), (8, b"eight", "gw1", T0 + 30_000)]), WINDOW).unwrap(), report(1, 1));
    assert_eq!(a.path_counts().proven, 0);
    assert_eq!(a.path_counts().decided, 1);
    drop(b);
    wait_alone(&mut a);
    assert_eq!(a.write(&batch(&[(9, b"nine", "gw1", T0 + 60_000)]), WINDOW).unwrap(), report(1, 0));
    assert_eq!(a.path_counts().proven, 1, "alone again once b left");
}

/// Large batches (whose plan is built on a second thread while the `telegrams` COPY is sent)
/// store the same rows as the same telegrams in small batches (built on the writer thread): 400
/// frames with two readings each, then each again 3 s later through another gateway (the next
/// bucket: duplicates under the first keys) beside 400 new frames.
#[test]
fn large_batches_store_what_small_ones_store() {
    let Some(c) = pg::cluster_or_skip("large_batches_store_what_small_ones_store") else { return };
    let frame = |i: u32| format!("frame {i:04}").into_bytes();
    let first: Vec<(u32, Vec<u8>, &str, i64)> = (0..400).map(|i| (i, frame(i), "gw1", T0 + 8_000 + i64::from(i))).collect();
    let mut second: Vec<(u32, Vec<u8>, &str, i64)> = (0..400).map(|i| (i, frame(i), "gw2", T0 + 11_000 + i64::from(i))).collect();
    second.extend((400..800).map(|i| (i, frame(i), "gw2", T0 + 13_500 + i64::from(i))));
    let with_readings = |rows: &[(u32, Vec<u8>, &str, i64)]| {
        let mut b = Batch::default();
        for (id, f, gw, at) in rows {
            telegram(&mut b, *id, f, gw, *at);
            let key = b.telegrams.last().unwrap().dedup_key;
            for idx in 0..2u16 {
                b.readings.push(ReadingRow {
                    dedup_key: key,
                    idx,
                    quantity: "volume".into(),
                    unit: Some("m3".into()),
                    value: Some(f64::from(*id) + f64::from(idx) / 2.0),
                    text: None,
                    storage: 0,
                    tariff: 0,
                    subunit: 0,
                    function: "instantaneous",
                    time_ms: None,
                });
            }
        }
        b
    };
    let fingerprint = |s: &mut PgStore| {
        let q = "SELECT (SELECT count(*) FROM telegrams), (SELECT count(*) FROM receptions), (SELECT count(*) FROM readings), \
                 (SELECT sum(value)::bigint FROM readings), \
                 (SELECT ('x' || substr(md5(string_agg(encode(dedup_key, 'hex') || gateway || received_at_ms, ',' \
                   ORDER BY dedup_key, gateway, received_at_ms)), 1, 15))::bit(60)::bigint FROM receptions)";
        s.query_i64(q).unwrap()[0].clone()
    };
    let mut large = worker(&c.new_database());
    assert_eq!(large.write(&with_readings(&first), WINDOW).unwrap(), report(400, 0));
    assert_eq!(large.write(&with_readings(&second), WINDOW).unwrap(), report(400, 400));
    let mut small = worker(&c.new_database());
    for rows in first.chunks(10).chain(second.chunks(10)) {
        small.write(&with_readings(rows), WINDOW).unwrap();
    }
    let (l, s) = (fingerprint(&mut large), fingerprint(&mut small));
    assert_eq!(l[..4], [Some(800), Some(1_200), Some(1_600), Some((0..800).map(|i| 2 * i).sum::<i64>() + 800 / 2)]);
    assert_eq!(l, s);
    let two = "SELECT count(*) FROM (SELECT dedup_key FROM receptions GROUP BY dedup_key HAVING count(*) = 2) d";
    assert_eq!(count(&mut large, two), 400, "each second reception joined its first");
}
