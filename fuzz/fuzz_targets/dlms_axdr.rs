//! A-XDR data: decoding never panics; whatever decodes re-encodes to exactly the bytes it took
//! and decodes again to the same tree; the in-place view and tape accept exactly what decoding
//! accepts (same error, same length) and give the same OBIS rows as the tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::dlms::axdr::{decode_data, encode_data, same_data, tape, view_data};
use meterlink::dlms::push::{rows, rows_from_bytes};

fuzz_target!(|data: &[u8]| {
    let tree = decode_data(data);
    let view = view_data(data).map(|v| v.1);
    let tp = tape(data).map(|t| t.1);
    let len = tree.as_ref().map(|t| t.1).map_err(Clone::clone);
    assert_eq!(view, len, "view and decode disagree");
    assert_eq!(tp, len, "tape and decode disagree");
    let Ok((d, n)) = tree else { return };
    let mut out = Vec::new();
    encode_data(&d, &mut out);
    assert_eq!(out, &data[..n], "re-encoding differs");
    let (again, m) = decode_data(&out).expect("re-encoded data does not decode");
    assert_eq!(m, out.len());
    assert!(same_data(&again, &d), "decode -> encode -> decode changed the tree");
    let from_tree = rows(&d);
    let in_place = rows_from_bytes(&data[..n]).expect("rows_from_bytes rejected checked data");
    assert_eq!(format!("{from_tree:?}"), format!("{in_place:?}"), "rows differ");
});
