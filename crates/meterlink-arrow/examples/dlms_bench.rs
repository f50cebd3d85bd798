//! The Rust-only DLMS/COSEM path (no Python), issue 13 §5: a 290-byte general-glo-ciphering
//! data-notification (suite 0, authenticated encryption) decoded N times into the Arrow
//! messages and OBIS tables with `meterlink_arrow::dlms::decode_batch` (the in-place bulk path)
//! and `decode_batch_tree` (every message decoded in full), and decoded alone with
//! `meterlink::dlms::decode::decode_bulk` and `decode`. Reports messages/s. For measurements,
//! not a test. `only` runs one of them (`bulk`, `tree`, `fast`, `decode`), e.g. under callgrind.
//!
//! `cargo run --release --example dlms_bench -- [threads] [reps] [messages] [only]`

use std::time::Instant;

use meterlink::dlms::decode::{decode, decode_bulk, BulkScratch, DecodeOptions, Keys};
use meterlink::dlms::security::DlmsKeys;
use meterlink::hex::parse_hex;
use meterlink_arrow::dlms::{decode_batch, decode_batch_tree, DlmsBatchOptions};
use meterlink_arrow::FrameItem;

/// The plaintext of the Austrian TINETZ push (tests/vectors/dlms_bulk.json "dlms-0197-tinetz",
/// 260 bytes: long-invoke-id, date-time, a structure of 12 OBIS groups) enciphered with the
/// Green Book keys (EK 000102…0F, AK D0D1…DF), system title 4D4D4D0000BC614E, invocation counter
/// 01234567, SC 0x30; built by benches/bench_dlms.py with `cryptography`'s AES-GCM.
const FRAME: &str = "db084d4d4d0000bc614e82011530012345678e123b4d475640b26f343a6a923d9e0787e34d087e203f74125bd5a307b6df2bcd15406c6d86783a012e2afab00e48aa9a250c51235004d84068281accc01911f07cc9472615800e69be02a6e4547d3978409e7385f0ce4e95bef015d61a96e321fefa1831f31e44f019025fe96922bff671fce62781b19c4779e907d1c2ee448ac6121af839ad324e5535ff54062e8ea62e4c6b8903a15869f26635432d6031fa13c2974e3a126333a26de588b969141f392a2faf2ae358279ca6b15320e9202bc52b3f79ce6b71ad74a802dd5164cc1483f82680e1de91b19e7cae861bc6f012e68fc7c3d033bc1723c52fe873234b884dc9987f4459b170ee3f2017c44d83c6629b533ff8842c0cc9f58d250167e0";

/// Best messages/s of `reps` runs of `run` (which decodes `n` messages).
fn best(reps: usize, n: usize, mut run: impl FnMut()) -> f64 {
    let mut best = 0.0f64;
    for _ in 0..reps {
        let t = Instant::now();
        run();
        best = best.max(n as f64 / t.elapsed().as_secs_f64());
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let only = args.get(4).map(String::as_str);
    let run = |name: &str| only.is_none_or(|o| o == name);
    let frame = parse_hex(FRAME).unwrap();
    let ek = parse_hex("000102030405060708090A0B0C0D0E0F").unwrap();
    let ak = parse_hex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF").unwrap();
    let keys = Keys::Every(DlmsKeys::new(ek, Some(ak)));
    let one = decode(&frame, &keys, &DecodeOptions::default()).expect("the benchmark push decodes");
    assert!(one.decrypted() && !one.rows.is_empty(), "deciphered, with OBIS rows");
    println!("{} bytes -> {} OBIS rows", frame.len(), one.rows.len());

    let items: Vec<FrameItem> = (0..n).map(|_| FrameItem::Bytes(&frame)).collect();
    let opts = DlmsBatchOptions { threads: Some(threads), ..Default::default() };
    if run("bulk") {
        let r = best(reps, n, || {
            let b = decode_batch(&items[..], &keys, &opts, &[]).unwrap();
            assert_eq!(b.counts.get(meterlink_arrow::Status::Ok), n as u64);
        });
        println!("decode_batch -> Arrow, {threads} thread(s): {r:.0} messages/s");
    }
    if run("tree") {
        let r = best(reps, n, || {
            let b = decode_batch_tree(&items[..], &keys, &opts, &[], None).unwrap();
            assert_eq!(b.counts.get(meterlink_arrow::Status::Ok), n as u64);
        });
        println!("decode_batch_tree -> Arrow (full decode), {threads} thread(s): {r:.0} messages/s");
    }
    let o = DecodeOptions::default();
    if run("fast") {
        let (mut scratch, mut rows) = (BulkScratch::default(), Vec::new());
        let r = best(reps, n, || {
            let mut total = 0;
            for _ in 0..n {
                decode_bulk(&frame, &keys, &o, &mut scratch, &mut rows).unwrap();
                total += rows.len();
            }
            assert_eq!(total, n * one.rows.len());
        });
        println!("dlms::decode_bulk per message: {r:.0} messages/s");
    }
    if run("decode") {
        let r = best(reps, n, || {
            let mut total = 0;
            for _ in 0..n {
                total += decode(&frame, &keys, &o).unwrap().rows.len();
            }
            assert_eq!(total, n * one.rows.len());
        });
        println!("dlms::decode per message: {r:.0} messages/s");
    }
}
