//! Reassembly of segmented HDLC frames (IEC 62056-46 6.4.4.4.3.3): an I or UI frame with the
//! segmentation bit S set is followed by more segments of the same message; the first frame
//! whose S bit is clear ends it. Segments are joined per (source, destination) address pair.
//!
//! Memory is bounded like [`crate::mbus::reassembly`]: at most `max_pairs` pending messages of
//! at most `max_length` bytes; a new pair's first segment arriving when the table is full evicts
//! the pending message started longest ago (one), counted in `evicted`.

use std::collections::{BTreeMap, HashMap};

use super::{parse_frame, strip_llc, HdlcAddress, HdlcControl, HdlcError, HdlcFrame};

/// A whole message: the information fields of its segments joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdlcMessage {
    /// The destination address.
    pub destination: HdlcAddress,
    /// The source address.
    pub source: HdlcAddress,
    /// The control field of the last segment.
    pub control: u8,
    /// How many frames the message came in.
    pub segments: usize,
    /// The joined information field (LLC header included).
    pub information: Vec<u8>,
}

impl HdlcMessage {
    /// The APDU: the information field without its LLC header.
    pub fn apdu(&self) -> Result<&[u8], HdlcError> {
        strip_llc(&self.information).ok_or(HdlcError::Llc { offset: 0 })
    }
}

type Pair = (HdlcAddress, HdlcAddress);

#[derive(Clone, Debug)]
struct Pending {
    information: Vec<u8>,
    segments: usize,
    seq: u64,
}

/// Joins segmented frames, one pending message per (source, destination) pair.
#[derive(Clone, Debug)]
pub struct HdlcReassembler {
    pending: HashMap<Pair, Pending>,
    order: BTreeMap<u64, Pair>,
    next_seq: u64,
    max_length: usize,
    max_pairs: usize,
    evicted: u64,
}

impl Default for HdlcReassembler {
    /// 64 KiB messages, 64 pairs.
    fn default() -> Self {
        Self::new(65536, 64)
    }
}

impl HdlcReassembler {
    /// A reassembler keeping at most `max_pairs` pending messages of `max_length` bytes each.
    pub fn new(max_length: usize, max_pairs: usize) -> Self {
        HdlcReassembler {
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_length,
            max_pairs: max_pairs.max(1),
            evicted: 0,
        }
    }

    /// Pending (incomplete) messages.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Pending messages evicted to make room so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Parse one frame and add it (see [`HdlcReassembler::push`]).
    pub fn push_bytes(&mut self, frame: &[u8]) -> Result<Option<HdlcMessage>, HdlcError> {
        let f = parse_frame(frame)?;
        self.push(&f)
    }

    /// Add one frame. Returns the whole message when the frame ends one (an unsegmented frame
    /// with an information field is a message on its own), None while segments are pending or
    /// for a frame without information (RR, RNR, ...).
    pub fn push(&mut self, frame: &HdlcFrame<'_>) -> Result<Option<HdlcMessage>, HdlcError> {
        let pair = (frame.source, frame.destination);
        let carries = matches!(frame.kind(), Some(HdlcControl::I { .. } | HdlcControl::Ui { .. }));
        let Some(mut p) = self.take(&pair) else {
            if !frame.segmented {
                return Ok((!frame.information.is_empty()).then(|| message(frame, frame.information.to_vec(), 1)));
            }
            if !carries {
                return Ok(None);
            }
            self.check_len(frame.information.len())?;
            self.insert(pair, frame.information.to_vec(), 1);
            return Ok(None);
        };
        if !carries {
            // A supervisory frame (RR asking for the next segment) leaves the message pending.
            self.restore(pair, p);
            return Ok(None);
        }
        self.check_len(p.information.len() + frame.information.len())?;
        p.information.extend_from_slice(frame.information);
        p.segments += 1;
        if frame.segmented {
            self.restore(pair, p);
            return Ok(None);
        }
        Ok(Some(message(frame, p.information, p.segments)))
    }

    fn check_len(&self, n: usize) -> Result<(), HdlcError> {
        if n > self.max_length {
            return Err(HdlcError::Overflow { limit: self.max_length });
        }
        Ok(())
    }

    fn take(&mut self, pair: &Pair) -> Option<Pending> {
        let p = self.pending.remove(pair)?;
        self.order.remove(&p.seq);
        Some(p)
    }

    fn restore(&mut self, pair: Pair, p: Pending) {
        self.order.insert(p.seq, pair);
        self.pending.insert(pair, p);
    }

    fn insert(&mut self, pair: Pair, information: Vec<u8>, segments: usize) {
        if self.pending.len() >= self.max_pairs {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.pending.remove(&oldest);
                self.evicted += 1;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, pair);
        self.pending.insert(pair, Pending { information, segments, seq });
    }
}

fn message(frame: &HdlcFrame<'_>, information: Vec<u8>, segments: usize) -> HdlcMessage {
    HdlcMessage {
        destination: frame.destination,
        source: frame.source,
        control: frame.control,
        segments,
        information,
    }
}
