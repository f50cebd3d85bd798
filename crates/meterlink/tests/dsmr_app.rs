//! DSMR P2 application layer (§6) and P2 → P3 mapping (Appendix A) against the standard's own
//! examples: Appendix B1.1 (key change), B1.2 (version texts), B1.3 (gas RSP_UD), the §6.2 /
//! §6.4 block tables and footnote 4's set-time example. Vectors are copied here inline.

use meterlink::address::Address;
use meterlink::dlms::obis::{Obis, RowValue};
use meterlink::dlms::p1;
use meterlink::dsmr::app::{
    encode_commands, from_type_i, parse_commands, parse_data, readout_records, type_i, Command, DeviceValues,
    P2Data, Reading, ReadingKind,
};
use meterlink::dsmr::control::{Medium, MessageKind};
use meterlink::dsmr::message::{self, Header, LinkAddress, Message};
use meterlink::dsmr::p3::{p3_view, p3_view_with_iv, ChannelView};
use meterlink::dsmr::short_id::ShortId;
use meterlink::dsmr::{mode15, Direction};

fn hx(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// source: DSMR P2 4.2.2 Appendix B1.3, "clear" column, the bytes after the configuration word
// up to the last filler (= the notes' verified plaintext, security-notes §f).
const B13_PLAIN: &str = "2F2F 01FD1700 0D7811 3938373635343332313031315858585858 466D00000B321600 \
                         4C1391030000 01FD6705 2F2F2F2F";
// source: Appendix B1.3, "encrypted" column (48 bytes).
const B13_CIPHER: &str = "F180C53E0768C76AE6E24A98BDD5947F 622732BF6372AA2AA9AF6D0F0C71FB59 \
                          7FFC6205A25F50842787A6F0C29D507B";
// source: Appendix B user key.
const USER_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// 2009-06-18 11:00:00 UTC (B1.3 time stamp "09.06.18 11:00:00").
const B13_TIME: i64 = 1_245_322_800;

/// The B1.3 RSP_UD as sent. Errata (docs/decisions.md): L is printed 3Fh but the frame has 70
/// bytes from C to the frame counter (46h); the printed CS 93h (encrypted) / 53h (clear) is
/// the sum over those 70 bytes, so only L is wrong.
fn b13_frame(version: u8) -> Vec<u8> {
    let mut body = hx("08 01 72 89674523 B438");
    body.extend_from_slice(&[version, 0x03, 0xF6, 0x00, 0x30, 0x0F]);
    body.extend_from_slice(&hx(B13_CIPHER));
    body.extend_from_slice(&hx("04FD08 01000000"));
    let cs = body.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    let mut f = vec![0x68, body.len() as u8, body.len() as u8, 0x68];
    f.extend_from_slice(&body);
    f.extend_from_slice(&[cs, 0x16]);
    f
}

fn b13_values() -> DeviceValues {
    DeviceValues {
        device_type: 0x03,
        equipment_id: "XXXXX110123456789".into(),
        status: 0,
        config_mask: 0x05,
        timestamp: B13_TIME,
        readings: vec![Reading {
            kind: ReadingKind::GasConverted,
            raw: 391,
            scaler: -3,
            unit: "m3",
            storage: 1,
            vib: vec![0x13],
        }],
        versions: vec![],
        valve: None,
    }
}

#[test]
fn b13_readout_records_byte_exact() {
    let recs = readout_records(&b13_values(), None);
    let plain = hx(B13_PLAIN);
    assert_eq!(recs, plain[2..plain.len() - 4]);
}

#[test]
fn b13_sealed_frame_byte_exact() {
    // The whole encrypted telegram from the values: RSP_UD, ACC F6, mode 15, FC 1, IV version
    // 40h (erratum: the header says 42h).
    let sid = ShortId::from_wire(hx("89674523 B438 42 03").try_into().unwrap());
    let hdr = Header { short_id: Some(sid), acc: 0xF6, status: 0, cw: Default::default() };
    let mut m = Message::new(Medium::Wired, MessageKind::MeterData, LinkAddress::Primary(1), Some(hdr), vec![]).unwrap();
    let iv_id = Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x40, 0x03);
    m.seal(&readout_records(&b13_values(), None), Some(&USER_KEY), &iv_id, 1);
    let f = m.encode().unwrap();
    assert_eq!(f, b13_frame(0x42));
    assert_eq!(f[f.len() - 2], 0x93); // the printed checksum
}

#[test]
fn b13_parse_data() {
    let d = parse_data(0x03, &hx(B13_PLAIN)).unwrap();
    assert_eq!(d.equipment_id.as_deref(), Some("XXXXX110123456789"));
    assert_eq!((d.status, d.config_mask, d.timestamp), (Some(0), Some(5), Some(B13_TIME)));
    assert_eq!(d.timestamp_summer, Some(false));
    assert_eq!(d.readings, b13_values().readings);
    assert!(d.other.is_empty() && d.versions.is_empty() && d.valve.is_none());
}

#[test]
fn b13_p3_view_and_p1_lines() {
    let v = p3_view_with_iv(&b13_frame(0x42), 1, Some(&USER_KEY), Some(0x40)).unwrap();
    let lines = v.p1_lines();
    assert_eq!(
        lines,
        [
            "0-1:24.1.0(003)",
            "0-1:96.1.0(5858585858313130313233343536373839)",
            "0-1:24.2.1(090618110000S)(00000.391*m3)",
        ]
    );
    let cs = &v.client_setup;
    assert_eq!(
        (cs.primary_address, cs.identification_number, cs.manufacturer_id, cs.version, cs.device_type),
        (1, 23456789, 0x38B4, 0x42, 0x03)
    );
    assert_eq!((cs.access_number, cs.status, v.config_mask), (0xF6, 0, Some(5)));
    // The lines read back with meterlink's own P1 parser (DSMR 4 style, no CRC).
    let text = format!("/XXX5test\r\n\r\n{}\r\n!\r\n", lines.join("\r\n"));
    let t = p1::parse(text.as_bytes()).unwrap();
    let rows = t.timed_rows();
    let gas = rows.iter().find(|r| r.row.obis == Some(Obis([0, 1, 24, 2, 1, 255]))).unwrap();
    assert_eq!((gas.row.mantissa, gas.row.scaler, gas.row.unit.as_deref()), (Some(391), Some(-3), Some("m3")));
    // OBIS rows: 7 client-setup attributes, the equipment id, value and capture time.
    let rows = v.obis_rows();
    assert_eq!(rows.len(), 10);
    let by = |o: [u8; 6], name: &str| {
        rows.iter().find(|r| r.obis == Some(Obis(o)) && r.name == Some(name)).unwrap().clone()
    };
    assert_eq!(by([0, 1, 24, 1, 0, 255], "identification_number").value, RowValue::Int(23456789));
    assert_eq!(by([0, 1, 24, 1, 0, 255], "access_number").value, RowValue::Int(0xF6));
    assert_eq!(by([0, 1, 24, 1, 0, 255], "primary_address").value, RowValue::Int(1));
    assert_eq!(by([0, 1, 96, 1, 0, 255], "equipment_identifier").value, RowValue::Text("XXXXX110123456789".into()));
    let val = by([0, 1, 24, 2, 1, 255], "value");
    assert_eq!((val.value, val.mantissa, val.scaler, val.unit.as_deref()), (RowValue::Float(0.391), Some(391), Some(-3), Some("m3")));
    assert_eq!(by([0, 1, 24, 2, 1, 255], "capture_time").value, RowValue::Text("2009-06-18T11:00:00Z".into()));
}

#[test]
fn b13_iv_erratum_without_override() {
    // §5.2 as printed (IV version 42h): the 2F 2F check passes, plaintext byte 6 becomes 0Fh
    // (manufacturer data to the end): the status survives, the rest is kept as `other`.
    let v = p3_view(&b13_frame(0x42), 1, Some(&USER_KEY)).unwrap();
    assert_eq!((v.client_setup.status, v.equipment_id.as_ref(), v.last.as_ref()), (0, None, None));
    // And a header that says 40h decrypts by the §5.2 rule alone.
    let v40 = p3_view(&b13_frame(0x40), 2, Some(&USER_KEY)).unwrap();
    assert_eq!(v40.p1_lines()[2], "0-2:24.2.1(090618110000S)(00000.391*m3)");
    // Wrong key and no key.
    let e = p3_view(&b13_frame(0x40), 1, Some(&[0u8; 16])).unwrap_err();
    assert_eq!(e.code(), "dsmr_decrypt");
    assert_eq!(p3_view(&b13_frame(0x40), 1, None).unwrap_err().code(), "dsmr_no_key");
}

#[test]
fn wireless_snd_nr_view() {
    // A wireless SND_NR (CI 7Ah, short header) of the B1.3 device, sealed with the A field as
    // IV identity (§5.2), built with meterlink's own encoder.
    let addr = Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x42, 0x03);
    let hdr = Header { short_id: None, acc: 7, status: 0, cw: Default::default() };
    let mut m = Message::new(Medium::Wireless, MessageKind::PeriodicData, LinkAddress::Radio(addr), Some(hdr), vec![]).unwrap();
    let mut vals = b13_values();
    vals.timestamp = 1_261_994_400; // 2009-12-28 10:00 UTC: winter
    m.seal(&readout_records(&vals, None), Some(&USER_KEY), &addr, 9);
    let v = p3_view(&m.encode().unwrap(), 3, Some(&USER_KEY)).unwrap();
    assert_eq!(v.p1_lines()[2], "0-3:24.2.1(091228100000W)(00000.391*m3)");
    assert_eq!((v.client_setup.primary_address, v.client_setup.access_number), (0, 7));
    // An E-meter's control message (SND_UD CI 5Ah) is no device telegram.
    let e = p3_view(&hx("68 07 07 68 53 01 5A 01 00 0000 AF 16"), 1, None).unwrap_err();
    assert_eq!(e.code(), "dsmr_control");
}

#[test]
fn set_time_footnote_4() {
    // source: §6.2.1 footnote 4: 16 July 2013 13:00 UTC = sec 0, min 0, hour 13, day 16,
    // month 7, year 13, day of week 2, week 0, leap 0, no DST: type I 00 00 4D B0 17 00.
    let t = 1_373_979_600;
    assert_eq!(type_i(t).to_vec(), hx("00 00 4D B0 17 00"));
    assert_eq!(from_type_i(type_i(t)), Some(t));
    let c = encode_commands(&[Command::SetTime(t)]);
    assert_eq!(c, hx("00 00004DB01700 000000"));
    // §6.2.1 table: 2F 2F, TC, time, reserved, 2F 2F 2F 2F.
    let body = hx("2F2F 00 00004DB01700 000000 2F2F2F2F");
    assert_eq!(parse_commands(0x6C, &body).unwrap(), [Command::SetTime(t)]);
    let bad = hx("2F2F 01 00004DB01700 000000");
    assert_eq!(parse_commands(0x6C, &bad).unwrap_err().offset(), Some(2));
    let bad = hx("2F2F 00 00004DB01700 000100");
    assert_eq!(parse_commands(0x6C, &bad).unwrap_err().offset(), Some(10));
    // 30 February does not exist.
    assert_eq!(from_type_i(hx("00 00 0D 5E 12 00").try_into().unwrap()), None);
    // Leap year flag, 29 February 2012 (a Wednesday).
    assert_eq!(type_i(1_330_473_600).to_vec(), hx("80 00 60 9D 12 00"));
}

#[test]
fn b11_key_change() {
    // source: Appendix B1.1, printed CS 4Eh is an erratum: the bytes sum to 8Eh.
    let f = hx("68 19 19 68 53 01 51 07FD19 03E0EED1F68E9B8F 47FD19 5E1372754AB79F27 8E 16");
    let m = message::parse(Medium::Wired, Direction::ToDevice, &f).unwrap();
    assert_eq!((m.kind, m.ci), (MessageKind::Unencrypted, Some(0x51)));
    let cmds = parse_commands(0x51, &m.payload).unwrap();
    let wrapped: [u8; 16] = hx("279FB74A7572135E8F9B8EF6D1EEE003").try_into().unwrap();
    assert_eq!(cmds, [Command::SetKey(wrapped)]);
    assert_eq!(mode15::unwrap_user_key(&mode15::DEFAULT_KEY_EXAMPLE, &wrapped), USER_KEY);
    assert_eq!(encode_commands(&cmds), m.payload);
    // One half alone is refused.
    let e = parse_commands(0x51, &hx("07FD19 03E0EED1F68E9B8F")).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("dsmr_application", Some(0)));
}

#[test]
fn address_status_selection_round_trip() {
    // source: §6.2.2 (01 7A A), §6.2.3 (01 FD 97 06 73), B1.2 request (08 FD 0D, 08 FD 0E).
    let cmds = vec![
        Command::SetAddress(5),
        Command::ClearStatus(0x73),
        Command::SelectReadout(vec![vec![0xFD, 0x0D], vec![0xFD, 0x0E]]),
    ];
    let b = encode_commands(&cmds);
    assert_eq!(b, hx("017A05 01FD970673 08FD0D 08FD0E"));
    assert_eq!(parse_commands(0x5A, &b).unwrap(), cmds);
    // The B1.2 request body: selection records, fillers, frame counter record.
    let body = hx("08FD0D 08FD0E 2F2F2F2F2F 04FD08 01000000");
    assert_eq!(parse_commands(0x5A, &body).unwrap(), [cmds[2].clone()]);
    // Unknown records are rejected with their offset.
    let e = parse_commands(0x5A, &hx("2F2F 017A05 01FD1700")).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("dsmr_application", Some(5)));
    let e = parse_commands(0x5B, &hx("017A05 0C13")).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("dsmr_application", Some(3)));
}

#[test]
fn b12_version_texts() {
    // source: Appendix B1.2 response records (LSB-first texts). Errata: the hardware text is
    // sent with VIFE 0Ch (not the 0Dh requested) and the firmware text with VIF EDh (not FDh,
    // VIFE 0Ch instead of 0Eh): that record is well-formed but no §6.4.2 block, so `other`.
    let data = hx("0D FD 0C 1B 0A0D7265696C70707573 20656C75646F6D20 7375622D4D3D6D6F63
                   0D ED 0C 0F 0A0D352E342E333231 57463D74656D 2F2F");
    let d = parse_data(0x03, &data).unwrap();
    assert_eq!(d.versions, [(0x0C, "com=M-bus module supplier\r\n".to_string())]);
    assert_eq!(d.other, [("0DED0C".to_string(), "0F0A0D352E342E33323157463D74656D".to_string())]);
    // A device answering a §6.3.1 selection sends only the selected items, texts LSB first.
    let mut v = b13_values();
    v.versions = vec![(0x0D, "met=PCBx1.x2\r\n".into()), (0x0E, "met=FW123.4.5\r\n".into())];
    let r = readout_records(&v, Some(&[vec![0xFD, 0x0E]]));
    assert_eq!(r, hx("0D FD 0E 0F 0A0D352E342E333231 57463D74656D"));
    let sel = [vec![0xFD, 0x0D], vec![0xFD, 0x0E], vec![0xFD, 0x17]];
    let d = parse_data(0x03, &readout_records(&v, Some(&sel))).unwrap();
    assert_eq!((d.versions, d.status), (v.versions.clone(), Some(0)));
}

fn one(device: u8, rec: &str) -> P2Data {
    parse_data(device, &hx(rec)).unwrap()
}

#[test]
fn section_6_4_blocks() {
    use ReadingKind as K;
    let r = |d: &P2Data| d.readings.iter().map(|x| (x.kind, x.raw, x.scaler, x.unit, x.storage)).collect::<Vec<_>>();
    // source: §6.4.4 G4-G6 / G10-G25 examples: 31412,743 m3 / 314127,43 m3.
    assert_eq!(r(&one(3, "4C13 43274131")), [(K::GasConverted, 31412743, -3, "m3", 1)]);
    assert_eq!(r(&one(3, "4C14 43274131")), [(K::GasConverted, 31412743, -2, "m3", 1)]);
    // Appendix A: unconverted 93 3A / 94 3A; DIF 0C (actual value, storage 0).
    assert_eq!(r(&one(3, "0C933A 91030000 0C943A 01000000")), [(K::GasUnconverted, 391, -3, "m3", 0), (K::GasUnconverted, 1, -2, "m3", 0)]);
    // source: §6.4.5: heat 03141,27 GJ, cold (DIFE 40h), volume 02440,474 m3.
    let th = one(4, "4C0F 27413100 CC400F 27413100 4C13 74044402");
    assert_eq!(r(&th), [(K::Heat, 314127, -2, "GJ", 1), (K::Cold, 314127, -2, "GJ", 1), (K::ThermalVolume, 2440474, -3, "m3", 1)]);
    // source: §6.4.6 water 03141,274 m3; §6.4.7 slave E 03141274 Wh.
    assert_eq!(r(&one(7, "4C13 74121403")), [(K::Water, 3141274, -3, "m3", 1)]);
    assert_eq!(r(&one(2, "4C03 74121403")), [(K::Electricity, 3141274, 0, "Wh", 1)]);
    // §9.1 DSMR 4.0 valve: 89 40 FD 1A 02 (released, not open).
    assert_eq!(one(3, "8940FD1A 02").valve, Some(2));
    // 4C 13 from a device type without volume readings, invalid BCD: kept in `other`.
    assert_eq!(one(0x0F, "4C13 74121403").other, [("4C13".to_string(), "74121403".to_string())]);
    assert_eq!(one(3, "4C13 7412140A").other.len(), 1);
    // Truncated record: dsmr_application at the record.
    let e = parse_data(3, &hx("2F 01FD1700 4C13 7412")).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("dsmr_application", Some(5)));
}

#[test]
fn readout_round_trip_all_types() {
    let rd = |kind, raw, scaler, unit: &'static str, vib: &[u8]| Reading { kind, raw, scaler, unit, storage: 1, vib: vib.to_vec() };
    for (device, readings) in [
        (4u8, vec![rd(ReadingKind::Heat, 314127, -2, "GJ", &[0x0F]), rd(ReadingKind::Cold, 5, -2, "GJ", &[0x0F]), rd(ReadingKind::ThermalVolume, 2440474, -3, "m3", &[0x13])]),
        (7, vec![rd(ReadingKind::Water, 3141274, -3, "m3", &[0x13])]),
        (2, vec![rd(ReadingKind::Electricity, 3141274, 0, "Wh", &[0x03])]),
        (3, vec![rd(ReadingKind::GasConverted, 1, -2, "m3", &[0x14]), rd(ReadingKind::GasUnconverted, 2, -2, "m3", &[0x94, 0x3A])]),
    ] {
        let v = DeviceValues { device_type: device, readings, valve: Some(1), ..b13_values() };
        let recs = readout_records(&v, None);
        let d = parse_data(device, &recs).unwrap();
        assert_eq!((d.readings, d.valve, d.timestamp), (v.readings.clone(), Some(1), Some(B13_TIME)));
        assert!(d.other.is_empty());
    }
    // The cold record is CC 40 0F (§6.4.5).
    let v = DeviceValues { device_type: 4, readings: vec![rd(ReadingKind::Cold, 314127, -2, "GJ", &[0x0F])], ..b13_values() };
    assert!(readout_records(&v, Some(&[vec![0x0F]])) == hx("CC400F 27413100"));
}

#[test]
fn p1_values_per_type() {
    let sid = ShortId::from_wire(hx("89674523 B438 42 02").try_into().unwrap());
    let mut v = ChannelView::new(4);
    v.update(&sid, 1, 0, &one(2, "466D 00000B321600 4C03 74121403"));
    assert_eq!(v.p1_lines(), ["0-4:24.1.0(002)", "0-4:24.2.1(090618110000S)(03141.274*kWh)"]);
    let sid = ShortId::from_wire(hx("89674523 B438 42 03").try_into().unwrap());
    v.update(&sid, 2, 0, &one(3, "466D 00000B321600 4C14 43274131 01FD1704"));
    assert_eq!(v.p1_lines()[1], "0-4:24.2.1(090618110000S)(314127.43*m3)");
    assert_eq!(v.client_setup.status, 4);
    // A telegram without a reading keeps the last value.
    v.update(&sid, 3, 0, &one(3, "01FD1700"));
    assert_eq!((v.p1_lines().len(), v.client_setup.access_number), (2, 3));
}
