//! Store throughput (issue 15 §5): file intake → SQLite, mode-5 telegrams with 3 records,
//! dedup and replay checks on, in telegrams/s — side by side, in the same run, with a bare
//! bulk insert of the very same rows through rusqlite's fastest path.
//!
//! `cargo bench -p meterlink-service --bench bench_service_store [-- N [BATCH_MAX [ROUNDS]]]`
//! (defaults 1,000,000 telegrams, the default `batch_max` 10,000, 3 rounds).
//!
//! - **service**: `meterlink-serve`'s pipeline with a file intake (`once`), from start to the
//!   store closed (every batch committed, the summaries flushed, the WAL checkpointed).
//! - **bare**: the rows the service stored (`telegrams`, `receptions`, `readings`, `meters`,
//!   `meter_gateways`), read back into memory first, then inserted into a fresh file with the
//!   same schema and connection settings (`store::sqlite::PRAGMAS`) in one transaction with
//!   cached prepared statements, no checks, no decoding, timed to the database closed as the
//!   service is. Two orders, both timed: **arrival** (the telegrams in the order the service
//!   received them, each telegram's receptions and readings in that order) and **sorted**
//!   (every table sorted by its primary key first, the sort inside the timed window: a bulk
//!   loader that has all rows at hand can do this, a service receiving a stream cannot).
//!   The ratio is against the faster of the two.
//! - Rounds alternate service and bare on fresh files; each round prints its figures and the
//!   last line the median ratio (the machine is shared and noisy: one run is not a figure).
//!
//! Besides wall time it prints the CPU seconds each side used (all of the process's threads,
//! from `/proc/self/stat`; with PostgreSQL the server's processes are not counted).
//!
//! `STORE=postgres`: the same with a PostgreSQL store, on a throwaway **durable** cluster
//! (`tests/pg`, `pg::BENCH_SETTINGS`; skipped when none can be started): the service into a
//! fresh database; the bare side reads every stored row back (telegrams by reception time) and
//! writes them into another fresh database through the fastest client path, binary COPY in
//! one transaction (`PgStore::copy_direct`, which sorts each table by primary key as the store
//! does, inside the timed window), plus `meters` / `meter_gateways` by binary COPY.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink_service::config::{Config, FileIntake};
use meterlink_service::metrics::Metrics;
use meterlink_service::store::{schema, sqlite::PRAGMAS};
use rusqlite::types::Value;
use rusqlite::Connection;

#[path = "../tests/pg/mod.rs"]
mod pg;
#[path = "../tests/ports/mod.rs"]
mod ports;
#[path = "bench_service_store/postgres.rs"]
mod postgres;

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
/// Each meter sends once per round, the meters spread evenly over the 15 minutes, so the
/// archive is in reception-time order as a gateway's log is (an earlier version spaced meters
/// 20 ms apart, so with 100,000 meters a round took 33 min and the rounds' times interleaved,
/// which no real archive does: decisions, "Store benchmark 2").
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
        let t = t0 + i64::from(round) * 900_000 + i64::from(m) * 900_000 / i64::from(meters);
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

/// The service from start to its store closed: (wall seconds, CPU seconds). `pg_url`: into
/// that PostgreSQL database instead of `dir/service.db`.
fn service(dir: &Path, batch_max: usize, pg_url: Option<String>) -> (f64, f64) {
    let mut c = Config::default();
    c.mqtt.clear();
    c.http.clear();
    c.broker.embedded = false;
    c.store.path = dir.join("service.db");
    if let Some(url) = pg_url {
        c.store.kind = "postgres".into();
        c.store.url = Some(url);
    }
    c.service.batch_max = batch_max;
    c.keys.files = vec![dir.join("keys.csv")];
    c.files = vec![FileIntake { name: "bench".into(), path: dir.join("rx.txt"), format: "hex".into(), once: true }];
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (t, c0) = (Instant::now(), cpu_s());
    rt.block_on(meterlink_service::pipeline::serve_with(c, Arc::new(Metrics::default()), std::future::pending())).unwrap();
    (t.elapsed().as_secs_f64(), cpu_s() - c0)
}

/// One table's rows as the bare insert gets them: the columns, the rows, and how many leading
/// columns are its primary key.
struct Table {
    name: &'static str,
    columns: &'static str,
    key_columns: usize,
    rows: Vec<Vec<Value>>,
}

/// Every row the service stored, in arrival order (the order of `telegrams`' rowids; a
/// telegram's receptions by time, its readings by index).
fn stored_rows(db: &Path) -> Vec<Table> {
    let src = Connection::open(db).unwrap();
    // (table, columns, primary key columns, the query's FROM ... ORDER BY; `r` is the table).
    let specs: [(&str, &str, usize, &str); 5] = [
        ("telegrams", "dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker", 1, "telegrams r ORDER BY rowid"),
        ("receptions", "dedup_key, gateway, intake, received_at_ms, rssi", 3, "receptions r JOIN telegrams t USING (dedup_key) ORDER BY t.rowid, r.received_at_ms"),
        ("readings", "dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms", 2, "readings r JOIN telegrams t USING (dedup_key) ORDER BY t.rowid, r.idx"),
        ("meters", "meter, key_id, last_counter, last_seen_ms", 2, "meters r"),
        ("meter_gateways", "meter, gateway, rssi, last_seen_ms", 2, "meter_gateways r"),
    ];
    specs
        .into_iter()
        .map(|(name, columns, key_columns, from)| {
            let select: Vec<String> = columns.split(", ").map(|c| format!("r.{c}")).collect();
            let mut s = src.prepare(&format!("SELECT {} FROM {from}", select.join(", "))).unwrap();
            let n = s.column_count();
            let rows = s.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect()).unwrap().map(Result::unwrap).collect();
            Table { name, columns, key_columns, rows }
        })
        .collect()
}

fn key_cmp(a: &[Value], b: &[Value], n: usize) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b).take(n) {
        let o = match (x, y) {
            (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
            (Value::Text(x), Value::Text(y)) => x.cmp(y),
            (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// The bare insert of `tables` into a fresh `db`, optionally sorting each table by its primary
/// key first (inside the timed window): (wall seconds, CPU seconds), to the database closed.
fn bare(db: &Path, mut tables: Vec<Table>, sorted: bool) -> (f64, f64) {
    let mut c = Connection::open(db).unwrap();
    c.execute_batch(PRAGMAS).unwrap();
    c.execute_batch(schema::SQLITE_MIGRATIONS[0]).unwrap();
    let (t, c0) = (Instant::now(), cpu_s());
    if sorted {
        for tb in &mut tables {
            let n = tb.key_columns;
            tb.rows.sort_unstable_by(|a, b| key_cmp(a, b, n));
        }
    }
    let tx = c.transaction().unwrap();
    for tb in &tables {
        let marks = (1..=tb.rows.first().map_or(0, Vec::len)).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",");
        let mut s = tx.prepare_cached(&format!("INSERT INTO {} ({}) VALUES ({marks})", tb.name, tb.columns)).unwrap();
        for r in &tb.rows {
            s.execute(rusqlite::params_from_iter(r.iter())).unwrap();
        }
    }
    tx.commit().unwrap();
    drop(c);
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

fn remove_db(path: &Path) {
    for ext in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{ext}", path.display())).ok();
    }
}

fn main() {
    let nums: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = nums.first().map_or(1_000_000, |&n| n as u32);
    let batch_max = nums.get(1).copied().unwrap_or(10_000);
    let rounds = nums.get(2).copied().unwrap_or(3).max(1);
    let dir = std::env::temp_dir().join(format!("ml-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_archive(&dir, n);
    if std::env::var("STORE").as_deref() == Ok("postgres") {
        postgres::run(&dir, n, batch_max, rounds);
        std::fs::remove_dir_all(&dir).ok();
        return;
    }
    println!("telegrams {n} (mode 5, 3 records, batch_max {batch_max}), {rounds} rounds, SQLite");
    let rate = |s: f64| f64::from(n) / s;
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let (service_db, bare_db) = (dir.join("service.db"), dir.join("bare.db"));
        remove_db(&service_db);
        let (s, cs) = service(&dir, batch_max, None);
        let stored: i64 = Connection::open(&service_db).unwrap().query_row("SELECT COUNT(*) FROM telegrams", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, i64::from(n), "every telegram stored");
        println!("round {round}: service          {s:7.3} s  {:>9.0} telegrams/s  CPU {cs:6.2} s", rate(s));
        let mut best = (f64::MAX, 0.0, "");
        for (sorted, name) in [(false, "arrival"), (true, "sorted")] {
            let tables = stored_rows(&service_db);
            remove_db(&bare_db);
            let (b, cb) = bare(&bare_db, tables, sorted);
            println!("round {round}: bare ({name:7})   {b:7.3} s  {:>9.0} telegrams/s  CPU {cb:6.2} s", rate(b));
            if b < best.0 {
                best = (b, cb, name);
            }
        }
        let ratio = 100.0 * rate(s) / rate(best.0);
        println!("round {round}: service / bare ({}) {ratio:5.1} %   (CPU bare / service {:5.1} %)", best.2, 100.0 * best.1 / cs.max(1e-9));
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!("service / bare, median of {rounds}: {:.1} %  (rounds: {:?})", ratios[ratios.len() / 2], ratios.iter().map(|r| (r * 10.0).round() / 10.0).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).ok();
}
