//! The Parquet sink end to end (issue 15 §3): `serve` with a `once` file intake and
//! `[parquet] dir`; the hourly files read back with the Parquet/Arrow reader hold exactly the
//! stored telegrams (no duplicate reception, no rejection), row for row what `meterlink bulk`'s
//! decoder (`meterlink_arrow::decode_batch` + `nest`, the function behind `meterlink bulk`'s
//! Parquet output) gives for the same frames.

mod pipeline_common;

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use meterlink_arrow::writers::encode_jsonl;
use meterlink_arrow::{decode_batch, nest, BatchOptions, FrameItem};
use meterlink_service::config::ParquetSection;
use meterlink_service::pipeline::keys::KeyFiles;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline_common::*;
use serde_json::Value;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z

/// Every `.parquet` file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> Vec<RecordBatch> {
    ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap().build().unwrap().map(Result::unwrap).collect()
}

/// Rows as JSON objects (the JSON-lines encoding `meterlink bulk` writes), without `index`
/// and the given metadata columns.
fn json_rows(batches: &[RecordBatch], drop: &[&str]) -> Vec<Value> {
    encode_jsonl(batches)
        .unwrap()
        .concat()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut v: Value = serde_json::from_slice(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("index");
            for k in drop {
                o.remove(*k);
            }
            v
        })
        .collect()
}

#[test]
fn stored_telegrams_land_in_hourly_files_as_bulk_writes_them() {
    let dir = tempdir("parquet");
    // 12 telegrams of 12 meters (mode 5, encrypted; volume 1000·i + 7 litres): 6 in the hour
    // 00:00 UTC, 6 in 01:00; each also heard by a second gateway 1 s later (a duplicate
    // reception); plus bytes that are no telegram (a rejection).
    let ids: Vec<u32> = (1..=12).map(|i| 40_000_000 + i).collect();
    key_file(&dir.join("keys.csv"), &ids, KEY);
    let mut lines = vec!["timestamp;gateway;frame".to_string()];
    let mut frames = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let f = frame(*id, 5, None, 1000 * i as u32 + 7, i as u8, KEY);
        let at = T0 + i as i64 * 600_000; // every 10 min: hours 00 and 01
        lines.push(format!("{at};gw-a;{}", hex(&f)));
        lines.push(format!("{};gw-b;{}", at + 1000, hex(&f)));
        frames.push(f);
    }
    lines.push(format!("{};gw-a;0102", T0 + 5));
    std::fs::write(dir.join("rx.txt"), lines.join("\n")).unwrap();
    let db = dir.join("m.db");
    let out = dir.join("pq");
    let mut c = config(&db, vec![file_intake("f", &dir.join("rx.txt"), true)], vec![dir.join("keys.csv")]);
    c.parquet = Some(ParquetSection { dir: out.clone() });
    serve_once(c);
    assert_eq!((count(&db, "telegrams"), count(&db, "receptions"), count(&db, "rejected")), (12, 24, 1));

    // Hourly files by the UTC reception hour, closed (no .tmp left) at shutdown.
    let names = files(&out);
    assert_eq!(names, [PathBuf::from("2024/01/01/00.parquet"), PathBuf::from("2024/01/01/01.parquet")]);
    let batches: Vec<RecordBatch> = names.iter().flat_map(|n| read(&out.join(n))).collect();
    let rows = json_rows(&batches, &[]);
    assert_eq!(rows.len(), 12, "one row per stored telegram");

    // The metadata columns: first reception's time and gateway.
    let times: Vec<i64> = rows.iter().map(|r| r["received_at_ms"].as_i64().unwrap()).collect();
    assert_eq!(times, (0..12).map(|i| T0 + i * 600_000).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r["gateway"] == "gw-a"));

    // Known readings: the first record is the volume, 1000·i + 7 litres.
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["status"], "ok", "{r}");
        let rec = &r["records"][0];
        assert_eq!(rec["unit"], "m^3");
        assert!((rec["value"].as_f64().unwrap() - (1000.0 * i as f64 + 7.0) / 1000.0).abs() < 1e-9, "{rec}");
    }

    // Row for row what `meterlink bulk`'s decoder writes for the same frames and keys.
    let keys = KeyFiles::load(vec![dir.join("keys.csv")]).unwrap().current();
    let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
    let bulk = nest(&decode_batch(&items[..], &*keys, &BatchOptions::default(), &[]).unwrap()).unwrap();
    let want = json_rows(&bulk.batches, &[]);
    let got = json_rows(&batches, &["received_at_ms", "gateway", "dedup_key"]);
    assert_eq!(got, want);
    // The Arrow schema is bulk's plus the three metadata columns before `records`.
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let bulk_names: Vec<&str> = bulk.schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut expect = bulk_names[..bulk_names.len() - 1].to_vec();
    expect.extend(["received_at_ms", "gateway", "dedup_key", "records"]);
    assert_eq!(names, expect);
}

#[test]
fn a_restart_adds_part_files_and_never_overwrites_a_closed_hour() {
    let dir = tempdir("parquet-parts");
    key_file(&dir.join("keys.csv"), &[41_000_001, 41_000_002], KEY);
    let f1 = frame(41_000_001, 5, None, 100, 1, KEY);
    let f2 = frame(41_000_002, 5, None, 200, 2, KEY);
    std::fs::write(dir.join("a.txt"), format!("timestamp;frame\n{};{}\n", T0 + 60_000, hex(&f1))).unwrap();
    std::fs::write(dir.join("b.txt"), format!("timestamp;frame\n{};{}\n", T0 + 120_000, hex(&f2))).unwrap();
    let db = dir.join("m.db");
    let out = dir.join("pq");
    let run = |input: &str| {
        let mut c = config(&db, vec![file_intake("f", &dir.join(input), true)], vec![dir.join("keys.csv")]);
        c.parquet = Some(ParquetSection { dir: out.clone() });
        serve_once(c);
    };
    run("a.txt");
    let first = std::fs::read(out.join("2024/01/01/00.parquet")).unwrap();
    // A crash's leftover: never reused, never given a final name.
    std::fs::write(out.join("2024/01/01/00-1.parquet.tmp"), b"half").unwrap();
    run("b.txt");
    assert_eq!(files(&out), ["2024/01/01/00-1.parquet.tmp", "2024/01/01/00-2.parquet", "2024/01/01/00.parquet"].map(PathBuf::from));
    assert_eq!(std::fs::read(out.join("2024/01/01/00.parquet")).unwrap(), first, "the closed hour is unchanged");
    let rows = json_rows(&read(&out.join("2024/01/01/00-2.parquet")), &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["received_at_ms"], T0 + 120_000);
    // The same input again: stored once, so nothing new in Parquet either.
    run("b.txt");
    assert_eq!(files(&out).len(), 3);
    assert_eq!(count(&db, "telegrams"), 2);
}
