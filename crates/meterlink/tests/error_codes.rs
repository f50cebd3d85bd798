//! The error codes are a stable, documented vocabulary: `docs/errors.md` lists exactly the codes
//! the core can produce, each once, in snake_case.

use std::collections::BTreeSet;

use meterlink::error::ALL_CODES;
use meterlink::mbus::encode::EncodeError;

const DOC: &str = include_str!("../../../docs/errors.md");

/// Codes produced outside the core's error types: bulk input items that are not frames
/// (meterlink-arrow) and malformed arguments without a typed error (bindings).
const OTHER: [&str; 2] = ["input", "argument"];

/// The core's part of the document: the service's codes (`# Service`, crate
/// meterlink-service) are checked by that crate's tests.
fn documented() -> Vec<String> {
    let core = DOC.split("\n# Service\n").next().unwrap_or(DOC);
    core.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |").map(|(c, _)| c.to_string()))
        .collect()
}

#[test]
fn docs_list_every_code_once() {
    let doc = documented();
    let unique: BTreeSet<&str> = doc.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), doc.len(), "a code is documented twice");
    let dlms = meterlink::dlms::ALL_CODES.iter().flat_map(|stage| stage.iter());
    let mut ours: Vec<&str> =
        ALL_CODES.iter().chain(EncodeError::ALL_CODES).chain(OTHER.iter()).chain(dlms).chain(meterlink::dsmr::DsmrError::CODES).copied().collect();
    let n = ours.len();
    ours.sort_unstable();
    ours.dedup();
    assert_eq!(ours.len(), n, "a code is used for two meanings");
    assert_eq!(unique, ours.into_iter().collect::<BTreeSet<_>>());
    for c in doc {
        assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{c}");
    }
}

#[test]
fn decode_errors_carry_their_codes() {
    use meterlink::{decode, DecodeOptions};
    let n22 = meterlink::hex::parse_hex("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916").unwrap();
    let mut bad = n22.clone();
    let cs = bad.len() - 2;
    bad[cs] ^= 1;
    let e = decode(&bad, &DecodeOptions::default()).unwrap_err();
    assert_eq!((e.code(), e.offset, e.class().exception_name()), ("frame_checksum", cs, "FrameError"));
    assert!(ALL_CODES.contains(&e.code()));
    let e = decode(&n22[..10], &DecodeOptions::default()).unwrap_err();
    assert_eq!(e.code(), "frame_truncated");
}
