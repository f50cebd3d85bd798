//! The one schema of both stores (issue 15 §3), as DDL for SQLite and PostgreSQL, plus the
//! key helpers both stores share so that they decide dedup and idempotency alike.
//!
//! Tables and columns (stable names; the PostgreSQL store uses them as they are):
//!
//! | table | columns | unique key |
//! |---|---|---|
//! | `schema_version` | `version` | — (one row) |
//! | `telegrams` | `dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker` | `dedup_key` |
//! | `receptions` | `dedup_key, gateway, intake, received_at_ms, rssi` | `(dedup_key, gateway, received_at_ms)` |
//! | `readings` | `dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms` | `(dedup_key, idx)` |
//! | `rejected` | `reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame` | `reject_key` ([`rejected_key`]) |
//! | `meters` | `meter, key_id, last_counter, last_seen_ms` | `(meter, key_id)` |
//! | `meter_gateways` | `meter, gateway, rssi, last_seen_ms` | `(meter, gateway)` |
//!
//! Times are Unix milliseconds (UTC) in 64-bit integers; keys are 16-byte blobs (`bytea`).
//! `rejected.byte_offset` is the RejectedRow's `offset` (`offset` is reserved in SQL).
//! Per-gateway RSSI lives in `meter_gateways` (one row per meter and gateway that heard it)
//! rather than in a list column of `meters`, so both databases update it with a plain upsert.

use sha2::{Digest, Sha256};

use super::RejectedRow;

/// The schema version this build writes; [`SQLITE_MIGRATIONS`] / [`POSTGRES_MIGRATIONS`] hold
/// one script per version (index 0 → version 1).
pub const SCHEMA_VERSION: i64 = 2;

/// SQLite migrations: script `i` takes the schema from version `i` to `i + 1`.
pub const SQLITE_MIGRATIONS: &[&str] = &[SQLITE_V1, SQLITE_V2];

/// PostgreSQL migrations: script `i` takes the schema from version `i` to `i + 1`.
pub const POSTGRES_MIGRATIONS: &[&str] = &[POSTGRES_V1, POSTGRES_V2];

/// Version 2 is PostgreSQL's writer registry; SQLite needs none (`PRAGMA data_version` tells a
/// connection whether another one wrote).
const SQLITE_V2: &str = "-- version 2: nothing for SQLite";

/// Version 2: the writer registry of PostgreSQL workers (`postgres/alone.rs`): each worker
/// takes a number from `ml_writers` when it starts writing. The version step also makes a build
/// that does not register refuse the database, so no worker writes unseen.
const POSTGRES_V2: &str = "CREATE SEQUENCE IF NOT EXISTS ml_writers";

/// The `schema_version` table (created before any migration runs).
pub const SCHEMA_VERSION_DDL: &str = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)";

const SQLITE_V1: &str = "
CREATE TABLE IF NOT EXISTS telegrams (
    dedup_key BLOB PRIMARY KEY NOT NULL,
    meter TEXT NOT NULL,
    device_type INTEGER,
    key_id INTEGER NOT NULL,
    counter INTEGER,
    access_number INTEGER,
    status INTEGER,
    integrity TEXT NOT NULL,
    protocol TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    frame BLOB NOT NULL,
    worker TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telegrams_meter_time ON telegrams (meter, received_at_ms);
CREATE TABLE IF NOT EXISTS receptions (
    dedup_key BLOB NOT NULL,
    gateway TEXT NOT NULL,
    intake TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    rssi REAL,
    PRIMARY KEY (dedup_key, gateway, received_at_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings (
    dedup_key BLOB NOT NULL,
    idx INTEGER NOT NULL,
    quantity TEXT NOT NULL,
    unit TEXT,
    value REAL,
    text TEXT,
    storage INTEGER NOT NULL,
    tariff INTEGER NOT NULL,
    subunit INTEGER NOT NULL,
    function TEXT NOT NULL,
    time_ms INTEGER,
    PRIMARY KEY (dedup_key, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
    reject_key BLOB PRIMARY KEY NOT NULL,
    received_at_ms INTEGER NOT NULL,
    gateway TEXT NOT NULL,
    intake TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    byte_offset INTEGER,
    meter TEXT,
    frame BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_time ON rejected (received_at_ms);
CREATE TABLE IF NOT EXISTS meters (
    meter TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    last_counter INTEGER,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (meter, key_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_gateways (
    meter TEXT NOT NULL,
    gateway TEXT NOT NULL,
    rssi REAL,
    last_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (meter, gateway)
) WITHOUT ROWID;
";

const POSTGRES_V1: &str = "
CREATE TABLE IF NOT EXISTS telegrams (
    dedup_key BYTEA PRIMARY KEY,
    meter TEXT NOT NULL,
    device_type SMALLINT,
    key_id SMALLINT NOT NULL,
    counter BIGINT,
    access_number SMALLINT,
    status SMALLINT,
    integrity TEXT NOT NULL,
    protocol TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    frame BYTEA NOT NULL,
    worker TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telegrams_meter_time ON telegrams (meter, received_at_ms);
CREATE TABLE IF NOT EXISTS receptions (
    dedup_key BYTEA NOT NULL,
    gateway TEXT NOT NULL,
    intake TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    rssi REAL,
    PRIMARY KEY (dedup_key, gateway, received_at_ms)
);
CREATE TABLE IF NOT EXISTS readings (
    dedup_key BYTEA NOT NULL,
    idx INTEGER NOT NULL,
    quantity TEXT NOT NULL,
    unit TEXT,
    value DOUBLE PRECISION,
    text TEXT,
    storage BIGINT NOT NULL,
    tariff BIGINT NOT NULL,
    subunit INTEGER NOT NULL,
    function TEXT NOT NULL,
    time_ms BIGINT,
    PRIMARY KEY (dedup_key, idx)
);
CREATE TABLE IF NOT EXISTS rejected (
    reject_key BYTEA PRIMARY KEY,
    received_at_ms BIGINT NOT NULL,
    gateway TEXT NOT NULL,
    intake TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL,
    byte_offset BIGINT,
    meter TEXT,
    frame BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_time ON rejected (received_at_ms);
CREATE TABLE IF NOT EXISTS meters (
    meter TEXT NOT NULL,
    key_id SMALLINT NOT NULL,
    last_counter BIGINT,
    last_seen_ms BIGINT NOT NULL,
    PRIMARY KEY (meter, key_id)
);
CREATE TABLE IF NOT EXISTS meter_gateways (
    meter TEXT NOT NULL,
    gateway TEXT NOT NULL,
    rssi REAL,
    last_seen_ms BIGINT NOT NULL,
    PRIMARY KEY (meter, gateway)
);
";

/// A hasher for the 16-byte dedup keys of the per-batch maps and the stores' in-memory
/// knowledge (SipHash was ~3 % of the SQLite store thread). Not flood-resistant, and needs not
/// be: frame keys end in SHA-256 bytes, and counter keys come only from telegrams a key
/// verified.
#[derive(Default, Clone, Copy)]
pub struct KeyHash(u64);

impl std::hash::Hasher for KeyHash {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 = (self.0 ^ u64::from_le_bytes(w)).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
    }

    fn finish(&self) -> u64 {
        let h = self.0 ^ (self.0 >> 32);
        h.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (h >> 29)
    }
}

/// A map keyed by dedup keys ([`KeyHash`]).
pub type KeyMap<V> = std::collections::HashMap<[u8; 16], V, std::hash::BuildHasherDefault<KeyHash>>;

/// A set of dedup keys ([`KeyHash`]).
pub type KeySet = std::collections::HashSet<[u8; 16], std::hash::BuildHasherDefault<KeyHash>>;

/// First byte of a dedup key built from (meter, key id, counter).
pub const KEY_COUNTER: u8 = 1;
/// First byte of a dedup key built from a frame hash and a time bucket.
pub const KEY_FRAME: u8 = 2;

/// The dedup key of a telegram with a counter: `01 ‖ meter identity (9 bytes) ‖ key id ‖
/// counter (BE, 4) ‖ 00`. The identity is the M-Bus address (manufacturer LE 2, ID 4, version,
/// device type, `00`) or a DLMS system title (8) and `01`: exact bytes, no hash, so two
/// workers always agree.
pub fn counter_key(identity: [u8; 9], key_id: u8, counter: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[0] = KEY_COUNTER;
    k[1..10].copy_from_slice(&identity);
    k[10] = key_id;
    k[11..15].copy_from_slice(&counter.to_be_bytes());
    k
}

/// The dedup key of a counter-less telegram: `02 ‖ bucket (BE, 4) ‖ SHA-256(CRC-stripped
/// frame)[..11]`, where `bucket = floor(received_at_ms / window_ms)` (window ≥ 1 ms). The
/// same bytes in the neighbour bucket within the window are the same telegram
/// ([`neighbour_keys`]); the same bytes later are a new telegram. The bucket comes first so
/// that keys grow with time: inserts land at the right edge of the B-trees (a few dirty pages
/// per batch instead of pages all over the index).
pub fn frame_key(frame_hash: &[u8; 11], received_at_ms: i64, window_ms: i64) -> [u8; 16] {
    with_bucket(frame_hash, bucket_of(received_at_ms, window_ms))
}

/// The time bucket of a reception.
pub fn bucket_of(received_at_ms: i64, window_ms: i64) -> u32 {
    received_at_ms.div_euclid(window_ms.max(1)).clamp(0, i64::from(u32::MAX)) as u32
}

/// A frame key from its hash and bucket.
pub fn with_bucket(frame_hash: &[u8; 11], bucket: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[0] = KEY_FRAME;
    k[1..5].copy_from_slice(&bucket.to_be_bytes());
    k[5..16].copy_from_slice(frame_hash);
    k
}

/// The 11-byte frame hash of a frame key's bytes.
pub fn frame_hash(frame: &[u8]) -> [u8; 11] {
    let d = Sha256::digest(frame);
    let mut h = [0u8; 11];
    h.copy_from_slice(&d[..11]);
    h
}

/// For a frame key: the keys of the same frame in the previous and the next bucket, which a
/// store checks (a reception within the window there makes the telegram a duplicate); empty
/// for a counter key.
pub fn neighbour_keys(key: &[u8; 16]) -> Vec<[u8; 16]> {
    neighbours(key).collect()
}

/// [`neighbour_keys`] without the allocation (the stores' per-telegram proofs).
pub fn neighbours(key: &[u8; 16]) -> impl Iterator<Item = [u8; 16]> + '_ {
    let b = key_bucket(key);
    let frame = key[0] == KEY_FRAME;
    [b.checked_sub(1), b.checked_add(1)].into_iter().flatten().filter(move |_| frame).map(move |b| {
        let mut n = *key;
        n[1..5].copy_from_slice(&b.to_be_bytes());
        n
    })
}

/// The time bucket of a frame key (its bytes 1–4).
pub fn key_bucket(key: &[u8; 16]) -> u32 {
    u32::from_be_bytes([key[1], key[2], key[3], key[4]])
}

/// The unique key of a rejected row: SHA-256 of (gateway, intake, time, code, frame), first 16
/// bytes; writing the same rejection twice adds one row.
pub fn rejected_key(r: &RejectedRow) -> [u8; 16] {
    let mut h = Sha256::new();
    for part in [r.gateway.as_bytes(), r.intake.as_bytes(), r.code.as_bytes()] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.update(r.received_at_ms.to_be_bytes());
    h.update(&r.frame);
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_keys_neighbour_and_differ_by_bucket() {
        let h = frame_hash(b"\x0e\x44\x2d\x2c");
        let a = frame_key(&h, 100_000, 10_000);
        let b = frame_key(&h, 109_999, 10_000);
        let c = frame_key(&h, 110_000, 10_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(neighbour_keys(&c)[0], a);
        assert!(neighbour_keys(&counter_key([0; 9], 0, 5)).is_empty());
    }

    #[test]
    fn counter_keys_are_exact() {
        let k = counter_key([1, 2, 3, 4, 5, 6, 7, 8, 0], 3, 0x0102_0304);
        assert_eq!(k, [1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 1, 2, 3, 4, 0]);
    }
}
