//! P1 text telegrams: `parse` never panics; an accepted telegram gives rows, and its text
//! written back (`to_text`, CRC recomputed) parses to the same lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::dlms::p1;

fuzz_target!(|data: &[u8]| {
    let Ok(t) = p1::parse(data) else { return };
    let _ = t.timed_rows();
    let text = t.to_text();
    let again = p1::parse(text.as_bytes()).expect("written text parses");
    assert_eq!(again.header, t.header);
    assert_eq!(again.crc.is_some(), t.crc.is_some());
    let lines = |t: &p1::P1Telegram| t.lines.iter().map(|l| (l.obis, l.values.clone())).collect::<Vec<_>>();
    assert_eq!(lines(&again), lines(&t));
});
