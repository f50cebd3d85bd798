//! Tests of the primitives: NIST CMAC (SP 800-38B), CCM (SP 800-38C), GCM (McGrew–Viega),
//! KDF-A (CEN/TR 17167 F.3, OMS, sensostar), RFC 3394 key wrap, and the Wycheproof AES-128
//! GCM / CCM / CMAC / key-wrap files (`tests/vectors/wycheproof/`).

use serde_json::Value;

use super::aead::Aead;
use super::kdf::{kdf_a, kdf_a_pair, DerivationConstant};
use super::keywrap;
use super::mac;
use super::CryptoError;
use crate::mbus::afl;
use crate::mbus::ell;
use crate::mbus::link::wmbus::FormatHint;
use crate::mbus::security::mode7;
use crate::test_vectors::*;
#[test]
fn kdf_a_vectors() {
    for (file, name, id_from_tpl) in [
        (MODE7, "mode7-centr17167-F3", true),
        (MODE7, "mode7-oms-profileB-short-tpl", false),
        (MODE7, "mode7-sensostar-frame-b-long", false),
    ] {
        let v = get(file, name);
        let mk = k16(s(&v, &["keys", "master_key"]));
        let (link, data, _) = frame(&v, FormatHint::Auto);
        let e = ell::parse_ell(&data).unwrap();
        let a = afl::parse_afl(&data[e.payload_offset..]).unwrap();
        let tpdu = &data[e.payload_offset + a.len..];
        let id: [u8; 4] = if id_from_tpl {
            tpdu[1..5].try_into().unwrap()
        } else {
            link.id
        };
        let (kenc, kmac) = mode7::derive_keys(&mk, a.mcr.unwrap(), &id);
        assert_eq!(kenc.to_vec(), hx(s(&v, &["expected", "kenc"])), "{name}");
        assert_eq!(kmac.to_vec(), hx(s(&v, &["expected", "kmac"])), "{name}");
        assert_eq!(
            kdf_a(&mk, DerivationConstant::MeterEnc, a.mcr.unwrap(), &id),
            kenc
        );
    }
    let v = get(MODE10, "mode10-kaw-issue1667-trace");
    let mk = k16(s(&v, &["keys", "master_key"]));
    let (link, _, _) = frame(&v, FormatHint::NoCrc);
    let k = kdf_a(&mk, DerivationConstant::MeterEnc, 0x000E_578C, &link.id);
    assert_eq!(k.to_vec(), hx(s(&v, &["expected", "kenc"])));
}

#[test]
fn kdf_a_partner_direction_kat() {
    // [S] DC 0x10/0x11 have no public vector. Known answers from Python `cryptography`:
    // CMAC(000102..0F, DC || B30A0000 || 78563412 || 07*7).
    let mk = k16("000102030405060708090A0B0C0D0E0F");
    let id = [0x78, 0x56, 0x34, 0x12];
    assert_eq!(
        kdf_a(&mk, DerivationConstant::PartnerEnc, 0x0AB3, &id).to_vec(),
        hx("a9d4883e284217caa4b6325f75b48444")
    );
    assert_eq!(
        kdf_a(&mk, DerivationConstant::PartnerMac, 0x0AB3, &id).to_vec(),
        hx("ae001b2fed6e042c3e6c4d8833d4be1d")
    );
    let (l_enc, l_mac) = kdf_a_pair(&mk, 0x0AB3, &id, true);
    assert_eq!(l_enc.to_vec(), hx("a9d4883e284217caa4b6325f75b48444"));
    assert_eq!(l_mac.to_vec(), hx("ae001b2fed6e042c3e6c4d8833d4be1d"));
}

#[test]
fn nist_cmac() {
    for v in all(NIST)
        .iter()
        .filter(|v| v["name"].as_str().unwrap().starts_with("nist-sp800-38b"))
    {
        let k = k16(s(v, &["keys", "key"]));
        assert_eq!(
            mac::aes_cmac(&k, &input(v)).to_vec(),
            hx(s(v, &["expected", "mac"])),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn nist_ccm() {
    use aes::Aes128;
    use ccm::aead::{AeadInOut, KeyInit};
    use ccm::consts::{U12, U4, U6, U7, U8};
    use ccm::Ccm;
    fn run<
        M: ccm::aead::array::ArraySize + ccm::TagSize,
        N: ccm::aead::array::ArraySize + ccm::NonceSize,
    >(
        v: &Value,
    ) {
        let k = k16(s(v, &["keys", "key"]));
        let c = Ccm::<Aes128, M, N>::new(&k.into());
        let mut buf = input(v);
        let nonce = hx(s(v, &["keys", "nonce"]));
        let tag = c
            .encrypt_inout_detached(
                nonce.as_slice().try_into().unwrap(),
                &hx(s(v, &["keys", "aad"])),
                buf.as_mut_slice().into(),
            )
            .unwrap();
        buf.extend_from_slice(&tag);
        assert_eq!(buf, hx(s(v, &["expected", "ct_tag"])), "{}", v["name"]);
    }
    run::<U4, U7>(&get(NIST, "nist-sp800-38c-ccm-example1"));
    run::<U6, U8>(&get(NIST, "nist-sp800-38c-ccm-example2"));
    run::<U8, U12>(&get(NIST, "nist-sp800-38c-ccm-example3"));
}

#[test]
fn nist_gcm() {
    for name in [
        "gcm-mcgrew-viega-tc1",
        "gcm-mcgrew-viega-tc2",
        "gcm-mcgrew-viega-tc3",
        "gcm-mcgrew-viega-tc4",
    ] {
        let v = get(NIST, name);
        let k = k16(s(&v, &["keys", "key"]));
        let iv: [u8; 12] = hx(s(&v, &["keys", "iv"])).try_into().unwrap();
        let aad = hx(s(&v, &["keys", "aad"]));
        let pt = input(&v);
        let expected = hx(s(&v, &["expected", "ct_tag16"]));
        assert_eq!(
            Aead::Gcm.seal(&k, &iv, &aad, &pt, 16).unwrap(),
            expected,
            "{name}"
        );
        let mut out = Vec::new();
        let n = pt.len();
        Aead::Gcm.open_into(&k, &iv, &aad, &expected[..n], &expected[n..], &mut out).unwrap();
        assert_eq!(out, pt);
        // truncated 12-byte tag = prefix of the full tag
        Aead::Gcm.open_into(
            &k,
            &iv,
            &aad,
            &expected[..n],
            &expected[n..n + 12],
            &mut out,
        )
        .unwrap();
        if pt.is_empty() {
            assert_eq!(mac::aes_gmac(&k, &iv, &aad).to_vec(), expected);
        }
    }
}


// ---------------------------------------------------------------- AEAD sizes

#[test]
fn aead_rejects_unsupported_sizes() {
    let k = [0u8; 16];
    assert_eq!(Aead::Ccm.seal(&k, &[0; 13], &[], b"x", 6), Err(CryptoError::BadTagLength { len: 6 }));
    assert_eq!(Aead::Gcm.seal(&k, &[0; 12], &[], b"x", 8), Err(CryptoError::BadTagLength { len: 8 }));
    assert_eq!(Aead::Gcm.seal(&k, &[0; 13], &[], b"x", 16), Err(CryptoError::BadNonceLength { len: 13 }));
    let mut out = vec![1, 2, 3];
    assert_eq!(
        Aead::Ccm.open_into(&k, &[0; 12], &[], b"x", &[0; 4], &mut out),
        Err(CryptoError::BadNonceLength { len: 12 })
    );
    assert!(out.is_empty());
    let sealed = Aead::Ccm.seal(&k, &[0; 13], b"aad", b"plain", 4).unwrap();
    Aead::Ccm.open_into(&k, &[0; 13], b"aad", &sealed[..5], &sealed[5..], &mut out).unwrap();
    assert_eq!(out, b"plain");
    assert_eq!(
        Aead::Ccm.open_into(&k, &[0; 13], b"aaD", &sealed[..5], &sealed[5..], &mut out),
        Err(CryptoError::TagMismatch)
    );
    assert!(out.is_empty());
}

// ---------------------------------------------------------------- RFC 3394 key wrap

const KEYWRAP: &str = include_str!("../../../../tests/vectors/security/keywrap.json");

#[test]
fn keywrap_rfc3394_4_1() {
    // RFC 3394 §4.1: wrap 128 bits of key data with a 128-bit KEK.
    let kek = k16("000102030405060708090A0B0C0D0E0F");
    let data = hx("00112233445566778899AABBCCDDEEFF");
    let wrapped = hx("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
    assert_eq!(keywrap::wrap(&kek, &data).unwrap(), wrapped);
    assert_eq!(keywrap::unwrap(&kek, &wrapped).unwrap(), data);
    let mut bad = wrapped.clone();
    bad[23] ^= 1;
    assert_eq!(keywrap::unwrap(&kek, &bad), Err(CryptoError::TagMismatch));
    assert_eq!(keywrap::wrap(&kek, &data[..8]), Err(CryptoError::BadLength { len: 8 }));
    assert_eq!(keywrap::unwrap(&kek, &wrapped[..16]), Err(CryptoError::BadLength { len: 16 }));
}

#[test]
fn keywrap_dlms_vector() {
    // The DLMS suite 0 key-transfer entry of shared/vectors/security-vectors.json.
    let v = get(KEYWRAP, "rfc3394-aes-keywrap-128");
    let kek = k16(s(&v, &["keys", "kek"]));
    let wrapped = hx(s(&v, &["expected", "wrapped"]));
    assert_eq!(keywrap::wrap(&kek, &input(&v)).unwrap(), wrapped);
    assert_eq!(keywrap::unwrap(&kek, &wrapped).unwrap(), input(&v));
}

// ---------------------------------------------------------------- Wycheproof

const WP_GCM: &str = include_str!("../../../../tests/vectors/wycheproof/aes_gcm_test.json");
const WP_CMAC: &str = include_str!("../../../../tests/vectors/wycheproof/aes_cmac_test.json");
const WP_WRAP: &str = include_str!("../../../../tests/vectors/wycheproof/aes_wrap_test.json");
const WP_CCM: &str = include_str!("../../../../tests/vectors/wycheproof/aes_ccm_test.json");

/// Every test of every group of a Wycheproof file, with its group.
fn wycheproof(file: &str) -> Vec<(Value, Value)> {
    let v: Value = serde_json::from_str(file).unwrap();
    let mut out = Vec::new();
    for g in v["testGroups"].as_array().unwrap() {
        assert_eq!(g["keySize"], 128);
        for t in g["tests"].as_array().unwrap() {
            out.push((g.clone(), t.clone()));
        }
    }
    assert_eq!(out.len() as u64, v["numberOfTests"].as_u64().unwrap());
    out
}

fn field(t: &Value, name: &str) -> Vec<u8> {
    hx(t[name].as_str().unwrap())
}

#[test]
fn wycheproof_aes128_gcm() {
    let (mut valid, mut invalid, mut other_iv) = (0, 0, 0);
    for (_, t) in wycheproof(WP_GCM) {
        let id = &t["tcId"];
        let (k, iv, aad, msg) = (k16(t["key"].as_str().unwrap()), field(&t, "iv"), field(&t, "aad"), field(&t, "msg"));
        let (ct, tag) = (field(&t, "ct"), field(&t, "tag"));
        let mut out = vec![0xAA];
        let opened = Aead::Gcm.open_into(&k, &iv, &aad, &ct, &tag, &mut out);
        if iv.len() != 12 {
            // only 96-bit IVs are offered: every other size is rejected cleanly
            assert_eq!(opened, Err(CryptoError::BadNonceLength { len: iv.len() }), "tc {id}");
            other_iv += 1;
        } else if t["result"] == "valid" {
            assert_eq!(opened, Ok(()), "tc {id}");
            assert_eq!(out, msg, "tc {id}");
            let mut sealed = ct.clone();
            sealed.extend_from_slice(&tag);
            assert_eq!(Aead::Gcm.seal(&k, &iv, &aad, &msg, tag.len()).unwrap(), sealed, "tc {id}");
            valid += 1;
        } else {
            assert_eq!(t["result"], "invalid", "tc {id}");
            assert!(opened.is_err(), "tc {id} must be rejected");
            assert!(out.is_empty(), "tc {id}: no plaintext on failure");
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid, other_iv), (40, 27, 41), "valid, invalid, other IV sizes");
}

#[test]
fn wycheproof_aes128_cmac() {
    let (mut valid, mut invalid) = (0, 0);
    for (g, t) in wycheproof(WP_CMAC) {
        let id = &t["tcId"];
        let full = mac::aes_cmac(&k16(t["key"].as_str().unwrap()), &field(&t, "msg"));
        let tag = field(&t, "tag");
        let n = g["tagSize"].as_u64().unwrap() as usize / 8;
        let verifies = tag.len() == n && mac::ct_eq(&full[..n], &tag);
        if t["result"] == "valid" {
            assert!(verifies, "tc {id}");
            valid += 1;
        } else {
            assert_eq!(t["result"], "invalid", "tc {id}");
            assert!(!verifies, "tc {id} must be rejected");
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid), (21, 81), "valid, invalid");
}

#[test]
fn wycheproof_aes128_keywrap() {
    let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
    for (_, t) in wycheproof(WP_WRAP) {
        let id = &t["tcId"];
        let k = k16(t["key"].as_str().unwrap());
        let (msg, ct) = (field(&t, "msg"), field(&t, "ct"));
        let unwrapped = keywrap::unwrap(&k, &ct);
        if t["result"] == "valid" {
            assert_eq!(keywrap::wrap(&k, &msg).as_ref(), Ok(&ct), "tc {id}");
            assert_eq!(unwrapped, Ok(msg), "tc {id}");
            valid += 1;
        } else if t["result"] == "acceptable" {
            // either outcome is allowed; it must only not panic
            acceptable += 1;
        } else {
            assert!(unwrapped.is_err(), "tc {id} must be rejected");
            assert!(keywrap::wrap(&k, &msg).map_or(true, |w| w != ct), "tc {id}");
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid, acceptable), (11, 30, 1), "valid, invalid, acceptable");
}

/// Tag lengths `Aead::Ccm` offers (SP 800-38C allows 4..16 even; mode 10 uses these four).
const CCM_TAGS: [usize; 4] = [4, 8, 12, 16];

#[test]
fn wycheproof_aes128_ccm_through_aead() {
    // `Aead::Ccm` takes only the 13-byte nonce of TPL mode 10 (L = 2): the six 104-bit-nonce
    // cases must seal and open exactly; every other nonce size is rejected cleanly.
    let (mut valid, mut other_nonce) = (0, 0);
    for (_, t) in wycheproof(WP_CCM) {
        let id = &t["tcId"];
        let (k, iv, aad, msg) = (k16(t["key"].as_str().unwrap()), field(&t, "iv"), field(&t, "aad"), field(&t, "msg"));
        let (ct, tag) = (field(&t, "ct"), field(&t, "tag"));
        let mut out = vec![0xAA];
        let opened = Aead::Ccm.open_into(&k, &iv, &aad, &ct, &tag, &mut out);
        let sealed = Aead::Ccm.seal(&k, &iv, &aad, &msg, tag.len());
        if iv.len() != 13 {
            assert_eq!(opened, Err(CryptoError::BadNonceLength { len: iv.len() }), "tc {id}");
            assert_eq!(sealed, Err(CryptoError::BadNonceLength { len: iv.len() }), "tc {id}");
            assert!(out.is_empty(), "tc {id}: no plaintext on failure");
            other_nonce += 1;
            continue;
        }
        assert_eq!(t["result"], "valid", "tc {id}");
        assert_eq!(opened, Ok(()), "tc {id}");
        assert_eq!(out, msg, "tc {id}");
        let mut expected = ct.clone();
        expected.extend_from_slice(&tag);
        assert_eq!(sealed.unwrap(), expected, "tc {id}");
        ccm_tamper_rejected(&k, &iv, &aad, &ct, &tag, id);
        valid += 1;
    }
    assert_eq!((valid, other_nonce), (6, 178), "valid with 13-byte nonce, other nonce sizes");
}

/// Every single-bit change of the tag (and of the first ciphertext byte), and every shorter
/// supported tag, is rejected: the tag length is bound into B0 (SP 800-38C A.2.1), so a
/// truncated CCM tag is not a valid shorter tag.
fn ccm_tamper_rejected(k: &super::Key, iv: &[u8], aad: &[u8], ct: &[u8], tag: &[u8], id: &Value) {
    let mut out = Vec::new();
    for bit in 0..tag.len() * 8 {
        let mut t = tag.to_vec();
        t[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(Aead::Ccm.open_into(k, iv, aad, ct, &t, &mut out), Err(CryptoError::TagMismatch), "tc {id} bit {bit}");
        assert!(out.is_empty());
    }
    if let Some((first, rest)) = ct.split_first() {
        let c: Vec<u8> = std::iter::once(first ^ 0x80).chain(rest.iter().copied()).collect();
        assert_eq!(Aead::Ccm.open_into(k, iv, aad, &c, tag, &mut out), Err(CryptoError::TagMismatch), "tc {id}");
    }
    for n in CCM_TAGS.iter().filter(|&&n| n < tag.len()) {
        assert_eq!(Aead::Ccm.open_into(k, iv, aad, ct, &tag[..*n], &mut out), Err(CryptoError::TagMismatch), "tc {id} tag {n}");
    }
}

#[test]
fn wycheproof_aes128_ccm_tag_sizes() {
    // The tag-size groups use 12-byte nonces, which `Aead::Ccm` does not take. `Aead::Ccm` is a
    // thin wrapper over RustCrypto `Ccm<Aes128, M, U13>`; run the same generic cipher with a
    // 12-byte nonce for the tag sizes `Aead::Ccm` offers, so the ModifiedTag cases and the
    // 4/8/12-byte tags are checked too. Tag sizes outside 4/8/12/16 must give BadTagLength.
    use ccm::consts::{U12, U16, U4, U8};
    let (mut valid, mut invalid, mut other_tag, mut other_nonce) = (0, 0, 0, 0);
    for (_, t) in wycheproof(WP_CCM) {
        let id = &t["tcId"];
        let (k, iv, aad, msg) = (k16(t["key"].as_str().unwrap()), field(&t, "iv"), field(&t, "aad"), field(&t, "msg"));
        let (ct, tag) = (field(&t, "ct"), field(&t, "tag"));
        if !CCM_TAGS.contains(&tag.len()) {
            // CCM allows 6/10/14 too, and 2/odd sizes are invalid: all refused by `Aead::Ccm`
            let sealed = Aead::Ccm.seal(&k, &[0; 13], &aad, &msg, tag.len());
            assert_eq!(sealed, Err(CryptoError::BadTagLength { len: tag.len() }), "tc {id}");
            let mut out = vec![0xAA];
            assert_eq!(
                Aead::Ccm.open_into(&k, &[0; 13], &aad, &ct, &tag, &mut out),
                Err(CryptoError::BadTagLength { len: tag.len() }),
                "tc {id}"
            );
            assert!(out.is_empty());
            other_tag += 1;
            continue;
        }
        if iv.len() != 12 {
            other_nonce += 1; // 13 bytes: covered through `Aead` above; others: bad nonce sizes
            continue;
        }
        let r = match tag.len() {
            4 => ccm12::<U4>(&k, &iv, &aad, &msg, &ct, &tag),
            8 => ccm12::<U8>(&k, &iv, &aad, &msg, &ct, &tag),
            12 => ccm12::<U12>(&k, &iv, &aad, &msg, &ct, &tag),
            _ => ccm12::<U16>(&k, &iv, &aad, &msg, &ct, &tag),
        };
        if t["result"] == "valid" {
            assert_eq!(r, (true, true), "tc {id}: (seal exact, opens)");
            valid += 1;
        } else {
            assert_eq!(t["result"], "invalid", "tc {id}");
            assert!(!r.1, "tc {id} must be rejected");
            invalid += 1;
        }
    }
    assert_eq!((valid, invalid, other_tag, other_nonce), (75, 27, 33, 49), "valid, invalid, other tag sizes, other nonces");
}

/// AES-128-CCM with a 12-byte nonce and an `M`-byte tag: (seal gives `ct ‖ tag`, `ct ‖ tag` opens to `msg`).
fn ccm12<M: ccm::aead::array::ArraySize + ccm::TagSize>(
    k: &super::Key,
    iv: &[u8],
    aad: &[u8],
    msg: &[u8],
    ct: &[u8],
    tag: &[u8],
) -> (bool, bool) {
    use aes::Aes128;
    use ccm::aead::{AeadInOut, KeyInit};
    use ccm::consts::U12;
    let c = ccm::Ccm::<Aes128, M, U12>::new(&(*k).into());
    let nonce = iv.try_into().unwrap();
    let mut buf = msg.to_vec();
    let sealed = c.encrypt_inout_detached(nonce, aad, buf.as_mut_slice().into()).unwrap();
    let seal_ok = buf == ct && sealed.as_slice() == tag;
    let mut buf = ct.to_vec();
    let opened = c.decrypt_inout_detached(nonce, aad, buf.as_mut_slice().into(), tag.try_into().unwrap()).is_ok();
    (seal_ok, opened && buf == msg)
}
