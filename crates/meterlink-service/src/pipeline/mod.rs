//! The pipeline: receptions in, batches of rows out (issue 15 §2). One task takes receptions
//! from the bounded queue, decodes them with the key store (hot-reloaded), gives each its dedup
//! key (in-memory window across gateways), gathers a batch by size (`batch_max` rows) or time
//! (`batch_interval_ms`), and hands it to the writer thread ([`ack`]), which commits it in one
//! transaction and then acknowledges its receptions. Decoding of one batch runs while the
//! writer commits the previous one.
//!
//! Shutdown (SIGINT/SIGTERM): the intakes are told to stop, the queue is drained, the last batch
//! is committed and acknowledged, then `serve` returns.

pub mod ack;
pub mod batch;
pub mod decode;
pub mod dedup;
pub mod intakes;
pub mod keys;
pub mod silence;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meterlink::keys::KeyStore;
use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::error::ServiceError;
use crate::metrics::{CodeLabels, Metrics};
use crate::reception::Reception;
use crate::store::{self, RejectedRow, Store};

use batch::{raw_hash, Added, Batcher, Pending};
use decode::{Decoder, Identity};
use dedup::FrameWindow;
use keys::KeyFiles;

/// Start every configured component and run until a shutdown signal (or, when every intake
/// has finished — files with `once = true` — until the queue is drained).
pub async fn serve(config: Config) -> Result<(), ServiceError> {
    serve_with(config, Arc::new(Metrics::default()), shutdown_signal()).await
}

/// [`serve`] with the metrics registry the HTTP side renders, until `shutdown` completes
/// (SIGINT/SIGTERM for [`serve`]; tests pass their own).
pub async fn serve_with(config: Config, metrics: Arc<Metrics>, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServiceError> {
    // Opened and migrated on a blocking thread: the PostgreSQL store runs a runtime of its own
    // (it must not be created, used or dropped inside an async task).
    let c = config.clone();
    let store = tokio::task::spawn_blocking(move || -> Result<Box<dyn Store>, ServiceError> {
        let mut store = open_store(&c)?;
        store.migrate()?;
        Ok(store)
    })
    .await
    .map_err(|e| ServiceError::Io(format!("store thread: {e}")))??;
    serve_with_store(config, metrics, shutdown, store).await
}

/// [`serve_with`] on a store already opened and migrated (tests bring their own). Returns an
/// error when the writer thread died (a panic in the store): the batch it held was not
/// acknowledged, the intakes are stopped, and a supervisor restarting the process gets the
/// unacknowledged messages redelivered.
pub async fn serve_with_store(config: Config, metrics: Arc<Metrics>, shutdown: impl std::future::Future<Output = ()>, store: Box<dyn Store>) -> Result<(), ServiceError> {
    // The writer thread's hooks (Parquet sink thread, retention, per-gateway metrics).
    let hooks = crate::sink::Hooks::new(&config, metrics.clone())?;
    // The writer thread owns the store from here on (on an early error below, its channel
    // closes and the store is dropped on that thread).
    let health = Arc::new(crate::intake::http::HealthStatus::default());
    let window_ms = (config.dedup.window_s * 1000.0).round() as i64;
    let writer_busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (writer_tx, writer) = ack::spawn_writer(store, window_ms, metrics.clone(), health.clone(), hooks, writer_busy.clone());
    let keys = KeyFiles::load(config.keys.files.clone())?;
    let (sink, queue) = mpsc::channel(config.service.queue_capacity);
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = intakes::Shared { sink, stop: stop_rx, metrics: metrics.clone(), health };
    let handles = intakes::start(&config, &shared).await?;
    drop(shared);
    let mut p = Pipeline::new(&config, keys, metrics, writer_tx, writer_busy);
    p.run(queue, stop_tx, shutdown).await;
    drop(p);
    for h in handles {
        let _ = h.await;
    }
    let joined = tokio::task::spawn_blocking(move || writer.join()).await;
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(panic)) => {
            let what = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            Err(ServiceError::Store(format!("the store thread panicked: {what}")))
        }
        Err(e) => Err(ServiceError::Io(format!("store thread: {e}"))),
    }
}

/// The configured store, opened (not migrated).
pub fn open_store(config: &Config) -> Result<Box<dyn Store>, ServiceError> {
    match config.store.kind.as_str() {
        "sqlite" => Ok(Box::new(store::sqlite::SqliteStore::open(&config.store.path)?)),
        _ => connect_postgres(config.store.url.as_deref().unwrap_or_default()),
    }
}

/// `store.kind = "postgres"`: [`store::postgres::PgStore`] (call from a blocking thread: it
/// runs a runtime of its own).
fn connect_postgres(url: &str) -> Result<Box<dyn Store>, ServiceError> {
    Ok(Box::new(store::postgres::PgStore::connect(url)?))
}

/// The pipeline task's state.
struct Pipeline {
    decoder: Decoder,
    keys: KeyFiles,
    current: Arc<KeyStore>,
    window: FrameWindow,
    window_ms: i64,
    batcher: Batcher,
    batch_max: usize,
    interval: Duration,
    group_commit: bool,
    metrics: Arc<Metrics>,
    received: HashMap<(Arc<str>, Arc<str>), prometheus_client::metrics::counter::Counter>,
    writer: mpsc::Sender<Pending>,
    /// True while the writer commits (group commit: an idle writer gets the batch at once).
    writer_busy: Arc<std::sync::atomic::AtomicBool>,
    /// The writer thread died: the pipeline stops (serve returns the error).
    writer_gone: bool,
    alarms: silence::Alarms,
    /// Network intakes count `meterlink_received_total` themselves (QoS 0 drops included):
    /// the pipeline counts only the others' receptions (files).
    counted_by_intake: std::collections::HashSet<Arc<str>>,
}

impl Pipeline {
    fn new(config: &Config, keys: KeyFiles, metrics: Arc<Metrics>, writer: mpsc::Sender<Pending>, writer_busy: Arc<std::sync::atomic::AtomicBool>) -> Self {
        let window_ms = (config.dedup.window_s * 1000.0).round() as i64;
        Pipeline {
            decoder: Decoder::new(config.service.worker.as_str().into()),
            current: keys.current(),
            keys,
            window: FrameWindow::new(window_ms),
            window_ms,
            batcher: Batcher::default(),
            batch_max: config.service.batch_max,
            interval: Duration::from_millis(config.service.batch_interval_ms.max(1)),
            group_commit: config.service.group_commit,
            alarms: silence::Alarms::new(&config.alarms, metrics.clone()),
            counted_by_intake: intakes::self_counting(config),
            metrics,
            received: HashMap::new(),
            writer,
            writer_busy,
            writer_gone: false,
        }
    }

    /// Receive until every intake is gone (or a signal and a drained queue), then commit.
    async fn run(&mut self, mut queue: mpsc::Receiver<Reception>, stop: watch::Sender<bool>, shutdown: impl std::future::Future<Output = ()>) {
        let mut tick = tokio::time::interval(self.interval.min(Duration::from_millis(250)));
        let mut last_poll = Instant::now();
        let mut stopping: Option<Instant> = None;
        let mut signal = std::pin::pin!(shutdown);
        let mut buf = Vec::with_capacity(1024);
        loop {
            if self.writer_gone {
                // Nothing can be committed any more: stop the intakes and return (serve reports
                // the writer's panic); what is queued was not acknowledged and is redelivered.
                let _ = stop.send(true);
                break;
            }
            tokio::select! {
                n = queue.recv_many(&mut buf, 1024) => {
                    if n == 0 {
                        break;
                    }
                    self.alarms.tick();
                    for rx in buf.drain(..) {
                        self.process(rx);
                        if self.batcher.rows() >= self.batch_max {
                            self.flush().await;
                        }
                    }
                    // Group commit: nothing more waiting and the writer's slot free, so commit
                    // now rather than at the interval. Acknowledgements come sooner, which is what
                    // bounds QoS 1 throughput (the broker's in-flight window per subscriber:
                    // rumqttd 100, mosquitto 20 by default); under load the queue is never
                    // empty and batches grow to `batch_max`.
                    // Also when the writer sits idle (at start, after a lull): it gets what there
                    // is, and the next batch grows while it writes.
                    let idle = !self.writer_busy.load(std::sync::atomic::Ordering::Acquire);
                    if self.group_commit && (queue.is_empty() || idle) && self.writer.capacity() > 0 {
                        self.flush().await;
                    }
                }
                _ = tick.tick() => {
                    self.metrics.queue_depth.set(queue.len() as i64);
                    if last_poll.elapsed() >= Duration::from_secs(1) {
                        last_poll = Instant::now();
                        self.reload_keys();
                        self.alarms.check();
                    }
                    if self.batcher.started().is_some_and(|s| s.elapsed() >= self.interval) {
                        self.flush().await;
                    }
                    // Intakes that do not watch the stop signal: leave once the queue is empty.
                    if stopping.is_some_and(|s| s.elapsed() > Duration::from_secs(2)) && queue.is_empty() {
                        break;
                    }
                }
                _ = &mut signal, if stopping.is_none() => {
                    tracing::info!("shutting down: stopping intakes, draining the queue");
                    let _ = stop.send(true);
                    stopping = Some(Instant::now());
                }
            }
        }
        self.flush().await;
    }

    fn reload_keys(&mut self) {
        if self.keys.poll() {
            self.current = self.keys.current();
        }
    }

    /// Decode, key and batch one reception.
    fn process(&mut self, rx: Reception) {
        self.count_received(&rx);
        let raw = raw_hash(&rx.frame);
        let (identity, decoded) = match self.batcher.known(&rx.frame, raw) {
            Some(id) => {
                // The same bytes were decoded in this batch: their meter was heard then.
                self.alarms.heard(&rx.gateway, None);
                (id, None)
            }
            None => match self.decoder.decode(&rx, &self.current) {
                Ok(d) => {
                    self.metrics.decoded.inc();
                    self.alarms.heard(&rx.gateway, Some(&d.telegram.meter));
                    (d.identity, Some(d))
                }
                Err(r) => {
                    self.alarms.heard(&rx.gateway, None);
                    return self.reject(*r, rx);
                }
            },
        };
        let key = match identity {
            Identity::Counter(k) => k,
            Identity::Frame(h) => self.window.key(&h, rx.received_at_ms),
        };
        if self.batcher.add_reception(key, &rx, raw, decoded, self.window_ms) == Added::Replay {
            let reason = "replayed counter: the same counter again outside the dedup window".to_string();
            let r = decode::rejected(&rx, "replayed_counter", reason, None, None);
            self.metrics.replays.inc();
            return self.reject(*r, rx);
        }
        self.batcher.add_ack(rx.ack);
    }

    fn reject(&mut self, r: RejectedRow, rx: Reception) {
        if is_decrypt_failure(r.code) {
            self.metrics.decrypt_failures.inc();
        }
        self.metrics.rejected.get_or_create(&CodeLabels { code: r.code.to_string() }).inc();
        self.batcher.add_rejected(r);
        self.batcher.add_ack(rx.ack);
    }

    fn count_received(&mut self, rx: &Reception) {
        if self.counted_by_intake.contains(&rx.intake) {
            return;
        }
        let k = (rx.intake.clone(), rx.gateway.clone());
        let m = &self.metrics;
        self.received
            .entry(k)
            .or_insert_with(|| m.received_for(&rx.intake, &rx.gateway))
            .inc();
    }

    /// Hand the batch to the writer (waits while it commits the previous one).
    async fn flush(&mut self) {
        if self.batcher.started().is_none() {
            return;
        }
        let p = self.batcher.take();
        if let Err(mpsc::error::SendError(p)) = self.writer.send(p).await {
            tracing::error!("the store thread is gone; batch not acknowledged, stopping");
            self.writer_gone = true;
            for a in p.acks {
                a.resolve(crate::reception::AckOutcome::Failed);
            }
        }
    }
}

/// Codes of failed decryption or verification (`meterlink_decrypt_failures_total`).
fn is_decrypt_failure(code: &str) -> bool {
    matches!(code, "tpl_verification" | "ell_payload_crc" | "dsmr_decrypt" | "unprotected")
        || code.starts_with("security_")
        || code.starts_with("cipher_") && code != "cipher_replayed_counter"
}

/// SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
