//! Criterion benchmarks: frame + record decoding in the Rust core (no Python).
//!
//! Run: `cargo bench --bench decode`. Numbers go into the issue notes, never into tests.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meterlink::mbus::records::{parse_records, Record};
use meterlink::{decode, DecodeOptions};

/// A typical wired heat meter RSP_UD: long header + 20 records (BCD and binary integers,
/// dates F and G, storage 1 and 2 via DIFE, FD-table records). Same frame as benches/frames.py.
pub const HEAT_20: &str = "687B7B6808017278563412931533042A0000000C78123456780406A08601000C14270485020B2D1500000B3B5604000A5B65000A5F42000A622301046D32371F154406A08501004414C4D20100426C1F15840106A0840100840114B0D1010082016CFF140422E80300000426E803000002FD17000001FD0E050C13910300004116";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn bench(c: &mut Criterion) {
    let frame = hex(HEAT_20);
    let opts = DecodeOptions::default();
    assert_eq!(decode(&frame, &opts).unwrap().records.len(), 20);

    let mut g = c.benchmark_group("wired");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_20_records", |b| b.iter(|| decode(std::hint::black_box(&frame), &opts).unwrap()));
    let apdu = &frame[19..frame.len() - 2];
    let mut out: Vec<Record> = Vec::with_capacity(32);
    g.bench_function("parse_records_20", |b| {
        b.iter(|| {
            out.clear();
            parse_records(std::hint::black_box(apdu), false, &mut out).unwrap();
        })
    });
    g.bench_function("ft12_checksum_and_split", |b| {
        b.iter(|| meterlink::mbus::link::wired::parse(std::hint::black_box(&frame)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
