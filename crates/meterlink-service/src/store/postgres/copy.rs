//! PostgreSQL's binary COPY format (PostgreSQL docs, "COPY", section "Binary Format"): an
//! 11-byte signature, a flags word and a header-extension length, then per tuple a 16-bit field
//! count and per field a 32-bit length (-1 for NULL) and the value in the type's binary send
//! format (big-endian integers and IEEE floats, raw bytes for `bytea`, UTF-8 for `text`); a
//! 16-bit -1 ends the data. Written by hand into one buffer: no per-value boxing.

use std::collections::HashMap;

use bytes::Bytes;

use crate::store::schema::{neighbour_keys, rejected_key};
use super::plan::Spans;
use crate::store::{Batch, ReadingRow, ReceptionRow, RejectedRow, TelegramRow};

/// The file header: signature, flags (no OIDs), no extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// A binary COPY stream being built.
pub struct CopyBuf {
    buf: Vec<u8>,
}

impl CopyBuf {
    /// A stream with its header, `capacity` bytes reserved.
    pub fn new(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(64));
        buf.extend_from_slice(HEADER);
        CopyBuf { buf }
    }

    /// Start a tuple of `fields` fields.
    pub fn tuple(&mut self, fields: i16) {
        self.buf.extend_from_slice(&fields.to_be_bytes());
    }

    /// A NULL field.
    pub fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }

    /// A `bytea` or `text` field.
    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(v);
    }

    /// A `smallint` field.
    pub fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&2i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// An `integer` field.
    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&4i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `bigint` field.
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A `real` field.
    pub fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&4i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// A `double precision` field.
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&v.to_bits().to_be_bytes());
    }

    /// An optional field.
    pub fn opt<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        match v {
            Some(v) => f(self, v),
            None => self.null(),
        }
    }

    /// Close the stream (the -1 trailer) and take its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

fn telegram(c: &mut CopyBuf, r: &TelegramRow, fields: i16) {
    c.tuple(fields);
    c.bytes(&r.dedup_key);
    c.bytes(r.meter.as_bytes());
    c.opt(r.device_type, |c, v| c.i16(v.into()));
    c.i16(r.key_id.into());
    c.opt(r.counter, |c, v| c.i64(v.into()));
    c.opt(r.access_number, |c, v| c.i16(v.into()));
    c.opt(r.status, |c, v| c.i16(v.into()));
    c.bytes(r.integrity.as_bytes());
    c.bytes(r.protocol.as_bytes());
    c.i64(r.received_at_ms);
    c.bytes(&r.frame);
    c.bytes(r.worker.as_bytes());
}

fn capacity(rows: &[&TelegramRow]) -> usize {
    rows.iter().map(|r| r.frame.len() + r.meter.len() + 160).sum()
}

/// `telegrams` columns in COPY order ([`super::sql::COPY_DIRECT`]).
pub fn telegrams_direct(rows: &[&TelegramRow]) -> Vec<u8> {
    let mut c = CopyBuf::new(capacity(rows));
    for r in rows {
        telegram(&mut c, r, 12);
    }
    c.finish()
}

/// The safe path's `s_tel` ([`super::sql::COPY_STAGING`]): the `telegrams` columns, then batch
/// position, the neighbour bucket keys ([`neighbour_keys`]), the span of its receptions' times
/// and its first reception.
pub fn telegrams_staging(b: &Batch, spans: &Spans) -> Vec<u8> {
    let mut c = CopyBuf::new(capacity(&b.telegrams.iter().collect::<Vec<_>>()));
    for (ord, r) in b.telegrams.iter().enumerate() {
        telegram(&mut c, r, 19);
        c.i32(ord as i32);
        let nb = neighbour_keys(&r.dedup_key);
        c.opt(nb.first(), |c, k| c.bytes(k));
        c.opt(nb.get(1), |c, k| c.bytes(k));
        let (lo, hi) = spans.span(r);
        c.i64(lo);
        c.i64(hi);
        let f = spans.first(b, r);
        c.opt(f, |c, f| c.bytes(f.gateway.as_bytes()));
        c.opt(f, |c, f| c.bytes(f.intake.as_bytes()));
    }
    c.finish()
}

/// The decided path's `s_key` ([`super::sql::COPY_KEYS`]): what the decision needs of each
/// telegram not `proven` new, no payload; `batch_prior` is the highest counter of the same
/// meter and key id earlier in the batch.
pub fn keys(b: &Batch, spans: &Spans, proven: &[bool]) -> Vec<u8> {
    let mut c = CopyBuf::new(b.telegrams.iter().map(|r| r.meter.len() + 130).sum());
    let mut highest: HashMap<(&str, u8), u32> = HashMap::new();
    for (ord, r) in b.telegrams.iter().enumerate() {
        if proven.get(ord).copied().unwrap_or(false) {
            // A proven telegram is counter-less: nothing for `highest`.
            continue;
        }
        c.tuple(10);
        c.bytes(&r.dedup_key);
        c.bytes(r.meter.as_bytes());
        c.i16(r.key_id.into());
        c.opt(r.counter, |c, v| c.i64(v.into()));
        c.i32(ord as i32);
        let nb = neighbour_keys(&r.dedup_key);
        c.opt(nb.first(), |c, k| c.bytes(k));
        c.opt(nb.get(1), |c, k| c.bytes(k));
        let (lo, hi) = spans.span(r);
        c.i64(lo);
        c.i64(hi);
        // The replay rule's "counters before it in the batch" (EN 13757-7 7.5.8, batch order).
        let key = (r.meter.as_str(), r.key_id);
        c.opt(highest.get(&key).copied(), |c, v| c.i64(v.into()));
        if let Some(v) = r.counter {
            highest.entry(key).and_modify(|h| *h = (*h).max(v)).or_insert(v);
        }
    }
    c.finish()
}

/// `receptions` columns in COPY order, each under the given key.
pub fn receptions(rows: &[([u8; 16], &ReceptionRow)]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.len() * 80);
    for (key, r) in rows {
        c.tuple(5);
        c.bytes(key);
        c.bytes(r.gateway.as_bytes());
        c.bytes(r.intake.as_bytes());
        c.i64(r.received_at_ms);
        c.opt(r.rssi, CopyBuf::f32);
    }
    c.finish()
}

/// `readings` columns in COPY order.
pub fn readings(rows: &[&ReadingRow]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.len() * 120);
    for r in rows {
        c.tuple(11);
        c.bytes(&r.dedup_key);
        c.i32(r.idx.into());
        c.bytes(r.quantity.as_bytes());
        c.opt(r.unit.as_deref(), |c, v| c.bytes(v.as_bytes()));
        c.opt(r.value, CopyBuf::f64);
        c.opt(r.text.as_deref(), |c, v| c.bytes(v.as_bytes()));
        // Storage numbers are at most 41 bits (EN 13757-3 DIFE chain); clamp the impossible.
        c.i64(i64::try_from(r.storage).unwrap_or(i64::MAX));
        c.i64(r.tariff.into());
        c.i32(r.subunit.into());
        c.bytes(r.function.as_bytes());
        c.opt(r.time_ms, CopyBuf::i64);
    }
    c.finish()
}

/// `rejected` columns in COPY order, the key first (`schema::rejected_key`).
pub fn rejected(rows: &[&RejectedRow]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.iter().map(|r| r.frame.len() + r.reason.len() + 96).sum());
    for r in rows {
        c.tuple(9);
        c.bytes(&rejected_key(r));
        c.i64(r.received_at_ms);
        c.bytes(r.gateway.as_bytes());
        c.bytes(r.intake.as_bytes());
        c.bytes(r.code.as_bytes());
        c.bytes(r.reason.as_bytes());
        c.opt(r.offset, |c, v| c.i64(v.into()));
        c.opt(r.meter.as_deref(), |c, v| c.bytes(v.as_bytes()));
        c.bytes(&r.frame);
    }
    c.finish()
}

/// A `meters` row of a batch (or of the deferred summary, without the trap's fields).
#[derive(Clone, Debug, PartialEq)]
pub struct MeterRow<'a> {
    /// Meter text.
    pub meter: &'a str,
    /// Key id.
    pub key_id: u8,
    /// Highest counter.
    pub counter: Option<u32>,
    /// Last seen (ms).
    pub seen: i64,
    /// Lowest counter (the optimistic path's replay trap).
    pub first: Option<u32>,
    /// The trap's key range: the lowest counter key of the meter in the batch...
    pub lo_key: Option<[u8; 16]>,
    /// ... and the highest.
    pub hi_key: Option<[u8; 16]>,
    /// How many of the batch's telegrams have the meter's key prefix.
    pub n: i32,
}

/// `s_met` columns (meter, key id, last counter, last seen, first counter, lo key, hi key, n).
pub fn meters(rows: &[MeterRow<'_>]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.len() * 100);
    for r in rows {
        c.tuple(8);
        c.bytes(r.meter.as_bytes());
        c.i16(r.key_id.into());
        c.opt(r.counter, |c, v| c.i64(v.into()));
        c.i64(r.seen);
        c.opt(r.first, |c, v| c.i64(v.into()));
        c.opt(r.lo_key, |c, k| c.bytes(&k));
        c.opt(r.hi_key, |c, k| c.bytes(&k));
        c.i32(r.n);
    }
    c.finish()
}

/// `meter_gateways` columns (meter, gateway, RSSI, last seen).
pub fn gateways(rows: &[(&str, &str, Option<f32>, i64)]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.len() * 56);
    for (meter, gateway, rssi, seen) in rows {
        c.tuple(4);
        c.bytes(meter.as_bytes());
        c.bytes(gateway.as_bytes());
        c.opt(*rssi, CopyBuf::f32);
        c.i64(*seen);
    }
    c.finish()
}

fn some(v: Vec<u8>, rows: usize) -> Option<Bytes> {
    (rows > 0).then(|| v.into())
}

/// The safe path's four staging streams, `None` where the batch has no rows of that kind.
pub fn staging(b: &Batch, spans: &Spans) -> [Option<Bytes>; 4] {
    let recs: Vec<_> = b.receptions.iter().map(|r| (r.dedup_key, r)).collect();
    let reads: Vec<_> = b.readings.iter().collect();
    let rejs: Vec<_> = b.rejected.iter().collect();
    [
        some(telegrams_staging(b, spans), b.telegrams.len()),
        some(receptions(&recs), recs.len()),
        some(readings(&reads), reads.len()),
        some(rejected(&rejs), rejs.len()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_binary_format() {
        let mut c = CopyBuf::new(0);
        c.tuple(3);
        c.i16(-2);
        c.null();
        c.bytes(b"ab");
        let v = c.finish();
        assert_eq!(&v[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(
            &v[19..],
            &[0, 3, 0, 0, 0, 2, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'a', b'b', 0xff, 0xff]
        );
    }
}
