//! The MQTT intake (issue 15 §1, §2 backpressure, §4 at-least-once), on rumqttc (MQTT 3.1.1).
//!
//! - QoS 1 with manual acknowledgements: a message's PUBACK is sent only when every reception
//!   parsed out of it is committed ([`AckOutcome::Committed`]). On [`AckOutcome::Failed`] the
//!   connection is dropped and made again, so the broker redelivers everything unacknowledged
//!   of the (persistent) session. Acknowledgements of messages delivered on an earlier
//!   connection are not sent: the broker redelivers those anyway, and a PUBACK for a packet
//!   identifier the broker has reused would acknowledge the wrong message.
//! - Backpressure: QoS 1 messages wait for room in the bounded [`Sink`] (the event loop stops
//!   reading, the broker's inflight window fills); QoS 0 messages that find the queue full
//!   are dropped and counted in `meterlink_qos0_dropped_total`.
//! - Persistent session (`clean_session = false`, client id `meterlink-<worker>` unless set),
//!   `$share/<group>/` subscriptions, TLS (`mqtts://`, CA file, optional client certificate;
//!   rustls with the ring provider), username/password, reconnection with exponential backoff
//!   (0.5 s doubling to 30 s).
//! - A payload no parser understands is still delivered, as its raw bytes, so that the
//!   pipeline stores it in `rejected` instead of dropping it silently.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::parse::{self, Parser, Shape};
use super::Sink;
use crate::config::MqttIntake;
use crate::error::ServiceError;
use crate::metrics::{IntakeLabels, Metrics};
use crate::reception::{Ack, AckOutcome, LinkCrc, Reception};

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What an [`Ack`] tells the connection task.
#[derive(Debug)]
enum AckMsg {
    /// Send the PUBACK, if the message came on connection `generation`.
    Ack(u64, Publish),
    /// A commit failed: reconnect so the broker redelivers.
    Failed,
}

/// A running MQTT intake.
pub struct MqttHandle {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl MqttHandle {
    /// Stop reading (the session keeps what was not acknowledged) and wait for the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Host, port and TLS of an `mqtt://` / `mqtts://` URL.
pub fn parse_url(url: &str) -> Result<(String, u16, bool), String> {
    let (tls, rest) = match url.split_once("://") {
        Some(("mqtt", r)) => (false, r),
        Some(("mqtts", r)) => (true, r),
        _ => return Err(format!("{url:?}: must start with mqtt:// or mqtts://")),
    };
    let rest = rest.trim_end_matches('/');
    let default = if tls { 8883 } else { 1883 };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().map_err(|_| format!("{url:?}: bad port {p:?}"))?),
        _ => (rest, default),
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port, tls))
}

/// The subscription filters, with the `$share/<group>/` prefix when configured.
pub fn filters(cfg: &MqttIntake) -> Vec<String> {
    cfg.topics.iter().map(|t| match &cfg.share_group {
        Some(g) => format!("$share/{g}/{t}"),
        None => t.clone(),
    }).collect()
}

/// rumqttc options of an intake: client id, session, credentials, TLS, manual acks for QoS 1.
pub fn options(cfg: &MqttIntake, worker: &str) -> Result<MqttOptions, ServiceError> {
    let bad = |reason: String| ServiceError::Config { path: format!("mqtt[{}]", cfg.name), reason };
    let (host, port, tls) = parse_url(&cfg.url).map_err(bad)?;
    let id = cfg.client_id.clone().unwrap_or_else(|| format!("meterlink-{worker}"));
    let mut o = MqttOptions::new(id, host, port);
    o.set_clean_session(!cfg.persistent_session)
        .set_keep_alive(Duration::from_secs(30))
        .set_manual_acks(cfg.qos == 1)
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_request_channel_capacity(1024);
    if let (Some(u), p) = (&cfg.username, &cfg.password) {
        o.set_credentials(u.clone(), p.clone().unwrap_or_default());
    }
    if tls {
        o.set_transport(transport(cfg)?);
    }
    Ok(o)
}

fn transport(cfg: &MqttIntake) -> Result<Transport, ServiceError> {
    // rustls needs one process-wide crypto provider; ring builds without cmake (its
    // constructor is deprecated in 0.23.48 only for lacking post-quantum key exchange).
    #[allow(deprecated)]
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let read = |p: &std::path::PathBuf, what: &str| {
        std::fs::read(p).map_err(|e| ServiceError::Config { path: format!("mqtt[{}].{what}", cfg.name), reason: format!("{}: {e}", p.display()) })
    };
    let client_auth = match (&cfg.client_cert, &cfg.client_key) {
        (Some(c), Some(k)) => Some((read(c, "client_cert")?, read(k, "client_key")?)),
        (None, None) => None,
        _ => return Err(ServiceError::Config { path: format!("mqtt[{}].client_cert", cfg.name), reason: "client_cert and client_key go together".into() }),
    };
    Ok(match &cfg.ca_file {
        Some(ca) => Transport::tls_with_config(TlsConfiguration::Simple { ca: read(ca, "ca_file")?, alpn: None, client_auth }),
        None => Transport::tls_with_default_config(),
    })
}

/// Start the intake: connect (retrying), subscribe, and feed `sink` until shut down.
pub fn spawn(cfg: MqttIntake, worker: &str, sink: Sink, metrics: Arc<Metrics>) -> Result<MqttHandle, ServiceError> {
    let opts = options(&cfg, worker)?;
    let shapes = ShapeMap::new(&cfg)?;
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(cfg, opts, shapes, sink, metrics, stop_rx));
    Ok(MqttHandle { task, stop })
}

/// Topic filter → payload shape, first match wins.
struct ShapeMap {
    rules: Vec<(String, Shape)>,
    default: Shape,
}

impl ShapeMap {
    fn new(cfg: &MqttIntake) -> Result<Self, ServiceError> {
        let shape = |s: &str, path: String| s.parse::<Shape>().map_err(|e| ServiceError::Config { path, reason: e.reason });
        let mut rules = Vec::new();
        for (i, r) in cfg.parsers.iter().enumerate() {
            rules.push((r.topic.clone(), shape(&r.parser, format!("mqtt[{}].parsers[{i}].parser", cfg.name))?));
        }
        Ok(ShapeMap { rules, default: shape(&cfg.default_parser, format!("mqtt[{}].default_parser", cfg.name))? })
    }

    fn shape_of(&self, topic: &str) -> Shape {
        self.rules.iter().find(|(f, _)| topic_matches(f, topic)).map_or(self.default, |(_, s)| *s)
    }
}

/// MQTT topic filter matching (`+` one level, `#` the rest; MQTT 3.1.1 §4.7).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or(rest, |(_, f)| f),
        None => filter,
    };
    let (mut f, mut t) = (filter.split('/'), topic.split('/'));
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Reconnect loop: one rumqttc connection per iteration of the outer loop; a failed commit
/// (or a connection error) ends the connection.
async fn run(cfg: MqttIntake, opts: MqttOptions, shapes: ShapeMap, sink: Sink, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let name: Arc<str> = cfg.name.as_str().into();
    let generation = Arc::new(AtomicU64::new(0));
    let mut parser = Parser::default();
    let mut backoff = Duration::from_millis(500);
    let qos = if cfg.qos == 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
    while !*stop.borrow() {
        let (client, mut eventloop) = AsyncClient::new(opts.clone(), 1024);
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let failed = Arc::new(tokio::sync::Notify::new());
        let acker = tokio::spawn(ack_task(client.clone(), ack_rx, generation.clone(), failed.clone()));
        let conn = Conn { name: name.clone(), client, qos, filters: filters(&cfg), ack_tx, generation: generation.clone() };
        let outcome = conn.serve(&mut eventloop, &shapes, &mut parser, &sink, &metrics, &failed, &mut stop, &mut backoff).await;
        acker.abort();
        match outcome {
            End::Stop => break,
            End::Reconnect => {
                tracing::warn!(intake = %name, "MQTT connection dropped; reconnecting in {:?}", backoff);
                tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = stop.changed() => {} }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sends PUBACKs for the current connection; turns a failure into a reconnect.
async fn ack_task(client: AsyncClient, mut rx: mpsc::UnboundedReceiver<AckMsg>, generation: Arc<AtomicU64>, failed: Arc<tokio::sync::Notify>) {
    while let Some(msg) = rx.recv().await {
        match msg {
            AckMsg::Ack(g, p) if g == generation.load(Ordering::SeqCst) => {
                if client.ack(&p).await.is_err() {
                    return;
                }
            }
            AckMsg::Ack(..) => {}
            AckMsg::Failed => failed.notify_one(),
        }
    }
}

enum End {
    Stop,
    Reconnect,
}

/// One connection's state.
struct Conn {
    name: Arc<str>,
    client: AsyncClient,
    qos: QoS,
    filters: Vec<String>,
    ack_tx: mpsc::UnboundedSender<AckMsg>,
    generation: Arc<AtomicU64>,
}

impl Conn {
    #[allow(clippy::too_many_arguments)]
    async fn serve(
        &self,
        ev: &mut EventLoop,
        shapes: &ShapeMap,
        parser: &mut Parser,
        sink: &Sink,
        metrics: &Metrics,
        failed: &tokio::sync::Notify,
        stop: &mut watch::Receiver<bool>,
        backoff: &mut Duration,
    ) -> End {
        loop {
            let event = tokio::select! {
                e = ev.poll() => e,
                _ = failed.notified() => return End::Reconnect,
                _ = stop.changed() => {
                    let _ = self.client.try_disconnect();
                    return End::Stop;
                }
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // A new connection: acknowledgements of the previous one are void.
                    self.generation.fetch_add(1, Ordering::SeqCst);
                    *backoff = Duration::from_millis(500);
                    tracing::info!(intake = %self.name, "MQTT connected");
                    for f in &self.filters {
                        let _ = self.client.try_subscribe(f.clone(), self.qos);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if !self.deliver(p, shapes, parser, sink, metrics).await {
                        return End::Stop;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log_error(&self.name, &e);
                    return End::Reconnect;
                }
            }
        }
    }

    /// Parse one message into receptions and queue them (QoS 1 waits, QoS 0 drops when full).
    /// False when the pipeline is gone.
    async fn deliver(&self, p: Publish, shapes: &ShapeMap, parser: &mut Parser, sink: &Sink, metrics: &Metrics) -> bool {
        let now = now_ms();
        let parsed = match parser.parse(shapes.shape_of(&p.topic), &p.payload, &p.topic, now) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(intake = %self.name, topic = %p.topic, "payload not understood, stored as rejected: {e}");
                vec![parse::Parsed::mbus(p.payload.to_vec(), LinkCrc::Auto)]
            }
        };
        let qos1 = p.qos != QoS::AtMostOnce;
        let join = qos1.then(|| AckJoin::new(parsed.len(), self.generation.load(Ordering::SeqCst), p.clone(), self.ack_tx.clone()));
        if let Some(j) = &join {
            if parsed.is_empty() {
                j.clone().resolve_empty();
            }
        }
        for part in parsed {
            let ack = join.as_ref().map(|j| j.ack());
            let r = parse::to_reception(part, &self.name, &p.topic, now, ack);
            metrics.received.get_or_create(&crate::metrics::SourceLabels { intake: self.name.to_string(), gateway: r.gateway.to_string() }).inc();
            let alive = if qos1 { sink.send(r).await.is_ok() } else { try_send_qos0(sink, r, metrics, &self.name) };
            if !alive {
                return false;
            }
        }
        true
    }
}

/// Queue a reception that cannot wait (MQTT QoS 0, UDP): dropped and counted in
/// `meterlink_qos0_dropped_total{intake}` when the queue is full. False when the pipeline is
/// gone.
pub fn try_send_qos0(sink: &Sink, r: Reception, metrics: &Metrics, intake: &str) -> bool {
    match sink.try_send(r) {
        Ok(()) => true,
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
            metrics.qos0_dropped.get_or_create(&IntakeLabels { intake: intake.to_string() }).inc();
            true
        }
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => false,
    }
}

fn log_error(name: &str, e: &ConnectionError) {
    tracing::warn!(intake = %name, "MQTT: {e}");
}

/// Unix ms now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The acknowledgement of one message shared by its receptions: PUBACK after the last one
/// commits, a reconnect as soon as one fails.
#[derive(Clone)]
struct AckJoin(Arc<JoinState>);

struct JoinState {
    remaining: AtomicUsize,
    failed: AtomicBool,
    generation: u64,
    publish: Publish,
    tx: mpsc::UnboundedSender<AckMsg>,
}

impl AckJoin {
    fn new(n: usize, generation: u64, publish: Publish, tx: mpsc::UnboundedSender<AckMsg>) -> Self {
        AckJoin(Arc::new(JoinState { remaining: AtomicUsize::new(n), failed: AtomicBool::new(false), generation, publish, tx }))
    }

    /// A message that yields no reception (a gateway status, a fragment): acknowledged now.
    fn resolve_empty(self) {
        let _ = self.0.tx.send(AckMsg::Ack(self.0.generation, self.0.publish.clone()));
    }

    fn ack(&self) -> Ack {
        let s = self.0.clone();
        Ack::new(move |outcome| {
            if outcome == AckOutcome::Failed {
                if !s.failed.swap(true, Ordering::SeqCst) {
                    let _ = s.tx.send(AckMsg::Failed);
                }
            } else if s.remaining.fetch_sub(1, Ordering::SeqCst) == 1 && !s.failed.load(Ordering::SeqCst) {
                let _ = s.tx.send(AckMsg::Ack(s.generation, s.publish.clone()));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("mqtt://127.0.0.1:1883").unwrap(), ("127.0.0.1".into(), 1883, false));
        assert_eq!(parse_url("mqtts://broker.example").unwrap(), ("broker.example".into(), 8883, true));
        assert!(parse_url("tcp://x").is_err());
    }

    #[test]
    fn filters_match_like_mqtt() {
        assert!(topic_matches("telegrams/#", "telegrams/gw1/x"));
        assert!(topic_matches("telegrams/#", "telegrams"));
        assert!(topic_matches("gw/+/rx", "gw/7/rx"));
        assert!(!topic_matches("gw/+/rx", "gw/7/tx"));
        assert!(topic_matches("$share/g/gw/+/rx", "gw/7/rx"));
        let cfg = MqttIntake { share_group: Some("meterlink".into()), topics: vec!["gw/+/rx".into()], ..MqttIntake::default() };
        assert_eq!(filters(&cfg), ["$share/meterlink/gw/+/rx"]);
    }
}
