//! Test helpers shared by the vector tests of every layer: the vector files under
//! `tests/vectors/` (entries copied verbatim from `shared/vectors/`, `source` kept) and small
//! parsers. Test-only (`#[cfg(test)]`); not part of the module graph checked by
//! `tests/module_cycles.rs`.

use serde_json::Value;

use crate::crypto::Key;
use crate::address::Address;
use crate::mbus::afl::{self, Afl};
use crate::mbus::ell;
use crate::mbus::link::wmbus::{self, FormatHint, FrameFormat};

pub(crate) const CRC: &str = include_str!("../../../tests/vectors/security/crc.json");
pub(crate) const FRAMES: &str = include_str!("../../../tests/vectors/security/frames.json");
pub(crate) const ELL: &str = include_str!("../../../tests/vectors/security/ell.json");
pub(crate) const MODE5: &str = include_str!("../../../tests/vectors/security/mode5.json");
pub(crate) const MODE7: &str = include_str!("../../../tests/vectors/security/mode7.json");
pub(crate) const MODE10: &str = include_str!("../../../tests/vectors/security/mode10.json");
pub(crate) const DSMR: &str = include_str!("../../../tests/vectors/security/dsmr.json");
pub(crate) const NIST: &str = include_str!("../../../tests/vectors/security/nist.json");

pub(crate) fn all(file: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(file).expect("vector file parses");
    v["vectors"].as_array().expect("vectors array").clone()
}

pub(crate) fn get(file: &str, name: &str) -> Value {
    all(file)
        .into_iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("vector {name}"))
}

pub(crate) fn hx(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub(crate) fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_str().unwrap_or_else(|| panic!("field {path:?}"))
}

pub(crate) fn k16(s: &str) -> Key {
    hx(s).try_into().unwrap()
}

pub(crate) fn input(v: &Value) -> Vec<u8> {
    hx(s(v, &["input_hex"]))
}

/// Parse a wireless frame and return (link address, data after the link header).
pub(crate) fn frame(v: &Value, hint: FormatHint) -> (Address, Vec<u8>, FrameFormat) {
    let raw = input(v);
    let f = wmbus::parse_wmbus(&raw, hint).expect("frame parses");
    (
        Address::new(f.m, f.id, f.version, f.device_type),
        f.data.to_vec(),
        f.format,
    )
}

/// Split a mode-7 style vector frame into (link, tpdu start, afl, data).
pub(crate) fn mode7_parts(v: &Value) -> (Address, Vec<u8>, Afl, usize) {
    let (link, data, _) = frame(v, FormatHint::Auto);
    let e = ell::parse_ell(&data).unwrap();
    let a = afl::parse_afl(&data[e.payload_offset..]).unwrap();
    (link, data, a, e.payload_offset + a.len)
}

#[test]
fn vector_files_cover_sources() {
    // every copied entry keeps its source; the verified flag is honoured by the tests above
    let mut n = 0;
    for file in [CRC, FRAMES, ELL, MODE5, MODE7, MODE10, DSMR, NIST] {
        for v in all(file) {
            assert!(!s(&v, &["source"]).is_empty());
            n += 1;
        }
    }
    assert_eq!(n, 32);
}

