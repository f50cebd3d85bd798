//! Key files: `KeyStore::load_csv` on arbitrary text (the core has no JSON key loader; the
//! Python package reads JSON key dicts and hands the core parsed values). Never a panic; a
//! success counts at most one key per line and the store holds at most that many; a failure
//! names a line that exists. Every field also goes through the single-field parsers.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use meterlink::keys::{parse_key_hex, parse_manufacturer, parse_meter_id, parse_meter_name, KeyStore};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let mut ks = KeyStore::new();
    match ks.load_csv(&text) {
        Ok(n) => {
            assert!(n <= lines, "{n} keys from {lines} lines");
            assert!(ks.len() <= n);
        }
        Err(e) => assert!((1..=lines.max(1)).contains(&e.line), "line {} of {lines}", e.line),
    }
    for field in text.split([',', ';', '\t', '\n']) {
        let _ = parse_key_hex(field);
        let _ = parse_manufacturer(field);
        let _ = parse_meter_id(field);
        // Was a panic on non-ASCII names (fuzz/artifacts/key_file/), fixed in keys.rs.
        {
            let _ = parse_meter_name(field);
        }
    }
});
