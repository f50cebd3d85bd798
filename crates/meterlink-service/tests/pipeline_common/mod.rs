//! Shared helpers of the pipeline tests: telegrams built with the meterlink encoder, archives
//! written into temp dirs, `serve` run on a runtime of its own with a test-controlled stop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meterlink::address::{manufacturer_code, Address};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink_service::config::{Config, FileIntake};
use meterlink_service::metrics::Metrics;
use rusqlite::Connection;

/// The key of the test meters.
pub const KEY: [u8; 16] = [0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8, 0x51, 0x72, 0x89, 0x10, 0xE6, 0x6D, 0x83, 0xF8];

/// A fresh temp dir.
pub fn tempdir(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!("ml-svc-{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// BCD ID of `n` (8 digits), LSB first.
pub fn bcd_id(n: u32) -> [u8; 4] {
    let mut id = [0u8; 4];
    let mut v = n;
    for b in &mut id {
        *b = ((v % 10) as u8) | (((v / 10 % 10) as u8) << 4);
        v /= 100;
    }
    id
}

/// The 3 records of every test telegram: volume (BCD 8 digits, litres), date-time
/// 2024-01-01 12:30 (type F), error flags (02 FD 17).
pub fn records(volume_l: u32) -> Vec<u8> {
    let mut r = vec![0x0C, 0x13];
    r.extend_from_slice(&bcd_id(volume_l));
    r.extend_from_slice(&[0x04, 0x6D, 30, 12, 1 | (4 << 5), 1 | (2 << 4)]);
    r.extend_from_slice(&[0x02, 0xFD, 0x17, 0x00, 0x00]);
    r
}

/// A wM-Bus frame (format A, with CRCs) from meter `KAM <id>`: security mode 5 (no counter)
/// or 7 (AFL message counter `counter`), encrypted with `key`.
pub fn frame(id: u32, mode: u8, counter: Option<u32>, volume_l: u32, access: u8, key: [u8; 16]) -> Vec<u8> {
    let addr = Address::new(manufacturer_code(b"KAM"), bcd_id(id), 0x1B, 0x07);
    let mut b = Builder::wireless(0x44, addr, FrameFormat::A);
    b.security.mode = mode;
    b.security.message_counter = counter;
    b.access_number = access;
    b.key = Some(KeyMaterial::Aes(key));
    b.encode(&records(volume_l), &[]).unwrap()
}

/// Hex, upper case.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A key file giving `key` to meters `ids`.
pub fn key_file(path: &Path, ids: &[u32], key: [u8; 16]) {
    let mut s = String::from("manufacturer,id,key\n");
    for id in ids {
        s.push_str(&format!("KAM,{id:08},{}\n", hex(&key)));
    }
    std::fs::write(path, s).unwrap();
}

/// A configuration with no network intake, SQLite at `db`, the given file intakes and keys.
pub fn config(db: &Path, files: Vec<FileIntake>, keys: Vec<PathBuf>) -> Config {
    let mut c = Config::default();
    c.mqtt.clear();
    c.http.clear();
    c.broker.embedded = false;
    c.store.path = db.to_path_buf();
    c.files = files;
    c.keys.files = keys;
    c
}

/// A file intake named `name`.
pub fn file_intake(name: &str, path: &Path, once: bool) -> FileIntake {
    FileIntake { name: name.into(), path: path.to_path_buf(), format: "auto".into(), once }
}

/// Run `serve` until every `once` intake is read and the queue drained.
pub fn serve_once(c: Config) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(meterlink_service::pipeline::serve_with(c, Arc::new(Metrics::default()), std::future::pending())).unwrap();
}

/// A running service, stopped through [`Running::stop`].
pub struct Running {
    /// Its metrics.
    pub metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Start `c` on its own thread.
    pub fn start(c: Config) -> Self {
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let m = metrics.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(meterlink_service::pipeline::serve_with(c, m, async move {
                let _ = rx.await;
            }))
            .unwrap();
        });
        Running { metrics, stop: Some(tx), thread: Some(thread) }
    }

    /// Wait until `f` holds (at most 30 s).
    pub fn wait(&self, what: &str, f: impl Fn(&Metrics) -> bool) {
        let t = Instant::now();
        while !f(&self.metrics) {
            assert!(t.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Signal shutdown and wait for `serve` to return.
    pub fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }
}

/// `SELECT COUNT(*) FROM <table>`.
pub fn count(db: &Path, table: &str) -> i64 {
    Connection::open(db).unwrap().query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
}

/// Every `code` of `rejected`, sorted.
pub fn rejected_codes(db: &Path) -> Vec<String> {
    let c = Connection::open(db).unwrap();
    let mut s = c.prepare("SELECT code FROM rejected ORDER BY code").unwrap();
    s.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// A tiny deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
