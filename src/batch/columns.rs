//! Column builders for the two output tables (arrow-rs builders), filled one telegram at a time.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, Int8Builder, StringBuilder,
    UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Status;
use crate::error::Error;
use crate::link::wmbus::FrameFormat;
use crate::records::{Record, RecordKind, Value};
use crate::telegram::{LinkInfo, Telegram};
use crate::tpl::{self, HeaderKind};

/// A small, fast hasher for interning keys (pointer + length of `&'static str`): no DoS concern,
/// the keys are our own static strings.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

type Fx = BuildHasherDefault<FxHasher>;

const CACHE: usize = 64;

/// A dictionary-encoded string column (`dictionary<int32, utf8>`): low-cardinality text
/// (status, quantity, unit, ...) is stored once per batch.
pub(crate) struct DictColumn {
    keys: Int32Builder,
    /// Direct-mapped cache in front of `by_ptr`: (address, length, key).
    cache: [(usize, usize, i32); CACHE],
    values: Vec<Box<str>>,
    by_ptr: HashMap<(usize, usize), i32, Fx>,
    by_text: HashMap<Box<str>, i32>,
}

impl DictColumn {
    fn with_capacity(n: usize) -> Self {
        DictColumn {
            keys: Int32Builder::with_capacity(n),
            cache: [(0, 0, 0); CACHE],
            values: Vec::new(),
            by_ptr: HashMap::default(),
            by_text: HashMap::new(),
        }
    }

    fn intern_text(&mut self, s: &str) -> i32 {
        if let Some(&k) = self.by_text.get(s) {
            return k;
        }
        let k = self.values.len() as i32;
        self.values.push(s.into());
        self.by_text.insert(s.into(), k);
        k
    }

    /// Append a static string (interned by address, then by content).
    #[inline]
    fn append_static(&mut self, s: &'static str) {
        let (p, n) = (s.as_ptr() as usize, s.len());
        let slot = (p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) % CACHE;
        let c = self.cache[slot];
        if c.0 == p && c.1 == n {
            self.keys.append_value(c.2);
            return;
        }
        let k = match self.by_ptr.get(&(p, n)) {
            Some(&k) => k,
            None => {
                let k = self.intern_text(s);
                self.by_ptr.insert((p, n), k);
                k
            }
        };
        self.cache[slot] = (p, n, k);
        self.keys.append_value(k);
    }

    fn append_str(&mut self, s: &str) {
        let k = self.intern_text(s);
        self.keys.append_value(k);
    }

    #[inline]
    fn append_option(&mut self, s: Option<&'static str>) {
        match s {
            Some(s) => self.append_static(s),
            None => self.keys.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        let keys = self.keys.finish();
        let values = StringArray::from_iter_values(self.values.iter().map(|s| &**s));
        Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).expect("keys index the values"))
    }
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The telegram table's schema without metadata columns.
pub fn telegram_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("index", DataType::UInt64, false),
            Field::new("status", dict(), false),
            Field::new("error", DataType::Utf8, true),
            Field::new("error_offset", DataType::UInt32, true),
            Field::new("link", dict(), true),
            Field::new("frame_type", dict(), true),
            Field::new("c_field", DataType::UInt8, true),
            Field::new("address", DataType::UInt8, true),
            Field::new("link_manufacturer", DataType::Utf8, true),
            Field::new("link_id", DataType::Utf8, true),
            Field::new("manufacturer", DataType::Utf8, true),
            Field::new("id", DataType::Utf8, true),
            Field::new("version", DataType::UInt8, true),
            Field::new("device_type", DataType::UInt8, true),
            Field::new("device_type_name", dict(), true),
            Field::new("ci", DataType::UInt8, true),
            Field::new("header", dict(), true),
            Field::new("access_number", DataType::UInt8, true),
            Field::new("status_byte", DataType::UInt8, true),
            Field::new("configuration", DataType::UInt16, true),
            Field::new("security_mode", DataType::UInt8, true),
            Field::new("encrypted", DataType::Boolean, true),
            Field::new("decrypted", DataType::Boolean, true),
            Field::new("decrypted_by", dict(), true),
            Field::new("application_error", DataType::Utf8, true),
            Field::new("record_count", DataType::UInt32, false),
            Field::new("undecoded_offset", DataType::UInt32, true),
        ]))
    })
    .clone()
}

/// The record table's schema.
pub fn record_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("frame_index", DataType::UInt64, false),
            Field::new("record_index", DataType::UInt32, false),
            Field::new("storage", DataType::UInt64, false),
            Field::new("tariff", DataType::UInt32, false),
            Field::new("subunit", DataType::UInt16, false),
            Field::new("function", dict(), false),
            Field::new("quantity", dict(), false),
            Field::new("unit", dict(), true),
            Field::new("extensions", DataType::Utf8, true),
            Field::new("value_type", dict(), false),
            Field::new("value", DataType::Float64, true),
            Field::new("mantissa", DataType::Int64, true),
            Field::new("exponent", DataType::Int8, true),
            Field::new("text", DataType::Utf8, true),
            Field::new("bytes", DataType::Binary, true),
            Field::new("dif", DataType::Utf8, false),
            Field::new("vif", DataType::Utf8, false),
        ]))
    })
    .clone()
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn append_hex(b: &mut StringBuilder, bytes: &[u8]) {
    let mut buf = [0u8; 64];
    if bytes.len() * 2 <= buf.len() {
        for (i, x) in bytes.iter().enumerate() {
            buf[2 * i] = HEX[(x >> 4) as usize];
            buf[2 * i + 1] = HEX[(x & 15) as usize];
        }
        // Only ASCII hex digits were written.
        b.append_value(std::str::from_utf8(&buf[..bytes.len() * 2]).unwrap_or_default());
    } else {
        b.append_value(crate::tpl::hex_lower(bytes));
    }
}

fn id_text(id: [u8; 4]) -> [u8; 8] {
    let mut s = [0u8; 8];
    for (k, b) in id.iter().rev().enumerate() {
        s[2 * k] = HEX_UPPER[(b >> 4) as usize];
        s[2 * k + 1] = HEX_UPPER[(b & 15) as usize];
    }
    s
}

fn append_ascii(b: &mut StringBuilder, s: &[u8]) {
    b.append_value(std::str::from_utf8(s).unwrap_or("?"));
}

pub(crate) struct TelegramColumns {
    index: UInt64Builder,
    status: DictColumn,
    error: StringBuilder,
    error_offset: UInt32Builder,
    link: DictColumn,
    frame_type: DictColumn,
    c_field: UInt8Builder,
    address: UInt8Builder,
    link_manufacturer: StringBuilder,
    link_id: StringBuilder,
    manufacturer: StringBuilder,
    id: StringBuilder,
    version: UInt8Builder,
    device_type: UInt8Builder,
    device_type_name: DictColumn,
    ci: UInt8Builder,
    header: DictColumn,
    access_number: UInt8Builder,
    status_byte: UInt8Builder,
    configuration: UInt16Builder,
    security_mode: UInt8Builder,
    encrypted: BooleanBuilder,
    decrypted: BooleanBuilder,
    decrypted_by: DictColumn,
    application_error: StringBuilder,
    record_count: UInt32Builder,
    undecoded_offset: UInt32Builder,
}

impl TelegramColumns {
    pub(crate) fn with_capacity(n: usize) -> Self {
        TelegramColumns {
            index: UInt64Builder::with_capacity(n),
            status: DictColumn::with_capacity(n),
            error: StringBuilder::with_capacity(n, 0),
            error_offset: UInt32Builder::with_capacity(n),
            link: DictColumn::with_capacity(n),
            frame_type: DictColumn::with_capacity(n),
            c_field: UInt8Builder::with_capacity(n),
            address: UInt8Builder::with_capacity(n),
            link_manufacturer: StringBuilder::with_capacity(n, 3 * n),
            link_id: StringBuilder::with_capacity(n, 8 * n),
            manufacturer: StringBuilder::with_capacity(n, 3 * n),
            id: StringBuilder::with_capacity(n, 8 * n),
            version: UInt8Builder::with_capacity(n),
            device_type: UInt8Builder::with_capacity(n),
            device_type_name: DictColumn::with_capacity(n),
            ci: UInt8Builder::with_capacity(n),
            header: DictColumn::with_capacity(n),
            access_number: UInt8Builder::with_capacity(n),
            status_byte: UInt8Builder::with_capacity(n),
            configuration: UInt16Builder::with_capacity(n),
            security_mode: UInt8Builder::with_capacity(n),
            encrypted: BooleanBuilder::with_capacity(n),
            decrypted: BooleanBuilder::with_capacity(n),
            decrypted_by: DictColumn::with_capacity(n),
            application_error: StringBuilder::with_capacity(n, 0),
            record_count: UInt32Builder::with_capacity(n),
            undecoded_offset: UInt32Builder::with_capacity(n),
        }
    }

    /// A row for a frame that did not decode: only index, status and the error.
    pub(crate) fn push_error(&mut self, index: u64, status: Status, message: &str, offset: Option<usize>) {
        self.index.append_value(index);
        self.status.append_static(status.as_str());
        self.error.append_value(message);
        self.error_offset.append_option(offset.map(|o| o as u32));
        self.link.keys.append_null();
        self.frame_type.keys.append_null();
        self.c_field.append_null();
        self.address.append_null();
        self.link_manufacturer.append_null();
        self.link_id.append_null();
        self.manufacturer.append_null();
        self.id.append_null();
        self.version.append_null();
        self.device_type.append_null();
        self.device_type_name.keys.append_null();
        self.ci.append_null();
        self.header.keys.append_null();
        self.access_number.append_null();
        self.status_byte.append_null();
        self.configuration.append_null();
        self.security_mode.append_null();
        self.encrypted.append_null();
        self.decrypted.append_null();
        self.decrypted_by.keys.append_null();
        self.application_error.append_null();
        self.record_count.append_value(0);
        self.undecoded_offset.append_null();
    }

    pub(crate) fn push_decode_error(&mut self, index: u64, e: &Error) -> Status {
        let status = Status::of_error(e);
        let mut msg = String::new();
        let _ = write!(msg, "{e}");
        self.push_error(index, status, &msg, Some(e.offset()));
        status
    }

    pub(crate) fn push_telegram(&mut self, index: u64, t: &Telegram) -> Status {
        let status = if t.encrypted && !t.decrypted { Status::NoKey } else { Status::Ok };
        self.index.append_value(index);
        self.status.append_static(status.as_str());
        self.error.append_null();
        self.error_offset.append_null();
        match t.link {
            LinkInfo::Wired { c, a, frame_kind } => {
                self.link.append_static("wired");
                self.frame_type.append_static(frame_kind);
                self.c_field.append_value(c);
                self.address.append_option((frame_kind != "single character").then_some(a));
                self.link_manufacturer.append_null();
                self.link_id.append_null();
            }
            LinkInfo::Wireless { c, format, address, .. } => {
                self.link.append_static("wireless");
                self.frame_type.append_static(match format {
                    FrameFormat::A => "format A",
                    FrameFormat::B => "format B",
                    FrameFormat::NoCrc => "no CRC",
                });
                self.c_field.append_value(c);
                self.address.append_null();
                append_ascii(&mut self.link_manufacturer, &tpl::device::manufacturer_to_str(address.manufacturer));
                append_ascii(&mut self.link_id, &id_text(address.id));
            }
        }
        let own_identity = t.device_type_name_override.is_none();
        match t.address {
            Some(a) => {
                if own_identity {
                    append_ascii(&mut self.manufacturer, &tpl::device::manufacturer_to_str(a.manufacturer));
                    self.version.append_value(a.version);
                } else {
                    self.manufacturer.append_null();
                    self.version.append_null();
                }
                append_ascii(&mut self.id, &id_text(a.id));
                self.device_type.append_value(a.device_type);
            }
            None => {
                self.manufacturer.append_null();
                self.id.append_null();
                self.version.append_null();
                self.device_type.append_null();
            }
        }
        self.device_type_name.append_option(t.device_type_name());
        self.ci.append_option(t.ci);
        self.header.append_static(match t.header.kind {
            HeaderKind::None => "none",
            HeaderKind::Short => "short",
            HeaderKind::Long => "long",
        });
        self.access_number.append_option(t.access_number());
        self.status_byte.append_option(t.status());
        self.configuration.append_value(t.header.config);
        self.security_mode.append_option(t.security_mode);
        self.encrypted.append_value(t.encrypted);
        self.decrypted.append_value(t.decrypted);
        self.decrypted_by.append_option(t.decryption.as_str());
        self.application_error.append_option(t.application_error.as_deref());
        self.record_count.append_value(t.records.len() as u32);
        self.undecoded_offset.append_option(t.undecoded.as_ref().map(|u| u.offset as u32));
        status
    }

    pub(crate) fn finish(&mut self, extra: Vec<(Arc<Field>, ArrayRef)>, schema: SchemaRef) -> RecordBatch {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.index.finish()),
            self.status.finish(),
            Arc::new(self.error.finish()),
            Arc::new(self.error_offset.finish()),
            self.link.finish(),
            self.frame_type.finish(),
            Arc::new(self.c_field.finish()),
            Arc::new(self.address.finish()),
            Arc::new(self.link_manufacturer.finish()),
            Arc::new(self.link_id.finish()),
            Arc::new(self.manufacturer.finish()),
            Arc::new(self.id.finish()),
            Arc::new(self.version.finish()),
            Arc::new(self.device_type.finish()),
            self.device_type_name.finish(),
            Arc::new(self.ci.finish()),
            self.header.finish(),
            Arc::new(self.access_number.finish()),
            Arc::new(self.status_byte.finish()),
            Arc::new(self.configuration.finish()),
            Arc::new(self.security_mode.finish()),
            Arc::new(self.encrypted.finish()),
            Arc::new(self.decrypted.finish()),
            self.decrypted_by.finish(),
            Arc::new(self.application_error.finish()),
            Arc::new(self.record_count.finish()),
            Arc::new(self.undecoded_offset.finish()),
        ];
        cols.extend(extra.into_iter().map(|(_, a)| a));
        RecordBatch::try_new(schema, cols).expect("columns match the telegram schema")
    }
}

/// value_type, value, (mantissa, exponent), bytes of one record.
type ValueColumns<'a> = (&'static str, Option<f64>, Option<(i64, i8)>, Option<&'a [u8]>);

pub(crate) struct RecordColumns {
    frame_index: UInt64Builder,
    record_index: UInt32Builder,
    storage: UInt64Builder,
    tariff: UInt32Builder,
    subunit: UInt16Builder,
    function: DictColumn,
    quantity: DictColumn,
    unit: DictColumn,
    extensions: StringBuilder,
    value_type: DictColumn,
    value: Float64Builder,
    mantissa: Int64Builder,
    exponent: Int8Builder,
    text: StringBuilder,
    bytes: BinaryBuilder,
    dif: StringBuilder,
    vif: StringBuilder,
    scratch: String,
}

fn quantity(r: &Record) -> &'static str {
    match r.kind {
        RecordKind::Data => r.vif.quantity,
        RecordKind::ManufacturerData { more_records_follow: false } => "Manufacturer specific data",
        RecordKind::ManufacturerData { more_records_follow: true } => "Manufacturer specific data, more records follow",
        RecordKind::GlobalReadout => "Global readout request",
    }
}

/// An LVAR binary number (EN 13757-3 Table 5) as an unsigned integer, if it fits 64 bits.
fn binary_number(b: &[u8], msb_first: bool) -> Option<u64> {
    let significant = |x: &[u8]| x.iter().all(|&v| v == 0);
    let (lo, hi) = if msb_first {
        let cut = b.len().saturating_sub(8);
        (&b[cut..], &b[..cut])
    } else {
        let cut = b.len().min(8);
        (&b[..cut], &b[cut..])
    };
    if !significant(hi) {
        return None;
    }
    let mut v = 0u64;
    if msb_first {
        for &x in lo {
            v = v << 8 | x as u64;
        }
    } else {
        for &x in lo.iter().rev() {
            v = v << 8 | x as u64;
        }
    }
    Some(v)
}

fn pow10(e: i8) -> f64 {
    10f64.powi(e as i32)
}

impl RecordColumns {
    pub(crate) fn with_capacity(n: usize) -> Self {
        RecordColumns {
            frame_index: UInt64Builder::with_capacity(n),
            record_index: UInt32Builder::with_capacity(n),
            storage: UInt64Builder::with_capacity(n),
            tariff: UInt32Builder::with_capacity(n),
            subunit: UInt16Builder::with_capacity(n),
            function: DictColumn::with_capacity(n),
            quantity: DictColumn::with_capacity(n),
            unit: DictColumn::with_capacity(n),
            extensions: StringBuilder::with_capacity(n, 0),
            value_type: DictColumn::with_capacity(n),
            value: Float64Builder::with_capacity(n),
            mantissa: Int64Builder::with_capacity(n),
            exponent: Int8Builder::with_capacity(n),
            text: StringBuilder::with_capacity(n, 0),
            bytes: BinaryBuilder::with_capacity(n, 0),
            dif: StringBuilder::with_capacity(n, 4 * n),
            vif: StringBuilder::with_capacity(n, 4 * n),
            scratch: String::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.frame_index.len()
    }

    pub(crate) fn push_telegram(&mut self, index: u64, t: &Telegram) {
        let msb_first = t.ci_info().is_some_and(|i| i.msb_first);
        for (k, r) in t.records.iter().enumerate() {
            self.push_record(index, k as u32, r, &t.payload, msb_first);
        }
    }

    fn push_record(&mut self, index: u64, k: u32, r: &Record, payload: &[u8], msb_first: bool) {
        self.frame_index.append_value(index);
        self.record_index.append_value(k);
        self.storage.append_value(r.storage);
        self.tariff.append_value(r.tariff);
        self.subunit.append_value(r.subunit);
        self.function.append_static(r.function.as_str());
        self.quantity.append_static(quantity(r));
        match r.vif.plain_text_unit.as_deref() {
            Some(u) => self.unit.append_str(u),
            None => self.unit.append_option(r.vif.unit.as_str()),
        }
        let mut ext = r.vif.extensions();
        match ext.next() {
            None => self.extensions.append_null(),
            Some(first) => {
                self.scratch.clear();
                self.scratch.push_str(first);
                for e in ext {
                    self.scratch.push_str("; ");
                    self.scratch.push_str(e);
                }
                self.extensions.append_value(&self.scratch);
            }
        }
        let (vt, value, exact, bytes): ValueColumns<'_> = match &r.value {
            Value::None => ("none", None, None, None),
            Value::Number { mantissa, exponent } => ("number", r.value.as_f64(), Some((*mantissa, *exponent)), None),
            Value::Real(f) => ("real", Some(*f), None, None),
            Value::DateTime(_) | Value::Text(_) => {
                (if matches!(r.value, Value::Text(_)) { "text" } else { "datetime" }, None, None, None)
            }
            Value::InvalidBcd(span) => ("invalid", None, None, Some(span.get(payload))),
            Value::Bytes(span) if r.is_binary_number(payload) => {
                let raw = span.get(payload);
                let e = r.vif.exponent;
                match binary_number(raw, msb_first) {
                    Some(v) if v <= i64::MAX as u64 => {
                        let m = v as i64;
                        ("number", Value::Number { mantissa: m, exponent: e }.as_f64(), Some((m, e)), Some(raw))
                    }
                    Some(v) => ("number", Some(v as f64 * pow10(e)), None, Some(raw)),
                    None => ("bytes", None, None, Some(raw)),
                }
            }
            Value::Bytes(span) => ("bytes", None, None, Some(span.get(payload))),
        };
        // Text and dates are written straight into the column (no intermediate String).
        match &r.value {
            Value::DateTime(d) if d.is_valid() => {
                let _ = write!(self.text, "{d}");
                self.text.append_value("");
            }
            Value::Text(t) => self.text.append_value(t),
            _ => self.text.append_null(),
        }
        self.value_type.append_static(vt);
        self.value.append_option(value);
        match exact {
            Some((m, e)) => {
                self.mantissa.append_value(m);
                self.exponent.append_value(e);
            }
            None => {
                self.mantissa.append_null();
                self.exponent.append_null();
            }
        }
        self.bytes.append_option(bytes);
        append_hex(&mut self.dif, r.dib.get(payload));
        append_hex(&mut self.vif, r.vib.get(payload));
    }

    pub(crate) fn finish(&mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.frame_index.finish()),
            Arc::new(self.record_index.finish()),
            Arc::new(self.storage.finish()),
            Arc::new(self.tariff.finish()),
            Arc::new(self.subunit.finish()),
            self.function.finish(),
            self.quantity.finish(),
            self.unit.finish(),
            Arc::new(self.extensions.finish()),
            self.value_type.finish(),
            Arc::new(self.value.finish()),
            Arc::new(self.mantissa.finish()),
            Arc::new(self.exponent.finish()),
            Arc::new(self.text.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.dif.finish()),
            Arc::new(self.vif.finish()),
        ];
        RecordBatch::try_new(record_schema(), cols).expect("columns match the record schema")
    }
}

#[cfg(test)]
mod tests {
    use super::binary_number;

    #[test]
    fn binary_numbers() {
        assert_eq!(binary_number(&[0x01, 0x02], false), Some(0x0201));
        assert_eq!(binary_number(&[0x01, 0x02], true), Some(0x0102));
        assert_eq!(binary_number(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0], false), Some(1));
        assert_eq!(binary_number(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 1], false), None);
        assert_eq!(binary_number(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 2], true), None);
        assert_eq!(binary_number(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 2], false), None);
        assert_eq!(binary_number(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 2], true), Some(2));
    }
}
