//! WAL checkpoints off the writer's thread (SQLite store; decisions "Background checkpoints").
//!
//! SQLite's automatic checkpoint runs inside the committing call: the writer copies every page
//! the WAL holds into the database file and fsyncs both before it can start the next batch.
//! Measured on the store benchmark, one batch in six took ~145 ms instead of ~62 ms for it.
//! Instead:
//! - the writer's connection has no automatic checkpoint; a WAL hook (`sqlite3_wal_hook`)
//!   tells it how many frames the WAL holds after each of its commits;
//! - every [`CHECKPOINT_FRAMES`] of log growth past what was last copied it wakes a thread with
//!   a connection of its own that runs a PASSIVE checkpoint (it never blocks the writer;
//!   readers and the writer go on) and reports how far it copied;
//! - a PASSIVE checkpoint cannot restart the WAL while the writer keeps appending, so once the
//!   log holds [`RESTART_FRAMES`] the writer runs a `RESTART` checkpoint itself, at the first
//!   commit after which the background one is idle and has copied all but
//!   [`CHECKPOINT_FRAMES`]: the restart then copies (and fsyncs) little; past
//!   [`HARD_RESTART_FRAMES`] it restarts whatever is left (a bound on the log's size).

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::Connection;

/// Frames in the WAL (≈ 4 KiB pages) not yet copied after which the background checkpoint
/// runs (16 MiB).
pub const CHECKPOINT_FRAMES: i32 = 4096;
/// Frames after which the writer restarts the log once little is left to copy (64 MiB).
pub const RESTART_FRAMES: i32 = 4 * CHECKPOINT_FRAMES;
/// Frames after which the writer restarts the log whatever is left (256 MiB).
pub const HARD_RESTART_FRAMES: i32 = 16 * CHECKPOINT_FRAMES;

thread_local! {
    /// Frames in the WAL after the last commit on this thread's connection (the WAL hook has
    /// no user data that rusqlite lets a closure own; the writer owns its connection on one
    /// thread, so a thread-local is exact).
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

fn on_commit(_wal: &Wal, frames: c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.with(|c| c.set(frames));
    Ok(())
}

/// What the background thread reports to the writer.
#[derive(Default)]
struct Progress {
    /// A PASSIVE checkpoint is running (woken and not finished).
    running: AtomicBool,
    /// Frames of the log its last checkpoint copied (`-1`: it failed).
    copied: AtomicI32,
}

/// The background checkpoint thread of one database file.
pub struct Checkpointer {
    /// [`CHECKPOINT_FRAMES`], [`RESTART_FRAMES`], [`HARD_RESTART_FRAMES`] (smaller in tests).
    limits: (i32, i32, i32),
    progress: Arc<Progress>,
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Install the WAL hook on the writer's `conn` (replacing the automatic checkpoint) and
    /// start the thread with its own connection to `path`.
    pub fn start(conn: &Connection, path: &Path) -> rusqlite::Result<Self> {
        Self::with_limits(conn, path, CHECKPOINT_FRAMES, RESTART_FRAMES, HARD_RESTART_FRAMES)
    }

    /// [`Checkpointer::start`] with other frame limits (wake when `every` frames are not yet
    /// copied, restart past `restart` when little is left, past `hard` whatever is left).
    pub fn with_limits(conn: &Connection, path: &Path, every: i32, restart: i32, hard: i32) -> rusqlite::Result<Self> {
        let reader = Connection::open(path)?;
        reader.busy_timeout(super::sqlite::BUSY_TIMEOUT)?;
        conn.wal_hook(Some(on_commit));
        let (wake, rx) = sync_channel::<()>(1);
        let progress = Arc::new(Progress::default());
        let report = progress.clone();
        let thread = std::thread::Builder::new()
            .name("meterlink-ckpt".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // (busy, frames in the log, frames copied): sqlite3_wal_checkpoint_v2.
                    let done = reader.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(2));
                    let copied = done.as_ref().map_or(-1, |&c| c as i32);
                    if let Err(e) = done {
                        tracing::warn!(error = %e, "background WAL checkpoint failed");
                    }
                    report.copied.store(copied, Ordering::Release);
                    report.running.store(false, Ordering::Release);
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer { limits: (every, restart, hard), progress, wake: Some(wake), thread: Some(thread) })
    }

    /// After a commit on `conn` (the writer's thread): restart the log when it is long and the
    /// background checkpoint left little to copy (or it is too long), else wake the background
    /// checkpoint when enough is not yet copied.
    pub fn committed(&self, conn: &Connection) {
        let frames = WAL_FRAMES.with(Cell::get);
        let (every, restart, hard) = self.limits;
        let running = self.progress.running.load(Ordering::Acquire);
        // Frames the log holds that no checkpoint copied (a count from before the log started
        // over, or a failed checkpoint, counts as nothing copied).
        let copied = self.progress.copied.load(Ordering::Acquire);
        let left = if (0..=frames).contains(&copied) { frames - copied } else { frames };
        if frames >= hard || (frames >= restart && !running && left <= every) {
            // SQLITE_BUSY (first column 1) without waiting while the background checkpoint
            // runs (sqlite3_wal_checkpoint_v2): tried again after the next commit.
            match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
                Ok(0) => {
                    WAL_FRAMES.with(|c| c.set(0));
                    self.progress.copied.store(0, Ordering::Release);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL restart checkpoint failed"),
            }
        } else if !running && left >= every {
            if let Some(w) = &self.wake {
                self.progress.running.store(true, Ordering::Release);
                if let Err(TrySendError::Disconnected(())) = w.try_send(()) {
                    self.progress.running.store(false, Ordering::Release);
                    tracing::warn!("background WAL checkpoint thread is gone");
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Frames in the WAL and frames checkpointed, from a third connection.
    fn wal_state(path: &Path) -> (i64, i64) {
        let c = Connection::open(path).unwrap();
        c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?))).unwrap()
    }

    #[test]
    fn the_log_is_checkpointed_in_the_background_and_restarts() {
        let dir = std::env::temp_dir().join(format!("ml-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let mut conn = Connection::open(&path).unwrap();
        // As the store's connection: RESTART waits for a running background checkpoint.
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").unwrap();
        let ck = Checkpointer::with_limits(&conn, &path, 64, 256, 1024).unwrap();
        let mut most = 0;
        for batch in 0..200 {
            let tx = conn.transaction().unwrap();
            for i in 0..20 {
                tx.execute("INSERT INTO t VALUES (?1, zeroblob(1000))", [batch * 20 + i]).unwrap();
            }
            tx.commit().unwrap();
            most = most.max(WAL_FRAMES.with(Cell::get));
            ck.committed(&conn);
            // A batch takes ~60 ms in the service; here a fraction of a millisecond: leave
            // the background checkpoint time to finish, as real batches do.
            std::thread::sleep(Duration::from_millis(1));
        }
        // Without the restart the log would hold every page written (4,000+ frames); with it
        // the log restarts once it passes 256 frames with at most 64 left to copy, and never
        // holds more than 1,024 plus one batch.
        assert!(most < 1024 + 64, "{most} frames");
        drop(ck);
        let (log, done) = wal_state(&path);
        assert!(log < 1024 && done == log, "{log} frames, {done} checkpointed");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 4000);
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
