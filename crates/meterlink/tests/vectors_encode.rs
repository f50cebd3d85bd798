//! `tests/vectors/encode-kat.json`: known answers of the encoder (published frames whose every
//! input is fixed by the vector), as `tests/test_encode.py::test_known_answer` asserts them:
//! the frame (or, for the DSMR vector, its TPDU) is the published one, and the decoder reads it
//! back with the key as the same application data.

mod common;

use common::{decode_ok, encode, hex, s, to_hex, vectors, Decode};
use serde_json::{json, Value as Json};

const VECTORS: &str = include_str!("../../../tests/vectors/encode-kat.json");

#[test]
fn known_answers() {
    for v in &vectors(VECTORS, "encode-kat.json", 12) {
        known_answer(v);
    }
}

fn known_answer(v: &Json) {
    let name = s(v, "name");
    assert!(!s(v, "source").is_empty(), "{name}: source");
    let (records, clear, key) = (hex(s(v, "records")), hex(s(v, "clear")), s(v, "key"));
    let params = &v["params"];
    let frame = encode(params, &records, &clear, Some(key)).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(expected) = v.get("expected") {
        assert_eq!(to_hex(&frame), s(v, "expected").to_ascii_lowercase(), "{name}: frame ({expected})");
    } else {
        // Wired long frame: 68 L L 68 C A | TPDU | CS 16.
        assert_eq!(to_hex(&frame[6..frame.len() - 2]), s(v, "expected_tpdu").to_ascii_lowercase(), "{name}: TPDU");
    }
    // The decoder reads it back with the key, as the same application data.
    let id = s(params, "id");
    let link_id = params.get("link_id").and_then(Json::as_str).unwrap_or(id);
    let keys = json!({id: key, link_id: key});
    let tg = decode_ok(&frame, &Decode { keys: Some(&keys), ..Decode::default() });
    if params.get("mode").and_then(Json::as_u64).unwrap_or(0) != 0 || params.get("ell_encrypt") == Some(&json!(true)) {
        assert_eq!(tg["decrypted"], true, "{name}");
    }
    let payload = hex(s(&tg, "payload"));
    assert!(contains(&payload, &records), "{name}: records not in payload {}", to_hex(&payload));
    assert!(contains(&payload, &clear), "{name}: clear not in payload {}", to_hex(&payload));
}

/// `needle in hay` for bytes, as Python's `bytes.__contains__`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}
