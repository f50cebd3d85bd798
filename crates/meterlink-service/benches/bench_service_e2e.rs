//! End-to-end benchmark of issue 15 §4/§5: MQTT QoS 1, gateway publish → committed rows in
//! SQLite (`meterlink-serve`), against `mosquitto_sub` receiving the same messages from the same
//! mosquitto broker in the same run; then a kill -9 at a random moment and a restart, checked
//! for exactly-once storage. Numbers are printed, never asserted (the kill -9 counts are).
//!
//! Modes (`E2E_MODE`):
//! - `compare` (default): `E2E_ROUNDS` drain rounds (N QoS 1 messages queued for two absent
//!   persistent sessions, then `mosquitto_sub -c -q 1` and `meterlink-serve` each drain theirs,
//!   the order alternating by round) and one live round (both subscribed, the publisher at full
//!   speed); then the kill -9 run unless `E2E_KILL9=0`;
//! - `kill9`: only the kill -9 run (issue 15 §4 asks for it at N = 1,000,000);
//! - `publish`: the load generator of `benches/soak_service.sh`: `E2E_RATE` messages/s for
//!   `E2E_SECS` seconds to the broker on `E2E_PORT`, stamped with the wall clock.
//!
//! `E2E_N` (default 200,000), `E2E_PUBLISHERS` (live publishers, default 1), `E2E_INFLIGHT`
//! (mosquitto `max_inflight_messages`, default 1,000, the same for both subscribers),
//! `E2E_KEEP=1` keeps the work directory. Every wait has a deadline and says what it got.
//!
//! The gateway is a publisher written here with rumqttc (QoS 1, 1,000 in flight, every PUBACK
//! counted): `mosquitto_pub -l` 2.0.11 exits at EOF of a file on stdin with messages still
//! unsent (measured: 34,481 of 100,000 lines arrived, exit status 0), which is why the first
//! version of this benchmark waited for ever. Payloads are `{"telegram": hex, "time": ms}`, the
//! gateway's time stamp making a redelivery after kill -9 the same reception (decisions
//! "Exactly-once across kill -9").
//!
//! `cargo bench -p meterlink-service --bench bench_service_e2e`. Needs `mosquitto`,
//! `mosquitto_sub` on PATH (skipped otherwise).

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

// Ports outside the ephemeral range (tests/ports explains why port-0 probes are not used).
#[path = "../tests/ports/mod.rs"]
mod ports;
use ports::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_meterlink-serve");
const KEY: [u8; 16] = [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8];
const METERS: u32 = 20_000;
const T0: i64 = 1_760_000_000_000;

/// Kills its child on drop (a failing run leaves no process behind).
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bcd(n: u32) -> [u8; 4] {
    let mut id = [0u8; 4];
    let mut v = n;
    for b in &mut id {
        *b = ((v % 10) as u8) | (((v / 10 % 10) as u8) << 4);
        v /= 100;
    }
    id
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Mode-5 telegram `i` with 3 records (volume = i, date-time, error flags) from meter
/// `1 + i % METERS`: distinct for every i below 10^8.
fn telegram(i: u64) -> Vec<u8> {
    let addr = Address::new(manufacturer_code(b"KAM"), bcd(1 + (i % u64::from(METERS)) as u32), 0x1B, 0x07);
    let mut b = Builder::wireless(0x44, addr, FrameFormat::A);
    b.security.mode = 5;
    b.access_number = (i % 256) as u8;
    b.key = Some(KeyMaterial::Aes(KEY));
    let mut r = vec![0x0C, 0x13];
    r.extend_from_slice(&bcd(i as u32));
    r.extend_from_slice(&[0x04, 0x6D, 30, 12, 1 | (4 << 5), 1 | (2 << 4), 0x02, 0xFD, 0x17, 0, 0]);
    b.encode(&r, &[]).unwrap()
}

/// Message `i`: topic `telegrams/gw-(i % 8)`, the gateway's JSON with its reception time.
fn message(i: u64, time_ms: i64) -> (String, String) {
    (format!("telegrams/gw-{}", i % 8), format!(r#"{{"telegram":"{}","time":{time_ms}}}"#, hex(&telegram(i))))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Wait until something listens on `port` (30 s at most).
fn wait_port(port: u16) -> bool {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(30) {
            println!("nothing listens on {port} after 30 s");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// What a publisher achieved: messages the broker acknowledged, and when the last came.
struct Published {
    acked: usize,
    elapsed: Duration,
}

/// Publish `n` messages at QoS 1 (`rate` per second at most, 0 = full speed) and wait for every
/// PUBACK; gives up when no event came for 30 s or after `deadline`, saying how far it got.
fn publish(port: u16, id: &str, n: usize, msgs: impl Iterator<Item = (String, String)> + Send + 'static, rate: f64, deadline: Duration) -> Published {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = id.to_string();
    rt.block_on(async move {
        let mut o = MqttOptions::new(id.clone(), "127.0.0.1", port);
        o.set_inflight(1000).set_max_packet_size(1 << 16, 1 << 16).set_keep_alive(Duration::from_secs(60));
        let (client, mut ev) = AsyncClient::new(o, 1000);
        let t = Instant::now();
        let sender = tokio::spawn(async move {
            for (k, (topic, payload)) in msgs.enumerate() {
                if rate > 0.0 && k % 100 == 0 {
                    let due = Duration::from_secs_f64(k as f64 / rate);
                    if let Some(wait) = due.checked_sub(t.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                if client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_err() {
                    break;
                }
            }
            client
        });
        let acked = count_pubacks(&mut ev, n, t + deadline).await;
        let elapsed = t.elapsed();
        if acked < n {
            println!("publisher {id}: {acked} of {n} PUBACKs after {:.1} s, giving up", elapsed.as_secs_f64());
            sender.abort();
        } else if let Ok(client) = sender.await {
            let _ = client.disconnect().await;
            let _ = tokio::time::timeout(Duration::from_secs(1), ev.poll()).await;
        }
        Published { acked, elapsed }
    })
}

/// Drive the event loop until `n` PUBACKs arrived, 30 s passed without an event, or `until`.
async fn count_pubacks(ev: &mut rumqttc::EventLoop, n: usize, until: Instant) -> usize {
    let mut acked = 0;
    while acked < n && Instant::now() < until {
        match tokio::time::timeout(Duration::from_secs(30), ev.poll()).await {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                println!("publisher: connection error {e} after {acked} PUBACKs; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(_) => break,
        }
    }
    acked
}

/// Telegrams committed so far (`MAX(rowid)`: rows are only inserted, so it is the count, at the
/// price of one index probe instead of a scan); 0 while the file does not exist.
fn rows(db: &Path) -> i64 {
    let open = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY);
    open.ok().and_then(|c| c.query_row("SELECT COALESCE(MAX(rowid), 0) FROM telegrams", [], |r| r.get(0)).ok()).unwrap_or(0)
}

/// One SQL count of the finished database.
fn one(db: &Path, q: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(q, [], |r| r.get(0)).unwrap()
}

/// Watch a `mosquitto_sub -C n` (done when it exits) and/or a service database (done at `n`
/// rows) from `t`, polling every 10 ms until both are done or `deadline`; the time each was done.
fn watch(t: Instant, mut sub: Option<&mut Child>, db: Option<&Path>, n: i64, deadline: Duration) -> (Option<Duration>, Option<Duration>) {
    let (mut s, mut d) = (sub.is_none().then_some(Duration::ZERO), db.is_none().then_some(Duration::ZERO));
    while (s.is_none() || d.is_none()) && t.elapsed() < deadline {
        if s.is_none() && sub.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some()) {
            s = Some(t.elapsed());
        }
        if d.is_none() && db.is_some_and(|p| rows(p) >= n) {
            d = Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (sub.is_some().then_some(s).flatten(), db.is_some().then_some(d).flatten())
}

/// SIGTERM and wait (30 s at most, then SIGKILL).
fn term(c: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
    let t = Instant::now();
    while c.try_wait().ok().flatten().is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            println!("no exit 30 s after SIGTERM: SIGKILL");
            let _ = c.kill();
            let _ = c.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("TIMEOUT".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

/// The mosquitto broker, its subscribers' files and the service's configuration.
struct Bench {
    dir: PathBuf,
    port: u16,
    n: usize,
    keys: PathBuf,
    /// The N messages, built once (building them is not the publisher's speed).
    msgs: Vec<(String, String)>,
}

impl Bench {
    /// A fresh mosquitto (unlimited session queues, `max_inflight_messages` = `inflight` for
    /// every subscriber) on a free port, the key file and the N messages.
    fn new(n: usize, inflight: u32, build_msgs: bool) -> (Bench, Guard) {
        let dir = std::env::temp_dir().join(format!("ml-bench-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let conf = dir.join("mosquitto.conf");
        let text = format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages {inflight}\npersistence false\n");
        std::fs::write(&conf, text).unwrap();
        let broker = Guard(Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
        assert!(wait_port(port), "mosquitto did not start");
        let keys = dir.join("keys.csv");
        let k: String = (1..=METERS).map(|id| format!("KAM,{id:08},{}\n", hex(&KEY))).collect();
        std::fs::write(&keys, format!("manufacturer,id,key\n{k}")).unwrap();
        let msgs = if build_msgs { (0..n as u64).map(|i| message(i, T0 + i as i64)).collect() } else { Vec::new() };
        (Bench { dir, port, n, keys, msgs }, broker)
    }

    /// Publish the N prepared messages at full speed.
    fn publish_all(&self, id: &str) -> Published {
        let p = publish(self.port, id, self.n, self.msgs.clone().into_iter(), 0.0, self.deadline());
        assert_eq!(p.acked, self.n, "the broker did not take every message");
        p
    }

    /// A generous deadline for N messages (1,000/s at worst, plus a minute).
    fn deadline(&self) -> Duration {
        Duration::from_secs(60 + self.n as u64 / 1000)
    }

    /// `mosquitto_sub -c -q 1 -i id` on `telegrams/#` plus `extra`, messages into `out`.
    fn sub(&self, id: &str, extra: &[&str], out: &Path) -> Child {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-q", "1", "-t", "telegrams/#", "-c", "-i", id]).args(extra);
        c.stdout(File::create(out).unwrap()).stderr(Stdio::null()).spawn().unwrap()
    }

    /// Lines (messages) a subscriber wrote into `out`.
    fn lines(out: &Path) -> usize {
        std::fs::read(out).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
    }

    /// `meterlink-serve` with default settings: the external broker, a persistent session
    /// `client`, SQLite `db`, `/metrics` on `http` (read after each phase), logs in the dir.
    fn serve(&self, db: &Path, client: &str, http: u16) -> Guard {
        let cfg = self.dir.join(format!("{client}.toml"));
        let text = format!(
            "[[http]]\nname = \"http\"\nlisten = \"127.0.0.1:{http}\"\n[broker]\nembedded = false\n[keys]\nfiles = [{:?}]\n[store]\npath = {db:?}\n\
             [[mqtt]]\nurl = \"mqtt://127.0.0.1:{}\"\nqos = 1\npersistent_session = true\nclient_id = \"{client}\"\n",
            self.keys, self.port
        );
        std::fs::write(&cfg, text).unwrap();
        let log = File::create(self.dir.join(format!("{client}.log"))).unwrap();
        Guard(Command::new(BIN).arg(&cfg).stdout(Stdio::null()).stderr(log).spawn().unwrap())
    }

    /// Start the service and wait until its HTTP port is up (the MQTT intake starts before it)
    /// plus a second for CONNACK and SUBACK.
    fn serve_ready(&self, db: &Path, client: &str, http: u16) -> Guard {
        let g = self.serve(db, client, http);
        assert!(wait_port(http), "meterlink-serve did not start (see {client}.log)");
        std::thread::sleep(Duration::from_secs(1));
        g
    }

    /// Create both persistent sessions (subscribed, then gone).
    fn sessions(&self, sub_id: &str, ml_id: &str) {
        let mut s = self.sub(sub_id, &["-E"], &self.dir.join("E.out"));
        assert!(watch(Instant::now(), Some(&mut s), None, 0, Duration::from_secs(30)).0.is_some(), "mosquitto_sub -E hung");
        let http = free_port();
        let mut svc = self.serve_ready(&self.dir.join("session.db"), ml_id, http);
        term(&mut svc.0);
    }
}

/// `/metrics` lines of the service on `http` that say where the time went.
fn metrics(http: u16) -> String {
    let out = Command::new("curl").args(["-s", "--max-time", "5", &format!("http://127.0.0.1:{http}/metrics")]).output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    let sum = |k: &str| -> f64 { text.lines().filter(|l| l.starts_with(k)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum() };
    let [rx, st, ba, du] = ["meterlink_received_total", "meterlink_stored_total", "meterlink_batches_total", "meterlink_duplicates_total"].map(sum);
    format!("received {rx}, stored {st}, duplicates {du}, batches {ba} ({:.0} telegrams per batch)", st / ba.max(1.0))
}

/// After the last commit (outside the timing): time for the last PUBACKs to go out. A SIGTERM
/// right at the commit leaves them unsent, the broker redelivers that batch to the next phase's
/// service (on a fresh database: as new telegrams), which skewed a first version's live round.
fn settle() {
    std::thread::sleep(Duration::from_secs(2));
}

/// CPU seconds of each thread of process `pid` (`/proc/PID/task/*/stat` utime + stime, at
/// 100 ticks/s), by thread name: which thread bounds the service's rate.
fn thread_cpu(pid: u32) -> String {
    let mut by_name: Vec<(String, f64)> = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + f.get(12).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0);
        let name = stat[open + 1..close].to_string();
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, t)) => *t += ticks / 100.0,
            None => by_name.push((name, ticks / 100.0)),
        }
    }
    by_name.iter().map(|(n, t)| format!("{n} {t:.2} s")).collect::<Vec<_>>().join(", ")
}

/// One drain: the subscriber connects to its queued session; time until it has N.
fn drain_sub(b: &Bench, round: usize) -> Option<Duration> {
    let out = b.dir.join(format!("drain-{round}.out"));
    let t = Instant::now();
    let mut s = Guard(b.sub("bench-sub", &["-C", &b.n.to_string()], &out));
    let got = watch(t, Some(&mut s.0), None, 0, b.deadline()).0;
    if got.is_none() {
        println!("  mosquitto_sub: {} of {} messages at the deadline", Bench::lines(&out), b.n);
    }
    got
}

/// One drain: the service starts on its queued session; time until N rows are committed.
fn drain_ml(b: &Bench, round: usize) -> Option<Duration> {
    let db = b.dir.join(format!("drain-{round}.db"));
    let http = free_port();
    let t = Instant::now();
    let mut svc = b.serve(&db, "bench-ml", http);
    let got = watch(t, None, Some(&db), b.n as i64, b.deadline()).1;
    if got.is_none() {
        println!("  meterlink-serve: {} of {} telegrams at the deadline", rows(&db), b.n);
    }
    settle();
    println!("  meterlink-serve /metrics: {}; CPU by thread: {}", metrics(http), thread_cpu(svc.0.id()));
    term(&mut svc.0);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    got
}

/// Drain rounds, the order alternating: mosquitto_sub first in odd rounds.
fn drain_rounds(b: &Bench, rounds: usize) {
    for r in 1..=rounds {
        let p = b.publish_all(&format!("bench-gw-{r}"));
        println!("drain round {r}: {} messages queued for both sessions in {:.2} s ({:.0}/s into the broker)", b.n, p.elapsed.as_secs_f64(), rate(b.n, p.elapsed));
        let (sub, ml) = if r % 2 == 1 {
            let s = drain_sub(b, r);
            (s, drain_ml(b, r))
        } else {
            let m = drain_ml(b, r);
            (drain_sub(b, r), m)
        };
        let first = if r % 2 == 1 { "mosquitto_sub" } else { "meterlink-serve" };
        match (sub, ml) {
            (Some(s), Some(m)) => println!(
                "drain round {r} ({first} first): mosquitto_sub {} ({:.0}/s), meterlink-serve {} ({:.0}/s): {:.1} %",
                secs(sub), rate(b.n, s), secs(ml), rate(b.n, m), 100.0 * s.as_secs_f64() / m.as_secs_f64()
            ),
            _ => println!("drain round {r}: mosquitto_sub {}, meterlink-serve {}", secs(sub), secs(ml)),
        }
    }
}

/// `k` publishers (connections of their own) sharing the N messages, started at once.
fn live_publishers(b: &Bench, k: usize) -> Vec<std::thread::JoinHandle<Published>> {
    let k = k.max(1);
    let (port, deadline) = (b.port, b.deadline());
    (0..k)
        .map(|j| {
            let part: Vec<(String, String)> = b.msgs.iter().skip(j).step_by(k).cloned().collect();
            std::thread::spawn(move || publish(port, &format!("bench-gw-live-{j}"), part.len(), part.into_iter(), 0.0, deadline))
        })
        .collect()
}

/// Live: both subscribed, the publisher at full speed; when each had everything.
fn live(b: &Bench) {
    let (db, http) = (b.dir.join("live.db"), free_port());
    let mut svc = b.serve_ready(&db, "bench-ml", http);
    let out = b.dir.join("live.out");
    let mut s = Guard(b.sub("bench-sub", &["-C", &b.n.to_string()], &out));
    std::thread::sleep(Duration::from_secs(1));
    let t = Instant::now();
    let publishers = live_publishers(b, env_or("E2E_PUBLISHERS", 1));
    let (sd, md) = watch(t, Some(&mut s.0), Some(&db), b.n as i64, b.deadline());
    let done: Vec<Published> = publishers.into_iter().map(|p| p.join().unwrap()).collect();
    let p = Published { acked: done.iter().map(|p| p.acked).sum(), elapsed: done.iter().map(|p| p.elapsed).max().unwrap_or_default() };
    println!(
        "live: publisher {} PUBACKs in {:.2} s ({:.0}/s); mosquitto_sub {} of {} in {}; meterlink-serve {} in {}",
        p.acked, p.elapsed.as_secs_f64(), rate(p.acked, p.elapsed), Bench::lines(&out), b.n, secs(sd), rows(&db), secs(md)
    );
    if let (Some(sd), Some(md)) = (sd, md) {
        println!("live rates: publisher {:.0}/s, mosquitto_sub {:.0}/s, meterlink-serve {:.0}/s ({:.1} % of mosquitto_sub)", rate(p.acked, p.elapsed), rate(b.n, sd), rate(b.n, md), 100.0 * sd.as_secs_f64() / md.as_secs_f64());
    }
    settle();
    println!("  meterlink-serve /metrics: {}; CPU by thread: {}", metrics(http), thread_cpu(svc.0.id()));
    term(&mut svc.0);
}

/// Issue 15 §4: N distinct telegrams published while the service runs (persistent session on
/// mosquitto in its own process), SIGKILL at a random moment, restart, run until done; every
/// telegram stored exactly once.
fn kill9(b: &Bench) {
    let (db, http) = (b.dir.join("kill9.db"), free_port());
    let mut svc = b.serve_ready(&db, "bench-ml-kill9", http);
    let t = Instant::now();
    let (port, n, deadline) = (b.port, b.n, b.deadline());
    let publisher = std::thread::spawn(move || publish(port, "bench-gw-kill9", n, (0..n as u64).map(|i| message(i, T0 + i as i64)), 0.0, deadline));
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    let at = (b.n / 10 + seed % (b.n * 8 / 10)) as i64;
    if watch(t, None, Some(&db), at, b.deadline()).1.is_none() {
        println!("kill -9: {} telegrams stored, the threshold {at} not reached by the deadline", rows(&db));
    }
    svc.0.kill().unwrap();
    svc.0.wait().unwrap();
    let (at_kill, killed) = (rows(&db), t.elapsed());
    let http = free_port();
    let _svc = b.serve(&db, "bench-ml-kill9", http);
    let p = publisher.join().unwrap();
    let done = watch(t, None, Some(&db), b.n as i64, b.deadline()).1;
    std::thread::sleep(Duration::from_secs(3));
    println!("kill -9: SIGKILL after {at_kill} of {} telegrams at {:.1} s; publisher {} PUBACKs in {:.1} s; all stored at {}", b.n, killed.as_secs_f64(), p.acked, p.elapsed.as_secs_f64(), secs(done));
    println!("  restarted meterlink-serve /metrics: {}", metrics(http));
    let [tg, fr, rc, rd, rj] = ["telegrams", "DISTINCT frame) FROM telegrams", "receptions", "readings", "rejected"].map(|t| {
        let q = if t.contains(' ') { format!("SELECT COUNT({t}") } else { format!("SELECT COUNT(*) FROM {t}") };
        one(&db, &q)
    });
    println!("kill -9 result: telegrams {tg} (distinct frames {fr}), receptions {rc}, readings {rd}, rejected {rj}");
    let n = b.n as i64;
    assert!(tg == n && fr == n && rc == n && rd == 3 * n && rj == 0, "not exactly once");
    println!("kill -9: exactly once (telegrams = receptions = {n}, readings = 3 per telegram, 0 rejected)");
}

/// The soak's load generator: `E2E_RATE`/s for `E2E_SECS` s to `E2E_PORT`, wall-clock times.
fn publish_mode() {
    let (port, r, s): (u16, f64, u64) = (env_or("E2E_PORT", 1883), env_or("E2E_RATE", 5000.0), env_or("E2E_SECS", 3600));
    let n = (r * s as f64) as usize;
    let base: u64 = env_or("E2E_FIRST", 0);
    let msgs = (base..base + n as u64).map(|i| message(i, now_ms()));
    let p = publish(port, "soak-gw", n, msgs, r, Duration::from_secs(s + 120));
    println!("publisher: {} of {n} PUBACKs in {:.1} s ({:.0}/s)", p.acked, p.elapsed.as_secs_f64(), rate(p.acked, p.elapsed));
}

fn main() {
    let mode: String = env_or("E2E_MODE", "compare".to_string());
    if mode == "publish" {
        return publish_mode();
    }
    if ["mosquitto", "mosquitto_sub", "curl"].iter().any(|b| Command::new(b).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err()) {
        println!("SKIP: mosquitto, mosquitto_sub or curl not on PATH");
        return;
    }
    let n: usize = env_or("E2E_N", 200_000);
    let (b, broker) = Bench::new(n, env_or("E2E_INFLIGHT", 1000), mode != "kill9");
    println!("E2E MQTT QoS 1, {n} mode-5 telegrams (3 records, {METERS} meters, 8 gateway topics), mosquitto (max_inflight_messages {}), SQLite store", env_or("E2E_INFLIGHT", 1000u32));
    if mode == "compare" {
        b.sessions("bench-sub", "bench-ml");
        drain_rounds(&b, env_or("E2E_ROUNDS", 3));
        live(&b);
    }
    if mode == "kill9" || (mode == "compare" && env_or("E2E_KILL9", 1) != 0) {
        kill9(&b);
    }
    drop(broker);
    if env_or("E2E_KEEP", 0) == 0 {
        let _ = std::fs::remove_dir_all(&b.dir);
    }
}
