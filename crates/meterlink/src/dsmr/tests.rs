//! Vector tests of DSMR P2 mode 15 (Appendix B.1.3 telegram, negative cases, key transport
//! B.1.1), from `tests/vectors/security/dsmr.json`.

use serde_json::Value;

use crate::dsmr::mode15;
use crate::address::Address;
use crate::mbus::security::{decrypt_tpl, EncryptedLength, SecurityError};
use crate::test_vectors::*;
fn dsmr_b13_tpdu(version: u8) -> Vec<u8> {
    // DSMR P2 v4.2.2 B.1.3 RSP_UD: CI 72, ID 23456789, M 'NET', version, gas, ACC F6, STS 00,
    // CW 30 0F, 48 encrypted bytes, clear 04 FD 08 01000000.
    let v = get(DSMR, "dsmr-p2-v422-B13-iv-40");
    let mut t = hx("72 89674523 B438");
    t.extend_from_slice(&[version, 0x03, 0xF6, 0x00, 0x30, 0x0F]);
    t.extend_from_slice(&input(&v));
    t.extend_from_slice(&hx("04FD08 01000000"));
    t
}

#[test]
fn dsmr_b13_vector() {
    let v = get(DSMR, "dsmr-p2-v422-B13-iv-40");
    let key = k16(s(&v, &["keys", "user_key"]));
    let addr = Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x40, 0x03);
    assert_eq!(mode15::iv(&addr, 1).to_vec(), hx(s(&v, &["keys", "iv"])));
    let mut out = Vec::new();
    mode15::decrypt_mode15_into(&key, &addr, &input(&v), 3, Some(1), &mut out).unwrap();
    assert_eq!(out, hx(s(&v, &["expected", "plaintext"])));
    // Through the pipeline with IV byte 6 = 0x40 in the header (the value the ciphertext was
    // made with; see the erratum note in dsmr.rs).
    let tpdu = dsmr_b13_tpdu(0x40);
    let cfg = decrypt_tpl(&key, &tpdu, 11, &Address::default(), None, &mut out).unwrap();
    assert_eq!(
        (cfg.mode, cfg.encrypted, cfg.raw),
        (15, EncryptedLength::AesBlocks(3), 0x0F30)
    );
    assert_eq!(out[..48], hx(s(&v, &["expected", "plaintext"]))[..]);
    assert_eq!(mode15::frame_counter(&out[48..]), Some(1));
    // Erratum: the header as printed (version 0x42) passes the 2F 2F check but byte 6 becomes
    // 0F instead of 0D -- exactly the negative vector dsmr-p2-v422-B13-iv-42.
    let w = get(DSMR, "dsmr-p2-v422-B13-iv-42");
    assert_eq!(w["verified"], Value::Bool(false));
    decrypt_tpl(
        &key,
        &dsmr_b13_tpdu(0x42),
        11,
        &Address::default(),
        None,
        &mut out,
    )
    .unwrap();
    assert_eq!(out[..48], hx(s(&w, &["computed", "plaintext"]))[..]);
    assert_ne!(out[..48], hx(s(&w, &["expected", "plaintext"]))[..]);
}

#[test]
fn dsmr_negative_and_round_trip() {
    let key = k16("000102030405060708090A0B0C0D0E0F");
    let tpdu = dsmr_b13_tpdu(0x40);
    let mut out = Vec::new();
    let mut k = key;
    k[5] ^= 0x20;
    assert_eq!(
        decrypt_tpl(&k, &tpdu, 11, &Address::default(), None, &mut out),
        Err(SecurityError::MissingVerificationBytes { offset: 13 })
    );
    // frame counter record missing
    let mut no_fc = tpdu.clone();
    no_fc.truncate(13 + 48);
    assert_eq!(
        decrypt_tpl(&key, &no_fc, 11, &Address::default(), None, &mut out),
        Err(SecurityError::MissingFrameCounter { offset: 13 + 48 })
    );
    // A wrong frame counter only changes IV bytes 8 and 12, so only plaintext bytes 8 and 12
    // change: the 2F 2F / filler checks cannot see it (DSMR relies on the monotonic frame-counter
    // check, which is the caller's job).
    let mut fc2 = tpdu.clone();
    let n = fc2.len();
    fc2[n - 4] = 2;
    decrypt_tpl(&key, &tpdu, 11, &Address::default(), None, &mut out).unwrap();
    let good = out.clone();
    decrypt_tpl(&key, &fc2, 11, &Address::default(), None, &mut out).unwrap();
    let diff: Vec<usize> = (0..48).filter(|&i| good[i] != out[i]).collect();
    assert_eq!(diff, vec![8, 12]);
    let addr = Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x40, 0x03);
    let (good, nb) = mode15::encrypt_mode15(&key, &addr, 7, &hx("2F2F01FD1700"));
    assert_eq!(nb, 1);
    mode15::decrypt_mode15_into(&key, &addr, &good, 1, None, &mut out).unwrap();
    assert_eq!(out[..6], hx("2F2F01FD1700")[..]);
    assert_eq!(mode15::frame_counter(&out[16..]), Some(7));
    // missing trailing fillers: a block that starts 2F 2F but does not end 2F 2F
    let iv = mode15::iv(&addr, 9);
    let mut blk = hx("2F2F01FD170000000000000000000005");
    {
        use aes::cipher::{BlockModeEncrypt, KeyIvInit};
        let (blocks, _) =
            aes::cipher::array::Array::<u8, aes::cipher::consts::U16>::slice_as_chunks_mut(
                &mut blk,
            );
        cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into()).encrypt_blocks(blocks);
    }
    blk.extend_from_slice(&hx("04FD0809000000"));
    assert_eq!(
        mode15::decrypt_mode15_into(&key, &addr, &blk, 1, None, &mut out).map_err(SecurityError::from),
        Err(SecurityError::MissingFiller { offset: 14 })
    );
}

#[test]
fn dsmr_key_transport() {
    let v = get(DSMR, "dsmr-p2-keyexchange-ecb");
    let dk = k16(s(&v, &["keys", "default_key"]));
    assert_eq!(dk, mode15::DEFAULT_KEY_EXAMPLE);
    let user = k16(s(&v, &["input_hex"]));
    let wrapped = mode15::wrap_user_key(&dk, &user);
    assert_eq!(
        wrapped.to_vec(),
        hx(s(&v, &["expected", "encrypted_user_key"]))
    );
    assert_eq!(mode15::unwrap_user_key(&dk, &wrapped), user);
    // the two records of the B.1.1 key-change frame
    assert_eq!(
        mode15::key_transport_records(&wrapped).to_vec(),
        hx("07FD19 03E0EED1F68E9B8F 47FD19 5E1372754AB79F27")
    );
}


// ---- the message layer on the Appendix B frames ------------------------------------------

use crate::dsmr::control::{ConfigWord, Medium, MessageKind};
use crate::dsmr::message::{self, Header, LinkAddress, Message};
use crate::dsmr::short_id::ShortId;
use crate::dsmr::Direction;

fn frame(s: &str) -> Vec<u8> {
    hx(s)
}

/// Appendix B1.1 (checksum 8Eh; the text's 4Eh is an erratum, security-notes §f): SND_UD CI 51h
/// without header, the two key records, from the E-meter.
#[test]
fn b11_key_change_parses_and_rebuilds() {
    let b = frame("68 19 19 68 53 01 51 07FD19 03E0EED1F68E9B8F 47FD19 5E1372754AB79F27 8E 16");
    let m = message::parse(Medium::Wired, Direction::ToDevice, &b).unwrap();
    assert_eq!((m.kind, m.link, m.header), (MessageKind::Unencrypted, LinkAddress::Primary(1), None));
    let wrapped = mode15::wrap_user_key(&mode15::DEFAULT_KEY_EXAMPLE, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    assert_eq!(m.payload, mode15::key_transport_records(&wrapped).to_vec());
    assert_eq!(m.encode().unwrap(), b);
    let mut printed = b.clone();
    printed[b.len() - 2] = 0x4E;
    assert_eq!(message::parse(Medium::Wired, Direction::ToDevice, &printed).unwrap_err().code(), "dsmr_frame");
    // The same bytes arriving at the E-meter: SND_UD is not something a device sends (§4.1).
    let e = message::parse(Medium::Wired, Direction::FromDevice, &b).unwrap_err();
    assert_eq!((e.code(), e.offset()), ("dsmr_control", Some(4)));
}

/// Appendix B1.3: the gas meter's RSP_UD, encrypted (IV version byte 40h, the erratum) — the
/// long header gives the Short ID, the configuration word 3 blocks of method 15, and the
/// message opens to the published plaintext with the user key.
#[test]
fn b13_rsp_ud_parses_and_opens() {
    let v = get(DSMR, "dsmr-p2-v422-B13-iv-40");
    let mut data = hx("89674523 B438 42 03 F6 00 30 0F");
    data.extend_from_slice(&input(&v));
    data.extend_from_slice(&hx("04FD08 01000000"));
    let b = crate::mbus::link::wired::build_long(0x08, 0x01, 0x72, &data).unwrap();
    let m = message::parse(Medium::Wired, Direction::FromDevice, &b).unwrap();
    assert_eq!(m.kind, MessageKind::MeterData);
    let h = m.header.unwrap();
    let sid = h.short_id.unwrap();
    assert_eq!(sid.to_string(), "NET-23456789-42-03");
    assert_eq!((h.acc, h.status, h.cw, m.frame_counter()), (0xF6, 0, ConfigWord(0x0F30), Some(1)));
    let key = k16(s(&v, &["keys", "user_key"]));
    let iv_identity = Address { version: 0x40, ..sid.0 };
    let (plain, fc) = m.open(Some(&key), &iv_identity).unwrap();
    assert_eq!((plain, fc), (hx(s(&v, &["expected", "plaintext"])), Some(1)));
    // With the header's own version (42h, the §5.2 rule) the first block differs: still 2F 2F,
    // but plaintext byte 6 reads 0Fh instead of 0Dh (the erratum's signature).
    let (plain42, _) = m.open(Some(&key), &sid.0).unwrap();
    let expected = hx(s(&v, &["expected", "plaintext"]));
    assert_eq!((plain42[6], &plain42[7..]), (0x0F, &expected[7..]));
    assert_eq!(m.encode().unwrap(), b, "re-encodes byte-exact");
    assert_eq!(m.open(Some(&[0u8; 16]), &sid.0).unwrap_err().code(), "dsmr_decrypt");
    assert_eq!(m.open(None, &sid.0).unwrap_err().code(), "dsmr_no_key");
}

/// §4.3/§4.4 templates: short frames, seal/open round trip on both media, and the header rules.
#[test]
fn messages_round_trip_on_both_media() {
    let sid = ShortId::from_wire(hx("89674523B4384203").try_into().unwrap());
    let key = [7u8; 16];
    // Wired REQ_UD2 (§4.3.2) and SND_NKE (§4.3.1) are short frames.
    let m = Message::new(Medium::Wired, MessageKind::DataRequest, LinkAddress::Primary(5), None, vec![]).unwrap();
    assert_eq!(m.encode().unwrap(), hx("10 5B 05 60 16"));
    // Wireless control message (§4.4.3): SND_UD CI 5Bh with the long header of the target.
    let h = Header { short_id: Some(sid), acc: 9, status: 0, cw: ConfigWord::default() };
    let mut m = Message::new(Medium::Wireless, MessageKind::Control, LinkAddress::Radio(Address::default()), Some(h), vec![]).unwrap();
    m.seal(&hx("01 FD 97 06 73"), Some(&key), &sid.0, 11);
    let b = m.encode().unwrap();
    let back = message::parse(Medium::Wireless, Direction::ToDevice, &b).unwrap();
    assert_eq!((back.kind, back.header.unwrap().cw.mode(), back.frame_counter()), (MessageKind::Control, 15, Some(11)));
    let (plain, _) = back.open(Some(&key), &sid.0).unwrap();
    assert!(plain.starts_with(&hx("2F2F 01FD970673 2F2F")));
    // A wireless device's SND_NR carries B and S (§4.2.6); an E-meter may not send it.
    let h = Header { short_id: None, acc: 1, status: 0, cw: ConfigWord::default() };
    let mut m = Message::new(Medium::Wireless, MessageKind::PeriodicData, LinkAddress::Radio(sid.0), Some(h), vec![]).unwrap();
    m.seal(&hx("01FD1700"), None, &sid.0, 0);
    assert_eq!(m.header.unwrap().cw, ConfigWord(0xA000));
    let b = m.encode().unwrap();
    assert!(message::parse(Medium::Wireless, Direction::FromDevice, &b).is_ok());
    assert_eq!(message::parse(Medium::Wireless, Direction::ToDevice, &b).unwrap_err().code(), "dsmr_control");
    // A header cut short.
    let short = crate::mbus::link::wired::build_long(0x08, 1, 0x72, &hx("89674523B438")).unwrap();
    assert_eq!(message::parse(Medium::Wired, Direction::FromDevice, &short).unwrap_err().code(), "dsmr_header");
}
