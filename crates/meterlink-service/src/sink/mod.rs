//! What happens around the writer's commits (issue 15 §3 Parquet sink, §1 retention, §4
//! per-gateway metrics). [`Hooks`] runs on the writer thread: between batches it runs
//! retention steps (so a prune never races with this worker's writes), and after each commit
//! it hands the batch and the store's report to a follow-up thread of its own (bounded channel
//! of [`FOLLOW_BATCHES`]: the writer waits only when it is that far behind). The follow-up
//! thread learns which of the batch's telegrams were stored (through a read connection of its
//! own when the report cannot tell), counts per gateway and hands the stored telegrams to the
//! Parquet sink. Nothing here delays an acknowledgement: they are resolved before the hooks
//! run.

pub mod parquet;

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::error::ServiceError;
use crate::metrics::{GatewayCodeLabels, GatewayLabels, Metrics, TableLabels, OTHER_GATEWAY};
use crate::pipeline::batch::Pending;
use crate::store::retention::Retention;
use crate::store::{Batch, Store, WriteReport};

use parquet::{Export, ParquetSink};

/// Committed batches waiting for the follow-up thread, at most.
pub const FOLLOW_BATCHES: usize = 2;

/// The writer thread's hooks.
pub struct Hooks {
    retention: Option<Retention>,
    metrics: Arc<Metrics>,
    follow: Option<SyncSender<(Batch, WriteReport)>>,
    follow_thread: Option<JoinHandle<()>>,
    /// A timer for waiting on the batch channel while retention is scheduled.
    rt: Option<tokio::runtime::Runtime>,
}

/// The follow-up thread's state.
struct Follow {
    parquet: Option<ParquetSink>,
    gateways: Gateways,
    metrics: Arc<Metrics>,
    window_ms: i64,
    config: Config,
    /// A read connection of its own, opened when a report first cannot tell which telegrams
    /// were stored (`None` inside: it could not be opened).
    lookup: Option<Option<Box<dyn Store>>>,
}

/// Per-gateway counters by label (at most [`crate::metrics::GATEWAY_LABELS_MAX`] gateways and
/// [`OTHER_GATEWAY`]: [`Metrics::gateway_label`]).
#[derive(Default)]
struct Gateways {
    counters: HashMap<Arc<str>, (Counter, Counter)>,
}

impl Gateways {
    /// (stored, duplicates) counters of `gateway`.
    fn of(&mut self, m: &Metrics, gateway: &Arc<str>) -> &(Counter, Counter) {
        let key = if self.counters.contains_key(gateway) {
            gateway.clone()
        } else {
            match m.gateway_label(gateway) {
                OTHER_GATEWAY => Arc::from(OTHER_GATEWAY),
                _ => gateway.clone(),
            }
        };
        self.counters.entry(key).or_insert_with_key(|label| {
            let l = GatewayLabels { gateway: label.to_string() };
            (m.gateway_stored.get_or_create(&l).clone(), m.gateway_duplicates.get_or_create(&l).clone())
        })
    }

    fn rejected(&mut self, m: &Metrics, gateway: &Arc<str>, code: &str) {
        // Registered like the others, so a rejected-only gateway has its stored/duplicates series.
        self.of(m, gateway);
        m.gateway_rejected.get_or_create(&GatewayCodeLabels { gateway: m.gateway_label(gateway).to_string(), code: code.into() }).inc();
    }
}

/// What the store did with one candidate telegram of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Stored,
    Duplicate,
    Replay,
}

/// How many telegrams a retention run deletes per telegram a batch stored, at least. A writer
/// that never idles (a short retention at full rate) must prune faster than it stores: a run
/// deletes what aged past the cut-off since the last one began, and at 1x each run took as long
/// as the interval plus the run before it, so runs grew without end and the database with them
/// (a saturated soak, decisions "Soak at full rate"); at 2x a run catches up within about one
/// interval. One step per batch, as before, pruned half a full batch.
pub const PRUNE_PACE: usize = 2;

impl Hooks {
    /// The hooks `config` asks for (the follow-up and Parquet sink threads start here).
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Self, ServiceError> {
        let parquet = match &config.parquet {
            Some(p) => Some(ParquetSink::start(p.dir.clone(), config.keys.files.clone(), metrics.clone())?),
            None => None,
        };
        let follow = Follow {
            parquet,
            gateways: Gateways::default(),
            metrics: metrics.clone(),
            window_ms: (config.dedup.window_s * 1000.0).round() as i64,
            config: config.clone(),
            lookup: None,
        };
        let (tx, rx) = sync_channel(FOLLOW_BATCHES);
        let thread = std::thread::Builder::new()
            .name("meterlink-follow".into())
            .spawn(move || follow.run(rx))
            .map_err(|e| ServiceError::Io(format!("follow-up thread: {e}")))?;
        Ok(Hooks { retention: Retention::new(config.store.retention()), metrics, follow: Some(tx), follow_thread: Some(thread), rt: None })
    }

    /// The next batch; while none comes, retention steps run when due. `Some(None)`: `idle`
    /// passed without a batch (the writer flushes the store's summaries); `None`: the pipeline
    /// is gone.
    pub fn wait(&mut self, rx: &mut mpsc::Receiver<Pending>, store: &mut dyn Store, idle: Option<Duration>) -> Option<Option<Pending>> {
        if self.retention.is_none() && idle.is_none() {
            return rx.blocking_recv().map(Some);
        }
        let started = std::time::Instant::now();
        loop {
            match rx.try_recv() {
                Ok(p) => return Some(Some(p)),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            let retention = self.retention.as_ref().map(|r| r.wait());
            if retention.is_some_and(|w| w.is_zero()) {
                self.prune_step(store);
                continue;
            }
            let left = idle.map(|i| i.saturating_sub(started.elapsed()));
            if left.is_some_and(|l| l.is_zero()) {
                return Some(None);
            }
            let wait = match (retention, left) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or_default(),
            };
            let rt = match &self.rt {
                Some(rt) => rt,
                None => self.rt.insert(tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a timer runtime")),
            };
            if let Ok(p) = rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                return p.map(Some);
            }
        }
    }

    /// After a committed batch (its acks already resolved): hand it to the follow-up thread
    /// (per-gateway counts, Parquet), then, while a retention run is due, steps until they
    /// deleted [`PRUNE_PACE`] times as many telegrams as the batch stored (at least one step).
    pub fn committed(&mut self, store: &mut dyn Store, batch: Batch, report: &WriteReport) {
        if let Some(tx) = &self.follow {
            let _ = tx.send((batch, *report));
        }
        let mut owed = report.stored * PRUNE_PACE;
        while self.retention.as_ref().is_some_and(|r| r.due()) {
            let deleted = self.prune_step(store);
            if deleted == 0 || deleted >= owed {
                break;
            }
            owed -= deleted;
        }
    }

    /// One retention step; the telegrams it deleted.
    fn prune_step(&mut self, store: &mut dyn Store) -> usize {
        let Some(r) = self.retention.as_mut() else { return 0 };
        // The replay floor first: `meters` must hold every counter before telegrams go
        // (decisions "SQLite store speed 2"; a failed flush postpones the step).
        if let Err(e) = store.flush() {
            tracing::warn!(error = %e, "retention: flushing the meters summary failed; step postponed");
            return 0;
        }
        let Some(p) = r.step(store, crate::intake::files::now_ms()) else { return 0 };
        self.metrics.pruned.get_or_create(&TableLabels { table: "telegrams".into() }).inc_by(p.telegrams as u64);
        self.metrics.pruned.get_or_create(&TableLabels { table: "rejected".into() }).inc_by(p.rejected as u64);
        if p.telegrams + p.rejected > 0 {
            tracing::info!(telegrams = p.telegrams, rejected = p.rejected, "retention: pruned");
        }
        p.telegrams
    }
}

impl Drop for Hooks {
    /// The follow-up thread finishes the batches it holds (and closes the Parquet files).
    fn drop(&mut self) {
        drop(self.follow.take());
        if let Some(t) = self.follow_thread.take() {
            let _ = t.join();
        }
    }
}

impl Follow {
    fn run(mut self, rx: Receiver<(Batch, WriteReport)>) {
        while let Ok((batch, report)) = rx.recv() {
            self.committed(batch, &report);
        }
    }

    /// Per-gateway counts and the Parquet sink for one committed batch.
    fn committed(&mut self, batch: Batch, report: &WriteReport) {
        let fates = self.fates(&batch, report);
        self.count(&batch, fates.as_deref());
        match (&self.parquet, &fates) {
            (Some(sink), Some(fates)) => sink.send(exports(batch, fates)),
            // Unknown which were stored (the lookup failed): counted, not guessed.
            (Some(_), None) => {
                self.metrics.parquet_dropped.inc_by(report.stored as u64);
            }
            (None, _) => {}
        }
    }

    /// The read connection (opened on first use; the rows it looks for are committed).
    fn lookup(&mut self) -> Option<&mut Box<dyn Store>> {
        let config = &self.config;
        self.lookup
            .get_or_insert_with(|| {
                crate::pipeline::open_store(config).map_err(|e| tracing::warn!(error = %e, "follow-up: no read connection; per-gateway split and Parquet export of partly stored batches are skipped")).ok()
            })
            .as_mut()
    }

    /// The fate of each candidate telegram: all stored or none when the report says so, else
    /// looked up (stored by this batch = the stored row has this batch's reception time).
    /// `None` when the lookup failed.
    fn fates(&mut self, batch: &Batch, report: &WriteReport) -> Option<Vec<Fate>> {
        let n = batch.telegrams.len();
        if report.stored == n {
            return Some(vec![Fate::Stored; n]);
        }
        if report.stored == 0 && report.replays == 0 {
            return Some(vec![Fate::Duplicate; n]);
        }
        let keys: Vec<[u8; 16]> = batch.telegrams.iter().map(|t| t.dedup_key).collect();
        let times = match self.lookup()?.telegram_times(&keys) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "which telegrams were stored is unknown");
                self.lookup = None; // reconnect next time
                return None;
            }
        };
        let window_ms = self.window_ms;
        let fates = batch.telegrams.iter().zip(times).map(|(t, at)| match at {
            Some(at) if at == t.received_at_ms => Fate::Stored,
            // Not stored and no telegram under the key: the store rejected it as a replay; a
            // counter key stored outside the window too (decisions "Per-gateway metrics").
            None => Fate::Replay,
            Some(at) if t.counter.is_some() && report.replays > 0 && (at - t.received_at_ms).abs() > window_ms => Fate::Replay,
            Some(_) => Fate::Duplicate,
        });
        Some(fates.collect())
    }

    /// Per-gateway counts: a stored telegram counts for the gateway of its first reception,
    /// every other reception is a duplicate; a replay is a rejection of its first reception's
    /// gateway; the batch's own rejections count for their gateway.
    fn count(&mut self, batch: &Batch, fates: Option<&[Fate]>) {
        let m = &*self.metrics;
        if let Some(fates) = fates {
            let firsts = first_receptions(batch);
            let index: HashMap<[u8; 16], usize> = batch.telegrams.iter().enumerate().map(|(i, t)| (t.dedup_key, i)).collect();
            for (ri, r) in batch.receptions.iter().enumerate() {
                let Some(&ti) = index.get(&r.dedup_key) else { continue };
                match (fates[ti], firsts.get(&r.dedup_key) == Some(&ri)) {
                    (Fate::Stored, true) => {
                        self.gateways.of(m, &r.gateway).0.inc();
                    }
                    (Fate::Replay, true) => self.gateways.rejected(m, &r.gateway, "replayed_counter"),
                    _ => {
                        self.gateways.of(m, &r.gateway).1.inc();
                    }
                }
            }
        }
        for r in &batch.rejected {
            self.gateways.rejected(m, &r.gateway, r.code);
        }
    }
}

/// The index of each key's first reception (earliest time, then batch order).
fn first_receptions(batch: &Batch) -> HashMap<[u8; 16], usize> {
    let mut first: HashMap<[u8; 16], usize> = HashMap::with_capacity(batch.telegrams.len());
    for (i, r) in batch.receptions.iter().enumerate() {
        let e = first.entry(r.dedup_key).or_insert(i);
        if r.received_at_ms < batch.receptions[*e].received_at_ms {
            *e = i;
        }
    }
    first
}

/// The stored telegrams as Parquet exports (DLMS messages are not: `meterlink bulk` writes
/// them in another schema).
fn exports(batch: Batch, fates: &[Fate]) -> Vec<Export> {
    let firsts = first_receptions(&batch);
    let gateway = |k: &[u8; 16]| -> Arc<str> { firsts.get(k).map(|&i| batch.receptions[i].gateway.clone()).unwrap_or_else(|| Arc::from("")) };
    let mut out = Vec::new();
    // The batch is ours after the commit: frames are moved, not copied.
    for (t, f) in batch.telegrams.into_iter().zip(fates) {
        if *f == Fate::Stored && t.protocol != "dlms" {
            out.push(Export { gateway: gateway(&t.dedup_key), frame: t.frame, received_at_ms: t.received_at_ms, dedup_key: t.dedup_key });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::GATEWAY_LABELS_MAX;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    /// Past the cap every new gateway shares the `(other)` series; the first ones keep theirs.
    #[test]
    fn gateway_labels_are_capped() {
        let m = Metrics::default();
        let mut g = Gateways::default();
        for i in 0..GATEWAY_LABELS_MAX + 5 {
            g.of(&m, &Arc::from(format!("gw-{i}"))).0.inc();
        }
        g.of(&m, &Arc::from("gw-0")).0.inc();
        g.rejected(&m, &Arc::from("gw-late"), "no_key");
        let mut r = Registry::default();
        m.register(&mut r);
        let mut text = String::new();
        encode(&mut text, &r).unwrap();
        let stored: Vec<&str> = text.lines().filter(|l| l.starts_with("meterlink_gateway_stored_total{")).collect();
        assert_eq!(stored.len(), GATEWAY_LABELS_MAX + 1);
        assert!(stored.contains(&"meterlink_gateway_stored_total{gateway=\"gw-0\"} 2"));
        assert!(stored.contains(&"meterlink_gateway_stored_total{gateway=\"(other)\"} 5"));
        assert!(!text.contains("gw-10000\""));
        assert!(text.contains("meterlink_gateway_rejected_total{gateway=\"(other)\",code=\"no_key\"} 1"));
    }
}
