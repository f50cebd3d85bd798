//! `STORE=postgres` of the store benchmark (see the bench's header): the service into one
//! database of a throwaway durable cluster, the bare binary COPY of the same rows into another.
//! `PGTIMING=1` logs every statement of the service's database with its duration and writes
//! the server log to `/tmp/pg_service_log.txt` (where the time goes; the logging slows it).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures_util::pin_mut;
use meterlink_service::store::postgres::PgStore;
use meterlink_service::store::{Batch, ReadingRow, ReceptionRow, Store, TelegramRow};
use tokio::runtime::Runtime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use crate::{cpu_s, pg, service};

/// `meters` and `meter_gateways` rows as stored.
type MeterRow = (String, i16, Option<i64>, i64);
type GatewayRow = (String, String, Option<f32>, i64);

/// Every row the service stored, as the store's row types (telegrams and their rows in
/// reception-time order: the archive's order).
struct Stored {
    batch: Batch,
    meters: Vec<MeterRow>,
    gateways: Vec<GatewayRow>,
}

fn connect(rt: &Runtime, url: &str) -> Client {
    let (client, conn) = rt.block_on(tokio_postgres::connect(url, NoTls)).expect("connect");
    rt.spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The `&'static str` columns of the row types take a handful of distinct values.
fn interned(cache: &mut HashMap<String, &'static str>, s: String) -> &'static str {
    if let Some(v) = cache.get(&s) {
        return v;
    }
    let v: &'static str = Box::leak(s.clone().into_boxed_str());
    cache.insert(s, v);
    v
}

fn key(b: &[u8]) -> [u8; 16] {
    b.try_into().expect("16-byte key")
}

fn read_back(rt: &Runtime, url: &str) -> Stored {
    let c = connect(rt, url);
    let q = |sql: &str| rt.block_on(c.query(sql, &[])).expect(sql);
    let mut names = HashMap::new();
    let mut workers: HashMap<String, Arc<str>> = HashMap::new();
    let mut arc = |s: String| workers.entry(s.clone()).or_insert_with(|| s.into()).clone();
    let mut batch = Batch::default();
    for r in q("SELECT dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker \
                FROM telegrams ORDER BY received_at_ms, dedup_key")
    {
        batch.telegrams.push(TelegramRow {
            dedup_key: key(r.get(0)),
            meter: r.get(1),
            device_type: r.get::<_, Option<i16>>(2).map(|v| v as u8),
            key_id: r.get::<_, i16>(3) as u8,
            counter: r.get::<_, Option<i64>>(4).map(|v| v as u32),
            access_number: r.get::<_, Option<i16>>(5).map(|v| v as u8),
            status: r.get::<_, Option<i16>>(6).map(|v| v as u8),
            integrity: interned(&mut names, r.get(7)),
            protocol: interned(&mut names, r.get(8)),
            received_at_ms: r.get(9),
            frame: r.get(10),
            worker: arc(r.get(11)),
        });
    }
    for r in q("SELECT dedup_key, gateway, intake, received_at_ms, rssi FROM receptions ORDER BY received_at_ms, dedup_key") {
        batch.receptions.push(ReceptionRow { dedup_key: key(r.get(0)), gateway: arc(r.get(1)), intake: arc(r.get(2)), received_at_ms: r.get(3), rssi: r.get(4) });
    }
    for r in q("SELECT r.dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms \
                FROM readings r JOIN telegrams t USING (dedup_key) ORDER BY t.received_at_ms, r.dedup_key, idx")
    {
        batch.readings.push(ReadingRow {
            dedup_key: key(r.get(0)),
            idx: r.get::<_, i32>(1) as u16,
            quantity: r.get(2),
            unit: r.get(3),
            value: r.get(4),
            text: r.get(5),
            storage: r.get::<_, i64>(6) as u64,
            tariff: r.get::<_, i64>(7) as u32,
            subunit: r.get::<_, i32>(8) as u16,
            function: interned(&mut names, r.get(9)),
            time_ms: r.get(10),
        });
    }
    let meters = q("SELECT meter, key_id, last_counter, last_seen_ms FROM meters ORDER BY meter, key_id").iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    let gateways = q("SELECT meter, gateway, rssi, last_seen_ms FROM meter_gateways ORDER BY meter, gateway").iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    Stored { batch, meters, gateways }
}

/// Binary COPY of `rows` into `table` (columns of `types`), in one transaction.
fn copy_rows(rt: &Runtime, c: &mut Client, sql: &str, types: &[Type], rows: Vec<Vec<Box<dyn ToSql + Sync + Send>>>) {
    rt.block_on(async {
        let tx = c.transaction().await.expect("begin");
        let sink = tx.copy_in(sql).await.expect(sql);
        let w = BinaryCopyInWriter::new(sink, types);
        pin_mut!(w);
        for r in &rows {
            w.as_mut().write_raw(r.iter().map(|v| &**v as &(dyn ToSql + Sync))).await.expect("row");
        }
        w.finish().await.expect("finish");
        tx.commit().await.expect("commit");
    });
}

/// The bare insert: (wall seconds, CPU seconds of this process).
fn bare(rt: &Runtime, url: &str, stored: Stored) -> (f64, f64) {
    let mut store = PgStore::connect(url).expect("connect");
    store.migrate().expect("migrate");
    let mut c = connect(rt, url);
    let (t, c0) = (Instant::now(), cpu_s());
    store.copy_direct(&stored.batch).expect("copy");
    let meters = stored.meters.into_iter().map(|m| vec![Box::new(m.0) as Box<dyn ToSql + Sync + Send>, Box::new(m.1), Box::new(m.2), Box::new(m.3)]).collect();
    copy_rows(rt, &mut c, "COPY meters (meter, key_id, last_counter, last_seen_ms) FROM STDIN (FORMAT binary)", &[Type::TEXT, Type::INT2, Type::INT8, Type::INT8], meters);
    let gateways = stored.gateways.into_iter().map(|g| vec![Box::new(g.0) as Box<dyn ToSql + Sync + Send>, Box::new(g.1), Box::new(g.2), Box::new(g.3)]).collect();
    copy_rows(rt, &mut c, "COPY meter_gateways (meter, gateway, rssi, last_seen_ms) FROM STDIN (FORMAT binary)", &[Type::TEXT, Type::TEXT, Type::FLOAT4, Type::INT8], gateways);
    drop(store);
    (t.elapsed().as_secs_f64(), cpu_s() - c0)
}

/// `CHECKPOINT` and wait for autovacuum to go idle (the benchmark connects as the superuser).
fn checkpoint(rt: &Runtime, url: &str) {
    let c = connect(rt, url);
    rt.block_on(c.batch_execute("CHECKPOINT")).expect("checkpoint");
    for _ in 0..100 {
        let busy: i64 = rt.block_on(c.query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'", &[])).expect("activity").get(0);
        if busy == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn count(rt: &Runtime, url: &str, table: &str) -> i64 {
    let c = connect(rt, url);
    rt.block_on(c.query_one(&format!("SELECT count(*) FROM {table}"), &[])).expect("count").get(0)
}

/// Rounds of service and bare on fresh databases of one cluster; the median ratio.
pub fn run(dir: &Path, n: u32, batch_max: usize, rounds: usize) {
    let Some(cluster) = pg::cluster_with_or_skip("bench_service_store (STORE=postgres)", pg::BENCH_SETTINGS) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    println!("telegrams {n} (mode 5, 3 records, batch_max {batch_max}), {rounds} rounds, PostgreSQL (durable cluster)");
    let rate = |s: f64| f64::from(n) / s;
    // Warm-up, untimed: a new cluster creates (and zero-fills) its WAL segments as it first
    // writes, later checkpoints recycle them. Without it the first side timed, always the
    // service's, paid for that (round 1 was 5-12 points below the others in every run).
    let warm = cluster.new_database();
    checkpoint(&rt, &warm);
    service(dir, batch_max, Some(warm.clone()));
    checkpoint(&rt, &warm);
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let url = cluster.new_database();
        if std::env::var_os("PGTIMING").is_some() {
            let c = connect(&rt, &url);
            let db = url.rsplit('=').next().unwrap_or_default().to_string();
            rt.block_on(c.batch_execute(&format!("ALTER DATABASE {db} SET log_min_duration_statement = 0"))).expect("timing");
        }
        // Each side starts from a checkpointed cluster (a checkpoint of the previous side's
        // writes would otherwise land in this side's time).
        checkpoint(&rt, &url);
        let (s, cs) = service(dir, batch_max, Some(url.clone()));
        if std::env::var_os("PGTIMING").is_some() {
            std::fs::write("/tmp/pg_service_log.txt", cluster.log()).ok();
        }
        assert_eq!(count(&rt, &url, "telegrams"), i64::from(n), "every telegram stored");
        println!("round {round}: service          {s:7.3} s  {:>9.0} telegrams/s  CPU {cs:6.2} s (this process)", rate(s));
        let stored = read_back(&rt, &url);
        let bare_url = cluster.new_database();
        checkpoint(&rt, &bare_url);
        let (b, cb) = bare(&rt, &bare_url, stored);
        for table in ["telegrams", "receptions", "readings", "meters", "meter_gateways"] {
            assert_eq!(count(&rt, &bare_url, table), count(&rt, &url, table), "bare {table}");
        }
        println!("round {round}: bare (COPY)      {b:7.3} s  {:>9.0} telegrams/s  CPU {cb:6.2} s (this process)", rate(b));
        let ratio = 100.0 * rate(s) / rate(b);
        println!("round {round}: service / bare   {ratio:5.1} %");
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!("service / bare, median of {rounds}: {:.1} %  (rounds: {:?})", ratios[ratios.len() / 2], ratios.iter().map(|r| (r * 10.0).round() / 10.0).collect::<Vec<_>>());
}
