//! The MQTT intake (issue 15 §1, §2 backpressure, §4 at-least-once), on rumqttc (MQTT 3.1.1).
//!
//! - QoS 1 with manual acknowledgements: a message's PUBACK is sent only when every reception
//!   parsed out of it is committed ([`AckOutcome::Committed`]). On [`AckOutcome::Failed`] the
//!   connection is dropped and made again, so the broker redelivers everything unacknowledged
//!   of the (persistent) session. Acknowledgements of messages delivered on an earlier
//!   connection are not sent: the broker redelivers those anyway, and a PUBACK for a packet
//!   identifier the broker has reused would acknowledge the wrong message.
//! - The hot path (issue 15 §5): committed packet identifiers are collected in one
//!   [`AckQueue`] per connection (a mutex-guarded `Vec`, one wake-up when it turns non-empty);
//!   the connection task writes all waiting PUBACKs straight into rumqttc's write buffer and
//!   flushes once, instead of one request-channel hop and one socket write per PUBACK. Topic →
//!   parser dispatch, gateway names and their `received` counters are cached per topic.
//! - Backpressure: QoS 1 messages wait for room in the bounded [`Sink`] (the event loop stops
//!   reading, the broker's inflight window fills); QoS 0 messages that find the queue full
//!   are dropped and counted in `meterlink_qos0_dropped_total`.
//! - Persistent session (`clean_session = false`, client id `meterlink-<worker>` unless set),
//!   `$share/<group>/` subscriptions, TLS (`mqtts://`, CA file, optional client certificate;
//!   rustls with the ring provider), username/password, reconnection with exponential backoff
//!   (0.5 s doubling to 30 s).
//! - Keep-alive (`keep_alive_secs`, default 30): an unanswered PINGREQ does not end the
//!   connection while packets arrive or while the intake itself holds acknowledgements back
//!   ([`excuse_ping`]): a broker may queue its PINGRESP behind a backlog of PUBLISHes, or
//!   behind the in-flight window the intake keeps full. While the intake waits for room in
//!   the queue it keeps writing PUBACKs and PINGREQs, so a stalled store does not cost the
//!   connection either.
//! - A payload no parser understands is still delivered, as its raw bytes, so that the
//!   pipeline stores it in `rejected` instead of dropping it silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, MqttState, Packet, PubAck, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::parse::{self, Parser, Shape};
use super::Sink;
use crate::config::MqttIntake;
use crate::error::ServiceError;
use crate::metrics::{IntakeLabels, Metrics};
use crate::reception::{Ack, AckOutcome, LinkCrc, Reception};

/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Topics (and payload-named gateways) cached at most; the caches start over beyond.
const CACHE_MAX: usize = 4096;
/// A PUBACK write that does not finish within this ends the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

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
        .set_keep_alive(Duration::from_secs(cfg.keep_alive_secs.into()))
        .set_manual_acks(cfg.qos == 1)
        .set_max_packet_size(1 << 20, 1 << 20)
        // Only SUBSCRIBE and DISCONNECT go through the request channel (PUBACKs do not).
        .set_request_channel_capacity(16);
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

/// Topic filter → payload shape, first match wins; the answer per topic is cached.
struct ShapeMap {
    rules: Vec<(String, Shape)>,
    default: Shape,
    cache: HashMap<Box<str>, Shape>,
}

impl ShapeMap {
    fn new(cfg: &MqttIntake) -> Result<Self, ServiceError> {
        let shape = |s: &str, path: String| s.parse::<Shape>().map_err(|e| ServiceError::Config { path, reason: e.reason });
        let mut rules = Vec::new();
        for (i, r) in cfg.parsers.iter().enumerate() {
            rules.push((r.topic.clone(), shape(&r.parser, format!("mqtt[{}].parsers[{i}].parser", cfg.name))?));
        }
        Ok(ShapeMap { rules, default: shape(&cfg.default_parser, format!("mqtt[{}].default_parser", cfg.name))?, cache: HashMap::new() })
    }

    fn shape_of(&mut self, topic: &str) -> Shape {
        if self.rules.is_empty() {
            return self.default;
        }
        if let Some(s) = self.cache.get(topic) {
            return *s;
        }
        let s = self.rules.iter().find(|(f, _)| topic_matches(f, topic)).map_or(self.default, |(_, s)| *s);
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        self.cache.insert(topic.into(), s);
        s
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

/// Gateway name → its shared name and its `meterlink_received_total{intake,gateway}`
/// counter, so that a reception costs no label allocation and no registry lookup.
struct Gateways {
    intake: Arc<str>,
    metrics: Arc<Metrics>,
    cache: HashMap<Box<str>, (Arc<str>, Counter)>,
}

impl Gateways {
    fn get(&mut self, name: &str) -> (Arc<str>, Counter) {
        if let Some((n, c)) = self.cache.get(name) {
            return (n.clone(), c.clone());
        }
        let counter = self.metrics.received_for(&self.intake, name);
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        let shared: Arc<str> = name.into();
        self.cache.insert(name.into(), (shared.clone(), counter.clone()));
        (shared, counter)
    }
}

/// Reconnect loop: one rumqttc connection per iteration of the outer loop; a failed commit
/// (or a connection error) ends the connection.
async fn run(cfg: MqttIntake, opts: MqttOptions, mut shapes: ShapeMap, sink: Sink, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let name: Arc<str> = cfg.name.as_str().into();
    let mut parser = Parser::default();
    let mut gateways = Gateways { intake: name.clone(), metrics: metrics.clone(), cache: HashMap::new() };
    let mut backoff = Duration::from_millis(500);
    let qos = if cfg.qos == 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce };
    // Both series exist from the start (0 / unsubscribed), not only after the first event.
    let labels = IntakeLabels { intake: name.to_string() };
    let _ = metrics.mqtt_reconnects.get_or_create(&labels);
    metrics.mqtt_subscribed.get_or_create(&labels).set(0);
    while !*stop.borrow() {
        let (client, mut eventloop) = AsyncClient::new(opts.clone(), cfg.topics.len() + 16);
        // One queue per connection: acknowledgements resolved after it ends go nowhere.
        let acks = Arc::new(AckQueue::default());
        let mut conn = Conn { name: name.clone(), client, qos, filters: filters(&cfg), acks: acks.clone(), spare: Vec::new(), unacked: 0 };
        let mut st = State { shapes: &mut shapes, parser: &mut parser, gateways: &mut gateways, sink: &sink, metrics: &metrics };
        let outcome = conn.serve(&mut eventloop, &mut st, &mut stop, &mut backoff).await;
        acks.close();
        metrics.mqtt_subscribed.get_or_create(&labels).set(0);
        match outcome {
            End::Stop => break,
            End::Reconnect => {
                metrics.mqtt_reconnects.get_or_create(&labels).inc();
                tracing::warn!(intake = %name, "MQTT connection dropped; reconnecting in {:?}", backoff);
                tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = stop.changed() => {} }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

enum End {
    Stop,
    Reconnect,
}

/// What a connection borrows from the intake for its lifetime.
struct State<'a> {
    shapes: &'a mut ShapeMap,
    parser: &'a mut Parser,
    gateways: &'a mut Gateways,
    sink: &'a Sink,
    metrics: &'a Metrics,
}

/// One connection's state.
struct Conn {
    name: Arc<str>,
    client: AsyncClient,
    qos: QoS,
    filters: Vec<String>,
    acks: Arc<AckQueue>,
    /// The other half of the ack queue's double buffer.
    spare: Vec<u16>,
    /// QoS 1 messages delivered on this connection and not acknowledged yet.
    unacked: usize,
}

impl Conn {
    /// Poll the connection and write waiting PUBACKs, until stopped or the connection ends.
    async fn serve(&mut self, ev: &mut EventLoop, st: &mut State<'_>, stop: &mut watch::Receiver<bool>, backoff: &mut Duration) -> End {
        loop {
            if self.unacked > 0 {
                excuse_ping(&mut ev.state);
            }
            // Waiting PUBACKs first: they open the broker's inflight window. A `poll` dropped
            // here while waiting loses nothing (rumqttc keeps read packets and unsent bytes
            // in its state and buffers).
            let event = tokio::select! {
                biased;
                _ = stop.changed() => {
                    let _ = self.client.try_disconnect();
                    return End::Stop;
                }
                _ = self.acks.wake.notified() => {
                    if let Flow::End(end) = self.on_acks(ev).await {
                        return end;
                    }
                    continue;
                }
                e = ev.poll() => e,
            };
            if let Ok(Event::Incoming(_)) = &event {
                excuse_ping(&mut ev.state);
            }
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    *backoff = Duration::from_millis(500);
                    tracing::info!(intake = %self.name, "MQTT connected");
                    for f in &self.filters {
                        let _ = self.client.try_subscribe(f.clone(), self.qos);
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    st.metrics.mqtt_subscribed.get_or_create(&IntakeLabels { intake: self.name.to_string() }).set(1);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => match self.deliver(p, ev, st, stop).await {
                    Flow::Go => {}
                    Flow::End(end) => return end,
                },
                Ok(_) => {}
                Err(e) => {
                    log_error(&self.name, &e);
                    return End::Reconnect;
                }
            }
        }
    }

    /// The ack queue woke the task: reconnect after a failed commit, else write the PUBACKs.
    async fn on_acks(&mut self, ev: &mut EventLoop) -> Flow {
        if self.acks.failed.load(Ordering::Acquire) {
            return Flow::End(End::Reconnect);
        }
        if let Err(e) = self.write_acks(ev).await {
            tracing::warn!(intake = %self.name, "MQTT: writing acknowledgements: {e}");
            return Flow::End(End::Reconnect);
        }
        Flow::Go
    }

    /// Every waiting PUBACK into rumqttc's write buffer, then one flush (one socket write).
    async fn write_acks(&mut self, ev: &mut EventLoop) -> Result<(), String> {
        self.acks.take(&mut self.spare);
        let Some(net) = ev.network.as_mut() else {
            self.spare.clear();
            return Ok(());
        };
        self.unacked = self.unacked.saturating_sub(self.spare.len());
        let write = async {
            for pkid in self.spare.drain(..) {
                net.write(Packet::PubAck(PubAck::new(pkid))).await?;
            }
            net.flush().await
        };
        within_write_timeout(write).await
    }

    /// Parse one message into receptions and queue them (QoS 1 waits for room, QoS 0 drops
    /// when full).
    async fn deliver(&mut self, p: Publish, ev: &mut EventLoop, st: &mut State<'_>, stop: &mut watch::Receiver<bool>) -> Flow {
        let now = now_ms();
        let parsed = match st.parser.parse(st.shapes.shape_of(&p.topic), &p.payload, &p.topic, now) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(intake = %self.name, topic = %p.topic, "payload not understood, stored as rejected: {e}");
                vec![parse::Parsed::mbus(p.payload.to_vec(), LinkCrc::Auto)]
            }
        };
        let qos1 = p.qos != QoS::AtMostOnce;
        let mut acks = if qos1 { Acks::new(parsed.len(), p.pkid, &self.acks) } else { Acks::None };
        self.unacked += usize::from(qos1);
        for part in parsed {
            let (gateway, received) = st.gateways.get(part.gateway.as_deref().unwrap_or(&p.topic));
            received.inc();
            let r = parse::to_reception_at(part, &self.name, gateway, now, acks.next());
            if !qos1 {
                if !try_send_qos0(st.sink, r, st.metrics, &self.name) {
                    return Flow::End(End::Stop);
                }
                continue;
            }
            match st.sink.try_send(r) {
                Ok(()) => {}
                Err(TrySendError::Full(r)) => {
                    if let Flow::End(end) = self.wait_for_room(r, ev, st.sink, stop).await {
                        return Flow::End(end);
                    }
                }
                Err(TrySendError::Closed(_)) => return Flow::End(End::Stop),
            }
        }
        Flow::Go
    }

    /// Wait for room in the queue (the store is behind) while keeping the connection alive:
    /// the event loop is not polled meanwhile (that is the backpressure), so PUBACKs of
    /// batches committed meanwhile are written here, and a PINGREQ every half keep-alive;
    /// otherwise the broker hears nothing for a stall longer than 1.5 keep-alives and drops
    /// the connection (MQTT 3.1.1 §3.1.2.10).
    async fn wait_for_room(&mut self, r: Reception, ev: &mut EventLoop, sink: &Sink, stop: &mut watch::Receiver<bool>) -> Flow {
        let half = (ev.mqtt_options.keep_alive() / 2).max(Duration::from_secs(1));
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    let _ = self.client.try_disconnect();
                    return Flow::End(End::Stop);
                }
                _ = self.acks.wake.notified() => {
                    if let Flow::End(end) = self.on_acks(ev).await {
                        return Flow::End(end);
                    }
                }
                permit = sink.reserve() => {
                    return match permit {
                        Ok(permit) => {
                            permit.send(r);
                            Flow::Go
                        }
                        Err(_) => Flow::End(End::Stop),
                    };
                }
                _ = ping.tick() => {
                    if let Err(e) = write_ping(ev).await {
                        tracing::warn!(intake = %self.name, "MQTT: keep-alive while the store is behind: {e}");
                        return Flow::End(End::Reconnect);
                    }
                }
            }
        }
    }
}

/// A PINGREQ written straight to the socket (rumqttc's own keep-alive needs `poll`). Its
/// PINGRESP, read later by `poll`, finds no ping outstanding or answers rumqttc's: harmless.
async fn write_ping(ev: &mut EventLoop) -> Result<(), String> {
    let Some(net) = ev.network.as_mut() else { return Ok(()) };
    let write = async {
        net.write(Packet::PingReq).await?;
        net.flush().await
    };
    within_write_timeout(write).await
}

/// A socket write that must finish within [`WRITE_TIMEOUT`].
async fn within_write_timeout<E: std::fmt::Display>(write: impl std::future::Future<Output = Result<(), E>>) -> Result<(), String> {
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// What a connection does after a step.
enum Flow {
    Go,
    End(End),
}

/// Queue a reception that cannot wait (MQTT QoS 0, UDP): dropped and counted in
/// `meterlink_qos0_dropped_total{intake}` when the queue is full. False when the pipeline is
/// gone.
pub fn try_send_qos0(sink: &Sink, r: Reception, metrics: &Metrics, intake: &str) -> bool {
    match sink.try_send(r) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            metrics.qos0_dropped.get_or_create(&IntakeLabels { intake: intake.to_string() }).inc();
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

/// Excuse an unanswered PINGREQ (decisions: "MQTT keep-alive under a backlog"). Called for
/// every packet the broker sends, and before each poll while the intake holds
/// acknowledgements back.
///
/// rumqttc ends the connection when a keep-alive tick finds the last PINGREQ unanswered. But:
/// - TCP delivers in order, so the PINGRESP comes after every PUBLISH the broker sent before
///   it. With the store behind, the intake reads no faster than the store commits, and a
///   broker that sends past its in-flight window (mosquitto 2.0.11 does, measured: 10,399
///   unacknowledged with `max_inflight_messages 1000`) puts minutes of messages ahead of it.
///   The connection is plainly alive while packets arrive.
/// - A broker whose in-flight window the intake keeps full (the store stalled: nothing
///   committed, nothing acknowledged) may hold the PINGRESP back with everything else
///   (rumqttd 0.20 does).
///
/// A dead connection delivers nothing, and once the store commits the intake acknowledges
/// everything, so it is still found: at the second tick after the last packet and the last
/// acknowledgement.
pub(crate) fn excuse_ping(state: &mut MqttState) {
    state.await_pingresp = false;
}

fn log_error(name: &str, e: &ConnectionError) {
    tracing::warn!(intake = %name, "MQTT: {e}");
}

/// Unix ms now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Committed packet identifiers of one connection, waiting to be acknowledged.
#[derive(Default)]
struct AckQueue {
    pkids: Mutex<Vec<u16>>,
    /// A commit failed: the connection is to be dropped (the broker redelivers).
    failed: AtomicBool,
    /// The connection ended: acknowledgements are void.
    closed: AtomicBool,
    /// Wakes the connection task (a stored permit when it is busy: no wake-up is lost).
    wake: Notify,
}

impl AckQueue {
    /// `pkid`'s receptions are all committed.
    fn push(&self, pkid: u16) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.pkids.lock().unwrap_or_else(|p| p.into_inner());
        q.push(pkid);
        let first = q.len() == 1;
        drop(q);
        // Only the first of a run wakes the task: it takes the whole queue at once.
        if first {
            self.wake.notify_one();
        }
    }

    /// A commit failed.
    fn fail(&self) {
        if !self.failed.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    /// Swap the waiting identifiers into `out` (empty; its capacity is reused).
    fn take(&self, out: &mut Vec<u16>) {
        let mut q = self.pkids.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut *q, out);
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.pkids.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The outcome of a message's receptions.
    fn resolve(&self, pkid: u16, outcome: AckOutcome) {
        match outcome {
            AckOutcome::Committed => self.push(pkid),
            AckOutcome::Failed => self.fail(),
        }
    }
}

/// The acknowledgements handed out for the receptions of one message.
enum Acks {
    /// QoS 0: none.
    None,
    /// One reception (the common case): its [`Ack`] acknowledges the message.
    Single(u16, Arc<AckQueue>),
    /// Several: the message is acknowledged after the last commits.
    Join(Arc<JoinState>),
}

impl Acks {
    /// The acknowledgements of a QoS 1 message with `n` receptions; with none, the message
    /// (a gateway status, a fragment) is acknowledged at once.
    fn new(n: usize, pkid: u16, queue: &Arc<AckQueue>) -> Acks {
        match n {
            0 => {
                queue.push(pkid);
                Acks::None
            }
            1 => Acks::Single(pkid, queue.clone()),
            n => Acks::Join(Arc::new(JoinState { remaining: AtomicUsize::new(n), failed: AtomicBool::new(false), pkid, queue: queue.clone() })),
        }
    }

    /// The next reception's acknowledgement.
    fn next(&mut self) -> Option<Ack> {
        match std::mem::replace(self, Acks::None) {
            Acks::None => None,
            Acks::Single(pkid, q) => Some(Ack::new(move |o| q.resolve(pkid, o))),
            Acks::Join(s) => {
                *self = Acks::Join(s.clone());
                Some(Ack::new(move |o| s.resolve(o)))
            }
        }
    }
}

/// The acknowledgement of one message shared by its receptions: PUBACK after the last one
/// commits, a reconnect as soon as one fails.
struct JoinState {
    remaining: AtomicUsize,
    failed: AtomicBool,
    pkid: u16,
    queue: Arc<AckQueue>,
}

impl JoinState {
    fn resolve(&self, outcome: AckOutcome) {
        if outcome == AckOutcome::Failed {
            if !self.failed.swap(true, Ordering::SeqCst) {
                self.queue.fail();
            }
        } else if self.remaining.fetch_sub(1, Ordering::SeqCst) == 1 && !self.failed.load(Ordering::SeqCst) {
            self.queue.push(self.pkid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(pkid: u16) -> Packet {
        let mut p = Publish::new("telegrams/gw", QoS::AtLeastOnce, vec![0x2e]);
        p.pkid = pkid;
        Packet::Publish(p)
    }

    /// rumqttc's own state machine: a PUBLISH does not answer a PINGREQ (the second tick ends
    /// the connection); with `excuse_ping` applied to it, it does; with no packet at
    /// all, the second tick still ends the connection.
    #[test]
    fn traffic_answers_an_outstanding_ping() {
        use rumqttc::{PingReq, Request, StateError};
        let ping = |st: &mut MqttState| st.handle_outgoing_packet(Request::PingReq(PingReq));
        let mut backlog = MqttState::new(100, true);
        ping(&mut backlog).unwrap();
        let mut ours = backlog.clone();
        let mut dead = backlog.clone();
        backlog.handle_incoming_packet(publish(1)).unwrap();
        assert!(matches!(ping(&mut backlog), Err(StateError::AwaitPingResp)));
        ours.handle_incoming_packet(publish(1)).unwrap();
        excuse_ping(&mut ours);
        assert!(matches!(ping(&mut ours), Ok(Some(Packet::PingReq))));
        // The late PINGRESP then arrives: harmless.
        ours.handle_incoming_packet(Packet::PingResp).unwrap();
        assert!(matches!(ping(&mut dead), Err(StateError::AwaitPingResp)));
    }

    #[test]
    fn keep_alive_reaches_the_connect() {
        let cfg = MqttIntake { keep_alive_secs: 120, ..MqttIntake::default() };
        assert_eq!(options(&cfg, "w").unwrap().keep_alive(), Duration::from_secs(120));
    }

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
