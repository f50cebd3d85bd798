//! The load generator (issue 15 §5): its traffic is what it claims (loss, skew, determinism,
//! telegrams that decode to the values and times it generated), and through a real broker
//! (the embedded rumqttd) into the service it gives exactly one stored telegram per radio
//! telegram that any of 8 gateways (±5 s skew, 10 % loss each) heard.

mod ports;
mod pipeline_common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use meterlink_service::config::Config;
use meterlink_service::loadgen::{self, Generator, LoadConfig, PublishOptions};
use pipeline_common::*;
use rusqlite::Connection;
use ports::free_port;

fn cfg() -> LoadConfig {
    LoadConfig { meters: 40, dsmr_e_meters: 4, gateways: 8, rounds: 6, period_s: 900, loss: 0.1, skew_ms: 5000, seed: 7, ..LoadConfig::default() }
}

#[test]
fn traffic_is_deterministic_and_has_the_configured_loss_and_skew() {
    let a: Vec<_> = Generator::new(cfg()).unwrap().collect();
    let b: Vec<_> = Generator::new(cfg()).unwrap().collect();
    assert_eq!(a, b, "same configuration, same publications");
    let other: Vec<_> = Generator::new(LoadConfig { seed: 8, ..cfg() }).unwrap().collect();
    assert_ne!(a, other);

    let mut g = Generator::new(LoadConfig { meters: 2000, dsmr_e_meters: 0, rounds: 2, ..cfg() }).unwrap();
    let pubs: Vec<_> = g.by_ref().collect();
    let s = g.summary();
    assert_eq!(s.radio, 4000);
    assert_eq!(s.publications, pubs.len() as u64);
    // 8 gateways × 10 % loss: ~ 7.2 receptions per telegram; ~1e-8 of telegrams lost everywhere.
    let per = s.publications as f64 / s.radio as f64;
    assert!((7.1..7.3).contains(&per), "{per}");
    assert_eq!(s.heard, pubs.iter().map(|p| p.radio).collect::<BTreeSet<_>>().len() as u64);
    // Each radio telegram's receptions lie within ±5 s of each other's true time: their spread
    // is at most 10 s, and publications come in time order per gateway.
    let mut by_radio: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for p in &pubs {
        by_radio.entry(p.radio).or_default().push(p.time_ms);
    }
    assert!(by_radio.values().all(|t| t.iter().max().unwrap() - t.iter().min().unwrap() <= 10_000));
    assert!(by_radio.values().any(|t| t.iter().max().unwrap() - t.iter().min().unwrap() > 5_000), "skew is applied");
    let mut last = BTreeMap::new();
    for p in &pubs {
        let prev = last.insert(p.gateway, p.time_ms).unwrap_or(i64::MIN);
        assert!(p.time_ms >= prev, "gateway {} goes back in time", p.gateway);
    }
}

#[test]
fn telegrams_decrypt_with_the_written_key_file() {
    let c = LoadConfig { meters: 4, gateways: 1, loss: 0.0, rounds: 3, dsmr_e_meters: 2, ..cfg() };
    let gen = Generator::new(c).unwrap();
    let mut text = Vec::new();
    gen.write_key_file(&mut text).unwrap();
    let mut keys = meterlink::keys::KeyStore::new();
    keys.load_csv(std::str::from_utf8(&text).unwrap()).unwrap();
    let opts = meterlink::DecodeOptions::default();
    let mut n = 0;
    for p in gen {
        let v: serde_json::Value = serde_json::from_str(&p.payload).unwrap();
        let h = v["telegram"].as_str().unwrap();
        let frame: Vec<u8> = (0..h.len() / 2).map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap()).collect();
        let t = meterlink::decode_with_keys(&frame, &opts, &keys).unwrap();
        assert!(t.records.len() >= 3, "decrypted: {} records", t.records.len());
        let without = meterlink::decode_with_keys(&frame, &opts, &meterlink::keys::KeyStore::new());
        assert!(without.map_or(true, |t| t.records.is_empty()), "encrypted");
        n += 1;
    }
    assert!(n > 12, "wM-Bus and DSMR telegrams: {n}");
}

fn count_or_zero(db: &std::path::Path, table: &str) -> i64 {
    Connection::open(db).ok().and_then(|c| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).ok()).unwrap_or(0)
}

fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "port {port} never opened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// §5 dedup through a real broker: 8 gateways, ±5 s skew, 10 % loss each, wM-Bus (mode 5 by
/// frame hash, mode 7 by counter) and DSMR (method 15 by frame counter) → exactly one telegram
/// per radio telegram heard, every reception kept.
#[test]
fn eight_gateways_through_the_embedded_broker_store_each_telegram_once() {
    let dir = tempdir("loadgen-e2e");
    let (mqtt_port, http_port) = (free_port(), free_port());
    let mut c = Config::default();
    c.broker.listen = format!("127.0.0.1:{mqtt_port}");
    c.mqtt[0].url = format!("mqtt://127.0.0.1:{mqtt_port}");
    c.http[0].listen = format!("127.0.0.1:{http_port}");
    c.store.path = dir.join("meterlink.db");
    let gen = Generator::new(cfg()).unwrap();
    let keys = dir.join("keys.csv");
    let mut f = std::fs::File::create(&keys).unwrap();
    gen.write_key_file(&mut f).unwrap();
    drop(f);
    c.keys.files = vec![keys];
    let db = c.store.path.clone();
    let svc = Running::start(c);
    wait_port(mqtt_port);
    let opts = PublishOptions { port: mqtt_port, ..PublishOptions::default() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The broker accepting connections does not mean the service has subscribed yet (a message
    // published before that reaches nobody): publish the run's first reception until it is
    // stored. The run repeats it with the same gateway and time, so it adds no row.
    let probe = PublishOptions { limit: 1, client_id: "probe".into(), ..opts.clone() };
    let t = Instant::now();
    while count_or_zero(&db, "receptions") == 0 {
        assert!(t.elapsed() < Duration::from_secs(30), "the service never subscribed");
        rt.block_on(loadgen::publish(Generator::new(cfg()).unwrap(), &probe)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = rt.block_on(loadgen::publish(gen, &opts)).unwrap();
    assert!(s.heard > 250 && s.publications > 7 * s.heard, "{s:?}");
    // Wait on the database: every reception becomes a `receptions` row (or, wrongly, a
    // `rejected` one), whichever batch it lands in.
    let t = Instant::now();
    while (count(&db, "receptions") + count(&db, "rejected")) < s.publications as i64 {
        assert!(t.elapsed() < Duration::from_secs(60), "{} receptions of {}", count(&db, "receptions"), s.publications);
        std::thread::sleep(Duration::from_millis(50));
    }
    svc.stop();
    assert_eq!(count(&db, "rejected"), 0, "{:?}", rejected_codes(&db));
    assert_eq!(count(&db, "telegrams") as u64, s.heard, "one telegram per radio telegram heard");
    assert_eq!(count(&db, "receptions") as u64, s.publications, "every reception kept");
    let conn = Connection::open(&db).unwrap();
    // Mode 7 meters: counters step by one per round; DSMR devices: by frame counter.
    let counters: i64 = conn.query_row("SELECT COUNT(*) FROM telegrams WHERE counter IS NOT NULL", [], |r| r.get(0)).unwrap();
    let dsmr: i64 = conn.query_row("SELECT COUNT(*) FROM telegrams WHERE protocol = 'dsmr'", [], |r| r.get(0)).unwrap();
    assert!(dsmr > 0 && counters > dsmr, "mode 7 and DSMR telegrams carry counters: {counters}, {dsmr}");
    let gateways: i64 = conn.query_row("SELECT COUNT(DISTINCT gateway) FROM receptions", [], |r| r.get(0)).unwrap();
    assert_eq!(gateways, 8);
    // The meters' date-time records (type F, the transmission's minute) became the readings'
    // time: within a minute plus the gateways' skew of the reception time.
    let off: i64 = conn
        .query_row("SELECT MAX(ABS(r.time_ms - t.received_at_ms)) FROM readings r JOIN telegrams t USING (dedup_key) WHERE t.protocol = 'mbus'", [], |r| r.get(0))
        .unwrap();
    assert!(off <= 65_000, "{off}");
}
