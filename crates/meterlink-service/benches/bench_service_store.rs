//! Store throughput (issue 15 §5): file intake → SQLite, mode-5 telegrams with 3 records,
//! dedup and replay checks on, in telegrams/s — side by side, in the same run, with a bare
//! bulk insert of the very same rows (telegrams, receptions, readings) through rusqlite's
//! fastest path (one transaction, cached prepared statements, no checks, no decoding).
//!
//! `cargo bench -p meterlink-service --bench bench_service_store [-- N [BATCH_MAX]]` (defaults
//! 200,000 telegrams, the default `batch_max` 10,000).
//!
//! Besides wall time it prints the CPU seconds each side used (all of the process's threads,
//! from `/proc/self/stat`): on a shared, loaded machine the service's three busy threads (file
//! reader, pipeline, store writer) wait for cores more than the bare insert's one, so the CPU
//! figures show the work done apart from the scheduling.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink_service::config::{Config, FileIntake};
use meterlink_service::metrics::Metrics;
use meterlink_service::store::schema;
use rusqlite::{params, Connection};

const KEY: [u8; 16] = *b"meterlink-bench!";

fn bcd(n: u32) -> [u8; 4] {
    let mut id = [0u8; 4];
    let mut v = n;
    for b in &mut id {
        *b = ((v % 10) as u8) | (((v / 10 % 10) as u8) << 4);
        v /= 100;
    }
    id
}

/// `n` telegrams from `n / 10` meters, 10 rounds 15 min apart, as a hex archive; the key file.
fn write_archive(dir: &Path, n: u32) {
    let meters = (n / 10).max(1);
    let mut text = String::with_capacity(n as usize * 140);
    text.push_str("timestamp;frame\n");
    let t0 = 1_704_067_200_000i64;
    for i in 0..n {
        let (m, round) = (i % meters, i / meters);
        let mut b = Builder::wireless(0x44, Address::new(manufacturer_code(b"KAM"), bcd(10_000_000 + m), 0x1B, 0x07), FrameFormat::A);
        b.security.mode = 5;
        b.access_number = round as u8;
        b.key = Some(KeyMaterial::Aes(KEY));
        let mut rec = vec![0x0C, 0x13];
        rec.extend_from_slice(&bcd(1000 * round + m));
        rec.extend_from_slice(&[0x04, 0x6D, 30, 12, 1 | (4 << 5), 1 | (2 << 4), 0x02, 0xFD, 0x17, 0, 0]);
        let f = b.encode(&rec, &[]).unwrap();
        let t = t0 + i64::from(round) * 900_000 + i64::from(m) * 20;
        text.push_str(&format!("{t};"));
        for x in f {
            text.push_str(&format!("{x:02X}"));
        }
        text.push('\n');
    }
    std::fs::write(dir.join("rx.txt"), text).unwrap();
    let keys: String = (0..meters).map(|m| format!("KAM,{:08},{}\n", 10_000_000 + m, KEY.iter().map(|x| format!("{x:02X}")).collect::<String>())).collect();
    std::fs::write(dir.join("keys.csv"), keys).unwrap();
}

fn service(dir: &Path, batch_max: usize) -> f64 {
    let mut c = Config::default();
    c.mqtt.clear();
    c.http.clear();
    c.broker.embedded = false;
    c.store.path = dir.join("service.db");
    c.service.batch_max = batch_max;
    c.keys.files = vec![dir.join("keys.csv")];
    c.files = vec![FileIntake { name: "bench".into(), path: dir.join("rx.txt"), format: "hex".into(), once: true }];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let t = Instant::now();
    rt.block_on(meterlink_service::pipeline::serve_with(c, Arc::new(Metrics::default()), std::future::pending())).unwrap();
    t.elapsed().as_secs_f64()
}

type TelegramRow = (Vec<u8>, String, i64, i64, i64, String, String, i64, Vec<u8>, String);
type ReadingRow = (Vec<u8>, i64, String, Option<String>, Option<f64>, Option<String>, i64, i64, i64, String, Option<i64>);

/// The bare insert of the rows the service stored, into a fresh file with the same schema:
/// (wall seconds, CPU seconds).
fn bare(dir: &Path) -> (f64, f64) {
    let src = Connection::open(dir.join("service.db")).unwrap();
    let tel: Vec<TelegramRow> = src
        .prepare("SELECT dedup_key, meter, device_type, key_id, access_number, integrity, protocol, received_at_ms, frame, worker FROM telegrams")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let rx: Vec<(Vec<u8>, String, String, i64)> =
        src.prepare("SELECT dedup_key, gateway, intake, received_at_ms FROM receptions").unwrap().query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    let rd: Vec<ReadingRow> = src
        .prepare("SELECT dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms FROM readings")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut c = Connection::open(dir.join("bare.db")).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").unwrap();
    c.execute_batch(schema::SQLITE_MIGRATIONS[0]).unwrap();
    let (t, c0) = (Instant::now(), cpu_s());
    let tx = c.transaction().unwrap();
    {
        let mut s = tx.prepare_cached("INSERT INTO telegrams (dedup_key, meter, device_type, key_id, access_number, integrity, protocol, received_at_ms, frame, worker) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)").unwrap();
        for r in &tel {
            s.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9]).unwrap();
        }
        let mut s = tx.prepare_cached("INSERT INTO receptions (dedup_key, gateway, intake, received_at_ms) VALUES (?1,?2,?3,?4)").unwrap();
        for r in &rx {
            s.execute(params![r.0, r.1, r.2, r.3]).unwrap();
        }
        let mut s = tx.prepare_cached("INSERT INTO readings (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)").unwrap();
        for r in &rd {
            s.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10]).unwrap();
        }
    }
    tx.commit().unwrap();
    (t.elapsed().as_secs_f64(), cpu_s() - c0)
}

/// CPU seconds used by this process so far (user + system, every thread; Linux, 100 ticks/s).
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |p| p.1);
    let f: Vec<f64> = after.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // Fields 14 and 15 (utime, stime): `after` starts at field 3, the state letter, which the
    // number filter drops, so field 4 is index 0.
    f.get(10).zip(f.get(11)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

fn main() {
    let nums: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = nums.first().map_or(200_000, |&n| n as u32);
    let batch_max = nums.get(1).copied().unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("ml-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_archive(&dir, n);
    let c0 = cpu_s();
    let s = service(&dir, batch_max);
    let cs = cpu_s() - c0;
    let stored: i64 = Connection::open(dir.join("service.db")).unwrap().query_row("SELECT COUNT(*) FROM telegrams", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, i64::from(n), "every telegram stored");
    let (b, cb) = bare(&dir);
    let (rs, rb) = (f64::from(n) / s, f64::from(n) / b);
    println!("telegrams                      {n} (batch_max {batch_max})");
    println!("service (file → SQLite)        {s:8.3} s  {rs:>10.0} telegrams/s   CPU {cs:6.2} s");
    println!("bare rusqlite insert, same rows {b:8.3} s  {rb:>10.0} telegrams/s   CPU {cb:6.2} s");
    println!("service / bare                 {:8.1} %   (CPU: bare / service {:5.1} %)", 100.0 * rs / rb, 100.0 * cb / cs.max(1e-9));
    std::fs::remove_dir_all(&dir).ok();
}
