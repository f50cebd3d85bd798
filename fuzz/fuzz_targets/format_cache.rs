//! Compact frames (CI 79h, EN 13757-3 / OMS format signature) through `decode_full` with a
//! `FormatCache`: byte 0 = cache capacity and link mode, bytes 1..17 = the key (offered for
//! every meter, for encrypted full frames such as Kamstrup's ELL), the rest = length-prefixed
//! frames decoded in order, full frames teaching the cache, compact ones expanded from it.
//! Never a panic, the cache holds at most its capacity, every record readable.
#![no_main]

mod common;

use common::{frames, read_records, AnyKey, LINKS};
use libfuzzer_sys::fuzz_target;
use meterlink::keys::KeyMaterial;
use meterlink::mbus::compact::FormatCache;
use meterlink::{decode_full, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let capacity = (data[0] & 0x07) as usize + 1;
    let link = LINKS[(data[0] as usize >> 3) % LINKS.len()];
    let keys = AnyKey(KeyMaterial::Aes(<[u8; 16]>::try_from(&data[1..17]).unwrap()));
    let cache = FormatCache::new(capacity);
    let opts = DecodeOptions { link, ..Default::default() };
    for f in frames(&data[17..]) {
        if let Ok(tg) = decode_full(f, &opts, &keys, Some(&cache)) {
            read_records(&tg);
        }
        assert!(cache.len() <= capacity, "{} formats in a cache of {capacity}", cache.len());
    }
});
