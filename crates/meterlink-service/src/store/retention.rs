//! Retention (issue 15 §1 "retention", `[store] retention_days`) and the post-commit lookup of
//! the Parquet sink and the per-gateway metrics, for both databases.
//!
//! [`Retention`] runs inside the writer thread, between batches, so a prune never races with a
//! write of the same worker (decisions "Retention"). Each step walks the next `limit` meters of
//! `meters` and deletes at most `limit` of their telegrams older than the cut-off (with their
//! `readings` and `receptions`) and at most `limit` old `rejected` rows, in one short
//! transaction, through indexes only: no table is scanned or locked for minutes, and the next
//! batch waits for one step at most. `meters` and `meter_gateways` are never pruned: `meters.last_counter`
//! is the replay floor, so a replay of a pruned telegram's counter is still rejected.

use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::Store;
use crate::error::ServiceError;

/// What one prune step did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Telegrams deleted (their readings and receptions went with them).
    pub telegrams: usize,
    /// `rejected` rows deleted.
    pub rejected: usize,
    /// Where the walk over meters goes on (the `after_meter` of the next step); `None` when
    /// this step reached the last meter and found no more to delete.
    pub next_meter: Option<String>,
}

/// Rows per prune step (per table, and meters examined): one step is a few milliseconds of
/// the writer's time.
pub const PRUNE_CHUNK: usize = 5_000;

/// A prune run every hour (and at start) ...
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// ... or every quarter of a shorter retention period, but not more often than this.
pub const PRUNE_EVERY_MIN: Duration = Duration::from_secs(60);

/// The cursor after a step over `page_len` meters ending at `last` that deleted `deleted`
/// telegrams: the same page again while a chunk came back full, the next page after a full
/// page, the end of the walk after a short one.
fn next_meter(after: &str, page_len: usize, last: Option<String>, deleted: usize, limit: usize) -> Option<String> {
    if deleted >= limit {
        Some(after.to_string())
    } else if page_len >= limit {
        last
    } else {
        None
    }
}

/// SQLite: one step in one transaction (decisions "Retention"): the next `limit` meters after
/// `after_meter` (from `meters`, in order), up to `limit` of their telegrams older than the
/// cut-off through the `(meter, received_at_ms)` index — never a scan of `telegrams` — with
/// their readings and receptions; up to `limit` old `rejected` rows (time index).
pub fn prune_sqlite(conn: &mut Connection, cutoff_ms: i64, limit: usize, after_meter: &str) -> Result<Pruned, ServiceError> {
    let err = |e: rusqlite::Error| ServiceError::Store(format!("sqlite prune: {e}"));
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS prune_keys (k BLOB PRIMARY KEY) WITHOUT ROWID;
         CREATE TEMP TABLE IF NOT EXISTS prune_meters (meter TEXT PRIMARY KEY) WITHOUT ROWID;
         DELETE FROM prune_keys; DELETE FROM prune_meters;",
    )
    .map_err(err)?;
    let page_len = tx
        .execute("INSERT INTO prune_meters SELECT DISTINCT meter FROM meters WHERE meter > ?1 ORDER BY meter LIMIT ?2", params![after_meter, limit as i64])
        .map_err(err)?;
    let last: Option<String> = tx.query_row("SELECT max(meter) FROM prune_meters", [], |r| r.get(0)).map_err(err)?;
    // CROSS JOIN: the page is the outer loop, each meter one range probe of the index.
    let telegrams = tx
        .execute(
            "INSERT INTO prune_keys SELECT t.dedup_key FROM prune_meters m CROSS JOIN telegrams t \
             WHERE t.meter = m.meter AND t.received_at_ms < ?1 LIMIT ?2",
            params![cutoff_ms, limit as i64],
        )
        .map_err(err)?;
    if telegrams > 0 {
        tx.execute_batch(
            "DELETE FROM readings WHERE dedup_key IN (SELECT k FROM prune_keys);
             DELETE FROM receptions WHERE dedup_key IN (SELECT k FROM prune_keys);
             DELETE FROM telegrams WHERE dedup_key IN (SELECT k FROM prune_keys);",
        )
        .map_err(err)?;
    }
    let rejected = tx
        .execute(
            "DELETE FROM rejected WHERE reject_key IN (SELECT reject_key FROM rejected WHERE received_at_ms < ?1 LIMIT ?2)",
            params![cutoff_ms, limit as i64],
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(Pruned { telegrams, rejected, next_meter: next_meter(after_meter, page_len, last, telegrams, limit) })
}

/// PostgreSQL: the page of meters of one step.
pub const PG_PRUNE_METERS: &str = "SELECT DISTINCT meter FROM meters WHERE meter > $1 ORDER BY meter LIMIT $2";

/// PostgreSQL: the page's old telegrams, each meter one range probe of the
/// `(meter, received_at_ms)` index, with their readings and receptions.
pub const PG_PRUNE_TELEGRAMS: &str = "
WITH k AS (SELECT x.dedup_key FROM unnest($3::text[]) AS m(meter) CROSS JOIN LATERAL
               (SELECT t.dedup_key FROM telegrams t WHERE t.meter = m.meter AND t.received_at_ms < $1 LIMIT $2) x
           LIMIT $2),
     r AS (DELETE FROM readings WHERE dedup_key IN (SELECT dedup_key FROM k)),
     c AS (DELETE FROM receptions WHERE dedup_key IN (SELECT dedup_key FROM k))
DELETE FROM telegrams WHERE dedup_key IN (SELECT dedup_key FROM k)";

/// PostgreSQL: one chunk of `rejected` (its time index finds them). `SKIP LOCKED`: two workers
/// pruning at once take different rows instead of waiting on each other.
pub const PG_PRUNE_REJECTED: &str = "
DELETE FROM rejected WHERE reject_key IN
    (SELECT reject_key FROM rejected WHERE received_at_ms < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// PostgreSQL: one step in one transaction, on the store's own runtime and client.
pub fn prune_postgres(rt: &tokio::runtime::Runtime, client: &mut tokio_postgres::Client, cutoff_ms: i64, limit: usize, after_meter: &str) -> Result<Pruned, ServiceError> {
    let lim = limit as i64;
    rt.block_on(async {
        let tx = client.transaction().await?;
        let page: Vec<String> = tx.query(PG_PRUNE_METERS, &[&after_meter, &lim]).await?.iter().map(|r| r.get(0)).collect();
        let telegrams = if page.is_empty() { 0 } else { tx.execute(PG_PRUNE_TELEGRAMS, &[&cutoff_ms, &lim, &page]).await? as usize };
        let rejected = tx.execute(PG_PRUNE_REJECTED, &[&cutoff_ms, &lim]).await? as usize;
        tx.commit().await?;
        let next = next_meter(after_meter, page.len(), page.last().cloned(), telegrams, limit);
        Ok(Pruned { telegrams, rejected, next_meter: next })
    })
    .map_err(|e: tokio_postgres::Error| ServiceError::Store(format!("postgres prune: {e}")))
}

/// SQLite: `received_at_ms` of the stored telegram of each key (`None`: not stored).
pub fn telegram_times_sqlite(conn: &Connection, keys: &[[u8; 16]]) -> Result<Vec<Option<i64>>, ServiceError> {
    let err = |e: rusqlite::Error| ServiceError::Store(format!("sqlite lookup: {e}"));
    let mut s = conn.prepare_cached("SELECT received_at_ms FROM telegrams WHERE dedup_key = ?1").map_err(err)?;
    keys.iter()
        .map(|k| {
            let mut rows = s.query([&k[..]])?;
            rows.next()?.map(|r| r.get(0)).transpose()
        })
        .collect::<rusqlite::Result<_>>()
        .map_err(err)
}

/// PostgreSQL: the same in one round trip.
pub fn telegram_times_postgres(rt: &tokio::runtime::Runtime, client: &mut tokio_postgres::Client, keys: &[[u8; 16]]) -> Result<Vec<Option<i64>>, ServiceError> {
    let arr: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
    let rows = rt
        .block_on(client.query("SELECT dedup_key, received_at_ms FROM telegrams WHERE dedup_key = ANY($1)", &[&arr]))
        .map_err(|e| ServiceError::Store(format!("postgres lookup: {e}")))?;
    let found: std::collections::HashMap<Vec<u8>, i64> = rows.iter().map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, i64>(1))).collect();
    Ok(keys.iter().map(|k| found.get(&k[..]).copied()).collect())
}

/// The retention schedule of one writer thread: a run at start and every [`Retention::every`],
/// each run a sequence of steps (one chunk each) interleaved with batches until a step finds
/// nothing more to delete.
pub struct Retention {
    keep: Duration,
    every: Duration,
    next_run: Instant,
    running: bool,
    /// The walk over meters: the last meter of the previous step.
    after_meter: String,
}

impl Retention {
    /// A schedule keeping rows for `keep` (`None`: keep everything): a run at start, then
    /// every [`PRUNE_EVERY`], or every quarter of a shorter `keep` (at least
    /// [`PRUNE_EVERY_MIN`] apart), so the database holds at most ~1.25 periods.
    pub fn new(keep: Option<Duration>) -> Option<Self> {
        let keep = keep.filter(|k| !k.is_zero())?;
        let every = (keep / 4).clamp(PRUNE_EVERY_MIN, PRUNE_EVERY);
        Some(Retention { keep, every, next_run: Instant::now(), running: false, after_meter: String::new() })
    }

    /// How often a run starts.
    pub fn every(&self) -> Duration {
        self.every
    }

    /// The cut-off: rows received before it are deleted (Unix ms).
    pub fn cutoff_ms(&self, now_ms: i64) -> i64 {
        now_ms - self.keep.as_millis() as i64
    }

    /// Whether a step is due now.
    pub fn due(&self) -> bool {
        self.running || Instant::now() >= self.next_run
    }

    /// How long until the next step is due (zero while a run is in progress).
    pub fn wait(&self) -> Duration {
        if self.running {
            Duration::ZERO
        } else {
            self.next_run.saturating_duration_since(Instant::now())
        }
    }

    /// Run one step when due; returns what it deleted (`None`: nothing was due). A failed step
    /// is logged and the run ends (the next is an hour later).
    pub fn step(&mut self, store: &mut dyn Store, now_ms: i64) -> Option<Pruned> {
        if !self.due() {
            return None;
        }
        if !self.running {
            self.running = true;
            self.next_run = Instant::now() + self.every;
            self.after_meter.clear();
        }
        match store.prune(self.cutoff_ms(now_ms), PRUNE_CHUNK, &self.after_meter) {
            Ok(p) => {
                // Done when the walk over meters ended and the rejections came back short.
                self.running = p.next_meter.is_some() || p.rejected >= PRUNE_CHUNK;
                self.after_meter = p.next_meter.clone().unwrap_or_default();
                Some(p)
            }
            Err(e) => {
                tracing::warn!(error = %e, every_s = self.every.as_secs(), "retention: prune failed; trying again at the next run");
                self.running = false;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_hourly_or_every_quarter_of_a_short_period() {
        let r = |secs: u64| Retention::new(Some(Duration::from_secs(secs))).unwrap();
        assert_eq!(r(90 * 86_400).every(), PRUNE_EVERY);
        assert_eq!(r(2 * 3_600).every(), Duration::from_secs(1_800));
        assert_eq!(r(30 * 60).every(), Duration::from_secs(450));
        assert_eq!(r(120).every(), PRUNE_EVERY_MIN);
        assert!(Retention::new(None).is_none());
        assert!(Retention::new(Some(Duration::ZERO)).is_none());
    }

    #[test]
    fn the_cutoff_is_the_period_before_now() {
        let now = 1_750_000_000_000;
        assert_eq!(Retention::new(Some(Duration::from_secs(30 * 60))).unwrap().cutoff_ms(now), now - 1_800_000);
        assert_eq!(Retention::new(Some(Duration::from_secs(90 * 86_400))).unwrap().cutoff_ms(now), now - 7_776_000_000);
    }
}
