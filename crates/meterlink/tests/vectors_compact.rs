//! `tests/vectors/compact-frames.json`: real Kamstrup / Engelmann compact frames (EN 13757-3,
//! CI 79h/7Bh/73h) expanded through the format cache to the readings the wmbusmeters drivers
//! give, as `tests/test_compact.py` asserts them: the signature rule on full/compact pairs,
//! the CRC of an earlier full frame, and the built-in formats of known meters.

mod common;

use common::{decode_ok, format_cache, hex, load, num, s, Decode};
use serde_json::Value as Json;

const VECTORS: &str = include_str!("../../../tests/vectors/compact-frames.json");

/// Independent bitwise CRC of EN 13757 (poly 3D65h, init 0, xorout FFFFh).
fn crc16_en13757(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x3D65 } else { crc << 1 };
        }
    }
    crc ^ 0xFFFF
}

/// Recompute the ELL payload CRC (bytes 17..19 over 19..) so a changed frame still reads as clear.
fn fix_ell_crc(frame: &mut [u8]) {
    let crc = crc16_en13757(&frame[19..]);
    frame[17..19].copy_from_slice(&crc.to_le_bytes());
}

/// The file's `key` list ("pairs" or "standalone"), which must hold `count` cases.
fn cases(key: &str, count: usize) -> Vec<Json> {
    let list = load(VECTORS)[key].as_array().expect(key).clone();
    assert_eq!(list.len(), count, "compact-frames.json {key} count");
    list
}

fn records(tg: &Json) -> &Vec<Json> {
    tg["records"].as_array().expect("records")
}

/// Every `expected` reading ("<field>_<unit>") is a record with that unit and value.
fn assert_readings(tg: &Json, expected: &Json, name: &str) {
    let expected = expected.as_object().expect("expected");
    assert!(!expected.is_empty(), "{name}");
    for (field, want) in expected {
        let unit = match field.rsplit('_').next() {
            Some("m3") => "m^3",
            Some("m3h") => "m^3/h",
            Some("c") => "°C",
            other => panic!("{name}: unit of {field}: {other:?}"),
        };
        let want = num(want).expect("number");
        let hit = records(tg).iter().any(|r| r["unit"] == unit && num(&r["value"]).is_some_and(|v| (v - want).abs() < 1e-9));
        assert!(hit, "{name}: no record {field} = {want} {unit}");
    }
}

#[test]
fn crc_helper() {
    assert_eq!(crc16_en13757(b"123456789"), 0xC2B7);
}

#[test]
fn real_kamstrup_pairs_signature_rule() {
    for pair in &cases("pairs", 3) {
        let name = s(pair, "name");
        let cache = format_cache();
        let with_cache = Decode { formats: Some(&cache), ..Decode::default() };
        decode_ok(&hex(s(pair, "full_hex")), &with_cache);
        let tg = decode_ok(&hex(s(pair, "compact_hex")), &with_cache);
        assert_eq!(tg["compact_signature"], pair["signature"], "{name}");
        assert!(tg["undecoded"].is_null(), "{name}: {}", tg["undecoded"]);
        assert_readings(&tg, &pair["expected"], name);
    }
}

#[test]
fn compact_crc_of_previous_full_frame_accepted_but_not_any_crc() {
    let pair = &cases("pairs", 3)[2]; // flowIQ: CRC 8054h is the earlier full frame's
    assert_eq!(s(pair, "name"), "flowiq2200-23813076");
    let mut compact = hex(s(pair, "compact_hex"));
    let cache = format_cache();
    let with_cache = Decode { formats: Some(&cache), ..Decode::default() };
    // Its format is built in, but a built-in format needs the CRC of the frame's own records.
    assert!(records(&decode_ok(&compact, &with_cache)).is_empty());
    decode_ok(&hex(s(pair, "full_hex")), &with_cache);
    assert!(!records(&decode_ok(&compact, &with_cache)).is_empty());
    // A full-frame CRC matching neither the expanded records nor a learnt full frame: no records.
    compact[22] ^= 0x01;
    fix_ell_crc(&mut compact);
    let tg = decode_ok(&compact, &with_cache);
    assert!(records(&tg).is_empty());
    assert!(s(&tg["undecoded"], "reason").contains("full-frame CRC"), "{}", tg["undecoded"]);
}

#[test]
fn built_in_formats_of_known_meters_without_a_full_frame() {
    let cases = cases("standalone", 2);
    for case in &cases {
        let name = s(case, "name");
        let frame = hex(s(case, "hex"));
        for with_cache in [false, true] {
            let cache = format_cache();
            let args = Decode { keys: Some(&case["keys"]), formats: with_cache.then_some(&cache), ..Decode::default() };
            let tg = decode_ok(&frame, &args);
            assert_eq!(tg["compact_signature"], case["signature"], "{name}");
            assert!(tg["undecoded"].is_null(), "{name}: {}", tg["undecoded"]);
            assert_readings(&tg, &case["expected"], name);
        }
    }
    // One flipped data byte breaks the frame's own CRC: a built-in format gives no records.
    let mut bad = hex(s(&cases[0], "hex"));
    bad[26] ^= 0x01;
    fix_ell_crc(&mut bad);
    let tg = decode_ok(&bad, &Decode::default());
    assert!(records(&tg).is_empty());
    assert!(s(&tg["undecoded"], "reason").contains("CRC"), "{}", tg["undecoded"]);
}
