//! The batch being built (issue 15 §2/§3): one `TelegramRow` per dedup key, every reception,
//! the readings of each telegram once, the rejections, and the acknowledgements to resolve
//! after the commit. Frames already decoded in this batch (the same bytes from another gateway)
//! are not decoded again.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Instant;

use crate::reception::{Ack, Reception};
use crate::store::{Batch, ReceptionRow, RejectedRow};

use super::decode::{Decoded, Identity};

/// A batch ready for the store with what to do after it.
#[derive(Debug, Default)]
pub struct Pending {
    /// The rows.
    pub batch: Batch,
    /// Resolved after the commit.
    pub acks: Vec<Ack>,
    /// When its first reception was taken (store lag).
    pub started: Option<Instant>,
}

/// Builds [`Pending`] batches.
#[derive(Default)]
pub struct Batcher {
    cur: Pending,
    /// dedup key → telegram index, with the span of its receptions' times.
    by_key: HashMap<[u8; 16], (usize, i64, i64)>,
    /// hash of the raw frame → (identity, telegram index of a telegram decoded from it).
    by_frame: HashMap<u64, (Identity, usize)>,
}

/// What [`Batcher::add_reception`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// A new telegram of the batch.
    Telegram,
    /// Another reception of a telegram in the batch.
    Reception,
    /// The same counter far outside the window in one batch: a replay.
    Replay,
}

/// A fast hash of raw frame bytes (exact equality is checked on a hit).
pub fn raw_hash(frame: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    frame.hash(&mut h);
    h.finish()
}

impl Batcher {
    /// Rows so far (receptions and rejections): the `batch_max` measure.
    pub fn rows(&self) -> usize {
        self.cur.batch.receptions.len() + self.cur.batch.rejected.len()
    }

    /// When the batch began, if it has anything.
    pub fn started(&self) -> Option<Instant> {
        self.cur.started
    }

    fn touch(&mut self) {
        self.cur.started.get_or_insert_with(Instant::now);
    }

    /// The identity of a frame decoded in this batch already (the very same bytes).
    pub fn known(&self, frame: &[u8], raw: u64) -> Option<Identity> {
        let (id, ti) = self.by_frame.get(&raw)?;
        (self.cur.batch.telegrams[*ti].frame == frame).then_some(*id)
    }

    /// A reception of a telegram keyed `key`: decoded now (`decoded`), or known by its frame.
    pub fn add_reception(&mut self, key: [u8; 16], rx: &Reception, raw: u64, decoded: Option<Decoded>, window_ms: i64) -> Added {
        self.touch();
        let t = rx.received_at_ms;
        if let Some((ti, lo, hi)) = self.by_key.get_mut(&key) {
            if key[0] == crate::store::schema::KEY_COUNTER && (t < *lo - window_ms || t > *hi + window_ms) {
                return Added::Replay;
            }
            *lo = (*lo).min(t);
            *hi = (*hi).max(t);
            let tg = &mut self.cur.batch.telegrams[*ti];
            tg.received_at_ms = tg.received_at_ms.min(t);
            self.push_reception(key, rx);
            return Added::Reception;
        }
        let d = match decoded {
            Some(d) => d,
            None => self.copy_of(raw),
        };
        let ti = self.cur.batch.telegrams.len();
        let mut tg = d.telegram;
        tg.dedup_key = key;
        tg.received_at_ms = t;
        self.by_frame.entry(raw).or_insert((d.identity, ti));
        self.by_key.insert(key, (ti, t, t));
        self.cur.batch.telegrams.push(tg);
        self.cur.batch.readings.extend(d.readings.into_iter().map(|mut r| {
            r.dedup_key = key;
            r
        }));
        self.push_reception(key, rx);
        Added::Telegram
    }

    /// The telegram and readings decoded from the frame hashed `raw`, for a new key.
    fn copy_of(&self, raw: u64) -> Decoded {
        let (identity, ti) = self.by_frame[&raw];
        let telegram = self.cur.batch.telegrams[ti].clone();
        let key = telegram.dedup_key;
        let readings = self.cur.batch.readings.iter().filter(|r| r.dedup_key == key).cloned().collect();
        Decoded { identity, telegram, readings }
    }

    fn push_reception(&mut self, key: [u8; 16], rx: &Reception) {
        self.cur.batch.receptions.push(ReceptionRow {
            dedup_key: key,
            gateway: rx.gateway.clone(),
            intake: rx.intake.clone(),
            received_at_ms: rx.received_at_ms,
            rssi: rx.rssi,
        });
    }

    /// A rejection.
    pub fn add_rejected(&mut self, r: RejectedRow) {
        self.touch();
        self.cur.batch.rejected.push(r);
    }

    /// An acknowledgement to resolve after the commit.
    pub fn add_ack(&mut self, ack: Option<Ack>) {
        self.touch();
        if let Some(a) = ack {
            self.cur.acks.push(a);
        }
    }

    /// The batch, leaving an empty one.
    pub fn take(&mut self) -> Pending {
        self.by_key.clear();
        self.by_frame.clear();
        std::mem::take(&mut self.cur)
    }
}
