//! Reassembly of fragmented wireless messages (EN 13757-7 6.3, AFL fragmentation) across
//! meters: raw wM-Bus frames in, decoded telegrams out.
//!
//! [`FrameReassembler`] parses each frame's link layer (EN 13757-4), steps over an unencrypted
//! ELL I/III (CI 8C/8E, EN 13757-4 13.2) and keeps one [`AflReassembler`] per meter (link
//! address M + A). Memory is bounded: at most `max_meters` pending messages of at most
//! `max_length` bytes each; when a new meter arrives while the table is full, every pending
//! message is forgotten rather than growing without bound.

use std::collections::HashMap;

use crate::error::{Error, ErrorKind};
use crate::keys::KeyLookup;
use crate::mbus::afl::{AflMessage, AflReassembler};
use crate::mbus::ell;
use crate::mbus::link::wmbus::{self, FormatHint};
use crate::mbus::decode::{decode_reassembled, DecodeOptions, Telegram};

/// Where the link header ends and the ELL or AFL starts (L C M(2) A(6)).
const LINK_LEN: usize = 10;


/// A complete AFL message and the link header of the frame that completed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// The link header (L C M A) of the last fragment.
    pub link: [u8; LINK_LEN],
    /// The AFL of the first fragment and the reassembled TPDU.
    pub message: AflMessage,
}

impl Reassembled {
    /// Decode the TPDU (offsets in errors refer to it: 0 = its CI).
    pub fn decode(&self, opts: &DecodeOptions, keys: &dyn KeyLookup) -> Result<Telegram, Error> {
        decode_reassembled(&self.link, &self.message, opts, keys)
    }
}

/// Reassembles fragmented wireless messages, one pending message per meter (link address).
#[derive(Clone, Debug)]
pub struct FrameReassembler {
    pending: HashMap<[u8; 8], AflReassembler>,
    max_length: usize,
    max_meters: usize,
}

impl FrameReassembler {
    /// At most `max_meters` (at least 1) pending messages of at most `max_length` bytes.
    pub fn new(max_length: usize, max_meters: usize) -> Self {
        FrameReassembler { pending: HashMap::new(), max_length, max_meters: max_meters.max(1) }
    }

    /// Number of meters with a message still incomplete.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Push one raw frame: `Ok(Some(telegram))` when it completes a message (an unfragmented
    /// frame completes at once), `Ok(None)` while fragments are pending.
    pub fn push(&mut self, frame: &[u8], opts: &DecodeOptions, keys: &dyn KeyLookup) -> Result<Option<Telegram>, Error> {
        match self.push_frame(frame)? {
            Some(r) => r.decode(opts, keys).map(Some),
            None => Ok(None),
        }
    }

    /// Push one raw frame without decoding: the complete message when this frame ends one.
    /// A lost or out-of-order fragment drops the meter's pending message and is an error.
    pub fn push_frame(&mut self, frame: &[u8]) -> Result<Option<Reassembled>, Error> {
        let wf = wmbus::parse_wmbus(frame, FormatHint::Auto)?;
        let mut data: &[u8] = &wf.data;
        // An unencrypted ELL I/III (CI 8C/8E: no session number) may stand before the AFL.
        if matches!(data.first(), Some(0x8C) | Some(0x8E)) {
            let e = ell::parse_ell(data).map_err(|e| Error::in_layer(ErrorKind::Ell(e), LINK_LEN))?;
            data = &data[e.payload_offset..];
        }
        if data.first() != Some(&0x90) {
            return Err(Error::new(LINK_LEN, ErrorKind::NoAfl));
        }
        let mut meter = [0u8; 8];
        meter.copy_from_slice(&frame[2..LINK_LEN]);
        if !self.pending.contains_key(&meter) && self.pending.len() >= self.max_meters {
            // Full: forget the pending messages rather than grow without bound.
            self.pending.clear();
        }
        let max_length = self.max_length;
        let r = self.pending.entry(meter).or_insert_with(|| AflReassembler::new(max_length));
        let pushed = r.push(data);
        if !matches!(pushed, Ok(None)) {
            self.pending.remove(&meter);
        }
        let Some(message) = pushed.map_err(|e| Error::in_layer(ErrorKind::Afl(e), 0))? else {
            return Ok(None);
        };
        let mut link = [0u8; LINK_LEN];
        link.copy_from_slice(&frame[..LINK_LEN]);
        Ok(Some(Reassembled { link, message }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::mbus::afl::AflError;
    use crate::keys::{KeyMaterial, KeyStore, NoKeys};
    use crate::mbus::encode::{Builder, EllParams, SecurityParams};
    use crate::mbus::link::wmbus::FrameFormat;

    const KEY: [u8; 16] = [0x0F; 16];
    const RECORDS: &[u8] = &[0x0C, 0x14, 0x27, 0x04, 0x85, 0x02, 0x02, 0xFD, 0x17, 0x00, 0x00];

    /// A mode-7 frame (AFL with MCL, MCR and an 8-byte CMAC) behind an ELL I, no DLL CRCs.
    fn whole(id: u32) -> Vec<u8> {
        let mut b = Builder::wireless(0x44, crate::mbus::tpl::Address::new(0x2C2D, id.to_le_bytes(), 0x1B, 0x16), FrameFormat::NoCrc);
        b.ell = Some(EllParams { cc: 0x20, acc: 0x75, ..EllParams::default() });
        b.security = SecurityParams { mode: 7, message_counter: Some(0x0A_B3), ..SecurityParams::default() };
        b.key = Some(KeyMaterial::from_bytes(&KEY).unwrap());
        b.encode(RECORDS, &[]).unwrap()
    }

    fn keys(id: u32, key: [u8; 16]) -> KeyStore {
        let mut k = KeyStore::new();
        k.insert(None, id.to_le_bytes(), KeyMaterial::from_bytes(&key).unwrap());
        k
    }

    /// `whole` cut into two fragments: the first carries MCL, MCR and the MAC, the second FCL.
    fn fragments(whole: &[u8], split: usize) -> (Vec<u8>, Vec<u8>) {
        let (link, ell, afl, tpdu) = (&whole[1..10], &whole[10..13], &whole[13..30], &whole[30..]);
        assert_eq!((ell[0], afl[0], afl[1]), (0x8C, 0x90, 0x0F));
        let frame = |afl: &[u8], payload: &[u8]| {
            let body = [link, ell, afl, payload].concat();
            [&[body.len() as u8][..], &body].concat()
        };
        let first = [&[0x90, 0x0F, 0x01, 0x6C][..], &afl[4..17]].concat();
        (frame(&first, &tpdu[..split]), frame(&[0x90, 0x02, 0x02, 0x00], &tpdu[split..]))
    }

    #[test]
    fn fragments_in_order_give_the_unfragmented_telegram() {
        let w = whole(0x1234_5678);
        let ks = keys(0x1234_5678, KEY);
        let opts = DecodeOptions::default();
        let expected = crate::decode_with_keys(&w, &opts, &ks).unwrap();
        assert_eq!(expected.records.len(), 2);
        let mut r = FrameReassembler::new(16384, 10);
        // An unfragmented frame completes at once.
        assert_eq!(r.push(&w, &opts, &ks).unwrap().unwrap().records, expected.records);
        let (f1, f2) = fragments(&w, 5);
        assert!(r.push(&f1, &opts, &ks).unwrap().is_none());
        assert_eq!(r.pending(), 1);
        let tg = r.push(&f2, &opts, &ks).unwrap().unwrap();
        assert_eq!(r.pending(), 0);
        assert_eq!(tg.records, expected.records);
        assert_eq!(tg.afl.unwrap().fid(), 1);
        // The wrong key: the message completes, its MAC does not verify.
        r.push(&f1, &opts, &ks).unwrap();
        let e = r.push(&f2, &opts, &keys(0x1234_5678, [0xFF; 16])).map(|_| ()).unwrap_err();
        assert_eq!((e.class(), e.code()), (ErrorClass::Security, "afl_mac"), "{e:?}");
    }

    #[test]
    fn a_lost_fragment_drops_the_message() {
        let w = whole(0x1234_5678);
        let (f1, f2) = fragments(&w, 5);
        let mut r = FrameReassembler::new(16384, 10);
        let e = r.push(&f2, &DecodeOptions::default(), &NoKeys).map(|_| ()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Afl(AflError::MissingFragments { expected: 1, got: 2 }));
        assert_eq!((e.to_string(), e.class(), e.position()), ("AFL fragment 1 missing (got fragment 2)".into(), ErrorClass::Decode, None));
        assert_eq!(r.pending(), 0);
        // Too long for the bound: dropped as well.
        let mut small = FrameReassembler::new(4, 10);
        let e = small.push_frame(&f1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Afl(AflError::TooLong { limit: 4 }));
        assert_eq!(small.pending(), 0);
    }

    #[test]
    fn full_table_forgets_every_pending_message() {
        let mut r = FrameReassembler::new(16384, 2);
        let firsts: Vec<Vec<u8>> = (1..=3).map(|id| fragments(&whole(id), 5).0).collect();
        assert!(r.push_frame(&firsts[0]).unwrap().is_none());
        assert!(r.push_frame(&firsts[1]).unwrap().is_none());
        assert_eq!(r.pending(), 2);
        // A third meter: the table is cleared, then holds the newcomer only.
        assert!(r.push_frame(&firsts[2]).unwrap().is_none());
        assert_eq!(r.pending(), 1);
        let (_, second_of_1) = fragments(&whole(1), 5);
        let e = r.push_frame(&second_of_1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Afl(AflError::MissingFragments { expected: 1, got: 2 }));
        let (_, second_of_3) = fragments(&whole(3), 5);
        let done = r.push_frame(&second_of_3).unwrap().unwrap();
        assert_eq!(done.message.fragments, 2);
        assert_eq!(&done.link[2..], &second_of_3[2..10]);
    }

    #[test]
    fn frames_without_afl_or_link_are_refused_with_offsets() {
        let mut r = FrameReassembler::new(16384, 10);
        let e = r.push_frame(&[0x05, 0x44, 0x2D]).unwrap_err();
        assert_eq!((e.class(), e.code()), (ErrorClass::Frame, "wmbus_truncated"));
        let mut plain = Builder::wireless(0x44, crate::mbus::tpl::Address::new(0x2C2D, [1, 2, 3, 4], 1, 7), FrameFormat::NoCrc);
        plain.security = SecurityParams::default();
        let e = r.push_frame(&plain.encode(RECORDS, &[]).unwrap()).unwrap_err();
        assert_eq!((e.to_string(), e.position(), e.code()), ("frame carries no AFL (CI 90h)".into(), Some(10), "afl_missing"));
    }
}
