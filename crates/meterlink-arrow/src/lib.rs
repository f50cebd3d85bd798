//! Bulk decoding: many frames in, two Arrow tables out.
//!
//! [`decode_batch`] decodes every frame of a [`FrameSource`] (a slice of byte strings, an Arrow
//! binary / string (hex) array, or items that already failed upstream) and returns
//! - `telegrams`: exactly one row per input frame, in input order, with a `status`
//!   (`ok`, `no_key`, `frame_error`, `decode_error`, `security_error`), the error and its offset,
//!   the link and TPL header fields and any metadata columns the caller passed along;
//! - `records`: one row per data record, with `frame_index` pointing at the telegram row.
//!
//! The input is cut into chunks of at most [`BatchOptions::chunk_rows`] frames (fewer for
//! inputs under 32 full chunks, so that threads share the work evenly); chunks are decoded on a
//! rayon pool (or on the calling thread for `threads == 1`) and collected in input order, so the
//! output is the same whatever the thread count. Each chunk becomes one Arrow record batch.
//!
//! Around it: [`StreamDecoder`] (an Arrow stream, chunk by chunk), [`table`] (conformance to a
//! schema, the nested `list<struct>` layout, the split of an input table into frames and
//! metadata) and [`writers`] (Parquet, JSON lines). Errors are [`Error`].

#![warn(missing_docs)]

mod columns;
mod error;
pub mod dlms;
mod lines;
pub mod replay;
mod source;
mod stream;
pub mod table;
pub mod writers;

use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use rayon::prelude::*;

pub use columns::{record_schema, telegram_schema};
pub use lines::{LineBatch, LineFormat, LineReader, DEFAULT_MAX_LINE, LINE_TOO_LONG_CODE};
pub use source::{parse_hex_into, ArrowFrames, FrameItem, FrameSource, InputError, ListFrames};
pub use error::Error;
pub use stream::StreamDecoder;
pub use table::{conform, nest, split_frames, Table};

use meterlink::error::ErrorClass;
use meterlink::keys::KeyLookup;
use meterlink::mbus::decode::{decode_into, DecodeOptions, FrameKind, LinkInfo, LinkMode, Telegram};
use meterlink::mbus::link::wmbus::{self, FormatHint, FrameFormat};
use columns::{RecordColumns, TelegramColumns};

/// A telegram row's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Decoded (records included, or a frame without application data).
    Ok,
    /// Encrypted and no key was known (header only, no records).
    NoKey,
    /// The link layer rejected the frame, or the input item is no frame.
    FrameError,
    /// Transport or application layer content that does not decode.
    DecodeError,
    /// Wrong key, bad MAC, failed verification (or a missing key in strict mode).
    SecurityError,
}

impl Status {
    /// Every status, in the order of [`Counts::status`].
    pub const ALL: [Status; 5] = [Status::Ok, Status::NoKey, Status::FrameError, Status::DecodeError, Status::SecurityError];

    /// The value of the `status` column.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NoKey => "no_key",
            Status::FrameError => "frame_error",
            Status::DecodeError => "decode_error",
            Status::SecurityError => "security_error",
        }
    }

    /// The status of a row whose decode failed with `e`.
    pub fn of_error(e: &meterlink::Error) -> Status {
        match e.class() {
            ErrorClass::Frame => Status::FrameError,
            ErrorClass::Decode => Status::DecodeError,
            ErrorClass::Security => Status::SecurityError,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// How many telegram rows ended with each [`Status`] (indexed like [`Status::ALL`]), and the
/// number of record rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Telegram rows per status.
    pub status: [u64; 5],
    /// Record rows.
    pub records: u64,
}

impl Counts {
    /// Telegram rows with status `s`.
    pub fn get(&self, s: Status) -> u64 {
        self.status[s.slot()]
    }
    /// All telegram rows (= input frames).
    pub fn frames(&self) -> u64 {
        self.status.iter().sum()
    }
    /// Add the counts of `o`.
    pub fn add(&mut self, o: &Counts) {
        for (a, b) in self.status.iter_mut().zip(o.status) {
            *a += b;
        }
        self.records += o.records;
    }
}

/// How [`decode_batch`] decodes, cuts and spreads the work.
#[derive(Clone, Copy, Debug)]
pub struct BatchOptions {
    /// How each frame is decoded (link, strictness, tail policy).
    pub decode: DecodeOptions,
    /// Most frames per output record batch (and per unit of parallel work); see `chunk_len`.
    pub chunk_rows: usize,
    /// Worker threads: `None` uses the global rayon pool, `Some(1)` the calling thread, `Some(n)`
    /// a cached pool of `n` threads.
    pub threads: Option<usize>,
    /// Value of the `index` column of the first frame (for inputs decoded piecewise).
    pub index_base: u64,
    /// The frames come from one source (one receiver): when its frames show DLL CRCs, every
    /// frame must verify them ([`source_carries_link_crc`]). Off for collections of frames from
    /// several sources, which are then judged frame by frame as by `decode`.
    pub one_source: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            decode: DecodeOptions::default(),
            chunk_rows: 16 * 1024,
            threads: None,
            index_base: 0,
            one_source: true,
        }
    }
}

/// The decoded tables: record batches (one per chunk) and their schemas.
#[derive(Clone, Debug)]
pub struct DecodedBatch {
    /// Schema of the telegram table (with the metadata columns).
    pub telegram_schema: SchemaRef,
    /// One row per input frame, one batch per chunk.
    pub telegrams: Vec<RecordBatch>,
    /// Schema of the record table.
    pub record_schema: SchemaRef,
    /// One row per data record, one batch per telegram batch.
    pub records: Vec<RecordBatch>,
    /// Rows per status and records.
    pub counts: Counts,
    /// The frames were decoded requiring verified DLL CRCs (asked for, or established from the
    /// source's frames: see [`source_carries_link_crc`]); later batches of the same source
    /// should be decoded so too.
    pub link_crc_required: bool,
}

impl DecodedBatch {
    /// Number of telegram rows (= input frames).
    pub fn num_frames(&self) -> usize {
        self.telegrams.iter().map(|b| b.num_rows()).sum()
    }

    /// Append `other` (decoded from the frames after these). Fails when the telegram schemas
    /// differ (different metadata columns).
    pub fn extend(&mut self, other: DecodedBatch) -> Result<(), Error> {
        if self.telegrams.is_empty() && self.counts.frames() == 0 {
            *self = other;
            return Ok(());
        }
        if other.telegram_schema != self.telegram_schema {
            return Err(Error::SchemaMismatch);
        }
        self.telegrams.extend(other.telegrams);
        self.records.extend(other.records);
        self.counts.add(&other.counts);
        self.link_crc_required |= other.link_crc_required;
        Ok(())
    }
}

/// Batches decoded one after the other (same metadata columns) joined into one; with none, an
/// empty result without metadata columns.
pub fn concat(batches: &[&DecodedBatch]) -> Result<DecodedBatch, Error> {
    let mut out = batches.first().map(|b| empty_like(b)).unwrap_or_else(|| empty(&[]));
    for b in batches {
        out.extend((*b).clone())?;
    }
    Ok(out)
}

/// An empty result with the given metadata columns.
pub fn empty(metadata: &[(Arc<Field>, ArrayRef)]) -> DecodedBatch {
    DecodedBatch {
        telegram_schema: schema_with(metadata),
        telegrams: Vec::new(),
        record_schema: record_schema(),
        records: Vec::new(),
        counts: Counts::default(),
        link_crc_required: false,
    }
}

/// An empty result with the schemas of `b`.
pub fn empty_like(b: &DecodedBatch) -> DecodedBatch {
    DecodedBatch {
        telegram_schema: b.telegram_schema.clone(),
        telegrams: Vec::new(),
        record_schema: b.record_schema.clone(),
        records: Vec::new(),
        counts: Counts::default(),
        link_crc_required: false,
    }
}

fn schema_with(metadata: &[(Arc<Field>, ArrayRef)]) -> SchemaRef {
    if metadata.is_empty() {
        return telegram_schema();
    }
    let base = telegram_schema();
    let mut fields: Vec<Arc<Field>> = base.fields().iter().cloned().collect();
    fields.extend(metadata.iter().map(|(f, _)| f.clone()));
    Arc::new(Schema::new(fields))
}

/// A rayon pool with `n` threads, created once per distinct `n` and kept.
pub fn pool(n: usize) -> Result<Arc<rayon::ThreadPool>, Error> {
    type Pools = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == n) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("meterlink-{i}"))
            .build()?,
    );
    pools.push((n, p.clone()));
    Ok(p)
}

/// Records per frame seen in the last chunk: a capacity hint for the next one.
static RECORDS_PER_FRAME: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(8);

struct Chunk {
    telegrams: RecordBatch,
    records: RecordBatch,
    counts: Counts,
}

fn decode_chunk<S: FrameSource + ?Sized>(
    src: &S,
    range: std::ops::Range<usize>,
    keys: &(dyn KeyLookup + Sync),
    opts: &BatchOptions,
    metadata: &[(Arc<Field>, ArrayRef)],
    schema: &SchemaRef,
) -> Chunk {
    let n = range.len();
    let mut tc = TelegramColumns::with_capacity(n);
    // Size the record columns from what earlier chunks held (capacity only, never the output).
    let per_frame = RECORDS_PER_FRAME.load(std::sync::atomic::Ordering::Relaxed).clamp(1, 64);
    let mut rc = RecordColumns::with_capacity(n * per_frame + n / 8);
    let mut counts = Counts::default();
    let mut scratch = Vec::new();
    // One telegram per chunk: its payload and record buffers are reused frame after frame.
    let mut tg = Telegram::new(LinkInfo::Wired { c: 0, a: 0, kind: FrameKind::SingleCharacter });
    for i in range.clone() {
        let index = opts.index_base + i as u64;
        let status = match src.frame(i, &mut scratch) {
            Err(e) => {
                tc.push_error(index, Status::FrameError, &e.message, e.offset, e.code);
                Status::FrameError
            }
            Ok(frame) => match decode_into(frame, &opts.decode, keys, &mut tg) {
                Ok(()) => {
                    rc.push_telegram(index, &tg);
                    tc.push_telegram(index, &tg)
                }
                Err(e) => tc.push_decode_error(index, &e),
            },
        };
        counts.status[status.slot()] += 1;
    }
    counts.records = rc.len() as u64;
    if let Some(avg) = rc.len().checked_div(n) {
        RECORDS_PER_FRAME.store(avg.max(1), std::sync::atomic::Ordering::Relaxed);
    }
    let extra = metadata.iter().map(|(f, a)| (f.clone(), a.slice(range.start, n))).collect();
    Chunk { telegrams: tc.finish(extra, schema.clone()), records: rc.finish(), counts }
}

/// Frames per chunk: `chunk_rows`, or less so that a batch splits into about 32 chunks (never
/// under 4096 frames), which keeps threads evenly loaded (7 chunks over 2 threads leave one
/// idle for a seventh of the run). Depends on the input only, so the record batches are cut at
/// the same rows whatever the thread count.
fn chunk_len(n: usize, chunk_rows: usize) -> usize {
    n.div_ceil(32).clamp(4096, chunk_rows.max(4096)).min(chunk_rows.max(1))
}

/// How many frames at the start of a batch establish whether its source carries DLL CRCs.
pub const LINK_CRC_PRESCAN: usize = 256;

/// Whether the frames of one source carry wireless DLL CRCs: most of the first
/// [`LINK_CRC_PRESCAN`] frames verify as frame format A or B. A receiver either keeps the CRCs
/// or removes them for every frame; a one-CRC format-B frame whose CRC fails cannot be told from
/// a CRC-less one by itself, but can by the frames around it (issue 12; docs/decisions.md). A
/// majority, not one frame: a CRC-less frame passes a CRC check by chance once in about 32768.
pub fn source_carries_link_crc<S: FrameSource + ?Sized>(src: &S, limit: usize) -> bool {
    let mut scratch = Vec::new();
    let n = src.len().min(limit);
    let (mut verified, mut not) = (0, 0);
    for i in 0..n {
        let ok = src
            .frame(i, &mut scratch)
            .is_ok_and(|f| wmbus::parse_wmbus(f, FormatHint::Crc).is_ok_and(|w| w.format != FrameFormat::NoCrc));
        if ok {
            verified += 1;
        } else {
            not += 1;
        }
        // Decided as soon as either side holds the majority of the frames looked at.
        if verified * 2 >= n || not * 2 > n {
            break;
        }
    }
    verified > 0 && verified * 2 >= n
}

/// The options with `require_link_crc` set when the link mode detects wireless formats and the
/// source's frames show that it carries CRCs. Deterministic: it depends on the input only, not
/// on the thread count.
fn with_source_link_crc<S: FrameSource + ?Sized>(src: &S, opts: &BatchOptions) -> BatchOptions {
    let mut o = *opts;
    let detects = matches!(o.decode.link, LinkMode::Auto | LinkMode::Wireless);
    if o.one_source && detects && !o.decode.require_link_crc && source_carries_link_crc(src, LINK_CRC_PRESCAN) {
        o.decode.require_link_crc = true;
    }
    o
}

/// Decode every frame of `src`. `metadata` columns (each as long as `src`) are carried into the
/// telegram table, row for row. Never fails on bad frames: they become rows with an error status.
/// Wireless sources that carry DLL CRCs are decoded requiring them ([`source_carries_link_crc`]).
pub fn decode_batch<S: FrameSource + ?Sized>(
    src: &S,
    keys: &(dyn KeyLookup + Sync),
    opts: &BatchOptions,
    metadata: &[(Arc<Field>, ArrayRef)],
) -> Result<DecodedBatch, Error> {
    let n = src.len();
    if let Some((f, a)) = metadata.iter().find(|(_, a)| a.len() != n) {
        return Err(Error::MetadataLength { name: f.name().clone(), rows: a.len(), frames: n });
    }
    let schema = schema_with(metadata);
    let opts = &with_source_link_crc(src, opts);
    let chunk = chunk_len(n, opts.chunk_rows);
    let ranges: Vec<_> = (0..n).step_by(chunk).map(|s| s..(s + chunk).min(n)).collect();
    let work = |r: std::ops::Range<usize>| decode_chunk(src, r, keys, opts, metadata, &schema);
    let chunks: Vec<Chunk> = match opts.threads {
        Some(1) => ranges.into_iter().map(work).collect(),
        _ if ranges.len() <= 1 => ranges.into_iter().map(work).collect(),
        Some(t) => pool(t)?.install(|| ranges.into_par_iter().map(work).collect()),
        None => ranges.into_par_iter().map(work).collect(),
    };
    let mut out = empty(metadata);
    out.link_crc_required = opts.decode.require_link_crc;
    for c in chunks {
        out.counts.add(&c.counts);
        // One record batch per telegram batch (possibly empty), so that they pair up.
        out.telegrams.push(c.telegrams);
        out.records.push(c.records);
    }
    Ok(out)
}

/// [`decode_batch`], then, with a counter store, the replay check of its rows in input order
/// ([`replay::check_replays`]): replayed telegrams become `security_error` rows
/// (`replayed_counter`) without records, the others' counters are accepted.
pub fn decode_batch_checked<S: FrameSource + ?Sized>(
    src: &S,
    keys: &(dyn KeyLookup + Sync),
    opts: &BatchOptions,
    metadata: &[(Arc<Field>, ArrayRef)],
    counters: Option<&meterlink::replay::CounterStore>,
) -> Result<DecodedBatch, Error> {
    let mut out = decode_batch(src, keys, opts, metadata)?;
    if let Some(store) = counters {
        replay::check_replays(&mut out, store)?;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use meterlink::keys::{KeyStore, NoKeys};
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};
    use arrow_array::{Array, BinaryArray, StringArray};

    pub(crate) const HEAT_20: &str = "687B7B6808017278563412931533042A0000000C78123456780406A08601000C14270485020B2D1500000B3B5604000A5B65000A5F42000A622301046D32371F154406A08501004414C4D20100426C1F15840106A0840100840114B0D1010082016CFF140422E80300000426E803000002FD17000001FD0E050C13910300004116";
    pub(crate) const GAS: &str = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916";
    // OMS Vol.2 N.5.4 (mode 5), no key.
    const MODE5: &str = "682C2C6808FD7288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD10785634120C78443322112616";

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        parse_hex_into(s, &mut v).unwrap();
        v
    }

    pub(crate) fn status_of(b: &DecodedBatch) -> Vec<String> {
        let mut v = Vec::new();
        for t in &b.telegrams {
            let s = t.column_by_name("status").unwrap().as_dictionary::<arrow_array::types::Int32Type>();
            let vals = s.values().as_string::<i32>();
            for k in s.keys().iter() {
                v.push(vals.value(k.unwrap() as usize).to_string());
            }
        }
        v
    }

    /// Format-B frames of one receiver (mode 0, one record each, meter 12345678).
    fn format_b_source(n: u32) -> Vec<Vec<u8>> {
        use meterlink::address::Address;
        use meterlink::mbus::encode::Builder;
        use meterlink::mbus::records::{encode_record, Function, RecordValue};
        (0..n)
            .map(|i| {
                let b = Builder::wireless(0x44, Address::new(0x2C2D, [0x78, 0x56, 0x34, 0x12], 1, 7), FrameFormat::B);
                let rec = encode_record(0, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(6408 + i64::from(i)));
                b.encode(&rec.unwrap(), &[]).unwrap()
            })
            .collect()
    }

    fn status_and_crc(b: &DecodedBatch, row: usize) -> (String, Option<String>) {
        let t = &b.telegrams[0];
        let dict = |name: &str| {
            let d = t.column_by_name(name).unwrap().as_dictionary::<arrow_array::types::Int32Type>();
            d.is_valid(row).then(|| d.values().as_string::<i32>().value(d.keys().value(row) as usize).to_string())
        };
        (dict("status").unwrap(), dict("link_crc"))
    }

    #[test]
    fn a_source_with_crcs_rejects_the_crc_less_reading() {
        let mut frames = format_b_source(9);
        // One bit of the record flipped: its one format-B CRC fails, and read without CRCs the
        // frame would carry another volume (issue 12's example).
        let n = frames[4].len();
        frames[4][n - 5] ^= 1;
        let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
        let b = decode_batch(&items[..], &NoKeys, &BatchOptions::default(), &[]).unwrap();
        assert!(b.link_crc_required);
        assert_eq!(status_and_crc(&b, 4), ("frame_error".into(), None));
        assert_eq!(status_and_crc(&b, 3), ("ok".into(), Some("verified".into())));
        // Frames of many receivers: judged one by one, the damaged one reads as CRC-less.
        let per_frame = BatchOptions { one_source: false, ..Default::default() };
        let b = decode_batch(&items[..], &NoKeys, &per_frame, &[]).unwrap();
        assert!(!b.link_crc_required);
        assert_eq!(status_and_crc(&b, 4), ("ok".into(), Some("absent".into())));
        // A CRC-less source establishes nothing.
        let stripped: Vec<Vec<u8>> = format_b_source(9).iter().map(|f| {
            let mut v = f[..f.len() - 2].to_vec();
            v[0] -= 2;
            v
        }).collect();
        let items: Vec<FrameItem> = stripped.iter().map(|f| FrameItem::Bytes(f)).collect();
        let b = decode_batch(&items[..], &NoKeys, &BatchOptions::default(), &[]).unwrap();
        assert!(!b.link_crc_required);
        assert_eq!(b.counts.get(Status::Ok), 9);
        assert_eq!(status_and_crc(&b, 0), ("ok".into(), Some("absent".into())));
    }

    #[test]
    fn one_row_per_frame_in_order_any_thread_count() {
        let frames: Vec<Vec<u8>> = (0..1000)
            .map(|i| match i % 5 {
                0 => hex(GAS),
                1 => hex(MODE5),
                2 => vec![0x68, 0x04, 0x04, 0x68, 0x08, 0x01, 0x72, 0x00, 0x7b, 0x16],
                3 => vec![1, 2, 3],
                _ => hex(HEAT_20),
            })
            .collect();
        let items: Vec<FrameItem> = frames.iter().map(|f| FrameItem::Bytes(f)).collect();
        let mut results = Vec::new();
        for threads in [Some(1), Some(2), Some(3), None] {
            let opts = BatchOptions { chunk_rows: 64, threads, ..Default::default() };
            let b = decode_batch(&items[..], &NoKeys, &opts, &[]).unwrap();
            assert_eq!(b.num_frames(), 1000);
            assert_eq!(b.counts.frames(), 1000);
            let idx: Vec<u64> =
                b.telegrams.iter().flat_map(|t| t.column(0).as_primitive::<UInt64Type>().values().to_vec()).collect();
            assert_eq!(idx, (0..1000).collect::<Vec<u64>>());
            results.push((status_of(&b), b.records.iter().map(|r| r.num_rows()).sum::<usize>(), b.counts));
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        let (st, nrec, counts) = &results[0];
        assert_eq!(&st[..5], &["ok", "no_key", "decode_error", "frame_error", "ok"]);
        assert_eq!(*nrec, 200 * 3 + 200 * 20);
        assert_eq!(counts.get(Status::Ok), 400);
        assert_eq!(counts.records, 4600);
    }

    #[test]
    fn chunks_follow_the_input_not_the_threads() {
        assert_eq!(chunk_len(100_000, 16 * 1024), 4096);
        assert_eq!(chunk_len(1_000_000, 16 * 1024), 16 * 1024);
        assert_eq!(chunk_len(300_000, 16 * 1024), 9375);
        assert_eq!(chunk_len(10, 64), 64);
        assert_eq!(chunk_len(10, 3), 3);
        assert_eq!(chunk_len(10, 0), 1);
    }

    #[test]
    fn hex_strings_nulls_and_metadata() {
        let arr = StringArray::from(vec![Some(GAS), None, Some("zz"), Some("68 20 20")]);
        let src = ArrowFrames::new(&arr).unwrap();
        let meta: Vec<(Arc<Field>, ArrayRef)> = vec![(
            Arc::new(Field::new("ts", arrow_schema::DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["a", "b", "c", "d"])),
        )];
        let b = decode_batch(&src, &NoKeys, &BatchOptions { chunk_rows: 3, ..Default::default() }, &meta).unwrap();
        assert_eq!(status_of(&b), ["ok", "frame_error", "frame_error", "frame_error"]);
        assert_eq!(b.telegrams.len(), 2);
        assert_eq!(b.telegrams[1].column_by_name("ts").unwrap().as_string::<i32>().value(0), "d");
        let err = b.telegrams[0].column_by_name("error").unwrap().as_string::<i32>();
        assert!(err.value(1).contains("null"), "{}", err.value(1));
        assert!(err.value(2).contains("hex"), "{}", err.value(2));
        let r = &b.records[0];
        let v = r.column_by_name("value").unwrap().as_primitive::<Float64Type>();
        assert!((v.value(0) - 28504.27).abs() < 1e-9);
        assert_eq!(r.column_by_name("mantissa").unwrap().as_primitive::<arrow_array::types::Int64Type>().value(0), 2850427);
        assert_eq!(r.column_by_name("text").unwrap().as_string::<i32>().value(1), "2008-05-31T23:50");
        assert_eq!(r.column_by_name("dif").unwrap().as_string::<i32>().value(0), "0c");
        let bin = BinaryArray::from(vec![Some(&hex(GAS)[..]), Some(&[0xE5u8][..])]);
        let b = decode_batch(&ArrowFrames::new(&bin).unwrap(), &NoKeys, &BatchOptions::default(), &[]).unwrap();
        assert_eq!(status_of(&b), ["ok", "ok"]);
        assert!(decode_batch(&src, &NoKeys, &BatchOptions::default(), &meta[..0]).is_ok());
        let short: Vec<(Arc<Field>, ArrayRef)> = vec![(meta[0].0.clone(), meta[0].1.slice(0, 2))];
        assert!(decode_batch(&src, &NoKeys, &BatchOptions::default(), &short).is_err());
    }

    #[test]
    fn list_frames_keep_rows_in_place() {
        let gas = hex(GAS);
        let mut src = ListFrames::with_capacity(5);
        src.push_bytes(&gas);
        src.push_item(FrameItem::Hex(GAS.into()));
        src.push_bytes(&[]);
        src.push_item(FrameItem::Error(InputError::new("bad line", Some(3))));
        src.push_item(FrameItem::Bytes(&gas));
        src.set_error(4, InputError::new("overridden", None));
        src.set_error(1, InputError::new("also overridden", None));
        src.set_error(9, InputError::new("no such row", None));
        let mut scratch = Vec::new();
        assert_eq!(src.len(), 5);
        assert_eq!(src.frame(0, &mut scratch).unwrap(), &gas[..]);
        assert_eq!(src.frame(1, &mut scratch).unwrap_err().message, "also overridden");
        assert_eq!(src.frame(2, &mut scratch).unwrap(), &[] as &[u8]);
        assert_eq!(src.frame(3, &mut scratch).unwrap_err(), InputError::new("bad line", Some(3)));
        assert_eq!(src.frame(4, &mut scratch).unwrap_err().message, "overridden");
        let b = decode_batch(&src, &NoKeys, &BatchOptions::default(), &[]).unwrap();
        assert_eq!(status_of(&b), ["ok", "frame_error", "frame_error", "frame_error", "frame_error"]);
    }

    #[test]
    fn keys_and_errors_per_row() {
        let mut ks = KeyStore::new();
        ks.insert_text(None, "55667788", "000102030405060708090A0B0C0D0E0F").unwrap();
        let f = hex(MODE5);
        let items = [FrameItem::Bytes(&f), FrameItem::Error(InputError::new("bad line", Some(3)))];
        let b = decode_batch(&items[..], &ks, &BatchOptions::default(), &[]).unwrap();
        let st = status_of(&b);
        assert_eq!(st[1], "frame_error");
        assert_ne!(st[0], "no_key");
        let t = &b.telegrams[0];
        assert_eq!(t.column_by_name("error_offset").unwrap().as_primitive::<arrow_array::types::UInt32Type>().value(1), 3);
        assert!(t.column_by_name("record_count").unwrap().is_valid(0));
    }
}

#[cfg(test)]
mod corpus;
