//! Scale-out (issue 15 §4): two `meterlink-serve` **processes** on one PostgreSQL, sharing the
//! load through an MQTT `$share` subscription on a real mosquitto, correct because dedup and
//! replay are decided by the database's unique keys and counter rows. Traffic: several gateways
//! publishing the same radio telegrams (copies of one telegram land on different workers),
//! AFL mode-7 telegrams whose counters the pipeline verifies, mode-5 (counter-less) and clear
//! telegrams, replays of old counters. Then a worker is killed (SIGKILL) mid-run while the
//! other goes on: every telegram is stored exactly once. Skipped, saying why, when mosquitto or
//! PostgreSQL cannot be started.

mod ports;
mod pg;
mod pipeline_common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline_common::*;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use ports::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_meterlink-serve");
/// The gateways' reception time of round 0 (Unix ms).
const T0: i64 = 1_760_000_000_000;
/// Meters transmit every 15 minutes.
const ROUND_MS: i64 = 900_000;

fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed on drop (a failing test leaves nothing behind).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// mosquitto on a free port, unbounded session queues (a dead worker's persistent session
/// must not drop what it holds: `max_queued_messages 0`), in a temp dir; None without it.
fn mosquitto(dir: &Path) -> Option<(Guard, u16)> {
    let Some(bin) = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists()) else {
        eprintln!("SKIPPED: mosquitto is not installed (apt-get install mosquitto)");
        return None;
    };
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    let text = format!("user root\npersistence false\nlistener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 200\n");
    std::fs::write(&conf, text).unwrap();
    let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
    let child = Command::new(bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(log).spawn().ok()?;
    let g = Guard(child);
    wait_port(port);
    Some((g, port))
}

/// A worker's configuration file: PostgreSQL, an MQTT intake on `$share/heads/telegrams/#`,
/// its own HTTP port for `/metrics`.
fn worker_config(dir: &Path, name: &str, mqtt_port: u16, http_port: u16, url: &str, keys: &Path, persistent: bool) -> PathBuf {
    let text = format!(
        "[service]\nworker = \"{name}\"\nbatch_interval_ms = 50\nbatch_max = 500\n[broker]\nembedded = false\n[keys]\nfiles = [{keys:?}]\n\
         [store]\nkind = \"postgres\"\nurl = \"{url}\"\n[[http]]\nlisten = \"127.0.0.1:{http_port}\"\n\
         [[mqtt]]\nurl = \"mqtt://127.0.0.1:{mqtt_port}\"\ntopics = [\"telegrams/#\"]\nshare_group = \"heads\"\nqos = 1\n\
         persistent_session = {persistent}\nclient_id = \"meterlink-{name}\"\n"
    );
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Start a worker process (its log in `dir/<name>.log`) and wait for its HTTP port.
fn spawn_worker(dir: &Path, name: &str, cfg: &Path, http_port: u16) -> Guard {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{name}.log"))).unwrap();
    let g = Guard(Command::new(BIN).arg(cfg).env("RUST_LOG", "info").stdout(Stdio::null()).stderr(log).spawn().unwrap());
    wait_port(http_port);
    g
}

/// SIGTERM, then wait for a graceful exit (status 0).
fn term_and_wait(child: &mut Child) {
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
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

/// The sum of `meterlink_received_total{...}` lines of a worker's `/metrics`.
fn received(http_port: u16) -> f64 {
    let mut s = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().filter(|l| l.starts_with("meterlink_received_total{")).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

/// Publish `msgs` (topic, payload) at QoS 1 until the broker acknowledged them all.
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

/// A plain PostgreSQL client for the assertions.
struct Db {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Db {
    fn connect(url: &str) -> Db {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
        });
        Db { rt, client }
    }

    /// One `bigint` (cast in the query).
    fn one(&self, q: &str) -> i64 {
        self.rt.block_on(self.client.query_one(q, &[])).map(|r| r.get::<_, i64>(0)).unwrap_or(0)
    }

    /// One text value.
    fn text(&self, q: &str) -> String {
        self.rt.block_on(self.client.query_one(q, &[])).unwrap().get(0)
    }

    /// Rows of (text, bigint).
    fn pairs(&self, q: &str) -> Vec<(String, i64)> {
        self.rt.block_on(self.client.query(q, &[])).unwrap().iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// `[telegrams, receptions, readings, rejected]`.
    fn counts(&self) -> [i64; 4] {
        ["telegrams", "receptions", "readings", "rejected"].map(|t| self.one(&format!("SELECT count(*)::bigint FROM {t}")))
    }

    /// Wait until the counts are `want` (at most `within`); they must never exceed it.
    fn wait_counts(&self, want: [i64; 4], within: Duration) {
        let t = Instant::now();
        loop {
            let c = self.counts();
            assert!(c.iter().zip(&want).all(|(a, b)| a <= b), "more rows than expected: {c:?} > {want:?}");
            if c == want {
                return;
            }
            assert!(t.elapsed() < within, "rows {c:?}, expected {want:?} after {within:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// One radio telegram: its frame and the gateways that heard it.
struct Radio {
    frame: Vec<u8>,
    sent_ms: i64,
    gateways: Vec<usize>,
}

const GATEWAYS: usize = 3;

/// What the gateways publish for `radios`: the service's JSON shape with the gateway's own
/// reception time (each gateway's clock off by up to 4 s) and RSSI, topic per gateway.
fn messages(radios: &[Radio]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for r in radios {
        for &g in &r.gateways {
            let time = r.sent_ms + 2000 * g as i64;
            out.push((format!("telegrams/gw-{g}"), format!(r#"{{"telegram":"{}","time":{time},"rssi":{}}}"#, hex(&r.frame), -60 - g as i64)));
        }
    }
    out
}

/// Round `round` of every meter: 40 AFL mode-7 meters (ids 1..=40, counter 10 + round),
/// 20 mode-5 meters (101..=120), 10 clear meters (501..=510, not in the key file), sent 1 s
/// apart; each heard by every gateway but one in seven (a deterministic loss pattern that never
/// loses all three copies).
fn round(round: u32) -> Vec<Radio> {
    let ids = (1..=40u32).chain(101..=120).chain(501..=510);
    ids.enumerate()
        .map(|(i, id)| {
            let frame = match id {
                1..=40 => frame(id, 7, Some(10 + round), 1000 * round + id, round as u8, KEY),
                101..=120 => frame(id, 5, None, 1000 * round + id, round as u8, KEY),
                _ => frame(id, 0, None, 1000 * round + id, round as u8, KEY),
            };
            let gateways = (0..GATEWAYS).filter(|g| (id as usize + round as usize + g) % 7 != 0).collect();
            Radio { frame, sent_ms: T0 + i64::from(round) * ROUND_MS + i as i64 * 1000, gateways }
        })
        .collect()
}

fn receptions(radios: &[Radio]) -> i64 {
    radios.iter().map(|r| r.gateways.len() as i64).sum()
}

/// Both workers up on one database, mosquitto, the key file; (dir, mosquitto, port, cluster,
/// url, configs, http ports).
struct Setup {
    dir: PathBuf,
    _broker: Guard,
    mqtt_port: u16,
    _cluster: pg::Cluster,
    url: String,
    configs: [PathBuf; 2],
    http: [u16; 2],
}

fn setup(test: &str, persistent: bool) -> Option<Setup> {
    setup_with_keys(test, persistent, 120)
}

/// [`setup`] with keys for meters `1..=keyed` (the clear meters 501..=510 stay unkeyed when
/// `keyed` is 120).
fn setup_with_keys(test: &str, persistent: bool, keyed: u32) -> Option<Setup> {
    let cluster = pg::cluster_or_skip(test)?;
    let dir = tempdir(test);
    let (broker, mqtt_port) = mosquitto(&dir)?;
    let url = cluster.new_database();
    let keys = dir.join("keys.csv");
    let ids: Vec<u32> = if keyed == 120 { (1..=40).chain(101..=120).collect() } else { (1..=keyed).collect() };
    key_file(&keys, &ids, KEY);
    let http = [free_port(), free_port()];
    let configs = [0, 1].map(|i| worker_config(&dir, &format!("w{}", i + 1), mqtt_port, http[i], &url, &keys, persistent));
    Some(Setup { dir, _broker: broker, mqtt_port, _cluster: cluster, url, configs, http })
}

impl Setup {
    fn spawn(&self, i: usize) -> Guard {
        spawn_worker(&self.dir, &format!("w{}", i + 1), &self.configs[i], self.http[i])
    }
}

/// Issue 15 §4: two worker processes, one `$share` group (clean sessions), one PostgreSQL:
/// one telegram per radio telegram, every reception kept, each replay rejected once, both
/// workers took part.
#[test]
fn two_workers_share_the_load_and_store_every_telegram_once() {
    let Some(s) = setup("scale-share", false) else { return };
    let mut workers = [s.spawn(0), s.spawn(1)];
    let db = Db::connect(&s.url);
    std::thread::sleep(Duration::from_millis(500)); // both subscribed
    let (mut want, mut published) = ([0i64; 4], 0usize);
    let mut heard: BTreeSet<(u32, usize)> = BTreeSet::new();
    // Rounds 15 minutes apart, each committed before the next is published (a meter's next
    // counter is never processed before its previous one: decisions "Scale-out").
    for r in 0..4 {
        let radios = round(r);
        for (i, x) in radios.iter().enumerate() {
            heard.extend(x.gateways.iter().map(|&g| (i as u32, g)));
        }
        let msgs = messages(&radios);
        published += msgs.len();
        publish(s.mqtt_port, "gw-sim", msgs);
        want[0] += radios.len() as i64;
        want[1] += receptions(&radios);
        want[2] += 3 * radios.len() as i64;
        db.wait_counts(want, Duration::from_secs(120));
    }
    // Replays: round 0's counter of meters 1..=10 again, an hour after round 3, from one
    // gateway each, every message published twice (a broker redelivery): one `rejected` row each.
    let late = T0 + 4 * ROUND_MS;
    let replays: Vec<(String, String)> = (1..=10u32)
        .flat_map(|id| {
            let m = (format!("telegrams/gw-{}", id as usize % GATEWAYS), format!(r#"{{"telegram":"{}","time":{}}}"#, hex(&frame(id, 7, Some(10), id, 0, KEY)), late + i64::from(id)));
            [m.clone(), m]
        })
        .collect();
    published += replays.len();
    publish(s.mqtt_port, "gw-replay", replays);
    want[3] += 10;
    db.wait_counts(want, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(500)); // nothing more arrives
    let got = [received(s.http[0]), received(s.http[1])];
    for w in &mut workers {
        term_and_wait(&mut w.0);
    }
    assert_eq!(db.counts(), want, "telegrams, receptions, readings, rejected");
    assert_eq!(got[0] + got[1], published as f64, "each message taken by one worker: {got:?}");
    assert!(got[0] > 0.0 && got[1] > 0.0, "both workers took a share: {got:?}");
    let by_worker = db.pairs("SELECT worker, count(*)::bigint FROM telegrams GROUP BY worker ORDER BY worker");
    assert_eq!(by_worker.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(), ["w1", "w2"], "{by_worker:?}");
    eprintln!("telegrams stored by worker: {by_worker:?}; messages taken: {got:?}");
    assert_eq!(db.one("SELECT count(DISTINCT dedup_key)::bigint FROM receptions"), want[0], "every reception belongs to a stored telegram");
    assert_eq!(db.one("SELECT count(DISTINCT frame)::bigint FROM telegrams"), want[0]);
    let codes = db.pairs("SELECT code, count(*)::bigint FROM rejected GROUP BY code");
    assert_eq!(codes, [("replayed_counter".to_string(), 10)]);
    assert_eq!(db.one("SELECT count(*)::bigint FROM meters WHERE key_id = 0 AND last_counter = 13"), 40, "every mode-7 meter at its round-3 counter");
    assert_eq!(db.one("SELECT count(*)::bigint FROM meter_gateways"), heard.len() as i64, "one row per (meter, gateway) that heard it");
    let integrity = db.pairs("SELECT integrity, count(*)::bigint FROM telegrams GROUP BY integrity ORDER BY integrity");
    let want_integrity = [("filler_2f2f", 80), ("mac", 160), ("none", 40)].map(|(k, n)| (k.to_string(), n));
    assert_eq!(integrity, want_integrity, "mode 5 (2F filler checked), mode 7 (MAC checked), clear");
}

/// The kill run's traffic: 1,500 mode-7 meters (ids 1..=1500, counter 50) and 500 mode-5
/// meters (2001..=2500), each transmitting once, 10 ms apart, heard as in [`round`].
fn kill_run() -> Vec<Radio> {
    (1..=1500u32)
        .chain(2001..=2500)
        .enumerate()
        .map(|(i, id)| {
            let frame = if id <= 1500 { frame(id, 7, Some(50), id, 5, KEY) } else { frame(id, 5, None, id, 5, KEY) };
            let gateways = (0..GATEWAYS).filter(|g| (id as usize + g) % 7 != 0).collect();
            Radio { frame, sent_ms: T0 + i as i64 * 10, gateways }
        })
        .collect()
}

/// Issue 15 §4: two workers with persistent sessions in one `$share` group; one is killed
/// (SIGKILL) at a random moment while the gateways publish, the other goes on, the killed one
/// is restarted (its session holds what it had not acknowledged): every radio telegram is
/// stored exactly once, every reception once.
#[test]
fn a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let Some(s) = setup_with_keys("scale-kill", true, 2500) else { return };
    let mut a = s.spawn(0);
    let mut b = s.spawn(1);
    let db = Db::connect(&s.url);
    std::thread::sleep(Duration::from_millis(500)); // both sessions subscribed
    let radios = kill_run();
    let want = [radios.len() as i64, receptions(&radios), 3 * radios.len() as i64, 0];
    let msgs = messages(&radios);
    let port = s.mqtt_port;
    let publisher = std::thread::spawn(move || publish(port, "gw-kill", msgs));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let at = 200 + (Rng(seed).next() % 600) as i64;
    let t = Instant::now();
    while db.one("SELECT count(*)::bigint FROM telegrams") < at {
        assert!(t.elapsed() < Duration::from_secs(120), "no progress to {at} telegrams");
        std::thread::sleep(Duration::from_millis(10));
    }
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    let at_kill = db.counts();
    publisher.join().unwrap();
    // The survivor goes on alone for a while.
    std::thread::sleep(Duration::from_secs(3));
    let alone = db.counts();
    eprintln!("SIGKILL of w1 at {at_kill:?} (threshold {at}); w2 alone reached {alone:?}; expected {want:?}");
    assert!(at_kill[0] < want[0], "the kill came after the end: not mid-run");
    assert!(alone[0] > at_kill[0], "the other worker went on storing");
    drop(a);
    // The killed worker restarts with its session: what the broker held for it is redelivered.
    let mut a = s.spawn(0);
    db.wait_counts(want, Duration::from_secs(180));
    std::thread::sleep(Duration::from_secs(1)); // redeliveries that might still come
    assert_eq!(db.counts(), want, "telegrams, receptions, readings, rejected");
    assert_eq!(db.one("SELECT count(DISTINCT frame)::bigint FROM telegrams"), want[0], "no telegram twice");
    // `meters` is written in each batch's transaction (the default): every meter at its counter.
    assert_eq!(db.one("SELECT count(*)::bigint FROM meters WHERE last_counter = 50"), 1500);
    // Replay protection: counter 50 again, an hour later, is rejected.
    let meter = db.text("SELECT meter FROM telegrams WHERE counter = 50 ORDER BY meter LIMIT 1");
    let id: u32 = meter[3..].parse().unwrap();
    let late = format!(r#"{{"telegram":"{}","time":{}}}"#, hex(&frame(id, 7, Some(50), id, 5, KEY)), T0 + ROUND_MS);
    publish(s.mqtt_port, "gw-replay", vec![("telegrams/gw-0".into(), late)]);
    db.wait_counts([want[0], want[1], want[2], 1], Duration::from_secs(60));
    eprintln!("replay of {meter} rejected");
    term_and_wait(&mut a.0);
    term_and_wait(&mut b.0);
    assert_eq!(db.pairs("SELECT code, count(*)::bigint FROM rejected GROUP BY code"), [("replayed_counter".to_string(), 1)]);
    assert_eq!(db.one("SELECT count(*)::bigint FROM meters WHERE last_counter = 50"), 1500);
}
