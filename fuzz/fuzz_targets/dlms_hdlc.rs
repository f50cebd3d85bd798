//! HDLC (IEC 62056-46): `parse_frame` never panics and every frame it accepts re-encodes to the
//! same bytes; the splitter gives the same items for any chunking (byte 0 picks the chunk
//! size), every frame it returns parses, items never overlap; the segment reassembler stays
//! within its bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::dlms::hdlc::{encode_frame, parse_frame, split_stream, FrameSplitter, HdlcReassembler, SplitItem};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else { return };
    if let Ok(f) = parse_frame(rest) {
        assert_eq!(encode_frame(&f).expect("an accepted frame can be built"), rest);
        let _ = f.apdu();
    }
    let whole = split_stream(rest);
    let mut s = FrameSplitter::new();
    let mut chunked = Vec::new();
    for c in rest.chunks(chunk as usize % 17 + 1) {
        s.push(c);
        chunked.extend(std::iter::from_fn(|| s.next_item()));
    }
    s.finish();
    chunked.extend(std::iter::from_fn(|| s.next_item()));
    assert_eq!(chunked, whole, "chunking changed the result");
    let mut end = 0u64;
    let mut r = HdlcReassembler::new(64, 2);
    for item in &whole {
        match item {
            SplitItem::Frame { offset, raw_len, bytes, stuffed } => {
                // Consecutive frames may share one flag.
                assert!(offset + 1 >= end, "frame overlaps the previous item");
                parse_frame(bytes).expect("the splitter returned a bad frame");
                let at = *offset as usize;
                if !stuffed {
                    assert_eq!(&rest[at..at + raw_len], &bytes[..]);
                }
                end = offset + *raw_len as u64;
                let _ = r.push_bytes(bytes);
                assert!(r.pending() <= 2);
            }
            SplitItem::Skipped { offset, len } => {
                assert!(*offset >= end && *len > 0, "skipped run overlaps the previous item");
                end = offset + len;
            }
        }
    }
    assert!(end <= rest.len() as u64);
});
