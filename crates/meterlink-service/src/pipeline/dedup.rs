//! Dedup keys across receivers (issue 15 §2). A telegram with a verified counter has the exact
//! key `(meter, key id, counter)`. A counter-less one is keyed by its frame hash and a time
//! bucket of `window` width (`schema::frame_key`); receptions of the same bytes within the
//! window of an earlier one take that one's key even across a bucket boundary — this cache
//! decides that in memory, comparing the gateways' times (not arrival order), and the store
//! checks the neighbour buckets again (several workers on one database).
//!
//! Memory is bounded: entries leave the cache after `retain` of wall-clock time (a few windows)
//! and the cache holds at most `max_entries` hashes.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::store::schema::{bucket_of, with_bucket};

/// One frame hash seen recently: its bucket, the span of its receptions' times, and the number
/// of its slot in the expiry queue (48 bytes with the key; an `Instant` here made it 56).
#[derive(Clone, Copy, Debug)]
struct Seen {
    bucket: u32,
    first_ms: i64,
    last_ms: i64,
    slot: u64,
}

/// Hashes the window holds at most (decisions "Memory of the dedup window"). hashbrown grows
/// a table on insert when no slot is free (removed entries leave tombstones) unless at most
/// half its capacity is in use, in which case it rehashes in place. 917,504 is half the
/// capacity of 2^21 buckets, so at the cap the map stays at 2^21 buckets (103 MB with 48-byte
/// entries; 120 MB with the earlier 56) for good.
/// The earlier cap, 2^20, is more than half: under full-rate churn the map doubled to 2^22
/// buckets, 234 MB more at the peak and 117 MB more for good (the step at minute 51 of the
/// session-11 soak). 917,504 hashes are 36 s of telegrams at 25,000/s, more than a 10 s
/// window plus skew; past the cap the oldest leave early, and the store checks the neighbour
/// buckets anyway.
pub const MAX_ENTRIES: usize = 917_504;

/// Recently seen frame hashes.
pub struct FrameWindow {
    window_ms: i64,
    seen: HashMap<[u8; 11], Seen>,
    /// Insertion order: milliseconds since `base` and the hash (24 bytes a slot). Slot numbers
    /// count from the first ever pushed; the front's number is `popped`.
    order: VecDeque<(u64, [u8; 11])>,
    popped: u64,
    base: Instant,
    retain_ms: u64,
    max_entries: usize,
}

impl FrameWindow {
    /// A cache for `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        let retain_ms = (window_ms.max(1000) as u64).saturating_mul(6);
        FrameWindow {
            window_ms: window_ms.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
            popped: 0,
            base: Instant::now(),
            retain_ms,
            max_entries: MAX_ENTRIES,
        }
    }

    /// The dedup key of a reception of `hash` at `at_ms` (gateway time).
    pub fn key(&mut self, hash: &[u8; 11], at_ms: i64) -> [u8; 16] {
        let now_ms = self.base.elapsed().as_millis() as u64;
        self.expire(now_ms);
        let w = self.window_ms;
        if let Some(s) = self.seen.get_mut(hash) {
            // Within the window of some reception of the earlier telegram: the same telegram.
            if at_ms >= s.first_ms - w && at_ms <= s.last_ms + w {
                s.first_ms = s.first_ms.min(at_ms);
                s.last_ms = s.last_ms.max(at_ms);
                return with_bucket(hash, s.bucket);
            }
        }
        let bucket = bucket_of(at_ms, w);
        let slot = self.popped + self.order.len() as u64;
        self.seen.insert(*hash, Seen { bucket, first_ms: at_ms, last_ms: at_ms, slot });
        self.order.push_back((now_ms, *hash));
        with_bucket(hash, bucket)
    }

    fn expire(&mut self, now_ms: u64) {
        while let Some((t, h)) = self.order.front().copied() {
            if now_ms.saturating_sub(t) < self.retain_ms && self.order.len() < self.max_entries {
                break;
            }
            self.order.pop_front();
            let slot = self.popped;
            self.popped += 1;
            // Only drop the entry this queue slot inserted (a newer one has its own slot).
            if self.seen.get(&h).is_some_and(|s| s.slot == slot) {
                self.seen.remove(&h);
            }
        }
    }

    /// Hashes held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twice the cap of distinct hashes within the retention time: the map and the queue stay
    /// within the cap and their tables never double past it (with the earlier cap of 2^20 the
    /// map reached 2^22 buckets here).
    #[test]
    fn memory_stays_within_the_cap() {
        let mut w = FrameWindow::new(10_000);
        for i in 0..2 * MAX_ENTRIES as u64 {
            let mut h = [0u8; 11];
            h[..8].copy_from_slice(&i.to_le_bytes());
            w.key(&h, 1_000_000 + i as i64);
        }
        assert!(w.len() <= MAX_ENTRIES && w.order.len() <= MAX_ENTRIES, "{} {}", w.len(), w.order.len());
        assert!(w.seen.capacity() <= 2 * MAX_ENTRIES, "map capacity {}: past 2^21 buckets", w.seen.capacity());
        assert!(w.order.capacity() <= 1 << 20, "queue capacity {}", w.order.capacity());
        // The sizes the bounds above are worked out with (decisions "Memory of the dedup window").
        assert_eq!((std::mem::size_of::<([u8; 11], Seen)>(), std::mem::size_of::<(u64, [u8; 11])>()), (48, 24));
    }

    /// The same bytes again outside the window replace the entry; when the first one's queue
    /// slot leaves, the newer entry stays (without the slot check it would go, and a reception
    /// across the next bucket boundary would get a key of its own).
    #[test]
    fn an_old_slot_leaving_keeps_the_newer_entry() {
        let mut w = FrameWindow::new(10_000);
        w.max_entries = 3;
        let (h, g) = ([7u8; 11], [8u8; 11]);
        w.key(&h, 0);
        let again = w.key(&h, 3_609_000);
        w.key(&g, 3_609_000);
        // The queue is at the cap: this call's expiry takes h's first slot.
        assert_eq!(w.key(&h, 3_611_500), again);
        assert_eq!((w.popped, w.order.len(), w.len()), (1, 2, 2));
    }

    #[test]
    fn skewed_receptions_share_a_key_and_later_bytes_do_not() {
        let mut w = FrameWindow::new(10_000);
        let h = [7u8; 11];
        // Bucket boundary at 110 s: gateways at 109.0 and 111.5 s hear one telegram.
        let a = w.key(&h, 109_000);
        assert_eq!(w.key(&h, 111_500), a);
        assert_eq!(w.key(&h, 104_000), a);
        // One hour later: a new telegram.
        assert_ne!(w.key(&h, 3_709_000), a);
    }
}
