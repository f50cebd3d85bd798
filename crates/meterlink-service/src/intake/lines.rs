//! TCP and UDP line intakes (issue 15 §1): one telegram per line, hex or rtl_wmbus output
//! (`rtl_sdr ... | rtl_wmbus | nc host port`), or another line shape (`parser`). The
//! receptions are named after the intake (its `name` is the gateway).
//!
//! - TCP: any number of connections; a full queue stops the reading (TCP flow control
//!   pushes back on the sender). Lines are at most [`MAX_LINE`] bytes.
//! - UDP: one datagram holds one or more lines; a datagram cannot wait, so when the queue is
//!   full its receptions are dropped and counted in `meterlink_qos0_dropped_total{intake}`.
//!
//! A line no parser understands is still delivered as its bytes, for the pipeline to store in
//! `rejected`. Neither transport acknowledges anything.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::mqtt::{now_ms, try_send_qos0};
use super::parse::{self, Parsed, Parser, Shape};
use super::Sink;
use crate::config::LineIntake;
use crate::error::ServiceError;
use crate::metrics::Metrics;
use crate::reception::{LinkCrc, Reception};

/// Longest line taken (bytes); a longer one is cut there and rejected.
pub const MAX_LINE: usize = 64 * 1024;

/// A running line intake.
pub struct LinesHandle {
    /// Where it listens.
    pub local_addr: SocketAddr,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl LinesHandle {
    /// Stop listening and wait.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// What a line becomes: its receptions, or the raw line when it does not parse.
fn receptions(parser: &mut Parser, shape: Shape, name: &Arc<str>, line: &[u8], metrics: &Metrics) -> Vec<Reception> {
    let now = now_ms();
    let parts = parser.parse(shape, line, "", now).unwrap_or_else(|e| {
        tracing::warn!(intake = %name, "line not understood, stored as rejected: {e}");
        vec![Parsed::mbus(line.to_vec(), LinkCrc::Auto)]
    });
    parts
        .into_iter()
        .map(|p| {
            let r = parse::to_reception(p, name, name, now, None);
            metrics.received_for(name, &r.gateway).inc();
            r
        })
        .collect()
}

fn shape_of(cfg: &LineIntake, kind: &str) -> Result<Shape, ServiceError> {
    cfg.parser.parse().map_err(|e: parse::ParseError| ServiceError::Config { path: format!("{kind}[{}].parser", cfg.name), reason: e.reason })
}

/// Listen for TCP connections on `cfg.listen`.
pub async fn spawn_tcp(cfg: &LineIntake, sink: Sink, metrics: Arc<Metrics>) -> Result<LinesHandle, ServiceError> {
    let shape = shape_of(cfg, "tcp")?;
    let listener = TcpListener::bind(&cfg.listen).await.map_err(|e| ServiceError::Intake(format!("tcp {}: {e}", cfg.listen)))?;
    let local_addr = listener.local_addr().map_err(|e| ServiceError::Io(e.to_string()))?;
    let name: Arc<str> = cfg.name.as_str().into();
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                a = listener.accept() => match a {
                    Ok((stream, _)) => {
                        let (name, sink, metrics, stop) = (name.clone(), sink.clone(), metrics.clone(), stop_rx.clone());
                        tokio::spawn(tcp_connection(stream, shape, name, sink, metrics, stop));
                    }
                    Err(e) => tracing::warn!(intake = %name, "tcp accept: {e}"),
                },
                _ = stop_rx.changed() => break,
            }
        }
    });
    Ok(LinesHandle { local_addr, task, stop })
}

/// Read lines until the peer closes (or the intake stops); each line waits for queue room.
async fn tcp_connection(stream: TcpStream, shape: Shape, name: Arc<str>, sink: Sink, metrics: Arc<Metrics>, mut stop: watch::Receiver<bool>) {
    let mut reader = BufReader::new(stream);
    let mut parser = Parser::default();
    let mut buf = Vec::with_capacity(512);
    loop {
        buf.clear();
        let mut limited = (&mut reader).take(MAX_LINE as u64);
        let read = tokio::select! {
            r = limited.read_until(b'\n', &mut buf) => r,
            _ = stop.changed() => return,
        };
        match read {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(intake = %name, "tcp read: {e}");
                return;
            }
        }
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        for r in receptions(&mut parser, shape, &name, line, &metrics) {
            if sink.send(r).await.is_err() {
                return;
            }
        }
    }
}

/// Receive datagrams on `cfg.listen`.
pub async fn spawn_udp(cfg: &LineIntake, sink: Sink, metrics: Arc<Metrics>) -> Result<LinesHandle, ServiceError> {
    let shape = shape_of(cfg, "udp")?;
    let socket = UdpSocket::bind(&cfg.listen).await.map_err(|e| ServiceError::Intake(format!("udp {}: {e}", cfg.listen)))?;
    let local_addr = socket.local_addr().map_err(|e| ServiceError::Io(e.to_string()))?;
    let name: Arc<str> = cfg.name.as_str().into();
    let (stop, mut stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut parser = Parser::default();
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = tokio::select! {
                r = socket.recv_from(&mut buf) => match r {
                    Ok((n, _)) => n,
                    Err(e) => { tracing::warn!(intake = %name, "udp: {e}"); continue; }
                },
                _ = stop_rx.changed() => break,
            };
            for line in buf[..n].split(|&b| b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()) {
                for r in receptions(&mut parser, shape, &name, line, &metrics) {
                    if !try_send_qos0(&sink, r, &metrics, &name) {
                        return;
                    }
                }
            }
        }
    });
    Ok(LinesHandle { local_addr, task, stop })
}
