//! The PostgreSQL store's deferred summaries (`PgStore::set_deferred(true)`; decisions
//! "Deferred summaries"): `meters` / `meter_gateways` are written at a flush, not in every
//! batch, and replays are still refused
//! without them, by the `telegrams` index (the highest stored counter under the meter's key
//! prefix), on every path and across two connections (two workers). A real cluster (tests/pg).

mod pg;
mod ports;

use std::sync::Arc;

use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::{schema, Batch, ReceptionRow, Store, TelegramRow, WriteReport};

const WINDOW: i64 = 10_000;
const T0: i64 = 1_750_000_000_000;
const HOUR: i64 = 3_600_000;

/// A batch of one telegram of meter `SEN<id>` with `counter`, heard by `gw1` at `at`.
fn one(id: u32, counter: u32, at: i64) -> Batch {
    let mut ident = [0x2d, 0x2c, 0, 0, 0, 0, 0x30, 0x07, 0];
    ident[2..6].copy_from_slice(&id.to_le_bytes());
    let key = schema::counter_key(ident, 0, counter);
    let mut b = Batch::default();
    b.telegrams.push(TelegramRow {
        dedup_key: key,
        meter: format!("SEN{id:08}"),
        device_type: Some(7),
        key_id: 0,
        counter: Some(counter),
        access_number: Some(counter as u8),
        status: Some(0),
        integrity: "mac",
        protocol: "mbus",
        received_at_ms: at,
        frame: vec![0x2e, 0x44, id as u8, counter as u8],
        worker: Arc::from("w"),
    });
    b.receptions.push(ReceptionRow { dedup_key: key, gateway: Arc::from("gw1"), intake: Arc::from("mqtt"), received_at_ms: at, rssi: Some(-70.0) });
    b
}

fn count(s: &mut PgStore, q: &str) -> i64 {
    s.query_i64(q).unwrap()[0][0].unwrap_or(0)
}

fn store(c: &pg::Cluster, url: Option<&str>) -> (PgStore, String) {
    let url = url.map_or_else(|| c.new_database(), str::to_string);
    let mut s = PgStore::connect(&url).unwrap();
    s.migrate().unwrap();
    s.set_deferred(true).unwrap();
    (s, url)
}

const fn report(stored: usize, duplicates: usize, replays: usize, rejected: usize) -> WriteReport {
    WriteReport { stored, duplicates, replays, rejected }
}

#[test]
fn replays_are_refused_before_the_summary_is_flushed() {
    let Some(c) = pg::cluster_or_skip("replays_are_refused_before_the_summary_is_flushed") else { return };
    let (mut s, _) = store(&c, None);
    assert_eq!(s.write(&one(1, 5, T0), WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(count(&mut s, "SELECT count(*) FROM meters"), 0, "deferred: not written with the batch");
    // Decided path (a key of the last batches): the same counter an hour later, a lower one.
    assert_eq!(s.write(&one(1, 5, T0 + HOUR), WINDOW).unwrap(), report(0, 0, 1, 1));
    assert_eq!(s.write(&one(1, 4, T0 + HOUR), WINDOW).unwrap(), report(0, 0, 1, 1));
    // Optimistic path (a key never seen): the trap refuses a counter below the stored one.
    let (mut t, _) = store(&c, None);
    assert_eq!(t.write(&one(2, 7, T0), WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(t.write(&one(2, 6, T0 + 1_000), WINDOW).unwrap(), report(0, 0, 1, 1));
    let p = t.path_counts();
    assert_eq!((p.optimistic, p.decided, p.missed), (1, 1, 1), "the trap fired, the batch was decided");
    assert_eq!(t.write(&one(2, 8, T0 + 2 * HOUR), WINDOW).unwrap(), report(1, 0, 0, 0));
    t.flush().unwrap();
    assert_eq!(count(&mut t, "SELECT last_counter FROM meters WHERE meter = 'SEN00000002'"), 8);
    assert_eq!(count(&mut t, "SELECT count(*) FROM meter_gateways"), 1);
    s.flush().unwrap();
    assert_eq!(count(&mut s, "SELECT last_counter FROM meters WHERE meter = 'SEN00000001'"), 5);
}

/// Two connections on one database (two workers), neither flushed: each sees the other's
/// committed counters; flushes in either order leave the highest.
#[test]
fn two_workers_see_each_others_counters_unflushed() {
    let Some(c) = pg::cluster_or_skip("two_workers_see_each_others_counters_unflushed") else { return };
    let (mut a, url) = store(&c, None);
    let (mut b, _) = store(&c, Some(&url));
    assert_eq!(a.write(&one(3, 9, T0), WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(b.write(&one(3, 8, T0 + HOUR), WINDOW).unwrap(), report(0, 0, 1, 1), "a's 9 refuses b's 8");
    assert_eq!(b.write(&one(3, 9, T0 + 2_000), WINDOW).unwrap(), report(0, 1, 0, 0), "within the window: a duplicate");
    assert_eq!(b.write(&one(3, 10, T0 + HOUR), WINDOW).unwrap(), report(1, 0, 0, 0));
    assert_eq!(a.write(&one(3, 10, T0 + 2 * HOUR), WINDOW).unwrap(), report(0, 0, 1, 1));
    b.flush().unwrap();
    a.flush().unwrap();
    assert_eq!(count(&mut a, "SELECT last_counter FROM meters WHERE meter = 'SEN00000003'"), 10, "a's older summary does not lower it");
}

/// The default (split) summaries (decisions "Split summaries"): a `meters` row with a counter
/// is written in its batch's transaction (the replay floor is current in the database, for
/// every worker, before any flush); a counter-less meter's row and every `meter_gateways` row
/// wait for the flush, which leaves the same rows the per-batch upserts did.
#[test]
fn counters_are_written_with_their_batch_the_rest_at_the_flush() {
    let Some(c) = pg::cluster_or_skip("counters_are_written_with_their_batch_the_rest_at_the_flush") else { return };
    let url = c.new_database();
    let mut s = PgStore::connect(&url).unwrap();
    s.migrate().unwrap();
    // One counter telegram (meter SEN00000004) and one counter-less (frame key) of SEN00000005.
    let mut b = one(4, 7, T0);
    let frame = schema::frame_key(&schema::frame_hash(b"SEN5 frame"), T0, WINDOW);
    let mut t = b.telegrams[0].clone();
    (t.dedup_key, t.meter, t.counter, t.frame) = (frame, "SEN00000005".into(), None, b"SEN5 frame".to_vec());
    b.telegrams.push(t);
    b.receptions.push(ReceptionRow { dedup_key: frame, gateway: Arc::from("gw2"), intake: Arc::from("mqtt"), received_at_ms: T0 + 5, rssi: Some(-90.0) });
    assert_eq!(s.write(&b, WINDOW).unwrap(), report(2, 0, 0, 0));
    let rows = |s: &mut PgStore, q: &str| s.query_i64(q).unwrap();
    assert_eq!(rows(&mut s, "SELECT last_counter, last_seen_ms FROM meters ORDER BY meter"), vec![vec![Some(7), Some(T0)]], "only the counter's row, with its batch");
    assert_eq!(count(&mut s, "SELECT count(*) FROM meter_gateways"), 0, "meter_gateways wait for the flush");
    // Another worker on the database sees the counter at once: a lower one is a replay.
    let mut w2 = PgStore::connect(&url).unwrap();
    assert_eq!(w2.write(&one(4, 6, T0 + HOUR), WINDOW).unwrap(), report(0, 0, 1, 1));
    s.flush().unwrap();
    assert_eq!(
        rows(&mut s, "SELECT last_counter, last_seen_ms FROM meters ORDER BY meter"),
        vec![vec![Some(7), Some(T0)], vec![None, Some(T0 + 5)]],
        "the flush adds the counter-less meter"
    );
    assert_eq!(count(&mut s, "SELECT count(*) FROM meter_gateways"), 2);
    assert_eq!(count(&mut s, "SELECT last_seen_ms FROM meter_gateways WHERE meter = 'SEN00000005' AND gateway = 'gw2'"), T0 + 5);
}
