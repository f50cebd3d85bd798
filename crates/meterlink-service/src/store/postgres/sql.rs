//! The PostgreSQL dialect of the store's schema and the statements of one write (issue 15 §3).
//! The DDL itself is the shared one (`store/schema.rs`, `POSTGRES_MIGRATIONS`).

/// Advisory lock key serialising migrations across workers ("mlschema" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x6d6c_7363_6865_6d61;

/// The first key of the frame-slot advisory locks ("MLFD"; decisions "Scale-out").
pub const FRAME_LOCK_CLASS: i32 = 0x4d4c_4644;

/// Take the transaction's frame-slot advisory locks, in the (sorted) order given: two workers
/// deciding copies of one counter-less telegram whose receptions straddle a bucket boundary
/// hold different keys, so no unique key arbitrates them; the slot (of the bucket-free frame
/// hash) makes the second wait for the first's commit, and its decision (a later statement,
/// so a later READ COMMITTED snapshot) sees the first's telegram as the neighbour key.
pub const LOCK_FRAME_SLOTS: &str = "SELECT count(pg_advisory_xact_lock($1, s))::bigint FROM unnest($2::int4[]) AS s";

/// Storage parameters (not schema: no column, key or index changes), set at every migration:
/// `meters` and `meter_gateways` are rewritten for every stored telegram, so half of each page
/// is left free for the new row versions to stay on the page (HOT updates: no index entry, no
/// new page per update; PostgreSQL docs, "Heap-Only Tuples"). Only when not set yet, so a
/// worker's start takes no table lock in the common case.
pub const STORAGE: &str = r#"
DO $$ DECLARE t text; BEGIN
    FOREACH t IN ARRAY ARRAY['meters', 'meter_gateways'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = t::regclass AND 'fillfactor=50' = ANY (coalesce(reloptions, '{}'))) THEN
            EXECUTE format('ALTER TABLE %I SET (fillfactor = 50)', t);
        END IF;
    END LOOP;
END $$;
"#;

/// The session's settings and staging tables (unlogged, private, emptied at every commit).
/// JIT off: the statements over the (unanalysed) staging tables get cost estimates above
/// `jit_above_cost`, and compiling them took ~250 ms per execution for ~25 ms of work
/// (auto_explain, bench_service_pg); nothing here runs long enough to repay it.
pub const STAGING: &str = r#"
SET jit = off;
CREATE TEMP TABLE IF NOT EXISTS s_tel (
    LIKE telegrams, ord INTEGER NOT NULL, nb_prev BYTEA, nb_next BYTEA, span_lo BIGINT NOT NULL,
    span_hi BIGINT NOT NULL, first_gw TEXT, first_intake TEXT
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_rec (LIKE receptions) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_read (LIKE readings) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_rej (LIKE rejected) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_key (
    dedup_key BYTEA NOT NULL, meter TEXT NOT NULL, key_id SMALLINT NOT NULL, counter BIGINT,
    ord INTEGER NOT NULL, nb_prev BYTEA, nb_next BYTEA, span_lo BIGINT NOT NULL, span_hi BIGINT NOT NULL,
    batch_prior BIGINT
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS s_met (LIKE meters, first_counter BIGINT, lo_key BYTEA, hi_key BYTEA, n INTEGER) ON COMMIT DELETE ROWS;
CREATE OR REPLACE FUNCTION pg_temp.ml_replayed(meter text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'counter of % not above the stored one', meter USING ERRCODE = 'MLRPL';
END $$;
CREATE TEMP TABLE IF NOT EXISTS s_mg (LIKE meter_gateways) ON COMMIT DELETE ROWS;
"#;

/// The safe path's planner settings (transaction-local): its staging joins are hash joins
/// whatever the (missing) temp-table statistics; lookups into the big tables are correlated
/// subqueries (index probes) in any case.
pub const SAFE_PLAN: &str = "SET LOCAL enable_nestloop = off; SET LOCAL enable_mergejoin = off";

/// COPY statements, columns in the order `copy.rs` writes them.
pub const COPY_STAGING: [&str; 4] = [
    "COPY s_tel (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker, ord, nb_prev, nb_next, span_lo, span_hi, first_gw, first_intake) FROM STDIN (FORMAT binary)",
    "COPY s_rec (dedup_key, gateway, intake, received_at_ms, rssi) FROM STDIN (FORMAT binary)",
    "COPY s_read (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) FROM STDIN (FORMAT binary)",
    "COPY s_rej (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) FROM STDIN (FORMAT binary)",
];

/// The decided path's decision input (`copy::keys`).
pub const COPY_KEYS: &str =
    "COPY s_key (dedup_key, meter, key_id, counter, ord, nb_prev, nb_next, span_lo, span_hi, batch_prior) FROM STDIN (FORMAT binary)";

/// The optimistic and decided paths' staged rows (`plan::Plan::staged`), for [`FINISH`].
pub const COPY_STAGED: [&str; 4] = [
    "COPY s_rec (dedup_key, gateway, intake, received_at_ms, rssi) FROM STDIN (FORMAT binary)",
    "COPY s_rej (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) FROM STDIN (FORMAT binary)",
    "COPY s_met (meter, key_id, last_counter, last_seen_ms, first_counter, lo_key, hi_key, n) FROM STDIN (FORMAT binary)",
    "COPY s_mg (meter, gateway, rssi, last_seen_ms) FROM STDIN (FORMAT binary)",
];

/// Straight into the tables: the new rows of the optimistic and decided paths and the benchmark's bare COPY baseline.
pub const COPY_DIRECT: [&str; 4] = [
    "COPY telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status, integrity, protocol, received_at_ms, frame, worker) FROM STDIN (FORMAT binary)",
    "COPY receptions (dedup_key, gateway, intake, received_at_ms, rssi) FROM STDIN (FORMAT binary)",
    "COPY readings (dedup_key, idx, quantity, unit, value, text, storage, tariff, subunit, function, time_ms) FROM STDIN (FORMAT binary)",
    "COPY rejected (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame) FROM STDIN (FORMAT binary)",
];

/// The decided path's decision (one statement, one snapshot), `$1` = the dedup window (ms): the
/// rules of [`WRITE`] (see there), over `s_key`, whose `batch_prior` (the highest counter of the
/// same meter and key id earlier in the batch) the client computed; each big-table probe runs
/// once per telegram (`OFFSET 0` keeps the subquery from being inlined, which would repeat the
/// `telegrams` probe); the probes are scalar subqueries with `LIMIT 1`, never turned into a
/// hashed scan of the whole table as an `EXISTS` can be; a telegram without a counter (a frame
/// key) skips the two counter probes (nothing to compare). Returns only the telegrams that are
/// not new: (`ord`, `dup` or `replay`, the key their receptions go under); usually no rows.
pub const DECIDE: &str = r#"
SELECT ord, verdict, coalesce(dup_key, dedup_key) AS into_key FROM (
    SELECT ord, dedup_key, dup_key, CASE
        WHEN dup_key IS NOT NULL THEN 'dup'
        WHEN counter <= greatest(last_counter, batch_prior) THEN 'replay'
        WHEN own THEN 'dup'
        ELSE 'new' END AS verdict
    FROM (
        SELECT k.*, CASE
            WHEN k.own AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = k.dedup_key
                 AND r.received_at_ms BETWEEN k.span_lo - $1 AND k.span_hi + $1) THEN k.dedup_key
            WHEN k.nb_prev IS NOT NULL AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = k.nb_prev
                 AND r.received_at_ms BETWEEN k.span_lo - $1 AND k.span_hi + $1) THEN k.nb_prev
            WHEN k.nb_next IS NOT NULL AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = k.nb_next
                 AND r.received_at_ms BETWEEN k.span_lo - $1 AND k.span_hi + $1) THEN k.nb_next
            END AS dup_key
        FROM (
            SELECT s.*,
                coalesce((SELECT true FROM telegrams t WHERE t.dedup_key = s.dedup_key LIMIT 1), false) AS own,
                CASE WHEN s.counter IS NOT NULL THEN
                greatest((SELECT m.last_counter FROM meters m WHERE m.meter = s.meter AND m.key_id = s.key_id),
                         CASE WHEN get_byte(s.dedup_key, 0) = 1 THEN (SELECT (get_byte(t.dedup_key, 11)::bigint << 24) | (get_byte(t.dedup_key, 12) << 16)
                              | (get_byte(t.dedup_key, 13) << 8) | get_byte(t.dedup_key, 14)
                          FROM telegrams t WHERE t.dedup_key >= overlay(s.dedup_key PLACING '\x0000000000'::bytea FROM 12)
                           AND t.dedup_key <= overlay(s.dedup_key PLACING '\xffffffffff'::bytea FROM 12)
                          ORDER BY t.dedup_key DESC LIMIT 1) END) END AS last_counter
            FROM s_key s OFFSET 0
        ) k
    ) c0
) c WHERE verdict <> 'new'
"#;

/// The optimistic and decided paths' upserts after the direct COPYs, from the staged rows (staged in key order,
/// so workers lock `meters` / `meter_gateways` rows in one order): receptions of duplicates
/// and rejections with `ON CONFLICT DO NOTHING`; `meters` and `meter_gateways` only move
/// forward and are not rewritten when nothing moves (a redelivered batch writes nothing).
/// Rows that exist are changed by a plain `UPDATE ... FROM` (one heap update, HOT with the
/// tables' fill factor; `INSERT ... ON CONFLICT DO UPDATE` would lock each row first, a second
/// WAL record per row); the rest are inserted, `ON CONFLICT` covering a row another worker
/// inserted after this statement's snapshot. Returns the rejected rows inserted.
///
/// `$1` = **trap** (the optimistic path, which inserted without [`DECIDE`]): a stored
/// telegram's counter not above its meter's stored one (`first_counter`, the batch's lowest,
/// against the row as locked by the update, so a concurrent worker's commit is seen), or a
/// meter row inserted by another worker meanwhile, raises SQLSTATE `MLRPL`
/// (`pg_temp.ml_replayed`) and the batch runs again on the decided path.
///
/// `$2` = **deferred** (decisions "Deferred summaries"): `meters` / `meter_gateways` are not
/// written here but from the store's in-memory summary at its next flush (the same statement
/// with `$1` and `$2` false and only `s_met` / `s_mg` staged).
pub const FINISH: &str = r#"
WITH rc AS (
    INSERT INTO receptions (dedup_key, gateway, intake, received_at_ms, rssi)
    SELECT * FROM s_rec ON CONFLICT DO NOTHING RETURNING 1
),
rj AS (
    INSERT INTO rejected (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame)
    SELECT * FROM s_rej ON CONFLICT DO NOTHING RETURNING 1
),
mu AS (
    UPDATE meters m SET
        last_counter = CASE WHEN $1 AND s.first_counter <= m.last_counter THEN pg_temp.ml_replayed(m.meter)
                            ELSE greatest(m.last_counter, s.last_counter) END,
        last_seen_ms = greatest(m.last_seen_ms, s.last_seen_ms)
    FROM s_met s WHERE NOT $2 AND m.meter = s.meter AND m.key_id = s.key_id
      AND (s.last_seen_ms > m.last_seen_ms OR s.last_counter > m.last_counter
           OR (m.last_counter IS NULL AND s.last_counter IS NOT NULL) OR ($1 AND s.first_counter <= m.last_counter))
    RETURNING 1
),
mi AS (
    INSERT INTO meters (meter, key_id, last_counter, last_seen_ms)
    SELECT s.meter, s.key_id, s.last_counter, s.last_seen_ms FROM s_met s
    WHERE NOT $2 AND NOT EXISTS (SELECT 1 FROM meters m WHERE m.meter = s.meter AND m.key_id = s.key_id)
    ON CONFLICT (meter, key_id) DO UPDATE SET
        last_counter = CASE WHEN $1 THEN pg_temp.ml_replayed(meters.meter)
                            ELSE greatest(meters.last_counter, excluded.last_counter) END,
        last_seen_ms = greatest(meters.last_seen_ms, excluded.last_seen_ms)
    RETURNING 1
),
gu AS (
    UPDATE meter_gateways g SET rssi = s.rssi, last_seen_ms = s.last_seen_ms
    FROM s_mg s WHERE NOT $2 AND g.meter = s.meter AND g.gateway = s.gateway
      AND (s.last_seen_ms > g.last_seen_ms OR (s.last_seen_ms = g.last_seen_ms AND s.rssi IS DISTINCT FROM g.rssi))
    RETURNING 1
),
gi AS (
    INSERT INTO meter_gateways (meter, gateway, rssi, last_seen_ms)
    SELECT * FROM s_mg s WHERE NOT $2 AND NOT EXISTS (SELECT 1 FROM meter_gateways g WHERE g.meter = s.meter AND g.gateway = s.gateway)
    ON CONFLICT (meter, gateway) DO UPDATE SET rssi = excluded.rssi, last_seen_ms = excluded.last_seen_ms
    WHERE excluded.last_seen_ms >= meter_gateways.last_seen_ms
    RETURNING 1
)
SELECT (SELECT count(*) FROM rj) AS rejected,
       (SELECT count(*) FROM rc) + (SELECT count(*) FROM mu) + (SELECT count(*) FROM mi)
           + (SELECT count(*) FROM gu) + (SELECT count(*) FROM gi) AS touched
"#;

/// The safe path (after a unique violation of the decided path: another worker wrote the same
/// telegram at the same time, or the batch repeats a row): the decision and every insert of
/// one batch, in one statement (one snapshot, so the dedup
/// and the counter checks agree), `$1` = the dedup window (ms). The decisions are those of the
/// SQLite store (`sqlite.rs`), per telegram in batch order (`ord`):
/// 1. its key is stored, or a neighbour bucket's key of the same frame, with a reception within
///    the window of its receptions' span → `dup` (its receptions go under that key);
/// 2. else a counter not above `greatest(meters.last_counter, the counters before it in the
///    batch)` → `replay` (a `rejected` row `replayed_counter`, key as `schema::rejected_key`);
/// 3. else its own key is stored (outside the window) → `dup`; 4. else `new`.
///
/// A `new` telegram that loses the insert race against another worker (`ON CONFLICT DO
/// NOTHING` returns nothing) counts as a duplicate: its receptions are kept, its readings are
/// not. `meters` only moves forward (`greatest`, under the row lock of the upsert), and
/// `meter_gateways` keeps the latest reception. Lookups into the big tables are correlated
/// subqueries (index probes); staging joins are hash joins (nested loops are off).
pub const WRITE: &str = r#"
WITH cls0 AS (
    SELECT s.*, k.own, k.last_counter,
        greatest(k.last_counter, max(s.counter) OVER (PARTITION BY s.meter, s.key_id ORDER BY s.ord
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS prior,
        CASE
            WHEN k.own AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = s.dedup_key
                 AND r.received_at_ms BETWEEN s.span_lo - $1 AND s.span_hi + $1) THEN s.dedup_key
            WHEN s.nb_prev IS NOT NULL AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = s.nb_prev
                 AND r.received_at_ms BETWEEN s.span_lo - $1 AND s.span_hi + $1) THEN s.nb_prev
            WHEN s.nb_next IS NOT NULL AND EXISTS (SELECT 1 FROM receptions r WHERE r.dedup_key = s.nb_next
                 AND r.received_at_ms BETWEEN s.span_lo - $1 AND s.span_hi + $1) THEN s.nb_next
        END AS dup_key
    FROM s_tel s, LATERAL (SELECT
        coalesce((SELECT true FROM telegrams t WHERE t.dedup_key = s.dedup_key LIMIT 1), false) AS own,
        greatest((SELECT m.last_counter FROM meters m WHERE m.meter = s.meter AND m.key_id = s.key_id),
                 CASE WHEN get_byte(s.dedup_key, 0) = 1 THEN (SELECT (get_byte(t.dedup_key, 11)::bigint << 24) | (get_byte(t.dedup_key, 12) << 16)
                              | (get_byte(t.dedup_key, 13) << 8) | get_byte(t.dedup_key, 14)
                          FROM telegrams t WHERE t.dedup_key >= overlay(s.dedup_key PLACING '\x0000000000'::bytea FROM 12)
                           AND t.dedup_key <= overlay(s.dedup_key PLACING '\xffffffffff'::bytea FROM 12)
                          ORDER BY t.dedup_key DESC LIMIT 1) END) AS last_counter
    ) k
),
cls AS (
    SELECT *, CASE
        WHEN dup_key IS NOT NULL THEN 'dup'
        WHEN counter IS NOT NULL AND counter <= prior THEN 'replay'
        WHEN own THEN 'dup'
        ELSE 'new' END AS verdict,
        coalesce(dup_key, dedup_key) AS into_key
    FROM cls0
),
ins AS (
    INSERT INTO telegrams (dedup_key, meter, device_type, key_id, counter, access_number, status,
                           integrity, protocol, received_at_ms, frame, worker)
    SELECT dedup_key, meter, device_type, key_id, counter, access_number, status,
           integrity, protocol, received_at_ms, frame, worker
    FROM cls WHERE verdict = 'new' ORDER BY dedup_key
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key, meter, key_id, counter
),
rd AS (
    INSERT INTO readings SELECT r.* FROM s_read r WHERE r.dedup_key IN (SELECT dedup_key FROM ins)
    RETURNING 1
),
rc AS (
    INSERT INTO receptions (dedup_key, gateway, intake, received_at_ms, rssi)
    SELECT c.into_key, r.gateway, r.intake, r.received_at_ms, r.rssi
    FROM s_rec r JOIN cls c USING (dedup_key) WHERE c.verdict <> 'replay'
    ORDER BY 1, 2, 4
    ON CONFLICT DO NOTHING
    RETURNING 1
),
mg AS (
    INSERT INTO meter_gateways (meter, gateway, rssi, last_seen_ms)
    SELECT DISTINCT ON (c.meter, r.gateway) c.meter, r.gateway, r.rssi, r.received_at_ms
    FROM s_rec r JOIN cls c USING (dedup_key) WHERE c.verdict <> 'replay'
    ORDER BY c.meter, r.gateway, r.received_at_ms DESC
    ON CONFLICT (meter, gateway) DO UPDATE SET rssi = excluded.rssi, last_seen_ms = excluded.last_seen_ms
    WHERE excluded.last_seen_ms >= meter_gateways.last_seen_ms
    RETURNING 1
),
rj AS (
    INSERT INTO rejected (reject_key, received_at_ms, gateway, intake, code, reason, byte_offset, meter, frame)
    SELECT * FROM s_rej
    UNION ALL
    SELECT substring(sha256(int4send(octet_length(g)) || convert_to(g, 'UTF8')
                     || int4send(octet_length(i)) || convert_to(i, 'UTF8')
                     || int4send(16) || '\x7265706c617965645f636f756e746572'::bytea
                     || int8send(received_at_ms) || frame) FROM 1 FOR 16),
           received_at_ms, g, i, 'replayed_counter',
           format('replayed counter: %s %s (key ID %s) sent counter %s, not above the last accepted one',
                  protocol, meter, key_id, counter),
           NULL, meter, frame
    FROM (SELECT c.*, coalesce(c.first_gw, c.worker) AS g, coalesce(c.first_intake, c.worker) AS i
          FROM cls c WHERE c.verdict = 'replay') rp
    ON CONFLICT DO NOTHING
    RETURNING 1
),
mt AS (
    INSERT INTO meters (meter, key_id, last_counter, last_seen_ms)
    SELECT i.meter, i.key_id, max(i.counter), max(c.span_hi)
    FROM ins i JOIN cls c USING (dedup_key)
    GROUP BY i.meter, i.key_id ORDER BY i.meter, i.key_id
    ON CONFLICT (meter, key_id) DO UPDATE SET
        last_counter = greatest(meters.last_counter, excluded.last_counter),
        last_seen_ms = greatest(meters.last_seen_ms, excluded.last_seen_ms)
    RETURNING 1
)
SELECT (SELECT count(*) FROM cls) AS candidates,
       (SELECT count(*) FROM ins) AS stored,
       (SELECT count(*) FROM cls WHERE verdict = 'replay') AS replays,
       (SELECT count(*) FROM rj) AS rejected,
       (SELECT count(*) FROM rd) + (SELECT count(*) FROM rc) + (SELECT count(*) FROM mg)
           + (SELECT count(*) FROM mt) AS touched
"#;

/// The optimistic path's replay trap when the summaries are deferred (decisions "Deferred
/// summaries"), after the batch's telegrams were copied in. Per (meter, key id) of the batch
/// (`s_met`: its lowest and highest counter keys `lo_key` / `hi_key`, its `n` counter keys):
/// a stored key above `hi_key` under the same prefix (a higher counter), with more than one
/// key in the batch a stored key between `lo_key` and `hi_key` that is not the batch's own,
/// or a flushed `meters.last_counter` not below the lowest counter, raises SQLSTATE `MLRPL`
/// and the batch is then decided. A stored key equal to one of the batch's failed the COPY
/// already (23505). The usual probe finds nothing above `hi_key`: one index descent, no heap
/// access.
pub const TRAP: &str = r#"
SELECT count(pg_temp.ml_replayed(s.meter))::bigint FROM s_met s
WHERE s.lo_key IS NOT NULL AND (
    (SELECT true FROM telegrams t WHERE t.dedup_key > s.hi_key
        AND t.dedup_key <= overlay(s.hi_key PLACING '\xffffffffff'::bytea FROM 12) LIMIT 1)
    OR (s.n > 1 AND (SELECT count(*) FROM telegrams t WHERE t.dedup_key >= s.lo_key AND t.dedup_key <= s.hi_key) <> s.n)
    OR s.first_counter <= (SELECT m.last_counter FROM meters m WHERE m.meter = s.meter AND m.key_id = s.key_id))
"#;
