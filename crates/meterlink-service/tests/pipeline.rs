//! The pipeline end to end: archives in temp dirs → file intake → decode → dedup → replay
//! check → SQLite, read back with plain SQL (issue 15 §2, §3, §5 "Dedup").

mod pipeline_common;

use std::path::Path;

use std::sync::Arc;

use meterlink_service::metrics::{CodeLabels, Metrics};
use pipeline_common::*;
use rusqlite::Connection;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

/// Published vectors (OMS Vol.2 Annex N N.2.1 / N.2.2, the Kamstrup Multical 21 ELL frame of
/// tests/vectors/wireless-frames.json, CRCs stripped as receivers forward them) become exactly
/// these rows.
#[test]
fn published_vectors_become_exact_rows() {
    let dir = tempdir("vectors");
    let n22 = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916";
    let n21 = vector_hex("mode5-oms-annexN-N21");
    let mc21 = vector_hex("ell-aes-ctr-kamstrup-multical21");
    std::fs::write(dir.join("in.txt"), format!("timestamp;frame\n2024-01-01T00:00:00Z;{n22}\n2024-01-01T00:00:01Z;{n21}\n2024-01-01T00:00:02Z;{mc21}\n")).unwrap();
    std::fs::write(dir.join("keys.csv"), "12345678,0102030405060708090A0B0C0D0E0F11\n76348799,28F64A24988064A079AA2C807D6102AE\n").unwrap();
    let db = dir.join("m.db");
    serve_once(config(&db, vec![file_intake("archive", &dir.join("in.txt"), true)], vec![dir.join("keys.csv")]));
    // N.2.2 is the clear wired twin of N.2.1: the meter has a key, so its clear payload is
    // `unprotected` (docs/errors.md), not a reading.
    assert_eq!(rejected_codes(&db), ["unprotected"]);
    let c = Connection::open(&db).unwrap();
    let rows: Vec<(String, String, i64, String)> = c
        .prepare("SELECT meter, integrity, received_at_ms, protocol FROM telegrams ORDER BY received_at_ms")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let want = [("ELS12345678", "filler_2f2f", T0 + 1000), ("KAM76348799", "crc", T0 + 2000)];
    assert_eq!(rows.len(), 2);
    for (r, w) in rows.iter().zip(want) {
        assert_eq!((r.0.as_str(), r.1.as_str(), r.2, r.3.as_str()), (w.0, w.1, w.2, "mbus"));
    }
    // N.2.1/N.2.2: 28504.27 m³ (0C 14), 2008-05-31T23:50 (04 6D), error flags 0.
    {
        let t = T0 + 1000;
        let r: Vec<Reading> = c
            .prepare("SELECT quantity, unit, value, text FROM readings r JOIN telegrams t USING (dedup_key) WHERE t.received_at_ms = ?1 ORDER BY idx")
            .unwrap()
            .query_map([t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(r.len(), 3, "{r:?}");
        assert_eq!((r[0].1.as_deref(), r[0].2), (Some("m^3"), Some(28504.27)));
        assert_eq!(r[1].3.as_deref(), Some("2008-05-31T23:50"));
        assert_eq!(r[2].2, Some(0.0));
    }
    // The Multical 21's total volume: 6.408 m³ (the vector's `total_m3`).
    let total: f64 = c
        .query_row("SELECT value FROM readings r JOIN telegrams t USING (dedup_key) WHERE t.meter = 'KAM76348799' AND r.unit = 'm^3' ORDER BY idx LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 6.408);
    assert_eq!((count(&db, "receptions"), count(&db, "meters")), (2, 2));
}

/// quantity, unit, value, text.
type Reading = (String, Option<String>, Option<f64>, Option<String>);

fn vector_hex(name: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/wireless-frames.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let list = v.as_array().cloned().or_else(|| v["vectors"].as_array().cloned()).unwrap();
    list.iter().find(|x| x["name"] == name).unwrap()["input_hex"].as_str().unwrap().to_string()
}

/// 8 gateways, each with a clock skew within ±5 s and 10 % loss, hear 50 meters (30 mode 5
/// without counter — 10 of them repeating the very same bytes every round —, 20 mode 7 with
/// counters) for 8 rounds, 15 minutes apart; receptions arrive out of order within 3 s and
/// batches are small, so duplicates span batches: one telegram per radio telegram heard by
/// any gateway, every reception kept.
#[test]
fn eight_gateways_with_skew_and_loss_give_one_telegram_per_radio_telegram() {
    let dir = tempdir("dedup");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let skew: Vec<i64> = (0..8).map(|_| (rng.unit() * 10_000.0) as i64 - 5_000).collect();
    let mut lines: Vec<(i64, String)> = Vec::new();
    let (mut heard, mut receptions) = (0, 0);
    for round in 0..8u32 {
        for m in 0..50u32 {
            let sent = T0 + i64::from(round) * 900_000 + i64::from(m) * 7_000;
            let f = match m {
                0..=9 => frame(1000 + m, 5, None, 42, 7, KEY),
                10..=29 => frame(1000 + m, 5, None, 100 * round + m, round as u8, KEY),
                _ => frame(1000 + m, 7, Some(100 + round), 100 * round + m, round as u8, KEY),
            };
            let mut got = 0;
            for (g, s) in skew.iter().enumerate() {
                if rng.unit() < 0.10 {
                    continue;
                }
                got += 1;
                let arrival = sent + (rng.unit() * 3_000.0) as i64;
                lines.push((arrival, format!("{};gw{g};{};{}", sent + s, -60 - g as i64, hex(&f))));
            }
            heard += usize::from(got > 0);
            receptions += got;
        }
    }
    lines.sort();
    let text: String = std::iter::once("timestamp;gateway;rssi;frame".to_string()).chain(lines.into_iter().map(|l| l.1)).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.join("rx.txt"), text).unwrap();
    key_file(&dir.join("keys.csv"), &(1000..1050).collect::<Vec<_>>(), KEY);
    let db = dir.join("m.db");
    let mut c = config(&db, vec![file_intake("gateways", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]);
    c.service.batch_max = 97;
    serve_once(c);
    assert_eq!(rejected_codes(&db), Vec::<String>::new());
    assert!(heard > 390, "{heard}");
    assert_eq!(count(&db, "telegrams"), heard as i64);
    assert_eq!(count(&db, "receptions"), receptions as i64);
    assert_eq!(count(&db, "readings"), 3 * heard as i64);
    assert_eq!(count(&db, "meter_gateways"), 50 * 8);
    let last: i64 = Connection::open(&db).unwrap().query_row("SELECT MAX(last_counter) FROM meters", [], |r| r.get(0)).unwrap();
    assert_eq!(last, 107);
}

/// The same bytes 1 h later are a new telegram (no counter); 3 s later from another gateway
/// they are the same one.
#[test]
fn same_bytes_an_hour_later_are_a_new_telegram() {
    let dir = tempdir("hour");
    let f = hex(&frame(2001, 5, None, 5, 1, KEY));
    let text = format!("timestamp;gateway;frame\n{T0};a;{f}\n{};b;{f}\n{};a;{f}\n", T0 + 3_000, T0 + 3_600_000);
    std::fs::write(dir.join("rx.txt"), text).unwrap();
    key_file(&dir.join("keys.csv"), &[2001], KEY);
    let db = dir.join("m.db");
    serve_once(config(&db, vec![file_intake("f", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]));
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions"), count(&db, "readings")), (2, 3, 6));
}

/// Replayed counters are `rejected` rows with code `replayed_counter`, within one run and
/// across a restart (the counters persist in `meters`).
#[test]
fn replayed_counters_are_rejected_across_restarts() {
    let dir = tempdir("replay");
    let f = |c: u32| hex(&frame(3001, 7, Some(c), c, c as u8, KEY));
    key_file(&dir.join("keys.csv"), &[3001], KEY);
    let text = format!("timestamp;frame\n{T0};{}\n{};{}\n{};{}\n", f(10), T0 + 900_000, f(11), T0 + 1_800_000, f(11));
    std::fs::write(dir.join("a.txt"), text).unwrap();
    let db = dir.join("m.db");
    serve_once(config(&db, vec![file_intake("f", &dir.join("a.txt"), true)], vec![dir.join("keys.csv")]));
    assert_eq!((count(&db, "telegrams"), rejected_codes(&db)), (2, vec!["replayed_counter".to_string()]));
    std::fs::write(dir.join("b.txt"), format!("timestamp;frame\n{};{}\n{};{}\n", T0 + 2_700_000, f(9), T0 + 3_600_000, f(12))).unwrap();
    serve_once(config(&db, vec![file_intake("f", &dir.join("b.txt"), true)], vec![dir.join("keys.csv")]));
    assert_eq!((count(&db, "telegrams"), rejected_codes(&db).len()), (3, 2));
    let last: i64 = Connection::open(&db).unwrap().query_row("SELECT last_counter FROM meters WHERE meter = 'KAM00003001'", [], |r| r.get(0)).unwrap();
    assert_eq!(last, 12);
}

/// A wrong key: rejected with the decryption's code (no 2F 2F after decryption), offset and
/// message kept; nothing stored.
#[test]
fn a_wrong_key_is_rejected_with_the_decrypt_code() {
    let dir = tempdir("wrongkey");
    let mut bad = KEY;
    bad[0] ^= 1;
    std::fs::write(dir.join("rx.txt"), format!("{}\n", hex(&frame(4001, 5, None, 1, 1, KEY)))).unwrap();
    key_file(&dir.join("keys.csv"), &[4001], bad);
    let db = dir.join("m.db");
    serve_once(config(&db, vec![file_intake("f", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]));
    assert_eq!(rejected_codes(&db), ["tpl_verification"]);
    let (reason, offset): (String, Option<i64>) = Connection::open(&db).unwrap().query_row("SELECT reason, byte_offset FROM rejected", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert!(!reason.is_empty() && offset.is_some(), "{reason} {offset:?}");
    assert_eq!(count(&db, "telegrams"), 0);
}

/// Every table, as text, in a stable order.
fn dump(db: &Path) -> Vec<String> {
    let c = Connection::open(db).unwrap();
    let mut out = Vec::new();
    for (t, order) in [("telegrams", "dedup_key"), ("receptions", "dedup_key, gateway, received_at_ms"), ("readings", "dedup_key, idx"), ("rejected", "reject_key"), ("meters", "meter, key_id"), ("meter_gateways", "meter, gateway")] {
        let mut s = c.prepare(&format!("SELECT * FROM {t} ORDER BY {order}")).unwrap();
        let n = s.column_count();
        let rows = s.query_map([], |r| Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))).unwrap();
        out.extend(rows.map(|r| format!("{t}: {}", r.unwrap())));
    }
    out
}

/// Writing the same input twice changes nothing the second time (idempotent store).
#[test]
fn the_same_input_twice_changes_nothing() {
    let dir = tempdir("idem");
    let mut bad = KEY;
    bad[5] ^= 0x80;
    let lines = [
        format!("{T0};g1;{}", hex(&frame(5001, 5, None, 1, 1, KEY))),
        format!("{};g2;{}", T0 + 1000, hex(&frame(5001, 5, None, 1, 1, KEY))),
        format!("{T0};g1;{}", hex(&frame(5002, 7, Some(4), 1, 1, KEY))),
        format!("{T0};g1;{}", hex(&frame(5003, 5, None, 1, 1, bad))),
        format!("{T0};g1;not hex"),
    ];
    std::fs::write(dir.join("rx.txt"), format!("timestamp;gateway;frame\n{}\n", lines.join("\n"))).unwrap();
    key_file(&dir.join("keys.csv"), &[5001, 5002, 5003], KEY);
    let db = dir.join("m.db");
    let run = || serve_once(config(&db, vec![file_intake("f", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]));
    run();
    let first = dump(&db);
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions"), count(&db, "rejected")), (2, 3, 2), "{first:#?}");
    run();
    assert_eq!(dump(&db), first);
}

fn rejected_metric(r: &Running, code: &str) -> u64 {
    r.metrics.rejected.get_or_create(&CodeLabels { code: code.into() }).get()
}

/// A telegram rejected `no_key` is stored after the key file changes (hot reload; no restart).
#[test]
fn key_file_hot_reload() {
    let dir = tempdir("reload");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    key_file(&dir.join("keys.csv"), &[6999], KEY);
    let db = dir.join("m.db");
    let r = Running::start(config(&db, vec![file_intake("dir", &dir.join("in"), false)], vec![dir.join("keys.csv")]));
    std::fs::write(dir.join("in/1.txt"), format!("{T0};{}\n", hex(&frame(6001, 5, None, 1, 1, KEY)))).unwrap();
    r.wait("the no_key rejection", |_| rejected_metric(&r, "no_key") == 1);
    key_file(&dir.join("keys.csv"), &[6999, 6001], KEY);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    std::fs::write(dir.join("in/2.txt"), format!("{};{}\n", T0 + 900_000, hex(&frame(6001, 5, None, 2, 2, KEY)))).unwrap();
    r.wait("the stored telegram", |m| m.stored.get() == 1);
    r.stop();
    assert_eq!((count(&db, "telegrams"), rejected_codes(&db)), (1, vec!["no_key".to_string()]));
}

/// Shutdown drains the queue and commits the tail of a batch that neither its size nor its
/// interval would have flushed.
#[test]
fn graceful_shutdown_commits_the_tail() {
    let dir = tempdir("shutdown");
    std::fs::create_dir_all(dir.join("in")).unwrap();
    key_file(&dir.join("keys.csv"), &(7000..7500).collect::<Vec<_>>(), KEY);
    let db = dir.join("m.db");
    let mut c = config(&db, vec![file_intake("dir", &dir.join("in"), false)], vec![dir.join("keys.csv")]);
    c.service.batch_interval_ms = 3_600_000;
    c.service.batch_max = 1_000_000;
    c.service.group_commit = false;
    let r = Running::start(c);
    let text: String = (0..500u32).map(|i| format!("{};{}\n", T0 + i64::from(i) * 1000, hex(&frame(7000 + i, 5, None, i, 1, KEY)))).collect();
    std::fs::write(dir.join("in/a.txt"), text).unwrap();
    r.wait("500 decoded", |m| m.decoded.get() == 500);
    assert_eq!(r.metrics.batches.get(), 0);
    r.stop();
    assert_eq!((count(&db, "telegrams"), count(&db, "readings")), (500, 1500));
}

/// The service's codes are documented in docs/errors.md, "# Service", each once.
#[test]
fn service_codes_are_documented() {
    let doc = include_str!("../../../docs/errors.md");
    let section = doc.split("\n# Service\n").nth(1).expect("a # Service section");
    let codes: Vec<&str> = section.lines().filter_map(|l| l.strip_prefix("| `")).filter_map(|l| l.split_once("` |").map(|c| c.0)).collect();
    use meterlink_service::ServiceError as E;
    let ours = [
        E::Config { path: String::new(), reason: String::new() }.code(),
        E::Store(String::new()).code(),
        E::Intake(String::new()).code(),
        E::Io(String::new()).code(),
        "service_no_meter",
    ];
    for c in ours {
        assert_eq!(codes.iter().filter(|d| **d == c).count(), 1, "{c}");
    }
}

/// Two services on one SQLite file (as two processes would be: each its own connection and
/// unflushed `meters` summary) hear the same radio telegrams through different gateways, in
/// small interleaved batches: every telegram is stored once with both receptions, `meters` is
/// right once both have shut down, and a replay later is still caught.
#[test]
fn two_services_on_one_file_store_each_telegram_once() {
    let dir = tempdir("two-on-one");
    let ids: Vec<u32> = (4001..4031).collect();
    key_file(&dir.join("keys.csv"), &ids, KEY);
    for (gw, skew) in [("a", 0), ("b", 2_000)] {
        let mut text = String::from("timestamp;gateway;frame\n");
        for round in 0..20u32 {
            for &id in &ids {
                let at = T0 + i64::from(round) * 900_000 + i64::from(id - 4001) * 1_000 + skew;
                text.push_str(&format!("{at};{gw};{}\n", hex(&frame(id, 7, Some(round + 1), round, round as u8, KEY))));
            }
        }
        std::fs::write(dir.join(format!("{gw}.txt")), text).unwrap();
    }
    let db = dir.join("m.db");
    let run = |gw: &str| {
        let mut c = config(&db, vec![file_intake(gw, &dir.join(format!("{gw}.txt")), true)], vec![dir.join("keys.csv")]);
        c.service.batch_max = 7;
        c
    };
    let (a, b) = (run("a"), run("b"));
    std::thread::scope(|s| {
        s.spawn(|| serve_once(a));
        s.spawn(|| serve_once(b));
    });
    assert_eq!(rejected_codes(&db), Vec::<String>::new());
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions"), count(&db, "readings")), (600, 1200, 1800));
    assert_eq!((count(&db, "meters"), count(&db, "meter_gateways")), (30, 60));
    let low: i64 = Connection::open(&db).unwrap().query_row("SELECT MIN(last_counter) FROM meters", [], |r| r.get(0)).unwrap();
    assert_eq!(low, 20);
    // Round 5's telegram of one meter again a day later: a replay.
    let again = format!("timestamp;gateway;frame\n{};c;{}\n", T0 + 86_400_000, hex(&frame(4001, 7, Some(5), 4, 4, KEY)));
    std::fs::write(dir.join("c.txt"), again).unwrap();
    serve_once(config(&db, vec![file_intake("c", &dir.join("c.txt"), true)], vec![dir.join("keys.csv")]));
    assert_eq!(rejected_codes(&db), vec!["replayed_counter".to_string()]);
}

/// A store that panics on its `n`-th write (a bug in a store, or a driver that aborts).
struct PanicsOnWrite {
    inner: meterlink_service::store::sqlite::SqliteStore,
    left: usize,
}

impl meterlink_service::store::Store for PanicsOnWrite {
    fn migrate(&mut self) -> Result<(), meterlink_service::ServiceError> {
        self.inner.migrate()
    }

    fn write(&mut self, batch: &meterlink_service::store::Batch, window_ms: i64) -> Result<meterlink_service::store::WriteReport, meterlink_service::ServiceError> {
        self.left -= 1;
        assert!(self.left > 0, "store bug");
        self.inner.write(batch, window_ms)
    }
}

#[test]
fn a_writer_that_panics_ends_serve_with_an_error_not_ok() {
    use meterlink_service::store::Store;
    let dir = tempdir("writer-panic");
    let ids: Vec<u32> = (5001..5041).collect();
    key_file(&dir.join("keys.csv"), &ids, KEY);
    let mut text = String::from("timestamp;frame\n");
    for (i, &id) in ids.iter().enumerate() {
        text.push_str(&format!("{};{}\n", T0 + i as i64 * 1000, hex(&frame(id, 5, None, 7, 1, KEY))));
    }
    std::fs::write(dir.join("rx.txt"), text).unwrap();
    let db = dir.join("m.db");
    let mut c = config(&db, vec![file_intake("rx", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]);
    c.service.batch_max = 5;
    let mut inner = meterlink_service::store::sqlite::SqliteStore::open(&db).unwrap();
    inner.migrate().unwrap();
    let store = Box::new(PanicsOnWrite { inner, left: 3 });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let r = rt.block_on(meterlink_service::pipeline::serve_with_store(c, Arc::new(Metrics::default()), std::future::pending(), store));
    let e = r.expect_err("a dead writer is an error");
    assert_eq!(e.code(), "service_store");
    assert!(e.to_string().contains("store bug"), "{e}");
    // Two batches committed before the third write panicked; nothing after it.
    let n = count(&db, "telegrams");
    assert!((2..=10).contains(&n), "{n}");
}
