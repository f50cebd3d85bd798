//! Retention (`[store] retention_days`, issue 15 §1/§3) on SQLite and on a real PostgreSQL
//! (tests/pg): old telegrams go with their readings and receptions, old rejections go, in
//! chunks; `meters` stays, so a replay of a pruned telegram's counter is still rejected.

mod pg;
mod ports;
mod pipeline_common;

use meterlink_service::config::{Config, FileIntake};
use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::retention::Pruned;
use meterlink_service::store::sqlite::SqliteStore;
use meterlink_service::store::{schema, Store};
use pipeline_common::*;

const DAY_MS: i64 = 86_400_000;

/// How a scenario reaches its database: a configuration for the given file intakes and
/// retention, a store of its own, and `SELECT <expr>` as one number.
struct Db {
    config: Box<dyn Fn(Vec<FileIntake>, u32) -> Config>,
    open: Box<dyn Fn() -> Box<dyn Store>>,
    scalar: Box<dyn Fn(&str) -> i64>,
}

fn sqlite_db(name: &str) -> (Db, std::path::PathBuf) {
    let dir = tempdir(name);
    key_file(&dir.join("keys.csv"), &[42_000_001, 42_000_002, 42_000_003], KEY);
    let db = dir.join("m.db");
    let (d1, d2, d3, k) = (db.clone(), db.clone(), db.clone(), dir.join("keys.csv"));
    let config = move |files, days| {
        let mut c = config(&d1, files, vec![k.clone()]);
        c.store.retention_days = days;
        c
    };
    let open = move || -> Box<dyn Store> { Box::new(SqliteStore::open(&d2).unwrap()) };
    let scalar = move |q: &str| rusqlite::Connection::open(&d3).unwrap().query_row(&format!("SELECT {q}"), [], |r| r.get(0)).unwrap();
    (Db { config: Box::new(config), open: Box::new(open), scalar: Box::new(scalar) }, dir)
}

fn pg_db(c: &pg::Cluster, name: &str) -> (Db, std::path::PathBuf) {
    let (mut db, dir) = sqlite_db(name);
    let url = c.new_database();
    let (u1, u2, u3) = (url.clone(), url.clone(), url);
    let sqlite_config = std::mem::replace(&mut db.config, Box::new(|_, _| Config::default()));
    db.config = Box::new(move |files, days| {
        let mut c = sqlite_config(files, days);
        c.store.kind = "postgres".into();
        c.store.url = Some(u1.clone());
        c
    });
    db.open = Box::new(move || -> Box<dyn Store> {
        let mut s = PgStore::connect(&u2).unwrap();
        s.migrate().unwrap();
        Box::new(s)
    });
    db.scalar = Box::new(move |q: &str| PgStore::connect(&u3).unwrap().query_i64(&format!("SELECT (SELECT {q})::bigint")).unwrap()[0][0].unwrap_or(-1));
    (db, dir)
}

/// An archive of `(time, frame hex)` lines.
fn archive(dir: &std::path::Path, name: &str, rows: &[(i64, String)]) -> FileIntake {
    let text: String = std::iter::once("timestamp;frame".to_string()).chain(rows.iter().map(|(t, f)| format!("{t};{f}"))).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.join(name), text).unwrap();
    file_intake("f", &dir.join(name), true)
}

/// Meter A's only telegram (counter 9) and meter B's counter 5 are 40 days old, B's counter 6
/// a day old; one old and one recent rejection.
fn history(db: &Db, dir: &std::path::Path, now: i64) {
    let old = now - 40 * DAY_MS;
    let rows = [
        (old, hex(&frame(42_000_001, 7, Some(9), 1, 1, KEY))),
        (old + 1000, hex(&frame(42_000_002, 7, Some(5), 2, 2, KEY))),
        (old + 2000, "0102".to_string()),
        (now - DAY_MS, hex(&frame(42_000_002, 7, Some(6), 3, 3, KEY))),
        (now - DAY_MS + 1000, "0304".to_string()),
    ];
    serve_once((db.config)(vec![archive(dir, "a.txt", &rows)], 0));
    assert_eq!(((db.scalar)("count(*) FROM telegrams"), (db.scalar)("count(*) FROM rejected"), (db.scalar)("count(*) FROM readings")), (3, 2, 9));
}

fn serve_prunes_and_keeps_the_replay_floor(db: Db, dir: &std::path::Path) {
    let now = meterlink_service::intake::files::now_ms();
    history(&db, dir, now);
    // A restart with 30 days' retention prunes at start (and then every hour).
    serve_once((db.config)(vec![archive(dir, "b.txt", &[(now, hex(&frame(42_000_003, 7, Some(1), 4, 4, KEY)))])], 30));
    let q = |s: &str| (db.scalar)(s);
    assert_eq!(q("count(*) FROM telegrams"), 2, "B's counter 6 and C's counter 1 stay");
    assert_eq!(q(&format!("count(*) FROM telegrams WHERE received_at_ms < {}", now - 30 * DAY_MS)), 0);
    assert_eq!(q("count(*) FROM readings"), 6);
    assert_eq!(q("count(*) FROM receptions"), 2);
    assert_eq!(q("count(*) FROM readings r WHERE NOT EXISTS (SELECT 1 FROM telegrams t WHERE t.dedup_key = r.dedup_key)"), 0);
    assert_eq!(q("count(*) FROM rejected"), 1, "the recent rejection stays");
    assert_eq!(q("count(*) FROM meters"), 3, "meters are never pruned");
    assert_eq!(q("max(last_counter) FROM meters WHERE meter LIKE '%42000001'"), 9);
    // A replay of A's pruned telegram: no telegram under its key any more, but the counter
    // floor rejects it.
    serve_once((db.config)(vec![archive(dir, "c.txt", &[(now + 1000, hex(&frame(42_000_001, 7, Some(9), 1, 1, KEY)))])], 30));
    assert_eq!(q("count(*) FROM telegrams"), 2);
    assert_eq!(q("count(*) FROM rejected WHERE code = 'replayed_counter'"), 1);
}

fn prune_goes_in_chunks(db: Db, dir: &std::path::Path) {
    let now = meterlink_service::intake::files::now_ms();
    history(&db, dir, now);
    let mut s = (db.open)();
    // The post-commit lookup of the Parquet sink and the per-gateway metrics: A's counter-9
    // telegram is stored with its reception time; an unknown key is not.
    let m = meterlink::address::manufacturer_code(b"KAM").to_le_bytes();
    let id = bcd_id(42_000_001);
    let a9 = schema::counter_key([m[0], m[1], id[0], id[1], id[2], id[3], 0x1B, 0x07, 0], 0, 9);
    assert_eq!(s.telegram_times(&[a9, [0; 16]]).unwrap(), [Some(now - 40 * DAY_MS), None]);
    let cutoff = now - 30 * DAY_MS;
    // Steps of one row / one meter each: the walk stays on a meter while a chunk comes back
    // full, moves on after a full page of meters, ends after a short one.
    let mut steps = Vec::new();
    let mut after = String::new();
    for _ in 0..6 {
        let p = s.prune(cutoff, 1, &after).unwrap();
        after = p.next_meter.clone().unwrap_or_default();
        let end = p.next_meter.is_none();
        steps.push(p);
        if end {
            break;
        }
    }
    let p = |t, r, next: Option<&str>| Pruned { telegrams: t, rejected: r, next_meter: next.map(String::from) };
    let (a, b) = (Some("KAM42000001"), Some("KAM42000002"));
    assert_eq!(steps, [p(1, 1, Some("")), p(0, 0, a), p(1, 0, a), p(0, 0, b), p(0, 0, None)]);
    drop(s);
    assert_eq!(((db.scalar)("count(*) FROM telegrams"), (db.scalar)("count(*) FROM receptions"), (db.scalar)("count(*) FROM readings")), (1, 1, 3));
    assert_eq!((db.scalar)("count(*) FROM meters"), 2);
}

#[test]
fn sqlite_serve_prunes_and_keeps_the_replay_floor() {
    let (db, dir) = sqlite_db("ret-serve");
    serve_prunes_and_keeps_the_replay_floor(db, &dir);
}

#[test]
fn sqlite_prune_goes_in_chunks() {
    let (db, dir) = sqlite_db("ret-chunks");
    prune_goes_in_chunks(db, &dir);
}

#[test]
fn pg_serve_prunes_and_keeps_the_replay_floor() {
    let Some(c) = pg::cluster_or_skip("pg_serve_prunes_and_keeps_the_replay_floor") else { return };
    let (db, dir) = pg_db(&c, "ret-pg-serve");
    serve_prunes_and_keeps_the_replay_floor(db, &dir);
}

#[test]
fn pg_prune_goes_in_chunks() {
    let Some(c) = pg::cluster_or_skip("pg_prune_goes_in_chunks") else { return };
    let (db, dir) = pg_db(&c, "ret-pg-chunks");
    prune_goes_in_chunks(db, &dir);
}

/// A writer that never idles (a short retention at full rate) prunes after each batch until
/// the steps deleted twice as many telegrams as the batch stored (`sink::PRUNE_PACE`): 12,000
/// telegrams past the cut-off and a batch of 6,000 leave none. One step per batch left 7,000,
/// pacing at 1x 2,000: the database of a saturated soak grew without bound with either.
#[test]
fn a_run_keeps_pace_with_the_batches() {
    use std::sync::Arc;

    use meterlink_service::metrics::Metrics;
    use meterlink_service::sink::Hooks;
    use meterlink_service::store::{Batch, ReceptionRow, TelegramRow, WriteReport};

    let dir = tempdir("retention-pace");
    let db = dir.join("m.db");
    let mut store = SqliteStore::open(&db).unwrap();
    store.migrate().unwrap();
    let old = meterlink_service::intake::files::now_ms() - 2 * DAY_MS;
    let mut b = Batch::default();
    for i in 0..12_000u32 {
        let frame = format!("frame {i}").into_bytes();
        let key = schema::frame_key(&schema::frame_hash(&frame), old + i64::from(i), 10_000);
        let gw: Arc<str> = Arc::from("gw");
        b.telegrams.push(TelegramRow {
            dedup_key: key,
            meter: format!("M{:04}", i % 100),
            device_type: Some(7),
            key_id: 0,
            counter: None,
            access_number: None,
            status: None,
            integrity: "none",
            protocol: "mbus",
            received_at_ms: old + i64::from(i),
            frame,
            worker: gw.clone(),
        });
        b.receptions.push(ReceptionRow { dedup_key: key, gateway: gw.clone(), intake: gw, received_at_ms: old + i64::from(i), rssi: None });
    }
    assert_eq!(store.write(&b, 10_000).unwrap().stored, 12_000);
    store.flush().unwrap();
    let mut c = Config::default();
    c.store.path = db.clone();
    c.store.retention_days = 1;
    let mut hooks = Hooks::new(&c, Arc::new(Metrics::default())).unwrap();
    hooks.committed(&mut store, Batch::default(), &WriteReport { stored: 6_000, ..WriteReport::default() });
    let left: i64 = rusqlite::Connection::open(&db).unwrap().query_row("SELECT count(*) FROM telegrams", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0);
}
