//! The SQLite store (issue 15 §3, the embedded default): WAL, `synchronous=NORMAL`, prepared
//! (cached) statements, one `BEGIN IMMEDIATE` transaction per batch, `INSERT OR IGNORE` and
//! upserts so that writing a batch twice changes nothing, migrations by `schema_version`.
//!
//! Decisions per telegram of a batch, in batch order (the database is the arbiter, so two
//! processes writing one file stay correct: `BEGIN IMMEDIATE` serialises their batches):
//! 1. its key (or, for a frame key, the same frame's key in a neighbour bucket) has a stored
//!    reception within the window → **duplicate**: its receptions are added under that key
//!    (one indexed query for the three keys);
//! 2. else its counter is not above its meter's last counter for the key id → **replay**: one
//!    `rejected` row `replayed_counter` (EN 13757-7 7.5.8, as `meterlink::replay::CounterStore`);
//! 3. else `INSERT OR IGNORE` of the telegram finds its key stored already → duplicate;
//! 4. else **stored**: the telegram, its readings and receptions; `meters` and
//!    `meter_gateways` updated in memory ([`Summary`]).
//!
//! `meters` and `meter_gateways` are summaries, written by [`Store::flush`] (the writer calls it
//! every few batches or seconds and at shutdown; retention calls it before deleting telegrams):
//! their contents are as of the last flush. The replay check does not depend on them being
//! current: a counter key is `01 ‖ meter ‖ key id ‖ counter (BE)`, so the `telegrams` primary
//! key holds every meter's highest stored counter (one descending prefix probe), and a meter's
//! last counter is the greatest of `meters.last_counter`, that probe and this store's unflushed
//! summary whenever [`Known`] does not hold it. The telegram rows, committed in the batch's
//! transaction, stay the arbiter: a crash before a flush loses no replay protection.
//!
//! Step 1 is skipped when [`Known`] proves that neither the key nor a neighbour key is stored
//! (no telegram, hence no reception under it); the `INSERT OR IGNORE` of step 3 stays the
//! arbiter, and a telegram it finds stored goes through steps 1–3 after all. The proof holds
//! only while no other connection committed to the file (`PRAGMA data_version`, SQLite's
//! documented change counter); otherwise [`Known`] starts over from the file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Once};
use std::time::Duration;

use rusqlite::{ffi, params, CachedStatement as Statement, Connection, OptionalExtension, TransactionBehavior};

use super::schema::{self, key_bucket as bucket, neighbour_keys, rejected_key, KeyMap, KeySet};
use super::{Batch, ReadingRow, RejectedRow, Store, TelegramRow, WriteReport};
use super::checkpoint::Checkpointer;
use crate::error::ServiceError;

/// The connection settings of the store (the store benchmark's bare insert uses them too).
pub const PRAGMAS: &str =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=8192;";

/// A SQLite database file.
pub struct SqliteStore {
    conn: Connection,
    known: Known,
    /// Committed and not yet flushed to `meters` / `meter_gateways`.
    summary: Summary,
    /// WAL checkpoints on a thread of their own (dropped after `conn`: the last connection
    /// to close checkpoints and removes the WAL).
    checkpoint: Option<Checkpointer>,
}

/// Meters (and meter–gateway pairs) held unflushed before a write flushes by itself.
const SUMMARY_MAX: usize = 1 << 18;

/// `meters` and `meter_gateways` rows to upsert (both only move forward, as their SQL does),
/// by meter: one lookup (and one allocation) per meter rather than per row.
#[derive(Default)]
struct Summary {
    by_meter: HashMap<String, MeterRows>,
    /// Rows held (the bound).
    rows: usize,
}

/// What a batch adds to the summary, by index into the batch (no copies, no lookups while
/// the transaction is open); added only once it committed.
#[derive(Default)]
struct Seen {
    /// (telegram, its counter, its latest reception) of each stored telegram.
    meters: Vec<(usize, Option<u32>, i64)>,
    /// (telegram, reception) of each stored reception.
    gateways: Vec<(usize, usize)>,
}

/// One meter's rows.
#[derive(Default)]
struct MeterRows {
    /// (key id, last counter, last seen).
    ids: Vec<(u8, Option<u32>, i64)>,
    /// (gateway, last seen, its RSSI).
    gateways: Vec<(Arc<str>, i64, Option<f32>)>,
}

impl Summary {
    /// Apply `f` to the meter's rows (one hash lookup when it is held; `f` returns the rows it
    /// added).
    fn with_rows(&mut self, meter: &str, f: impl FnOnce(&mut MeterRows) -> usize) {
        if let Some(rows) = self.by_meter.get_mut(meter) {
            self.rows += f(rows);
            return;
        }
        let mut rows = MeterRows::default();
        self.rows += f(&mut rows);
        self.by_meter.insert(meter.to_string(), rows);
    }

    fn meter(&mut self, meter: &str, key_id: u8, counter: Option<u32>, seen: i64) {
        self.with_rows(meter, |rows| match rows.ids.iter_mut().find(|e| e.0 == key_id) {
            Some(e) => {
                *e = (key_id, e.1.max(counter), e.2.max(seen));
                0
            }
            None => {
                rows.ids.push((key_id, counter, seen));
                1
            }
        });
    }

    fn gateway(&mut self, meter: &str, gateway: &Arc<str>, at: i64, rssi: Option<f32>) {
        self.with_rows(meter, |rows| match rows.gateways.iter_mut().find(|e| e.0 == *gateway) {
            Some(e) => {
                if at >= e.1 {
                    *e = (gateway.clone(), at, rssi);
                }
                0
            }
            None => {
                rows.gateways.push((gateway.clone(), at, rssi));
                1
            }
        });
    }

    /// A committed batch's rows (`seen` indexes into it).
    fn add(&mut self, batch: &Batch, seen: &Seen) {
        for &(ti, counter, at) in &seen.meters {
            let t = &batch.telegrams[ti];
            self.meter(&t.meter, t.key_id, counter, at);
        }
        for &(ti, ri) in &seen.gateways {
            let r = &batch.receptions[ri];
            self.gateway(&batch.telegrams[ti].meter, &r.gateway, r.received_at_ms, r.rssi);
        }
    }

    /// The counter held for (meter, key id).
    fn counter(&self, meter: &str, key_id: u8) -> Option<u32> {
        self.by_meter.get(meter).and_then(|r| r.ids.iter().find(|e| e.0 == key_id)).and_then(|e| e.1)
    }

    fn len(&self) -> usize {
        self.rows
    }

    /// Upsert every row, in key order (neighbouring rows share B-tree pages).
    fn write(&self, tx: &Connection) -> rusqlite::Result<()> {
        let mut meters: Vec<_> = self.by_meter.iter().collect();
        meters.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut s = tx.prepare_cached(UPSERT_METER)?;
        for (meter, rows) in &meters {
            for (key_id, last, seen) in &rows.ids {
                s.execute(params![meter, key_id, last, seen])?;
            }
        }
        let mut s = tx.prepare_cached(UPSERT_GATEWAY)?;
        for (meter, rows) in &meters {
            for (gateway, at, rssi) in &rows.gateways {
                s.execute(params![meter, &**gateway, rssi, at])?;
            }
        }
        Ok(())
    }
}

const UPSERT_METER: &str = "INSERT INTO meters (meter, key_id, last_counter, last_seen_ms) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (meter, key_id) DO UPDATE SET \
     last_counter = MAX(COALESCE(meters.last_counter, excluded.last_counter), COALESCE(excluded.last_counter, meters.last_counter)), \
     last_seen_ms = MAX(meters.last_seen_ms, excluded.last_seen_ms)";

const UPSERT_GATEWAY: &str = "INSERT INTO meter_gateways (meter, gateway, rssi, last_seen_ms) VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (meter, gateway) DO UPDATE SET rssi = excluded.rssi, last_seen_ms = excluded.last_seen_ms \
     WHERE excluded.last_seen_ms >= meter_gateways.last_seen_ms";

/// Entries [`Known`] holds before it forgets (each is one key or one meter: ~100 bytes).
const KNOWN_MAX: usize = 1 << 20;

/// What this connection knows of the file while no other connection writes to it: which frame
/// keys may be stored (buckets up to `floor`, and `keys`), and the last counters of meters.
#[derive(Default)]
struct Known {
    /// `PRAGMA data_version` when this was last valid; `None`: start over.
    data_version: Option<i64>,
    /// Frame keys of buckets ≤ `floor` may be stored (`None`: no frame key below `keys`').
    floor: Option<u32>,
    /// Frame keys this connection stored above `floor`.
    keys: KeySet,
    /// Counter keys are proven absent through the meter's last counter (stored counters of a
    /// meter never exceed it: it is what this connection read, with the prefix probe, or wrote).
    counters: HashMap<(String, u8), Option<u32>>,
}

impl Known {
    /// True when no telegram is stored under the frame key `k`.
    fn frame_absent(&self, k: &[u8; 16]) -> bool {
        self.data_version.is_some() && self.floor.is_none_or(|f| bucket(k) > f) && !self.keys.contains(k)
    }

    /// A frame key was stored; past [`KNOWN_MAX`] the keys are forgotten and `floor` rises.
    fn stored_frame(&mut self, k: [u8; 16]) {
        if self.keys.len() >= KNOWN_MAX {
            let top = self.keys.iter().map(bucket).max();
            self.floor = self.floor.max(top);
            self.keys.clear();
        }
        self.keys.insert(k);
    }

    /// Check `PRAGMA data_version` (inside the write transaction); start over from the file
    /// when another connection committed since (or after a failed write).
    fn refresh(&mut self, tx: &Connection) -> rusqlite::Result<()> {
        let v: i64 = tx.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if self.data_version == Some(v) {
            return Ok(());
        }
        // Keys begin `02 ‖ bucket`: the greatest frame key holds the highest stored bucket.
        let top: Option<Vec<u8>> = tx
            .query_row(
                "SELECT dedup_key FROM telegrams WHERE dedup_key >= x'02' AND dedup_key < x'03' ORDER BY dedup_key DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        *self = Known {
            data_version: Some(v),
            floor: top.and_then(|k| k.get(1..5).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
            ..Known::default()
        };
        Ok(())
    }
}

/// `SQLITE_CONFIG_MEMSTATUS` off, once, before the first connection: memory statistics take a
/// process-wide mutex on every allocation (~7 % of the store thread); the service reads none.
fn memstatus_off() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config before sqlite3_initialize, as its documentation requires;
        // once initialised it returns SQLITE_MISUSE and changes nothing, which is harmless.
        unsafe {
            ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
}

/// How long a connection waits for another writer (the busy timeout), and for the switch to
/// WAL on a file another connection is opening.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Switch `conn`'s file to WAL, waiting while another connection holds it.
///
/// The busy timeout does not cover this: when two connections open a new (rollback-journal)
/// file at once, each holds a shared lock and wants the exclusive one the switch needs, and
/// SQLite returns `SQLITE_BUSY` at once instead of calling the busy handler, which could
/// deadlock ("sqlite3_busy_handler": "the busy handler is not invoked if ... a deadlock").
/// One of the two then gets the lock once the other gave up its shared one, so trying again
/// after a short sleep settles it.
fn set_wal(conn: &Connection) -> Result<(), ServiceError> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            // A file SQLite cannot put in WAL (in memory, or a VFS without shared memory).
            Ok(mode) => return Err(ServiceError::Store(format!("sqlite: journal mode is {mode}, WAL is needed"))),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy && start.elapsed() < BUSY_TIMEOUT => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(err(e)),
        }
    }
}

fn err(e: rusqlite::Error) -> ServiceError {
    ServiceError::Store(format!("sqlite: {e}"))
}

/// What the store decided for one telegram.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Inserted.
    Stored,
    /// Already stored under this key (receptions go there).
    Duplicate([u8; 16]),
    /// A replayed counter.
    Replay,
}

impl SqliteStore {
    /// Open (create) `path` with the service's settings ([`PRAGMAS`]): WAL journal,
    /// `synchronous=NORMAL` (durable at checkpoints, never corrupt), a 64 MiB page cache, a 5 s
    /// busy timeout for a second writer, and checkpoints on a thread of their own
    /// (`store/checkpoint.rs`, which replaces the automatic checkpoint; decisions "Background
    /// checkpoints").
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        memstatus_off();
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        set_wal(&conn)?;
        conn.execute_batch(PRAGMAS).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(32);
        // Checkpoints in the background (replaces the automatic one: store/checkpoint.rs).
        let checkpoint = Some(Checkpointer::start(&conn, path).map_err(err)?);
        Ok(SqliteStore { conn, known: Known::default(), summary: Summary::default(), checkpoint })
    }

    /// The connection (tests and tools read the tables through it).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

impl Store for SqliteStore {
    fn migrate(&mut self) -> Result<(), ServiceError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        tx.execute_batch(schema::SCHEMA_VERSION_DDL).map_err(err)?;
        let have: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0)).map_err(err)?;
        if have > schema::SCHEMA_VERSION {
            return Err(ServiceError::Store(format!(
                "the database has schema version {have}, newer than this build's {}",
                schema::SCHEMA_VERSION
            )));
        }
        for script in &schema::SQLITE_MIGRATIONS[have as usize..] {
            tx.execute_batch(script).map_err(err)?;
        }
        if have < schema::SCHEMA_VERSION {
            tx.execute("DELETE FROM schema_version", []).map_err(err)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [schema::SCHEMA_VERSION]).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn write(&mut self, batch: &Batch, window_ms: i64) -> Result<WriteReport, ServiceError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let mut cx = Cx { known: &mut self.known, pending: &self.summary, seen: Seen::default() };
        let done = cx.known.refresh(&tx).and_then(|_| write_batch(&tx, batch, window_ms, &mut cx)).and_then(|r| tx.commit().map(|_| r));
        let seen = cx.seen;
        match done {
            Ok(report) => {
                if let Some(c) = &self.checkpoint {
                    c.committed(&self.conn);
                }
                // Committed: its summary joins the unflushed one.
                self.summary.add(batch, &seen);
                if self.summary.len() >= SUMMARY_MAX {
                    if let Err(e) = self.flush() {
                        tracing::warn!(error = %e, "flushing meters failed; kept in memory");
                    }
                }
                Ok(report)
            }
            Err(e) => {
                // Rolled back: what was learnt in it may be false.
                self.known = Known::default();
                Err(err(e))
            }
        }
    }

    fn flush(&mut self) -> Result<(), ServiceError> {
        if self.summary.rows == 0 {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        self.summary.write(&tx).and_then(|_| tx.commit()).map_err(err)?;
        self.summary = Summary::default();
        Ok(())
    }

    fn prune(&mut self, cutoff_ms: i64, limit: usize, after_meter: &str) -> Result<super::retention::Pruned, ServiceError> {
        super::retention::prune_sqlite(&mut self.conn, cutoff_ms, limit, after_meter)
    }

    fn telegram_times(&mut self, keys: &[[u8; 16]]) -> Result<Vec<Option<i64>>, ServiceError> {
        super::retention::telegram_times_sqlite(&self.conn, keys)
    }
}

impl Drop for SqliteStore {
    /// The unflushed summaries are written on the way out (a crash loses only them: see the
    /// module documentation).
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "flushing meters at close failed");
        }
    }
}

/// What a batch's decisions read and write besides the connection.
struct Cx<'a> {
    known: &'a mut Known,
    /// The store's unflushed summary (its counters are committed).
    pending: &'a Summary,
    /// This batch's summary rows, added to the store's after the commit.
    seen: Seen,
}

/// The earliest and latest reception time of each key in the batch.
fn reception_spans(batch: &Batch) -> KeyMap<(i64, i64, usize)> {
    let mut m: KeyMap<(i64, i64, usize)> = KeyMap::with_capacity_and_hasher(batch.telegrams.len(), Default::default());
    for (i, r) in batch.receptions.iter().enumerate() {
        let e = m.entry(r.dedup_key).or_insert((r.received_at_ms, r.received_at_ms, i));
        e.0 = e.0.min(r.received_at_ms);
        e.1 = e.1.max(r.received_at_ms);
    }
    m
}

/// Per (meter, key id) touched by this batch: the last counter (from [`Known`], else read from
/// `meters` once, the first time a telegram with a counter needs it), the latest time seen,
/// whether the counter was read. Kept in [`Known`] at the end.
type Counters = HashMap<(String, u8), (Option<u32>, i64, bool)>;

/// The per-telegram statements, prepared once per batch.
struct Stmts<'a> {
    window: Statement<'a>,
    telegram: Statement<'a>,
    counter: Statement<'a>,
    top: Statement<'a>,
}

fn write_batch(tx: &Connection, batch: &Batch, window_ms: i64, cx: &mut Cx) -> rusqlite::Result<WriteReport> {
    let spans = reception_spans(batch);
    let mut st = Stmts {
        window: tx.prepare_cached(
            "SELECT dedup_key FROM receptions WHERE dedup_key IN (?1, ?2, ?3) AND received_at_ms BETWEEN ?4 AND ?5 LIMIT 1",
        )?,
        telegram: tx.prepare_cached(INSERT_TELEGRAM)?,
        counter: tx.prepare_cached("SELECT last_counter FROM meters WHERE meter = ?1 AND key_id = ?2")?,
        top: tx.prepare_cached("SELECT dedup_key FROM telegrams WHERE dedup_key BETWEEN ?1 AND ?2 ORDER BY dedup_key DESC LIMIT 1")?,
    };
    let mut counters: Counters = HashMap::new();
    let mut outcomes: KeyMap<(Outcome, usize)> = KeyMap::with_capacity_and_hasher(batch.telegrams.len(), Default::default());
    let mut report = WriteReport::default();
    let mut replays: Vec<RejectedRow> = Vec::new();
    for (ti, t) in batch.telegrams.iter().enumerate() {
        let span = spans.get(&t.dedup_key).map_or((t.received_at_ms, t.received_at_ms), |s| (s.0, s.1));
        let outcome = decide(&mut st, t, span, window_ms, &mut counters, cx)?;
        match outcome {
            Outcome::Stored => {
                report.stored += 1;
                cx.seen.meters.push((ti, t.counter, span.1));
            }
            Outcome::Duplicate(_) => report.duplicates += 1,
            Outcome::Replay => {
                let first = spans.get(&t.dedup_key).map(|s| &batch.receptions[s.2]);
                replays.push(replay_row(t, first));
                report.replays += 1;
            }
        }
        outcomes.insert(t.dedup_key, (outcome, ti));
    }
    drop(st);
    insert_readings(tx, &batch.readings, &outcomes)?;
    insert_receptions(tx, batch, &outcomes, &mut cx.seen)?;
    remember_counters(&counters, cx);
    for r in batch.rejected.iter().chain(&replays) {
        report.rejected += insert_rejected(tx, r)?;
    }
    Ok(report)
}

/// True when [`Known`] proves that no reception is stored under the key or its neighbour keys
/// (no telegram is), so step 1 can be skipped.
fn proven_new(st: &mut Stmts, t: &TelegramRow, counters: &mut Counters, cx: &Cx) -> rusqlite::Result<bool> {
    let known = &cx.known;
    if t.dedup_key[0] == schema::KEY_FRAME {
        return Ok(known.frame_absent(&t.dedup_key) && schema::neighbours(&t.dedup_key).all(|n| known.frame_absent(&n)));
    }
    // A counter key above the meter's last counter is not stored (nor are its receptions).
    match t.counter {
        Some(c) if known.data_version.is_some() && t.dedup_key[0] == schema::KEY_COUNTER => {
            Ok(last_counter(st, counters, cx, t)?.is_none_or(|l| c > l))
        }
        _ => Ok(false),
    }
}

/// Steps 1–4 of the module documentation for one telegram (inserting it when stored).
fn decide(st: &mut Stmts, t: &TelegramRow, span: (i64, i64), window_ms: i64, counters: &mut Counters, cx: &mut Cx) -> rusqlite::Result<Outcome> {
    let mut checked = false;
    if !proven_new(st, t, counters, cx)? {
        checked = true;
        if let Some(k) = reception_within(&mut st.window, &t.dedup_key, span.0 - window_ms, span.1 + window_ms)? {
            return Ok(Outcome::Duplicate(k));
        }
    }
    if let Some(c) = t.counter {
        if last_counter(st, counters, cx, t)?.is_some_and(|l| c <= l) {
            return Ok(Outcome::Replay);
        }
    }
    if !insert_telegram(&mut st.telegram, t)? {
        // Stored after all (the proof's premise failed): decide it the long way.
        if !checked {
            if let Some(k) = reception_within(&mut st.window, &t.dedup_key, span.0 - window_ms, span.1 + window_ms)? {
                return Ok(Outcome::Duplicate(k));
            }
        }
        return Ok(Outcome::Duplicate(t.dedup_key));
    }
    if t.dedup_key[0] == schema::KEY_FRAME {
        cx.known.stored_frame(t.dedup_key);
    }
    if t.counter.is_none() {
        return Ok(Outcome::Stored);
    }
    let e = counters.entry((t.meter.clone(), t.key_id)).or_insert((None, i64::MIN, false));
    e.0 = t.counter.or(e.0);
    e.1 = e.1.max(span.1);
    Ok(Outcome::Stored)
}

/// A key (own or a neighbour bucket's) with a reception in `from..=to`, if any (no sort: when
/// both have one, which takes the receptions does not matter).
fn reception_within(s: &mut Statement, key: &[u8; 16], from: i64, to: i64) -> rusqlite::Result<Option<[u8; 16]>> {
    let n = neighbour_keys(key);
    let (a, b) = match n.as_slice() {
        [a, b] => (*a, *b),
        [a] => (*a, *a),
        _ => (*key, *key),
    };
    let k: Option<Vec<u8>> = s.query_row(params![&key[..], &a[..], &b[..], from, to], |r| r.get(0)).optional()?;
    Ok(k.and_then(|k| k.try_into().ok()))
}

/// The last counter of the telegram's (meter, key id), from the batch's map, [`Known`], or
/// else the greatest of `meters`, the unflushed summary and the highest counter key stored.
fn last_counter(st: &mut Stmts, counters: &mut Counters, cx: &Cx, t: &TelegramRow) -> rusqlite::Result<Option<u32>> {
    let (meter, key_id) = (t.meter.as_str(), t.key_id);
    let e = counters.entry((meter.to_string(), key_id)).or_insert((None, i64::MIN, false));
    if !e.2 {
        let stored = match cx.known.counters.get(&(meter.to_string(), key_id)) {
            Some(c) => *c,
            None => {
                let table = st.counter.query_row(params![meter, key_id], |r| r.get::<_, Option<i64>>(0)).optional()?.flatten().map(|c| c as u32);
                table.max(cx.pending.counter(meter, key_id)).max(top_counter(&mut st.top, &t.dedup_key)?)
            }
        };
        e.0 = e.0.max(stored);
        e.2 = true;
    }
    Ok(e.0)
}

/// The highest counter stored under a counter key's meter and key id (`01 ‖ meter ‖ key id`
/// prefix): one descending probe of the `telegrams` primary key.
fn top_counter(s: &mut Statement, key: &[u8; 16]) -> rusqlite::Result<Option<u32>> {
    if key[0] != schema::KEY_COUNTER {
        return Ok(None);
    }
    let (mut lo, mut hi) = (*key, *key);
    lo[11..].fill(0);
    hi[11..].fill(0xff);
    let top: Option<Vec<u8>> = s.query_row(params![&lo[..], &hi[..]], |r| r.get(0)).optional()?;
    Ok(top.and_then(|k| Some(u32::from_be_bytes(k.get(11..15)?.try_into().ok()?))))
}

const INSERT_TELEGRAM: &str = "INSERT OR IGNORE INTO telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// True when the row is new.
fn insert_telegram(s: &mut Statement, t: &TelegramRow) -> rusqlite::Result<bool> {
    let n = s.execute(params![
        &t.dedup_key[..],
        t.meter,
        t.device_type,
        t.key_id,
        t.counter,
        t.access_number,
        t.status,
        t.integrity,
        t.protocol,
        t.received_at_ms,
        t.frame,
        &*t.worker
    ])?;
    Ok(n == 1)
}

fn insert_readings(tx: &Connection, readings: &[ReadingRow], outcomes: &KeyMap<(Outcome, usize)>) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO readings (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    // In key order: the inserts walk the primary key's B-tree forwards instead of landing at
    // random places in the batch's buckets (the order does not change what is stored).
    let mut rows: Vec<&ReadingRow> = readings.iter().filter(|r| matches!(outcomes.get(&r.dedup_key), Some((Outcome::Stored, _)))).collect();
    rows.sort_unstable_by_key(|r| (r.dedup_key, r.idx));
    for r in rows {
        s.execute(params![
            &r.dedup_key[..],
            r.idx,
            r.quantity,
            r.unit,
            r.value,
            r.text,
            r.storage as i64,
            r.tariff,
            r.subunit,
            r.function,
            r.time_ms
        ])?;
    }
    Ok(())
}

/// Receptions of stored and duplicate telegrams (under the key they are stored by), and the
/// per-gateway RSSI of their meters.
fn insert_receptions(tx: &Connection, batch: &Batch, outcomes: &KeyMap<(Outcome, usize)>, seen: &mut Seen) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO receptions (dedup_key, gateway, intake, received_at_ms, rssi) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut rows = Vec::with_capacity(batch.receptions.len());
    for (ri, r) in batch.receptions.iter().enumerate() {
        let (key, ti) = match outcomes.get(&r.dedup_key) {
            Some((Outcome::Stored, ti)) => (r.dedup_key, *ti),
            Some((Outcome::Duplicate(k), ti)) => (*k, *ti),
            _ => continue,
        };
        seen.gateways.push((ti, ri));
        rows.push((key, r));
    }
    // In key order, as the readings.
    rows.sort_unstable_by(|a, b| (a.0, &a.1.gateway, a.1.received_at_ms).cmp(&(b.0, &b.1.gateway, b.1.received_at_ms)));
    for (key, r) in rows {
        s.execute(params![&key[..], &*r.gateway, &*r.intake, r.received_at_ms, r.rssi])?;
    }
    Ok(())
}

/// The counters read or written go into [`Known`] (the greater of the two, as `meters` keeps).
fn remember_counters(counters: &Counters, cx: &mut Cx) {
    let known = &mut cx.known;
    if known.counters.len() + counters.len() > KNOWN_MAX {
        known.counters.clear();
    }
    for ((meter, key_id), (last, _, read)) in counters {
        if *read {
            let k = known.counters.entry((meter.clone(), *key_id)).or_insert(*last);
            *k = (*k).max(*last);
        }
    }
}

fn replay_row(t: &TelegramRow, first: Option<&super::ReceptionRow>) -> RejectedRow {
    RejectedRow {
        received_at_ms: t.received_at_ms,
        gateway: first.map_or_else(|| t.worker.clone(), |r| r.gateway.clone()),
        intake: first.map_or_else(|| t.worker.clone(), |r| r.intake.clone()),
        code: "replayed_counter",
        reason: format!(
            "replayed counter: {} {} (key ID {}) sent counter {}, not above the last accepted one",
            t.protocol,
            t.meter,
            t.key_id,
            t.counter.unwrap_or(0)
        ),
        offset: None,
        meter: Some(t.meter.clone()),
        frame: t.frame.clone(),
    }
}

/// 1 when the row is new.
fn insert_rejected(tx: &Connection, r: &RejectedRow) -> rusqlite::Result<usize> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO rejected (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    s.execute(params![&rejected_key(r)[..], r.received_at_ms, &*r.gateway, &*r.intake, r.code, r.reason, r.offset, r.meter, r.frame])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::schema::{counter_key, frame_hash, frame_key};
    use crate::store::ReceptionRow;

    fn batch(key: [u8; 16], meter: &str, counter: Option<u32>, at: i64) -> Batch {
        let gw: Arc<str> = "gw".into();
        let telegram = TelegramRow {
            dedup_key: key,
            meter: meter.into(),
            device_type: Some(7),
            key_id: 0,
            counter,
            access_number: None,
            status: None,
            integrity: "decrypted",
            protocol: "mbus",
            received_at_ms: at,
            frame: b"frame".to_vec(),
            worker: gw.clone(),
        };
        let rx = ReceptionRow { dedup_key: key, gateway: gw.clone(), intake: gw, received_at_ms: at, rssi: None };
        Batch { telegrams: vec![telegram], receptions: vec![rx], ..Batch::default() }
    }

    /// Connections opening one new file at once all get it in WAL (the switch's lock conflict
    /// returns SQLITE_BUSY without the busy handler: `set_wal`). Before `set_wal`, two services
    /// started together failed "database is locked" in about one start in five.
    #[test]
    fn stores_opening_one_new_file_at_once_all_open() {
        let dir = std::env::temp_dir().join(format!("mlsq-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for round in 0..20 {
            let path = dir.join(format!("r{round}.db"));
            let gate = std::sync::Barrier::new(4);
            let opened: Vec<Result<(), String>> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            gate.wait();
                            let mut store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
                            store.migrate().map_err(|e| e.to_string())
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap()).collect()
            });
            assert!(opened.iter().all(Result::is_ok), "round {round}: {opened:?}");
            let mode: String = Connection::open(&path).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
            assert_eq!(mode, "wal");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    fn two_stores(name: &str) -> (SqliteStore, SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("mlsq-known-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut a = SqliteStore::open(&dir.join("t.db")).unwrap();
        a.migrate().unwrap();
        let mut b = SqliteStore::open(&dir.join("t.db")).unwrap();
        b.migrate().unwrap();
        (a, b, dir)
    }

    /// Another connection's commit (a second process on the file) invalidates what this one
    /// knows: the neighbour-bucket key it stored makes this telegram a duplicate.
    #[test]
    fn another_connections_frame_key_is_seen() {
        let (mut a, mut b, dir) = two_stores("frame");
        let h = frame_hash(b"same bytes");
        // B learns the file first (its cache is valid and holds nothing near bucket 11).
        assert_eq!(b.write(&batch(frame_key(&[1; 11], 0, 10_000), "X", None, 0), 10_000).unwrap().stored, 1);
        assert_eq!(a.write(&batch(frame_key(&h, 109_000, 10_000), "M", None, 109_000), 10_000).unwrap().stored, 1);
        let r = b.write(&batch(frame_key(&h, 111_000, 10_000), "M", None, 111_000), 10_000).unwrap();
        assert_eq!((r.stored, r.duplicates), (0, 1));
        std::fs::remove_dir_all(dir).ok();
    }

    /// A counter another connection stored is a replay here, not a new telegram.
    #[test]
    fn another_connections_counter_is_seen() {
        let (mut a, mut b, dir) = two_stores("counter");
        let key = |c| counter_key([1; 9], 0, c);
        assert_eq!(b.write(&batch(key(5), "M", Some(5), 0), 10_000).unwrap().stored, 1);
        assert_eq!(a.write(&batch(key(7), "M", Some(7), 1_000), 10_000).unwrap().stored, 1);
        let r = b.write(&batch(key(7), "M", Some(7), 3_600_000), 10_000).unwrap();
        assert_eq!((r.stored, r.duplicates, r.replays), (0, 0, 1));
        // And this connection's own knowledge: 8 is new, 8 again an hour later a replay.
        assert_eq!(b.write(&batch(key(8), "M", Some(8), 3_700_000), 10_000).unwrap().stored, 1);
        assert_eq!(b.write(&batch(key(8), "M", Some(8), 7_300_000), 10_000).unwrap().replays, 1);
        std::fs::remove_dir_all(dir).ok();
    }

    fn last_counter_in_table(s: &SqliteStore) -> Option<i64> {
        s.connection().query_row("SELECT last_counter FROM meters WHERE meter = 'M'", [], |r| r.get(0)).optional().unwrap().flatten()
    }

    /// A crash after commits but before the summary's flush leaves `meters` stale; a restarted
    /// store still rejects the replays (the highest counter key stored decides), and `meters`
    /// catches up at its own flush.
    #[test]
    fn no_replay_slips_through_a_stale_meters_table() {
        let (mut a, b, dir) = two_stores("stale");
        drop(b);
        let key = |c| counter_key([1; 9], 0, c);
        assert_eq!(a.write(&batch(key(3), "M", Some(3), 0), 10_000).unwrap().stored, 1);
        a.flush().unwrap();
        assert_eq!(last_counter_in_table(&a), Some(3));
        assert_eq!(a.write(&batch(key(9), "M", Some(9), 900_000), 10_000).unwrap().stored, 1);
        assert_eq!(last_counter_in_table(&a), Some(3), "not flushed yet");
        // kill -9: no flush, no drop.
        std::mem::forget(a);
        let mut c = SqliteStore::open(&dir.join("t.db")).unwrap();
        c.migrate().unwrap();
        assert_eq!(last_counter_in_table(&c), Some(3), "meters is stale");
        for replayed in [9, 7] {
            let r = c.write(&batch(key(replayed), "M", Some(replayed), 3_600_000), 10_000).unwrap();
            assert_eq!((r.stored, r.duplicates, r.replays), (0, 0, 1), "counter {replayed}");
        }
        // A redelivery of the last telegram within the window is a duplicate, not a replay.
        let r = c.write(&batch(key(9), "M", Some(9), 905_000), 10_000).unwrap();
        assert_eq!((r.stored, r.duplicates, r.replays), (0, 1, 0));
        assert_eq!(c.write(&batch(key(10), "M", Some(10), 3_700_000), 10_000).unwrap().stored, 1);
        c.flush().unwrap();
        assert_eq!(last_counter_in_table(&c), Some(10));
        std::fs::remove_dir_all(dir).ok();
    }

    /// The summary is written at close and its rows only move forward.
    #[test]
    fn summary_is_flushed_at_close_and_moves_forward() {
        let (mut a, b, dir) = two_stores("close");
        drop(b);
        let key = |c| counter_key([1; 9], 0, c);
        a.write(&batch(key(4), "M", Some(4), 2_000), 10_000).unwrap();
        a.write(&batch(key(2), "M", Some(2), 1_000), 10_000).unwrap();
        a.write(&batch(frame_key(&[5; 11], 5_000, 10_000), "M", None, 5_000), 10_000).unwrap();
        drop(a);
        let c = SqliteStore::open(&dir.join("t.db")).unwrap();
        let row: (Option<i64>, i64) = c.connection().query_row("SELECT last_counter, last_seen_ms FROM meters WHERE meter = 'M'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(row, (Some(4), 5_000));
        let gw: i64 = c.connection().query_row("SELECT last_seen_ms FROM meter_gateways WHERE meter = 'M' AND gateway = 'gw'", [], |r| r.get(0)).unwrap();
        assert_eq!(gw, 5_000);
        std::fs::remove_dir_all(dir).ok();
    }
}
