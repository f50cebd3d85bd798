//! End-to-end benchmark of issue 15 §5: MQTT QoS 1, gateway publish → committed rows in SQLite
//! (`meterlink-serve`), against `mosquitto_sub` receiving the same messages from the same
//! mosquitto broker in the same run; then a kill -9 at a random moment and a restart, checked
//! for exactly-once storage. Numbers are printed, never asserted.
//!
//! Two ways of measuring each subscriber:
//! - live: the subscriber is connected, `mosquitto_pub -q 1 -l` publishes N lines; time from the
//!   first publish until the subscriber has everything (the publisher may bound both);
//! - drain: N messages wait in the subscriber's persistent session, the subscriber connects;
//!   time until it has everything (the subscriber's own rate).
//!
//! `cargo bench -p meterlink-service --bench bench_service_e2e` (N from `E2E_N`, default
//! 100,000). Needs `mosquitto`, `mosquitto_pub`, `mosquitto_sub` on PATH (skipped otherwise).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;

const BIN: &str = env!("CARGO_BIN_EXE_meterlink-serve");
const KEY: [u8; 16] = [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8];
const METERS: u32 = 20_000;

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// Mode-5 telegram `i` with 3 records (volume, date-time, error flags).
fn telegram(i: u32) -> Vec<u8> {
    let addr = Address::new(manufacturer_code(b"KAM"), bcd(1 + i % METERS), 0x1B, 0x07);
    let mut b = Builder::wireless(0x44, addr, FrameFormat::A);
    b.security.mode = 5;
    b.access_number = (i % 256) as u8;
    b.key = Some(KeyMaterial::Aes(KEY));
    let mut r = vec![0x0C, 0x13];
    r.extend_from_slice(&bcd(i));
    r.extend_from_slice(&[0x04, 0x6D, 30, 12, 1 | (4 << 5), 1 | (2 << 4), 0x02, 0xFD, 0x17, 0, 0]);
    b.encode(&r, &[]).unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(db: &Path) -> i64 {
    rusqlite::Connection::open(db).ok().and_then(|c| c.query_row("SELECT COUNT(*) FROM telegrams", [], |r| r.get(0)).ok()).unwrap_or(0)
}

fn wait_count(db: &Path, n: i64) {
    while count(db) < n {
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Bench {
    dir: PathBuf,
    port: u16,
    n: usize,
    lines: PathBuf,
    keys: PathBuf,
}

impl Bench {
    /// `mosquitto_pub -q 1 -l` of the N lines (waits until it is done).
    fn publish(&self) -> Duration {
        let t = Instant::now();
        let f = std::fs::File::open(&self.lines).unwrap();
        let ok = Command::new("mosquitto_pub").args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-q", "1", "-t", "telegrams/gw-1", "-i", "bench-gw", "-l"]).stdin(f).status().unwrap();
        assert!(ok.success());
        t.elapsed()
    }

    fn sub(&self, id: &str, extra: &[&str]) -> Command {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-p", &self.port.to_string(), "-h", "127.0.0.1", "-q", "1", "-t", "telegrams/#", "-c", "-i", id]).args(extra).stdout(Stdio::null());
        c
    }

    fn serve(&self, db: &Path, client: &str) -> Guard {
        let cfg = self.dir.join(format!("{client}.toml"));
        let text = format!(
            "http = []\n[broker]\nembedded = false\n[keys]\nfiles = [{:?}]\n[store]\npath = {db:?}\n[[mqtt]]\nurl = \"mqtt://127.0.0.1:{}\"\nclient_id = \"{client}\"\n",
            self.keys, self.port
        );
        std::fs::write(&cfg, text).unwrap();
        Guard(Command::new(BIN).arg(&cfg).stderr(Stdio::null()).spawn().unwrap())
    }

    fn rate(&self, d: Duration) -> f64 {
        self.n as f64 / d.as_secs_f64()
    }

    /// mosquitto_sub, live and drained.
    fn mosquitto_sub(&self) -> (f64, f64) {
        let n = self.n.to_string();
        let mut live = self.sub("bench-sub-live", &["-C", &n]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let t = Instant::now();
        self.publish();
        live.wait().unwrap();
        let live = t.elapsed();
        assert!(self.sub("bench-sub-drain", &["-E"]).status().unwrap().success());
        self.publish();
        let t = Instant::now();
        assert!(self.sub("bench-sub-drain", &["-C", &n]).status().unwrap().success());
        (self.rate(live), self.rate(t.elapsed()))
    }

    /// meterlink-serve into SQLite, live and drained.
    fn meterlink(&self) -> (f64, f64) {
        let db = self.dir.join("live.db");
        let svc = self.serve(&db, "bench-ml-live");
        std::thread::sleep(Duration::from_millis(1500));
        let t = Instant::now();
        self.publish();
        wait_count(&db, self.n as i64);
        let live = t.elapsed();
        drop(svc);
        let db = self.dir.join("drain.db");
        let mut svc = self.serve(&db, "bench-ml-drain");
        std::thread::sleep(Duration::from_millis(1500));
        term(&mut svc.0);
        self.publish();
        let t = Instant::now();
        let _svc = self.serve(&db, "bench-ml-drain");
        wait_count(&db, self.n as i64);
        (self.rate(live), self.rate(t.elapsed()))
    }

    /// Publish while the service runs, SIGKILL at a random moment, restart, check.
    fn kill9(&self) {
        let db = self.dir.join("kill9.db");
        let mut svc = self.serve(&db, "bench-ml-kill9");
        std::thread::sleep(Duration::from_millis(1500));
        let t = Instant::now();
        let lines = self.lines.clone();
        let (port, n) = (self.port, self.n);
        let publisher = std::thread::spawn(move || Bench { dir: PathBuf::new(), port, n, lines, keys: PathBuf::new() }.publish());
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
        let at = (self.n / 10 + seed % (self.n * 8 / 10)) as i64;
        wait_count(&db, at);
        svc.0.kill().unwrap();
        svc.0.wait().unwrap();
        let at_kill = count(&db);
        let _svc = self.serve(&db, "bench-ml-kill9");
        publisher.join().unwrap();
        wait_count(&db, self.n as i64);
        let total = t.elapsed();
        std::thread::sleep(Duration::from_secs(3));
        let c = rusqlite::Connection::open(&db).unwrap();
        let one = |q: &str| -> i64 { c.query_row(q, [], |r| r.get(0)).unwrap() };
        println!(
            "kill -9 after {at_kill} of {} telegrams, restart: telegrams {} (distinct frames {}), receptions {}, readings {}, rejected {}; {:.1} s in all",
            self.n,
            one("SELECT COUNT(*) FROM telegrams"),
            one("SELECT COUNT(DISTINCT frame) FROM telegrams"),
            one("SELECT COUNT(*) FROM receptions"),
            one("SELECT COUNT(*) FROM readings"),
            one("SELECT COUNT(*) FROM rejected"),
            total.as_secs_f64()
        );
    }
}

fn term(c: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
    let _ = c.wait();
}

fn main() {
    if ["mosquitto", "mosquitto_pub", "mosquitto_sub"].iter().any(|b| Command::new(b).arg("--help").stdout(Stdio::null()).stderr(Stdio::null()).status().is_err()) {
        println!("SKIP: mosquitto, mosquitto_pub or mosquitto_sub not on PATH");
        return;
    }
    let n: usize = std::env::var("E2E_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("ml-bench-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    // Unlimited queues for persistent sessions: the drain phases and the kill -9 need them.
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100\npersistence false\n")).unwrap();
    let _broker = Guard(Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    wait_port(port);
    let keys = dir.join("keys.csv");
    let mut k = String::from("manufacturer,id,key\n");
    for id in 1..=METERS {
        k.push_str(&format!("KAM,{id:08},{}\n", hex(&KEY)));
    }
    std::fs::write(&keys, k).unwrap();
    let lines = dir.join("lines.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&lines).unwrap());
    let t0 = 1_760_000_000_000i64;
    for i in 0..n as u32 {
        writeln!(w, r#"{{"telegram":"{}","gateway":"gw-{}","time":{}}}"#, hex(&telegram(i)), i % 8, t0 + i64::from(i)).unwrap();
    }
    drop(w);
    let b = Bench { dir: dir.clone(), port, n, lines, keys };
    let (sub_live, sub_drain) = b.mosquitto_sub();
    let (ml_live, ml_drain) = b.meterlink();
    println!("E2E MQTT QoS 1, {n} mode-5 telegrams (3 records), mosquitto broker, SQLite store");
    println!("live  (publish -> all received/committed): mosquitto_sub {sub_live:>9.0}/s  meterlink-serve {ml_live:>9.0}/s  ({:.0} %)", 100.0 * ml_live / sub_live);
    println!("drain (queued session -> all received/committed): mosquitto_sub {sub_drain:>9.0}/s  meterlink-serve {ml_drain:>9.0}/s  ({:.0} %)", 100.0 * ml_drain / sub_drain);
    if std::env::var("E2E_KILL9").map_or(true, |v| v != "0") {
        b.kill9();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
