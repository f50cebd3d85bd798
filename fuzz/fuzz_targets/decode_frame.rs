//! Any byte string through the whole decoder, with every link mode: it must return a telegram
//! or an error, never panic, and every record span must lie inside the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::mbus::decode::LinkMode;
use meterlink::{decode, DecodeOptions};

fuzz_target!(|data: &[u8]| {
    for link in [LinkMode::Auto, LinkMode::Wired, LinkMode::Wireless, LinkMode::WirelessA, LinkMode::WirelessB] {
        if let Ok(tg) = decode(data, &DecodeOptions { link, ..Default::default() }) {
            for r in &tg.records {
                let _ = r.dib.get(&tg.payload);
                let _ = r.vib.get(&tg.payload);
                let _ = r.data.get(&tg.payload);
                let _ = meterlink::mbus::records::describe(r, &tg.payload);
            }
        }
    }
});
