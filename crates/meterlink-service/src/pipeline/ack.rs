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

/// Start the writer thread; batches go in through the returned sender (capacity 1: one batch
/// is written while the next is built). `health` (`/health`) learns of every commit and failure.
pub fn spawn_writer(store: Box<dyn Store>, window_ms: i64, metrics: Arc<Metrics>, health: Arc<HealthStatus>) -> (mpsc::Sender<Pending>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Pending>(1);
    let handle = std::thread::Builder::new()
        .name("meterlink-store".into())
        .spawn(move || {
            let mut store = store;
            loop {
                let p = match rx.try_recv() {
                    Ok(p) => p,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // Idle: the store's deferred summaries (`Store::flush`) go out before
                        // waiting (decisions "Deferred summaries"); under load a batch is waiting.
                        flush(store.as_mut());
                        match rx.blocking_recv() {
                            Some(p) => p,
                            None => break,
                        }
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                };
                commit(store.as_mut(), p, window_ms, &metrics, &health);
            }
            flush(store.as_mut());
        })
        .expect("spawn the store thread");
    (tx, handle)
}

/// `Store::flush`, a failure logged (the summaries stay in memory for the next flush).
fn flush(store: &mut dyn Store) {
    if let Err(e) = store.flush() {
        tracing::warn!(error = %e, "store summary flush failed");
    }
}

/// Write one batch (with retries) and resolve its acks.
pub fn commit(store: &mut dyn Store, p: Pending, window_ms: i64, metrics: &Metrics, health: &HealthStatus) {
    let mut delay = FIRST_DELAY;
    for attempt in 1..=ATTEMPTS {
        match store.write(&p.batch, window_ms) {
            Ok(report) => {
                health.committed(crate::intake::files::now_ms());
                count(&p, &report, metrics);
                for a in p.acks {
                    a.resolve(AckOutcome::Committed);
                }
                return;
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
