//! `tests/vectors/default-keys.json`: a Diehl Hydrus telegram under the public PRIOS default
//! key decodes without a configured key to the readings the wmbusmeters hydrus driver gives
//! (as `tests/test_security_frames.py::test_public_default_key_decrypts_when_no_key_is_configured`).

mod common;

use common::{decode_err, decode_ok, hex, s, same, vectors, Decode};
use serde_json::{json, Value as Json};

const VECTORS: &str = include_str!("../../../tests/vectors/default-keys.json");

fn no_records(tg: &Json) -> bool {
    tg["encrypted"] == true && tg["decrypted"] == false && tg["records"].as_array().is_some_and(Vec::is_empty)
}

#[test]
fn public_default_key_decrypts_when_no_key_is_configured() {
    for v in &vectors(VECTORS, "default-keys.json", 1) {
        let name = s(v, "name");
        let frame = hex(s(v, "hex"));
        let tg = decode_ok(&frame, &Decode::default());
        assert_eq!((&tg["decrypted"], &tg["decrypted_by"]), (&json!(true), &json!("default key")), "{name}");
        let records = tg["records"].as_array().expect("records");
        let expected = v["expected"].as_array().expect("expected");
        assert_eq!(expected.len(), 6);
        for pair in expected {
            let (unit, value) = (&pair[0], &pair[1]);
            assert!(
                records.iter().any(|r| &r["unit"] == unit && same(&r["value"], value)),
                "{name}: no record ({unit}, {value})"
            );
        }
        // Opting out leaves it encrypted; a configured (wrong) key is used and fails loudly.
        assert!(no_records(&decode_ok(&frame, &Decode { no_default_keys: true, ..Decode::default() })), "{name}");
        let wrong = json!({"64745666": format!("{}01", "00".repeat(15))});
        let e = decode_err(&frame, &Decode { keys: Some(&wrong), ..Decode::default() });
        assert_eq!(e["type"], "SecurityError", "{name}: {e}");
        // A meter with its own key: the default keys fail verification and it stays encrypted.
        let mut own = frame.clone();
        own[23] ^= 0x01; // first ciphertext byte: 2F2F no longer verifies
        assert!(no_records(&decode_ok(&own, &Decode::default())), "{name}");
    }
}
