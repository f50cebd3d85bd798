//! PostgreSQL's binary COPY format (PostgreSQL docs, "COPY", section "Binary Format"): an
//! 11-byte signature, a flags word and a header-extension length, then per tuple a 16-bit field
//! count and per field a 32-bit length (-1 for NULL) and the value in the type's binary send
//! format (big-endian integers and IEEE floats, raw bytes for `bytea`, UTF-8 for `text`); a
//! 16-bit -1 ends the data. Written by hand into one buffer: no per-value boxing.

use std::collections::HashMap;

use bytes::Bytes;

use crate::store::schema::{neighbour_keys, rejected_key};
use crate::store::{Batch, ReadingRow, ReceptionRow, RejectedRow};

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

/// `telegrams` columns in COPY order (see [`super::sql::COPY_DIRECT`]); with `staging`, the
/// staging columns after them ([`super::sql::COPY_STAGING`]): batch position, the neighbour
/// bucket keys ([`neighbour_keys`]), the span of its receptions' times and its first reception.
pub fn telegrams(b: &Batch, staging: bool) -> Vec<u8> {
    let firsts = if staging { first_receptions(b) } else { HashMap::new() };
    let mut c = CopyBuf::new(b.telegrams.iter().map(|r| r.frame.len() + r.meter.len() + 160).sum());
    for (ord, r) in b.telegrams.iter().enumerate() {
        c.tuple(if staging { 19 } else { 12 });
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
        if staging {
            c.i32(ord as i32);
            let nb = neighbour_keys(&r.dedup_key);
            c.opt(nb.first(), |c, k| c.bytes(k));
            c.opt(nb.get(1), |c, k| c.bytes(k));
            let f = firsts.get(&r.dedup_key);
            c.i64(f.map_or(r.received_at_ms, |f| f.1));
            c.i64(f.map_or(r.received_at_ms, |f| f.2));
            c.opt(f, |c, f| c.bytes(f.0.gateway.as_bytes()));
            c.opt(f, |c, f| c.bytes(f.0.intake.as_bytes()));
        }
    }
    c.finish()
}

/// Per key: its first reception in batch order, the earliest and the latest reception time.
fn first_receptions(b: &Batch) -> HashMap<[u8; 16], (&ReceptionRow, i64, i64)> {
    let mut m: HashMap<[u8; 16], (&ReceptionRow, i64, i64)> = HashMap::with_capacity(b.telegrams.len());
    for r in &b.receptions {
        let e = m.entry(r.dedup_key).or_insert((r, r.received_at_ms, r.received_at_ms));
        e.1 = e.1.min(r.received_at_ms);
        e.2 = e.2.max(r.received_at_ms);
    }
    m
}

/// `receptions` columns in COPY order.
pub fn receptions(rows: &[ReceptionRow]) -> Vec<u8> {
    let mut c = CopyBuf::new(rows.len() * 80);
    for r in rows {
        c.tuple(5);
        c.bytes(&r.dedup_key);
        c.bytes(r.gateway.as_bytes());
        c.bytes(r.intake.as_bytes());
        c.i64(r.received_at_ms);
        c.opt(r.rssi, CopyBuf::f32);
    }
    c.finish()
}

/// `readings` columns in COPY order.
pub fn readings(rows: &[ReadingRow]) -> Vec<u8> {
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
pub fn rejected(rows: &[RejectedRow]) -> Vec<u8> {
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

/// The four streams of a batch, `None` where the batch has no rows of that kind.
pub fn batch(b: &Batch, staging: bool) -> [Option<Bytes>; 4] {
    [
        (!b.telegrams.is_empty()).then(|| telegrams(b, staging).into()),
        (!b.receptions.is_empty()).then(|| receptions(&b.receptions).into()),
        (!b.readings.is_empty()).then(|| readings(&b.readings).into()),
        (!b.rejected.is_empty()).then(|| rejected(&b.rejected).into()),
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
