//! Vector tests of the ELL (EN 13757-4 §13.2.12 AES-CTR, payload CRC, the ELL layouts), from
//! `tests/vectors/security/ell.json` and known answers.

use crate::address::Address;
use crate::mbus::ell::{self, EllError};
use crate::mbus::link::wmbus::{self, FormatHint, FrameFormat};
use crate::test_vectors::*;
#[test]
fn ell_ctr_kamstrup() {
    let v = get(ELL, "ell-aes-ctr-kamstrup-multical21");
    let key = k16(s(&v, &["keys", "key"]));
    let (link, data, fmt) = frame(&v, FormatHint::Auto);
    assert_eq!(fmt, FrameFormat::NoCrc);
    let e = ell::parse_ell(&data).unwrap();
    assert_eq!(
        (e.ci, e.cc, e.acc, e.enc(), e.session()),
        (0x8D, 0x20, 0x91, 1, Some(3))
    );
    assert_eq!(
        ell::icb(&link, e.cc, e.sn.unwrap(), 0).to_vec(),
        hx(s(&v, &["expected", "icb"]))
    );
    let mut out = Vec::new();
    ell::decrypt_ell_into(Some(&key), &link, &data, &mut out).unwrap();
    let expected = hx(s(&v, &["expected", "plaintext_with_plcrc"]));
    assert_eq!(out, expected[2..]);
    // round trip through the encoder
    let enc = ell::encrypt_ell(&key, &link, e.cc, e.acc, e.sn.unwrap(), None, &out);
    assert_eq!(enc, data);
    // one flipped key bit -> payload CRC error; one flipped ciphertext byte -> payload CRC error
    let mut bad_key = key;
    bad_key[0] ^= 1;
    assert!(matches!(
        ell::decrypt_ell_into(Some(&bad_key), &link, &data, &mut out),
        Err(EllError::PayloadCrc { offset: 7, .. })
    ));
    assert!(out.is_empty());
    let mut bad = data.clone();
    bad[12] ^= 0x10;
    assert!(matches!(
        ell::decrypt_ell_into(Some(&key), &link, &bad, &mut out),
        Err(EllError::PayloadCrc { .. })
    ));
}

#[test]
fn ell_layouts() {
    // ELL III from CEN/TR 17167 F.3
    let v = get(MODE7, "mode7-centr17167-F3");
    let (_, data, _) = frame(&v, FormatHint::Auto);
    let e = ell::parse_ell(&data).unwrap();
    assert_eq!(
        (e.ci, e.cc, e.acc, e.m2, e.payload_offset),
        (0x8E, 0x80, 0x75, Some(0x633A), 11)
    );
    assert_eq!(e.a2, Some([0x66, 0x55, 0x44, 0x33, 0x0A, 0x31]));
    // ELL IV round trip (receiver address; DLL address in the ICB [?])
    let key = [7u8; 16];
    let link = Address::new(0x2C2D, [1, 2, 3, 4], 0x1B, 0x16);
    let enc = ell::encrypt_ell(
        &key,
        &link,
        0x20,
        0x42,
        0x123,
        Some((0x1234, [9, 8, 7, 6, 5, 4])),
        b"\x7A\x01\x02",
    );
    let mut out = Vec::new();
    let e = ell::decrypt_ell_into(Some(&key), &link, &enc, &mut out).unwrap();
    assert_eq!(
        (e.ci, e.m2, e.sn.map(|s| s & 0x1FFF_FFFF)),
        (0x8F, Some(0x1234), Some(0x123))
    );
    assert_eq!(out, b"\x7A\x01\x02");
    assert_eq!(
        ell::parse_ell(&[0x86, 0, 0]),
        Err(EllError::UnsupportedEllV)
    );
    assert_eq!(
        ell::parse_ell(&[0x7A, 0, 0]),
        Err(EllError::NotEll { ci: 0x7A })
    );
    assert!(matches!(
        ell::parse_ell(&[0x8D, 0, 0, 0]),
        Err(EllError::Truncated { .. })
    ));
    // ENC = 0 with SN: CRC still checked
    let mut plain = vec![0x8D, 0x00, 0x01, 0, 0, 0, 0];
    plain.extend_from_slice(&wmbus::crc16_en13757(b"\x7A\x55").to_le_bytes());
    plain.extend_from_slice(b"\x7A\x55");
    ell::decrypt_ell_into(None, &link, &plain, &mut out).unwrap();
    assert_eq!(out, b"\x7A\x55");
    // reserved ENC
    let r = [0x8D, 0, 0, 0, 0, 0, 0x40, 0, 0, 0x7A];
    assert_eq!(
        ell::decrypt_ell_into(None, &link, &r, &mut out),
        Err(EllError::UnsupportedEncryption { enc: 2 })
    );
}

