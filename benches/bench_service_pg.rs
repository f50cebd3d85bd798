//! Store throughput into PostgreSQL (issue 15 §5): batches of mode-5-like telegrams (a counter,
//! one reception, three readings each) through `PgStore::write` (binary COPY into staging
//! tables, dedup and replay decided by the database) against a bare binary COPY of the same rows
//! into the same tables with the same indexes (`PgStore::copy_direct`: the same rows, sorted by
//! primary key as the store sends them), interleaved batch by batch (alternating which goes
//! first) in one run on one throwaway cluster (tests/pg) with **durable** settings
//! (`pg::BENCH_SETTINGS`: fsync and synchronous commit on). Prints telegrams/s of both and the
//! ratio (target: ≥ 150,000/s and ≥ 80 % of the bare COPY).
//!
//! Two stores get the same batches in the same rotation: the default (split summaries: the
//! counters' `meters` rows per batch, the rest deferred; decisions "Split summaries") and
//! everything deferred (`set_deferred(true)`, decisions "Deferred summaries"); their flushes
//! (every 16 batches / 5 s, and the last one) are inside their time.
//!
//! This measures the store alone on counter keys. The figure §5 names, file intake → store with
//! mode-5 telegrams (frame keys), is `STORE=postgres` of `bench_service_store`.
//!
//! `cargo bench -p meterlink-service --bench bench_service_pg` (env: `BATCHES`, `BATCH`;
//! `SETTINGS=test` for the tests' fsync-off cluster; `WRITE_PATH=safe` for the single-statement
//! path only, the former write path).

#[path = "../crates/meterlink-service/tests/pg/mod.rs"]
mod pg;
#[path = "../crates/meterlink-service/tests/ports/mod.rs"]
mod ports;

use std::sync::Arc;
use std::time::{Duration, Instant};

use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::{schema, Batch, ReadingRow, ReceptionRow, Store, TelegramRow};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Batch `n` of `size` telegrams: meter `m` sends counter `n + 1`, 30 s after the last batch.
fn batch(n: usize, size: usize, worker: &Arc<str>, gw: &Arc<str>, intake: &Arc<str>) -> Batch {
    let mut b = Batch::default();
    for m in 0..size {
        let at = 1_750_000_000_000 + (n as i64) * 30_000 + m as i64;
        let mut id = [0x2d, 0x2c, 0, 0, 0, 0, 0x30, 0x07, 0];
        id[2..6].copy_from_slice(&(m as u32).to_le_bytes());
        let key = schema::counter_key(id, 0, n as u32 + 1);
        let mut frame = vec![0x2e, 0x44, 0x2d, 0x2c];
        frame.extend_from_slice(&id[2..8]);
        frame.extend_from_slice(&[0x7a, n as u8, 0, 0x20, 0x05]);
        frame.extend_from_slice(&[0x5a; 32]);
        b.telegrams.push(TelegramRow {
            dedup_key: key,
            meter: format!("SEN{m:08}"),
            device_type: Some(7),
            key_id: 0,
            counter: Some(n as u32 + 1),
            access_number: Some(n as u8),
            status: Some(0),
            integrity: "mac",
            protocol: "mbus",
            received_at_ms: at,
            frame,
            worker: worker.clone(),
        });
        b.receptions.push(ReceptionRow { dedup_key: key, gateway: gw.clone(), intake: intake.clone(), received_at_ms: at, rssi: Some(-80.5) });
        for (idx, q) in ["volume", "volume_flow", "datetime"].iter().enumerate() {
            b.readings.push(ReadingRow {
                dedup_key: key,
                idx: idx as u16,
                quantity: (*q).into(),
                unit: (idx < 2).then(|| ["m3", "m3/h"][idx].into()),
                value: (idx < 2).then_some(12.345 + n as f64),
                text: (idx == 2).then(|| "2025-06-15T12:00:00".into()),
                storage: 0,
                tariff: 0,
                subunit: 0,
                function: "instantaneous",
                time_ms: None,
            });
        }
    }
    b
}

fn main() {
    let settings = if std::env::var("SETTINGS").as_deref() == Ok("test") { pg::TEST_SETTINGS } else { pg::BENCH_SETTINGS };
    let Some(c) = pg::cluster_with_or_skip("bench_service_pg", settings) else { return };
    let (batches, size) = (env("BATCHES", 20), env("BATCH", 10_000));
    let (worker, gw, intake) = (Arc::from("w1"), Arc::from("gw1"), Arc::from("mqtt"));
    let mut store = PgStore::connect(&c.new_database()).unwrap();
    let mut bare = PgStore::connect(&c.new_database()).unwrap();
    let mut per_batch = PgStore::connect(&c.new_database()).unwrap();
    store.migrate().unwrap();
    bare.migrate().unwrap();
    per_batch.migrate().unwrap();
    store.set_deferred(true).unwrap();
    // WRITE_PATH=safe: every batch through the safe (single-statement) path, the former write path.
    store.set_safe_only(std::env::var("WRITE_PATH").as_deref() == Ok("safe"));
    // EXPLAIN=1: plans (with timings) in the server log; TIMING=1: statement durations only.
    let explain = std::env::var_os("EXPLAIN").is_some();
    let timing = std::env::var_os("TIMING").is_some();
    if explain {
        store.execute("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;").unwrap();
    }
    if explain || timing {
        store.execute("SET log_min_duration_statement = 0").unwrap();
        bare.execute("SET log_min_duration_statement = 0").unwrap();
        per_batch.execute("SET log_min_duration_statement = 0").unwrap();
    }
    let mut t = [Duration::ZERO; 3];
    for n in 0..batches {
        let b = batch(n, size, &worker, &gw, &intake);
        // Rotate which of the three goes first.
        for k in 0..3 {
            let which = (n + k) % 3;
            let start = Instant::now();
            match which {
                0 => {
                    let r = store.write(&b, 10_000).unwrap();
                    assert_eq!((r.stored, r.duplicates, r.replays), (size, 0, 0));
                    if n + 1 == batches {
                        store.flush().unwrap();
                    }
                }
                1 => bare.copy_direct(&b).unwrap(),
                _ => {
                    let r = per_batch.write(&b, 10_000).unwrap();
                    assert_eq!((r.stored, r.duplicates, r.replays), (size, 0, 0));
                    if n + 1 == batches {
                        per_batch.flush().unwrap();
                    }
                }
            }
            t[which] += start.elapsed();
        }
    }
    let total = (batches * size) as f64;
    let [s, d, p] = t.map(|x| total / x.as_secs_f64());
    println!("PostgreSQL store, {batches} batches x {size} telegrams (1 reception, 3 readings each), cluster {settings:?}:");
    println!("  PgStore::write, deferred summaries:             {s:>10.0} telegrams/s  ({:.1} % of bare)", 100.0 * s / d);
    println!("  PgStore::write, split summaries (default):      {p:>10.0} telegrams/s  ({:.1} % of bare)", 100.0 * p / d);
    println!("  bare binary COPY into the same tables:          {d:>10.0} telegrams/s");
    println!("  paths: {:?}; split (default) store {:?}", store.path_counts(), per_batch.path_counts());
    // The same batches again: every telegram a duplicate (a redelivery after a crash).
    let t = Instant::now();
    for n in 0..batches.min(5) {
        let r = store.write(&batch(n, size, &worker, &gw, &intake), 10_000).unwrap();
        assert_eq!(r.duplicates, size);
    }
    let redo = (batches.min(5) * size) as f64 / t.elapsed().as_secs_f64();
    println!("  redelivered batches (all duplicates):          {redo:>10.0} telegrams/s");
    if explain || timing {
        println!("{}", c.log());
    }
}
