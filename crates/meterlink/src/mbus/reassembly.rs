//! Reassembly of fragmented wireless messages (EN 13757-7 6.3, AFL fragmentation) across
//! meters: raw wM-Bus frames in, decoded telegrams out.
//!
//! [`FrameReassembler`] parses each frame's link layer (EN 13757-4), steps over an unencrypted
//! ELL I/III (CI 8C/8E, EN 13757-4 13.2) and keeps one [`AflReassembler`] per meter (link
//! address M + A). Memory is bounded: at most `max_meters` pending messages of at most
//! `max_length` bytes each. When a new meter's first fragment arrives while the table is full,
//! the pending message started longest ago is evicted (one, not all): a flood of other meters
//! pushes out the oldest messages first, never the newest. A time-out (seconds of the caller's
//! clock, passed as `now`; the core has no clock) drops messages started longer ago than it.

use std::collections::{BTreeMap, HashMap};

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

/// A meter's pending message: the fragments so far, when it started (push number and the
/// caller's time).
#[derive(Clone, Debug)]
struct Pending {
    afl: AflReassembler,
    seq: u64,
    started: Option<f64>,
}

/// Reassembles fragmented wireless messages, one pending message per meter (link address).
#[derive(Clone, Debug)]
pub struct FrameReassembler {
    pending: HashMap<[u8; 8], Pending>,
    /// Pending meters by start (push number): the first is the oldest.
    order: BTreeMap<u64, [u8; 8]>,
    next_seq: u64,
    max_length: usize,
    max_meters: usize,
    timeout: Option<f64>,
    /// The latest time given (messages started before any time count from the first one).
    clock: Option<f64>,
    evicted: u64,
    expired: u64,
}

impl FrameReassembler {
    /// At most `max_meters` (at least 1) pending messages of at most `max_length` bytes.
    pub fn new(max_length: usize, max_meters: usize) -> Self {
        FrameReassembler {
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_length,
            max_meters: max_meters.max(1),
            timeout: None,
            clock: None,
            evicted: 0,
            expired: 0,
        }
    }

    /// Drop pending messages started more than `seconds` before the `now` given to
    /// [`Self::push_frame_at`] / [`Self::expire`] (the caller's clock).
    pub fn with_timeout(mut self, seconds: f64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// Number of meters with a message still incomplete.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Pending messages evicted because the table was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Pending messages dropped by the time-out.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Push one raw frame: `Ok(Some(telegram))` when it completes a message (an unfragmented
    /// frame completes at once), `Ok(None)` while fragments are pending.
    pub fn push(&mut self, frame: &[u8], opts: &DecodeOptions, keys: &dyn KeyLookup) -> Result<Option<Telegram>, Error> {
        match self.push_frame(frame)? {
            Some(r) => r.decode(opts, keys).map(Some),
            None => Ok(None),
        }
    }

    /// Drop the messages started more than the time-out before `now` (none without a
    /// time-out); returns how many. Times are seconds of the caller's clock, assumed not to go
    /// back (a `now` earlier than one given before counts as that one).
    pub fn expire(&mut self, now: f64) -> usize {
        let now = self.tick(now);
        let Some(timeout) = self.timeout else { return 0 };
        let mut n = 0;
        // Start times never decrease along `order` (see `tick`): expire from the front.
        while let Some((&seq, &meter)) = self.order.first_key_value() {
            match self.pending.get(&meter) {
                Some(p) if p.started.is_some_and(|t| now - t > timeout) => {}
                _ => break,
            }
            self.order.remove(&seq);
            self.pending.remove(&meter);
            n += 1;
        }
        self.expired += n as u64;
        n
    }

    /// Advance the clock to `now` (never back); the first time given also dates the messages
    /// started before any time was given.
    fn tick(&mut self, now: f64) -> f64 {
        let now = match self.clock {
            Some(c) if c >= now || now.is_nan() => c,
            _ => now,
        };
        if self.clock.is_none() {
            for p in self.pending.values_mut() {
                p.started = Some(now);
            }
        }
        self.clock = Some(now);
        now
    }

    /// [`Self::push_frame`] at the caller's time `now` (seconds): expired messages are dropped
    /// first, and a message this frame starts is dated `now`.
    pub fn push_frame_at(&mut self, frame: &[u8], now: f64) -> Result<Option<Reassembled>, Error> {
        self.expire(now);
        self.push_frame(frame)
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
        let pushed = match self.pending.get_mut(&meter) {
            Some(p) => p.afl.push(data),
            None => {
                // Only a message that stays pending takes a place in the table: a stray or
                // complete frame never evicts another meter's message.
                let mut afl = AflReassembler::new(self.max_length);
                let r = afl.push(data);
                if matches!(r, Ok(None)) {
                    self.start(meter, afl);
                }
                r
            }
        };
        // Keep the meter's place while a message is pending: a first fragment that reports the
        // loss of the previous message's tail has started a new message (EN 13757-7 6.3), which
        // must not be dropped with the lost one (found by the afl_reassembly fuzz target).
        let still_pending = self.pending.get(&meter).is_some_and(|p| p.afl.expected_fid().is_some());
        if !matches!(pushed, Ok(None)) && !still_pending {
            self.remove(&meter);
        }
        let Some(message) = pushed.map_err(|e| Error::in_layer(ErrorKind::Afl(e), 0))? else {
            return Ok(None);
        };
        let mut link = [0u8; LINK_LEN];
        link.copy_from_slice(&frame[..LINK_LEN]);
        Ok(Some(Reassembled { link, message }))
    }

    /// A pending message for `meter` (which has none), started now; the oldest pending
    /// message is evicted when the table is full.
    fn start(&mut self, meter: [u8; 8], afl: AflReassembler) {
        while self.pending.len() >= self.max_meters {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.pending.remove(&oldest);
            self.evicted += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, meter);
        self.pending.insert(meter, Pending { afl, seq, started: self.clock });
    }

    fn remove(&mut self, meter: &[u8; 8]) {
        if let Some(p) = self.pending.remove(meter) {
            self.order.remove(&p.seq);
        }
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
    fn a_new_message_after_a_lost_tail_is_kept() {
        // Found by the afl_reassembly fuzz target: message A's fragment 2 is lost; B's first
        // fragment reports it and starts B, whose second fragment then completes it.
        let mut r = FrameReassembler::new(16384, 10);
        let (a1, _) = fragments(&whole(0x1234_5678), 5);
        let (b1, b2) = fragments(&whole(0x1234_5678), 5);
        assert!(r.push_frame(&a1).unwrap().is_none());
        let e = r.push_frame(&b1).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Afl(AflError::MissingFragments { .. })), "{e}");
        assert_eq!(r.pending(), 1);
        let done = r.push_frame(&b2).unwrap().unwrap();
        assert_eq!((done.message.fragments, r.pending()), (2, 0));
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
    fn full_table_evicts_the_oldest_pending_message_only() {
        let mut r = FrameReassembler::new(16384, 2);
        let firsts: Vec<Vec<u8>> = (1..=3).map(|id| fragments(&whole(id), 5).0).collect();
        let second = |id| fragments(&whole(id), 5).1;
        assert!(r.push_frame(&firsts[0]).unwrap().is_none());
        assert!(r.push_frame(&firsts[1]).unwrap().is_none());
        assert_eq!(r.pending(), 2);
        // A third meter: meter 1 (started first) is evicted, meter 2 stays.
        assert!(r.push_frame(&firsts[2]).unwrap().is_none());
        assert_eq!((r.pending(), r.evicted()), (2, 1));
        let e = r.push_frame(&second(1)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Afl(AflError::MissingFragments { expected: 1, got: 2 }));
        let done = r.push_frame(&second(2)).unwrap().unwrap();
        assert_eq!(done.message.fragments, 2);
        assert_eq!(&done.link[2..], &second(2)[2..10]);
        let done = r.push_frame(&second(3)).unwrap().unwrap();
        assert_eq!(&done.link[2..], &second(3)[2..10]);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn a_flood_of_other_meters_evicts_in_start_order() {
        // 10,000 first fragments of other meters: the table keeps the newest `max_meters`.
        let (f1, f2) = fragments(&whole(0x1234_5678), 5);
        let flood: Vec<Vec<u8>> = (0..10_000u32).map(|i| {
            let mut f = f1.clone();
            f[4..8].copy_from_slice(&(0x5000_0000 + i).to_le_bytes());
            f
        }).collect();
        // The legitimate message started after the flood's first 9,000: it is among the newest.
        let mut r = FrameReassembler::new(16384, 1_001);
        for f in &flood[..9_000] {
            assert!(r.push_frame(f).unwrap().is_none());
        }
        r.push_frame(&f1).unwrap();
        for f in &flood[9_000..] {
            r.push_frame(f).unwrap();
        }
        assert_eq!((r.pending(), r.evicted()), (1_001, 10_001 - 1_001));
        assert!(r.push_frame(&f2).unwrap().is_some());
        // Started before all 10,000 with room for 10,000: the 10,000th evicts it, not earlier.
        let mut r = FrameReassembler::new(16384, 10_000);
        r.push_frame(&f1).unwrap();
        for f in &flood[..9_999] {
            r.push_frame(f).unwrap();
        }
        assert_eq!(r.evicted(), 0);
        let mut lost = r.clone();
        lost.push_frame(&flood[9_999]).unwrap();
        assert_eq!(lost.evicted(), 1);
        assert!(lost.push_frame(&f2).is_err());
        assert!(r.push_frame(&f2).unwrap().is_some());
    }

    #[test]
    fn time_outs_drop_old_messages_by_the_callers_clock() {
        let firsts: Vec<(Vec<u8>, Vec<u8>)> = (1..=3).map(|id| fragments(&whole(id), 5)).collect();
        let mut r = FrameReassembler::new(16384, 10).with_timeout(60.0);
        // Meter 1 starts before any time is given: it counts from the first time (100).
        r.push_frame(&firsts[0].0).unwrap();
        r.push_frame_at(&firsts[1].0, 100.0).unwrap();
        r.push_frame_at(&firsts[2].0, 130.0).unwrap();
        assert_eq!(r.expire(160.0), 0); // exactly the time-out: kept
        // A clock going back counts as the latest time.
        assert_eq!(r.expire(10.0), 0);
        assert_eq!(r.expire(160.5), 2);
        assert_eq!((r.pending(), r.expired()), (1, 2));
        // The second fragment of an expired message is a missing-fragment error.
        assert!(r.push_frame_at(&firsts[1].1, 161.0).is_err());
        assert!(r.push_frame_at(&firsts[2].1, 189.0).unwrap().is_some());
        // Without a time-out nothing expires.
        let mut r = FrameReassembler::new(16384, 10);
        r.push_frame_at(&firsts[0].0, 0.0).unwrap();
        assert_eq!(r.expire(1e9), 0);
        assert!(r.push_frame(&firsts[0].1).unwrap().is_some());
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
