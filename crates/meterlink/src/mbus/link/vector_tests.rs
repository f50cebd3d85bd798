//! Vector tests of the wireless link layer (EN 13757-4 frame formats A/B, CRC-16/EN-13757),
//! from `tests/vectors/security/{crc,frames}.json`.

use crate::mbus::link::wmbus::{self, FormatHint, FrameFormat, WmbusError};
use crate::test_vectors::*;
#[test]
fn crc_vectors() {
    let vs = all(CRC);
    assert_eq!(vs.len(), 4);
    for v in vs {
        let crc = wmbus::crc16_en13757(&input(&v));
        assert_eq!(
            crc,
            u16::from_str_radix(s(&v, &["expected", "crc"]), 16).unwrap(),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn frame_a_vectors_strip_and_rebuild() {
    for name in [
        "frame-a-sontex-3-blocks",
        "frame-a-apator-8-blocks",
        "frame-a-kamstrup-modec",
    ] {
        let v = get(FRAMES, name);
        let raw = input(&v);
        let stripped = hx(s(&v, &["computed", "stripped"]));
        assert_eq!(wmbus::strip_crcs_a(&raw).unwrap(), stripped, "{name}");
        let f = wmbus::parse_wmbus(&raw, FormatHint::Auto).unwrap();
        assert_eq!(f.format, FrameFormat::A, "{name}");
        assert_eq!(&f.data[..], &stripped[10..], "{name}");
        assert_eq!(f.trailing, 0);
        assert_eq!(wmbus::add_crcs_a(&stripped), raw, "{name}");
        // the same frame without CRCs is recognised as such and borrowed
        let g = wmbus::parse_wmbus(&stripped, FormatHint::Auto).unwrap();
        assert_eq!(g.format, FrameFormat::NoCrc);
        assert!(matches!(g.data, std::borrow::Cow::Borrowed(_)));
        assert_eq!(g.data, f.data);
    }
}

#[test]
fn frame_a_header_fields() {
    let v = get(FRAMES, "frame-a-kamstrup-modec");
    let raw = input(&v);
    let f = wmbus::parse_wmbus(&raw, FormatHint::A).unwrap();
    assert_eq!(f.c, 0x44);
    assert_eq!(wmbus::c_field_name(f.c), Some("SND_NR"));
    assert_eq!(f.m, 0x2C2D);
    assert_eq!(&crate::mbus::tpl::device::manufacturer_to_str(f.m), b"KAM");
    assert_eq!(crate::mbus::tpl::device::manufacturer_from_str("KAM"), Some(0x2C2D));
    assert_eq!(f.id, [0x98, 0x27, 0x04, 0x67]);
    assert_eq!(f.id_bcd(), Some(67042798));
    assert_eq!((f.version, f.device_type), (0x30, 0x04));
    assert_eq!(f.data[0], 0x7A);
}

#[test]
fn frame_a_bad_crc_names_block() {
    let v = get(FRAMES, "frame-a-apator-8-blocks");
    let raw = input(&v);
    // block 1 CRC at 10..12, block 2 data 12..28 CRC 28..30, block 3 data 30..46 CRC 46..48
    for (flip, block, crc_at) in [
        (3usize, 1usize, 10usize),
        (11, 1, 10),
        (20, 2, 28),
        (47, 3, 46),
    ] {
        let mut bad = raw.clone();
        bad[flip] ^= 0x01;
        match wmbus::parse_wmbus(&bad, FormatHint::A) {
            Err(WmbusError::BlockCrc {
                format: FrameFormat::A,
                block: b,
                offset,
                ..
            }) => {
                assert_eq!((b, offset), (block, crc_at), "flip {flip}");
            }
            other => panic!("flip {flip}: {other:?}"),
        }
        // Auto: long enough to be format A, so the A error is reported
        assert!(matches!(
            wmbus::parse_wmbus(&bad, FormatHint::Auto),
            Err(WmbusError::BlockCrc { .. })
        ));
    }
}

#[test]
fn frame_trailing_bytes_reported() {
    let v = get(FRAMES, "frame-a-sontex-3-blocks");
    let mut raw = input(&v);
    raw.extend_from_slice(&[0xAA, 0xBB]);
    let f = wmbus::parse_wmbus(&raw, FormatHint::Auto).unwrap();
    assert_eq!((f.format, f.trailing), (FrameFormat::A, 2));
    let short = &raw[..raw.len() - 5];
    assert!(matches!(
        wmbus::parse_wmbus(short, FormatHint::A),
        Err(WmbusError::Truncated { .. })
    ));
}

#[test]
fn frame_b_single_block() {
    let v = get(FRAMES, "frame-b-single-block");
    let raw = input(&v);
    let f = wmbus::parse_wmbus(&raw, FormatHint::Auto).unwrap();
    assert_eq!(f.format, FrameFormat::B);
    assert_eq!(&f.data[..], &hx("A000010203040506")[..]);
    assert_eq!(wmbus::add_crcs_b(&raw[..raw.len() - 2]), raw);
    let mut bad = raw.clone();
    bad[12] ^= 0x80;
    assert!(matches!(
        wmbus::parse_wmbus(&bad, FormatHint::B),
        Err(WmbusError::BlockCrc {
            format: FrameFormat::B,
            block: 2,
            offset: 18,
            ..
        })
    ));
}

#[test]
fn frame_b_two_blocks_sensostar() {
    let v = get(MODE7, "mode7-sensostar-frame-b-long");
    let raw = input(&v);
    assert_eq!(raw.len(), 195);
    let f = wmbus::parse_wmbus(&raw, FormatHint::Auto).unwrap();
    assert_eq!(f.format, FrameFormat::B);
    assert_eq!(f.data.len(), 195 - 10 - 4);
    let mut nocrc = raw[..126].to_vec();
    nocrc.extend_from_slice(&raw[128..193]);
    assert_eq!(wmbus::add_crcs_b(&nocrc), raw);
    for (flip, block, at) in [(50usize, 2usize, 126usize), (150, 3, 193)] {
        let mut bad = raw.clone();
        bad[flip] ^= 0x04;
        match wmbus::parse_wmbus(&bad, FormatHint::B) {
            Err(WmbusError::BlockCrc {
                block: b, offset, ..
            }) => assert_eq!((b, offset), (block, at)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn crc_table_matches_bitwise() {
    fn bitwise(d: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &b in d {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x3D65
                } else {
                    crc << 1
                };
            }
        }
        !crc
    }
    let data: Vec<u8> = (0..=255u8).collect();
    for n in [0, 1, 2, 15, 16, 17, 100, 256] {
        assert_eq!(wmbus::crc16_en13757(&data[..n]), bitwise(&data[..n]));
    }
}

