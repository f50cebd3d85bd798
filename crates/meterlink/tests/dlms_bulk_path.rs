//! The bulk path `dlms::decode::decode_bulk` (in place: no APDU or Data tree, cached keys)
//! gives exactly what the tree path gives (`Summary::of(decode(..))`): the summary, the OBIS
//! rows, or the same error. Checked on every real frame and push of the DLMS test vectors
//! (`tests/vectors/dlms_*.json`), each also with every one-byte corruption and truncation.

use meterlink::dlms::decode::{decode, decode_bulk, BulkScratch, DecodeOptions, Framing, Keys, Summary};
use meterlink::dlms::security::{encipher, DlmsKeys, Protection, SecurityControl};
use meterlink::dlms::ObisRow;
use meterlink::hex::parse_hex;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    parse_hex(v.as_str().unwrap()).unwrap()
}

fn keys_of(v: &Value) -> Keys {
    let Some(ek) = v.get("ek").and_then(Value::as_str) else { return Keys::None };
    let ak = v.get("ak").and_then(Value::as_str).map(|a| parse_hex(a).unwrap());
    let k = DlmsKeys::new(parse_hex(ek).unwrap(), ak);
    match v.get("system_title").and_then(Value::as_str) {
        Some(t) => Keys::ByTitle(vec![(parse_hex(t).unwrap().try_into().unwrap(), k)]),
        None => Keys::Every(k),
    }
}

/// Frames with their keys: ciphered APDUs (Green Book examples, corpus), APDUs, HDLC and
/// wrapper frames, and every push body of the A-XDR vectors as a data-notification (date-time
/// absent, present and in Kaifa's tagged form), clear and ciphered.
fn frames() -> Vec<(String, Vec<u8>, Keys)> {
    let mut out = Vec::new();
    let sec = json(include_str!("vectors/dlms_security.json"));
    for group in ["greenbook", "apdus", "corpus_ciphered"] {
        for v in sec[group].as_array().unwrap() {
            let name = v.get("name").or(v.get("id")).unwrap().as_str().unwrap().to_string();
            let bytes = hex(v.get("apdu").or(v.get("hex")).unwrap());
            out.push((name, bytes, keys_of(v)));
        }
    }
    let apdu = json(include_str!("vectors/dlms_apdu.json"));
    for group in ["decode", "ciphered", "reject"] {
        for v in apdu[group].as_array().unwrap() {
            out.push((v["id"].as_str().unwrap().to_string(), hex(&v["hex"]), keys_of(v)));
        }
    }
    let transport = json(include_str!("vectors/dlms_transport.json"));
    for group in ["hdlc_frames", "wrapper_frames"] {
        for v in transport[group].as_array().unwrap() {
            out.push((v["id"].as_str().unwrap().to_string(), hex(&v["hex"]), keys_of(v)));
        }
    }
    let axdr = json(include_str!("vectors/dlms_axdr.json"));
    let keys = DlmsKeys::new(parse_hex("000102030405060708090A0B0C0D0E0F").unwrap(), Some(parse_hex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF").unwrap()));
    let dt: &[u8] = &[0x07, 0xE5, 0x07, 0x13, 0x01, 0x0F, 0x2E, 0x23, 0x00, 0xFF, 0x88, 0x80];
    for v in axdr["pushes"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        let body = hex(&v["body"]);
        for (k, time) in [vec![0u8], [&[12u8][..], dt].concat(), [&[9u8, 12][..], dt].concat()].into_iter().enumerate() {
            let plain = [&[0x0F, 0x80, 0x00, 0x12, 0x34][..], &time, &body].concat();
            out.push((format!("{id}-clear-{k}"), plain.clone(), Keys::None));
            let p = Protection {
                tag: 0xDB,
                security_control: SecurityControl(0x30),
                invocation_counter: 0x0123_4567,
                system_title: *b"MMM\x00\x00\xBCaN",
                general: None,
            };
            let ciphered = encipher(&p, &plain, &keys).unwrap();
            out.push((format!("{id}-ciphered-{k}"), ciphered, Keys::Every(keys.clone())));
        }
    }
    out
}

fn tree(data: &[u8], keys: &Keys, opts: &DecodeOptions) -> Result<(Summary, Vec<ObisRow>), meterlink::Error> {
    decode(data, keys, opts).map(Summary::of)
}

fn check(name: &str, data: &[u8], keys: &Keys, opts: &DecodeOptions, scratch: &mut BulkScratch, rows: &mut Vec<ObisRow>) -> bool {
    let fast = decode_bulk(data, keys, opts, scratch, rows).map(|s| (s, rows.clone()));
    assert_eq!(fast, tree(data, keys, opts), "{name}: {}", meterlink::hex::to_hex_lower(data));
    matches!(fast, Ok((ref s, _)) if s.plaintext_apdu_type.is_some() || s.apdu_type == Some("data-notification"))
}

#[test]
fn bulk_path_equals_tree_path_on_every_vector() {
    let (mut scratch, mut rows) = (BulkScratch::default(), Vec::new());
    let (mut pushes, mut with_rows) = (0, 0);
    for (name, data, keys) in frames() {
        for framing in [Framing::Auto, Framing::Apdu] {
            let opts = DecodeOptions { framing, strict: false };
            if check(&name, &data, &keys, &opts, &mut scratch, &mut rows) {
                pushes += 1;
                with_rows += usize::from(!rows.is_empty());
            }
            let strict = DecodeOptions { framing, strict: true };
            check(&name, &data, &Keys::None, &strict, &mut scratch, &mut rows);
        }
    }
    // The fast path was taken on the pushes (clear and ciphered) and gave rows.
    assert!(pushes >= 100 && with_rows >= 90, "{pushes} notifications, {with_rows} with rows");
}

#[test]
fn bulk_path_equals_tree_path_on_corrupted_frames() {
    let (mut scratch, mut rows) = (BulkScratch::default(), Vec::new());
    let opts = DecodeOptions::default();
    for (name, data, keys) in frames() {
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x01;
            check(&format!("{name} bit 0 of byte {i}"), &bad, &keys, &opts, &mut scratch, &mut rows);
            bad[i] ^= 0x81;
            check(&format!("{name} bit 7 of byte {i}"), &bad, &keys, &opts, &mut scratch, &mut rows);
            check(&format!("{name} cut at {i}"), &data[..i], &keys, &opts, &mut scratch, &mut rows);
        }
    }
}

#[test]
fn bulk_path_keeps_no_rows_of_a_failed_message() {
    let (mut scratch, mut rows) = (BulkScratch::default(), Vec::new());
    let opts = DecodeOptions::default();
    let frames = frames();
    let (_, push, keys) = frames.iter().find(|(n, ..)| n.ends_with("-ciphered-1")).unwrap();
    decode_bulk(push, keys, &opts, &mut scratch, &mut rows).unwrap();
    assert!(!rows.is_empty());
    let mut bad = push.clone();
    *bad.last_mut().unwrap() ^= 1; // the tag
    let e = decode_bulk(&bad, keys, &opts, &mut scratch, &mut rows).unwrap_err();
    assert_eq!(e.code(), "cipher_tag_mismatch");
    assert!(rows.is_empty());
}

#[test]
fn group_rows_equal_the_general_walk() {
    use meterlink::dlms::push::{group_rows_from_bytes, rows_from_bytes};
    let axdr = json(include_str!("vectors/dlms_axdr.json"));
    let mut taken = 0;
    let mut out = Vec::new();
    for v in axdr["pushes"].as_array().unwrap() {
        let body = hex(&v["body"]);
        let general = rows_from_bytes(&body);
        for cut in [body.len(), body.len() - 1] {
            match group_rows_from_bytes(&body[..cut], &mut out) {
                Some(()) => {
                    assert_eq!(cut, body.len(), "{}: a cut body is not taken", v["id"]);
                    assert_eq!(Ok(out.clone()), general, "{}", v["id"]);
                    taken += 1;
                }
                None => assert!(out.is_empty()),
            }
        }
    }
    // Aidon (2) and TINETZ take it; EVN (a bare date-time first), Kamstrup (a list version
    // first) and Kaifa (values only) do not.
    assert_eq!(taken, 3);
}
