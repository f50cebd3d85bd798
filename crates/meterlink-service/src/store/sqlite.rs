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
//!    `meter_gateways` updated.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::schema::{self, neighbour_keys, rejected_key};
use super::{Batch, ReadingRow, RejectedRow, Store, TelegramRow, WriteReport};
use crate::error::ServiceError;

/// A SQLite database file.
pub struct SqliteStore {
    conn: Connection,
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
    /// Open (create) `path` with the service's settings: WAL journal, `synchronous=NORMAL`
    /// (durable at checkpoints, never corrupt), a 5 s busy timeout for a second writer.
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;",
        )
        .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(SqliteStore { conn })
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
        let report = write_batch(&tx, batch, window_ms).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(report)
    }
}

/// The earliest and latest reception time of each key in the batch.
fn reception_spans(batch: &Batch) -> HashMap<[u8; 16], (i64, i64, usize)> {
    let mut m: HashMap<[u8; 16], (i64, i64, usize)> = HashMap::with_capacity(batch.telegrams.len());
    for (i, r) in batch.receptions.iter().enumerate() {
        let e = m.entry(r.dedup_key).or_insert((r.received_at_ms, r.received_at_ms, i));
        e.0 = e.0.min(r.received_at_ms);
        e.1 = e.1.max(r.received_at_ms);
    }
    m
}

/// Per (meter, key id) touched by this batch: the last counter (read from `meters` once, the
/// first time a telegram with a counter needs it), the latest time seen, whether the counter
/// was read. Written back at the end (an upsert that only moves forward).
type Counters = HashMap<(String, u8), (Option<u32>, i64, bool)>;

fn write_batch(tx: &Connection, batch: &Batch, window_ms: i64) -> rusqlite::Result<WriteReport> {
    let spans = reception_spans(batch);
    let mut counters: Counters = HashMap::new();
    let mut outcomes: HashMap<[u8; 16], (Outcome, usize)> = HashMap::with_capacity(batch.telegrams.len());
    let mut report = WriteReport::default();
    let mut replays: Vec<RejectedRow> = Vec::new();
    for (ti, t) in batch.telegrams.iter().enumerate() {
        let span = spans.get(&t.dedup_key).map_or((t.received_at_ms, t.received_at_ms), |s| (s.0, s.1));
        let outcome = decide(tx, t, span, window_ms, &mut counters)?;
        match outcome {
            Outcome::Stored => report.stored += 1,
            Outcome::Duplicate(_) => report.duplicates += 1,
            Outcome::Replay => {
                let first = spans.get(&t.dedup_key).map(|s| &batch.receptions[s.2]);
                replays.push(replay_row(t, first));
                report.replays += 1;
            }
        }
        outcomes.insert(t.dedup_key, (outcome, ti));
    }
    insert_readings(tx, &batch.readings, &outcomes)?;
    insert_receptions(tx, batch, &outcomes)?;
    write_meters(tx, &counters)?;
    for r in batch.rejected.iter().chain(&replays) {
        report.rejected += insert_rejected(tx, r)?;
    }
    Ok(report)
}

/// Steps 1–4 of the module documentation for one telegram (inserting it when stored).
fn decide(tx: &Connection, t: &TelegramRow, span: (i64, i64), window_ms: i64, counters: &mut Counters) -> rusqlite::Result<Outcome> {
    if let Some(k) = reception_within(tx, &t.dedup_key, span.0 - window_ms, span.1 + window_ms)? {
        return Ok(Outcome::Duplicate(k));
    }
    if let Some(c) = t.counter {
        if last_counter(tx, counters, &t.meter, t.key_id)?.is_some_and(|l| c <= l) {
            return Ok(Outcome::Replay);
        }
    }
    if !insert_telegram(tx, t)? {
        return Ok(Outcome::Duplicate(t.dedup_key));
    }
    let e = counters.entry((t.meter.clone(), t.key_id)).or_insert((None, i64::MIN, false));
    e.0 = t.counter.or(e.0);
    e.1 = e.1.max(span.1);
    Ok(Outcome::Stored)
}

/// A key (own or a neighbour bucket's) with a reception in `from..=to`, if any (no sort: when
/// both have one, which takes the receptions does not matter).
fn reception_within(tx: &Connection, key: &[u8; 16], from: i64, to: i64) -> rusqlite::Result<Option<[u8; 16]>> {
    let n = neighbour_keys(key);
    let (a, b) = match n.as_slice() {
        [a, b] => (*a, *b),
        [a] => (*a, *a),
        _ => (*key, *key),
    };
    let mut s = tx.prepare_cached(
        "SELECT dedup_key FROM receptions WHERE dedup_key IN (?1, ?2, ?3) AND received_at_ms BETWEEN ?4 AND ?5 LIMIT 1",
    )?;
    let k: Option<Vec<u8>> = s.query_row(params![&key[..], &a[..], &b[..], from, to], |r| r.get(0)).optional()?;
    Ok(k.and_then(|k| k.try_into().ok()))
}

/// The last counter of (meter, key id), from the batch's cache or the `meters` table.
fn last_counter(tx: &Connection, counters: &mut Counters, meter: &str, key_id: u8) -> rusqlite::Result<Option<u32>> {
    let e = counters.entry((meter.to_string(), key_id)).or_insert((None, i64::MIN, false));
    if !e.2 {
        let mut s = tx.prepare_cached("SELECT last_counter FROM meters WHERE meter = ?1 AND key_id = ?2")?;
        let stored: Option<Option<i64>> = s.query_row(params![meter, key_id], |r| r.get(0)).optional()?;
        e.0 = e.0.max(stored.flatten().map(|c| c as u32));
        e.2 = true;
    }
    Ok(e.0)
}

/// True when the row is new.
fn insert_telegram(tx: &Connection, t: &TelegramRow) -> rusqlite::Result<bool> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
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

fn insert_readings(tx: &Connection, readings: &[ReadingRow], outcomes: &HashMap<[u8; 16], (Outcome, usize)>) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO readings (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for r in readings {
        if !matches!(outcomes.get(&r.dedup_key), Some((Outcome::Stored, _))) {
            continue;
        }
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
fn insert_receptions(tx: &Connection, batch: &Batch, outcomes: &HashMap<[u8; 16], (Outcome, usize)>) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO receptions (dedup_key, gateway, intake, received_at_ms, rssi) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut heard: HashMap<(&str, &str), (i64, Option<f32>)> = HashMap::new();
    for r in &batch.receptions {
        let (key, ti) = match outcomes.get(&r.dedup_key) {
            Some((Outcome::Stored, ti)) => (r.dedup_key, *ti),
            Some((Outcome::Duplicate(k), ti)) => (*k, *ti),
            _ => continue,
        };
        s.execute(params![&key[..], &*r.gateway, &*r.intake, r.received_at_ms, r.rssi])?;
        let e = heard.entry((batch.telegrams[ti].meter.as_str(), &*r.gateway)).or_insert((i64::MIN, None));
        if r.received_at_ms >= e.0 {
            *e = (r.received_at_ms, r.rssi);
        }
    }
    let mut g = tx.prepare_cached(
        "INSERT INTO meter_gateways (meter, gateway, rssi, last_seen_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (meter, gateway) DO UPDATE SET rssi = excluded.rssi, last_seen_ms = excluded.last_seen_ms \
         WHERE excluded.last_seen_ms >= meter_gateways.last_seen_ms",
    )?;
    for ((meter, gateway), (at, rssi)) in heard {
        g.execute(params![meter, gateway, rssi, at])?;
    }
    Ok(())
}

fn write_meters(tx: &Connection, counters: &Counters) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT INTO meters (meter, key_id, last_counter, last_seen_ms) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (meter, key_id) DO UPDATE SET \
         last_counter = MAX(COALESCE(meters.last_counter, excluded.last_counter), COALESCE(excluded.last_counter, meters.last_counter)), \
         last_seen_ms = MAX(meters.last_seen_ms, excluded.last_seen_ms)",
    )?;
    for ((meter, key_id), (last, seen, _)) in counters {
        if *seen == i64::MIN {
            continue;
        }
        s.execute(params![meter, key_id, last, seen])?;
    }
    Ok(())
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
