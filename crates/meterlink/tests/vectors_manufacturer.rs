//! `tests/vectors/manufacturer-frames.json`: values read from manufacturer-specific data by the
//! per-family layouts (BFW 240 radio, BMT Hydrodigit, Qundis walk-by, Schneider iEM3000,
//! Apator 162), as `tests/test_manufacturer.py` asserts them: each expected value is exactly one
//! record whose quantity starts with `quantity` and names the layout, with that storage, unit and
//! value; a vector with no expectations gives no record of its layout.

mod common;

use common::{decode_ok, hex, num, s, Decode};
use serde_json::Value as Json;

const VECTORS: &str = include_str!("../../../tests/vectors/manufacturer-frames.json");

/// The tolerance of `test_manufacturer.py` (`math.isclose(rel_tol=1e-6, abs_tol=1e-9)`): the
/// expected values are the drivers' printed readings.
fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= f64::max(1e-6 * got.abs().max(want.abs()), 1e-9)
}

fn vectors() -> Vec<Json> {
    common::vectors(VECTORS, "manufacturer-frames.json", 19)
}

fn decode_vector(v: &Json) -> Json {
    decode_ok(&hex(s(v, "hex")), &Decode { keys: Some(&v["keys"]), ..Decode::default() })
}

fn records(tg: &Json) -> &Vec<Json> {
    tg["records"].as_array().expect("records")
}

#[test]
fn manufacturer_vectors() {
    let (mut with_values, mut without) = (0, 0);
    for v in vectors() {
        let (name, layout) = (s(&v, "name"), s(&v, "layout"));
        let tg = decode_vector(&v);
        let recs: Vec<&Json> = records(&tg).iter().filter(|r| s(r, "quantity").contains(layout)).collect();
        let expect = v["expect"].as_array().expect("expect");
        if expect.is_empty() {
            assert!(recs.is_empty(), "{name}: {:?}", recs.iter().map(|r| &r["description"]).collect::<Vec<_>>());
            without += 1;
            continue;
        }
        for want in expect {
            let hits: Vec<&&Json> = recs
                .iter()
                .filter(|r| {
                    s(r, "quantity").starts_with(s(want, "quantity"))
                        && r["storage"] == want["storage"]
                        && r["unit"] == want["unit"]
                })
                .collect();
            assert_eq!(hits.len(), 1, "{name}: {want}");
            let got = num(&hits[0]["value"]).unwrap_or_else(|| panic!("{name}: {} is not a number", hits[0]["value"]));
            let w = num(&want["value"]).expect("number");
            assert!(close(got, w), "{name}: {} = {got}, want {w}", s(want, "quantity"));
            // Described as decoded from manufacturer data, by which layout.
            let description = s(hits[0], "description");
            assert!(description.contains("manufacturer-specific") && description.contains(layout), "{description}");
        }
        with_values += 1;
    }
    assert_eq!((with_values, without), (14, 5));
}

#[test]
fn derived_records_in_dict() {
    // test_derived_records_in_dict_and_json: the first three vectors with values.
    for v in vectors().iter().filter(|v| v["expect"].as_array().is_some_and(|e| !e.is_empty())).take(3) {
        let tg = decode_vector(v);
        let layout = s(v, "layout");
        let n = records(&tg).iter().filter(|r| s(r, "quantity").contains(layout)).count();
        assert!(n >= v["expect"].as_array().map_or(0, Vec::len), "{}", s(v, "name"));
        serde_json::to_string(&tg).expect("JSON");
    }
}

#[test]
fn generic_records_unchanged() {
    // The derived records come after the generic ones; the raw manufacturer data stays a record.
    let v = vectors().into_iter().find(|v| v["name"] == "hydrodigit-monthly").expect("hydrodigit-monthly");
    let tg = decode_ok(&hex(s(&v, "hex")), &Decode::default());
    let layout = s(&v, "layout");
    let is_layout: Vec<bool> = records(&tg).iter().map(|r| s(r, "quantity").contains(layout)).collect();
    let first = is_layout.iter().position(|&b| b).expect("a layout record");
    assert!(is_layout[first..].iter().all(|&b| b));
    assert!(records(&tg)[..first].iter().any(|r| r["kind"] == "manufacturer"));
}
