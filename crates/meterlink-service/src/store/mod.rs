//! Storage (issue 15 §3): one schema for SQLite and PostgreSQL, written one [`Batch`] per
//! transaction. The database is the arbiter of dedup and replay (unique keys and counter rows),
//! so several workers on one PostgreSQL stay correct; the pipeline's in-memory caches only save
//! round trips.
//!
//! Tables: `telegrams` (one row per accepted radio telegram), `receptions` (one per gateway
//! reception), `readings` (one per record), `rejected` (replays, decrypt failures, malformed
//! input: reason and code), `meters` (last seen, last counter per key id, per-gateway RSSI),
//! `schema_version`.
//!
//! CONTRACT (lead-owned): [`Store`], [`Batch`] and the row types. The SQLite worker writes
//! `sqlite.rs` and the shared DDL (`schema.rs`), the PostgreSQL worker `postgres.rs`.

pub mod postgres;
pub mod retention;

use std::sync::Arc;

use crate::error::ServiceError;

pub mod checkpoint;
pub mod schema;
pub mod sqlite;

/// An accepted telegram (before the store's dedup/replay decision).
#[derive(Clone, Debug, PartialEq)]
pub struct TelegramRow {
    /// The dedup key: `meter ‖ key id ‖ counter` where the telegram has a counter, else a hash of
    /// the CRC-stripped frame (see the pipeline); 16 bytes.
    pub dedup_key: [u8; 16],
    /// Meter identity text, e.g. `KAM12345678` (manufacturer + ID), or a DLMS system title.
    pub meter: String,
    /// Device type (M-Bus medium) where known.
    pub device_type: Option<u8>,
    /// Key id (configuration-field extension / DLMS key kind; 0 without one).
    pub key_id: u8,
    /// The replay counter (security-mode counter, AFL MCR, DSMR frame counter, DLMS invocation
    /// counter), where the telegram has one.
    pub counter: Option<u32>,
    /// Access number.
    pub access_number: Option<u8>,
    /// Status byte.
    pub status: Option<u8>,
    /// How its integrity was established: `mac`, `decrypted`, `clear`, `no_key`...
    pub integrity: &'static str,
    /// `mbus`, `dsmr`, `dlms`.
    pub protocol: &'static str,
    /// The earliest reception in the batch.
    pub received_at_ms: i64,
    /// The telegram as received (first reception).
    pub frame: Vec<u8>,
    /// The worker that stored it.
    pub worker: Arc<str>,
}

/// One reception of a telegram (of a stored or a duplicate one).
#[derive(Clone, Debug, PartialEq)]
pub struct ReceptionRow {
    /// The telegram's dedup key.
    pub dedup_key: [u8; 16],
    /// Gateway.
    pub gateway: Arc<str>,
    /// Intake.
    pub intake: Arc<str>,
    /// When (Unix ms).
    pub received_at_ms: i64,
    /// dBm.
    pub rssi: Option<f32>,
}

/// One record of a telegram.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadingRow {
    /// The telegram's dedup key.
    pub dedup_key: [u8; 16],
    /// Record index within the telegram.
    pub idx: u16,
    /// Quantity name (the decoder's), or the OBIS code for DLMS rows.
    pub quantity: String,
    /// Unit.
    pub unit: Option<String>,
    /// Numeric value (scaled).
    pub value: Option<f64>,
    /// Text value (dates as ISO 8601, strings).
    pub text: Option<String>,
    /// Storage number.
    pub storage: u64,
    /// Tariff.
    pub tariff: u32,
    /// Sub-unit.
    pub subunit: u16,
    /// `instantaneous`, `maximum`, `minimum`, `error`.
    pub function: &'static str,
    /// The record's own time stamp, where the telegram carries one (Unix ms).
    pub time_ms: Option<i64>,
}

/// A reception that produced no telegram: a decrypt failure, malformed bytes, a replay found
/// by the pipeline, an unprotected payload for a keyed meter...
#[derive(Clone, Debug, PartialEq)]
pub struct RejectedRow {
    /// When (Unix ms).
    pub received_at_ms: i64,
    /// Gateway.
    pub gateway: Arc<str>,
    /// Intake.
    pub intake: Arc<str>,
    /// The error code (docs/errors.md), e.g. `replayed_counter`, `security_mac`.
    pub code: &'static str,
    /// The error message.
    pub reason: String,
    /// Byte offset, where one byte is to blame.
    pub offset: Option<u32>,
    /// The meter, where the header was readable.
    pub meter: Option<String>,
    /// The bytes.
    pub frame: Vec<u8>,
}

/// One transaction's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Candidate telegrams, one per dedup key within the batch.
    pub telegrams: Vec<TelegramRow>,
    /// Every reception of them (several per telegram when several gateways heard it).
    pub receptions: Vec<ReceptionRow>,
    /// Their records.
    pub readings: Vec<ReadingRow>,
    /// Rejections.
    pub rejected: Vec<RejectedRow>,
}

/// What the store decided for a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Telegrams inserted.
    pub stored: usize,
    /// Telegrams already stored within the dedup window (only their receptions were added).
    pub duplicates: usize,
    /// Telegrams whose counter is not above the meter's last one, outside the window (a
    /// `rejected` row with code `replayed_counter` was written instead).
    pub replays: usize,
    /// Rejected rows written (the batch's own plus the replays).
    pub rejected: usize,
}

/// A database.
pub trait Store: Send {
    /// Create or migrate the schema (idempotent; several workers may call it at once).
    fn migrate(&mut self) -> Result<(), ServiceError>;

    /// Write one batch in one transaction. A telegram whose dedup key is stored already with a
    /// reception within `window_ms` is a duplicate (its receptions are added, nothing else); one
    /// whose counter is not above the meter's last counter for its key id is a replay (a
    /// `rejected` row instead); the others are inserted with their readings, and `meters` is
    /// updated. Idempotent: writing the same batch twice changes nothing the second time.
    fn write(&mut self, batch: &Batch, window_ms: i64) -> Result<WriteReport, ServiceError>;

    /// Write the in-memory summaries (`meters`, `meter_gateways`) now.
    fn flush(&mut self) -> Result<(), ServiceError> {
        Ok(())
    }

    /// Retention (`[store] retention_days`), one step in one short transaction: of the next
    /// `limit` meters after `after_meter` (in `meters`' order), delete at most `limit`
    /// telegrams received before `cutoff_ms` with their readings and receptions; delete at most
    /// `limit` `rejected` rows older than it; `meters` and `meter_gateways` are kept (the
    /// replay floor). Called by the writer thread between batches ([`retention::Retention`]).
    fn prune(&mut self, cutoff_ms: i64, limit: usize, after_meter: &str) -> Result<retention::Pruned, ServiceError> {
        let _ = (cutoff_ms, limit, after_meter);
        Err(ServiceError::Store("this store does not prune".into()))
    }

    /// The `received_at_ms` of the stored telegram of each key (`None`: none stored): after a
    /// commit that stored fewer telegrams than the batch offered, tells which ones it stored
    /// (the Parquet sink, per-gateway metrics).
    fn telegram_times(&mut self, keys: &[[u8; 16]]) -> Result<Vec<Option<i64>>, ServiceError> {
        let _ = keys;
        Err(ServiceError::Store("this store cannot look telegrams up".into()))
    }
}
