//! Per-gateway metrics (issue 15 §4 "... per gateway") end to end: receptions posted over HTTP
//! by two gateways into SQLite, `/metrics` scraped: stored telegrams count for the gateway of
//! their first reception, the other gateway's copy is a duplicate, a rejection and a replay
//! count for their gateway with their code.

mod ports;
mod pipeline_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use meterlink_service::config::HttpIntake;
use pipeline_common::*;
use ports::free_port;

/// One HTTP/1.1 request; (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string())
}

/// The value of the line `series value` of `/metrics` (a full series: name and labels).
fn series(text: &str, s: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(s)?.strip_prefix(' ')?.trim().parse().ok())
}

fn post(port: u16, gateway: &str, rows: &[(&str, String)]) {
    let items: Vec<String> = rows.iter().map(|(t, f)| format!(r#"{{"telegram":"{f}","gateway":"{gateway}","time":"{t}"}}"#)).collect();
    let (status, body) = http(port, "POST", "/telegrams", &format!("[{}]", items.join(",")));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn per_gateway_stored_duplicates_and_rejected_are_scraped() {
    let dir = tempdir("gw-metrics");
    key_file(&dir.join("keys.csv"), &[43_000_001, 43_000_002], KEY);
    let db = dir.join("m.db");
    let port = free_port();
    let mut c = config(&db, vec![], vec![dir.join("keys.csv")]);
    c.http = vec![HttpIntake { name: "http".into(), listen: format!("127.0.0.1:{port}") }];
    let svc = Running::start(c);
    let t = |s: u32| format!("2024-01-01T00:00:{s:02}Z");
    let f1 = hex(&frame(43_000_001, 7, Some(1), 10, 1, KEY));
    let f2 = hex(&frame(43_000_002, 7, Some(1), 20, 2, KEY));
    // Each POST is answered after its commit, so these are three batches in this order.
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    post(port, "gw-a", &[(&t(0), f1.clone()), (&t(1), f2.clone()), (&t(2), "0102".into())]);
    post(port, "gw-b", &[(&t(1), f1.clone())]);
    post(port, "gw-a", &[("2024-01-01T01:00:00Z", f2.clone())]);
    // The per-gateway counts are taken right after the acknowledgements (off their path):
    // scrape until the last batch shows.
    let mut m = String::new();
    for _ in 0..200 {
        let (status, text) = http(port, "GET", "/metrics", "");
        assert_eq!(status, 200);
        m = text;
        if m.contains("gateway_rejected_total{gateway=\"gw-a\",code=\"replayed_counter\"}") {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    svc.stop();

    let codes = rejected_codes(&db);
    assert_eq!(codes.len(), 2, "{codes:?}");
    let bad = codes.iter().find(|c| *c != "replayed_counter").unwrap();
    let want = [
        ("meterlink_gateway_stored_total{gateway=\"gw-a\"}".to_string(), Some(2.0)),
        ("meterlink_gateway_stored_total{gateway=\"gw-b\"}".to_string(), Some(0.0)),
        ("meterlink_gateway_duplicates_total{gateway=\"gw-b\"}".to_string(), Some(1.0)),
        ("meterlink_gateway_duplicates_total{gateway=\"gw-a\"}".to_string(), Some(0.0)),
        (format!("meterlink_gateway_rejected_total{{gateway=\"gw-a\",code=\"{bad}\"}}"), Some(1.0)),
        ("meterlink_gateway_rejected_total{gateway=\"gw-a\",code=\"replayed_counter\"}".to_string(), Some(1.0)),
    ];
    for (s, v) in want {
        assert_eq!(series(&m, &s), v, "{s} in\n{m}");
    }
    assert!(!m.contains("gateway_rejected_total{gateway=\"gw-b\""), "{m}");
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions")), (2, 3));
}
