//! WAL checkpoints off the writer's thread (SQLite store; decisions "Background checkpoints").
//!
//! SQLite's automatic checkpoint runs inside the committing call: the writer copies every page
//! the WAL holds into the database file and fsyncs both before it can start the next batch.
//! Measured on the store benchmark, one batch in six took ~145 ms instead of ~62 ms for it.
//! Instead:
//! - the writer's connection has no automatic checkpoint; a WAL hook (`sqlite3_wal_hook`)
//!   tells it how many frames the WAL holds after each of its commits;
//! - every [`CHECKPOINT_FRAMES`] of log growth it wakes a thread with a connection of its own that runs a
//!   PASSIVE checkpoint (it never blocks the writer; readers and the writer go on);
//! - a PASSIVE checkpoint cannot restart the WAL while the writer keeps appending, so past
//!   [`RESTART_FRAMES`] the writer runs a `RESTART` checkpoint itself: by then the background
//!   one has copied nearly everything, so this copies little, and the log starts over.

use std::cell::Cell;
use std::ffi::c_int;
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::hooks::Wal;
use rusqlite::Connection;

/// Frames in the WAL (≈ 4 KiB pages) after which the background checkpoint runs (32 MiB).
pub const CHECKPOINT_FRAMES: i32 = 8192;
/// Frames after which the writer restarts the log itself (128 MiB).
pub const RESTART_FRAMES: i32 = 4 * CHECKPOINT_FRAMES;

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

/// The background checkpoint thread of one database file.
pub struct Checkpointer {
    /// WAL frames when the background checkpoint was last woken (it is woken again only after
    /// another [`CHECKPOINT_FRAMES`]: pages that every batch rewrites are copied once per
    /// 32 MiB of log, not once per batch).
    woken_at: Cell<i32>,
    /// [`CHECKPOINT_FRAMES`] and [`RESTART_FRAMES`] (smaller in tests).
    limits: (i32, i32),
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Install the WAL hook on the writer's `conn` (replacing the automatic checkpoint) and
    /// start the thread with its own connection to `path`.
    pub fn start(conn: &Connection, path: &Path) -> rusqlite::Result<Self> {
        Self::with_limits(conn, path, CHECKPOINT_FRAMES, RESTART_FRAMES)
    }

    /// [`Checkpointer::start`] with other frame limits (wake every `every` frames of growth,
    /// restart past `restart`).
    pub fn with_limits(conn: &Connection, path: &Path, every: i32, restart: i32) -> rusqlite::Result<Self> {
        let reader = Connection::open(path)?;
        reader.busy_timeout(Duration::from_secs(5))?;
        conn.wal_hook(Some(on_commit));
        let (wake, rx) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("meterlink-ckpt".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    if let Err(e) = reader.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "background WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpointer { woken_at: Cell::new(0), limits: (every, restart), wake: Some(wake), thread: Some(thread) })
    }

    /// After a commit on `conn` (the writer's thread): wake the background checkpoint, or
    /// restart the log when it has grown past [`RESTART_FRAMES`].
    pub fn committed(&self, conn: &Connection) {
        let frames = WAL_FRAMES.with(Cell::get);
        if frames < self.woken_at.get() {
            // The log started over.
            self.woken_at.set(0);
        }
        let (every, restart) = self.limits;
        if frames >= restart {
            // SQLITE_BUSY (first column 1) without waiting while the background checkpoint
            // runs (sqlite3_wal_checkpoint_v2): tried again after the next commit.
            match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
                Ok(0) => {
                    WAL_FRAMES.with(|c| c.set(0));
                    self.woken_at.set(0);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL restart checkpoint failed"),
            }
        } else if frames >= self.woken_at.get() + every {
            self.woken_at.set(frames);
            if let Some(w) = &self.wake {
                // Busy: the running checkpoint will be followed by the next commit's wake-up.
                if let Err(TrySendError::Disconnected(())) = w.try_send(()) {
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
        let ck = Checkpointer::with_limits(&conn, &path, 64, 256).unwrap();
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
        // the log restarts whenever it passes 256 frames and no checkpoint is running.
        assert!(most < 1024, "{most} frames");
        drop(ck);
        let (log, done) = wal_state(&path);
        assert!(log < 1024 && done == log, "{log} frames, {done} checkpointed");
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 4000);
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
