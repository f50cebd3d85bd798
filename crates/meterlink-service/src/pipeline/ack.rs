//! The writer: one thread owning the store, writing each batch in one transaction and only
//! then resolving its acknowledgements (issue 15 §4, at-least-once): `Committed` after the
//! commit; on a store error the transaction rolled back and the batch is retried with
//! exponential backoff (the pipeline waits meanwhile, so the bounded queue fills and the
//! intakes wait: no buffer grows); after the last attempt every ack resolves `Failed` (MQTT
//! redelivers, HTTP answers 503) and nothing of the batch was acknowledged.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::intake::http::HealthStatus;
use crate::metrics::{CodeLabels, Metrics};
use crate::reception::AckOutcome;
use crate::store::{Store, WriteReport};

use super::batch::Pending;

/// Attempts per batch before its acks resolve `Failed`.
pub const ATTEMPTS: u32 = 6;
/// The first retry delay (doubling: 50, 100, 200, 400, 800 ms).
pub const FIRST_DELAY: Duration = Duration::from_millis(50);

/// The store's summaries (`meters`, `meter_gateways`) are flushed after this many batches...
pub const FLUSH_BATCHES: u32 = 64;
/// ...or this long after the last flush...
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// ...or when the writer has been idle this long, and at shutdown (decisions: "SQLite store
/// speed 2").
pub const FLUSH_IDLE: Duration = Duration::from_secs(1);

/// Start the writer thread; batches go in through the returned sender (capacity 1: one batch
/// is written while the next is built). `health` (`/health`) learns of every commit and failure.
/// `hooks` run after each commit and between batches (Parquet sink, per-gateway metrics,
/// retention: `crate::sink`).
/// `busy` is true while the writer commits a batch (the pipeline's group commit hands it the
/// next batch as soon as it is not).
pub fn spawn_writer(
    store: Box<dyn Store>,
    window_ms: i64,
    metrics: Arc<Metrics>,
    health: Arc<HealthStatus>,
    hooks: crate::sink::Hooks,
    busy: Arc<std::sync::atomic::AtomicBool>,
) -> (mpsc::Sender<Pending>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Pending>(1);
    let handle = std::thread::Builder::new()
        .name("meterlink-store".into())
        .spawn(move || {
            let (mut store, mut hooks) = (store, hooks);
            let mut clock = FlushClock::new();
            while let Some(p) = hooks.wait(&mut rx, store.as_mut(), clock.dirty.then_some(FLUSH_IDLE)) {
                match p {
                    Some(p) => {
                        busy.store(true, std::sync::atomic::Ordering::Release);
                        let done = commit(store.as_mut(), p, window_ms, &metrics, &health);
                        clock.dirty = true;
                        clock.batches += 1;
                        if clock.due() {
                            clock.flush(store.as_mut());
                        }
                        if let Some((batch, report)) = done {
                            hooks.committed(store.as_mut(), batch, &report);
                        }
                        busy.store(false, std::sync::atomic::Ordering::Release);
                    }
                    // Idle for FLUSH_IDLE with something unflushed.
                    None => clock.flush(store.as_mut()),
                }
            }
            clock.flush(store.as_mut());
        })
        .expect("spawn the store thread");
    (tx, handle)
}

/// When the writer flushes the store's summaries.
struct FlushClock {
    last: std::time::Instant,
    batches: u32,
    dirty: bool,
}

impl FlushClock {
    fn new() -> Self {
        FlushClock { last: std::time::Instant::now(), batches: 0, dirty: false }
    }

    /// Due after [`FLUSH_BATCHES`] batches or [`FLUSH_INTERVAL`] (an idle writer flushes after
    /// [`FLUSH_IDLE`]: see `Hooks::wait`).
    fn due(&self) -> bool {
        self.dirty && (self.batches >= FLUSH_BATCHES || self.last.elapsed() >= FLUSH_INTERVAL)
    }

    fn flush(&mut self, store: &mut dyn Store) {
        if let Err(e) = store.flush() {
            tracing::warn!(error = %e, "flushing the meters summary failed; kept for the next flush");
            return;
        }
        *self = FlushClock::new();
    }
}

/// Write one batch (with retries) and resolve its acks; the batch and the store's report when
/// it committed.
pub fn commit(store: &mut dyn Store, p: Pending, window_ms: i64, metrics: &Metrics, health: &HealthStatus) -> Option<(crate::store::Batch, WriteReport)> {
    let mut delay = FIRST_DELAY;
    for attempt in 1..=ATTEMPTS {
        match store.write(&p.batch, window_ms) {
            Ok(report) => {
                health.committed(crate::intake::files::now_ms());
                count(&p, &report, metrics);
                for a in p.acks {
                    a.resolve(AckOutcome::Committed);
                }
                return Some((p.batch, report));
            }
            Err(e) if attempt < ATTEMPTS => {
                health.store_failed();
                tracing::warn!(error = %e, attempt, "store write failed, retrying");
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                health.store_failed();
                tracing::error!(error = %e, code = e.code(), rows = p.batch.receptions.len(), "store write failed, batch not acknowledged");
            }
        }
    }
    for a in p.acks {
        a.resolve(AckOutcome::Failed);
    }
    None
}

fn count(p: &Pending, r: &WriteReport, m: &Metrics) {
    m.stored.inc_by(r.stored as u64);
    m.duplicates.inc_by(p.batch.receptions.len().saturating_sub(r.stored + r.replays) as u64);
    m.replays.inc_by(r.replays as u64);
    if r.replays > 0 {
        m.rejected.get_or_create(&CodeLabels { code: "replayed_counter".into() }).inc_by(r.replays as u64);
    }
    m.batches.inc();
    if let Some(s) = p.started {
        m.store_lag_ms.set(s.elapsed().as_millis() as i64);
    }
}
