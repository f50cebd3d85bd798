//! The HTTP intake and the operations endpoints over real sockets (issue 15 §1, §4): `POST
//! /telegrams` answers only after the commit (200), 503 when the store failed, 400 naming
//! every bad line; `/metrics` renders the registry, `/health` the shared status.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meterlink_service::config::HttpIntake;
use meterlink_service::intake::http::{self, HealthStatus, HttpHandle, HttpState};
use meterlink_service::metrics::Metrics;
use meterlink_service::reception::{AckOutcome, LinkCrc, Reception};
use prometheus_client::registry::Registry;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// OMS Vol. 2 Annex N, N.2.1, CRCs stripped.
const OMS_N21: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";

struct Server {
    handle: HttpHandle,
    rx: mpsc::Receiver<Reception>,
    status: Arc<HealthStatus>,
}

async fn server(queue: usize) -> Server {
    let metrics = Arc::new(Metrics::default());
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let status = Arc::new(HealthStatus::default());
    let (sink, rx) = mpsc::channel(queue);
    let state = HttpState::new("http", sink, metrics, Arc::new(registry), status.clone());
    let cfg = HttpIntake { name: "http".into(), listen: "127.0.0.1:0".into() };
    Server { handle: http::spawn(&cfg, state).await.unwrap(), rx, status }
}

/// A plain HTTP/1.1 exchange: status and body.
async fn request(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn ok_only_after_every_reception_is_committed() {
    let mut s = server(16).await;
    let addr = s.handle.local_addr;
    let committed = Arc::new(AtomicBool::new(false));
    let flag = committed.clone();
    let consumer = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(s.rx.recv().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        flag.store(true, Ordering::SeqCst);
        for r in &mut got {
            r.ack.take().unwrap().resolve(AckOutcome::Committed);
        }
        (got, s.rx)
    });
    let (status, body) = request(addr, "POST", "/telegrams?gateway=gw-7", &format!("{OMS_N21}\n0x{OMS_N21}\n")).await;
    assert!(committed.load(Ordering::SeqCst), "the answer came before the commit");
    assert_eq!((status, json(&body)["accepted"].as_u64()), (200, Some(2)));
    let (got, _) = consumer.await.unwrap();
    assert_eq!(got[0].gateway.as_ref(), "gw-7");
    assert_eq!(got[0].link_crc, LinkCrc::Stripped);
    assert_eq!(got[0].intake.as_ref(), "http");
    s.handle.shutdown().await;
}

#[tokio::test]
async fn json_objects_carry_gateway_time_and_rssi() {
    let mut s = server(16).await;
    let addr = s.handle.local_addr;
    let consumer = tokio::spawn(async move {
        let r = s.rx.recv().await.unwrap();
        let meta = (r.gateway.to_string(), r.received_at_ms, r.rssi, r.frame.len());
        r.ack.unwrap().resolve(AckOutcome::Committed);
        meta
    });
    let body = format!(r#"[{{"telegram":"{OMS_N21}","gateway":"roof-3","time":"2024-03-01T10:00:00Z","rssi":-71}}]"#);
    let (status, _) = request(addr, "POST", "/telegrams", &body).await;
    assert_eq!(status, 200);
    assert_eq!(consumer.await.unwrap(), ("roof-3".to_string(), 1_709_287_200_000, Some(-71.0), 47));
}

#[tokio::test]
async fn store_failure_is_503() {
    let mut s = server(16).await;
    let addr = s.handle.local_addr;
    tokio::spawn(async move {
        let r = s.rx.recv().await.unwrap();
        r.ack.unwrap().resolve(AckOutcome::Failed);
    });
    let (status, body) = request(addr, "POST", "/telegrams", OMS_N21).await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn bad_lines_are_400_each_named_and_nothing_is_taken() {
    let mut s = server(16).await;
    let body = format!("{OMS_N21}\n2E44ZZ\n{OMS_N21}\nABC\n");
    let (status, body) = request(s.handle.local_addr, "POST", "/telegrams?parser=hex", &body).await;
    assert_eq!(status, 400);
    let errors = json(&body)["errors"].as_array().unwrap().clone();
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4]);
    assert!(errors[1]["error"].as_str().unwrap().contains("odd"));
    assert!(s.rx.try_recv().is_err(), "a rejected request queues nothing");
    let (status, _) = request(s.handle.local_addr, "POST", "/telegrams?parser=nope", OMS_N21).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn any_shape_with_parser_query() {
    let mut s = server(16).await;
    let addr = s.handle.local_addr;
    let consumer = tokio::spawn(async move {
        let r = s.rx.recv().await.unwrap();
        let f = r.frame.clone();
        r.ack.unwrap().resolve(AckOutcome::Committed);
        f
    });
    // rtl_wmbus output line (rtl_433 issue #3400).
    let line = "T1;1;1;2025-11-11 00:02:32.480483;170;179;A15EFC53;0x1944304c53fc5ea12404a2611940133e55d1a7a23ad208ba62c7";
    let (status, _) = request(addr, "POST", "/telegrams?parser=rtl-wmbus", line).await;
    assert_eq!(status, 200);
    assert_eq!(consumer.await.unwrap()[..2], [0x19, 0x44]);
}

#[tokio::test]
async fn metrics_and_health() {
    let mut s = server(8).await;
    let addr = s.handle.local_addr;
    let consumer = tokio::spawn(async move {
        let r = s.rx.recv().await.unwrap();
        r.ack.unwrap().resolve(AckOutcome::Committed);
        s.rx
    });
    assert_eq!(request(addr, "POST", "/telegrams?gateway=g1", OMS_N21).await.0, 200);
    let _rx = consumer.await.unwrap();
    let (status, text) = request(addr, "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(text.contains("meterlink_received_total{intake=\"http\",gateway=\"g1\"} 1"), "{text}");
    assert!(text.contains("# EOF"), "OpenMetrics text ends with # EOF");

    let (status, body) = request(addr, "GET", "/health", "").await;
    let h = json(&body);
    assert_eq!((status, h["status"].as_str(), h["queue_depth"].as_u64(), h["queue_capacity"].as_u64()), (200, Some("ok"), Some(0), Some(8)));
    assert!(h["last_commit_age_ms"].is_null(), "no commit reported yet");
    s.status.committed(meterlink_now() - 1500);
    let h = json(&request(addr, "GET", "/health", "").await.1);
    assert!(h["last_commit_age_ms"].as_i64().unwrap() >= 1500);
    s.status.store_failed();
    let (status, body) = request(addr, "GET", "/health", "").await;
    assert_eq!((status, json(&body)["store_ok"].as_bool()), (503, Some(false)));
}

fn meterlink_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
