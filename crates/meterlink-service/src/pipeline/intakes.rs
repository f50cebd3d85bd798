//! Starting the configured intakes. Files are started here; the network intakes
//! (`crate::intake::{broker, mqtt, http, lines}::spawn`) are written by the MQTT/HTTP worker and
//! connected in [`network`] at the merge.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::error::ServiceError;
use crate::intake::{files, Sink};
use crate::metrics::Metrics;

/// Start every intake of `config`; each holds a clone of `sink` and stops when `stop` turns true
/// (or, for files with `once`, when read).
pub fn start(config: &Config, sink: &Sink, stop: &watch::Receiver<bool>, metrics: &Arc<Metrics>) -> Result<Vec<JoinHandle<()>>, ServiceError> {
    let mut handles = network(config, sink, stop, metrics)?;
    for f in &config.files {
        handles.push(files::spawn(f.clone(), sink.clone(), stop.clone())?);
    }
    Ok(handles)
}

/// The embedded broker, MQTT, HTTP and TCP/UDP line intakes: not in this build (connected at
/// the merge with the MQTT/HTTP worker's `intake::{broker, mqtt, http, lines}::spawn`).
fn network(config: &Config, _sink: &Sink, _stop: &watch::Receiver<bool>, _metrics: &Arc<Metrics>) -> Result<Vec<JoinHandle<()>>, ServiceError> {
    let n = config.mqtt.len() + config.http.len() + config.tcp.len() + config.udp.len() + usize::from(config.broker.embedded);
    if n > 0 {
        tracing::warn!(intakes = n, "network intakes are not connected in this build");
    }
    Ok(Vec::new())
}
