//! TCP and UDP line intakes over real sockets (issue 15 §1): hex and rtl_wmbus lines arrive
//! as receptions named after the intake; UDP drops on a full queue are counted.

use std::sync::Arc;
use std::time::Duration;

use meterlink_service::config::LineIntake;
use meterlink_service::intake::lines;
use meterlink_service::metrics::{IntakeLabels, Metrics};
use meterlink_service::reception::{LinkCrc, Reception};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// OMS Vol. 2 Annex N, N.2.1, CRCs stripped.
const OMS_N21: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";
/// rtl_wmbus lines quoted in rtl_433 issue #3400.
const RTL_WMBUS: &str = "T1;1;1;2025-11-11 00:02:32.480483;170;179;A15EFC53;0x1944304c53fc5ea12404a2611940133e55d1a7a23ad208ba62c7";

fn cfg(name: &str, parser: &str) -> LineIntake {
    LineIntake { name: name.into(), listen: "127.0.0.1:0".into(), parser: parser.into() }
}

async fn take(rx: &mut mpsc::Receiver<Reception>, n: usize) -> Vec<Reception> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(timeout(Duration::from_secs(5), rx.recv()).await.expect("a reception").unwrap());
    }
    out
}

#[tokio::test]
async fn tcp_lines_become_receptions() {
    let (sink, mut rx) = mpsc::channel(16);
    let h = lines::spawn_tcp(&cfg("rtl-roof", "auto"), sink, Arc::new(Metrics::default())).await.unwrap();
    let mut c = tokio::net::TcpStream::connect(h.local_addr).await.unwrap();
    c.write_all(format!("{OMS_N21}\r\n\n{RTL_WMBUS}\n").as_bytes()).await.unwrap();
    c.shutdown().await.unwrap();
    let got = take(&mut rx, 2).await;
    assert_eq!(got[0].frame.len(), 47);
    assert_eq!(got[0].link_crc, LinkCrc::Stripped);
    assert_eq!(got[1].frame[..2], [0x19, 0x44]);
    assert_eq!(got[1].received_at_ms, 1_762_819_352_480);
    assert!(got.iter().all(|r| r.gateway.as_ref() == "rtl-roof" && r.intake.as_ref() == "rtl-roof" && r.ack.is_none()));
    h.shutdown().await;
}

#[tokio::test]
async fn a_line_that_does_not_parse_is_still_delivered_for_the_rejected_table() {
    let (sink, mut rx) = mpsc::channel(16);
    let h = lines::spawn_tcp(&cfg("t", "hex"), sink, Arc::new(Metrics::default())).await.unwrap();
    let mut c = tokio::net::TcpStream::connect(h.local_addr).await.unwrap();
    c.write_all(b"not hex at all\n").await.unwrap();
    let got = take(&mut rx, 1).await;
    assert_eq!(got[0].frame, b"not hex at all");
    assert_eq!(got[0].link_crc, LinkCrc::Auto);
    h.shutdown().await;
}

#[tokio::test]
async fn udp_datagram_of_several_lines() {
    let (sink, mut rx) = mpsc::channel(16);
    let h = lines::spawn_udp(&cfg("udp-gw", "auto"), sink, Arc::new(Metrics::default())).await.unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(format!("{OMS_N21}\n{OMS_N21}\n").as_bytes(), h.local_addr).await.unwrap();
    let got = take(&mut rx, 2).await;
    assert!(got.iter().all(|r| r.frame.len() == 47 && r.gateway.as_ref() == "udp-gw"));
    h.shutdown().await;
}

#[tokio::test]
async fn udp_drops_on_a_full_queue_are_counted() {
    let metrics = Arc::new(Metrics::default());
    let (sink, mut rx) = mpsc::channel(1);
    let h = lines::spawn_udp(&cfg("udp-full", "hex"), sink, metrics.clone()).await.unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(format!("{OMS_N21}\n{OMS_N21}\n{OMS_N21}\n").as_bytes(), h.local_addr).await.unwrap();
    let first = take(&mut rx, 1).await;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(metrics.qos0_dropped.get_or_create(&IntakeLabels { intake: "udp-full".into() }).get(), 2);
    h.shutdown().await;
}
