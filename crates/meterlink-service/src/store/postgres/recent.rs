//! Which path to try first (module documentation of `postgres`): the optimistic path pays off
//! only when a batch holds no duplicate, no replay and no frame key, and a failed attempt costs
//! its COPYs. So a batch is taken as new only when none of its keys was written by this store in
//! its last [`KEPT`] batches (receptions of one radio telegram by several gateways spread over
//! neighbouring batches), it has no counter-less (frame) key (whose neighbour-bucket check
//! needs the database), no counter of a meter at or below an earlier one in the batch, and the
//! last miss is [`BACKOFF`] batches ago (other workers' duplicates are invisible here).
//! A wrong guess is never wrong data: the database refuses it and the batch is decided.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::store::schema::KEY_COUNTER;
use crate::store::Batch;

/// How many committed batches' keys are remembered.
pub const KEPT: usize = 8;

/// How many batches go straight to the decided path after the optimistic one missed.
pub const BACKOFF: u32 = 8;

/// The store's recent history.
#[derive(Default)]
pub struct Recent {
    keys: VecDeque<HashSet<[u8; 16]>>,
    backoff: u32,
}

impl Recent {
    /// Whether the batch looks all new (try the optimistic path); counts the back-off down.
    pub fn looks_new(&mut self, b: &Batch) -> bool {
        if self.backoff > 0 {
            self.backoff -= 1;
            return false;
        }
        if b.telegrams.is_empty() {
            return false;
        }
        let mut highest: HashMap<(&str, u8), u32> = HashMap::with_capacity(b.telegrams.len());
        for t in &b.telegrams {
            let Some(c) = t.counter.filter(|_| t.dedup_key[0] == KEY_COUNTER) else { return false };
            if self.keys.iter().any(|k| k.contains(&t.dedup_key)) {
                return false;
            }
            match highest.insert((t.meter.as_str(), t.key_id), c) {
                Some(h) if c <= h => return false,
                _ => {}
            }
        }
        true
    }

    /// The optimistic path missed: back off.
    pub fn missed(&mut self) {
        self.backoff = BACKOFF;
    }

    /// A batch committed: remember its keys.
    pub fn committed(&mut self, b: &Batch) {
        if self.keys.len() == KEPT {
            self.keys.pop_front();
        }
        self.keys.push_back(b.telegrams.iter().map(|t| t.dedup_key).collect());
    }
}
