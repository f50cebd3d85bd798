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

