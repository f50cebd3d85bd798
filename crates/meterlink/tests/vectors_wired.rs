//! Wired M-Bus frames of `tests/vectors/wired-frames.json` (EN 13757-2/-3, OMS Annex N, DSMR P2,
//! EN 1434-3), asserted as `tests/test_vectors.py` asserts them: header fields, every record's
//! fields, and the error class, offset and message where the vector expects an error.

mod common;

use common::{assert_fields, decode, hex, s, vectors, Decode};

const VECTORS: &str = include_str!("../../../tests/vectors/wired-frames.json");

#[test]
fn wired_frames() {
    let mut checked = 0;
    for v in &vectors(VECTORS, "wired-frames.json", 14) {
        let name = s(v, "name");
        let result = decode(&hex(s(v, "hex")), &Decode::default());
        if let Some(err) = v.get("error") {
            let got = result.err().unwrap_or_else(|| panic!("{name}: decoded, expected an error"));
            assert_eq!(got["type"], err["type"], "{name}: error class ({got})");
            assert_eq!(got["offset"], err["offset"], "{name}: error offset ({got})");
            let message = got["message"].as_str().unwrap_or_default();
            assert!(message.contains(s(err, "message_contains")), "{name}: message {message:?}");
            checked += 1;
            continue;
        }
        let tg = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expect = v["expect"].clone();
        let want_records = expect.as_object_mut().and_then(|o| o.remove("records")).expect("records");
        assert_fields(&tg, &expect, name);
        let (got, want) = (tg["records"].as_array().unwrap(), want_records.as_array().unwrap());
        assert_eq!(got.len(), want.len(), "{name}: record count");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_fields(g, w, &format!("{name} record {i}"));
        }
        checked += 1;
    }
    assert_eq!(checked, 14);
}

#[test]
fn comparison_is_strict() {
    use common::same;
    use serde_json::json;
    assert!(same(&json!(28504.27), &json!(28504.27 * (1.0 + 1e-12))));
    assert!(!same(&json!(28504.27), &json!(28504.28)));
    assert!(!same(&json!(6531000), &json!(6531000.0)), "an int is not a float");
    assert!(!same(&json!(6531000.0), &json!(6531000)), "a float is not an int");
    assert!(!same(&json!([2850427, -2]), &json!([2850427, -3])));
    assert!(!same(&json!(null), &json!(0)));
}
