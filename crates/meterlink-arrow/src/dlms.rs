//! DLMS/COSEM in bulk (issue 13 §4 "Bulk"): many messages in, two Arrow tables out.
//!
//! [`decode_batch`] decodes every frame of a [`FrameSource`] with
//! [`meterlink::dlms::decode::decode_bulk`] (data-notifications read in place, without the APDU
//! and Data trees; the same tables as decoding each message with
//! [`meterlink::dlms::decode::decode`], which [`decode_batch_tree`] does) and returns
//! - `messages`: exactly one row per input frame, in input order, with a `status` (`ok`,
//!   `no_key` (ciphered and not deciphered), `frame_error`, `decode_error`, `security_error`), the
//!   error, its code and input offset, the framing, APDU types, security header (the system
//!   title the APDU carries, as hex), invoke-id, priority, date-time (`datetime`: ISO 8601 text
//!   with the UTC offset when the deviation is given; `timestamp`: the UTC instant, null when
//!   the deviation is not specified), the P1 text and the OBIS row count (`rows`);
//! - `obis`: one row per OBIS value of a push or P1 telegram, `frame_index` pointing at the
//!   message row.
//!
//! The work is cut and spread exactly as the M-Bus [`crate::decode_batch`] does (same chunk
//! sizes, same rayon pools, results collected in input order), so the output does not depend on
//! the thread count. Nothing aborts a batch: a frame that fails becomes a row with its error.
//! [`decode_batch_checked`] adds the replay check of a [`CounterStore`], in input order.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use arrow_array::types::{Float64Type, Int64Type, Int8Type, TimestampMicrosecondType, UInt32Type, UInt8Type};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, DictionaryArray, ListArray, PrimitiveArray, RecordBatch, StringArray, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef, TimeUnit};
use rayon::prelude::*;

use meterlink::dlms::cosem::DateTime;
use meterlink::dlms::decode::{decode, decode_bulk, BulkScratch, DecodeOptions, Framing, Keys, Summary};
use meterlink::dlms::{Obis, ObisRow, RowValue};
use meterlink::replay::{dlms_decode_checked, CounterStore, DlmsSubject};

use crate::columns::{dict, Bytes, Dict, Opt, HEX_PAIRS};
use crate::table::{split_frames, Table};
use crate::{chunk_len, pool, ArrowFrames, Counts, Error, FrameSource, Status};

/// How [`decode_batch`] decodes, cuts and spreads the work.
#[derive(Clone, Debug)]
pub struct DlmsBatchOptions {
    /// How each message is decoded: the framing (for the whole batch) and strictness (a
    /// ciphered APDU without a key is a `security_error` row instead of `no_key`).
    pub decode: DecodeOptions,
    /// Most frames per output record batch (and per unit of parallel work).
    pub chunk_rows: usize,
    /// Worker threads: `None` uses the global rayon pool, `Some(1)` the calling thread, `Some(n)`
    /// a cached pool of `n` threads.
    pub threads: Option<usize>,
    /// Value of the `index` column of the first frame (for inputs decoded piecewise).
    pub index_base: u64,
}

impl Default for DlmsBatchOptions {
    fn default() -> Self {
        DlmsBatchOptions { decode: DecodeOptions::default(), chunk_rows: 16 * 1024, threads: None, index_base: 0 }
    }
}

impl DlmsBatchOptions {
    /// The options for `framing` (and defaults otherwise).
    pub fn with_framing(framing: Framing) -> Self {
        DlmsBatchOptions { decode: DecodeOptions { framing, strict: false }, ..Default::default() }
    }
}

/// The decoded tables: record batches (one per chunk of input) and their schemas.
#[derive(Clone, Debug)]
pub struct DlmsBatch {
    /// Schema of the messages table (with the metadata columns).
    pub message_schema: SchemaRef,
    /// One row per input frame, one batch per chunk.
    pub messages: Vec<RecordBatch>,
    /// Schema of the OBIS table.
    pub obis_schema: SchemaRef,
    /// One row per OBIS value, one batch per messages batch.
    pub obis: Vec<RecordBatch>,
    /// Message rows per status; `records` counts the OBIS rows.
    pub counts: Counts,
}

impl DlmsBatch {
    /// An empty result with the given metadata columns.
    pub fn empty(metadata: &[(FieldRef, ArrayRef)]) -> Self {
        DlmsBatch {
            message_schema: schema_with(metadata),
            messages: Vec::new(),
            obis_schema: obis_schema(),
            obis: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// Number of message rows (= input frames).
    pub fn num_messages(&self) -> usize {
        self.messages.iter().map(|b| b.num_rows()).sum()
    }

    /// Append `other` (decoded from the frames after these). Fails when the messages schemas
    /// differ (different metadata columns).
    pub fn extend(&mut self, other: DlmsBatch) -> Result<(), Error> {
        if self.messages.is_empty() && self.counts.frames() == 0 {
            *self = other;
            return Ok(());
        }
        if other.message_schema != self.message_schema {
            return Err(Error::SchemaMismatch);
        }
        self.messages.extend(other.messages);
        self.obis.extend(other.obis);
        self.counts.add(&other.counts);
        Ok(())
    }

    /// The messages table.
    pub fn message_table(&self) -> Table {
        Table::new(self.message_schema.clone(), self.messages.clone())
    }

    /// The OBIS table.
    pub fn obis_table(&self) -> Table {
        Table::new(self.obis_schema.clone(), self.obis.clone())
    }

    /// The messages table with an `obis` column holding each message's OBIS rows
    /// (`list<struct>`, the OBIS columns without `frame_index`), cut by `rows`.
    pub fn nested(&self) -> Result<Table, Error> {
        let fields: Vec<FieldRef> = self.obis_schema.fields().iter().skip(1).cloned().collect();
        let item = Arc::new(Field::new_struct("item", fields.clone(), true));
        let mut all: Vec<FieldRef> = self.message_schema.fields().iter().cloned().collect();
        all.push(Arc::new(Field::new("obis", DataType::List(item.clone()), false)));
        let schema = Arc::new(Schema::new(all));
        let mut out = Vec::with_capacity(self.messages.len());
        for (m, o) in self.messages.iter().zip(&self.obis) {
            let rows = m.column_by_name("rows").ok_or(Error::MissingColumn("rows"))?;
            let rows = rows.as_any().downcast_ref::<PrimitiveArray<UInt32Type>>().ok_or(Error::MissingColumn("rows"))?;
            let offsets = OffsetBuffer::<i32>::from_lengths(rows.values().iter().map(|&c| c as usize));
            let values = StructArray::try_new(fields.clone().into(), o.columns()[1..].to_vec(), None)?;
            let list = ListArray::try_new(item.clone(), offsets, Arc::new(values), None)?;
            let mut cols = m.columns().to_vec();
            cols.push(Arc::new(list));
            out.push(RecordBatch::try_new(schema.clone(), cols)?);
        }
        Ok(Table::new(schema, out))
    }
}

/// The messages table's schema without metadata columns.
pub fn message_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("index", DataType::UInt64, false),
            Field::new("status", dict(), false),
            Field::new("error", DataType::Utf8, true),
            Field::new("error_code", dict(), true),
            Field::new("error_offset", DataType::UInt32, true),
            Field::new("framing", dict(), true),
            Field::new("apdu_type", dict(), true),
            Field::new("plaintext_apdu_type", dict(), true),
            Field::new("decrypted", DataType::Boolean, true),
            Field::new("security_control", DataType::UInt8, true),
            Field::new("system_title", DataType::Utf8, true),
            Field::new("invocation_counter", DataType::UInt32, true),
            Field::new("invoke_id", DataType::UInt32, true),
            Field::new("priority", dict(), true),
            Field::new("datetime", DataType::Utf8, true),
            Field::new("timestamp", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("p1_telegram", DataType::Utf8, true),
            Field::new("rows", DataType::UInt32, false),
        ]))
    })
    .clone()
}

/// The OBIS table's schema.
pub fn obis_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("frame_index", DataType::UInt64, false),
            Field::new("obis", dict(), true),
            Field::new("value", DataType::Float64, true),
            Field::new("mantissa", DataType::Int64, true),
            Field::new("scaler", DataType::Int8, true),
            Field::new("unit", dict(), true),
            Field::new("text", DataType::Utf8, true),
            Field::new("name", dict(), true),
        ]))
    })
    .clone()
}

fn schema_with(metadata: &[(FieldRef, ArrayRef)]) -> SchemaRef {
    if metadata.is_empty() {
        return message_schema();
    }
    let mut fields: Vec<FieldRef> = message_schema().fields().iter().cloned().collect();
    fields.extend(metadata.iter().map(|(f, _)| f.clone()));
    Arc::new(Schema::new(fields))
}

/// Microseconds since 1970-01-01 UTC of a COSEM date-time, when its date, hour, minute and
/// deviation are specified (Blue Book 4.1.6.1: local time = UTC − deviation); unspecified
/// seconds and hundredths count as 0.
pub fn timestamp_micros(dt: &DateTime) -> Option<i64> {
    let (y, m, d) = (i64::from(dt.year()?), i64::from(dt.month()?), i64::from(dt.day()?));
    let (h, min) = (i64::from(dt.hour()?), i64::from(dt.minute()?));
    let s = i64::from(dt.second().unwrap_or(0));
    let cs = i64::from(dt.hundredths().unwrap_or(0));
    let dev = i64::from(dt.deviation()?);
    if !(1..=12).contains(&m) || !(1..=i64::from(meterlink::civil::days_in_month(y, m as u8))).contains(&d) {
        return None;
    }
    let local = meterlink::civil::days_from_civil(y, m as u8, d as u8) * 86_400 + h * 3600 + min * 60 + s;
    Some((local + dev * 60) * 1_000_000 + cs * 10_000)
}

/// Slots of the per-position dictionary hints (OBIS rows at the same position of successive
/// messages usually share their unit and name).
const POSITION_HINTS: usize = 64;

/// A hasher for 6-byte OBIS codes: one multiply, no SipHash rounds (keys come from the meters,
/// but a dictionary chunk holds at most `chunk_rows` of them).
#[derive(Default)]
struct ObisHasher(u64);

impl Hasher for ObisHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
}

/// The `obis` column: OBIS codes as dictionary-encoded dotted text, one dictionary entry per
/// distinct code in a chunk.
struct ObisDict {
    keys: Vec<i32>,
    slots: Vec<(Obis, i32)>,
    map: HashMap<Obis, i32, BuildHasherDefault<ObisHasher>>,
    values: Vec<Obis>,
}

impl ObisDict {
    fn new(rows: usize) -> Self {
        ObisDict {
            keys: Vec::with_capacity(rows),
            slots: vec![(Obis([0xFF; 6]), -1); POSITION_HINTS],
            map: HashMap::default(),
            values: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, pos: usize, o: Option<Obis>) {
        let Some(o) = o else {
            self.keys.push(-1);
            return;
        };
        let slot = pos % POSITION_HINTS;
        let k = match self.slots[slot] {
            (s, k) if s == o && k >= 0 => k,
            _ => self.miss(slot, o),
        };
        self.keys.push(k);
    }

    #[cold]
    fn miss(&mut self, slot: usize, o: Obis) -> i32 {
        let next = self.values.len() as i32;
        let k = *self.map.entry(o).or_insert(next);
        if k == next {
            self.values.push(o);
        }
        self.slots[slot] = (o, k);
        k
    }

    fn finish(self) -> ArrayRef {
        let mut keys = self.keys;
        let nulls = keys.iter().any(|&k| k < 0).then(|| NullBuffer::from_iter(keys.iter().map(|&k| k >= 0)));
        keys.iter_mut().for_each(|k| *k = (*k).max(0));
        let keys = PrimitiveArray::<arrow_array::types::Int32Type>::new(ScalarBuffer::from(keys), nulls);
        let values = StringArray::from_iter_values(self.values.iter().map(|o| o.to_string()));
        // SAFETY: every key is 0 (null rows) or an index into `values` handed out by `miss`.
        Arc::new(unsafe { DictionaryArray::new_unchecked(keys, Arc::new(values)) })
    }
}

/// Lowercase hex of up to 8 bytes (system titles) without allocating.
fn hex8(b: &[u8; 8]) -> [u8; 16] {
    let mut s = [0u8; 16];
    for (k, &x) in b.iter().enumerate() {
        s[2 * k..2 * k + 2].copy_from_slice(&HEX_PAIRS[usize::from(x)]);
    }
    s
}

/// Status dictionary slots: one per [`Status`].
const STATUS_HINTS: usize = Status::ALL.len();

fn status_hint(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

struct MessageColumns {
    index: Vec<u64>,
    status: Dict,
    error: Bytes,
    error_code: Dict,
    error_offset: Opt<u32>,
    framing: Dict,
    apdu_type: Dict,
    plaintext_apdu_type: Dict,
    decrypted: Opt<bool>,
    security_control: Opt<u8>,
    system_title: Bytes,
    invocation_counter: Opt<u32>,
    invoke_id: Opt<u32>,
    priority: Dict,
    datetime: Bytes,
    timestamp: Opt<i64>,
    p1_telegram: Bytes,
    rows: Vec<u32>,
}

impl MessageColumns {
    fn with_capacity(n: usize) -> Self {
        MessageColumns {
            index: Vec::with_capacity(n),
            status: Dict::new(n, STATUS_HINTS),
            error: Bytes::with_capacity(n, 0),
            error_code: Dict::new(n, 1),
            error_offset: Opt::with_capacity(n),
            framing: Dict::new(n, 1),
            apdu_type: Dict::new(n, 1),
            plaintext_apdu_type: Dict::new(n, 1),
            decrypted: Opt::with_capacity(n),
            security_control: Opt::with_capacity(n),
            system_title: Bytes::with_capacity(n, 16 * n),
            invocation_counter: Opt::with_capacity(n),
            invoke_id: Opt::with_capacity(n),
            priority: Dict::new(n, 2),
            datetime: Bytes::with_capacity(n, 25 * n),
            timestamp: Opt::with_capacity(n),
            p1_telegram: Bytes::with_capacity(n, 0),
            rows: Vec::with_capacity(n),
        }
    }

    /// A row for a frame that did not decode: index, status and the error only.
    fn push_error(&mut self, index: u64, status: Status, message: &str, offset: Option<usize>, code: &'static str) {
        self.index.push(index);
        self.status.push(status_hint(status), status.as_str());
        self.error.push_str(message);
        self.error_code.push(0, code);
        self.error_offset.push(offset.map(|o| u32::try_from(o).unwrap_or(u32::MAX)));
        self.framing.push_null();
        self.apdu_type.push_null();
        self.plaintext_apdu_type.push_null();
        self.decrypted.push(None);
        self.security_control.push(None);
        self.system_title.push_null();
        self.invocation_counter.push(None);
        self.invoke_id.push(None);
        self.priority.push_null();
        self.datetime.push_null();
        self.timestamp.push(None);
        self.p1_telegram.push_null();
        self.rows.push(0);
    }

    fn push_decode_error(&mut self, index: u64, e: &meterlink::Error) -> Status {
        let status = Status::of_error(e);
        self.push_error(index, status, &e.to_string(), e.position(), e.code());
        status
    }

    /// A decoded message with `rows` OBIS rows: `ok`, or `no_key` when it came ciphered and
    /// was not deciphered.
    fn push_message(&mut self, index: u64, m: &Summary, rows: usize) -> Status {
        let ciphered = m.ciphered.as_ref();
        let status = if ciphered.is_some() && !m.decrypted { Status::NoKey } else { Status::Ok };
        self.index.push(index);
        self.status.push(status_hint(status), status.as_str());
        self.error.push_null();
        self.error_code.push_null();
        self.error_offset.push(None);
        self.framing.push(0, m.framing.name());
        self.apdu_type.push_opt(0, m.apdu_type);
        self.plaintext_apdu_type.push_opt(0, m.plaintext_apdu_type);
        self.decrypted.push(Some(m.decrypted));
        self.security_control.push(ciphered.map(|c| c.security_control.0));
        match ciphered.and_then(|c| c.system_title) {
            Some(t) => self.system_title.push_ascii(&hex8(&t)),
            None => self.system_title.push_null(),
        }
        self.invocation_counter.push(ciphered.map(|c| c.invocation_counter));
        self.invoke_id.push(m.invoke_id);
        let priority = m.priority_high;
        self.priority.push_opt(usize::from(priority == Some(true)), priority.map(|h| if h { "high" } else { "normal" }));
        let dt = m.datetime;
        self.datetime.push_opt_str(dt.as_ref().and_then(DateTime::to_iso).as_deref());
        self.timestamp.push(dt.as_ref().and_then(timestamp_micros));
        self.p1_telegram.push_opt_str(m.p1_telegram.as_deref());
        self.rows.push(u32::try_from(rows).unwrap_or(u32::MAX));
        status
    }

    fn finish(self, extra: Vec<(FieldRef, ArrayRef)>, schema: SchemaRef) -> RecordBatch {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(PrimitiveArray::<arrow_array::types::UInt64Type>::new(ScalarBuffer::from(self.index), None)),
            self.status.finish(),
            self.error.finish_utf8(),
            self.error_code.finish(),
            self.error_offset.finish::<UInt32Type>(),
            self.framing.finish(),
            self.apdu_type.finish(),
            self.plaintext_apdu_type.finish(),
            self.decrypted.finish_bool(),
            self.security_control.finish::<UInt8Type>(),
            self.system_title.finish_utf8(),
            self.invocation_counter.finish::<UInt32Type>(),
            self.invoke_id.finish::<UInt32Type>(),
            self.priority.finish(),
            self.datetime.finish_utf8(),
            Arc::new(self.timestamp.finish::<TimestampMicrosecondType>().as_primitive::<TimestampMicrosecondType>().clone().with_timezone("UTC")),
            self.p1_telegram.finish_utf8(),
            Arc::new(PrimitiveArray::<UInt32Type>::new(ScalarBuffer::from(self.rows), None)),
        ];
        cols.extend(extra.into_iter().map(|(_, a)| a));
        RecordBatch::try_new(schema, cols).expect("the messages columns follow the schema")
    }
}

struct ObisColumns {
    frame_index: Vec<u64>,
    obis: ObisDict,
    value: Opt<f64>,
    mantissa: Opt<i64>,
    scaler: Opt<i8>,
    unit: Dict,
    text: Bytes,
    name: Dict,
}

impl ObisColumns {
    fn with_capacity(n: usize) -> Self {
        ObisColumns {
            frame_index: Vec::with_capacity(n),
            obis: ObisDict::new(n),
            value: Opt::with_capacity(n),
            mantissa: Opt::with_capacity(n),
            scaler: Opt::with_capacity(n),
            unit: Dict::new(n, POSITION_HINTS),
            text: Bytes::with_capacity(n, 0),
            name: Dict::new(n, POSITION_HINTS),
        }
    }

    fn len(&self) -> usize {
        self.frame_index.len()
    }

    fn push_rows(&mut self, index: u64, rows: &[ObisRow]) {
        for (pos, r) in rows.iter().enumerate() {
            self.push_row(index, pos, r);
        }
    }

    #[inline]
    fn push_row(&mut self, index: u64, pos: usize, r: &ObisRow) {
        let hint = pos % POSITION_HINTS;
        self.frame_index.push(index);
        self.obis.push(pos, r.obis);
        let (value, text): (Option<f64>, Option<std::borrow::Cow<'_, str>>) = match &r.value {
            RowValue::None => (None, None),
            RowValue::Int(i) => (Some(*i as f64), None),
            RowValue::Float(f) => (Some(*f), None),
            RowValue::Text(t) => (None, Some(t.as_str().into())),
            RowValue::Bytes(b) => (None, Some(hex_lower(b).into())),
        };
        self.value.push(value);
        self.mantissa.push(r.mantissa);
        self.scaler.push(r.scaler);
        match &r.unit {
            Some(std::borrow::Cow::Borrowed(u)) => self.unit.push(hint, u),
            Some(std::borrow::Cow::Owned(u)) => self.unit.push_text(u),
            None => self.unit.push_null(),
        }
        self.text.push_opt_str(text.as_deref());
        self.name.push_opt(hint, r.name);
    }

    fn finish(self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(PrimitiveArray::<arrow_array::types::UInt64Type>::new(ScalarBuffer::from(self.frame_index), None)),
            self.obis.finish(),
            self.value.finish::<Float64Type>(),
            self.mantissa.finish::<Int64Type>(),
            self.scaler.finish::<Int8Type>(),
            self.unit.finish(),
            self.text.finish_utf8(),
            self.name.finish(),
        ];
        RecordBatch::try_new(obis_schema(), cols).expect("the OBIS columns follow the schema")
    }
}

fn hex_lower(b: &[u8]) -> String {
    let mut s = Vec::with_capacity(2 * b.len());
    for &x in b {
        s.extend_from_slice(&HEX_PAIRS[usize::from(x)]);
    }
    // HEX_PAIRS holds ASCII digits only.
    String::from_utf8(s).unwrap_or_default()
}

/// A row whose invocation counter the replay check judges: (row, subject, counter).
type Counted = (usize, DlmsSubject, u32);

struct Chunk {
    range: Range<usize>,
    messages: RecordBatch,
    obis: RecordBatch,
    counts: Counts,
    /// With a counter store: the deciphered authenticated rows, in row order.
    counted: Vec<Counted>,
}

/// The replay subject of a deciphered authenticated message (Green Book 9.2.7.2.4: only a
/// verified tag vouches for the counter): the IV's system title and the key kind, as
/// [`dlms_decode_checked`] judges them.
fn counted(m: &Summary) -> Option<(DlmsSubject, u32)> {
    let c = m.ciphered.as_ref().filter(|c| m.decrypted && c.security_control.authenticated())?;
    Some((DlmsSubject::of(c, m.system_title?), c.invocation_counter))
}

/// Decode rows `range`; `count` collects the replay subjects; the rows of `replayed` (sorted,
/// with the last accepted counter of their subject) are decoded against that counter, so they
/// become the `cipher_replayed_counter` error rows single-message decoding gives.
#[allow(clippy::too_many_arguments)]
fn decode_chunk<S: FrameSource + ?Sized>(
    src: &S,
    range: Range<usize>,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    metadata: &[(FieldRef, ArrayRef)],
    schema: &SchemaRef,
    count: bool,
    replayed: &[Counted],
    tree: bool,
) -> Chunk {
    let n = range.len();
    let mut mc = MessageColumns::with_capacity(n);
    // Sized by the first message with rows (a batch of pushes repeats one layout).
    let mut oc: Option<ObisColumns> = None;
    let mut counts = Counts::default();
    let mut scratch = Vec::new();
    let mut bulk = BulkScratch::default();
    let mut rows = Vec::new();
    let mut counted_rows = Vec::new();
    let mut replays = replayed.iter().peekable();
    for i in range.clone() {
        let index = opts.index_base + i as u64;
        let decoded = match src.frame(i, &mut scratch) {
            Err(e) => {
                mc.push_error(index, Status::FrameError, &e.message, e.offset, e.code);
                counts.status[status_hint(Status::FrameError)] += 1;
                continue;
            }
            Ok(frame) => match replays.next_if(|r| r.0 == i) {
                Some(&(_, subject, last)) => {
                    let store = CounterStore::new();
                    store.accept_dlms(subject, last);
                    dlms_decode_checked(frame, keys, &opts.decode, &store).map(|m| {
                        let (s, r) = Summary::of(m);
                        rows = r;
                        s
                    })
                }
                None if tree => decode(frame, keys, &opts.decode).map(|m| {
                    let (s, r) = Summary::of(m);
                    rows = r;
                    s
                }),
                None => decode_bulk(frame, keys, &opts.decode, &mut bulk, &mut rows),
            },
        };
        let status = match decoded {
            Ok(m) => {
                if let Some((subject, counter)) = count.then(|| counted(&m)).flatten() {
                    counted_rows.push((i, subject, counter));
                }
                if !rows.is_empty() {
                    oc.get_or_insert_with(|| ObisColumns::with_capacity(n * rows.len().max(8))).push_rows(index, &rows);
                }
                mc.push_message(index, &m, rows.len())
            }
            Err(e) => mc.push_decode_error(index, &e),
        };
        counts.status[status_hint(status)] += 1;
    }
    let oc = oc.unwrap_or_else(|| ObisColumns::with_capacity(0));
    counts.records = oc.len() as u64;
    let extra = metadata.iter().map(|(f, a)| (f.clone(), a.slice(range.start, n))).collect();
    Chunk { range, messages: mc.finish(extra, schema.clone()), obis: oc.finish(), counts, counted: counted_rows }
}

/// Decode every frame of `src` as a DLMS/COSEM message. `metadata` columns (each as long as
/// `src`) are carried into the messages table, row for row. Never fails on bad frames: they
/// become rows with an error status.
pub fn decode_batch<S: FrameSource + ?Sized>(
    src: &S,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    metadata: &[(FieldRef, ArrayRef)],
) -> Result<DlmsBatch, Error> {
    decode_batch_checked(src, keys, opts, metadata, None)
}

/// [`decode_batch`], then, with a counter store, the replay check in input order: a
/// deciphered authenticated message whose invocation counter is not greater than the last one
/// accepted for its system title and key kind becomes a `security_error` row
/// (`cipher_replayed_counter`) without OBIS rows; the others' counters are accepted. The
/// decoding runs in parallel, the check serially after it, so the result is the same whatever
/// the thread count (the chunks holding replays are decoded again for their error rows).
pub fn decode_batch_checked<S: FrameSource + ?Sized>(
    src: &S,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    metadata: &[(FieldRef, ArrayRef)],
    counters: Option<&CounterStore>,
) -> Result<DlmsBatch, Error> {
    decode_batch_with(src, keys, opts, metadata, counters, false)
}

/// [`decode_batch_checked`] decoding every message in full with
/// [`meterlink::dlms::decode::decode`] (APDU and Data trees) instead of
/// [`decode_bulk`]'s in-place path: the same tables, slower. For comparisons and tests.
pub fn decode_batch_tree<S: FrameSource + ?Sized>(
    src: &S,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    metadata: &[(FieldRef, ArrayRef)],
    counters: Option<&CounterStore>,
) -> Result<DlmsBatch, Error> {
    decode_batch_with(src, keys, opts, metadata, counters, true)
}

fn decode_batch_with<S: FrameSource + ?Sized>(
    src: &S,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    metadata: &[(FieldRef, ArrayRef)],
    counters: Option<&CounterStore>,
    tree: bool,
) -> Result<DlmsBatch, Error> {
    let n = src.len();
    if let Some((f, a)) = metadata.iter().find(|(_, a)| a.len() != n) {
        return Err(Error::MetadataLength { name: f.name().clone(), rows: a.len(), frames: n });
    }
    let schema = schema_with(metadata);
    let chunk = chunk_len(n, opts.chunk_rows);
    let ranges: Vec<_> = (0..n).step_by(chunk.max(1)).map(|s| s..(s + chunk).min(n)).collect();
    let count = counters.is_some();
    let work = |r: Range<usize>| decode_chunk(src, r, keys, opts, metadata, &schema, count, &[], tree);
    let mut chunks: Vec<Chunk> = match opts.threads {
        Some(1) => ranges.into_iter().map(work).collect(),
        _ if ranges.len() <= 1 => ranges.into_iter().map(work).collect(),
        Some(t) => pool(t)?.install(|| ranges.into_par_iter().map(work).collect()),
        None => ranges.into_par_iter().map(work).collect(),
    };
    if let Some(store) = counters {
        for c in &mut chunks {
            let replayed = check_counters(&c.counted, store);
            if !replayed.is_empty() {
                *c = decode_chunk(src, c.range.clone(), keys, opts, metadata, &schema, false, &replayed, tree);
            }
        }
    }
    let mut out = DlmsBatch::empty(metadata);
    for c in chunks {
        out.counts.add(&c.counts);
        out.messages.push(c.messages);
        out.obis.push(c.obis);
    }
    Ok(out)
}

/// The rows of `counted` (in row order) that replay a counter, with the last accepted counter
/// of their subject; the others' counters are accepted into `store`.
fn check_counters(counted: &[Counted], store: &CounterStore) -> Vec<Counted> {
    let mut replayed = Vec::new();
    for &(i, subject, counter) in counted {
        match store.check_dlms(subject, counter) {
            Ok(()) => store.accept_dlms(subject, counter),
            Err(_) => replayed.push((i, subject, store.last_dlms(subject).unwrap_or(counter))),
        }
    }
    replayed
}

/// Decode one chunk of Arrow input: a binary / (hex) string array, or a struct (record
/// batch) whose frame column is `column` (else the one named `frame`, `telegram`, `hex` or
/// `data`, else the only binary or string column); its other columns become metadata.
/// With `counters`, replays are checked as by [`decode_batch_checked`].
pub fn decode_arrow(
    a: &ArrayRef,
    column: Option<&str>,
    keys: &Keys,
    opts: &DlmsBatchOptions,
    counters: Option<&CounterStore>,
) -> Result<DlmsBatch, Error> {
    let (frames, metadata) = split_frames(a, column)?;
    let src = ArrowFrames::new(frames.as_ref())?;
    decode_batch_checked(&src, keys, opts, &metadata, counters)
}

/// Batches decoded one after the other (same metadata columns) joined into one.
pub fn concat(batches: &[&DlmsBatch]) -> Result<DlmsBatch, Error> {
    let mut out = DlmsBatch::empty(&[]);
    for b in batches {
        out.extend((*b).clone())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(b: [u8; 12]) -> DateTime {
        DateTime(b)
    }

    #[test]
    fn timestamps_follow_the_deviation() {
        // 2019-02-04 23:52:22, deviation not specified: no instant.
        assert_eq!(timestamp_micros(&dt([0x07, 0xE3, 2, 4, 1, 23, 0x34, 0x16, 0xFF, 0x80, 0x00, 0])), None);
        // 2020-01-06 00:03:00 local, deviation -60 (UTC+01:00): 2020-01-05T23:03:00Z.
        let t = timestamp_micros(&dt([0x07, 0xE4, 1, 6, 0xFF, 0, 3, 0, 0, 0xFF, 0xC4, 0])).unwrap();
        assert_eq!(t, 1_578_265_380_000_000);
        // Deviation 0, 1970-01-01 00:00:00.50.
        assert_eq!(timestamp_micros(&dt([0x07, 0xB2, 1, 1, 0xFF, 0, 0, 0, 50, 0, 0, 0])), Some(500_000));
        // 2021-02-29 does not exist.
        assert_eq!(timestamp_micros(&dt([0x07, 0xE5, 2, 29, 0xFF, 0, 0, 0, 0, 0, 0, 0])), None);
    }

    #[test]
    fn obis_dictionary_interns_codes() {
        let mut d = ObisDict::new(4);
        let a = Obis([1, 0, 1, 8, 0, 255]);
        let b = Obis([1, 0, 2, 8, 0, 255]);
        d.push(0, Some(a));
        d.push(1, Some(b));
        d.push(0, None);
        d.push(5, Some(a));
        let arr = d.finish();
        let dict = arr.as_any().downcast_ref::<DictionaryArray<arrow_array::types::Int32Type>>().unwrap();
        assert_eq!(dict.values().len(), 2);
        assert_eq!(dict.keys().iter().collect::<Vec<_>>(), vec![Some(0), Some(1), None, Some(0)]);
        let v = dict.values().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(v.value(1), "1.0.2.8.0.255");
    }
}
