//! Wireless frames of `tests/vectors/wireless-frames.json` (EN 13757-4 frame formats, ELL
//! AES-CTR, security modes 5/7/10), asserted as `tests/test_security_frames.py` asserts them:
//! every keyed vector decrypts with its key to the published plaintext, fails with a one-bit
//! wrong key, and without a key stays encrypted with no records; every unkeyed vector decodes
//! with its frame format and rejects a corrupted block CRC.
//!
//! The intermediate values some vectors also list (`kenc`, `kmac`, `icb`, `iv`, `nonce`, `aad`,
//! `payload_crc_le`, `frame_b_crcs`, `L`) are asserted by the security unit tests over
//! `tests/vectors/security/*.json`; here they are implied by the verified decryption.

mod common;

use common::{decode_err, decode_ok, hex, s, same, to_hex, Decode};
use serde_json::{json, Value as Json};

const VECTORS: &str = include_str!("../../../tests/vectors/wireless-frames.json");

/// `expected` keys asserted elsewhere (see the module doc).
const INTERMEDIATE: &[&str] = &["kenc", "kmac", "icb", "iv", "nonce", "aad", "payload_crc_le", "frame_b_crcs", "L"];

fn vectors() -> Vec<Json> {
    common::vectors(VECTORS, "wireless-frames.json", 14)
}

fn vector(name: &str) -> Json {
    vectors().into_iter().find(|v| v["name"] == name).expect(name)
}

/// The vector's one key, hex.
fn key_of(v: &Json) -> &str {
    v["keys"].as_object().and_then(|m| m.values().next()).and_then(Json::as_str).expect("key")
}

/// `keys=` giving `key` to every identity of the frame (meter ID and link ID), as the Python
/// test's `_keys_for`.
fn keys_for(frame: &[u8], key: &str) -> Json {
    let tg = decode_ok(frame, &Decode::default());
    let mut keys = serde_json::Map::new();
    for id in [&tg["id"], &tg["link_id"]].into_iter().filter_map(Json::as_str) {
        keys.insert(id.to_string(), json!(key));
    }
    Json::Object(keys)
}

fn records(tg: &Json) -> &Vec<Json> {
    tg["records"].as_array().expect("records")
}

#[test]
fn every_vector_is_checked() {
    let mut keyed = 0;
    let mut unkeyed = 0;
    for v in vectors() {
        if v["keys"].as_object().is_some_and(|k| !k.is_empty()) {
            decrypts_with_key(&v);
            wrong_key_raises(&v);
            no_key(&v);
            keyed += 1;
        } else {
            frame_format_and_crc_error(&v);
            unkeyed += 1;
        }
    }
    assert_eq!((keyed, unkeyed), (10, 4));
}

fn decrypts_with_key(v: &Json) {
    let name = s(v, "name");
    let frame = hex(s(v, "input_hex"));
    let keys = keys_for(&frame, key_of(v));
    let tg = decode_ok(&frame, &Decode { keys: Some(&keys), ..Decode::default() });
    assert_eq!(
        (&tg["encrypted"], &tg["decrypted"], &tg["decrypted_by"]),
        (&json!(true), &json!(true), &json!("meterlink")),
        "{name}"
    );
    let exp = &v["expected"];
    let payload = s(&tg, "payload");
    let low = |k: &str| exp[k].as_str().map(str::to_ascii_lowercase);
    if let (Some(p), Some(c)) = (low("plaintext"), low("clear_tail")) {
        assert_eq!(payload, p + &c, "{name}: payload");
    } else if let Some(p) = low("plaintext").or(low("plaintext_prefix")) {
        assert!(payload.starts_with(&p), "{name}: payload {payload} does not start with {p}");
    } else if let Some(p) = low("plaintext_with_plcrc") {
        // The 2-byte payload CRC is verified and removed; the next byte is the TPL CI (78h).
        assert_eq!(payload, &p[6..], "{name}: payload");
    }
    assert!(!records(&tg).is_empty() || payload.trim_matches(['2', 'f']).is_empty(), "{name}: no records");
    for (key, want) in exp.as_object().expect("expected") {
        match key.as_str() {
            "plaintext" | "clear_tail" | "plaintext_prefix" | "plaintext_with_plcrc" => {}
            // The MAC / tag the decoder verified is the one in the frame.
            "mac" | "tag" => assert!(to_hex(&frame).contains(&s(exp, key).to_ascii_lowercase()), "{name}: {key}"),
            // test_kamstrup_ell_volume: the first volume record.
            "total_m3" => {
                let vol = records(&tg).iter().find(|r| r["unit"] == "m^3").expect("a volume");
                assert!(same(&vol["value"], want), "{name}: total_m3 {} != {want}", vol["value"]);
                assert_eq!((s(&tg, "manufacturer"), s(&tg, "id")), ("KAM", "76348799"));
            }
            k if INTERMEDIATE.contains(&k) => {}
            other => panic!("{name}: expected.{other} is not checked"),
        }
    }
}

fn wrong_key_raises(v: &Json) {
    let name = s(v, "name");
    let frame = hex(s(v, "input_hex"));
    let mut key = hex(key_of(v));
    key[5] ^= 0x10;
    let keys = keys_for(&frame, &to_hex(&key));
    let e = decode_err(&frame, &Decode { keys: Some(&keys), ..Decode::default() });
    assert_eq!(e["type"], "SecurityError", "{name}: {e}");
}

fn no_key(v: &Json) {
    let name = s(v, "name");
    let frame = hex(s(v, "input_hex"));
    let zero_key = key_of(v).bytes().all(|c| c == b'0');
    let no_defaults = Decode { no_default_keys: true, ..Decode::default() };
    let encrypted_no_records =
        |tg: &Json| tg["encrypted"] == true && tg["decrypted"] == false && records(tg).is_empty();
    let tg = decode_ok(&frame, &Decode::default());
    if zero_key {
        // The all-zero key is one of the public default keys tried when none is configured.
        assert!(tg["decrypted"] == true && tg["decrypted_by"] == "default key" && !records(&tg).is_empty(), "{name}");
    } else {
        assert!(encrypted_no_records(&tg), "{name}: {tg}");
    }
    assert!(encrypted_no_records(&decode_ok(&frame, &no_defaults)), "{name}");
    // strict rejects the unchecked CRC-less reading of `auto` (issue 12): a frame whose CRCs a
    // receiver removed is decoded strictly with link="wireless-nocrc".
    let crc_less = tg["frame_type"] == "no CRC";
    if crc_less {
        let e = decode_err(&frame, &Decode { strict: true, ..no_defaults });
        assert_eq!((e["type"].as_str(), e["code"].as_str()), (Some("FrameError"), Some("wmbus_crc")), "{name}: {e}");
    }
    let link = if crc_less { "wireless-nocrc" } else { "" };
    let e = decode_err(&frame, &Decode { strict: true, link, ..no_defaults });
    assert_eq!(e["type"], "SecurityError", "{name}: {e}");
    assert!(s(&e, "message").contains("no key"), "{name}: {e}");
}

/// test_frame_formats_and_crc_errors: the frame format, and a flipped byte is a CRC error.
fn frame_format_and_crc_error(v: &Json) {
    let name = s(v, "name");
    let frame = hex(s(v, "input_hex"));
    let frame_b = name.starts_with("frame-b");
    let tg = decode_ok(&frame, &Decode::default());
    assert_eq!(tg["frame_type"], if frame_b { "format B" } else { "format A" }, "{name}");
    for (key, want) in v["expected"].as_object().expect("expected") {
        match key.as_str() {
            "all_block_crcs_ok" => assert_eq!(want, true, "{name}"),
            // Format B: the last two bytes are the CRC the decoder checked.
            "crc" => assert!(to_hex(&frame).ends_with(&s(&v["expected"], key).to_ascii_lowercase()), "{name}"),
            k if INTERMEDIATE.contains(&k) => {}
            other => panic!("{name}: expected.{other} is not checked"),
        }
    }
    let mut bad = frame.clone();
    bad[12] ^= 0x01;
    let e = decode_err(&bad, &Decode { link: if frame_b { "wireless-b" } else { "auto" }, ..Decode::default() });
    assert_eq!(e["type"], "FrameError", "{name}: {e}");
    assert!(s(&e, "message").contains("CRC") && e["offset"].is_u64(), "{name}: {e}");
}

#[test]
fn oms_n21_records_equal_wired_n22() {
    // OMS N.2.1 (mode 5) carries the same records as the unencrypted wired N.2.2 example.
    let v = vector("mode5-oms-annexN-N21");
    let keys = json!({"12345678": key_of(&v)});
    let tg = decode_ok(&hex(s(&v, "input_hex")), &Decode { keys: Some(&keys), ..Decode::default() });
    let wired = decode_ok(
        &hex("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"),
        &Decode::default(),
    );
    assert_eq!(tg["records"], wired["records"]);
}

#[test]
fn manufacturer_specific_key_wins() {
    // test_keystore_and_manufacturer_specific_keys: manufacturer + ID beats an ID-only entry.
    let v = vector("mode5-oms-annexN-N21");
    let keys = json!({"12345678": "FF".repeat(16), "ELS12345678": key_of(&v)});
    let tg = decode_ok(&hex(s(&v, "input_hex")), &Decode { keys: Some(&keys), ..Decode::default() });
    assert_eq!(tg["decrypted"], true);
}

#[test]
fn receiver_decrypted_payload_without_key() {
    // A receiver that decrypts in the radio forwards the plaintext under a header that still
    // says mode 5: without a key it is decoded and flagged as decrypted by the receiver.
    let v = vector("mode5-oms-annexN-N21");
    let mut forwarded = hex(s(&v, "input_hex"))[..15].to_vec();
    forwarded.extend(hex(s(&v["expected"], "plaintext")));
    let tg = decode_ok(&forwarded, &Decode::default());
    assert_eq!((&tg["decrypted"], &tg["decrypted_by"]), (&json!(true), &json!("receiver")));
    assert_eq!(records(&tg).len(), 3);
}

#[test]
fn trailing_bytes_after_frame_are_reported() {
    let mut frame = hex(s(&vector("frame-a-sontex-3-blocks"), "input_hex"));
    frame.extend([0xC4, 0x01]);
    assert_eq!(decode_ok(&frame, &Decode::default())["trailing_bytes"], 2);
}
