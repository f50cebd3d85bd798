//! Issue 12: corrupted or forged frames are not accepted as good readings in the default modes.
//!
//! Frames are built with the encoder for every security mode and every link (wired FT1.2,
//! wireless formats A, B and without CRCs), then every single bit of every byte is flipped and
//! the frame decoded again. A decode that succeeds with values other than the original's is an
//! acceptance of corrupted data. Expected (and asserted):
//! - wired and format-A frames, default options: none;
//! - format-B frames with the CRC requirement a one-CRC source establishes (`require_link_crc`):
//!   none; in plain `auto` a damaged one-CRC format-B frame can only come back as `link_crc`
//!   "absent";
//! - frames without DLL CRCs (`link="wireless-nocrc"`), modes with a MAC or a tag (7, 8, 9, 10): none.
//!   Modes 2/3/5/15 (2F 2F only covers the first plaintext bytes; the access number goes into the
//!   IV) are limited by the protocol: their acceptances are not asserted.

use meterlink::address::Address;
use meterlink::keys::{KeyMaterial, KeyStore};
use meterlink::mbus::decode::{DecodeOptions, Integrity, LinkCrc, LinkMode, Telegram};
use meterlink::mbus::encode::{Builder, EllParams, Header, SecurityParams};
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink::mbus::records::{encode_record, Function, RecordValue};
use meterlink::{decode_with_keys, Error};

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const ID: [u8; 4] = [0x78, 0x56, 0x34, 0x12];
const KAM: u16 = 0x2C2D;

fn meter() -> Address {
    Address::new(KAM, ID, 1, 7)
}

fn records() -> Vec<u8> {
    let mut r = encode_record(0, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(6408)).unwrap();
    r.extend(encode_record(1, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(5120)).unwrap());
    r.extend(encode_record(0, 0, 0, Function::Instantaneous, &[0x5B], &RecordValue::int(21)).unwrap());
    r
}

fn keys() -> KeyStore {
    let mut k = KeyStore::new();
    k.insert(None, ID, KeyMaterial::Aes(KEY));
    k
}

/// A frame of `mode` on `link` (None: wired), message counter 7 where the mode has one.
fn frame(mode: u8, link: Option<FrameFormat>, ell_encrypt: bool) -> Vec<u8> {
    let mut b = match link {
        Some(f) => Builder::wireless(0x44, meter(), f),
        None => Builder::wired(0x08, 1, meter()),
    };
    if mode == 15 {
        b.header = Header::Long(meter());
    }
    b.access_number = 0x2A;
    b.security = SecurityParams { mode, message_counter: matches!(mode, 7..=10 | 15).then_some(7), ..Default::default() };
    if ell_encrypt {
        b.ell = Some(EllParams { cc: 0x20, acc: 0x2A, session: Some(0x0102_0304), receiver: None, encrypt: true });
    }
    b.key = Some(if matches!(mode, 2 | 3) { KeyMaterial::Des([1, 2, 3, 4, 5, 6, 7, 8]) } else { KeyMaterial::Aes(KEY) });
    b.encode(&records(), &[]).unwrap()
}

fn store_for(mode: u8) -> KeyStore {
    let mut k = KeyStore::new();
    let m = if matches!(mode, 2 | 3) { KeyMaterial::Des([1, 2, 3, 4, 5, 6, 7, 8]) } else { KeyMaterial::Aes(KEY) };
    k.insert(None, ID, m);
    k
}

/// The values a telegram carries (record by record: VIB code, storage, value).
fn values(tg: &Telegram) -> Vec<(u8, u64, Option<f64>)> {
    tg.records.iter().map(|r| (r.vif.code, r.storage, r.value.as_f64())).collect()
}

/// Every single-bit flip of `f` that decodes: (byte, bit, telegram).
fn decoded_flips<'a>(f: &'a [u8], opts: &'a DecodeOptions, keys: &'a KeyStore) -> impl Iterator<Item = (usize, u8, Telegram)> + 'a {
    (0..f.len()).flat_map(move |i| {
        (0..8u8).filter_map(move |bit| {
            let mut m = f.to_vec();
            m[i] ^= 1 << bit;
            decode_with_keys(&m, opts, keys).ok().map(|tg| (i, bit, tg))
        })
    })
}

/// Every acceptance as (byte, bit, link_crc): for frames whose every byte a checksum or CRC
/// covers, no flipped frame may decode at all.
fn accepted(f: &[u8], opts: &DecodeOptions, keys: &KeyStore) -> Vec<(usize, u8, LinkCrc)> {
    decoded_flips(f, opts, keys).map(|(i, bit, tg)| (i, bit, tg.link_crc())).collect()
}

/// The changed-value acceptances as (byte, bit, link_crc).
fn flips(f: &[u8], opts: &DecodeOptions, keys: &KeyStore) -> Vec<(usize, u8, LinkCrc)> {
    let base = values(&decode_with_keys(f, opts, keys).unwrap_or_else(|e| panic!("{e}")));
    decoded_flips(f, opts, keys)
        .filter(|(_, _, tg)| !tg.records.is_empty() && values(tg) != base)
        .map(|(i, bit, tg)| (i, bit, tg.link_crc()))
        .collect()
}

const MODES: [u8; 9] = [0, 2, 3, 5, 7, 8, 9, 10, 15];

fn accepting() -> DecodeOptions {
    DecodeOptions { accept_unprotected: true, ..Default::default() }
}

#[test]
fn wired_and_format_a_frames_never_come_back_changed() {
    for mode in MODES {
        for link in [None, Some(FrameFormat::A)] {
            // Mode 0 for a keyed meter is unprotected: accepted on purpose here, to test the link.
            let f = frame(mode, link, false);
            let bad = accepted(&f, &accepting(), &store_for(mode));
            assert!(bad.is_empty(), "mode {mode} {link:?}: {} changed acceptances, e.g. {:?}", bad.len(), &bad[..bad.len().min(5)]);
        }
    }
}

#[test]
fn format_b_frames_of_a_crc_source_never_come_back_changed() {
    let required = DecodeOptions { require_link_crc: true, ..accepting() };
    for mode in MODES {
        let f = frame(mode, Some(FrameFormat::B), false);
        let bad = accepted(&f, &required, &store_for(mode));
        assert!(bad.is_empty(), "mode {mode}: {bad:?}");
        // Plain auto: a damaged one-CRC frame may be read as CRC-less, and then says so.
        for (i, bit, crc) in flips(&f, &accepting(), &store_for(mode)) {
            assert_eq!(crc, LinkCrc::Absent, "mode {mode}: byte {i} bit {bit}");
        }
    }
}

#[test]
fn frames_without_crcs_with_a_mac_or_tag_never_come_back_changed() {
    let nocrc = DecodeOptions { link: LinkMode::WirelessNoCrc, ..Default::default() };
    for mode in [7, 8, 9, 10] {
        let f = frame(mode, Some(FrameFormat::NoCrc), false);
        let bad = flips(&f, &nocrc, &store_for(mode));
        assert!(bad.is_empty(), "mode {mode}: {bad:?}");
    }
    // An encrypted ELL (AES-CTR + payload CRC) around mode 0.
    let f = frame(0, Some(FrameFormat::NoCrc), true);
    assert!(flips(&f, &nocrc, &keys()).iter().all(|(i, ..)| *i < 10), "only link-layer bytes outside the CRC");
}

#[test]
fn ft12_frames_with_a_damaged_header_are_wired_errors() {
    let f = frame(0, None, false);
    for i in [0, 1, 2, 3, f.len() - 2, f.len() - 1] {
        for bit in 0..8 {
            let mut m = f.clone();
            m[i] ^= 1 << bit;
            let e = meterlink::decode(&m, &DecodeOptions::default()).unwrap_err();
            assert_eq!(e.class().exception_name(), "FrameError", "byte {i} bit {bit}: {e}");
            assert!(e.code().starts_with("frame_"), "byte {i} bit {bit}: read as wireless: {e}");
        }
    }
}

fn decode(f: &[u8], opts: &DecodeOptions, keys: &KeyStore) -> Result<Telegram, Error> {
    decode_with_keys(f, opts, keys)
}

#[test]
fn strict_and_sources_with_crcs_reject_the_crc_less_reading() {
    let f = frame(0, Some(FrameFormat::NoCrc), false);
    let none = KeyStore::new();
    let tg = decode(&f, &DecodeOptions::default(), &none).unwrap();
    assert_eq!(tg.link_crc(), LinkCrc::Absent);
    let strict = DecodeOptions { strict: true, ..Default::default() };
    assert_eq!(decode(&f, &strict, &none).unwrap_err().code(), "wmbus_crc");
    let nocrc = DecodeOptions { link: LinkMode::WirelessNoCrc, ..strict };
    assert_eq!(decode(&f, &nocrc, &none).unwrap().link_crc(), LinkCrc::Absent);
    let tg = decode(&frame(0, Some(FrameFormat::A), false), &strict, &none).unwrap();
    assert_eq!(tg.link_crc(), LinkCrc::Verified);
}

#[test]
fn a_keyed_meters_unprotected_payload_is_an_error() {
    // Issue 12's example: 2F 2F clear data under a mode-5 header, meter KAM 12345678 has a key.
    let forged = meterlink::hex::parse_hex("1e442d2c7856341201077a000010052f2f03133f420f015b2d2f2f2f2f2f2f").unwrap();
    let e = decode(&forged, &DecodeOptions::default(), &keys()).unwrap_err();
    assert_eq!((e.code(), e.class().exception_name(), e.offset), ("unprotected", "SecurityError", 15));
    assert!(e.to_string().contains("clear data under a header that announces encryption"), "{e}");
    let tg = decode(&forged, &accepting(), &keys()).unwrap();
    assert_eq!(tg.protection.decrypted_by().map(|b| b.as_str()), Some("receiver"));
    assert_eq!(tg.integrity(), Integrity::None);
    // Without a key nothing says who the meter trusts: kept as decrypted by the receiver.
    let tg = decode(&forged, &DecodeOptions::default(), &KeyStore::new()).unwrap();
    assert_eq!(tg.protection.decrypted_by().map(|b| b.as_str()), Some("receiver"));
    // Mode 0 and no TPL header, keyed: unprotected; the key's own frames decode.
    for f in [frame(0, Some(FrameFormat::A), false), frame(0, None, false)] {
        let e = decode(&f, &DecodeOptions::default(), &keys()).unwrap_err();
        assert_eq!(e.code(), "unprotected");
        assert!(e.to_string().contains("security mode 0"), "{e}");
    }
    assert!(decode(&frame(5, Some(FrameFormat::A), false), &DecodeOptions::default(), &keys()).is_ok());
    assert!(decode(&frame(0, Some(FrameFormat::A), true), &DecodeOptions::default(), &keys()).is_ok());
}

#[test]
fn unprotected_payloads_are_accepted_per_key() {
    // The per-key opt-in: this meter sits behind a receiver that decrypts in the radio.
    let forged = meterlink::hex::parse_hex("1e442d2c7856341201077a000010052f2f03133f420f015b2d2f2f2f2f2f2f").unwrap();
    let mut k = keys();
    k.accept_unprotected(Some(KAM), ID);
    let tg = decode(&forged, &DecodeOptions::default(), &k).unwrap();
    assert_eq!(tg.protection.decrypted_by().map(|b| b.as_str()), Some("receiver"));
    assert!(decode(&frame(0, None, false), &DecodeOptions::default(), &k).is_ok());
    // Another manufacturer's meter with the same ID keeps the default policy.
    let mut other = keys();
    other.accept_unprotected(Some(KAM + 1), ID);
    assert_eq!(decode(&forged, &DecodeOptions::default(), &other).unwrap_err().code(), "unprotected");
    // An ID-only entry covers every manufacturer.
    let mut any = keys();
    any.accept_unprotected(None, ID);
    assert!(decode(&frame(0, Some(FrameFormat::A), false), &DecodeOptions::default(), &any).is_ok());
}

#[test]
fn integrity_names_the_check_that_protected_the_values() {
    let cases = [
        (5, false, Integrity::Filler2f2f),
        (7, false, Integrity::Mac),
        (8, false, Integrity::Mac),
        (9, false, Integrity::Aead),
        (10, false, Integrity::Aead),
        (15, false, Integrity::Filler2f2f),
        (0, true, Integrity::Crc),
    ];
    for (mode, ell, want) in cases {
        let tg = decode(&frame(mode, Some(FrameFormat::A), ell), &DecodeOptions::default(), &store_for(mode)).unwrap();
        assert_eq!(tg.integrity(), want, "mode {mode}");
        assert!(!tg.records.is_empty());
    }
    let tg = decode(&frame(0, Some(FrameFormat::A), false), &DecodeOptions::default(), &KeyStore::new()).unwrap();
    assert_eq!(tg.integrity(), Integrity::None);
}

#[test]
fn every_counter_is_exposed() {
    let opts = DecodeOptions::default();
    let c = decode(&frame(7, Some(FrameFormat::A), false), &opts, &keys()).unwrap().counters();
    assert_eq!((c.access_number, c.afl_message_counter, c.replay_counter()), (Some(0x2A), Some(7), Some(7)));
    let c = decode(&frame(9, Some(FrameFormat::A), false), &opts, &keys()).unwrap().counters();
    assert_eq!((c.tpl_message_counter, c.replay_counter()), (Some(7), Some(7)));
    let c = decode(&frame(15, Some(FrameFormat::A), false), &opts, &keys()).unwrap().counters();
    assert_eq!((c.dsmr_frame_counter, c.replay_counter()), (Some(7), Some(7)));
    let c = decode(&frame(0, Some(FrameFormat::A), true), &opts, &keys()).unwrap().counters();
    assert_eq!(c.ell_session.map(|s| s & 0x1FFF_FFFF), Some(0x0102_0304));
    let c = decode(&frame(5, Some(FrameFormat::A), false), &opts, &keys()).unwrap().counters();
    assert_eq!((c.access_number, c.replay_counter()), (Some(0x2A), None));
}
