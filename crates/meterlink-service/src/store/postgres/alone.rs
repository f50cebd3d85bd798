//! What a worker knows while it is the database's only writer (decisions "PostgreSQL: the
//! sole writer's knowledge"), the PostgreSQL side of the SQLite store's `Known`.
//!
//! A counter-less telegram's frame key can only be decided against the database: its copy in a
//! neighbouring time bucket is another key, which no unique key arbitrates, so [`super::sql::DECIDE`]
//! probes the own key and both neighbour keys (three index probes per telegram, most of the
//! decided path's time). A worker that is the only writer knows which frame keys may be stored:
//! those of buckets up to the highest stored when it last looked (`floor`) and those it stored
//! since (`keys`). A frame key whose own and neighbour keys are none of them is new, and is left
//! out of the decision.
//!
//! **Knowing it is alone.** Every worker registers before its first write: it holds the
//! session-level *shared* advisory lock [`WRITERS_LOCK`] for as long as it is connected and
//! then takes a number from the `ml_writers` sequence (schema version 2). Each deciding
//! transaction first asks for the same lock *exclusively* for the transaction
//! (`pg_try_advisory_xact_lock`, which does not wait). A session's own locks never conflict with
//! its requests, so it is granted exactly when no other worker is connected, and while it is
//! held no worker can register. The knowledge is used only when, besides, the sequence still
//! shows the number it was built under: a worker that registered, wrote and left between two
//! of this worker's transactions moved it. Otherwise the knowledge starts over from the
//! database (the highest stored frame key's bucket, one index probe).
//!
//! What stays the arbiter: the direct COPY into `telegrams` still refuses a key that is stored
//! after all (SQLSTATE 23505; the batch goes the safe way). A process that writes telegrams
//! without registering (hand-written SQL) is not seen.

use tokio_postgres::Transaction;

use super::plan::Spans;
use crate::store::schema::{key_bucket as bucket, neighbours, KeySet, KEY_FRAME};
use crate::store::Batch;

/// The writers' advisory lock (one 64-bit key, "mlwriter"; the frame-slot locks use the
/// two-key form, a separate key space).
pub const WRITERS_LOCK: i64 = 0x6d6c_7772_6974_6572;

/// Register as a writer: the shared lock for the session, then a number from the registry.
pub const REGISTER: &str = "SELECT pg_advisory_lock_shared($1), nextval('ml_writers')";

/// In a deciding transaction: alone (the exclusive transaction lock granted), and the
/// registry's last number.
pub const ALONE: &str = "SELECT pg_try_advisory_xact_lock($1), (SELECT last_value FROM ml_writers)";

/// The highest stored frame key (keys begin `02 ‖ bucket`).
const TOP_FRAME: &str = "SELECT dedup_key FROM telegrams WHERE dedup_key >= '\\x02'::bytea AND dedup_key < '\\x03'::bytea ORDER BY dedup_key DESC LIMIT 1";

/// Keys held before the oldest are forgotten (`floor` rises to the highest of them): ~50 MB.
const KNOWN_MAX: usize = 1 << 20;

/// The sole writer's knowledge of the frame keys (module documentation).
#[derive(Default)]
pub struct Known {
    /// The registry number the knowledge was built under; `None`: start over when next alone.
    epoch: Option<i64>,
    /// Frame keys of buckets ≤ `floor` may be stored (`None`: none was when it was built).
    floor: Option<u32>,
    /// Frame keys this worker stored above `floor`.
    keys: KeySet,
    /// Telegrams committed without a decision.
    proven_total: u64,
}

impl Known {
    /// First in a deciding transaction: whether this worker is alone with valid knowledge
    /// (built anew when the registry moved). Not alone: the knowledge is dropped.
    pub async fn check(&mut self, tx: &Transaction<'_>) -> Result<bool, tokio_postgres::Error> {
        let row = tx.query_one(ALONE, &[&WRITERS_LOCK]).await?;
        let (alone, epoch): (bool, i64) = (row.get(0), row.get(1));
        if !alone {
            self.forget();
            return Ok(false);
        }
        if self.epoch != Some(epoch) {
            let top = tx.query_opt(TOP_FRAME, &[]).await?;
            self.floor = top.and_then(|r| r.get::<_, &[u8]>(0).get(1..5).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])));
            self.keys.clear();
            self.epoch = Some(epoch);
        }
        Ok(true)
    }

    /// Start over at the next check (a write failed or went the safe way: what it stored is
    /// not known here).
    pub fn forget(&mut self) {
        self.epoch = None;
        self.keys = KeySet::default();
    }

    fn absent(&self, k: &[u8; 16]) -> bool {
        self.floor.is_none_or(|f| bucket(k) > f) && !self.keys.contains(k)
    }

    /// Per telegram of the batch: proven new (a counter-less frame key whose own and
    /// neighbour keys are neither possibly stored nor another telegram's in this batch).
    /// Only valid right after [`Known::check`] returned true in the same transaction.
    pub fn proven(&self, b: &Batch, spans: &Spans) -> Vec<bool> {
        b.telegrams
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let k = &t.dedup_key;
                k[0] == KEY_FRAME
                    && t.counter.is_none()
                    && spans.telegram(k) == Some(i)
                    && self.absent(k)
                    && neighbours(k).all(|n| self.absent(&n) && spans.telegram(&n).is_none())
            })
            .collect()
    }

    /// Telegrams committed without a decision since the store was opened.
    pub fn proven_total(&self) -> u64 {
        self.proven_total
    }

    /// After the commit: the frame keys the batch stored, and how many were proven new.
    pub fn stored(&mut self, keys: impl Iterator<Item = [u8; 16]>, proven: usize) {
        self.proven_total += proven as u64;
        for k in keys.filter(|k| k[0] == KEY_FRAME) {
            if self.keys.len() >= KNOWN_MAX {
                let top = self.keys.iter().map(bucket).max();
                self.floor = self.floor.max(top);
                self.keys.clear();
            }
            self.keys.insert(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::with_bucket;

    fn known(floor: Option<u32>, keys: &[[u8; 16]]) -> Known {
        Known { epoch: Some(1), floor, keys: keys.iter().copied().collect(), proven_total: 0 }
    }

    #[test]
    fn a_key_is_absent_above_the_floor_unless_stored_since() {
        let h = [7u8; 11];
        let k = known(Some(100), &[with_bucket(&h, 102)]);
        assert!(!k.absent(&with_bucket(&h, 100)));
        assert!(k.absent(&with_bucket(&h, 101)));
        assert!(!k.absent(&with_bucket(&h, 102)));
        assert!(k.absent(&with_bucket(&h, 103)));
        assert!(known(None, &[]).absent(&with_bucket(&h, 0)));
    }

    #[test]
    fn past_the_bound_the_floor_rises_to_the_forgotten_keys() {
        let mut k = known(None, &[]);
        let hash = |i: u32| {
            let mut h = [0u8; 11];
            h[..4].copy_from_slice(&i.to_be_bytes());
            h
        };
        k.stored((0..KNOWN_MAX as u32 + 1).map(|i| with_bucket(&hash(i), i / 8)), 0);
        assert_eq!(k.floor, Some((KNOWN_MAX as u32 - 1) / 8));
        assert_eq!(k.keys.len(), 1);
        assert!(!k.absent(&with_bucket(&[2; 11], 5)));
    }
}
