//! The PostgreSQL dialect of the store's schema and the statements of one write (issue 15 §3).
//! Table and column names follow the row types of `store/mod.rs` one to one (the SQLite store
//! uses the same); `offset` is `byte_offset` (a reserved word).

/// Advisory lock key serialising migrations across workers ("mlschema" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x6d6c_7363_6865_6d61;

/// Migrations, in order; `MIGRATIONS[i]` brings the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1];

const V1: &str = r#"
CREATE TABLE telegrams (
    dedup_key      BYTEA PRIMARY KEY,
    meter          TEXT NOT NULL,
    device_type    SMALLINT,
    key_id         SMALLINT NOT NULL,
    counter        BIGINT,
    access_number  SMALLINT,
    status         SMALLINT,
    integrity      TEXT NOT NULL,
    protocol       TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    frame          BYTEA NOT NULL,
    worker         TEXT NOT NULL
);
CREATE TABLE receptions (
    dedup_key      BYTEA NOT NULL,
    gateway        TEXT NOT NULL,
    intake         TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    rssi           REAL,
    PRIMARY KEY (dedup_key, gateway, received_at_ms)
);
CREATE TABLE readings (
    dedup_key BYTEA NOT NULL,
    idx       INTEGER NOT NULL,
    quantity  TEXT NOT NULL,
    unit      TEXT,
    value     DOUBLE PRECISION,
    text      TEXT,
    storage   BIGINT NOT NULL,
    tariff    BIGINT NOT NULL,
    subunit   INTEGER NOT NULL,
    function  TEXT NOT NULL,
    time_ms   BIGINT,
    PRIMARY KEY (dedup_key, idx)
);
CREATE TABLE rejected (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at_ms BIGINT NOT NULL,
    gateway        TEXT NOT NULL,
    intake         TEXT NOT NULL,
    code           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    byte_offset    BIGINT,
    meter          TEXT,
    frame          BYTEA NOT NULL
);
CREATE UNIQUE INDEX rejected_once ON rejected (received_at_ms, gateway, code, md5(frame));
CREATE TABLE meters (
    meter        TEXT NOT NULL,
    key_id       SMALLINT NOT NULL,
    device_type  SMALLINT,
    last_counter BIGINT,
    last_seen_ms BIGINT NOT NULL,
    rssi         JSONB,
    PRIMARY KEY (meter, key_id)
);
"#;

/// The session's staging tables: unlogged, private, emptied at every commit.
pub const STAGING: &str = r#"
CREATE TEMP TABLE IF NOT EXISTS s_tel (LIKE telegrams) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_rec (LIKE receptions) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_read (LIKE readings) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_rej (
    received_at_ms BIGINT NOT NULL, gateway TEXT NOT NULL, intake TEXT NOT NULL, code TEXT NOT NULL,
    reason TEXT NOT NULL, byte_offset BIGINT, meter TEXT, frame BYTEA NOT NULL
) ON COMMIT DELETE ROWS;
SET enable_nestloop = off;
SET enable_mergejoin = off;
"#;

/// COPY statements, columns in the order `copy.rs` writes them.
pub const COPY_STAGING: [&str; 4] = [
    "COPY s_tel (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) FROM STDIN (FORMAT binary)",
    "COPY s_rec (dedup_key, gateway, intake, received_at_ms, rssi) FROM STDIN (FORMAT binary)",
    "COPY s_read (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) FROM STDIN (FORMAT binary)",
    "COPY s_rej (received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) FROM STDIN (FORMAT binary)",
];

/// The same streams straight into the tables (the benchmark's bare COPY baseline).
pub const COPY_DIRECT: [&str; 4] = [
    "COPY telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) FROM STDIN (FORMAT binary)",
    "COPY receptions (dedup_key, gateway, intake, received_at_ms, rssi) FROM STDIN (FORMAT binary)",
    "COPY readings (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) FROM STDIN (FORMAT binary)",
    "COPY rejected (received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) FROM STDIN (FORMAT binary)",
];

/// The decision and every insert of one batch, in one statement (one snapshot, so the dedup
/// and the counter checks agree), `$1` = the dedup window (ms).
///
/// Verdicts (issue 15 §2): `dup` — the key is stored with a reception (or the telegram itself)
/// within the window, or stored at all when the telegram has no counter (the key then already
/// holds the time, see docs/decisions.md); `replay` — a counter not above the meter's last one
/// for its key id, or the key stored outside the window; `new` otherwise. A `new` telegram that
/// loses the insert race against another worker (`ON CONFLICT DO NOTHING` returns nothing) is a
/// duplicate: its receptions are kept, its readings are not. Lookups into the big tables are
/// correlated subqueries (index probes); staging joins are hash joins (nested loops are off).
pub const WRITE: &str = r#"
WITH cls AS (
    SELECT s.*, CASE
        WHEN k.stored IS NOT NULL AND (s.counter IS NULL
             OR abs(k.stored - s.received_at_ms) <= $1
             OR EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = s.dedup_key
                        AND r.received_at_ms BETWEEN s.received_at_ms - $1 AND s.received_at_ms + $1))
            THEN 'dup'
        WHEN s.counter IS NOT NULL AND (k.stored IS NOT NULL OR s.counter <= k.last_counter)
            THEN 'replay'
        ELSE 'new' END AS verdict,
        k.last_counter
    FROM s_tel s, LATERAL (SELECT
        (SELECT t.received_at_ms FROM telegrams t WHERE t.dedup_key = s.dedup_key) AS stored,
        (SELECT m.last_counter FROM meters m WHERE m.meter = s.meter AND m.key_id = s.key_id) AS last_counter
    ) k
),
ins AS (
    INSERT INTO telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status,
                           integrity, protocol, received_at_ms, frame, worker)
    SELECT dedup_key, meter, device_type, key_id, counter, access_number, status,
           integrity, protocol, received_at_ms, frame, worker
    FROM cls WHERE verdict = 'new' ORDER BY dedup_key
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key, meter, key_id, device_type, counter
),
rd AS (
    INSERT INTO readings SELECT r.* FROM s_read r WHERE r.dedup_key IN (SELECT dedup_key FROM ins)
    RETURNING 1
),
rc AS (
    INSERT INTO receptions
    SELECT r.* FROM s_rec r WHERE r.dedup_key IN (SELECT dedup_key FROM cls WHERE verdict <> 'replay')
    ORDER BY r.dedup_key, r.gateway, r.received_at_ms
    ON CONFLICT DO NOTHING
    RETURNING 1
),
first_rx AS (
    SELECT DISTINCT ON (dedup_key) dedup_key, gateway, intake FROM s_rec
    WHERE dedup_key IN (SELECT dedup_key FROM cls WHERE verdict = 'replay')
    ORDER BY dedup_key, received_at_ms
),
rj AS (
    INSERT INTO rejected (received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame)
    SELECT received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame FROM s_rej
    UNION ALL
    SELECT c.received_at_ms, coalesce(f.gateway, ''), coalesce(f.intake, ''), 'replayed_counter',
           format('replayed counter %s of %s key id %s (last stored counter %s)',
                  c.counter, c.meter, c.key_id, coalesce(c.last_counter::text, 'this one')),
           NULL, c.meter, c.frame
    FROM cls c LEFT JOIN first_rx f USING (dedup_key) WHERE c.verdict = 'replay'
    ON CONFLICT DO NOTHING
    RETURNING 1
),
mt AS (
    INSERT INTO meters (meter, key_id, device_type, last_counter, last_seen_ms, rssi)
    SELECT i.meter, i.key_id, max(i.device_type), max(i.counter), max(r.received_at_ms),
           jsonb_object_agg(r.gateway, r.rssi ORDER BY r.received_at_ms) FILTER (WHERE r.rssi IS NOT NULL)
    FROM ins i JOIN s_rec r USING (dedup_key)
    GROUP BY i.meter, i.key_id ORDER BY i.meter, i.key_id
    ON CONFLICT (meter, key_id) DO UPDATE SET
        device_type  = coalesce(excluded.device_type, meters.device_type),
        last_counter = greatest(meters.last_counter, excluded.last_counter),
        last_seen_ms = greatest(meters.last_seen_ms, excluded.last_seen_ms),
        rssi         = coalesce(meters.rssi, '{}'::jsonb) || coalesce(excluded.rssi, '{}'::jsonb)
    RETURNING 1
)
SELECT (SELECT count(*) FROM cls) AS candidates,
       (SELECT count(*) FROM ins) AS stored,
       (SELECT count(*) FROM cls WHERE verdict = 'replay') AS replays,
       (SELECT count(*) FROM rj) AS rejected,
       (SELECT count(*) FROM rd) + (SELECT count(*) FROM rc) + (SELECT count(*) FROM mt) AS touched
"#;
