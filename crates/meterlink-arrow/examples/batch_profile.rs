//! Profiling driver for the bulk path (no Python): decode N copies of a frame with
//! `batch::decode_batch` and report telegrams/s. For perf / callgrind, not a test.
//!
//! `cargo run --release --example batch_profile -- wired|mode5 [threads] [reps] [frames] [single]`
//! (`single`: time `decode_with_keys` per frame instead of the batch).

use std::time::Instant;

use meterlink_arrow::{self as batch, parse_hex_into, BatchOptions, FrameItem};
use meterlink::keys::{KeyLookup, KeyStore, NoKeys};

const HEAT_20: &str = "687B7B6808017278563412931533042A0000000C78123456780406A08601000C14270485020B2D1500000B3B5604000A5B65000A5F42000A622301046D32371F154406A08501004414C4D20100426C1F15840106A0840100840114B0D1010082016CFF140422E80300000426E803000002FD17000001FD0E050C13910300004116";
// OMS Annex N.2.1 (tests/vectors/wireless-frames.json "mode5-oms-annexN-N21").
const MODE5: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";
const MODE5_KEY: &str = "0102030405060708090A0B0C0D0E0F11";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("wired", String::as_str);
    let threads: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let reps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let n: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let mut frame = Vec::new();
    let mut ks = KeyStore::new();
    let keys: &(dyn KeyLookup + Sync) = if which == "mode5" {
        parse_hex_into(MODE5, &mut frame).unwrap();
        ks.insert_text(None, "12345678", MODE5_KEY).unwrap();
        &ks
    } else {
        parse_hex_into(HEAT_20, &mut frame).unwrap();
        &NoKeys
    };
    if args.get(5).map(String::as_str) == Some("single") {
        // The single-frame API, for comparison: `decode_with_keys` per frame.
        let opts = meterlink::DecodeOptions::default();
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(meterlink::decode_with_keys(std::hint::black_box(&frame), &opts, keys).unwrap());
        }
        println!("{which} decode_with_keys: {:.0} ns/frame", t0.elapsed().as_secs_f64() * 1e9 / n as f64);
        return;
    }
    let items: Vec<FrameItem> = (0..n).map(|_| FrameItem::Bytes(&frame)).collect();
    let opts = BatchOptions { threads: Some(threads), ..Default::default() };
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t0 = Instant::now();
        let out = batch::decode_batch(&items[..], keys, &opts, &[]).unwrap();
        let dt = t0.elapsed().as_secs_f64();
        best = best.min(dt);
        assert_eq!(out.counts.frames(), n as u64);
        assert_eq!(out.counts.get(batch::Status::Ok), n as u64);
        std::hint::black_box(out);
    }
    println!("{which} threads={threads}: best {:.1} ms ({:.0}/s)", best * 1e3, n as f64 / best);
}
