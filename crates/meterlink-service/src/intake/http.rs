//! The HTTP intake (issue 15 §1) and the operations endpoints (§4), on axum:
//!
//! - `POST /telegrams[?parser=NAME&gateway=NAME]`: a JSON object or array
//!   (`{"telegram": hex, "gateway": .., "time": .., "rssi": ..}`), any payload shape with
//!   `?parser=`, or text with one hex telegram per line. The answer waits for the commit:
//!   `200 {"accepted": n}` once every reception is committed, `503` when the store failed (or
//!   the pipeline is gone), `400 {"errors": [{"line": n, "error": ..}]}` naming every line that
//!   does not parse — and then nothing of the request is taken (all or nothing, so a client
//!   can fix and resend the whole body).
//! - `GET /metrics`: the Prometheus registry in the OpenMetrics text format.
//! - `GET /health`: `200` (or `503` while the store fails) with [`HealthStatus`] as JSON:
//!   `{"status", "queue_depth", "queue_capacity", "store_ok", "last_commit_age_ms"}`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::mqtt::now_ms;
use super::parse::{self, ParseError, Parsed, Parser, Shape};
use super::Sink;
use crate::config::HttpIntake;
use crate::error::ServiceError;
use crate::metrics::Metrics;
use crate::reception::{Ack, AckOutcome};

/// What `/health` reports, shared with the pipeline: it calls [`HealthStatus::committed`]
/// after each commit and [`HealthStatus::store_failed`] when a write fails. Queue depth comes
/// from the [`Sink`] itself.
#[derive(Debug)]
pub struct HealthStatus {
    store_ok: AtomicBool,
    /// Unix ms of the last commit; 0 = none yet.
    last_commit_ms: AtomicI64,
}

impl Default for HealthStatus {
    fn default() -> Self {
        HealthStatus { store_ok: AtomicBool::new(true), last_commit_ms: AtomicI64::new(0) }
    }
}

impl HealthStatus {
    /// A batch committed at `now_ms`: the store is fine.
    pub fn committed(&self, now_ms: i64) {
        self.last_commit_ms.store(now_ms, Ordering::Relaxed);
        self.store_ok.store(true, Ordering::Relaxed);
    }

    /// A write failed.
    pub fn store_failed(&self) {
        self.store_ok.store(false, Ordering::Relaxed);
    }

    /// Whether the last write succeeded.
    pub fn store_ok(&self) -> bool {
        self.store_ok.load(Ordering::Relaxed)
    }

    /// Age of the last commit at `now_ms`, None before the first.
    pub fn last_commit_age_ms(&self, now_ms: i64) -> Option<i64> {
        let t = self.last_commit_ms.load(Ordering::Relaxed);
        (t > 0).then(|| (now_ms - t).max(0))
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The intake's name.
    pub name: Arc<str>,
    /// The pipeline's queue.
    pub sink: Sink,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The registry `/metrics` renders.
    pub registry: Arc<Registry>,
    /// `/health`.
    pub status: Arc<HealthStatus>,
    /// Payload shapes (with LoRaWAN fragment state across requests).
    parser: Arc<Mutex<Parser>>,
}

impl HttpState {
    /// The state of one HTTP intake.
    pub fn new(name: &str, sink: Sink, metrics: Arc<Metrics>, registry: Arc<Registry>, status: Arc<HealthStatus>) -> Self {
        HttpState { name: name.into(), sink, metrics, registry, status, parser: Arc::default() }
    }
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/telegrams", post(telegrams))
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(state)
}

/// A running HTTP server.
pub struct HttpHandle {
    /// Where it listens (the port is known even when configured as 0).
    pub local_addr: std::net::SocketAddr,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl HttpHandle {
    /// Stop accepting, let requests in progress finish, and wait.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Bind `cfg.listen` and serve.
pub async fn spawn(cfg: &HttpIntake, state: HttpState) -> Result<HttpHandle, ServiceError> {
    let listener = tokio::net::TcpListener::bind(&cfg.listen).await.map_err(|e| ServiceError::Intake(format!("http {}: {e}", cfg.listen)))?;
    let local_addr = listener.local_addr().map_err(|e| ServiceError::Io(e.to_string()))?;
    let (stop, mut stop_rx) = watch::channel(false);
    let app = router(state);
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = stop_rx.changed().await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
            tracing::error!("http: {e}");
        }
    });
    Ok(HttpHandle { local_addr, task, stop })
}

async fn metrics(State(s): State<HttpState>) -> Response {
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &s.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}

async fn health(State(s): State<HttpState>) -> Response {
    let cap = s.sink.max_capacity();
    let depth = cap - s.sink.capacity();
    let ok = s.status.store_ok();
    let body = json!({
        "status": if ok { "ok" } else { "store_failing" },
        "queue_depth": depth,
        "queue_capacity": cap,
        "store_ok": ok,
        "last_commit_age_ms": s.status.last_commit_age_ms(now_ms()),
    });
    (if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body)).into_response()
}

async fn telegrams(State(s): State<HttpState>, Query(q): Query<HashMap<String, String>>, body: Bytes) -> Response {
    let shape = match q.get("parser").map(|p| p.parse::<Shape>()).transpose() {
        Ok(shape) => shape.unwrap_or(Shape::Auto),
        Err(e) => return bad_request(vec![e]),
    };
    let gateway = q.get("gateway").cloned().unwrap_or_else(|| s.name.to_string());
    let now = now_ms();
    let parsed = {
        let mut parser = s.parser.lock().unwrap_or_else(|p| p.into_inner());
        parse_body(&mut parser, shape, &body, now)
    };
    match parsed {
        Ok(parts) => commit(&s, parts, &gateway, now).await,
        Err(errors) => bad_request(errors),
    }
}

/// Line-oriented bodies are parsed line by line so that every bad line is named; a JSON
/// document (object, array) or a binary body as a whole.
fn parse_body(parser: &mut Parser, shape: Shape, body: &[u8], now: i64) -> Result<Vec<Parsed>, Vec<ParseError>> {
    let shape = if shape == Shape::Auto { parse::detect(body, "") } else { shape };
    let per_line = matches!(shape, Shape::Hex | Shape::RtlWmbus) || (shape == Shape::Wmbusmeters && serde_json::from_slice::<serde_json::Value>(body).is_err());
    let text = std::str::from_utf8(body).ok().filter(|_| per_line);
    let Some(text) = text else { return parser.parse(shape, body, "", now).map_err(|e| vec![e]) };
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match parser.parse(shape, line.as_bytes(), "", now) {
            Ok(v) => out.extend(v),
            Err(e) => errors.push(ParseError { line: Some(i + 1), reason: e.reason }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn bad_request(errors: Vec<ParseError>) -> Response {
    let errors: Vec<_> = errors.iter().map(|e| json!({"line": e.line, "error": e.reason})).collect();
    (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response()
}

/// Queue every reception with an acknowledgement, then wait for all of them.
async fn commit(s: &HttpState, parts: Vec<Parsed>, gateway: &str, now: i64) -> Response {
    let n = parts.len();
    let mut waits = Vec::with_capacity(n);
    for p in parts {
        let (tx, rx) = oneshot::channel();
        let ack = Ack::new(move |o| {
            let _ = tx.send(o);
        });
        let r = parse::to_reception(p, &s.name, gateway, now, Some(ack));
        s.metrics.received_for(&s.name, &r.gateway).inc();
        if s.sink.send(r).await.is_err() {
            return unavailable("the pipeline is not running");
        }
        waits.push(rx);
    }
    for w in waits {
        match w.await {
            Ok(AckOutcome::Committed) => {}
            Ok(AckOutcome::Failed) => return unavailable("the store failed: send the request again (what was stored is not stored twice)"),
            Err(_) => return unavailable("the pipeline stopped before the commit"),
        }
    }
    (StatusCode::OK, Json(json!({ "accepted": n }))).into_response()
}

fn unavailable(why: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": why }))).into_response()
}
