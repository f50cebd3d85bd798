//! The whole service end to end (issue 15 §1 embedded default, §2 backpressure, §4
//! at-least-once across a kill -9, metrics, health, silence alarms): real brokers (the embedded
//! rumqttd, in this process or in a `meterlink-serve --broker-only` process of its own), real
//! HTTP, a real SQLite file; telegrams built with the meterlink encoder.

mod ports;
mod pg;
mod pipeline_common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meterlink_service::config::Config;
use pipeline_common::*;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use rusqlite::Connection;
use ports::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_meterlink-serve");

/// `n` distinct mode-5 telegrams from meters `KAM 1..=meters` (volume = index).
fn telegrams(n: usize, meters: u32) -> Vec<Vec<u8>> {
    (0..n).map(|i| frame(1 + (i as u32 % meters), 5, None, 1000 + i as u32, (i % 256) as u8, KEY)).collect()
}

/// One HTTP/1.1 request; (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (status, body)
}

/// The value of an unlabelled metric line `name value` in `/metrics`.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Publish `msgs` (topic, payload) at QoS 1 to `port` until the broker acknowledged them all.
fn publish(port: u16, id: &str, msgs: Vec<(String, String)>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut ev) = AsyncClient::new(o, 100);
        let n = msgs.len();
        let pub_task = tokio::spawn(async move {
            for (t, p) in msgs {
                client.publish(t, QoS::AtLeastOnce, false, p).await.unwrap();
            }
            client
        });
        let mut acked = 0;
        while acked < n {
            let e = tokio::time::timeout(Duration::from_secs(60), ev.poll()).await.expect("publisher stalled").expect("publisher");
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e {
                acked += 1;
            }
        }
        let client = pub_task.await.unwrap();
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), ev.poll()).await;
    });
}

/// `SELECT COUNT(*)` that tolerates a database not created yet.
fn try_count(db: &Path, table: &str) -> i64 {
    Connection::open(db).ok().and_then(|c| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).ok()).unwrap_or(0)
}

/// Wait until `table` of `db` has `n` rows (at most `within`).
fn wait_rows(db: &Path, table: &str, n: i64, within: Duration) {
    let t = Instant::now();
    loop {
        let c = try_count(db, table);
        if c >= n {
            return;
        }
        assert!(t.elapsed() < within, "{table}: {c} rows of {n} after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Wait until the service's MQTT intake has its subscriptions (a message published before
/// that reaches nobody), as its `/metrics` on `http_port` says.
fn wait_subscribed(http_port: u16) {
    let t = Instant::now();
    loop {
        let (_, m) = http(http_port, "GET", "/metrics", "");
        if m.contains(r#"meterlink_mqtt_subscribed{intake="mqtt"} 1"#) {
            // The reconnect counter is scraped from the start (0 until a connection drops), so
            // an alert on its rate has a series to work on.
            assert!(m.contains(r#"meterlink_mqtt_reconnects_total{intake="mqtt"} "#), "no reconnect counter: {m}");
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the MQTT intake never subscribed: {m}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The same through the metrics of an in-process service.
fn wait_subscribed_in(svc: &Running) {
    let labels = meterlink_service::metrics::IntakeLabels { intake: "mqtt".into() };
    svc.wait("the MQTT subscription", |m| m.mqtt_subscribed.get_or_create(&labels).get() == 1);
}

/// The embedded default with its ports moved to free ones and the SQLite file in `dir`.
fn default_on_free_ports(dir: &Path) -> (Config, u16, u16) {
    let (mqtt_port, http_port) = (free_port(), free_port());
    let mut c = Config::default();
    c.broker.listen = format!("127.0.0.1:{mqtt_port}");
    c.mqtt[0].url = format!("mqtt://127.0.0.1:{mqtt_port}");
    c.http[0].listen = format!("127.0.0.1:{http_port}");
    c.store.path = dir.join("meterlink.db");
    let keys = dir.join("keys.csv");
    key_file(&keys, &(1..=10).collect::<Vec<_>>(), KEY);
    c.keys.files = vec![keys];
    (c, mqtt_port, http_port)
}

/// What a gateway publishes in the three shapes the default intake detects.
fn shapes(t: &[Vec<u8>]) -> Vec<(String, String)> {
    vec![
        ("telegrams/gw-1".into(), hex(&t[0])),
        ("telegrams/gw-2".into(), format!(r#"{{"telegram":"{}","rssi_dbm":-71}}"#, hex(&t[1]))),
        ("telegrams/gw-3".into(), hex(&t[2]).to_lowercase()),
    ]
}

#[test]
fn the_embedded_default_takes_mqtt_and_http_into_sqlite() {
    let dir = tempdir("e2e-default");
    let (c, mqtt_port, http_port) = default_on_free_ports(&dir);
    let db = c.store.path.clone();
    let svc = Running::start(c);
    wait_port(http_port);
    wait_subscribed(http_port);
    let t = telegrams(5, 5);
    publish(mqtt_port, "gw-publisher", shapes(&t));
    // HTTP: hex lines, answered after the commit.
    let (status, body) = http(http_port, "POST", "/telegrams?gateway=gw-http", &format!("{}\n{}\n", hex(&t[3]), hex(&t[4])));
    assert_eq!((status, body.as_str()), (200, r#"{"accepted":2}"#));
    wait_rows(&db, "telegrams", 5, Duration::from_secs(30));
    let (status, health) = http(http_port, "GET", "/health", "");
    assert_eq!(status, 200, "{health}");
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["store_ok"], true, "{health}");
    assert!(h["last_commit_age_ms"].as_i64().is_some(), "a commit happened: {health}");
    let (_, m) = http(http_port, "GET", "/metrics", "");
    assert_eq!(metric(&m, "meterlink_stored_total"), Some(5.0), "{m}");
    assert!(m.contains(r#"meterlink_received_total{intake="mqtt",gateway="telegrams/gw-2"} 1"#), "{m}");
    assert!(m.contains(r#"meterlink_received_total{intake="http",gateway="gw-http"} 2"#), "{m}");
    svc.stop();
    assert_eq!(count(&db, "telegrams"), 5);
    assert_eq!(count(&db, "receptions"), 5);
    assert_eq!(count(&db, "readings"), 15, "3 records per telegram");
    assert_eq!(count(&db, "rejected"), 0, "{:?}", rejected_codes(&db));
    let rssi: f64 = Connection::open(&db).unwrap().query_row("SELECT rssi FROM receptions WHERE gateway = 'telegrams/gw-2'", [], |r| r.get(0)).unwrap();
    assert_eq!(rssi, -71.0);
}

/// `meterlink-serve` with no configuration at all, in an empty directory: the literal defaults
/// (127.0.0.1:1883, 127.0.0.1:8080, ./meterlink.db). Skipped when those ports are taken.
#[test]
fn meterlink_serve_with_no_config_is_a_head_end() {
    let (Ok(a), Ok(b)) = (TcpListener::bind("127.0.0.1:1883"), TcpListener::bind("127.0.0.1:8080")) else {
        eprintln!("SKIP: 127.0.0.1:1883 or 127.0.0.1:8080 is in use; the same configuration on free ports is tested above");
        return;
    };
    drop((a, b));
    let dir = tempdir("e2e-literal");
    key_file(&dir.join("keys.csv"), &(1..=10).collect::<Vec<_>>(), KEY);
    let child = Command::new(BIN).args(["--keys", "keys.csv"]).current_dir(&dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut child = Guard(child);
    wait_port(8080);
    wait_subscribed(8080);
    let t = telegrams(4, 4);
    let mut msgs = shapes(&t);
    msgs.truncate(3);
    publish(1883, "gw-literal", msgs);
    let (status, _) = http(8080, "POST", "/telegrams", &hex(&t[3]));
    assert_eq!(status, 200);
    let db = dir.join("meterlink.db");
    wait_rows(&db, "telegrams", 4, Duration::from_secs(30));
    term_and_wait(&mut child.0);
    assert_eq!(count(&db, "telegrams"), 4);
    assert_eq!(count(&db, "readings"), 12);
}

#[test]
fn silence_alarms_raise_and_clear_with_gauges() {
    let dir = tempdir("e2e-alarms");
    let (mut c, _, http_port) = default_on_free_ports(&dir);
    c.broker.embedded = false;
    c.mqtt.clear();
    c.alarms.gateway_silence_s = 1;
    c.alarms.meter_silence_s = 1;
    let svc = Running::start(c);
    wait_port(http_port);
    let t = telegrams(3, 3);
    assert_eq!(http(http_port, "POST", "/telegrams?gateway=gw-a", &hex(&t[0])).0, 200);
    let gauges = || {
        let (_, m) = http(http_port, "GET", "/metrics", "");
        (metric(&m, "meterlink_silent_gateways"), metric(&m, "meterlink_silent_meters"))
    };
    assert_eq!(gauges(), (Some(0.0), Some(0.0)), "heard just now");
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(gauges(), (Some(1.0), Some(1.0)), "gw-a and KAM 00000001 silent > 1 s");
    // Another meter through the same gateway: the gateway's alarm clears, the first meter's stays.
    assert_eq!(http(http_port, "POST", "/telegrams?gateway=gw-a", &hex(&t[1])).0, 200);
    assert_eq!(gauges(), (Some(0.0), Some(1.0)));
    svc.stop();
}

/// Kill the child on drop (a failing test leaves no process behind).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then wait for a graceful exit (status 0).
fn term_and_wait(child: &mut Child) {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success();
    assert!(ok);
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "exit status {s}");
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no exit 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The service configuration of the kill -9 test: an external broker, a persistent session.
fn kill_config(dir: &Path, mqtt_port: u16, db: &Path, keys: &Path) -> PathBuf {
    let text = format!(
        "http = []\n[broker]\nembedded = false\n[keys]\nfiles = [{keys:?}]\n[store]\npath = {db:?}\n[service]\nbatch_interval_ms = 50\nbatch_max = 2000\n\
         [[mqtt]]\nurl = \"mqtt://127.0.0.1:{mqtt_port}\"\ntopics = [\"telegrams/#\"]\nqos = 1\npersistent_session = true\nclient_id = \"meterlink-kill9\"\n"
    );
    let p = dir.join("kill9.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The broker of the kill -9 test, in a process of its own: `meterlink-serve --broker-only`.
fn spawn_broker(port: u16) -> Guard {
    let g = Guard(Command::new(BIN).args(["--broker-only", &format!("127.0.0.1:{port}")]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    wait_port(port);
    g
}

/// Issue 15 §4: QoS 1 telegrams published while the service runs, a SIGKILL at a random moment,
/// a restart: every telegram is stored exactly once.
#[test]
fn kill_9_mid_run_then_restart_stores_every_telegram_exactly_once() {
    const N: usize = 20_000;
    let dir = tempdir("e2e-kill9");
    let port = free_port();
    let _broker = spawn_broker(port);
    let (db, keys) = (dir.join("kill9.db"), dir.join("keys.csv"));
    key_file(&keys, &(1..=500).collect::<Vec<_>>(), KEY);
    let cfg = kill_config(&dir, port, &db, &keys);
    // The gateway stamps its reception time (a redelivery keeps it, as a real gateway's does).
    let t0 = 1_760_000_000_000i64;
    let msgs: Vec<(String, String)> = telegrams(N, 500)
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("telegrams/gw-{}", i % 8), format!(r#"{{"telegram":"{}","time":{}}}"#, hex(f), t0 + i as i64)))
        .collect();
    // The session exists before publishing starts (as the running head-end's does).
    let mut first = Guard(Command::new(BIN).arg(&cfg).stderr(Stdio::null()).spawn().unwrap());
    wait_rows(&db, "schema_version", 1, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    let publisher = std::thread::spawn(move || publish(port, "gw-kill9", msgs));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let at = 500 + (Rng(seed).next() % (N as u64 / 2)) as i64;
    wait_rows(&db, "telegrams", at, Duration::from_secs(120));
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let at_kill = try_count(&db, "telegrams");
    eprintln!("SIGKILL after {at_kill} of {N} telegrams (threshold {at})");
    assert!(at_kill < N as i64, "the kill came after the end ({at_kill}): not mid-run");
    let mut second = Guard(Command::new(BIN).arg(&cfg).stderr(Stdio::null()).spawn().unwrap());
    publisher.join().unwrap();
    wait_rows(&db, "telegrams", N as i64, Duration::from_secs(180));
    // Let redeliveries that might still come settle, then stop gracefully.
    std::thread::sleep(Duration::from_secs(2));
    term_and_wait(&mut second.0);
    let c = Connection::open(&db).unwrap();
    let one = |q: &str| -> i64 { c.query_row(q, [], |r| r.get(0)).unwrap() };
    assert_eq!(one("SELECT COUNT(*) FROM telegrams"), N as i64);
    assert_eq!(one("SELECT COUNT(DISTINCT frame) FROM telegrams"), N as i64, "no telegram twice");
    assert_eq!(one("SELECT COUNT(*) FROM receptions"), N as i64, "one reception per publish");
    assert_eq!(one("SELECT COUNT(*) FROM readings"), 3 * N as i64);
    assert_eq!(one("SELECT COUNT(*) FROM rejected"), 0);
}

/// Start `c` (keys for meters 1–100 in `dir`), hold the SQLite file's write lock, and publish
/// `n` distinct telegrams as the gateway `telegrams/gw-1` (client `publisher`): the store is
/// stalled until the returned connection commits.
fn start_and_lock_the_store(dir: &Path, c: Config, mqtt_port: u16, n: usize, publisher: &str) -> (Running, PathBuf, Connection) {
    key_file(&dir.join("keys.csv"), &(1..=100).collect::<Vec<_>>(), KEY);
    let db = c.store.path.clone();
    let svc = Running::start(c);
    wait_port(mqtt_port);
    wait_subscribed_in(&svc);
    wait_rows(&db, "schema_version", 1, Duration::from_secs(30));
    let lock = Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let msgs = telegrams(n, 100).iter().enumerate().map(|(i, f)| ("telegrams/gw-1".to_string(), format!(r#"{{"telegram":"{}","time":{}}}"#, hex(f), 1_760_000_000_000i64 + i as i64))).collect();
    publish(mqtt_port, publisher, msgs);
    (svc, db, lock)
}

/// Issue 15 §2: while the store is stalled (another connection holds SQLite's write lock) the
/// service takes no more than its bounded queue and batches hold, leaves the rest unacknowledged
/// in the broker, and stores everything once the store moves again — nothing dropped.
#[test]
fn a_stalled_store_stops_the_intake_instead_of_dropping() {
    const N: usize = 2_000;
    let dir = tempdir("e2e-backpressure");
    let (mut c, mqtt_port, http_port) = default_on_free_ports(&dir);
    c.http.clear();
    let _ = http_port;
    c.service.queue_capacity = 64;
    c.service.batch_max = 50;
    c.service.batch_interval_ms = 20;
    let (svc, db, lock) = start_and_lock_the_store(&dir, c, mqtt_port, N, "gw-bp");
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = svc.metrics.clone();
    let received = || metrics.received.get_or_create(&meterlink_service::metrics::SourceLabels { intake: "mqtt".into(), gateway: "telegrams/gw-1".into() }).get();
    let taken = received();
    // Queue (64) + the batch being built, the one waiting for the writer and the one it writes
    // (50 each) + one reception waiting for room.
    assert!(taken <= 64 + 3 * 50 + 1, "took {taken} of {N} while the store was stalled");
    assert!(taken > 0);
    assert_eq!(try_count(&db, "telegrams"), 0);
    lock.execute_batch("COMMIT").unwrap();
    wait_rows(&db, "telegrams", N as i64, Duration::from_secs(60));
    svc.stop();
    assert_eq!(count(&db, "telegrams"), N as i64);
    assert_eq!(count(&db, "receptions"), N as i64);
    assert_eq!(received(), N as u64, "each message taken once: none was dropped and redelivered");
}

/// A store stalled for longer than the broker's keep-alive limit (1.5 × 5 s here) does not
/// cost the MQTT connection, so nothing is redelivered: every message is taken once, with no
/// reconnect. `queue` and `batch` decide where the intake waits during the stall (the
/// embedded broker keeps 100 messages in flight):
/// - a queue with room for more than that: in `poll`, holding 100 acknowledgements back, and
///   the broker does not answer PINGREQs then (`excuse_ping`);
/// - a queue with less room: waiting for room, where it writes PINGREQs itself (the event
///   loop, whose keep-alive it is, is not polled then).
fn stall_past_the_keep_alive(name: &str, queue: usize, batch: usize) {
    const N: usize = 2_000;
    let dir = tempdir(name);
    let (mut c, mqtt_port, _) = default_on_free_ports(&dir);
    c.http.clear();
    c.mqtt[0].keep_alive_secs = 5;
    c.service.queue_capacity = queue;
    c.service.batch_max = batch;
    c.service.batch_interval_ms = 20;
    let (svc, db, lock) = start_and_lock_the_store(&dir, c, mqtt_port, N, "gw-ka");
    // Two of the broker's keep-alive limits without a commit (the writer's first attempts
    // time out on the lock, 5 s each, and are retried).
    std::thread::sleep(Duration::from_secs(16));
    assert_eq!(try_count(&db, "telegrams"), 0);
    lock.execute_batch("COMMIT").unwrap();
    wait_rows(&db, "telegrams", N as i64, Duration::from_secs(60));
    let labels = meterlink_service::metrics::IntakeLabels { intake: "mqtt".into() };
    let reconnects = svc.metrics.mqtt_reconnects.get_or_create(&labels).get();
    let received = svc.metrics.received.get_or_create(&meterlink_service::metrics::SourceLabels { intake: "mqtt".into(), gateway: "telegrams/gw-1".into() }).get();
    svc.stop();
    assert_eq!(reconnects, 0, "the connection was dropped during the stall");
    assert_eq!(received, N as u64, "each message taken once: none was redelivered");
    assert_eq!(count(&db, "telegrams"), N as i64);
}

#[test]
fn a_store_stalled_past_the_keep_alive_keeps_the_connection_while_polling() {
    stall_past_the_keep_alive("e2e-keepalive-poll", 64, 50);
}

#[test]
fn a_store_stalled_past_the_keep_alive_keeps_the_connection_while_waiting_for_room() {
    stall_past_the_keep_alive("e2e-keepalive-room", 8, 10);
}

/// `store.kind = "postgres"` end to end: HTTP in, rows in a throwaway PostgreSQL cluster; the
/// same telegrams sent again are duplicates (skipped with the reason when no cluster starts).
#[test]
fn the_postgres_store_end_to_end() {
    let Some(cluster) = pg::cluster_or_skip("the_postgres_store_end_to_end") else { return };
    let url = cluster.new_database();
    let dir = tempdir("e2e-pg");
    let (mut c, _, http_port) = default_on_free_ports(&dir);
    c.broker.embedded = false;
    c.mqtt.clear();
    c.store.kind = "postgres".into();
    c.store.url = Some(url.clone());
    let svc = Running::start(c);
    wait_port(http_port);
    let t = telegrams(6, 6);
    let body: String = t.iter().map(|f| hex(f) + "\n").collect();
    assert_eq!(http(http_port, "POST", "/telegrams?gateway=gw-1", &body), (200, r#"{"accepted":6}"#.to_string()));
    assert_eq!(http(http_port, "POST", "/telegrams?gateway=gw-2", &body).0, 200);
    svc.stop();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let counts = rt.block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let mut out = Vec::new();
        for t in ["telegrams", "receptions", "readings", "rejected"] {
            let n: i64 = client.query_one(&format!("SELECT COUNT(*) FROM {t}"), &[]).await.unwrap().get(0);
            out.push(n);
        }
        out
    });
    assert_eq!(counts, vec![6, 12, 18, 0], "telegrams, receptions (2 gateways), readings, rejected");
}
