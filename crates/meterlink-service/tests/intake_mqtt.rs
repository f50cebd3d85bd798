//! The MQTT intake against real brokers (issue 15 §1, §4 at-least-once): the embedded rumqttd
//! broker, and Debian's mosquitto when it is installed (started here on a free port; the
//! mosquitto tests skip, saying so, when the binary is missing).
//!
//! A test consumer stands in for the pipeline: it takes receptions from the queue and resolves
//! their acknowledgements late, or not at all, to check that a QoS 1 message is acknowledged
//! only after its commit and redelivered otherwise.

mod ports;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use meterlink_service::config::MqttIntake;
use meterlink_service::intake::{broker, mqtt};
use meterlink_service::metrics::Metrics;
use meterlink_service::reception::{AckOutcome, Reception};
use rumqttc::{AsyncClient, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;
use tokio::time::timeout;
use ports::free_port;

/// OMS Vol. 2 Annex N, N.2.1 (CRCs stripped): the telegram every message carries, with its
/// access number (byte 11) set to the message's index so that each message is distinct.
const OMS_N21: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";

fn telegram(i: u8) -> String {
    let mut t = OMS_N21.to_string();
    t.replace_range(22..24, &format!("{i:02X}"));
    t
}

fn access_number(r: &Reception) -> u8 {
    r.frame[11]
}

/// The embedded broker on a free port (it lives as long as the test process).
fn embedded_broker() -> u16 {
    let port = free_port();
    broker::spawn(&format!("127.0.0.1:{port}")).expect("embedded broker");
    port
}

/// A mosquitto started by the test, killed on drop (its configuration directory after it).
struct Mosquitto {
    child: Child,
    _dir: tempdir::Dir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!("meterlink-{tag}-{}-{}", std::process::id(), super::free_port()));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn mosquitto_bin() -> Option<&'static str> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// mosquitto on a free port with `extra` configuration lines; None (and a note) without it.
fn mosquitto(extra: &str) -> Option<(Mosquitto, u16)> {
    let Some(bin) = mosquitto_bin() else {
        eprintln!("SKIP: mosquitto is not installed (apt-get install mosquitto)");
        return None;
    };
    let port = free_port();
    let dir = tempdir::Dir::new("mosquitto");
    let conf = dir.0.join("mosquitto.conf");
    let anonymous = if extra.contains("allow_anonymous") { "" } else { "allow_anonymous true\n" };
    std::fs::write(&conf, format!("user root\npersistence false\nlistener {port} 127.0.0.1\n{anonymous}{extra}\n")).unwrap();
    let child = Command::new(bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    broker::wait_listening(format!("127.0.0.1:{port}").parse().unwrap(), Duration::from_secs(10)).expect("mosquitto listening");
    Some((Mosquitto { child, _dir: dir }, port))
}

fn intake(port: u16, client_id: &str) -> MqttIntake {
    MqttIntake {
        name: "mqtt".into(),
        url: format!("mqtt://127.0.0.1:{port}"),
        topics: vec!["telegrams/#".into()],
        client_id: Some(client_id.into()),
        default_parser: "hex".into(),
        ..MqttIntake::default()
    }
}

/// Publish `msgs` (topic, payload) at QoS 1 and wait until the broker acknowledged them all.
async fn publish(opts: MqttOptions, msgs: Vec<(String, String)>) {
    let (client, mut ev) = AsyncClient::new(opts, 100);
    let n = msgs.len();
    let pub_task = tokio::spawn(async move {
        for (t, p) in msgs {
            client.publish(t, QoS::AtLeastOnce, false, p).await.unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < n {
        let e = timeout(Duration::from_secs(30), ev.poll()).await.expect("publisher stalled").expect("publisher");
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e {
            acked += 1;
        }
    }
    let client = pub_task.await.unwrap();
    let _ = client.disconnect().await;
}

fn publisher(port: u16, id: &str) -> MqttOptions {
    MqttOptions::new(id, "127.0.0.1", port)
}

async fn recv(rx: &mut mpsc::Receiver<Reception>, within: Duration) -> Option<Reception> {
    timeout(within, rx.recv()).await.ok().flatten()
}

/// Take receptions until `quiet` passes without one.
async fn drain(rx: &mut mpsc::Receiver<Reception>, quiet: Duration) -> Vec<Reception> {
    let mut out = Vec::new();
    while let Some(r) = recv(rx, quiet).await {
        out.push(r);
    }
    out
}

/// Round 1 commits the first `acked` messages (each after a delay) and leaves the others
/// unacknowledged; the intake stops. Round 2, same client id: the broker must redeliver
/// exactly the unacknowledged ones.
async fn redelivers_unacknowledged(port: u16, client_id: &str) {
    let metrics = Arc::new(Metrics::default());
    let (sink, mut rx) = mpsc::channel(64);
    // Round 0: subscribe once so that the persistent session exists before publishing.
    let h = mqtt::spawn(intake(port, client_id), "w", sink.clone(), metrics.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let msgs: Vec<_> = (0..20u8).map(|i| (format!("telegrams/gw{}", i % 3), telegram(i))).collect();
    publish(publisher(port, &format!("{client_id}-pub")), msgs).await;
    let first = drain(&mut rx, Duration::from_millis(1500)).await;
    assert_eq!(first.len(), 20, "every message arrives once before any acknowledgement");
    assert_eq!(first[0].gateway.as_ref(), "telegrams/gw0", "the topic names the gateway");
    let mut late = Vec::new();
    for r in first {
        if access_number(&r) < 12 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            r.ack.unwrap().resolve(AckOutcome::Committed);
        } else {
            late.push(r);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.shutdown().await;
    // Acknowledging after the connection is gone must not reach the broker.
    for r in late {
        r.ack.unwrap().resolve(AckOutcome::Committed);
    }
    let h = mqtt::spawn(intake(port, client_id), "w", sink, metrics).unwrap();
    let again = drain(&mut rx, Duration::from_millis(3000)).await;
    let got: BTreeSet<u8> = again.iter().map(access_number).collect();
    assert_eq!(got, (12..20).collect::<BTreeSet<u8>>(), "exactly the unacknowledged messages come back");
    for r in again {
        r.ack.unwrap().resolve(AckOutcome::Committed);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_redelivers_what_was_not_committed() {
    let port = embedded_broker();
    redelivers_unacknowledged(port, "persist-embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_redelivers_what_was_not_committed() {
    let Some((_m, port)) = mosquitto("") else { return };
    redelivers_unacknowledged(port, "persist-mosquitto").await;
}

/// A failed commit makes the intake reconnect, and the broker sends the message again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_redelivered() {
    let port = embedded_broker();
    let (sink, mut rx) = mpsc::channel(64);
    let h = mqtt::spawn(intake(port, "fail-once"), "w", sink, Arc::new(Metrics::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(publisher(port, "fail-pub"), vec![("telegrams/gw".into(), telegram(7))]).await;
    let r = recv(&mut rx, Duration::from_secs(5)).await.expect("delivered");
    r.ack.unwrap().resolve(AckOutcome::Failed);
    let r = recv(&mut rx, Duration::from_secs(10)).await.expect("redelivered after the failure");
    assert_eq!(access_number(&r), 7);
    r.ack.unwrap().resolve(AckOutcome::Committed);
    assert!(recv(&mut rx, Duration::from_millis(1500)).await.is_none(), "committed: not sent again");
    h.shutdown().await;
}

/// Two intakes in one `$share` group split the messages between them: each gets some, none
/// is delivered twice, none lost.
async fn share_splits(port: u16) {
    let metrics = Arc::new(Metrics::default());
    let (sink_a, mut rx_a) = mpsc::channel(64);
    let (sink_b, mut rx_b) = mpsc::channel(64);
    let shared = |id: &str| MqttIntake { share_group: Some("meterlink".into()), persistent_session: false, ..intake(port, id) };
    let a = mqtt::spawn(shared("share-a"), "a", sink_a, metrics.clone()).unwrap();
    let b = mqtt::spawn(shared("share-b"), "b", sink_b, metrics).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    publish(publisher(port, "share-pub"), (0..40u8).map(|i| ("telegrams/x".to_string(), telegram(i))).collect()).await;
    let (ga, gb) = (drain(&mut rx_a, Duration::from_millis(1500)).await, drain(&mut rx_b, Duration::from_millis(300)).await);
    let all: Vec<u8> = ga.iter().chain(&gb).map(access_number).collect();
    assert!(!ga.is_empty() && !gb.is_empty(), "both members get messages ({} / {})", ga.len(), gb.len());
    assert_eq!(all.len(), 40, "no message twice");
    assert_eq!(all.iter().copied().collect::<BTreeSet<u8>>(), (0..40).collect());
    for r in ga.into_iter().chain(gb) {
        r.ack.unwrap().resolve(AckOutcome::Committed);
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_share_group_splits_messages() {
    share_splits(embedded_broker()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_share_group_splits_messages() {
    let Some((_m, port)) = mosquitto("") else { return };
    share_splits(port).await;
}

/// QoS 0 with a full queue: dropped and counted, the intake keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_drops_are_counted_when_the_queue_is_full() {
    let port = embedded_broker();
    let metrics = Arc::new(Metrics::default());
    let (sink, mut rx) = mpsc::channel(2);
    let cfg = MqttIntake { qos: 0, persistent_session: false, ..intake(port, "qos0") };
    let h = mqtt::spawn(cfg, "w", sink, metrics.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(publisher(port, "qos0-pub"), (0..10u8).map(|i| ("telegrams/q".to_string(), telegram(i))).collect()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = drain(&mut rx, Duration::from_millis(300)).await;
    assert_eq!(got.len(), 2, "the queue holds two");
    assert!(got.iter().all(|r| r.ack.is_none()), "QoS 0 needs no acknowledgement");
    let dropped = metrics.qos0_dropped.get_or_create(&meterlink_service::metrics::IntakeLabels { intake: "mqtt".into() }).get();
    assert_eq!(dropped, 8);
    h.shutdown().await;
}

/// QoS 1 with a full queue: nothing is dropped, the intake waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_waits_for_room_instead_of_dropping() {
    let port = embedded_broker();
    let (sink, mut rx) = mpsc::channel(2);
    let h = mqtt::spawn(intake(port, "qos1-wait"), "w", sink, Arc::new(Metrics::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    publish(publisher(port, "qos1-wait-pub"), (0..10u8).map(|i| ("telegrams/q".to_string(), telegram(i))).collect()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = BTreeSet::new();
    while let Some(r) = recv(&mut rx, Duration::from_millis(1000)).await {
        seen.insert(access_number(&r));
        r.ack.unwrap().resolve(AckOutcome::Committed);
    }
    assert_eq!(seen, (0..10).collect());
    h.shutdown().await;
}

/// Certificates for the TLS test: a CA, a server certificate for 127.0.0.1/localhost signed by
/// it, and a client certificate for mutual TLS, all made here with rcgen.
struct Pki {
    dir: tempdir::Dir,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = tempdir::Dir::new("pki");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "meterlink test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.0.join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.0.join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf(vec!["127.0.0.1".into(), "localhost".into()], "server");
        leaf(vec!["meterlink-client".into()], "client");
        std::fs::write(dir.0.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.0.join(f)
    }
}

/// `mqtts://` with a CA file and a client certificate, against mosquitto requiring both (the
/// embedded broker is built without TLS: it listens on localhost only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_own_ca_and_client_certificate() {
    let pki = Pki::new();
    let extra = format!(
        "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
        pki.path("ca.pem").display(),
        pki.path("server.pem").display(),
        pki.path("server.key").display()
    );
    let Some((_m, port)) = mosquitto(&extra) else { return };
    let cfg = MqttIntake {
        url: format!("mqtts://127.0.0.1:{port}"),
        ca_file: Some(pki.path("ca.pem")),
        client_cert: Some(pki.path("client.pem")),
        client_key: Some(pki.path("client.key")),
        ..intake(port, "tls-sub")
    };
    let (sink, mut rx) = mpsc::channel(8);
    let h = mqtt::spawn(cfg, "w", sink, Arc::new(Metrics::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let read = |f: &str| std::fs::read(pki.path(f)).unwrap();
    let mut opts = publisher(port, "tls-pub");
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
        ca: read("ca.pem"),
        alpn: None,
        client_auth: Some((read("client.pem"), read("client.key"))),
    }));
    publish(opts, vec![("telegrams/tls".into(), telegram(3))]).await;
    let r = recv(&mut rx, Duration::from_secs(5)).await.expect("delivered over TLS");
    assert_eq!(access_number(&r), 3);
    r.ack.unwrap().resolve(AckOutcome::Committed);
    h.shutdown().await;

    // Without the client certificate the broker refuses the connection: nothing arrives.
    let cfg = MqttIntake { url: format!("mqtts://127.0.0.1:{port}"), ca_file: Some(pki.path("ca.pem")), ..intake(port, "tls-nocert") };
    let (sink, mut rx) = mpsc::channel(8);
    let h = mqtt::spawn(cfg, "w", sink, Arc::new(Metrics::default())).unwrap();
    assert!(recv(&mut rx, Duration::from_millis(1500)).await.is_none());
    h.shutdown().await;
}

/// Username and password: mosquitto with a password file accepts the right ones only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn username_and_password() {
    if mosquitto_bin().is_none() || !std::path::Path::new("/usr/bin/mosquitto_passwd").exists() {
        eprintln!("SKIP: mosquitto / mosquitto_passwd not installed");
        return;
    }
    let dir = tempdir::Dir::new("passwd");
    let pw = dir.0.join("passwd");
    let ok = Command::new("/usr/bin/mosquitto_passwd").args(["-b", "-c"]).arg(&pw).args(["gw", "s3cret"]).status().unwrap();
    assert!(ok.success());
    let Some((_m, port)) = mosquitto(&format!("allow_anonymous false\npassword_file {}", pw.display())) else { return };
    let (sink, mut rx) = mpsc::channel(8);
    let cfg = MqttIntake { username: Some("gw".into()), password: Some("s3cret".into()), ..intake(port, "auth-sub") };
    let h = mqtt::spawn(cfg, "w", sink, Arc::new(Metrics::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut opts = publisher(port, "auth-pub");
    opts.set_credentials("gw", "s3cret");
    publish(opts, vec![("telegrams/a".into(), telegram(5))]).await;
    let r = recv(&mut rx, Duration::from_secs(5)).await.expect("delivered with credentials");
    r.ack.unwrap().resolve(AckOutcome::Committed);
    h.shutdown().await;
}

/// `meterlink-serve --broker-only ADDR` runs the embedded broker in a process of its own; a
/// persistent subscriber that is away while messages are published gets them when it comes
/// back (the broker keeps them while its process lives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_only_process_keeps_messages_for_an_absent_persistent_subscriber() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meterlink-serve"))
        .args(["--broker-only", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    broker::wait_listening(format!("127.0.0.1:{port}").parse().unwrap(), Duration::from_secs(10)).expect("broker process listening");
    let (sink, mut rx) = mpsc::channel(16);
    let metrics = Arc::new(Metrics::default());
    let h = mqtt::spawn(intake(port, "absent"), "w", sink.clone(), metrics.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.shutdown().await;
    publish(publisher(port, "absent-pub"), (0..5u8).map(|i| ("telegrams/z".to_string(), telegram(i))).collect()).await;
    let h = mqtt::spawn(intake(port, "absent"), "w", sink, metrics).unwrap();
    let got = drain(&mut rx, Duration::from_millis(2000)).await;
    assert_eq!(got.iter().map(access_number).collect::<BTreeSet<u8>>(), (0..5).collect());
    for r in got {
        r.ack.unwrap().resolve(AckOutcome::Committed);
    }
    h.shutdown().await;
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------
// Benchmarks (issue 15 §5), ignored: `benches/bench_service_mqtt.sh` runs them in a release
// build. Rates are printed side by side, `BENCH ...` lines; nothing about speed is asserted.
// The consumer stands in for the pipeline: it takes what is queued (up to 4,096 at a time)
// and resolves every acknowledgement at once, as a commit of that batch would.

fn bench_n() -> usize {
    std::env::var("BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// mosquitto for the benchmarks: unbounded session queue, `BENCH_INFLIGHT` (default 1,000)
/// unacknowledged QoS 1 messages in flight per client, the same for both subscribers.
fn bench_mosquitto() -> Option<(Mosquitto, u16)> {
    if !std::path::Path::new("/usr/bin/mosquitto_sub").exists() || !std::path::Path::new("/usr/bin/mosquitto_pub").exists() {
        eprintln!("SKIP: mosquitto-clients not installed");
        return None;
    }
    let inflight = std::env::var("BENCH_INFLIGHT").unwrap_or_else(|_| "1000".into());
    mosquitto(&format!("max_queued_messages 0\nmax_inflight_messages {inflight}"))
}

/// `BENCH_PUBLISHERS` (default 4) `mosquitto_pub --repeat` processes publishing `n`
/// messages in all at `qos`, as fast as they go (`mosquitto_pub -l` loses lines at the end of
/// its input in 2.0.11: not used). Each process sends its own telegram (access number).
/// Returns the seconds until the last one finished.
fn bench_publish(port: u16, qos: u8, n: usize) -> f64 {
    let k: usize = std::env::var("BENCH_PUBLISHERS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let t = std::time::Instant::now();
    let children: Vec<Child> = (0..k)
        .map(|i| {
            let count = n / k + usize::from(i < n % k);
            Command::new("/usr/bin/mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", &qos.to_string(), "-t", &format!("telegrams/bench{i}"), "-i", &format!("bench-pub{i}")])
                .args(["-m", &telegram(i as u8), "--repeat", &count.to_string(), "--repeat-delay", "0"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    t.elapsed().as_secs_f64()
}

fn bench_sub_args(port: u16, qos: u8, id: &str) -> Vec<String> {
    let mut a: Vec<String> = ["-h", "127.0.0.1", "-p", &port.to_string(), "-q", &qos.to_string(), "-t", "telegrams/#", "-i", id].map(String::from).to_vec();
    if qos == 1 {
        a.push("-c".into());
    }
    a
}

/// Take `n` receptions (or until `quiet` passes without one), acknowledging each batch at
/// once. Returns (count, seconds from the first to the last).
async fn bench_consume(rx: &mut mpsc::Receiver<Reception>, n: usize, quiet: Duration) -> (usize, f64) {
    let mut buf = Vec::with_capacity(4096);
    let (mut got, mut first, mut last) = (0, None, std::time::Instant::now());
    while got < n {
        match timeout(quiet, rx.recv_many(&mut buf, 4096)).await {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                last = std::time::Instant::now();
                first.get_or_insert(last);
                got += k;
                for r in buf.drain(..) {
                    if let Some(a) = r.ack {
                        a.resolve(AckOutcome::Committed);
                    }
                }
            }
        }
    }
    (got, first.map_or(0.0, |f| last.duration_since(f).as_secs_f64()))
}

/// Drain: mosquitto holds N QoS 1 messages for two absent persistent sessions; then it
/// delivers them to `mosquitto_sub` (a bare C subscriber), then to this intake. Both times
/// include connecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_drain_qos1_vs_mosquitto_sub() {
    let n = bench_n();
    let Some((_m, port)) = bench_mosquitto() else { return };
    let p = port.to_string();
    let mut sub_args = bench_sub_args(port, 1, "bench-c");
    sub_args.push("-E".into());
    assert!(Command::new("/usr/bin/mosquitto_sub").args(&sub_args).status().unwrap().success());
    let (sink, mut rx) = mpsc::channel(65_536);
    let h = mqtt::spawn(intake(port, "bench-ml"), "w", sink.clone(), Arc::new(Metrics::default())).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.shutdown().await;
    bench_publish(port, 1, n);

    let (t, cpu) = (std::time::Instant::now(), cpu_seconds());
    let out = Command::new("/usr/bin/mosquitto_sub").args(bench_sub_args(port, 1, "bench-c")).args(["-C", &n.to_string()]).stdout(Stdio::null()).status().unwrap();
    let c_rate = n as f64 / t.elapsed().as_secs_f64();
    let c_us = (cpu_seconds().1 - cpu.1) * 1e6 / n as f64;
    assert!(out.success(), "mosquitto_sub on port {p}");

    let (t, cpu) = (std::time::Instant::now(), cpu_seconds());
    let h = mqtt::spawn(intake(port, "bench-ml"), "w", sink, Arc::new(Metrics::default())).unwrap();
    let (got, _) = bench_consume(&mut rx, n, Duration::from_secs(30)).await;
    let ml_rate = got as f64 / t.elapsed().as_secs_f64();
    let ml_us = (cpu_seconds().0 - cpu.0) * 1e6 / n as f64;
    h.shutdown().await;
    assert_eq!(got, n, "every held message drained");
    eprintln!(
        "BENCH drain qos1 n={n}: mosquitto_sub {c_rate:.0} msg/s ({c_us:.2} us CPU/msg), meterlink MQTT intake {ml_rate:.0} msg/s ({ml_us:.2} us CPU/msg) ({:.0}%)",
        100.0 * ml_rate / c_rate
    );
}

/// CPU seconds (user + system) of this process and of its waited-for children, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<f64> = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
    let tick = |i: usize| fields.get(i).copied().unwrap_or(0.0) / 100.0;
    (tick(11) + tick(12), tick(13) + tick(14))
}

/// `mosquitto_sub` in its own process, printing a time stamp per message; killed after the
/// publisher finished and `quiet` passed. Returns (count, seconds first to last).
fn bench_sub_live(args: Vec<String>, out: std::path::PathBuf) -> Child {
    Command::new("/usr/bin/mosquitto_sub").args(args).args(["-F", "%U"]).stdout(std::fs::File::create(out).unwrap()).spawn().unwrap()
}

fn bench_sub_result(out: &std::path::Path) -> (usize, f64) {
    let text = std::fs::read_to_string(out).unwrap();
    let times: Vec<f64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    match (times.first(), times.last()) {
        (Some(a), Some(b)) => (times.len(), b - a),
        _ => (0, 0.0),
    }
}

/// Live: `mosquitto_pub -l` publishes N messages at full speed while `mosquitto_sub` and this
/// intake are both subscribed; each one's rate from its first to its last message.
async fn bench_live(qos: u8) {
    let n = bench_n();
    let Some((_m, port)) = bench_mosquitto() else { return };
    let dir = tempdir::Dir::new("bench");
    let sub_out = dir.0.join("sub.txt");
    let mut sub = bench_sub_live(bench_sub_args(port, qos, &format!("live-c{qos}")), sub_out.clone());
    let metrics = Arc::new(Metrics::default());
    let (sink, mut rx) = mpsc::channel(65_536);
    let cfg = MqttIntake { qos, persistent_session: false, ..intake(port, &format!("live-ml{qos}")) };
    let h = mqtt::spawn(cfg, "w", sink, metrics.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let publisher = std::thread::spawn(move || bench_publish(port, qos, n));
    let (got, secs) = bench_consume(&mut rx, n, Duration::from_secs(3)).await;
    let pub_secs = publisher.join().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = sub.kill();
    let _ = sub.wait();
    let (c_got, c_secs) = bench_sub_result(&sub_out);
    h.shutdown().await;
    let dropped = metrics.qos0_dropped.get_or_create(&meterlink_service::metrics::IntakeLabels { intake: "mqtt".into() }).get();
    let rate = |k: usize, s: f64| if s > 0.0 { k as f64 / s } else { 0.0 };
    eprintln!(
        "BENCH live qos{qos} n={n}: publisher {:.0} msg/s; mosquitto_sub {c_got} msgs {:.0} msg/s; meterlink MQTT intake {got} msgs {:.0} msg/s ({:.0}%), queue-full drops {dropped}",
        rate(n, pub_secs),
        rate(c_got, c_secs),
        rate(got, secs),
        100.0 * rate(got, secs) / rate(c_got, c_secs).max(1.0)
    );
    if qos == 1 {
        assert_eq!(got, n, "QoS 1: every message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_live_qos1_vs_mosquitto_sub() {
    bench_live(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_live_qos0_vs_mosquitto_sub() {
    bench_live(0).await;
}
