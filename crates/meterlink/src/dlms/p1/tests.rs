//! Unit tests of the P1 stage; the published telegrams are in `tests/dlms_transport.rs`.

use super::*;
use crate::dlms::RowValue;

fn telegram(body: &str, crc: bool) -> String {
    let mut t = format!("/ABC5\\test\r\n\r\n{body}!");
    if crc {
        let c = crc16_arc(t.as_bytes());
        t.push_str(&format!("{c:04X}"));
    }
    t.push_str("\r\n");
    t
}

// source: reveng CRC catalogue, CRC-16/ARC check value.
#[test]
fn crc_arc_check_value() {
    assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
}

#[test]
fn errors_have_their_codes() {
    let good = telegram("1-0:1.8.1(000001.000*kWh)\r\n", true);
    assert!(parse(good.as_bytes()).is_ok());
    let code = |t: &str| parse(t.as_bytes()).unwrap_err().code();
    assert_eq!(code(""), "p1_truncated");
    assert_eq!(code(&good[..good.len() - 8]), "p1_truncated");
    assert_eq!(code(&good[1..]), "p1_header");
    assert_eq!(code(&good.replace("1.8.1(", "1.8.x(")), "p1_crc");
    assert_eq!(code(&telegram("1-0:1.8.x(1)\r\n", true)), "p1_line");
    assert_eq!(code(&telegram("1-0:1.8.1(1\r\n", true)), "p1_line");
    assert_eq!(code(&telegram("1-0:1.8.1(1)x\r\n", true)), "p1_line");
    assert_eq!(code(&telegram("(1)\r\n", true)), "p1_line");
    assert_eq!(code(&good.replace("\r\n!", "\r\n!Z")), "p1_crc_syntax");
    assert_eq!(code(&format!("{good}x")), "p1_trailing");
    let e = parse(good.replace("1.8.1(", "1.8.2(").as_bytes()).unwrap_err();
    assert_eq!((e.class(), e.offset()), (crate::error_class::ErrorClass::Frame, Some(good.len() - 6)));
}

#[test]
fn values_become_rows() {
    let t = telegram(
        "1-0:1.8.1(005017.120*kWh)\r\n0-0:96.14.0(0002)\r\n0-0:1.0.0(200909100000S)\r\n0-0:96.13.0(48656C6C6F)\r\n1-0:32.32.0(00044)\r\n1-0:3.7.0(-1.5)\r\n",
        true,
    );
    let p = parse(t.as_bytes()).unwrap();
    let rows = p.rows();
    assert_eq!(rows[0].value, RowValue::Float(5017.12));
    assert_eq!((rows[0].mantissa, rows[0].scaler, rows[0].unit.as_deref()), (Some(5017120), Some(-3), Some("kWh")));
    assert_eq!(rows[1].value, RowValue::Text("0002".into()));
    assert_eq!(rows[2].value, RowValue::Text("2020-09-09T10:00:00+02:00".into()));
    assert_eq!(rows[3].value, RowValue::Text("Hello".into()));
    assert_eq!((rows[4].value.clone(), rows[4].scaler), (RowValue::Int(44), Some(0)));
    assert_eq!((rows[5].value.clone(), rows[5].mantissa), (RowValue::Float(-1.5), Some(-15)));
    assert_eq!(p.to_text(), t);
}

#[test]
fn legacy_telegrams_without_crc_and_continuation_lines() {
    // source: ndokter/dsmr_parser test/example_telegrams.py TELEGRAM_V3 (abridged: the gas lines).
    let t = "/ISk5\\2MT382-1000\r\n\r\n0-1:24.1.0(03)\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n0-1:24.4.0(1)\r\n!\r\n";
    let p = parse(t.as_bytes()).unwrap();
    assert_eq!(p.crc, None);
    assert_eq!(p.lines.len(), 3);
    assert_eq!(p.lines[1].values.len(), 7);
    let rows = p.timed_rows();
    assert_eq!(rows[1].row.obis, Some(Obis([0, 1, 24, 2, 1, 255])));
    assert_eq!(rows[1].row.value, RowValue::Float(1.001));
    assert_eq!(rows[1].row.unit.as_deref(), Some("m3"));
    assert_eq!(rows[1].time.as_deref(), Some("2009-02-12T16:00:00"));
    assert_eq!(p.to_text(), t);
}

#[test]
fn timestamps() {
    assert_eq!(p1_timestamp("101209113020W").as_deref(), Some("2010-12-09T11:30:20+01:00"));
    assert_eq!(p1_timestamp("101209113020S").as_deref(), Some("2010-12-09T11:30:20+02:00"));
    assert_eq!(p1_timestamp("101309113020W"), None);
    assert_eq!(p1_timestamp("10120911302W"), None);
    assert_eq!(p1_timestamp("101209113020X"), None);
}
