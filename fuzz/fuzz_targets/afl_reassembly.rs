//! `FrameReassembler` (EN 13757-7 6.3 AFL fragmentation) fed a sequence of frames.
//! Byte 0 = table size, byte 1 = length bound, byte 2 bit 0 = generated mode, bytes 3..19 =
//! the key (offered for every meter). Raw mode: the rest is length-prefixed frames; never a
//! panic, at most `max_meters` pending, records readable. Generated mode: whatever prefix of
//! frames comes first, a mode-7 message (ELL I, AFL with MCL, MCR and CMAC) cut into 2..5
//! in-order fragments (frame format A, or without CRCs) then completes with its last fragment,
//! and decodes to the records of the unfragmented frame.
#![no_main]

mod common;

use common::{frames, read_records, AnyKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::{Builder, EllParams, SecurityParams};
use meterlink::mbus::link::wmbus::{add_crcs_a, parse_wmbus, FormatHint, FrameFormat};
use meterlink::mbus::reassembly::FrameReassembler;
use meterlink::mbus::tpl::Address;
use meterlink::{decode_with_keys, DecodeOptions, LinkMode};

const MAX_LENGTHS: [usize; 6] = [0, 4, 16, 64, 255, 16384];

fuzz_target!(|data: &[u8]| {
    if data.len() < 19 {
        return;
    }
    let max_meters = data[0] as usize % 8 + 1;
    let max_length = MAX_LENGTHS[data[1] as usize % MAX_LENGTHS.len()];
    let key = <[u8; 16]>::try_from(&data[3..19]).unwrap();
    let keys = AnyKey(KeyMaterial::Aes(key));
    let mut r = FrameReassembler::new(max_length, max_meters);
    let rest = &data[19..];
    if data[2] & 1 == 0 {
        for f in frames(rest) {
            push(&mut r, f, &keys, max_meters);
        }
    } else {
        let _ = generated(&mut Unstructured::new(rest), &mut r, &keys, max_meters, max_length);
    }
});

fn push(r: &mut FrameReassembler, f: &[u8], keys: &AnyKey, max_meters: usize) -> bool {
    let out = r.push(f, &DecodeOptions::default(), keys);
    assert!(r.pending() <= max_meters);
    if let Ok(Some(tg)) = &out {
        read_records(tg);
    }
    matches!(out, Ok(Some(_)))
}

fn generated(u: &mut Unstructured, r: &mut FrameReassembler, keys: &AnyKey, max_meters: usize, max_length: usize) -> Result<()> {
    let KeyMaterial::Aes(key) = keys.0 else { unreachable!() };
    let meter = Address::new(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?, u.arbitrary()?);
    let mut b = Builder::wireless(0x44, meter, FrameFormat::NoCrc);
    b.ell = Some(EllParams { cc: 0x20, acc: u.arbitrary()?, ..EllParams::default() });
    b.security = SecurityParams { mode: 7, message_counter: Some(u.arbitrary()?), ..SecurityParams::default() };
    b.key = Some(KeyMaterial::Aes(key));
    let records = common::records(u, 6, true)?;
    let Ok(whole) = b.encode(&records, &[]) else { return Ok(()) };
    let n = u.int_in_range(2usize..=5)?;
    let mut cuts: Vec<usize> = (1..n).map(|_| u.int_in_range(1..=whole.len() - 31)).collect::<Result<_>>()?;
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = fragments(&whole, &cuts);
    if u.arbitrary()? {
        pieces = pieces.iter().map(|p| add_crcs_a(p)).collect(); // frame format A
    } else if !pieces.iter().all(|p| parse_wmbus(p, FormatHint::Auto).is_ok_and(|f| f.format == FrameFormat::NoCrc)) {
        // `push_frame` reads frames with `FormatHint::Auto` (A, then B, then no CRCs): a frame
        // without CRCs whose bytes happen to hold a valid format-B CRC at the end or format-A
        // CRC after block 1 (chance 2^-16 each) is not read as CRC-less. No way to tell; not a
        // property of the reassembler.
        return Ok(());
    }
    // a prefix of arbitrary frames (other meters, stale fragments of this one ...)
    let prefix_len = u.int_in_range(0usize..=u.len())?;
    let prefix = u.bytes(prefix_len)?.to_vec();
    for f in frames(&prefix) {
        push(r, f, keys, max_meters);
    }
    // the first fragment of an earlier message of this meter whose other fragments were lost
    let stale = u.arbitrary()?;
    if stale {
        let _ = r.push(&pieces[0], &DecodeOptions::default(), keys);
    }
    let no_crc = DecodeOptions { link: LinkMode::WirelessNoCrc, ..Default::default() };
    let expected = decode_with_keys(&whole, &no_crc, keys).expect("the unfragmented frame decodes");
    let tpdu_len = whole.len() - 30;
    for (i, f) in pieces.iter().enumerate() {
        let out = r.push(f, &DecodeOptions::default(), keys);
        if tpdu_len > max_length {
            return Ok(()); // too long for the bound: refused, checked by the unit tests
        }
        if i == 0 && stale {
            // EN 13757-7 6.3: the loss is reported, the new first fragment starts a message
            let lost = out.as_ref().map(|_| ()).unwrap_err();
            assert_eq!(lost.code(), "afl_missing_fragments", "{lost:?}");
            // ... and the message it starts completes (was lost: artifacts/afl_reassembly/).
        } else if i + 1 < pieces.len() {
            assert!(matches!(out, Ok(None)), "fragment {} of {}: {out:?}", i + 1, pieces.len());
        } else {
            let tg = out.expect("last fragment").expect("message complete");
            // Debug: a NaN value equals itself
            assert_eq!(format!("{:?}", tg.records), format!("{:?}", expected.records));
            assert_eq!(tg.payload, expected.payload);
        }
    }
    Ok(())
}

/// `whole` (L ‖ link(9) ‖ ELL I(3) ‖ AFL(17: 90 0F FCL MCL MCR(4) MAC(8)) ‖ TPDU) cut at
/// `cuts` of the TPDU: the first fragment carries MCL, MCR and the MAC (FCL: MF, MCLP, MCRP,
/// MACP, FID 1), the others only FCL (MF except on the last, FID 2, 3 ...).
fn fragments(whole: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let (link, ell, afl, tpdu) = (&whole[1..10], &whole[10..13], &whole[13..30], &whole[30..]);
    assert_eq!((ell[0], afl[0], afl[1]), (0x8C, 0x90, 0x0F));
    let bounds: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).chain([tpdu.len()]).collect();
    let last = bounds.len() - 2;
    (0..=last)
        .map(|i| {
            let head = if i == 0 {
                [&[0x90, 0x0F, 0x01, 0x6C][..], &afl[4..17]].concat()
            } else {
                vec![0x90, 0x02, i as u8 + 1, if i == last { 0x00 } else { 0x40 }]
            };
            let body = [link, ell, &head, &tpdu[bounds[i]..bounds[i + 1]]].concat();
            [&[body.len() as u8][..], &body].concat()
        })
        .collect()
}
