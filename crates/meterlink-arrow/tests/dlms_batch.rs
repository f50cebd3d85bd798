//! DLMS/COSEM in bulk: `meterlink_arrow::dlms::decode_batch` over real frames
//! (`tests/vectors/dlms_bulk.json`, copied with their sources from the project's verified
//! vectors and the DLMS corpus).

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, Int8Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use serde_json::Value;

use meterlink::dlms::decode::{decode, DecodeOptions, Framing, Keys};
use meterlink::dlms::security::DlmsKeys;
use meterlink::dlms::RowValue;
use meterlink::hex::parse_hex;
use meterlink_arrow::dlms::{decode_arrow, decode_batch, decode_batch_checked, DlmsBatch, DlmsBatchOptions};
use meterlink_arrow::{FrameItem, InputError, Status};

struct Vector {
    name: String,
    framing: Framing,
    frame: Vec<u8>,
    keys: Keys,
    expect: Value,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors/dlms_bulk.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Vector {
            name: f["name"].as_str().unwrap().to_string(),
            framing: Framing::from_name(f["framing"].as_str().unwrap()).unwrap(),
            frame: parse_hex(f["frame"].as_str().unwrap()).unwrap(),
            keys: match f.get("keys") {
                Some(k) => Keys::Every(DlmsKeys::new(
                    parse_hex(k["ek"].as_str().unwrap()).unwrap(),
                    k["ak"].as_str().map(|a| parse_hex(a).unwrap()),
                )),
                None => Keys::None,
            },
            expect: f["expect"].clone(),
        })
        .collect()
}

fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap()
}

fn opts(framing: Framing) -> DlmsBatchOptions {
    DlmsBatchOptions::with_framing(framing)
}

/// The text values of a string or dictionary column, row by row.
fn texts(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(name).unwrap();
    if let Some(d) = c.as_dictionary_opt::<Int32Type>() {
        let vals = d.values().as_string::<i32>();
        return (0..d.len()).map(|i| d.is_valid(i).then(|| vals.value(d.keys().value(i) as usize).to_string())).collect();
    }
    let s: &StringArray = c.as_string::<i32>();
    (0..s.len()).map(|i| s.is_valid(i).then(|| s.value(i).to_string())).collect()
}

fn column(b: &DlmsBatch, name: &str) -> Vec<Option<String>> {
    b.messages.iter().flat_map(|m| texts(m, name)).collect()
}

fn statuses(b: &DlmsBatch) -> Vec<String> {
    column(b, "status").into_iter().map(Option::unwrap).collect()
}

fn u32s(b: &DlmsBatch, name: &str) -> Vec<Option<u32>> {
    b.messages.iter().flat_map(|m| m.column_by_name(name).unwrap().as_primitive::<UInt32Type>().iter().collect::<Vec<_>>()).collect()
}

/// One OBIS row as comparable text: obis, value, mantissa, scaler, unit, text, name.
type Row = (Option<String>, Option<f64>, Option<i64>, Option<i8>, Option<String>, Option<String>, Option<String>);

fn obis_rows(b: &DlmsBatch) -> Vec<(u64, Row)> {
    let mut out = Vec::new();
    for o in &b.obis {
        let fi = o.column_by_name("frame_index").unwrap().as_primitive::<UInt64Type>();
        let value = o.column_by_name("value").unwrap().as_primitive::<Float64Type>();
        let mantissa = o.column_by_name("mantissa").unwrap().as_primitive::<Int64Type>();
        let scaler = o.column_by_name("scaler").unwrap().as_primitive::<Int8Type>();
        let (obis, unit, text, name) = (texts(o, "obis"), texts(o, "unit"), texts(o, "text"), texts(o, "name"));
        for i in 0..o.num_rows() {
            let row = (
                obis[i].clone(),
                value.is_valid(i).then(|| value.value(i)),
                mantissa.is_valid(i).then(|| mantissa.value(i)),
                scaler.is_valid(i).then(|| scaler.value(i)),
                unit[i].clone(),
                text[i].clone(),
                name[i].clone(),
            );
            out.push((fi.value(i), row));
        }
    }
    out
}

/// The rows `meterlink::dlms::decode` gives for the same frame, as the OBIS table holds them.
fn single_rows(v: &Vector) -> Vec<Row> {
    let m = decode(&v.frame, &v.keys, &DecodeOptions { framing: v.framing, strict: false }).unwrap();
    m.rows
        .iter()
        .map(|r| {
            let (value, text) = match &r.value {
                RowValue::None => (None, None),
                RowValue::Int(i) => (Some(*i as f64), None),
                RowValue::Float(f) => (Some(*f), None),
                RowValue::Text(t) => (None, Some(t.clone())),
                RowValue::Bytes(b) => (None, Some(meterlink::hex::to_hex_lower(b))),
            };
            (r.obis.map(|o| o.to_string()), value, r.mantissa, r.scaler, r.unit.as_deref().map(String::from), text, r.name.map(String::from))
        })
        .collect()
}

fn one(v: &Vector) -> DlmsBatch {
    let items = [FrameItem::Bytes(&v.frame)];
    decode_batch(&items[..], &v.keys, &opts(v.framing), &[]).unwrap()
}

// -- independent of the stages: input rows, schema, empty input --------------------------------

#[test]
fn input_errors_are_frame_error_rows_with_their_code() {
    let items = [
        FrameItem::Error(InputError::new("null frame", None)),
        FrameItem::Hex("zz".into()),
        FrameItem::Error(InputError::new("bad line", Some(3))),
    ];
    let b = decode_batch(&items[..], &Keys::None, &DlmsBatchOptions::default(), &[]).unwrap();
    assert_eq!(statuses(&b), ["frame_error"; 3]);
    assert_eq!(b.counts.get(Status::FrameError), 3);
    assert_eq!(column(&b, "error")[0].as_deref(), Some("null frame"));
    assert_eq!(column(&b, "error_code")[0].as_deref(), Some("input"));
    assert_eq!(column(&b, "error_code")[1].as_deref(), Some(meterlink::Error::from(parse_hex("zz").unwrap_err()).code()));
    assert_eq!(u32s(&b, "error_offset"), [None, Some(0), Some(3)]);
    assert_eq!(u32s(&b, "rows"), [Some(0); 3]);
    assert_eq!(b.counts.records, 0);
}

#[test]
fn empty_input_and_schemas() {
    let items: [FrameItem; 0] = [];
    let b = decode_batch(&items[..], &Keys::None, &DlmsBatchOptions::default(), &[]).unwrap();
    assert_eq!((b.num_messages(), b.counts.frames()), (0, 0));
    let names: Vec<&str> = b.message_schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "index", "status", "error", "error_code", "error_offset", "framing", "apdu_type", "plaintext_apdu_type",
            "decrypted", "security_control", "system_title", "invocation_counter", "invoke_id", "priority", "datetime",
            "timestamp", "p1_telegram", "rows"
        ]
    );
    let names: Vec<&str> = b.obis_schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["frame_index", "obis", "value", "mantissa", "scaler", "unit", "text", "name"]);
}

#[test]
fn arrow_input_with_metadata_and_nulls() {
    use std::sync::Arc;
    let gg = vector("general-glo-ciphering-dlms-cosem");
    let hex = meterlink::hex::to_hex_lower(&gg.frame);
    let frames: ArrayRef = Arc::new(StringArray::from(vec![Some(hex.as_str()), None, Some("0g")]));
    let ts: ArrayRef = Arc::new(StringArray::from(vec!["a", "b", "c"]));
    let status: ArrayRef = Arc::new(StringArray::from(vec!["x", "y", "z"]));
    let s: ArrayRef = Arc::new(arrow_array::StructArray::from(vec![
        (Arc::new(arrow_schema::Field::new("hex", arrow_schema::DataType::Utf8, true)), frames),
        (Arc::new(arrow_schema::Field::new("ts", arrow_schema::DataType::Utf8, true)), ts),
        (Arc::new(arrow_schema::Field::new("status", arrow_schema::DataType::Utf8, true)), status),
    ]));
    let b = decode_arrow(&s, None, &Keys::None, &DlmsBatchOptions { index_base: 10, ..Default::default() }, None).unwrap();
    let st = statuses(&b);
    assert_eq!(&st[1..], ["frame_error", "frame_error"]);
    assert_eq!(column(&b, "ts"), [Some("a".into()), Some("b".into()), Some("c".into())]);
    assert_eq!(column(&b, "input_status")[2].as_deref(), Some("z"));
    let idx: Vec<u64> = b.messages[0].column(0).as_primitive::<UInt64Type>().values().to_vec();
    assert_eq!(idx, [10, 11, 12]);
    let nested = b.nested().unwrap();
    assert_eq!(nested.num_rows(), 3);
    assert_eq!(nested.schema.fields().last().unwrap().name(), "obis");
    // Different metadata columns do not join.
    let plain = decode_batch(&[FrameItem::Bytes(&gg.frame)][..], &Keys::None, &DlmsBatchOptions::default(), &[]).unwrap();
    let mut joined = b.clone();
    assert!(joined.extend(plain).is_err());
}

// -- real frames through the stages -----------------------------------------------------------

fn title(hex: &str) -> [u8; 8] {
    parse_hex(hex).unwrap().try_into().unwrap()
}

/// Good, ciphered-without-key, tampered, truncated and non-frame inputs, 1000 rows.
fn mixed() -> (Vec<Vec<u8>>, Keys) {
    let gg = vector("general-glo-ciphering-dlms-cosem");
    let lux = vector("luxembourg-smarty-p1");
    let aidon = vector("dlms-0154-aidon");
    let hdlc = vector("dlms-0178-hdlc");
    let wrapper = vector("dlms-0051");
    let mut tampered = gg.frame.clone();
    let n = tampered.len();
    tampered[n - 1] ^= 1; // the GCM tag
    let mut bad_fcs = hdlc.frame.clone();
    let n = bad_fcs.len();
    bad_fcs[n - 2] ^= 0x40;
    let frames = (0..1000)
        .map(|i| match i % 8 {
            0 => gg.frame.clone(),
            1 => lux.frame.clone(),
            2 => tampered.clone(),
            3 => aidon.frame.clone(),
            4 => bad_fcs.clone(),
            5 => vec![0x01, 0x02, 0x03, 0x04, 0x05],
            6 => hdlc.frame.clone(),
            _ => wrapper.frame.clone(),
        })
        .collect();
    // Keys for the dlms-cosem system title only: the Luxembourg push has no key.
    let Keys::Every(k) = gg.keys else { panic!() };
    (frames, Keys::ByTitle(vec![(title("2f19229199164103"), k)]))
}

#[test]
fn every_row_gets_a_status_in_order_whatever_the_threads() {
    let (frames, keys) = mixed();
    let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
    let mut results = Vec::new();
    for threads in [Some(1), Some(4), Some(2), None] {
        let o = DlmsBatchOptions { chunk_rows: 64, threads, ..Default::default() };
        let b = decode_batch(&items[..], &keys, &o, &[]).unwrap();
        assert_eq!((b.num_messages(), b.counts.frames()), (1000, 1000));
        let idx: Vec<u64> = b.messages.iter().flat_map(|m| m.column(0).as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(idx, (0..1000).collect::<Vec<u64>>());
        results.push((statuses(&b), column(&b, "error_code"), obis_rows(&b), b.counts));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let (st, codes, rows, counts) = &results[0];
    assert_eq!(
        &st[..8],
        ["ok", "no_key", "security_error", "ok", "frame_error", "decode_error", "ok", "ok"],
        "codes: {:?}",
        &codes[..8]
    );
    assert!(codes[0].is_none() && codes[1].is_none());
    assert_eq!(counts.get(Status::Ok), 125 * 4);
    assert_eq!(counts.records as usize, rows.len());
    // Rows point at their messages, and only at ok ones.
    assert!(rows.iter().all(|(fi, _)| st[*fi as usize] == "ok"));
    assert!(rows.iter().any(|(fi, _)| fi % 8 == 3) && rows.iter().any(|(fi, _)| fi % 8 == 6));
}

#[test]
fn obis_rows_equal_those_of_single_decode() {
    for v in vectors().iter().filter(|v| v.expect.get("obis_values").is_some()) {
        let b = one(v);
        assert_eq!(statuses(&b), ["ok"], "{}", v.name);
        let bulk: Vec<Row> = obis_rows(&b).into_iter().map(|(fi, r)| {
            assert_eq!(fi, 0);
            r
        }).collect();
        let single = single_rows(v);
        assert!(!single.is_empty(), "{}: no OBIS rows", v.name);
        assert_eq!(bulk, single, "{}", v.name);
        assert_eq!(u32s(&b, "rows"), [Some(single.len() as u32)], "{}", v.name);
        // Every OBIS code the source lists is there, in its order.
        let want: Vec<&str> = v.expect["obis_values"].as_array().unwrap().iter().filter_map(|o| o["obis"].as_str()).collect();
        let got: Vec<String> = bulk.iter().filter_map(|r| r.0.clone()).collect();
        let mut it = got.iter();
        assert!(want.iter().all(|w| it.any(|g| g == w)), "{}: {want:?} in {got:?}", v.name);
    }
}

#[test]
fn aidon_push_values_as_amshan_reads_them() {
    // amshan's Aidon values are scaled (its lists carry scaler_unit).
    let v = vector("dlms-0154-aidon");
    let b = one(&v);
    let rows = obis_rows(&b);
    for want in v.expect["obis_values"].as_array().unwrap() {
        let obis = want["obis"].as_str().unwrap();
        let (_, row) = rows.iter().find(|(_, r)| r.0.as_deref() == Some(obis)).unwrap_or_else(|| panic!("{obis}"));
        match &want["value"] {
            Value::String(s) => assert_eq!(row.5.as_deref(), Some(s.as_str()), "{obis}"),
            n => assert!((row.1.unwrap() - n.as_f64().unwrap()).abs() < 1e-9, "{obis}: {row:?} vs {n}"),
        }
    }
    assert_eq!(column(&b, "apdu_type"), [Some("data-notification".into())]);
}

#[test]
fn hdlc_push_row_and_header() {
    let v = vector("dlms-0178-hdlc");
    let b = one(&v);
    assert_eq!(column(&b, "framing"), [Some("hdlc".into())]);
    let rows = obis_rows(&b);
    assert_eq!(rows.len(), 1);
    let r = &rows[0].1;
    assert_eq!((r.0.as_deref(), r.1, r.3, r.4.as_deref()), (Some("1.0.1.7.0.255"), Some(1661.0), Some(0), Some("W")));
}

#[test]
fn ciphered_messages_carry_their_security_header() {
    for name in ["general-glo-ciphering-dlms-cosem", "dlms-0051", "dlms-0134"] {
        let v = vector(name);
        let b = one(&v);
        let m = &b.messages[0];
        assert_eq!(statuses(&b), ["ok"], "{name}: {:?}", column(&b, "error"));
        assert_eq!(texts(m, "apdu_type")[0].as_deref(), Some("general-glo-ciphering"));
        assert_eq!(texts(m, "plaintext_apdu_type")[0].as_deref(), Some("data-notification"));
        assert_eq!(texts(m, "system_title")[0].as_deref(), v.expect["system_title"].as_str());
        assert_eq!(m.column_by_name("security_control").unwrap().as_primitive::<UInt8Type>().value(0), 0x30);
        let ic = m.column_by_name("invocation_counter").unwrap().as_primitive::<UInt32Type>().value(0);
        assert_eq!(u64::from(ic), v.expect["invocation_counter"].as_u64().unwrap());
        assert!(m.column_by_name("decrypted").unwrap().as_boolean().value(0));
        // The long-invoke-id of 0F 000001DB / 000001DD: invoke-id 0x1DB / 0x1DD.
        let invoke = u32s(&b, "invoke_id")[0].unwrap();
        assert_eq!(invoke, u32::from_str_radix(&v.expect["plaintext"].as_str().unwrap()[2..10], 16).unwrap() & 0x00FF_FFFF);
        // Without the key: no_key, the header still there.
        let nk = decode_batch(&[FrameItem::Bytes(&v.frame)][..], &Keys::None, &opts(v.framing), &[]).unwrap();
        assert_eq!(statuses(&nk), ["no_key"]);
        assert_eq!(column(&nk, "system_title")[0].as_deref(), v.expect["system_title"].as_str());
        assert_eq!(column(&nk, "plaintext_apdu_type")[0], None);
        // Strict: a security_error row.
        let strict = DlmsBatchOptions { decode: DecodeOptions { framing: v.framing, strict: true }, ..Default::default() };
        let st = decode_batch(&[FrameItem::Bytes(&v.frame)][..], &Keys::None, &strict, &[]).unwrap();
        assert_eq!(statuses(&st), ["security_error"]);
    }
}

#[test]
fn luxembourg_p1_telegram_column() {
    let v = vector("luxembourg-smarty-p1");
    for framing in [Framing::P1, Framing::Auto] {
        let b = decode_batch(&[FrameItem::Bytes(&v.frame)][..], &v.keys, &opts(framing), &[]).unwrap();
        assert_eq!(statuses(&b), ["ok"], "{:?}", column(&b, "error"));
        let p1 = column(&b, "p1_telegram")[0].clone().unwrap();
        assert!(p1.starts_with(v.expect["p1_starts"].as_str().unwrap()), "{p1:.40}");
        assert!(p1.trim_end().ends_with("!CFDE"), "{}", &p1[p1.len().saturating_sub(10)..]);
    }
}

#[test]
fn framing_applies_to_the_whole_batch() {
    let wrapper = vector("dlms-0051");
    let hdlc = vector("dlms-0178-hdlc");
    let items = [FrameItem::Bytes(&wrapper.frame), FrameItem::Bytes(&hdlc.frame)];
    let b = decode_batch(&items[..], &wrapper.keys, &opts(Framing::Auto), &[]).unwrap();
    assert_eq!(column(&b, "framing"), [Some("wrapper".into()), Some("hdlc".into())]);
    let b = decode_batch(&items[..], &wrapper.keys, &opts(Framing::Hdlc), &[]).unwrap();
    assert_eq!(statuses(&b), ["frame_error", "ok"]);
    let b = decode_batch(&items[..], &wrapper.keys, &opts(Framing::Wrapper), &[]).unwrap();
    assert_eq!(statuses(&b)[0], "ok");
    assert_ne!(statuses(&b)[1], "ok");
}

#[test]
fn tinetz_encryption_only_push() {
    let v = vector("dlms-0197-tinetz");
    let b = one(&v);
    assert_eq!(statuses(&b), ["ok"], "{:?}", column(&b, "error"));
    assert_eq!(b.messages[0].column_by_name("security_control").unwrap().as_primitive::<UInt8Type>().value(0), 0x21);
    assert_eq!(column(&b, "datetime")[0].as_deref().map(|s| &s[..16]), Some("2021-07-19T15:46"));
    assert_eq!(u32s(&b, "rows")[0].unwrap() as usize, single_rows(&v).len());
}

#[test]
fn rejected_input_is_a_decode_error_row() {
    let v = vector("dlms-0189-rejected");
    let b = one(&v);
    assert_eq!(statuses(&b), ["decode_error"]);
    let code = column(&b, "error_code")[0].clone().unwrap();
    assert!(code.starts_with("apdu_") || code.starts_with("axdr_"), "{code}");
}

#[test]
fn replayed_counters_are_security_errors_in_input_order() {
    use meterlink::replay::CounterStore;
    // Same system title and key: invocation counters 485, 487, then 485 again.
    let gg = vector("general-glo-ciphering-dlms-cosem");
    let later = vector("dlms-0134");
    let frames = [gg.frame.clone(), later.frame.clone(), gg.frame.clone(), later.frame.clone()];
    let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
    let mut seen = Vec::new();
    for threads in [Some(1), Some(4)] {
        let store = CounterStore::new();
        let o = DlmsBatchOptions { chunk_rows: 1, threads, ..Default::default() };
        let b = decode_batch_checked(&items[..], &gg.keys, &o, &[], Some(&store)).unwrap();
        assert_eq!(statuses(&b), ["ok", "ok", "security_error", "security_error"]);
        let codes = column(&b, "error_code");
        assert_eq!(codes[2].as_deref(), Some("cipher_replayed_counter"));
        assert_eq!(u32s(&b, "rows")[2], Some(0));
        assert!(obis_rows(&b).iter().all(|(fi, _)| *fi < 2));
        seen.push((statuses(&b), column(&b, "error"), obis_rows(&b)));
        // The store kept the highest accepted counter: the same batch again is all replays.
        let again = decode_batch_checked(&items[..], &gg.keys, &o, &[], Some(&store)).unwrap();
        assert_eq!(statuses(&again), ["security_error"; 4]);
    }
    assert_eq!(seen[0], seen[1]);
    // Without a store nothing is checked.
    let b = decode_batch(&items[..], &gg.keys, &DlmsBatchOptions::default(), &[]).unwrap();
    assert_eq!(statuses(&b), ["ok"; 4]);
}
