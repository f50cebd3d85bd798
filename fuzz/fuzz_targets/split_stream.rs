//! The stream splitter: whatever the input and however it is chunked, every byte ends up in
//! exactly one frame or skipped run, and every frame it returns passes the FT1.2 checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::mbus::link::splitter::{Piece, Splitter};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = (chunk as usize % 17) + 1;
    let mut s = Splitter::new();
    let mut total = 0u64;
    let mut take = |s: &mut Splitter| {
        while let Some(p) = s.next_piece() {
            match p {
                Piece::Frame { bytes, .. } => {
                    meterlink::mbus::link::wired::parse(&bytes).expect("splitter returned a bad frame");
                    total += bytes.len() as u64;
                }
                Piece::Skipped { len, .. } => total += len,
            }
        }
    };
    for c in rest.chunks(chunk) {
        s.push(c);
        take(&mut s);
    }
    s.finish();
    take(&mut s);
    assert_eq!(total, rest.len() as u64);
});
