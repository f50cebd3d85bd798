//! A throwaway PostgreSQL cluster for tests and benchmarks (issue 15 §3: "tests start real
//! servers"): `initdb` into a temp directory owned by an unprivileged user (initdb refuses root),
//! `pg_ctl start` on a free loopback port with the socket in that directory, one database per
//! caller; stopped (`pg_ctl stop -m immediate`) and removed when the [`Cluster`] drops.
//!
//! `MLPG_BIN` overrides the binary directory (default: the newest `/usr/lib/postgresql/*/bin`
//! holding `initdb`, then `initdb` on `PATH`). When none can be started, [`Cluster::start`]
//! returns the reason and the test prints it and skips.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Settings of the test clusters: throwaway data, so no fsync (tests assert behaviour, never
/// speed).
pub const TEST_SETTINGS: &[&str] =
    &["fsync=off", "full_page_writes=off", "max_connections=50", "shared_buffers=256MB", "max_wal_size=4GB"];

/// Settings of the benchmark cluster: **durable** (fsync, full-page writes and synchronous
/// commit at their defaults, as the service acknowledges after commit), sized for a bulk-ingest
/// head-end as an operator would size it: a shared-buffer pool holding the hot indexes, WAL
/// buffers large enough for one batch, checkpoints spaced by size rather than every 5 min
/// (fewer full-page images), WAL compressed (full-page images shrink), autovacuum kept up with
/// the update-heavy `meters` / `meter_gateways`.
pub const BENCH_SETTINGS: &[&str] = &[
    "max_connections=50",
    "shared_buffers=1GB",
    "wal_buffers=64MB",
    "max_wal_size=8GB",
    "checkpoint_timeout=30min",
    "checkpoint_completion_target=0.9",
    "wal_compression=lz4",
    "autovacuum_naptime=10s",
];

/// A running cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    as_user: Option<&'static str>,
    next_db: AtomicUsize,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("MLPG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop().or_else(|| {
        let out = Command::new("sh").args(["-c", "command -v initdb"]).output().ok()?;
        let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        p.parent().map(Path::to_path_buf)
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

impl Cluster {
    /// Start a test cluster ([`TEST_SETTINGS`]), or say why it cannot be started.
    pub fn start() -> Result<Cluster, String> {
        Self::start_with(TEST_SETTINGS)
    }

    /// Start a cluster with these `name=value` server settings, or say why it cannot.
    pub fn start_with(settings: &[&str]) -> Result<Cluster, String> {
        let bin = bin_dir().ok_or("no PostgreSQL server binaries (initdb) found")?;
        let as_user = is_root().then_some("nobody");
        let dir = std::env::temp_dir().join(format!("mlpg-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(user) = as_user {
            run(Command::new("chown").args([user, dir.to_str().unwrap()]))?;
        }
        // Ports outside the ephemeral range (`tests/ports`; the including crate declares it).
        let port = super::ports::free_port();
        let mut c = Cluster { dir, bin, port, as_user, next_db: AtomicUsize::new(0) };
        c.init()?;
        // A port taken between the check and the server's bind: another one.
        let mut attempt = 0;
        loop {
            match c.start_server(settings) {
                Err(e) if e.contains("already in use") && attempt < 3 => {
                    attempt += 1;
                    c.port = super::ports::free_port();
                }
                r => return r.map(|()| c),
            }
        }
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn init(&mut self) -> Result<(), String> {
        let data = self.dir.join("data");
        run(self.command("initdb").arg("-D").arg(&data).args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]))
    }

    fn start_server(&mut self, settings: &[&str]) -> Result<(), String> {
        let data = self.dir.join("data");
        let mut opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        for s in settings {
            opts.push_str(" -c ");
            opts.push_str(s);
        }
        let log = self.dir.join("log");
        run(self.command("pg_ctl").arg("-D").arg(&data).arg("-l").arg(&log).args(["-o", &opts, "-w", "-t", "60", "start"]))
            .map_err(|e| format!("{e}; log: {}", std::fs::read_to_string(&log).unwrap_or_default()))
    }

    /// A connection string for a new, empty database of its own.
    pub fn new_database(&self) -> String {
        let name = format!("t{}", self.next_db.fetch_add(1, Ordering::SeqCst));
        let out = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-q", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .expect("psql");
        assert!(out.status.success(), "CREATE DATABASE: {}", String::from_utf8_lossy(&out.stderr));
        self.url(&name)
    }

    /// The server log so far (plans logged by `auto_explain`, errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The connection string of a database.
    pub fn url(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname={db}", self.port)
    }
}

fn unique() -> usize {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "-w", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start a test cluster or print why not (the caller then returns: a skip with a clear reason).
pub fn cluster_or_skip(test: &str) -> Option<Cluster> {
    cluster_with_or_skip(test, TEST_SETTINGS)
}

/// [`cluster_or_skip`] with these server settings.
pub fn cluster_with_or_skip(test: &str, settings: &[&str]) -> Option<Cluster> {
    match Cluster::start_with(settings) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("SKIPPED {test}: PostgreSQL cannot be started here: {e}");
            None
        }
    }
}
