//! Starting the configured intakes (issue 15 §1): the embedded broker first (listening before
//! any MQTT intake connects), then every `[[mqtt]]`, `[[http]]`, `[[tcp]]`, `[[udp]]` and
//! `[[files]]` intake, all sending into the one bounded queue.
//!
//! Each network intake gets a stopper task: when the pipeline turns `stop` true (shutdown) the
//! intake is shut down at once, before the queue drains — an MQTT intake stops reading, so QoS 1
//! messages not yet committed stay unacknowledged in the broker's session and come again on the
//! next start (issue 15 §4); HTTP stops accepting and finishes the requests in progress.

use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::ServiceError;
use crate::intake::http::{HealthStatus, HttpState};
use crate::intake::{broker, files, http, lines, mqtt, Sink};
use crate::metrics::Metrics;

/// What the intakes share with the rest of the service.
#[derive(Clone)]
pub struct Shared {
    /// The pipeline's queue.
    pub sink: Sink,
    /// Turns true on shutdown.
    pub stop: watch::Receiver<bool>,
    /// Counters (also rendered at `/metrics`).
    pub metrics: Arc<Metrics>,
    /// `/health`, updated by the writer thread.
    pub health: Arc<HealthStatus>,
}

/// Start every intake of `config`; each holds a clone of the sink and stops when `stop` turns
/// true (or, for files with `once`, when read).
pub async fn start(config: &Config, shared: &Shared) -> Result<Vec<JoinHandle<()>>, ServiceError> {
    let mut handles = network(config, shared).await?;
    for f in &config.files {
        handles.push(files::spawn(f.clone(), shared.sink.clone(), shared.stop.clone())?);
    }
    Ok(handles)
}

/// The embedded broker (when `[broker] embedded`), then the MQTT, HTTP, TCP and UDP intakes.
async fn network(config: &Config, s: &Shared) -> Result<Vec<JoinHandle<()>>, ServiceError> {
    if config.broker.embedded {
        let listen = config.broker.listen.clone();
        // broker::spawn blocks until the listener accepts connections.
        tokio::task::spawn_blocking(move || broker::spawn(&listen)).await.map_err(|e| ServiceError::Io(format!("embedded broker: {e}")))??;
        tracing::info!(listen = %config.broker.listen, "embedded MQTT broker listening");
    }
    let mut handles = Vec::new();
    for m in &config.mqtt {
        let h = mqtt::spawn(m.clone(), &config.service.worker, s.sink.clone(), s.metrics.clone())?;
        tracing::info!(intake = %m.name, url = %m.url, topics = ?mqtt::filters(m), "mqtt intake started");
        handles.push(stopper(s.stop.clone(), Box::pin(h.shutdown())));
    }
    let registry = Arc::new(registry(&s.metrics));
    for h in &config.http {
        let state = HttpState::new(&h.name, s.sink.clone(), s.metrics.clone(), registry.clone(), s.health.clone());
        let handle = http::spawn(h, state).await?;
        tracing::info!(intake = %h.name, listen = %handle.local_addr, "http intake listening");
        handles.push(stopper(s.stop.clone(), Box::pin(handle.shutdown())));
    }
    for t in &config.tcp {
        let handle = lines::spawn_tcp(t, s.sink.clone(), s.metrics.clone()).await?;
        tracing::info!(intake = %t.name, listen = %t.listen, "tcp line intake listening");
        handles.push(stopper(s.stop.clone(), Box::pin(handle.shutdown())));
    }
    for u in &config.udp {
        let handle = lines::spawn_udp(u, s.sink.clone(), s.metrics.clone()).await?;
        tracing::info!(intake = %u.name, listen = %u.listen, "udp line intake listening");
        handles.push(stopper(s.stop.clone(), Box::pin(handle.shutdown())));
    }
    Ok(handles)
}

/// Names of the intakes that count `meterlink_received_total` themselves (MQTT, HTTP, TCP,
/// UDP; file intakes do not).
pub fn self_counting(config: &Config) -> std::collections::HashSet<Arc<str>> {
    let names = config.mqtt.iter().map(|m| &m.name).chain(config.http.iter().map(|h| &h.name));
    names.chain(config.tcp.iter().chain(&config.udp).map(|l| &l.name)).map(|n| Arc::from(n.as_str())).collect()
}

/// The registry `/metrics` renders: every metric of `metrics`.
pub fn registry(metrics: &Metrics) -> Registry {
    let mut r = Registry::default();
    metrics.register(&mut r);
    r
}

type Shutdown = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A task that runs `shutdown` once `stop` turns true (or its sender is gone).
fn stopper(mut stop: watch::Receiver<bool>, shutdown: Shutdown) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        shutdown.await;
    })
}
