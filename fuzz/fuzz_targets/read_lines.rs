//! Text archives: whatever the bytes and however they are cut, the line reader never panics,
//! every batch holds at most the rows asked for, and decoding the rows never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink_arrow::{self as batch, BatchOptions, FrameSource, LineFormat, LineReader};
use meterlink::keys::NoKeys;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let format = [LineFormat::Hex, LineFormat::RtlWmbus, LineFormat::Wmbusmeters][ctl as usize % 3];
    let chunk = (ctl as usize / 3 % 31) + 1;
    // 1–3 rows per batch, but at most ~4 batches per input (every batch builds all the columns).
    let max_rows = ((ctl as usize / 93) + 1).max(rest.len() / 64);
    let mut r = LineReader::new(format);
    let opts = BatchOptions { threads: Some(1), ..Default::default() };
    let mut rows = 0usize;
    let mut check = |b: batch::LineBatch| {
        assert!(b.len() <= max_rows && !b.is_empty());
        rows += b.len();
        let out = batch::decode_batch(&b, &NoKeys, &opts, &b.metadata).expect("metadata columns fit");
        assert_eq!(out.num_frames(), b.len());
    };
    for c in rest.chunks(chunk) {
        r.feed(c);
        while let Some(b) = r.next_batch(max_rows, false) {
            check(b);
        }
    }
    while let Some(b) = r.next_batch(max_rows, true) {
        check(b);
    }
    assert!(rows as u64 <= r.lines_read());
});
