//! Keyed decoding in every link mode: byte 0 = options, bytes 1..17 = the key (offered for
//! every meter), the rest = a frame. Options bit 7 set: the rest instead chooses builder
//! parameters and records, the telegram is built with that key (modes 0, 2, 3, 5, 7, 8, 9, 10,
//! 15, with or without ELL/AFL) and then damaged, so that the MAC checks and the decryption
//! run on frames that (almost) verify. Never a panic; every record span lies in the payload.
#![no_main]

mod common;

use common::{key_material, read_records, AnyKey, LINKS};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use meterlink::mbus::decode::TailPolicy;
use meterlink::{decode_with_keys, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (opt, key, rest) = (data[0], <[u8; 16]>::try_from(&data[1..17]).unwrap(), &data[17..]);
    let built;
    let frame = if opt & 0x80 != 0 {
        let Some(f) = build(rest, &key) else { return };
        built = f;
        &built[..]
    } else {
        rest
    };
    let keys = AnyKey(key_material(&key, opt & 0x08 != 0));
    let tail = [TailPolicy::Auto, TailPolicy::Strict, TailPolicy::Keep][((opt as usize >> 5) & 3) % 3];
    for link in LINKS {
        let opts = DecodeOptions { link, strict: opt & 0x10 != 0, tail, ..Default::default() };
        if let Ok(tg) = decode_with_keys(frame, &opts, &keys) {
            read_records(&tg);
        }
    }
});

/// Build a telegram from the fuzz-chosen parameters, then damage it.
fn build(rest: &[u8], key: &[u8; 16]) -> Option<Vec<u8>> {
    let mut u = Unstructured::new(rest);
    let b = common::builder(&mut u, key, true).ok()?;
    let records = common::records(&mut u, 6, false).ok()?;
    let clear = common::records(&mut u, 2, false).ok()?;
    let mut f = b.encode(&records, &clear).ok()?;
    common::mutate(&mut u, &mut f).ok()?;
    Some(f)
}
