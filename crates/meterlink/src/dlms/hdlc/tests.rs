//! Unit tests of the HDLC stage; the corpus rows are in `tests/dlms_transport.rs`.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    crate::hex::parse_hex(s).unwrap()
}

// source: reveng CRC catalogue, CRC-16/IBM-SDLC check value.
#[test]
fn crc_x25_check_value() {
    assert_eq!(crc16_x25(b"123456789"), 0x906E);
}

#[test]
fn control_bytes_round_trip() {
    for c in 0..=255u8 {
        if let Some(k) = HdlcControl::from_byte(c) {
            assert_eq!(k.to_byte(), c, "{c:02X}");
        }
    }
    assert_eq!(HdlcControl::from_byte(0x93), Some(HdlcControl::Snrm { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x73), Some(HdlcControl::Ua { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x53), Some(HdlcControl::Disc { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x1F), Some(HdlcControl::Dm { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x97), Some(HdlcControl::Frmr { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x13), Some(HdlcControl::Ui { pf: true }));
    assert_eq!(HdlcControl::from_byte(0x51), Some(HdlcControl::Rr { nr: 2, pf: true }));
    assert_eq!(HdlcControl::from_byte(0xB5), Some(HdlcControl::Rnr { nr: 5, pf: true }));
    assert_eq!(HdlcControl::from_byte(0x32), Some(HdlcControl::I { ns: 1, nr: 1, pf: true }));
    // REJ and SREJ are not used by IEC 62056-46.
    assert_eq!(HdlcControl::from_byte(0x09), None);
    assert_eq!(HdlcControl::from_byte(0x0D), None);
}

#[test]
fn addresses_of_each_length() {
    assert_eq!(HdlcAddress::parse(&[0x21]), Some((HdlcAddress::one_byte(16), 1)));
    assert_eq!(HdlcAddress::parse(&[0x02, 0x23]), Some((HdlcAddress::server(1, 17, 2), 2)));
    assert_eq!(HdlcAddress::parse(&[0x00, 0x02, 0x00, 0x23]), Some((HdlcAddress::server(1, 17, 4), 4)));
    assert_eq!(HdlcAddress::parse(&[0x02, 0x02, 0x23]), None);
    assert_eq!(HdlcAddress::parse(&[0x02, 0x02, 0x02, 0x02, 0x03]), None);
    for a in [HdlcAddress::one_byte(0x7F), HdlcAddress::server(0x3FFF, 0x2ABC, 4), HdlcAddress::server(3, 0x7F, 2)] {
        let mut out = Vec::new();
        a.write(&mut out).unwrap();
        assert_eq!(HdlcAddress::parse(&out), Some((a, out.len())));
    }
    assert!(HdlcAddress::one_byte(0x80).write(&mut Vec::new()).is_none());
    assert!(HdlcAddress::server(0x4000, 1, 4).write(&mut Vec::new()).is_none());
}

#[test]
fn every_structural_error_has_its_code() {
    // source: toreamun/amshan tests/test_hdlc.py (frame with 7E in its information field).
    let good = hex("7ea027010201105a87e6e7000f40000000090c07e4020f06011922ff8000000201060000157eea5e7e");
    assert!(parse_frame(&good).is_ok());
    let code = |b: &[u8]| parse_frame(b).unwrap_err().code();
    assert_eq!(code(&good[..good.len() - 1]), "hdlc_truncated");
    assert_eq!(code(&[]), "hdlc_truncated");
    assert_eq!(code(&good[1..]), "hdlc_flag");
    let mut g = good.clone();
    g.push(0x7E);
    assert_eq!(code(&g), "hdlc_trailing");
    let mut g = good.clone();
    g[1] = 0xB0;
    assert_eq!(code(&g), "hdlc_format");
    let mut g = good.clone();
    g[5] = 0x00; // source address 00 00 10 ... never ends in 1/2/4 bytes
    g[4] = 0x00;
    assert_eq!(code(&g), "hdlc_address");
    let mut g = good.clone();
    g[6] = 0x09;
    assert_eq!(code(&g), "hdlc_control");
    let mut g = good.clone();
    g[7] ^= 1;
    assert_eq!(code(&g), "hdlc_hcs");
    let mut g = good.clone();
    g[20] ^= 1;
    assert_eq!(code(&g), "hdlc_fcs");
    assert_eq!(code(&hex("7ea00321037e")), "hdlc_length");
}

#[test]
fn encode_builds_frames_parse_reads() {
    let info = hex("e6e6000102037e7d");
    let f = HdlcFrame {
        segmented: true,
        destination: HdlcAddress::server(1, 0x3FF, 4),
        source: HdlcAddress::one_byte(0x10),
        control: HdlcControl::I { ns: 3, nr: 5, pf: false }.to_byte(),
        information: &info,
    };
    let bytes = encode_frame(&f).unwrap();
    assert_eq!(parse_frame(&bytes).unwrap(), f);
    assert_eq!(parse_frame(&bytes).unwrap().apdu().unwrap(), &info[3..]);
    let empty = HdlcFrame { information: &[], segmented: false, control: 0x93, ..f };
    let bytes = encode_frame(&empty).unwrap();
    assert_eq!(bytes.len(), 1 + 2 + 4 + 1 + 1 + 2 + 1);
    assert_eq!(parse_frame(&bytes).unwrap(), empty);
    let big = vec![0u8; 2048];
    assert_eq!(encode_frame(&HdlcFrame { information: &big, ..f }).unwrap_err().code(), "hdlc_encode");
}
