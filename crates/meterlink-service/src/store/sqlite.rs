//! The SQLite store (issue 15 §3, the embedded default): WAL, `synchronous=NORMAL`, prepared
//! (cached) statements, one `BEGIN IMMEDIATE` transaction per batch, `INSERT OR IGNORE` and
//! upserts so that writing a batch twice changes nothing, migrations by `schema_version`.
//!
//! Decisions per telegram of a batch, in batch order (the database is the arbiter, so two
//! processes writing one file stay correct: `BEGIN IMMEDIATE` serialises their batches):
//! 1. its key (or, for a frame key, the same frame's key in a neighbour bucket) is stored with a
//!    reception within the window → **duplicate**: its receptions are added under that key;
//! 2. else its counter is not above its meter's last counter for the key id → **replay**: one
//!    `rejected` row `replayed_counter` (EN 13757-7 7.5.8, as `meterlink::replay::CounterStore`);
//! 3. else its own key is stored already (a counter key outside the window: the same counter
//!    again, caught by 2 when `meters` has it) → duplicate;
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

/// Last counters per (meter, key id) touched by this batch: loaded once, updated as telegrams
/// are stored, written back at the end.
type Counters = HashMap<(String, u8), (Option<u32>, i64)>;

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
            Outcome::Stored => {
                insert_telegram(tx, t)?;
                report.stored += 1;
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
    insert_readings(tx, &batch.readings, &outcomes)?;
    insert_receptions(tx, batch, &outcomes)?;
    write_meters(tx, &counters)?;
    for r in batch.rejected.iter().chain(&replays) {
        report.rejected += insert_rejected(tx, r)?;
    }
    Ok(report)
}

/// Steps 1–4 of the module documentation for one telegram.
fn decide(tx: &Connection, t: &TelegramRow, span: (i64, i64), window_ms: i64, counters: &mut Counters) -> rusqlite::Result<Outcome> {
    let own_exists = telegram_exists(tx, &t.dedup_key)?;
    let candidates = std::iter::once(t.dedup_key).filter(|_| own_exists).chain(neighbour_keys(&t.dedup_key));
    for k in candidates {
        if reception_within(tx, &k, span.0 - window_ms, span.1 + window_ms)? {
            return Ok(Outcome::Duplicate(k));
        }
    }
    if let Some(c) = t.counter {
        let last = last_counter(tx, counters, &t.meter, t.key_id)?;
        if last.is_some_and(|l| c <= l) {
            return Ok(Outcome::Replay);
        }
        let e = counters.get_mut(&(t.meter.clone(), t.key_id)).expect("loaded above");
        e.0 = Some(c);
        e.1 = e.1.max(span.1);
    } else {
        note_seen(tx, counters, t, span.1)?;
    }
    if own_exists {
        return Ok(Outcome::Duplicate(t.dedup_key));
    }
    Ok(Outcome::Stored)
}

fn telegram_exists(tx: &Connection, key: &[u8; 16]) -> rusqlite::Result<bool> {
    let mut s = tx.prepare_cached("SELECT 1 FROM telegrams WHERE dedup_key = ?1")?;
    s.exists([&key[..]])
}

fn reception_within(tx: &Connection, key: &[u8; 16], from: i64, to: i64) -> rusqlite::Result<bool> {
    let mut s = tx.prepare_cached("SELECT 1 FROM receptions WHERE dedup_key = ?1 AND received_at_ms BETWEEN ?2 AND ?3 LIMIT 1")?;
    s.exists(params![&key[..], from, to])
}

/// The last counter of (meter, key id), from the batch's cache or the `meters` table.
fn last_counter(tx: &Connection, counters: &mut Counters, meter: &str, key_id: u8) -> rusqlite::Result<Option<u32>> {
    if let Some(e) = counters.get(&(meter.to_string(), key_id)) {
        return Ok(e.0);
    }
    let mut s = tx.prepare_cached("SELECT last_counter, last_seen_ms FROM meters WHERE meter = ?1 AND key_id = ?2")?;
    let row: Option<(Option<i64>, i64)> = s.query_row(params![meter, key_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let (last, seen) = row.map_or((None, i64::MIN), |(c, s)| (c.map(|c| c as u32), s));
    counters.insert((meter.to_string(), key_id), (last, seen));
    Ok(last)
}

/// A counter-less telegram: only `last_seen_ms` of its meter moves.
fn note_seen(tx: &Connection, counters: &mut Counters, t: &TelegramRow, at: i64) -> rusqlite::Result<()> {
    last_counter(tx, counters, &t.meter, t.key_id)?;
    let e = counters.get_mut(&(t.meter.clone(), t.key_id)).expect("loaded above");
    e.1 = e.1.max(at);
    Ok(())
}

fn insert_telegram(tx: &Connection, t: &TelegramRow) -> rusqlite::Result<()> {
    let mut s = tx.prepare_cached(
        "INSERT OR IGNORE INTO telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    s.execute(params![
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
    Ok(())
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
    for ((meter, key_id), (last, seen)) in counters {
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
