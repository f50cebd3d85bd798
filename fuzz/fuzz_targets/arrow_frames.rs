//! In-memory Arrow input (`ArrowFrames`: binary, large binary, binary view, or hex text in
//! string, large string, string view) through `decode_batch`. The Arrow crate has no Parquet
//! or IPC reader in Rust (Python reads files), so this is the Rust-side Arrow input path.
//! Byte 0 = array type and chunk size, the rest = length-prefixed items (length FF = null).
//! Never a panic; one telegram row per item; the status counts add up to the rows.
#![no_main]

use arrow_array::{
    Array, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray, StringArray, StringViewArray,
};
use libfuzzer_sys::fuzz_target;
use meterlink::keys::NoKeys;
use meterlink_arrow::{decode_batch, ArrowFrames, BatchOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, mut rest)) = data.split_first() else { return };
    let mut items: Vec<Option<&[u8]>> = Vec::new();
    while let Some((&n, r)) = rest.split_first() {
        if n == 0xFF {
            items.push(None);
            rest = r;
            continue;
        }
        let n = (n as usize).min(r.len());
        items.push(Some(&r[..n]));
        rest = &r[n..];
    }
    let text: Vec<Option<String>> = items.iter().map(|i| i.map(|b| String::from_utf8_lossy(b).into_owned())).collect();
    let text: Vec<Option<&str>> = text.iter().map(|t| t.as_deref()).collect();
    let arr: Box<dyn Array> = match ctl % 6 {
        0 => Box::new(BinaryArray::from(items.clone())),
        1 => Box::new(LargeBinaryArray::from(items.clone())),
        2 => Box::new(BinaryViewArray::from(items.clone())),
        3 => Box::new(StringArray::from(text)),
        4 => Box::new(LargeStringArray::from(text)),
        _ => Box::new(StringViewArray::from(text)),
    };
    let src = ArrowFrames::new(arr.as_ref()).expect("a frame array type");
    // Small chunks test the concatenation; at most 4 chunks per input keep an execution cheap
    // (every chunk builds all the columns), so the campaign reaches its 10 M executions.
    let chunk_rows = ((ctl as usize / 6) % 7 + 1).max(items.len().div_ceil(4));
    let opts = BatchOptions { threads: Some(1), chunk_rows, ..Default::default() };
    let out = decode_batch(&src, &NoKeys, &opts, &[]).expect("no metadata columns");
    assert_eq!(out.num_frames(), items.len());
    assert_eq!(out.counts.frames(), items.len() as u64);
});
