//! Store throughput into PostgreSQL (issue 15 §5): batches of mode-5-like telegrams (a counter,
//! one reception, three readings each) through `PgStore::write` (binary COPY into staging
//! tables, dedup and replay decided by the database) against a bare binary COPY of the same rows
//! into the same tables (`PgStore::copy_direct`), interleaved batch by batch in one run on one
//! throwaway cluster (tests/pg). Prints telegrams/s of both and the ratio (target: ≥ 150,000/s
//! and ≥ 80 % of the bare COPY).
//!
//! `cargo bench -p meterlink-service --bench bench_service_pg` (env: `BATCHES`, `BATCH`).

#[path = "../crates/meterlink-service/tests/pg/mod.rs"]
mod pg;

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
    let Some(c) = pg::cluster_or_skip("bench_service_pg") else { return };
    let (batches, size) = (env("BATCHES", 20), env("BATCH", 10_000));
    let (worker, gw, intake) = (Arc::from("w1"), Arc::from("gw1"), Arc::from("mqtt"));
    let mut store = PgStore::connect(&c.new_database()).unwrap();
    let mut bare = PgStore::connect(&c.new_database()).unwrap();
    store.migrate().unwrap();
    bare.migrate().unwrap();
    let explain = std::env::var_os("EXPLAIN").is_some();
    if explain {
        store.execute("LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = off; SET log_min_duration_statement = 0;").unwrap();
    }
    let (mut t_store, mut t_bare) = (Duration::ZERO, Duration::ZERO);
    for n in 0..batches {
        let b = batch(n, size, &worker, &gw, &intake);
        let t = Instant::now();
        let r = store.write(&b, 10_000).unwrap();
        t_store += t.elapsed();
        assert_eq!(r.stored, size);
        let t = Instant::now();
        bare.copy_direct(&b).unwrap();
        t_bare += t.elapsed();
    }
    let total = (batches * size) as f64;
    let (s, d) = (total / t_store.as_secs_f64(), total / t_bare.as_secs_f64());
    println!("PostgreSQL store, {batches} batches x {size} telegrams (1 reception, 3 readings each):");
    println!("  PgStore::write (dedup + replay in the database): {s:>10.0} telegrams/s");
    println!("  bare binary COPY into the same tables:          {d:>10.0} telegrams/s");
    println!("  ratio: {:.1} %", 100.0 * s / d);
    if explain {
        println!("{}", c.log());
    }
}
