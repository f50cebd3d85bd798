//! DLMS invocation-counter replay (issue 15 §2) end to end: a real ciphered push
//! (general-glo-ciphering, tests/vectors/dlms_bulk.json, from u9n/dlms-cosem's tests) read by a
//! `dlms` file intake with its keys from the key file; the dedup key is
//! `01 ‖ system title ‖ 01 ‖ key id ‖ invocation counter ‖ 00`, a second gateway's copy within
//! the window is a duplicate reception, the same counter an hour later is a replay.

mod pipeline_common;

use std::path::Path;

use pipeline_common::*;
use rusqlite::Connection;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

/// The vector `name` of dlms_bulk.json: (frame hex, ek, ak, expected system title, counter).
fn vector(name: &str) -> (String, String, String, String, u64) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/dlms_bulk.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = v["frames"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap().clone();
    let s = |x: &serde_json::Value| x.as_str().unwrap().to_string();
    (s(&f["frame"]), s(&f["keys"]["ek"]), s(&f["keys"]["ak"]), s(&f["expect"]["system_title"]), f["expect"]["invocation_counter"].as_u64().unwrap())
}

#[test]
fn ciphered_push_is_keyed_by_its_invocation_counter_and_replays_are_rejected() {
    let (frame, ek, ak, title, counter) = vector("general-glo-ciphering-dlms-cosem");
    assert_eq!((title.as_str(), counter), ("2f19229199164103", 485));
    let dir = tempdir("dlms-replay");
    std::fs::write(dir.join("keys.csv"), format!("# DLMS push meter\ndlms,{title},{ek},{ak}\n")).unwrap();
    let rows = [(T0, "gw-a"), (T0 + 1500, "gw-b"), (T0 + 3_600_000, "gw-a")];
    let text: String = std::iter::once("timestamp;gateway;frame".to_string()).chain(rows.iter().map(|(t, g)| format!("{t};{g};{frame}"))).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.join("push.txt"), text).unwrap();
    let db = dir.join("m.db");
    let mut intake = file_intake("dlms", &dir.join("push.txt"), true);
    intake.format = "dlms".into();
    serve_once(config(&db, vec![intake], vec![dir.join("keys.csv")]));

    let c = Connection::open(&db).unwrap();
    let (key, meter, key_id, stored_counter, integrity, protocol): (Vec<u8>, String, i64, i64, String, String) = c
        .query_row("SELECT dedup_key, meter, key_id, counter, integrity, protocol FROM telegrams", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap();
    let mut want = vec![1u8];
    want.extend(meterlink::hex::parse_hex(&title).unwrap());
    want.extend([1, 0]); // DLMS identity marker, key id 0 = global unicast (security control 0x30)
    want.extend((counter as u32).to_be_bytes());
    want.push(0);
    assert_eq!(meterlink::hex::to_hex_lower(&key), meterlink::hex::to_hex_lower(&want));
    assert_eq!((meter.as_str(), key_id, stored_counter, integrity.as_str(), protocol.as_str()), ("2F19229199164103", 0, 485, "aead", "dlms"));
    // gw-b's copy 1.5 s later is a reception of the same telegram; the hour-later copy is a replay.
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions")), (1, 2));
    assert_eq!(rejected_codes(&db), ["replayed_counter"]);
    let last: i64 = c.query_row("SELECT last_counter FROM meters WHERE meter = '2F19229199164103'", [], |r| r.get(0)).unwrap();
    assert_eq!(last, 485);
}

#[test]
fn a_bad_dlms_key_line_names_its_line_not_its_value() {
    let dir = tempdir("dlms-keyline");
    std::fs::write(dir.join("keys.csv"), "dlms,2f19229199164103,00112233\n").unwrap();
    let e = meterlink_service::pipeline::keys::KeyFiles::load(vec![dir.join("keys.csv")]).err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("line 1") && msg.contains("encryption key"), "{msg}");
    assert!(!msg.contains("00112233"), "{msg}");
}
