//! A-XDR data (decode/encode), COSEM meaning and pushes as OBIS rows, against real frames
//! (`tests/vectors/dlms_axdr.json`, copied from public test suites with their sources) and
//! round-trip properties.

use meterlink::dlms::axdr::{
    decode_data, decode_data_exact, encode_data, same_data, Data, TypeDescription,
};
use meterlink::dlms::cosem::{Date, DateTime, Time};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

const VECTORS: &str = include_str!("vectors/dlms_axdr.json");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn bits_text(bits: usize, bytes: &[u8]) -> String {
    (0..bits)
        .map(|i| {
            if bytes[i / 8] & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            }
        })
        .collect()
}

/// The tree in the corpus' `derived` form: `{type, value}`; octet-string as hex, bit-string as
/// bits, dates as ISO text (or null when not fully specified).
fn tree(d: &Data) -> Json {
    let v = match d {
        Data::NullData | Data::DontCare => Json::Null,
        Data::Array(v) | Data::Structure(v) => v.iter().map(tree).collect(),
        Data::CompactArray { values, .. } => values.iter().map(tree).collect(),
        Data::Boolean(b) => json!(b),
        Data::BitString { bits, bytes } => json!(bits_text(*bits, bytes)),
        Data::OctetString(b) => json!(to_hex(b)),
        Data::VisibleString(b) | Data::Utf8String(b) => json!(String::from_utf8_lossy(b)),
        Data::Float32(x) => json!(x),
        Data::Float64(x) => json!(x),
        Data::DateTime(x) => x.to_iso().map_or(Json::Null, Json::from),
        Data::Date(x) => x.to_iso().map_or(Json::Null, Json::from),
        Data::Time(x) => x.to_iso().map_or(Json::Null, Json::from),
        other => json!(other.as_i64().unwrap()),
    };
    json!({"type": d.type_name(), "value": v})
}

/// The tree without the extractor's extra keys (`hex` of a null date).
fn clean(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let val = m.get("value").map(clean).unwrap_or(Json::Null);
            json!({"type": m["type"], "value": val})
        }
        Json::Array(a) => Json::Array(a.iter().map(clean).collect()),
        other => other.clone(),
    }
}

fn set(name: &str) -> Vec<Json> {
    let v: Json = serde_json::from_str(VECTORS).unwrap();
    v[name].as_array().unwrap().clone()
}

/// Every item of `hex` decodes to the reference tree and re-encodes to the same bytes.
fn check_items(row: &Json) {
    let id = row["id"].as_str().unwrap();
    assert!(!row["source"].as_str().unwrap().is_empty());
    let bytes = unhex(row["hex"].as_str().unwrap());
    let mut pos = 0;
    for want in row["items"].as_array().unwrap() {
        let (d, n) = decode_data(&bytes[pos..]).unwrap_or_else(|e| panic!("{id}: {e:?}"));
        assert_eq!(tree(&d), clean(want), "{id}: tree");
        let mut out = Vec::new();
        encode_data(&d, &mut out);
        assert_eq!(
            to_hex(&out),
            to_hex(&bytes[pos..pos + n]),
            "{id}: re-encoding"
        );
        pos += n;
    }
    assert_eq!(pos, bytes.len(), "{id}: all bytes used");
}

#[test]
fn corpus_data_items() {
    let rows = set("data");
    assert_eq!(rows.len(), 9);
    rows.iter().for_each(check_items);
}

#[test]
fn corpus_notification_bodies() {
    let rows = set("bodies");
    assert!(rows.len() >= 6);
    rows.iter().for_each(check_items);
}

// Kamstrup HAN push body (dlms-0024): 25 elements, as dlms-cosem's test asserts.
// source: u9n/dlms-cosem tests/test_dlms_data.py:9 test_parse_data_from_kamstrup_han_port
#[test]
fn kamstrup_structure_has_25_elements() {
    let row = &set("data")[1];
    let d = decode_data_exact(&unhex(row["hex"].as_str().unwrap())).unwrap();
    match d {
        Data::Structure(v) => assert_eq!(v.len(), 25),
        other => panic!("{other:?}"),
    }
}

fn enc(d: &Data) -> Vec<u8> {
    let mut out = Vec::new();
    encode_data(d, &mut out);
    out
}

#[test]
fn lengths_short_and_long_forms() {
    // A-XDR length: below 0x80 one octet, else 0x8N and N octets (Blue Book 4.1.5 / IEC 61334-6).
    for (n, head) in [
        (0usize, "0900"),
        (127, "097f"),
        (128, "098180"),
        (255, "0981ff"),
        (256, "09820100"),
    ] {
        let d = Data::OctetString(vec![0xAB; n]);
        let b = enc(&d);
        assert_eq!(to_hex(&b[..head.len() / 2]), head);
        assert_eq!(b.len(), head.len() / 2 + n);
        assert_eq!(decode_data_exact(&b).unwrap(), d);
    }
}

#[test]
fn fixed_size_types() {
    let cases: Vec<(Data, &str)> = vec![
        (Data::NullData, "00"),
        (Data::Boolean(true), "0301"),
        (Data::Boolean(false), "0300"),
        (Data::DoubleLong(-2), "05fffffffe"),
        (Data::DoubleLongUnsigned(2342), "0600000926"),
        (Data::Bcd(0x12), "0d12"),
        (Data::Integer(-1), "0fff"),
        (Data::Long(-300), "10fed4"),
        (Data::Unsigned(200), "11c8"),
        (Data::LongUnsigned(230), "1200e6"),
        (Data::Long64(-1), "14ffffffffffffffff"),
        (Data::Long64Unsigned(1 << 40), "150000010000000000"),
        (Data::Enum(27), "161b"),
        (Data::Float32(1.5), "173fc00000"),
        (Data::Float64(-2.0), "18c000000000000000"),
        (
            Data::DateTime(DateTime(
                unhex("07e40106ff00030000ffc400").try_into().unwrap(),
            )),
            "1907e40106ff00030000ffc400",
        ),
        (Data::Date(Date([0x07, 0xe4, 1, 6, 0xff])), "1a07e40106ff"),
        (Data::Time(Time([12, 30, 0, 0xff])), "1b0c1e00ff"),
        (Data::DontCare, "ff"),
        (
            Data::BitString {
                bits: 10,
                bytes: vec![0xA5, 0xC0],
            },
            "040aa5c0",
        ),
        (Data::VisibleString(b"AB".to_vec()), "0a024142"),
        (Data::Utf8String("é".as_bytes().to_vec()), "0c02c3a9"),
    ];
    for (d, h) in cases {
        assert_eq!(to_hex(&enc(&d)), h, "{d:?}");
        assert_eq!(decode_data_exact(&unhex(h)).unwrap(), d, "{h}");
    }
}

#[test]
fn compact_array_of_structures() {
    // compact-array [19]: type description structure{long-unsigned, integer} then the
    // contents-length (6) and two untagged elements.
    let h = "130202120f06".to_string() + "00e6ff" + "00e4fe";
    let d = decode_data_exact(&unhex(&h)).unwrap();
    let want = Data::CompactArray {
        description: TypeDescription::Structure(vec![
            TypeDescription::Simple(18),
            TypeDescription::Simple(15),
        ]),
        values: vec![
            Data::Structure(vec![Data::LongUnsigned(230), Data::Integer(-1)]),
            Data::Structure(vec![Data::LongUnsigned(228), Data::Integer(-2)]),
        ],
    };
    assert_eq!(d, want);
    assert_eq!(to_hex(&enc(&d)), h);
    // array description: 2 elements of double-long-unsigned per item.
    let h = "1301000206080000000100000002";
    let d = decode_data_exact(&unhex(h)).unwrap();
    assert_eq!(to_hex(&enc(&d)), h);
    match &d {
        Data::CompactArray { values, .. } => {
            assert_eq!(
                values,
                &vec![Data::Array(vec![
                    Data::DoubleLongUnsigned(1),
                    Data::DoubleLongUnsigned(2)
                ])]
            )
        }
        other => panic!("{other:?}"),
    }
}

fn err(h: &str) -> (&'static str, Option<usize>) {
    let e = decode_data(&unhex(h)).unwrap_err();
    (e.code(), e.offset())
}

#[test]
fn errors_with_offsets() {
    assert_eq!(err(""), ("axdr_truncated", Some(0)));
    assert_eq!(err("0600"), ("axdr_truncated", Some(2)));
    assert_eq!(err("0205060000"), ("axdr_truncated", Some(5)));
    assert_eq!(err("090541"), ("axdr_truncated", Some(3)));
    assert_eq!(err("07"), ("axdr_unknown_tag", Some(0)));
    assert_eq!(err("02021100fe"), ("axdr_unknown_tag", Some(4)));
    assert_eq!(err("0980"), ("axdr_bad_length", Some(1)));
    assert_eq!(err("098105"), ("axdr_bad_length", Some(1)));
    assert_eq!(err("09820080"), ("axdr_bad_length", Some(1)));
    assert_eq!(err("0985"), ("axdr_bad_length", Some(1)));
    assert_eq!(err("0302"), ("axdr_bad_boolean", Some(1)));
    assert_eq!(err("1300011200"), ("axdr_bad_type_description", Some(1)));
    assert_eq!(err("1307011200"), ("axdr_bad_type_description", Some(1)));
    assert_eq!(
        err("131203000a0b0c"),
        ("axdr_compact_array_length", Some(5))
    );
    assert_eq!(err("13120300"), ("axdr_truncated", Some(4)));
    let e = decode_data_exact(&unhex("11010000")).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("axdr_trailing_bytes", Some(2)));
}

#[test]
fn depth_is_limited() {
    // 40 nested one-element arrays: an error, not a stack overflow.
    let mut b = Vec::new();
    for _ in 0..40 {
        b.extend_from_slice(&[0x01, 0x01]);
    }
    b.push(0x00);
    let e = decode_data(&b).unwrap_err();
    assert_eq!(e.code(), "axdr_too_deep");
    assert_eq!(e.offset(), Some(2 * meterlink::dlms::axdr::MAX_DEPTH));
    // 32 levels are fine.
    let mut b = Vec::new();
    for _ in 0..meterlink::dlms::axdr::MAX_DEPTH {
        b.extend_from_slice(&[0x02, 0x01]);
    }
    b.push(0x00);
    assert_eq!(decode_data_exact(&b).map(|d| enc(&d)).unwrap(), b);
}

#[test]
fn forged_counts_fail_without_allocating() {
    // An array claiming 2^32-1 elements in 7 bytes: truncated.
    assert_eq!(err("0184ffffffff00"), ("axdr_truncated", Some(7)));
    // A compact-array whose description is an array of 65535 long64 per element.
    assert_eq!(err("1301ffff14820100"), ("axdr_truncated", Some(8)));
}

// ---- properties ---------------------------------------------------------------------------

fn simple_tag() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![
        3u8, 4, 5, 6, 9, 10, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27,
    ])
}

fn description() -> impl Strategy<Value = TypeDescription> {
    simple_tag()
        .prop_map(TypeDescription::Simple)
        .prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                (1u16..4, inner.clone()).prop_map(|(n, d)| TypeDescription::Array(n, Box::new(d))),
                prop::collection::vec(inner, 1..4).prop_map(TypeDescription::Structure),
            ]
        })
}

fn value_of(d: &TypeDescription) -> BoxedStrategy<Data> {
    match d {
        TypeDescription::Simple(t) => simple(*t),
        TypeDescription::Array(n, el) => prop::collection::vec(value_of(el), *n as usize)
            .prop_map(Data::Array)
            .boxed(),
        TypeDescription::Structure(m) => {
            let parts: Vec<BoxedStrategy<Data>> = m.iter().map(value_of).collect();
            parts.prop_map(Data::Structure).boxed()
        }
    }
}

fn simple(t: u8) -> BoxedStrategy<Data> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..140);
    match t {
        0 => Just(Data::NullData).boxed(),
        255 => Just(Data::DontCare).boxed(),
        3 => any::<bool>().prop_map(Data::Boolean).boxed(),
        4 => (0usize..300)
            .prop_flat_map(|bits| {
                (
                    Just(bits),
                    prop::collection::vec(any::<u8>(), bits.div_ceil(8)),
                )
            })
            .prop_map(|(bits, bytes)| Data::BitString { bits, bytes })
            .boxed(),
        5 => any::<i32>().prop_map(Data::DoubleLong).boxed(),
        6 => any::<u32>().prop_map(Data::DoubleLongUnsigned).boxed(),
        9 => bytes().prop_map(Data::OctetString).boxed(),
        10 => bytes().prop_map(Data::VisibleString).boxed(),
        12 => bytes().prop_map(Data::Utf8String).boxed(),
        13 => any::<u8>().prop_map(Data::Bcd).boxed(),
        15 => any::<i8>().prop_map(Data::Integer).boxed(),
        16 => any::<i16>().prop_map(Data::Long).boxed(),
        17 => any::<u8>().prop_map(Data::Unsigned).boxed(),
        18 => any::<u16>().prop_map(Data::LongUnsigned).boxed(),
        20 => any::<i64>().prop_map(Data::Long64).boxed(),
        21 => any::<u64>().prop_map(Data::Long64Unsigned).boxed(),
        22 => any::<u8>().prop_map(Data::Enum).boxed(),
        23 => any::<u32>()
            .prop_map(|b| Data::Float32(f32::from_bits(b)))
            .boxed(),
        24 => any::<u64>()
            .prop_map(|b| Data::Float64(f64::from_bits(b)))
            .boxed(),
        25 => any::<[u8; 12]>()
            .prop_map(|b| Data::DateTime(DateTime(b)))
            .boxed(),
        26 => any::<[u8; 5]>().prop_map(|b| Data::Date(Date(b))).boxed(),
        _ => any::<[u8; 4]>().prop_map(|b| Data::Time(Time(b))).boxed(),
    }
}

fn compact_array() -> impl Strategy<Value = Data> {
    description().prop_flat_map(|d| {
        let el = value_of(&d);
        (Just(d), prop::collection::vec(el, 0..4)).prop_map(|(description, values)| {
            Data::CompactArray {
                description,
                values,
            }
        })
    })
}

fn data() -> impl Strategy<Value = Data> {
    let leaf = prop_oneof![
        8 => prop::sample::select(vec![0u8, 255, 3, 4, 5, 6, 9, 10, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27])
            .prop_flat_map(simple),
        1 => compact_array(),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Data::Array),
            prop::collection::vec(inner, 0..8).prop_map(Data::Structure),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_encode_round_trip(d in data()) {
        let b = enc(&d);
        let (back, n) = decode_data(&b).unwrap();
        prop_assert_eq!(n, b.len());
        prop_assert!(same_data(&back, &d), "{:?} != {:?}", back, d);
        prop_assert_eq!(enc(&back), b);
    }

    #[test]
    fn any_bytes_decode_or_fail_cleanly(b in prop::collection::vec(any::<u8>(), 0..64)) {
        let tree = decode_data(&b);
        // The in-place view accepts exactly what decoding accepts, with the same error.
        let view = view_data(&b);
        prop_assert_eq!(view.as_ref().map(|v| v.1).map_err(|e| e.clone()), tree.as_ref().map(|t| t.1).map_err(|e| e.clone()));
        if let Ok((d, n)) = tree {
            // Every valid input re-encodes to exactly its bytes.
            prop_assert_eq!(enc(&d), b[..n].to_vec());
            prop_assert!(same_data(&view.unwrap().0.to_data(), &d));
        }
    }

    #[test]
    fn rows_in_place_equal_rows_of_tree(d in data()) {
        let b = enc(&d);
        let from_tree = rows(&d);
        let in_place = rows_from_bytes(&b).unwrap();
        prop_assert_eq!(format!("{from_tree:?}"), format!("{in_place:?}"));
    }
}

// ---- pushes as OBIS rows ------------------------------------------------------------------

use meterlink::dlms::axdr::{tape, view_data};
use meterlink::dlms::push::{rows, rows_from_bytes, rows_with_capture, CaptureObject};
use meterlink::dlms::{Obis, ObisRow, RowValue};

fn num(v: &RowValue) -> Option<f64> {
    match v {
        RowValue::Int(i) => Some(*i as f64),
        RowValue::Float(f) => Some(*f),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// A row's value equals the expectation: numbers (raw = the unscaled mantissa, as amshan gives
/// Kaifa and Kamstrup values), text, or ISO date-times.
fn row_matches(r: &ObisRow, want: &Json, raw: bool) -> bool {
    if let Some(dt) = want.get("datetime") {
        return r.value == RowValue::Text(dt.as_str().unwrap().to_string());
    }
    let w = &want["value"];
    if let Some(u) = want.get("unit") {
        if r.unit.as_deref() != u.as_str() {
            return false;
        }
    }
    match w {
        Json::String(s) => r.value == RowValue::Text(s.clone()),
        Json::Number(n) if raw => r.mantissa.map(|m| m as f64) == n.as_f64(),
        Json::Number(n) => num(&r.value).is_some_and(|v| close(v, n.as_f64().unwrap())),
        _ => false,
    }
}

/// The rows of a push body, from the tree; the in-place path gives the same rows.
fn push_rows(p: &Json) -> Vec<ObisRow> {
    let bytes = unhex(p["body"].as_str().unwrap());
    let body = decode_data_exact(&bytes).unwrap();
    let rs = rows(&body);
    assert_eq!(rows_from_bytes(&bytes).unwrap(), rs, "{}: in-place rows", p["id"]);
    rs
}

#[test]
fn pushes_obis_values() {
    let pushes = set("pushes");
    assert_eq!(pushes.len(), 7);
    for p in &pushes {
        let id = p["id"].as_str().unwrap();
        let raw = p["raw_values"].as_bool().unwrap();
        let rs = push_rows(p);
        for want in p["obis_values"].as_array().unwrap() {
            let ob = want["obis"].as_str().map(|s| Obis::parse(s).unwrap());
            let ok = match (ob, want.get("index")) {
                // Kaifa value-only lists: the row at the element's index, raw value.
                (None, Some(i)) => row_matches(&rs[i.as_u64().unwrap() as usize], want, raw),
                (ob, _) => rs.iter().any(|r| r.obis == ob && row_matches(r, want, raw)),
            };
            assert!(ok, "{id}: {want} not in {rs:#?}");
        }
    }
}

/// amshan's named fields (scaled) equal the rows of the same name: our OBIS names are
/// amshan's field names.
#[test]
fn pushes_named_values() {
    let mut checked = 0;
    for p in &set("pushes") {
        let id = p["id"].as_str().unwrap();
        let rs = push_rows(p);
        for (name, want) in p["named"].as_object().unwrap() {
            // Not in the body: the maker (amshan's own) and the notification header's date-time.
            if name == "meter_manufacturer" || (name == "meter_datetime" && !rs.iter().any(|r| r.name == Some("meter_datetime"))) {
                continue;
            }
            let r = rs.iter().find(|r| r.name == Some(name.as_str())).unwrap_or_else(|| panic!("{id}: no {name}"));
            let ok = match want {
                Json::String(s) => r.value == RowValue::Text(s.clone()),
                Json::Number(n) => num(&r.value).is_some_and(|v| close(v, n.as_f64().unwrap())),
                _ => false,
            };
            assert!(ok, "{id}: {name} = {:?}, amshan {want}", r.value);
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked}");
}

#[test]
fn aidon_rows_scaled_with_units() {
    // source: toreamun/amshan tests/test_aidon.py (NOTIFICATION_BODY_NO_LIST_2)
    let p = &set("pushes")[1];
    let rs = push_rows(p);
    assert_eq!(rs.len(), 12);
    let v = rs.iter().find(|r| r.name == Some("voltage_l1")).unwrap();
    assert_eq!(v.obis, Some(Obis([1, 0, 32, 7, 0, 255])));
    assert_eq!((v.mantissa, v.scaler, v.unit.as_deref()), (Some(2274), Some(-1), Some("V")));
    assert_eq!(v.value, RowValue::Float(227.4));
    let p = rs.iter().find(|r| r.name == Some("active_power_import")).unwrap();
    assert_eq!((p.value.clone(), p.unit.as_deref()), (RowValue::Int(280), Some("W")));
}

#[test]
fn kamstrup_rows_skip_padding_and_take_layout_scalers() {
    // source: toreamun/amshan tests/test_kamstrup.py (single-phase real sample): 25 elements,
    // L2/L3 left out as null pairs; currents in 0.01 A.
    let p = &set("pushes")[4];
    let rs = push_rows(p);
    assert_eq!(rs.len(), 9);
    assert_eq!(rs[0].obis, Some(Obis([1, 1, 0, 2, 129, 255])));
    assert_eq!(rs[0].name, Some("list_ver_id"));
    let i = rs.iter().find(|r| r.name == Some("current_l1")).unwrap();
    assert_eq!((i.mantissa, i.scaler, i.unit.as_deref()), (Some(896), Some(-2), Some("A")));
}

#[test]
fn kaifa_value_only_list_1() {
    // source: toreamun/amshan tests/test_kaifa.py test_parse_no_list_1: one value, P+ 5852 W.
    let p = &set("pushes")[2];
    let rs = push_rows(p);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].obis, Some(Obis([1, 0, 1, 7, 0, 255])));
    assert_eq!((rs[0].value.clone(), rs[0].unit.as_deref()), (RowValue::Int(5852), Some("W")));
}

#[test]
fn kaifa_value_only_list_3_by_layout() {
    // A KFM_001 list 3 (three-phase, 18 elements) built from the Kaifa list layout: the codes
    // and scalers come from the layout, the clock from its octet-string.
    let mut v = vec![
        Data::OctetString(b"KFM_001".to_vec()),
        Data::OctetString(b"6970631403757615".to_vec()),
        Data::OctetString(b"MA304H3E".to_vec()),
    ];
    for x in [3426u32, 0, 0, 51, 10533, 12269, 4624, 2325, 0, 2345] {
        v.push(Data::DoubleLongUnsigned(x));
    }
    v.push(Data::OctetString(unhex("07e60a100715000aff800000")));
    for x in [82840532u32, 0, 35883243, 2143101] {
        v.push(Data::DoubleLongUnsigned(x));
    }
    let rs = rows(&Data::Structure(v));
    assert_eq!(rs.len(), 18);
    let by = |n: &str| rs.iter().find(|r| r.name == Some(n)).unwrap().value.clone();
    assert_eq!(by("list_ver_id"), RowValue::Text("KFM_001".into()));
    assert_eq!(by("meter_id"), RowValue::Text("6970631403757615".into()));
    assert_eq!(by("current_l1"), RowValue::Float(10.533));
    assert_eq!(by("voltage_l3"), RowValue::Float(234.5));
    assert_eq!(by("meter_datetime"), RowValue::Text("2022-10-16T21:00:10".into()));
    assert_eq!(by("active_power_import_total"), RowValue::Int(82840532));
}

#[test]
fn capture_objects_list() {
    // A body of bare values with the capture objects the user read from the push setup.
    let body = Data::Structure(vec![
        Data::OctetString(unhex("07e5091b01092f0f00ff8880")),
        Data::DoubleLongUnsigned(12937),
        Data::LongUnsigned(2337),
    ]);
    let cap = [
        CaptureObject { class_id: 8, obis: Obis([0, 0, 1, 0, 0, 255]), attribute: 2, scaler_unit: None },
        CaptureObject { class_id: 3, obis: Obis([1, 0, 1, 8, 0, 255]), attribute: 2, scaler_unit: Some((0, 30)) },
        CaptureObject { class_id: 3, obis: Obis([1, 0, 32, 7, 0, 255]), attribute: 2, scaler_unit: Some((-1, 35)) },
    ];
    let rs = rows_with_capture(&body, &cap);
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].value, RowValue::Text("2021-09-27T09:47:15+02:00".into()));
    assert_eq!(rs[0].name, Some("meter_datetime"));
    assert_eq!((rs[1].value.clone(), rs[1].unit.as_deref()), (RowValue::Int(12937), Some("Wh")));
    assert_eq!((rs[2].value.clone(), rs[2].scaler), (RowValue::Float(233.7), Some(-1)));
}

// ---- COSEM meaning ------------------------------------------------------------------------

use meterlink::dlms::cosem::{obis_name, scale, unit_name};

fn dt(h: &str) -> DateTime {
    DateTime(unhex(h).try_into().unwrap())
}

#[test]
fn datetime_fields_and_iso() {
    // source: u9n/dlms-cosem tests/test_time.py (corpus dlms-0049): deviation FFC4 = -60 min
    // (UTC − local) is local time one hour ahead of UTC: +01:00.
    let d = dt("07e40106ff00030000ffc400");
    assert_eq!((d.year(), d.month(), d.day(), d.weekday()), (Some(2020), Some(1), Some(6), None));
    assert_eq!((d.hour(), d.minute(), d.second(), d.hundredths()), (Some(0), Some(3), Some(0), Some(0)));
    assert_eq!((d.deviation(), d.clock_status().map(|c| c.0)), (Some(-60), Some(0)));
    assert_eq!(d.to_iso().as_deref(), Some("2020-01-06T00:03:00+01:00"));
    // dlms-0050: deviation 0x8000 (not specified): no offset.
    let d = dt("07e2020cff00000000800000");
    assert_eq!(d.deviation(), None);
    assert_eq!(d.to_iso().as_deref(), Some("2018-02-12T00:00:00"));
    // Austrian TINETZ push (dlms-0197): FF88 = −120 → +02:00, clock status 0x80 = DST active.
    let d = dt("07e50713010f2e2300ff8880");
    assert_eq!(d.to_iso().as_deref(), Some("2021-07-19T15:46:35+02:00"));
    assert_eq!(d.weekday(), Some(1));
    assert!(d.clock_status().unwrap().daylight_saving_active());
    assert!(!d.clock_status().unwrap().invalid_value());
    // Positive deviation (west of UTC), hundredths kept.
    assert_eq!(dt("07e5010a070c1e0a32012c01").to_iso().as_deref(), Some("2021-01-10T12:30:10.50-05:00"));
    assert!(dt("07e5010a070c1e0a32012c01").clock_status().unwrap().invalid_value());
}

#[test]
fn datetime_not_specified_and_markers() {
    // All 0xFF: nothing specified, no ISO text.
    let d = dt("ffffffffffffffffff8000ff");
    assert_eq!((d.year(), d.month(), d.day(), d.hour(), d.deviation(), d.clock_status()), (None, None, None, None, None, None));
    assert_eq!(d.to_iso(), None);
    // A recurring date (year not specified), last day of the DST-begin month: markers, no ISO.
    let d = dt("fffffefe07020000008000ff");
    assert!(d.dst_begin() && d.last_day_of_month() && !d.dst_end());
    assert_eq!((d.month(), d.day(), d.weekday()), (None, None, Some(7)));
    assert_eq!(d.to_iso(), None);
    let d = dt("07e5fdfdff020000008000ff");
    assert!(d.dst_end() && d.second_last_day_of_month());
    // Impossible calendar dates are not ISO text.
    assert_eq!(dt("07e5021eff00000000800000").to_iso(), None); // 30 February
    assert_eq!(dt("07e4021dff00000000800000").to_iso().as_deref(), Some("2020-02-29T00:00:00"));
    // Second not specified counts as 0.
    assert_eq!(dt("07e4021dff0c1eff00800000").to_iso().as_deref(), Some("2020-02-29T12:30:00"));
}

#[test]
fn date_and_time_items() {
    // source: dlms-cosem tests/test_dlms_date_time_data.py (dlms-0030/0034): all ones is None.
    assert_eq!(Date([0xff; 5]).to_iso(), None);
    assert_eq!(Time([0xff; 4]).to_iso(), None);
    let d = Date([0x07, 0xe6, 0x0b, 0x10, 0x03]);
    assert_eq!((d.to_iso().as_deref(), d.weekday()), (Some("2022-11-16"), Some(3)));
    assert_eq!(Time([21, 0, 10, 0xff]).to_iso().as_deref(), Some("21:00:10"));
    assert_eq!(Time([21, 0, 10, 7]).hundredths(), Some(7));
    assert_eq!(Time([24, 0, 0, 0]).to_iso(), None);
}

#[test]
fn units_and_scaler() {
    // Blue Book unit enumeration (scaler_unit).
    let u: Vec<_> = [27, 28, 29, 30, 31, 32, 33, 35, 44, 9, 13, 1, 56, 38].into_iter().map(unit_name).collect();
    let want = ["W", "VA", "var", "Wh", "VAh", "varh", "A", "V", "Hz", "°C", "m³", "a", "%", "Ω"];
    assert_eq!(u, want.iter().map(|s| Some(*s)).collect::<Vec<_>>());
    assert_eq!((unit_name(0), unit_name(58), unit_name(200)), (None, None, None));
    assert_eq!((unit_name(254), unit_name(255)), (Some("other"), Some("count")));
    // value × 10^scaler: integers stay exact for scaler ≥ 0; negative scalers divide.
    assert_eq!(scale(2274, -1), RowValue::Float(227.4));
    assert_eq!(scale(896, -2), RowValue::Float(8.96));
    assert_eq!(scale(1000, -3), RowValue::Float(1.0));
    assert_eq!(scale(7745250, 1), RowValue::Int(77452500));
    assert_eq!(scale(5, 0), RowValue::Int(5));
    assert_eq!(scale(i64::MAX, 2), RowValue::Float(i64::MAX as f64 * 100.0));
    assert_eq!(obis_name(&Obis([1, 0, 14, 7, 0, 255])), Some("frequency"));
    assert_eq!(obis_name(&Obis([1, 0, 13, 7, 0, 255])), Some("power_factor"));
}

fn push_bodies() -> Vec<Vec<u8>> {
    set("pushes").iter().map(|p| unhex(p["body"].as_str().unwrap())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Real push bodies with a few octets changed: decode, view and tape agree (same error or
    /// same length), accepted bodies re-encode to themselves and give the same rows both ways.
    #[test]
    fn mutated_pushes_agree(which in 0usize..7, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), cut in any::<prop::sample::Index>()) {
        let mut b = push_bodies()[which].clone();
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        b.truncate(cut.index(b.len() + 1).max(1));
        let tree = decode_data(&b);
        let len = tree.as_ref().map(|t| t.1).map_err(|e| e.clone());
        prop_assert_eq!(view_data(&b).map(|v| v.1), len.clone());
        prop_assert_eq!(tape(&b).map(|t| t.1), len);
        if let Ok((d, n)) = tree {
            prop_assert_eq!(enc(&d), b[..n].to_vec());
            let in_place = rows_from_bytes(&b[..n]).unwrap();
            prop_assert_eq!(format!("{:?}", rows(&d)), format!("{in_place:?}"));
        }
    }
}
