//! The embedded MQTT broker (issue 15 §1 "an embedded default"): rumqttd, a real broker
//! library, listening for MQTT 3.1.1 on `[broker] listen` (127.0.0.1:1883 by default).
//!
//! rumqttd keeps every published message in an in-memory commit log (here at most
//! [`SEGMENT_BYTES`] × [`SEGMENT_COUNT`] per topic filter) and each persistent session's
//! position in it: a subscriber that connected with `clean_session = false` and went away
//! gets what it missed, and what it had not acknowledged, when it comes back, for as long as
//! the broker process lives. Nothing survives the broker process itself (use an external
//! broker with persistence, e.g. mosquitto `persistence true`, for that).
//!
//! rumqttd runs its router and listener on threads of their own and has no way to stop them:
//! the broker lives until the process ends. `meterlink-serve --broker-only [ADDR]` runs just
//! the broker, in a process of its own.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};

use crate::error::ServiceError;

/// Bytes of one commit-log segment.
pub const SEGMENT_BYTES: usize = 64 << 20;
/// Segments kept per topic filter (older ones are dropped).
pub const SEGMENT_COUNT: usize = 4;
/// rumqttd's `max_inflight_count` (its network layer's bound for one connection). Outgoing
/// QoS 1 deliveries to one subscriber are capped at 100 unacknowledged by rumqttd 0.20 itself
/// (`router/iobufs.rs`, not configurable): with ack-after-commit the embedded broker delivers
/// at most 100 messages per commit round trip to one subscriber (see docs/decisions.md).
pub const MAX_INFLIGHT: usize = 100;

/// The rumqttd configuration of the embedded broker listening on `listen`.
pub fn config(listen: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1 << 20,
        max_inflight_count: MAX_INFLIGHT,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings { name: "meterlink-v4".into(), listen, tls: None, next_connection_delay_ms: 1, connections };
    let router = RouterConfig {
        max_connections: 10_010,
        max_outgoing_packet_count: 200,
        max_segment_size: SEGMENT_BYTES,
        max_segment_count: SEGMENT_COUNT,
        ..RouterConfig::default()
    };
    Config { id: 0, router, v4: Some(HashMap::from([("1".to_string(), server)])), ..Config::default() }
}

/// Start the broker on `listen` (`host:port`) and wait until it accepts connections (10 s at
/// most).
pub fn spawn(listen: &str) -> Result<(), ServiceError> {
    let addr: SocketAddr = listen.parse().map_err(|_| ServiceError::Config { path: "broker.listen".into(), reason: format!("{listen:?} is not host:port with an IP address") })?;
    if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        return Err(ServiceError::Intake(format!("embedded broker: {addr} is in use")));
    }
    let mut broker = rumqttd::Broker::new(config(addr));
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!("embedded broker stopped: {e}");
            }
        })
        .map_err(|e| ServiceError::Io(format!("embedded broker thread: {e}")))?;
    wait_listening(addr, Duration::from_secs(10))
}

/// Poll until `addr` accepts a TCP connection.
pub fn wait_listening(addr: SocketAddr, within: Duration) -> Result<(), ServiceError> {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(ServiceError::Intake(format!("embedded broker: not listening on {addr} after {within:?}")))
}

/// `meterlink-serve --broker-only [ADDR]`: the broker alone, until the process is killed.
pub fn run_forever(listen: &str) -> Result<(), ServiceError> {
    spawn(listen)?;
    eprintln!("meterlink-serve: embedded MQTT broker on {listen}");
    loop {
        std::thread::park();
    }
}
