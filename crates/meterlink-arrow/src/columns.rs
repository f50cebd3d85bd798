//! Column buffers for the two output tables, filled one telegram at a time.
//!
//! Every column is a plain `Vec` (values, offsets, one validity flag per row) sized up front;
//! the Arrow arrays are built once in `finish`. Dictionary columns find the key of a
//! `&'static str` through a slot table indexed by a per-column hint (an enum's index, the VIF
//! table and code...): a row costs two compares, not a hash.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    ArrayRef, ArrowPrimitiveType, BinaryArray, BooleanArray, DictionaryArray, PrimitiveArray, RecordBatch, StringArray,
};
use arrow_buffer::{ArrowNativeType, BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::Status;
use meterlink::error::Error;
use meterlink::mbus::records::{Record, RecordKind, Span, Unit, Value, VifTable};
use meterlink::mbus::decode::{
    binary_number, frame_format_name, record_quantity, Counters, DecryptedBy, FrameKind, Integrity, LinkInfo, Telegram,
};
use meterlink::mbus::tpl::{self, HeaderKind};

/// The validity bitmap of per-row flags; `None` when every row is valid.
fn nulls(ok: &[bool]) -> Option<NullBuffer> {
    let b = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(pack_bits(ok)), 0, ok.len()));
    (b.null_count() > 0).then_some(b)
}

/// Flags → LSB-first bitmap, eight at a time: the multiply moves byte k's low bit (a bool is
/// 0 or 1) to bit 56 + k, with no carries between the partial products.
fn pack_bits(ok: &[bool]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(ok.len().div_ceil(8));
    let mut chunks = ok.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]].map(u8::from));
        bits.push((x.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        bits.push(rest.iter().enumerate().fold(0u8, |b, (k, &v)| b | (u8::from(v) << k)));
    }
    bits
}

fn prim<P: ArrowPrimitiveType>(v: Vec<P::Native>) -> ArrayRef {
    Arc::new(PrimitiveArray::<P>::new(ScalarBuffer::from(v), None))
}

/// Row validity, kept as one flag per row only from the first null on (columns that are never
/// null cost nothing).
pub(crate) struct Valid {
    ok: Option<Vec<bool>>,
    cap: usize,
}

impl Valid {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Valid { ok: None, cap }
    }

    /// Row `row` (the rows before it are recorded) is valid or null.
    #[inline]
    pub(crate) fn push(&mut self, row: usize, valid: bool) {
        match &mut self.ok {
            Some(ok) => ok.push(valid),
            None if valid => {}
            None => self.first_null(row),
        }
    }

    #[cold]
    fn first_null(&mut self, row: usize) {
        let mut ok = Vec::with_capacity(self.cap.max(row + 1));
        ok.resize(row, true);
        ok.push(false);
        self.ok = Some(ok);
    }

    pub(crate) fn finish(self) -> Option<NullBuffer> {
        self.ok.as_deref().and_then(nulls)
    }
}

/// A nullable primitive column.
pub(crate) struct Opt<T> {
    v: Vec<T>,
    ok: Valid,
}

impl<T: Copy + Default> Opt<T> {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Opt { v: Vec::with_capacity(n), ok: Valid::with_capacity(n) }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: Option<T>) {
        self.ok.push(self.v.len(), x.is_some());
        self.v.push(x.unwrap_or_default());
    }
}

impl<T: ArrowNativeType> Opt<T> {
    pub(crate) fn finish<P: ArrowPrimitiveType<Native = T>>(self) -> ArrayRef {
        Arc::new(PrimitiveArray::<P>::new(ScalarBuffer::from(self.v), self.ok.finish()))
    }
}

impl Opt<bool> {
    /// The column as a boolean array.
    pub(crate) fn finish_bool(self) -> ArrayRef {
        let n = self.ok.finish();
        Arc::new(BooleanArray::new(BooleanBuffer::from(self.v), n))
    }
}

/// Two hex digits per byte value.
pub(crate) static HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// A utf8 or binary column: offsets, the values' bytes, validity.
pub(crate) struct Bytes {
    offsets: Vec<i32>,
    data: Vec<u8>,
    ok: Valid,
}

impl Bytes {
    pub(crate) fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Bytes { offsets, data: Vec::with_capacity(bytes), ok: Valid::with_capacity(rows) }
    }

    /// Close the row whose bytes were appended to `data`.
    #[inline]
    fn end_row(&mut self, valid: bool) {
        let end = i32::try_from(self.data.len()).expect("a column chunk over 2 GiB: decode with smaller chunk_rows");
        self.ok.push(self.offsets.len() - 1, valid);
        self.offsets.push(end);
    }

    #[inline]
    pub(crate) fn push_null(&mut self) {
        self.end_row(false);
    }

    #[inline]
    pub(crate) fn push_str(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        self.end_row(true);
    }

    #[inline]
    pub(crate) fn push_opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.push_str(s),
            None => self.push_null(),
        }
    }

    /// ASCII only (checked in debug builds): the utf8 columns rely on it.
    #[inline]
    pub(crate) fn push_ascii(&mut self, b: &[u8]) {
        debug_assert!(b.is_ascii());
        self.data.extend_from_slice(b);
        self.end_row(true);
    }

    fn parts(self) -> (OffsetBuffer<i32>, Buffer, Option<NullBuffer>) {
        let n = self.ok.finish();
        // SAFETY: offsets start at 0 and each is the data length after a row (`end_row`), so
        // they never decrease and the last one is `data.len()`.
        let offsets = unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(self.offsets)) };
        (offsets, Buffer::from_vec(self.data), n)
    }

    pub(crate) fn finish_utf8(self) -> ArrayRef {
        let (offsets, data, n) = self.parts();
        // SAFETY: utf8 columns only receive whole `&str`s (push_str, write_iso) and ASCII
        // (push_ascii, HexRows), so the bytes are UTF-8 and every offset is on a character
        // boundary; the offsets are valid (see `parts`).
        Arc::new(unsafe { StringArray::new_unchecked(offsets, data, n) })
    }

    fn finish_binary(self) -> ArrayRef {
        let (offsets, data, n) = self.parts();
        Arc::new(BinaryArray::new(offsets, data, n))
    }
}

/// The distinct texts of one dictionary column, in order of first appearance, and the slots
/// that find a text's key: a slot per hint remembers the `&'static str` last seen under it,
/// so a row costs two compares, not a hash.
struct Names {
    /// (address, length, key) of the static string last seen under each hint.
    slots: Vec<(usize, usize, i32)>,
    values: Vec<Box<str>>,
    by_text: HashMap<Box<str>, i32>,
}

impl Names {
    fn new(hints: usize) -> Self {
        Names { slots: vec![(0, 0, 0); hints], values: Vec::new(), by_text: HashMap::new() }
    }

    /// The key of a text that is not static (interned by content).
    fn key_text(&mut self, s: &str) -> i32 {
        if let Some(&k) = self.by_text.get(s) {
            return k;
        }
        let k = self.values.len() as i32;
        self.values.push(s.into());
        self.by_text.insert(s.into(), k);
        k
    }

    /// The key of `s`. `hint` picks the slot that remembers it: any value is correct (the
    /// slot is checked against the string), one that tells the strings apart is fast.
    #[inline]
    fn key(&mut self, hint: usize, s: &'static str) -> i32 {
        match self.slots.get(hint) {
            Some(&(sp, sn, k)) if sp == s.as_ptr() as usize && sn == s.len() => k,
            _ => self.miss(hint, s),
        }
    }

    #[cold]
    fn miss(&mut self, hint: usize, s: &'static str) -> i32 {
        let k = self.key_text(s);
        if let Some(slot) = self.slots.get_mut(hint) {
            *slot = (s.as_ptr() as usize, s.len(), k);
        }
        k
    }

    /// `None` (a null row) is key -1.
    #[inline]
    fn key_opt(&mut self, hint: usize, s: Option<&'static str>) -> i32 {
        s.map_or(-1, |s| self.key(hint, s))
    }

    /// The dictionary array of `keys` (-1 marks a null row).
    fn finish(self, mut keys: Vec<i32>) -> ArrayRef {
        let mut n = None;
        // The OR of the keys is negative iff one is (a loop that vectorises, unlike `any`).
        if keys.iter().fold(0, |a, &k| a | k) < 0 {
            n = Some(NullBuffer::new(BooleanBuffer::collect_bool(keys.len(), |i| keys[i] >= 0)));
            keys.iter_mut().for_each(|k| *k = (*k).max(0));
        }
        let keys = PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(keys), n);
        let values = StringArray::from_iter_values(self.values.iter().map(|s| &**s));
        // SAFETY: every key is 0 (null rows) or came from `key_text`, so it indexes `values`.
        Arc::new(unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, Arc::new(values)) })
    }
}

/// A dictionary-encoded string column (`dictionary<int32, utf8>`): low-cardinality text
/// (status, quantity, unit, ...) is stored once per batch, in order of first appearance.
pub(crate) struct Dict {
    /// -1 marks a null row.
    keys: Vec<i32>,
    names: Names,
}

impl Dict {
    pub(crate) fn new(rows: usize, hints: usize) -> Self {
        Dict { keys: Vec::with_capacity(rows), names: Names::new(hints) }
    }

    /// Append `s` (see [`Names::key`] for `hint`).
    #[inline]
    pub(crate) fn push(&mut self, hint: usize, s: &'static str) {
        let k = self.names.key(hint, s);
        self.keys.push(k);
    }

    #[inline]
    pub(crate) fn push_null(&mut self) {
        self.keys.push(-1);
    }

    /// Append a text that is not static (interned by content).
    pub(crate) fn push_text(&mut self, s: &str) {
        let k = self.names.key_text(s);
        self.keys.push(k);
    }

    #[inline]
    pub(crate) fn push_opt(&mut self, hint: usize, s: Option<&'static str>) {
        let k = self.names.key_opt(hint, s);
        self.keys.push(k);
    }

    pub(crate) fn finish(self) -> ArrayRef {
        self.names.finish(self.keys)
    }
}

pub(crate) fn dict() -> DataType {
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
            Field::new("error_code", dict(), true),
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
            Field::new("link_crc", dict(), true),
            Field::new("integrity", dict(), true),
            Field::new("application_error", DataType::Utf8, true),
            Field::new("record_count", DataType::UInt32, false),
            Field::new("undecoded_offset", DataType::UInt32, true),
            Field::new("tpl_message_counter", DataType::UInt32, true),
            Field::new("afl_message_counter", DataType::UInt32, true),
            Field::new("afl_key_info", DataType::UInt16, true),
            Field::new("ell_session", DataType::UInt32, true),
            Field::new("dsmr_frame_counter", DataType::UInt32, true),
            Field::new("key_id", DataType::UInt8, true),
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

fn id_text(id: [u8; 4]) -> [u8; 8] {
    let mut s = [0u8; 8];
    for (k, b) in id.iter().rev().enumerate() {
        s[2 * k] = HEX_UPPER[(b >> 4) as usize];
        s[2 * k + 1] = HEX_UPPER[(b & 15) as usize];
    }
    s
}

pub(crate) struct TelegramColumns {
    index: Vec<u64>,
    status: Dict,
    error: Bytes,
    error_code: Dict,
    error_offset: Opt<u32>,
    link: Dict,
    frame_type: Dict,
    c_field: Opt<u8>,
    address: Opt<u8>,
    link_manufacturer: Bytes,
    link_id: Bytes,
    manufacturer: Bytes,
    id: Bytes,
    version: Opt<u8>,
    device_type: Opt<u8>,
    device_type_name: Dict,
    ci: Opt<u8>,
    header: Dict,
    access_number: Opt<u8>,
    status_byte: Opt<u8>,
    configuration: Opt<u16>,
    security_mode: Opt<u8>,
    encrypted: Opt<bool>,
    decrypted: Opt<bool>,
    decrypted_by: Dict,
    link_crc: Dict,
    integrity: Dict,
    application_error: Bytes,
    record_count: Vec<u32>,
    undecoded_offset: Opt<u32>,
    tpl_message_counter: Opt<u32>,
    afl_message_counter: Opt<u32>,
    afl_key_info: Opt<u16>,
    ell_session: Opt<u32>,
    dsmr_frame_counter: Opt<u32>,
    key_id: Opt<u8>,
}

/// Slot hints of the wired frame kinds (`WiredFrame::kind_name`) and wireless formats.
/// Dictionary slots of the error codes: one per code of the core, one for input errors.
const CODE_HINTS: usize = meterlink::error::ALL_CODES.len() + 1;

/// The dictionary slot of an error code (codes are few and error rows rare: a short scan).
fn code_hint(code: &str) -> usize {
    meterlink::error::ALL_CODES.iter().position(|c| *c == code).unwrap_or(CODE_HINTS - 1)
}

fn frame_type_hint(s: &str) -> usize {
    s.len() & 15
}

impl TelegramColumns {
    pub(crate) fn with_capacity(n: usize) -> Self {
        TelegramColumns {
            index: Vec::with_capacity(n),
            status: Dict::new(n, Status::ALL.len()),
            error: Bytes::with_capacity(n, 0),
            error_code: Dict::new(n, CODE_HINTS),
            error_offset: Opt::with_capacity(n),
            link: Dict::new(n, 2),
            frame_type: Dict::new(n, 16),
            c_field: Opt::with_capacity(n),
            address: Opt::with_capacity(n),
            link_manufacturer: Bytes::with_capacity(n, 3 * n),
            link_id: Bytes::with_capacity(n, 8 * n),
            manufacturer: Bytes::with_capacity(n, 3 * n),
            id: Bytes::with_capacity(n, 8 * n),
            version: Opt::with_capacity(n),
            device_type: Opt::with_capacity(n),
            device_type_name: Dict::new(n, 256),
            ci: Opt::with_capacity(n),
            header: Dict::new(n, 3),
            access_number: Opt::with_capacity(n),
            status_byte: Opt::with_capacity(n),
            configuration: Opt::with_capacity(n),
            security_mode: Opt::with_capacity(n),
            encrypted: Opt::with_capacity(n),
            decrypted: Opt::with_capacity(n),
            decrypted_by: Dict::new(n, 3),
            link_crc: Dict::new(n, 2),
            integrity: Dict::new(n, Integrity::ALL.len()),
            application_error: Bytes::with_capacity(n, 0),
            record_count: Vec::with_capacity(n),
            undecoded_offset: Opt::with_capacity(n),
            tpl_message_counter: Opt::with_capacity(n),
            afl_message_counter: Opt::with_capacity(n),
            afl_key_info: Opt::with_capacity(n),
            ell_session: Opt::with_capacity(n),
            dsmr_frame_counter: Opt::with_capacity(n),
            key_id: Opt::with_capacity(n),
        }
    }

    /// A row for a frame that did not decode: only index, status and the error.
    pub(crate) fn push_error(&mut self, index: u64, status: Status, message: &str, offset: Option<usize>, code: &'static str) {
        self.index.push(index);
        self.status.push(status.slot(), status.as_str());
        self.error.push_str(message);
        self.error_code.push(code_hint(code), code);
        self.error_offset.push(offset.map(|o| o as u32));
        self.link.push_null();
        self.frame_type.push_null();
        self.c_field.push(None);
        self.address.push(None);
        self.link_manufacturer.push_null();
        self.link_id.push_null();
        self.manufacturer.push_null();
        self.id.push_null();
        self.version.push(None);
        self.device_type.push(None);
        self.device_type_name.push_null();
        self.ci.push(None);
        self.header.push_null();
        self.access_number.push(None);
        self.status_byte.push(None);
        self.configuration.push(None);
        self.security_mode.push(None);
        self.encrypted.push(None);
        self.decrypted.push(None);
        self.decrypted_by.push_null();
        self.link_crc.push_null();
        self.integrity.push_null();
        self.application_error.push_null();
        self.record_count.push(0);
        self.undecoded_offset.push(None);
        self.push_counters(&Counters::default(), false);
    }

    /// The counter columns (key ID only for decoded telegrams).
    #[inline]
    fn push_counters(&mut self, c: &Counters, decoded: bool) {
        self.tpl_message_counter.push(c.tpl_message_counter);
        self.afl_message_counter.push(c.afl_message_counter);
        self.afl_key_info.push(c.afl_key_info);
        self.ell_session.push(c.ell_session);
        self.dsmr_frame_counter.push(c.dsmr_frame_counter);
        self.key_id.push(decoded.then_some(c.key_id));
    }

    pub(crate) fn push_decode_error(&mut self, index: u64, e: &Error) -> Status {
        let status = Status::of_error(e);
        self.push_error(index, status, &e.to_string(), Some(e.offset()), e.code());
        status
    }

    pub(crate) fn push_telegram(&mut self, index: u64, t: &Telegram) -> Status {
        let status = if t.is_opaque() { Status::NoKey } else { Status::Ok };
        self.index.push(index);
        self.status.push(status.slot(), status.as_str());
        self.error.push_null();
        self.error_code.push_null();
        self.error_offset.push(None);
        match t.link {
            LinkInfo::Wired { c, a, kind } => {
                self.link.push(0, "wired");
                self.frame_type.push(frame_type_hint(kind.as_str()), kind.as_str());
                self.c_field.push(Some(c));
                self.address.push((kind != FrameKind::SingleCharacter).then_some(a));
                self.link_manufacturer.push_null();
                self.link_id.push_null();
            }
            LinkInfo::Wireless { c, format, address, .. } => {
                self.link.push(1, "wireless");
                let f = frame_format_name(format);
                self.frame_type.push(frame_type_hint(f), f);
                self.c_field.push(Some(c));
                self.address.push(None);
                // Manufacturer letters are 0x40..0x5F, IDs hex digits: ASCII.
                self.link_manufacturer.push_ascii(&tpl::device::manufacturer_to_str(address.manufacturer));
                self.link_id.push_ascii(&id_text(address.id));
            }
        }
        let own_identity = t.device_type_name_override.is_none();
        match t.address {
            Some(a) => {
                if own_identity {
                    self.manufacturer.push_ascii(&tpl::device::manufacturer_to_str(a.manufacturer));
                    self.version.push(Some(a.version));
                } else {
                    self.manufacturer.push_null();
                    self.version.push(None);
                }
                self.id.push_ascii(&id_text(a.id));
                self.device_type.push(Some(a.device_type));
            }
            None => {
                self.manufacturer.push_null();
                self.id.push_null();
                self.version.push(None);
                self.device_type.push(None);
            }
        }
        let dt_hint = t.address.map_or(0, |a| a.device_type as usize);
        self.device_type_name.push_opt(dt_hint, t.device_type_name());
        self.ci.push(t.ci);
        let (h, name) = match t.header.kind {
            HeaderKind::None => (0, "none"),
            HeaderKind::Short => (1, "short"),
            HeaderKind::Long => (2, "long"),
        };
        self.header.push(h, name);
        self.access_number.push(t.access_number());
        self.status_byte.push(t.status());
        self.configuration.push(Some(t.header.config));
        let p = &t.protection;
        self.security_mode.push(p.mode);
        self.encrypted.push(Some(p.encrypted()));
        self.decrypted.push(Some(p.decrypted()));
        self.decrypted_by.push_opt(p.decrypted_by().map_or(0, DecryptedBy::index), p.decrypted_by().map(DecryptedBy::as_str));
        let lc = t.link_crc();
        self.link_crc.push(lc as usize, lc.as_str());
        let integrity = t.integrity();
        self.integrity.push(integrity.index(), integrity.as_str());
        self.application_error.push_opt_str(t.application_error.as_deref());
        self.record_count.push(t.records.len() as u32);
        self.undecoded_offset.push(t.undecoded.as_ref().map(|u| u.offset as u32));
        self.push_counters(&t.counters(), true);
        status
    }

    pub(crate) fn finish(self, extra: Vec<(Arc<Field>, ArrayRef)>, schema: SchemaRef) -> RecordBatch {
        let bools = |o: Opt<bool>| -> ArrayRef {
            let n = o.ok.finish();
            Arc::new(BooleanArray::new(BooleanBuffer::from(o.v), n))
        };
        let mut cols: Vec<ArrayRef> = vec![
            prim::<UInt64Type>(self.index),
            self.status.finish(),
            self.error.finish_utf8(),
            self.error_code.finish(),
            self.error_offset.finish::<UInt32Type>(),
            self.link.finish(),
            self.frame_type.finish(),
            self.c_field.finish::<UInt8Type>(),
            self.address.finish::<UInt8Type>(),
            self.link_manufacturer.finish_utf8(),
            self.link_id.finish_utf8(),
            self.manufacturer.finish_utf8(),
            self.id.finish_utf8(),
            self.version.finish::<UInt8Type>(),
            self.device_type.finish::<UInt8Type>(),
            self.device_type_name.finish(),
            self.ci.finish::<UInt8Type>(),
            self.header.finish(),
            self.access_number.finish::<UInt8Type>(),
            self.status_byte.finish::<UInt8Type>(),
            self.configuration.finish::<UInt16Type>(),
            self.security_mode.finish::<UInt8Type>(),
            bools(self.encrypted),
            bools(self.decrypted),
            self.decrypted_by.finish(),
            self.link_crc.finish(),
            self.integrity.finish(),
            self.application_error.finish_utf8(),
            prim::<UInt32Type>(self.record_count),
            self.undecoded_offset.finish::<UInt32Type>(),
            self.tpl_message_counter.finish::<UInt32Type>(),
            self.afl_message_counter.finish::<UInt32Type>(),
            self.afl_key_info.finish::<UInt16Type>(),
            self.ell_session.finish::<UInt32Type>(),
            self.dsmr_frame_counter.finish::<UInt32Type>(),
            self.key_id.finish::<UInt8Type>(),
        ];
        cols.extend(extra.into_iter().map(|(_, a)| a));
        RecordBatch::try_new(schema, cols).expect("columns match the telegram schema")
    }
}

/// A utf8 / binary column of the record table, written in place (see [`RecordColumns`]):
/// `offsets[row + 1]` ends row `row`, `ok[row]` is its validity. Rows are written only where
/// there is a value; the offsets of the null rows between are filled in when the next value
/// (or `finish`) comes, so a column that is mostly null costs almost nothing per row.
struct Var {
    offsets: Vec<i32>,
    data: Vec<u8>,
    ok: Vec<bool>,
    /// Rows whose offsets are written (`offsets[..=filled]`).
    filled: usize,
    /// For a column written through [`HexRows`]: where its values end (`data` is kept longer,
    /// zero-filled, so that a telegram does not have to grow it).
    hex_end: Option<usize>,
}

impl Var {
    fn new(rows: usize, bytes: usize) -> Self {
        Var { offsets: vec![0; rows + 1], data: Vec::with_capacity(bytes), ok: vec![false; rows], filled: 0, hex_end: None }
    }

    fn grow(&mut self, rows: usize) {
        self.offsets.resize(rows + 1, 0);
        self.ok.resize(rows, false);
    }

    /// Close the null rows before `row` (their `ok` flags are already false).
    #[inline]
    fn fill_to(&mut self, row: usize) {
        if row > self.filled {
            let end = self.data.len() as i32;
            self.offsets[self.filled + 1..=row].fill(end);
            self.filled = row;
        }
    }

    /// Row `row` (after every row written so far): `write` appends its bytes to the values
    /// and says whether it is valid.
    #[inline]
    fn push_row(&mut self, row: usize, write: impl FnOnce(&mut Vec<u8>) -> bool) {
        self.fill_to(row);
        let valid = write(&mut self.data);
        self.ok[row] = valid;
        self.offsets[row + 1] = self.data.len() as i32;
        self.filled = row + 1;
    }

    fn finish(mut self, rows: usize) -> Bytes {
        // Checked once per chunk: `data` only grows, so an offset that wrapped past i32 on the
        // way shows here, before any offset is used.
        assert!(i32::try_from(self.data.len()).is_ok(), "a column chunk over 2 GiB: decode with smaller chunk_rows");
        if let Some(end) = self.hex_end {
            self.data.truncate(end);
        }
        self.fill_to(rows);
        self.offsets.truncate(rows + 1);
        self.ok.truncate(rows);
        Bytes { offsets: self.offsets, data: self.data, ok: Valid { ok: Some(self.ok), cap: 0 } }
    }
}

/// The hex columns (dif, vif) of a telegram's records, written by index: the values buffer is
/// kept at least twice the telegram's payload past the column's end (zero-filled, grown by
/// doubling), and the column's end is set when the telegram is done.
struct HexRows<'a> {
    col: &'a mut Var,
    pos: usize,
}

impl<'a> HexRows<'a> {
    fn new(col: &'a mut Var, bytes: usize) -> Self {
        let pos = col.hex_end.unwrap_or(col.data.len());
        if col.data.len() < pos + 2 * bytes {
            col.data.resize((pos + 2 * bytes).max(2 * col.data.len()), 0);
        }
        HexRows { col, pos }
    }

    /// Row `row`: the lowercase hex digits of `b`.
    #[inline(always)]
    fn push(&mut self, row: usize, b: &[u8]) {
        let end = self.pos + 2 * b.len();
        if end > self.col.data.len() {
            // Spans of added (manufacturer) records may repeat bytes: more than planned.
            self.col.data.resize(end + 64, 0);
        }
        for (d, &x) in self.col.data[self.pos..end].chunks_exact_mut(2).zip(b) {
            d.copy_from_slice(&HEX_PAIRS[x as usize]);
        }
        self.pos = end;
        self.col.ok[row] = true;
        self.col.offsets[row + 1] = end as i32;
        self.col.filled = row + 1;
    }
}

impl Drop for HexRows<'_> {
    fn drop(&mut self) {
        self.col.hex_end = Some(self.pos);
    }
}

/// The record table. Every buffer is grown ahead of the rows (zero-filled, by doubling) and
/// cut to `rows` in `finish`, so a telegram's records are written in place in one pass: no
/// per-value length update or capacity check; null text/bytes rows are not written at all.
pub(crate) struct RecordColumns {
    rows: usize,
    frame_index: Vec<u64>,
    record_index: Vec<u32>,
    storage: Vec<u64>,
    tariff: Vec<u32>,
    subunit: Vec<u16>,
    /// Dictionary keys of function, quantity, unit and value_type (-1: null).
    function: Vec<i32>,
    quantity: Vec<i32>,
    unit: Vec<i32>,
    value_type: Vec<i32>,
    function_names: Names,
    quantity_names: Names,
    unit_names: Names,
    value_type_names: Names,
    extensions: Var,
    value: Vec<f64>,
    value_ok: Vec<bool>,
    mantissa: Vec<i64>,
    exponent: Vec<i8>,
    /// Validity of mantissa and exponent (always null together).
    exact_ok: Vec<bool>,
    text: Var,
    bytes: Var,
    dif: Var,
    vif: Var,
}

/// Quantity slots: one per (VIF table, code), then the three kinds without a VIB.
const VIF_TABLES: usize = 8;
const QUANTITY_HINTS: usize = VIF_TABLES * 128 + 3;

/// The quantity text of a record and its dictionary hint.
#[inline]
fn quantity(r: &Record) -> (usize, &'static str) {
    match r.kind {
        RecordKind::Data => ((r.vif.table as usize % VIF_TABLES) * 128 + (r.vif.code & 0x7F) as usize, r.vif.quantity),
        RecordKind::ManufacturerData { more_records_follow: false } => (QUANTITY_HINTS - 3, record_quantity(r)),
        RecordKind::ManufacturerData { more_records_follow: true } => (QUANTITY_HINTS - 2, record_quantity(r)),
        RecordKind::GlobalReadout => (QUANTITY_HINTS - 1, record_quantity(r)),
    }
}

const _: () = assert!((VifTable::NoVib as usize) < VIF_TABLES);

/// Unit slots: one per [`Unit`] variant.
const UNIT_HINTS: usize = Unit::Cal as usize + 1;


fn pow10(e: i8) -> f64 {
    10f64.powi(e as i32)
}

/// The value columns of one record: the value_type (an index into [`VALUE_TYPES`], also its
/// dictionary hint), value, (mantissa, exponent) and the span of the bytes column. Plain
/// fields rather than options of tuples: each is written and read at its own width (a byte
/// flag read back as part of a wider load stalls the store forwarding on the hot path).
#[derive(Clone, Copy)]
struct Cell {
    vt: u8,
    has_value: bool,
    has_exact: bool,
    has_bytes: bool,
    exponent: i8,
    value: f64,
    mantissa: i64,
    bytes: Span,
}

const VALUE_TYPES: [&str; 7] = ["none", "number", "real", "text", "datetime", "invalid", "bytes"];
const VT_NONE: u8 = 0;
const VT_NUMBER: u8 = 1;
const VT_REAL: u8 = 2;
const VT_TEXT: u8 = 3;
const VT_DATETIME: u8 = 4;
const VT_INVALID: u8 = 5;
const VT_BYTES: u8 = 6;

impl Cell {
    const fn of(vt: u8) -> Cell {
        Cell {
            vt,
            has_value: false,
            has_exact: false,
            has_bytes: false,
            exponent: 0,
            value: 0.0,
            mantissa: 0,
            bytes: Span { start: 0, len: 0 },
        }
    }

    const fn number(mantissa: i64, exponent: i8, value: f64) -> Cell {
        Cell { has_value: true, has_exact: true, exponent, value, mantissa, ..Cell::of(VT_NUMBER) }
    }

    const fn raw(vt: u8, bytes: Span) -> Cell {
        Cell { has_bytes: true, bytes, ..Cell::of(vt) }
    }

    #[inline(always)]
    fn new(r: &Record, payload: &[u8], msb_first: bool) -> Cell {
        match r.value {
            Value::None => Cell::of(VT_NONE),
            Value::Number { mantissa, exponent } => {
                Cell::number(mantissa, exponent, r.value.as_f64().unwrap_or_default())
            }
            Value::Real(f) => Cell { has_value: true, value: f, ..Cell::of(VT_REAL) },
            Value::Text(_) => Cell::of(VT_TEXT),
            Value::DateTime(_) => Cell::of(VT_DATETIME),
            Value::InvalidBcd(span) => Cell::raw(VT_INVALID, span),
            Value::Bytes(span) if r.is_binary_number(payload) => Cell::binary_number(r, span, payload, msb_first),
            Value::Bytes(span) => Cell::raw(VT_BYTES, span),
        }
    }

    /// An LVAR binary number: a number when it fits 64 bits (exact when it fits an i64), the
    /// raw bytes in every case.
    #[cold]
    fn binary_number(r: &Record, span: Span, payload: &[u8], msb_first: bool) -> Cell {
        let e = r.vif.exponent;
        match binary_number(span.get(payload), msb_first) {
            Some(v) if v <= i64::MAX as u64 => {
                let m = v as i64;
                Cell { has_bytes: true, bytes: span, ..Cell::number(m, e, Value::Number { mantissa: m, exponent: e }.as_f64().unwrap_or_default()) }
            }
            Some(v) => Cell { has_value: true, value: v as f64 * pow10(e), ..Cell::raw(VT_NUMBER, span) },
            None => Cell::raw(VT_BYTES, span),
        }
    }
}

impl RecordColumns {
    pub(crate) fn with_capacity(n: usize) -> Self {
        RecordColumns {
            rows: 0,
            frame_index: vec![0; n],
            record_index: vec![0; n],
            storage: vec![0; n],
            tariff: vec![0; n],
            subunit: vec![0; n],
            function: vec![0; n],
            quantity: vec![0; n],
            unit: vec![0; n],
            value_type: vec![0; n],
            function_names: Names::new(4),
            quantity_names: Names::new(QUANTITY_HINTS),
            unit_names: Names::new(UNIT_HINTS),
            value_type_names: Names::new(VALUE_TYPES.len()),
            extensions: Var::new(n, 0),
            value: vec![0.0; n],
            value_ok: vec![false; n],
            mantissa: vec![0; n],
            exponent: vec![0; n],
            exact_ok: vec![false; n],
            text: Var::new(n, n / 4),
            bytes: Var::new(n, 0),
            dif: Var::new(n, 4 * n),
            vif: Var::new(n, 4 * n),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// Room for `rows` rows in every buffer.
    fn grow(&mut self, rows: usize) {
        if rows <= self.frame_index.len() {
            return;
        }
        let n = rows.max(2 * self.frame_index.len());
        self.frame_index.resize(n, 0);
        self.record_index.resize(n, 0);
        self.storage.resize(n, 0);
        self.tariff.resize(n, 0);
        self.subunit.resize(n, 0);
        self.function.resize(n, 0);
        self.quantity.resize(n, 0);
        self.unit.resize(n, 0);
        self.value_type.resize(n, 0);
        self.value.resize(n, 0.0);
        self.value_ok.resize(n, false);
        self.mantissa.resize(n, 0);
        self.exponent.resize(n, 0);
        self.exact_ok.resize(n, false);
        for v in [&mut self.extensions, &mut self.text, &mut self.bytes, &mut self.dif, &mut self.vif] {
            v.grow(n);
        }
    }

    /// Append one row per record of `t`, each written in place.
    pub(crate) fn push_telegram(&mut self, index: u64, t: &Telegram) {
        let rs = &t.records[..];
        if rs.is_empty() {
            return;
        }
        let payload = &t.payload[..];
        let msb_first = t.ci_info().is_some_and(|i| i.msb_first);
        let (row, end) = (self.rows, self.rows + rs.len());
        self.grow(end);
        // The DIB/VIB hex of a telegram is at most twice its payload (see HexRows::push).
        let mut dif = HexRows::new(&mut self.dif, payload.len());
        let mut vif = HexRows::new(&mut self.vif, payload.len());
        let frame_index = &mut self.frame_index[row..end];
        let record_index = &mut self.record_index[row..end];
        let storage = &mut self.storage[row..end];
        let tariff = &mut self.tariff[row..end];
        let subunit = &mut self.subunit[row..end];
        let function = &mut self.function[row..end];
        let quantity_key = &mut self.quantity[row..end];
        let unit = &mut self.unit[row..end];
        let value_type = &mut self.value_type[row..end];
        let value = &mut self.value[row..end];
        let value_ok = &mut self.value_ok[row..end];
        let mantissa = &mut self.mantissa[row..end];
        let exponent = &mut self.exponent[row..end];
        let exact_ok = &mut self.exact_ok[row..end];
        for (k, r) in rs.iter().enumerate() {
            let at = row + k;
            frame_index[k] = index;
            record_index[k] = k as u32;
            storage[k] = r.storage;
            tariff[k] = r.tariff;
            subunit[k] = r.subunit;
            function[k] = self.function_names.key(r.function as usize, r.function.as_str());
            let (qh, q) = quantity(r);
            quantity_key[k] = self.quantity_names.key(qh, q);
            unit[k] = match r.vif.plain_text_unit.as_deref() {
                Some(u) => self.unit_names.key_text(u),
                None => self.unit_names.key_opt(r.vif.unit as usize, r.vif.unit.as_str()),
            };
            if r.vif.extensions().next().is_some() {
                self.extensions.push_row(at, |d| {
                    for (n, e) in r.vif.extensions().enumerate() {
                        if n > 0 {
                            d.extend_from_slice(b"; ");
                        }
                        d.extend_from_slice(e.as_bytes());
                    }
                    true
                });
            }

            let c = Cell::new(r, payload, msb_first);
            value_type[k] = self.value_type_names.key(c.vt as usize, VALUE_TYPES[c.vt as usize]);
            value[k] = c.value;
            value_ok[k] = c.has_value;
            mantissa[k] = c.mantissa;
            exponent[k] = c.exponent;
            exact_ok[k] = c.has_exact;
            // Dates are formatted by hand straight into the column (DateTimeValue::write_iso).
            match &r.value {
                Value::DateTime(v) => self.text.push_row(at, |d| v.write_iso(d)),
                Value::Text(s) => self.text.push_row(at, |d| {
                    d.extend_from_slice(s.as_bytes());
                    true
                }),
                _ => {}
            }
            if c.has_bytes {
                self.bytes.push_row(at, |d| {
                    d.extend_from_slice(c.bytes.get(payload));
                    true
                });
            }
            dif.push(at, r.dib.get(payload));
            vif.push(at, r.vib.get(payload));
        }
        drop((dif, vif));
        self.rows = end;
    }

    pub(crate) fn finish(mut self) -> RecordBatch {
        let rows = self.rows;
        for v in [&mut self.function, &mut self.quantity, &mut self.unit, &mut self.value_type] {
            v.truncate(rows);
        }
        let valid = |mut ok: Vec<bool>| {
            ok.truncate(rows);
            Valid { ok: Some(ok), cap: 0 }.finish()
        };
        let exact = valid(self.exact_ok);
        self.mantissa.truncate(rows);
        self.exponent.truncate(rows);
        self.value.truncate(rows);
        self.frame_index.truncate(rows);
        self.record_index.truncate(rows);
        self.storage.truncate(rows);
        self.tariff.truncate(rows);
        self.subunit.truncate(rows);
        let cols: Vec<ArrayRef> = vec![
            prim::<UInt64Type>(self.frame_index),
            prim::<UInt32Type>(self.record_index),
            prim::<UInt64Type>(self.storage),
            prim::<UInt32Type>(self.tariff),
            prim::<UInt16Type>(self.subunit),
            self.function_names.finish(self.function),
            self.quantity_names.finish(self.quantity),
            self.unit_names.finish(self.unit),
            self.extensions.finish(rows).finish_utf8(),
            self.value_type_names.finish(self.value_type),
            Arc::new(PrimitiveArray::<Float64Type>::new(ScalarBuffer::from(self.value), valid(self.value_ok))),
            Arc::new(PrimitiveArray::<Int64Type>::new(ScalarBuffer::from(self.mantissa), exact.clone())),
            Arc::new(PrimitiveArray::<Int8Type>::new(ScalarBuffer::from(self.exponent), exact)),
            self.text.finish(rows).finish_utf8(),
            self.bytes.finish(rows).finish_binary(),
            self.dif.finish(rows).finish_utf8(),
            self.vif.finish(rows).finish_utf8(),
        ];
        RecordBatch::try_new(record_schema(), cols).expect("columns match the record schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn packed_bits_match_the_flags(ok in proptest::collection::vec(any::<bool>(), 0..200)) {
            let want = BooleanBuffer::collect_bool(ok.len(), |i| ok[i]);
            let got = BooleanBuffer::new(Buffer::from_vec(pack_bits(&ok)), 0, ok.len());
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(nulls(&ok).map_or(0, |n| n.null_count()), ok.iter().filter(|&&v| !v).count());
            let mut lazy = Valid::with_capacity(3);
            for (row, &v) in ok.iter().enumerate() {
                lazy.push(row, v);
            }
            prop_assert_eq!(lazy.finish(), nulls(&ok));
        }
    }

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

    proptest! {
        #[test]
        fn hex_and_text_columns(rows in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40), any::<Option<String>>(), any::<[u8; 4]>(), any::<u16>()), 0..50))
        {
            // The records' in-place columns (hex rows planned too small on purpose, sparse
            // text rows) next to the telegrams' push-per-row columns.
            let mut hex = Var::new(1, 0);
            let mut text = Var::new(1, 0);
            hex.grow(rows.len());
            text.grow(rows.len());
            let mut ids = Bytes::with_capacity(0, 0);
            let mut manu = Bytes::with_capacity(0, 0);
            {
                let mut h = HexRows::new(&mut hex, 3);
                for (row, (b, _, _, _)) in rows.iter().enumerate() {
                    h.push(row, b);
                }
            }
            for (row, (_, s, id, m)) in rows.iter().enumerate() {
                if let Some(s) = s {
                    text.push_row(row, |d| {
                        d.extend_from_slice(s.as_bytes());
                        true
                    });
                }
                ids.push_ascii(&id_text(*id));
                manu.push_ascii(&tpl::device::manufacturer_to_str(*m));
            }
            let n = rows.len();
            let (hex, text) = (hex.finish(n).finish_utf8(), text.finish(n).finish_utf8());
            let (ids, manu) = (ids.finish_utf8(), manu.finish_utf8());
            // The unchecked constructors built what the checked ones accept.
            for a in [&hex, &text, &ids, &manu] {
                a.to_data().validate_full().unwrap();
            }
            let (hex, text) = (hex.as_any().downcast_ref::<StringArray>().unwrap(), text.as_any().downcast_ref::<StringArray>().unwrap());
            let ids = ids.as_any().downcast_ref::<StringArray>().unwrap();
            for (i, (b, s, id, _)) in rows.iter().enumerate() {
                prop_assert_eq!(hex.value(i), meterlink::hex::to_hex_lower(b));
                prop_assert_eq!(text.is_valid(i), s.is_some());
                prop_assert_eq!(text.value(i), s.as_deref().unwrap_or(""));
                let a = meterlink::mbus::tpl::Address { id: *id, manufacturer: 0, version: 0, device_type: 0 };
                if id.iter().all(|b| b >> 4 < 10 && b & 15 < 10) {
                    prop_assert_eq!(ids.value(i), a.id_string());
                }
            }
        }
    }

    #[test]
    fn dictionary_slots_tell_equal_text_apart_from_equal_hints() {
        let mut d = Dict::new(0, 2);
        let owned = String::from("energy");
        let leaked: &'static str = Box::leak(owned.into_boxed_str());
        d.push(0, "energy");
        d.push(0, leaked); // same text, other address, same hint
        d.push(1, "volume");
        d.push(0, "volume"); // same hint, other text
        d.push(7, "power"); // hint out of range
        d.push_null();
        let k = d.names.key_text("energy"); // interned by content, as plain-text units are
        d.keys.push(k);
        let a = d.finish();
        a.to_data().validate_full().unwrap();
        let a = a.as_any().downcast_ref::<DictionaryArray<Int32Type>>().unwrap();
        let v = a.values().as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<&str>> = (0..a.len()).map(|i| a.is_valid(i).then(|| v.value(a.keys().value(i) as usize))).collect();
        assert_eq!(got, [Some("energy"), Some("energy"), Some("volume"), Some("volume"), Some("power"), None, Some("energy")]);
        assert_eq!(v.len(), 3);
    }
}
