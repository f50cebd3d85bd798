//! The Parquet sink's cost (issue 15 §3; decisions "Parquet sink"): file intake → SQLite, the
//! same archive (mode-5 telegrams with 3 records) with and without `[parquet] dir`, alternating,
//! in the same run. `serve` returns after the sink thread has written and closed its files, so
//! the time with the sink includes the whole export. Prints telegrams/s, rows written to Parquet
//! and rows dropped (the sink is drop-and-count when behind).
//!
//! `cargo bench -p meterlink-service --bench bench_service_parquet [-- N [ROUNDS]]` (defaults
//! 100,000 telegrams, 2 rounds).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink_service::config::{Config, FileIntake, ParquetSection};
use meterlink_service::metrics::Metrics;

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

/// One service run into a fresh database; (seconds, Parquet rows written, dropped).
fn service(dir: &Path, parquet: bool, round: usize) -> (f64, u64, u64) {
    let db = dir.join(format!("service-{round}-{parquet}.db"));
    let mut c = Config::default();
    c.mqtt.clear();
    c.http.clear();
    c.broker.embedded = false;
    c.store.path = db.clone();
    c.keys.files = vec![dir.join("keys.csv")];
    c.files = vec![FileIntake { name: "bench".into(), path: dir.join("rx.txt"), format: "hex".into(), once: true }];
    let out = dir.join(format!("pq-{round}"));
    if parquet {
        c.parquet = Some(ParquetSection { dir: out.clone() });
    }
    let metrics = Arc::new(Metrics::default());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let t = Instant::now();
    rt.block_on(meterlink_service::pipeline::serve_with(c, metrics.clone(), std::future::pending())).unwrap();
    let s = t.elapsed().as_secs_f64();
    if !parquet && round == 0 {
        lookup_cost(&db, s, n_of(&db));
    }
    std::fs::remove_file(&db).ok();
    std::fs::remove_dir_all(&out).ok();
    (s, metrics.parquet_rows.get(), metrics.parquet_dropped.get())
}

fn n_of(db: &Path) -> usize {
    rusqlite::Connection::open(db).unwrap().query_row("SELECT COUNT(*) FROM telegrams", [], |r| r.get::<_, i64>(0)).unwrap() as usize
}

/// The writer-thread cost of a partially stored batch (decisions "Which telegrams a commit
/// stored"): `Store::telegram_times` over one batch's 10,000 keys, against the run's average
/// time per 10,000 telegrams.
fn lookup_cost(db: &Path, run_s: f64, n: usize) {
    use meterlink_service::store::Store;
    let keys: Vec<[u8; 16]> = rusqlite::Connection::open(db)
        .unwrap()
        .prepare("SELECT dedup_key FROM telegrams LIMIT 10000")
        .unwrap()
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|k| k.unwrap().try_into().unwrap())
        .collect();
    let mut store = meterlink_service::store::sqlite::SqliteStore::open(db).unwrap();
    let t = Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        let found = store.telegram_times(&keys).unwrap();
        assert!(found.iter().all(Option::is_some));
    }
    let per = t.elapsed().as_secs_f64() / f64::from(rounds);
    let share = run_s * keys.len() as f64 / n as f64;
    println!(
        "lookup of {} keys {:8.2} ms; the run's time per {} telegrams {:8.2} ms ({:.1} %)",
        keys.len(),
        per * 1e3,
        keys.len(),
        share * 1e3,
        100.0 * per / share
    );
}

fn main() {
    let nums: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = nums.first().map_or(100_000, |&n| n as u32);
    let rounds = nums.get(1).copied().unwrap_or(2);
    let dir = std::env::temp_dir().join(format!("ml-bench-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_archive(&dir, n);
    println!("telegrams {n}, {rounds} rounds, alternating which goes first");
    for round in 0..rounds {
        let order = if round % 2 == 0 { [false, true] } else { [true, false] };
        for parquet in order {
            let (s, rows, dropped) = service(&dir, parquet, round);
            let what = if parquet { "with Parquet sink   " } else { "without Parquet sink" };
            println!("round {round} {what} {s:8.3} s {:>10.0} telegrams/s  parquet rows {rows} dropped {dropped}", f64::from(n) / s);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
