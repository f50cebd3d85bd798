//! Test corpus for the batch columns: the vector frames plus deterministic pseudo-random wired
//! frames full of plausible records (every DIF coding, the VIF tables, VIFE chains, plain-text
//! units, dates, LVARs, manufacturer data), and a plain-text rendering of the output tables.
//!
//! `column_model_matches_decode` checks the hand-written column code (dictionary slots, hex,
//! ISO dates) row by row against the values the `Telegram` API gives.
//! `dump_corpus` (ignored) writes the rendering to `$METERLINK_DUMP` to diff two builds.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use super::*;
use meterlink::keys::KeyStore;
use meterlink::mbus::link::wired;
use meterlink::mbus::records::Value;
use meterlink::mbus::decode::{decode_with_keys, Telegram};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 32) as u8
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// A valid-looking (or deliberately odd) date field for DIF length `n`, LSB first.
fn date_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let (min, hour, day, month, yy) =
        (rng.below(64) as u8, rng.below(32) as u8, rng.below(32) as u8, rng.below(16) as u8, rng.below(128) as u8);
    let g = [day | (yy & 7) << 5, month | (yy >> 3) << 4];
    match n {
        2 => g.to_vec(),
        3 => vec![rng.below(64) as u8, min, hour],
        4 => vec![min | ((rng.byte() & 0x80) * (rng.below(8) == 0) as u8), hour | (rng.byte() & 0xE0), g[0], g[1]],
        6 => vec![rng.byte(), min | (rng.byte() & 0xC0), hour | (rng.byte() & 0xE0), g[0], g[1], rng.byte()],
        _ => (0..n).map(|_| rng.byte()).collect(),
    }
}

/// One data record (DIB, VIB, data) appended to `out`.
fn record(rng: &mut Rng, out: &mut Vec<u8>) {
    const FIXED_LEN: [usize; 16] = [0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0];
    let roll = rng.below(100);
    if roll < 2 {
        out.push(0x2F);
        return;
    }
    if roll < 3 {
        out.push(0x7F);
        return;
    }
    let code = rng.pick(&[0u8, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 0xA, 0xB, 0xC, 0xC, 0xD, 0xD, 0xE]);
    let difes = rng.pick(&[0usize, 0, 0, 1, 1, 2]);
    let dif = code | (rng.byte() & 0x70) | if difes > 0 { 0x80 } else { 0 };
    out.push(dif);
    for k in 0..difes {
        out.push((rng.byte() & 0x7F) | if k + 1 < difes { 0x80 } else { 0 });
    }
    // VIB
    let vifes = rng.pick(&[0usize, 0, 0, 0, 1, 1, 2]);
    let ext = if vifes > 0 { 0x80 } else { 0 };
    let mut date = false;
    match rng.below(10) {
        0..=4 => {
            let v = if rng.below(4) == 0 { rng.pick(&[0x6C, 0x6D]) } else { rng.byte() & 0x7F };
            date = v == 0x6C || v == 0x6D;
            out.push(v | ext);
            if v == 0x7C {
                let n = rng.below(5);
                out.push(n as u8);
                out.extend((0..n).map(|_| b'a' + rng.below(26) as u8));
            }
        }
        5 | 6 => {
            out.push(0xFD);
            let v = rng.byte() & 0x7F;
            date = v == 0x30 || v == 0x70;
            out.push(v | ext);
        }
        7 => {
            out.push(0xFB);
            out.push(rng.byte() & 0x7F | ext);
        }
        8 => {
            out.push(0x7C | ext);
            let n = rng.below(5);
            out.push(n as u8);
            out.extend((0..n).map(|_| b'A' + rng.below(26) as u8));
        }
        _ => out.push(0x7F | ext),
    }
    for k in 0..vifes {
        let v = rng.pick(&[0x22u8, 0x3B, 0x40, 0x49, 0x50, 0x6F, 0x74, 0x79, 0x7D, 0x7C, 0x01, 0x3A]);
        out.push(v | if k + 1 < vifes { 0x80 } else { 0 });
        if v == 0x7C && k + 1 == vifes {
            out.pop();
            out.push(0x22);
        }
    }
    // Data
    if code == 0xD {
        let l = rng.pick(&[0u8, 1, 3, 8, 0xC2, 0xC4, 0xD2, 0xE2, 0xE4, 0xE8, 0xE9, 0xF0, 0xF1]);
        out.push(l);
        let n = match l {
            0..=0xBF => l as usize,
            0xC0..=0xC9 => (l - 0xC0) as usize,
            0xD0..=0xD9 => (l - 0xD0) as usize,
            0xE0..=0xEF => (l - 0xE0) as usize,
            _ => 4 * (l - 0xEC) as usize,
        };
        if l <= 0xBF {
            out.extend((0..n).map(|_| b' ' + rng.below(95) as u8));
        } else if (0xC0..0xE0).contains(&l) && rng.below(2) == 0 {
            out.extend((0..n).map(|_| (rng.below(10) as u8) << 4 | rng.below(10) as u8));
        } else {
            out.extend((0..n).map(|_| rng.byte()));
        }
    } else {
        let n = FIXED_LEN[code as usize];
        if date {
            out.extend(date_bytes(rng, n));
        } else if (9..=0xE).contains(&code) && rng.below(3) > 0 {
            out.extend((0..n).map(|_| (rng.below(10) as u8) << 4 | rng.below(10) as u8));
        } else {
            out.extend((0..n).map(|_| rng.byte()));
        }
    }
}

/// The corpus: (frames, keys).
pub(super) fn corpus() -> (Vec<Vec<u8>>, KeyStore) {
    let mut frames = Vec::new();
    let mut keys = KeyStore::new();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/");
    let hex = |s: &str| {
        let mut v = Vec::new();
        parse_hex_into(s, &mut v).unwrap();
        v
    };
    for (file, field) in [("wired-frames.json", "hex"), ("wireless-frames.json", "input_hex")] {
        let text = std::fs::read_to_string(format!("{root}{file}")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for vec in v["vectors"].as_array().unwrap() {
            frames.push(hex(vec[field].as_str().unwrap()));
            if let Some(k) = vec.get("keys").and_then(|k| k.as_object()) {
                let tg = meterlink::mbus::decode::decode(&frames[frames.len() - 1], &Default::default()).ok();
                for key in k.values() {
                    if let Some(a) = tg.as_ref().and_then(|t| t.header.address.or(t.address)) {
                        let _ = keys.insert_text(None, &a.id_string(), key.as_str().unwrap());
                    }
                    if let Some(a) = tg.as_ref().and_then(|t| t.link_address()) {
                        let _ = keys.insert_text(None, &a.id_string(), key.as_str().unwrap());
                    }
                }
            }
        }
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..3000 {
        let ci = rng.pick(&[0x72u8, 0x72, 0x72, 0x78, 0x7A, 0x76, 0x73]);
        let mut body = Vec::new();
        match ci {
            0x72 | 0x76 => {
                body.extend([0x78, 0x56, 0x34, 0x12, 0x93, 0x15, 0x33, rng.pick(&[3, 4, 7]), rng.byte(), rng.byte()]);
                body.extend([0, 0]);
            }
            0x7A => body.extend([rng.byte(), rng.byte(), 0, 0]),
            0x73 => body.extend((0..15).map(|_| rng.byte())),
            _ => {}
        }
        let n = rng.below(25);
        for _ in 0..n {
            record(&mut rng, &mut body);
            if body.len() > 230 {
                break;
            }
        }
        if rng.below(10) == 0 {
            body.push(rng.pick(&[0x0F, 0x1F]));
            body.extend((0..rng.below(6)).map(|_| rng.byte()));
        }
        if i % 50 == 0 && !body.is_empty() {
            body.truncate(body.len() - 1);
        }
        body.truncate(250);
        if let Some(f) = wired::build_long(0x08, rng.byte(), ci, &body) {
            frames.push(f);
        }
    }
    (frames, keys)
}

fn cell(a: &dyn Array, i: usize, out: &mut String) {
    if a.is_null(i) {
        out.push('~');
        return;
    }
    let _ = match a.data_type() {
        DataType::UInt8 => write!(out, "{}", a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => write!(out, "{}", a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => write!(out, "{}", a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => write!(out, "{}", a.as_primitive::<UInt64Type>().value(i)),
        DataType::Int8 => write!(out, "{}", a.as_primitive::<Int8Type>().value(i)),
        DataType::Int64 => write!(out, "{}", a.as_primitive::<Int64Type>().value(i)),
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>().value(i);
            write!(out, "{v:?}/{:x}", v.to_bits())
        }
        DataType::Boolean => write!(out, "{}", a.as_boolean().value(i)),
        DataType::Utf8 => write!(out, "{:?}", a.as_string::<i32>().value(i)),
        DataType::Binary => {
            a.as_binary::<i32>().value(i).iter().for_each(|b| {
                let _ = write!(out, "{b:02x}");
            });
            Ok(())
        }
        DataType::Dictionary(_, _) => {
            let d = a.as_dictionary::<Int32Type>();
            let k = d.keys().value(i) as usize;
            write!(out, "{:?}", d.values().as_string::<i32>().value(k))
        }
        t => panic!("no rendering for {t}"),
    };
}

/// Every row of every batch as `name=value|...` lines (nulls as `~`).
pub(super) fn render(batches: &[RecordBatch]) -> String {
    let mut out = String::new();
    for b in batches {
        for i in 0..b.num_rows() {
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                out.push_str(f.name());
                out.push('=');
                cell(c.as_ref(), i, &mut out);
                out.push('|');
            }
            out.push('\n');
        }
    }
    out
}

fn accepting() -> DecodeOptions {
    DecodeOptions { accept_unprotected: true, ..Default::default() }
}

fn decode_corpus(chunk_rows: usize, threads: Option<usize>) -> (Vec<Vec<u8>>, KeyStore, DecodedBatch) {
    let (frames, keys) = corpus();
    let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
    // The corpus gathers frames of many receivers: judged frame by frame, as `decode` does.
    // Payloads that receivers decrypted are kept too (the vectors carry their keys).
    let opts = BatchOptions { chunk_rows, threads, one_source: false, decode: accepting(), ..Default::default() };
    let b = decode_batch(&items[..], &keys, &opts, &[]).unwrap();
    (frames, keys, b)
}

#[test]
#[ignore = "writes the corpus rendering to $METERLINK_DUMP, to diff two builds"]
fn dump_corpus() {
    let (_, _, b) = decode_corpus(97, Some(1));
    let path = std::env::var("METERLINK_DUMP").unwrap();
    std::fs::write(path, render(&b.telegrams) + &render(&b.records)).unwrap();
}

fn dict_str(a: &dyn Array, i: usize) -> Option<String> {
    let d = a.as_dictionary::<Int32Type>();
    a.is_valid(i).then(|| d.values().as_string::<i32>().value(d.keys().value(i) as usize).to_string())
}

fn text(a: &dyn Array, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.as_string::<i32>().value(i))
}

/// The columns of every record row agree with the `Telegram` API (`to_iso`, the VIF's
/// quantity / unit / extensions, hex of the DIB / VIB, raw bytes, exact and float values),
/// whatever the chunking.
#[test]
fn column_model_matches_decode() {
    let (frames, keys, b) = decode_corpus(61, Some(2));
    let hexl = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mut decoded: Vec<Option<Telegram>> =
        frames.iter().map(|f| decode_with_keys(f, &accepting(), &keys).ok()).collect();
    let mut rows = 0;
    let mut dates = 0;
    let mut numbers = 0;
    let (mut with_ext, mut with_raw) = (0, 0);
    for (tb, rb) in b.telegrams.iter().zip(&b.records) {
        let idx = tb.column_by_name("index").unwrap().as_primitive::<UInt64Type>();
        let id = tb.column_by_name("id").unwrap();
        let manu = tb.column_by_name("manufacturer").unwrap();
        for i in 0..tb.num_rows() {
            let t = decoded[idx.value(i) as usize].as_ref();
            let own = t.and_then(|t| t.address.filter(|_| t.device_type_name_override.is_none()));
            assert_eq!(text(id.as_ref(), i).map(str::to_string), t.and_then(|t| t.address).map(|a| a.id_string()));
            assert_eq!(text(manu.as_ref(), i).map(str::to_string), own.map(|a| a.manufacturer_string()));
        }
        let col = |n: &str| rb.column_by_name(n).unwrap().clone();
        let (fi, ri) = (col("frame_index"), col("record_index"));
        let (q, u, f, tx, dif, vif) = (col("quantity"), col("unit"), col("function"), col("text"), col("dif"), col("vif"));
        let (ext, raw, val, man, exp) = (col("extensions"), col("bytes"), col("value"), col("mantissa"), col("exponent"));
        for i in 0..rb.num_rows() {
            let t = decoded[fi.as_primitive::<UInt64Type>().value(i) as usize].as_mut().unwrap();
            let r = &t.records[ri.as_primitive::<UInt32Type>().value(i) as usize];
            let p = &t.payload;
            assert_eq!(text(dif.as_ref(), i), Some(hexl(r.dib.get(p)).as_str()));
            assert_eq!(text(vif.as_ref(), i), Some(hexl(r.vib.get(p)).as_str()));
            assert_eq!(dict_str(f.as_ref(), i).as_deref(), Some(r.function.as_str()));
            let unit = r.vif.plain_text_unit.as_deref().map(str::to_string).or(r.vif.unit.as_str().map(str::to_string));
            assert_eq!(dict_str(u.as_ref(), i), unit);
            if r.kind == meterlink::mbus::records::RecordKind::Data {
                assert_eq!(dict_str(q.as_ref(), i).as_deref(), Some(r.vif.quantity));
            }
            let want = match &r.value {
                Value::DateTime(d) => d.to_iso(),
                Value::Text(s) => Some(s.to_string()),
                _ => None,
            };
            dates += matches!(r.value, Value::DateTime(_)) as usize;
            assert_eq!(text(tx.as_ref(), i), want.as_deref(), "record {r:?}");
            let e: Vec<&str> = r.vif.extensions().collect();
            assert_eq!(text(ext.as_ref(), i), (!e.is_empty()).then(|| e.join("; ")).as_deref());
            with_ext += !e.is_empty() as usize;
            let want_raw = match r.value {
                Value::Bytes(s) | Value::InvalidBcd(s) => Some(s.get(p)),
                _ => None,
            };
            assert_eq!(raw.is_valid(i).then(|| raw.as_binary::<i32>().value(i)), want_raw, "record {r:?}");
            with_raw += want_raw.is_some() as usize;
            if let Value::Number { mantissa, exponent } = r.value {
                assert_eq!(val.as_primitive::<Float64Type>().value(i), r.value.as_f64().unwrap());
                assert_eq!(man.as_primitive::<Int64Type>().value(i), mantissa);
                assert_eq!(exp.as_primitive::<Int8Type>().value(i), exponent);
                numbers += 1;
            }
            if let Value::Real(x) = r.value {
                assert_eq!(val.as_primitive::<Float64Type>().value(i).to_bits(), x.to_bits());
                assert!(man.is_null(i) && exp.is_null(i));
            }
            if matches!(r.value, Value::None | Value::Text(_) | Value::DateTime(_)) {
                assert!(val.is_null(i) && man.is_null(i), "record {r:?}");
            }
            rows += 1;
        }
    }
    assert!(rows > 10_000 && dates > 500 && numbers > 5_000, "{rows} rows, {dates} dates, {numbers} numbers");
    assert!(with_ext > 100 && with_raw > 100, "{with_ext} rows with VIFE extensions, {with_raw} with raw bytes");
}

/// One `Telegram` reused through the whole corpus decodes every frame exactly as a fresh one.
#[test]
fn decode_into_matches_decode_with_keys() {
    let (frames, keys) = corpus();
    let mut tg = Telegram::new(meterlink::mbus::decode::LinkInfo::Wired { c: 0, a: 0, kind: meterlink::mbus::decode::FrameKind::SingleCharacter });
    let opts = Default::default();
    for f in &frames {
        let fresh = decode_with_keys(f, &opts, &keys);
        let reused = meterlink::mbus::decode::decode_into(f, &opts, &keys, &mut tg);
        match (fresh, reused) {
            (Ok(a), Ok(())) => assert_eq!(format!("{a:?}"), format!("{tg:?}")),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("{a:?} vs {b:?}"),
        }
    }
}
