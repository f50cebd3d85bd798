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
use std::time::{Duration, Instant};

use crate::store::schema::{bucket_of, with_bucket};

/// One frame hash seen recently: its bucket and the span of its receptions' times.
#[derive(Clone, Copy, Debug)]
struct Seen {
    bucket: u32,
    first_ms: i64,
    last_ms: i64,
    inserted: Instant,
}

/// Hashes the window holds at most (decisions "Memory of the dedup window"). hashbrown grows
/// a table on insert when no slot is free (removed entries leave tombstones) unless at most
/// half its capacity is in use, in which case it rehashes in place. 917,504 is half the
/// capacity of 2^21 buckets, so at the cap the map stays at 2^21 buckets (117 MB) for good.
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
    order: VecDeque<(Instant, [u8; 11])>,
    retain: Duration,
    max_entries: usize,
}

impl FrameWindow {
    /// A cache for `window_ms`.
    pub fn new(window_ms: i64) -> Self {
        let retain = Duration::from_millis((window_ms.max(1000) as u64).saturating_mul(6));
        FrameWindow { window_ms: window_ms.max(1), seen: HashMap::new(), order: VecDeque::new(), retain, max_entries: MAX_ENTRIES }
    }

    /// The dedup key of a reception of `hash` at `at_ms` (gateway time).
    pub fn key(&mut self, hash: &[u8; 11], at_ms: i64) -> [u8; 16] {
        self.expire();
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
        let inserted = Instant::now();
        self.seen.insert(*hash, Seen { bucket, first_ms: at_ms, last_ms: at_ms, inserted });
        self.order.push_back((inserted, *hash));
        with_bucket(hash, bucket)
    }

    fn expire(&mut self) {
        let now = Instant::now();
        while let Some((t, h)) = self.order.front().copied() {
            if now.duration_since(t) < self.retain && self.order.len() < self.max_entries {
                break;
            }
            self.order.pop_front();
            // Only drop the entry this queue slot inserted (a newer one has its own slot).
            if self.seen.get(&h).is_some_and(|s| s.inserted == t) {
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
