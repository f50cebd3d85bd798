//! The replay check of decoded batches: a sequential pass over the telegram rows in input
//! order, after the parallel decode, so the outcome does not depend on the thread count or on
//! how the input was cut into chunks.
//!
//! A row is checked when its status is `ok`, a key verified it (`integrity` other than `none`)
//! and it carries a replay counter (the core's [`Counters::replay_counter`] over the counter
//! columns). A row whose counter is not greater than the last one [`CounterStore`] accepted for
//! its meter and key ID becomes a `security_error` with code `replayed_counter` (its
//! `error_offset` stays null: the telegram as a whole is replayed): its records are dropped
//! from the records table and its `record_count` is 0, as a replayed telegram's values must
//! not be used. Every other checked row's counter is accepted. Two rows of the same meter with
//! the same counter in one batch: the second is the replay.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, BooleanArray, DictionaryArray, Int32Array, RecordBatch, StringArray, UInt32Array};
use arrow_schema::ArrowError;

use crate::{DecodedBatch, Error, Status};
use meterlink::mbus::decode::Counters;
use meterlink::replay::{manufacturer_from_text, replayed, subject_of, CounterStore};

/// Run the replay check over every telegram row of `batch` in order (see the module
/// documentation), updating the rows, the records and the counts in place. Returns the number
/// of replayed rows.
pub fn check_replays(batch: &mut DecodedBatch, store: &CounterStore) -> Result<u64, Error> {
    let mut total = 0;
    for (t, r) in batch.telegrams.iter_mut().zip(batch.records.iter_mut()) {
        let marks = replayed_rows(t, store)?;
        if marks.is_empty() {
            continue;
        }
        let dropped = mark_rows(t, r, &marks)?;
        let n = marks.len() as u64;
        batch.counts.status[Status::Ok.slot()] -= n;
        batch.counts.status[Status::SecurityError.slot()] += n;
        batch.counts.records -= dropped;
        total += n;
    }
    Ok(total)
}

/// A replayed row: its position in the batch and its error message.
struct Mark {
    row: usize,
    message: String,
}

fn column<'a>(t: &'a RecordBatch, name: &'static str) -> Result<&'a ArrayRef, Error> {
    t.column_by_name(name).ok_or(Error::MissingColumn(name))
}

/// The text of row `i` of a `dictionary<int32, utf8>` column (None for null rows).
fn dict_text(d: &DictionaryArray<Int32Type>, i: usize) -> Option<&str> {
    let values = d.values().as_string_opt::<i32>()?;
    d.is_valid(i).then(|| values.value(d.keys().value(i) as usize))
}

fn dict<'a>(t: &'a RecordBatch, name: &'static str) -> Result<&'a DictionaryArray<Int32Type>, Error> {
    column(t, name)?.as_dictionary_opt::<Int32Type>().ok_or(Error::MissingColumn(name))
}

/// Check and accept the rows of one telegram batch in order; the rows that are replays.
fn replayed_rows(t: &RecordBatch, store: &CounterStore) -> Result<Vec<Mark>, Error> {
    let (status, integrity) = (dict(t, "status")?, dict(t, "integrity")?);
    let text = |name| column(t, name).and_then(|c| c.as_string_opt::<i32>().ok_or(Error::MissingColumn(name)));
    let (manufacturer, id) = (text("manufacturer")?, text("id")?);
    let u32s = |name| column(t, name).and_then(|c| c.as_primitive_opt::<UInt32Type>().ok_or(Error::MissingColumn(name)));
    let (tpl, afl, dsmr, ell) =
        (u32s("tpl_message_counter")?, u32s("afl_message_counter")?, u32s("dsmr_frame_counter")?, u32s("ell_session")?);
    let ki = column(t, "afl_key_info")?.as_primitive_opt::<UInt16Type>().ok_or(Error::MissingColumn("afl_key_info"))?;
    let key_id = column(t, "key_id")?.as_primitive_opt::<UInt8Type>().ok_or(Error::MissingColumn("key_id"))?;
    let get = |a: &arrow_array::PrimitiveArray<UInt32Type>, i: usize| a.is_valid(i).then(|| a.value(i));
    let mut marks = Vec::new();
    for i in 0..t.num_rows() {
        if dict_text(status, i) != Some(Status::Ok.as_str()) {
            continue;
        }
        let verified = dict_text(integrity, i).is_some_and(|s| s != "none");
        let meter = match (manufacturer.is_valid(i), id.is_valid(i)) {
            (true, true) => meter_of(manufacturer.value(i), id.value(i)),
            _ => None,
        };
        let counters = Counters {
            access_number: None,
            tpl_message_counter: get(tpl, i),
            afl_message_counter: get(afl, i),
            afl_key_info: ki.is_valid(i).then(|| ki.value(i)),
            ell_session: get(ell, i),
            dsmr_frame_counter: get(dsmr, i),
            key_id: if key_id.is_valid(i) { key_id.value(i) } else { 0 },
        };
        let Some((key, counter)) = subject_of(verified, meter, &counters) else { continue };
        if let Err(e) = store.check_and_accept_counter(key, counter) {
            marks.push(Mark { row: i, message: e.to_string() });
        }
    }
    Ok(marks)
}

/// (manufacturer, ID) from the texts the telegram columns hold.
fn meter_of(manufacturer: &str, id: &str) -> Option<(u16, [u8; 4])> {
    let m = manufacturer_from_text(manufacturer)?;
    Some((m, meterlink::keys::parse_meter_id(id).ok()?))
}

/// Mark `marks` in the telegram batch `t` and drop their records from `r`; the number of
/// records dropped.
fn mark_rows(t: &mut RecordBatch, r: &mut RecordBatch, marks: &[Mark]) -> Result<u64, Error> {
    let schema = t.schema();
    let mut cols: Vec<ArrayRef> = t.columns().to_vec();
    let at = |name: &str| schema.index_of(name).map_err(Error::Arrow);
    let rows: Vec<usize> = marks.iter().map(|m| m.row).collect();
    let (status, code, error, count) = (at("status")?, at("error_code")?, at("error")?, at("record_count")?);
    cols[status] = set_dict(&cols[status], &rows, Status::SecurityError.as_str())?;
    cols[code] = set_dict(&cols[code], &rows, replayed_code())?;
    cols[error] = set_error(&cols[error], marks)?;
    cols[count] = set_zero(&cols[count], &rows)?;
    let index = cols[at("index")?].as_primitive_opt::<UInt64Type>().ok_or(Error::MissingColumn("index"))?;
    let mut gone: Vec<u64> = rows.iter().map(|&i| index.value(i)).collect();
    gone.sort_unstable();
    *t = RecordBatch::try_new(schema, cols)?;
    let before = r.num_rows();
    let frame = r.column_by_name("frame_index").ok_or(Error::MissingColumn("frame_index"))?;
    let frame = frame.as_primitive_opt::<UInt64Type>().ok_or(Error::MissingColumn("frame_index"))?;
    let keep = BooleanArray::from_iter(frame.values().iter().map(|f| Some(gone.binary_search(f).is_err())));
    *r = arrow_select::filter::filter_record_batch(r, &keep)?;
    Ok((before - r.num_rows()) as u64)
}

/// The code of the replay error (one source: the core's error).
fn replayed_code() -> &'static str {
    replayed(meterlink::replay::MeterKey::new(0, [0; 4], 0), 0, 0).code()
}

/// A copy of a `dictionary<int32, utf8>` column with `rows` set to `value` (added to the
/// dictionary's values where it is not there yet).
fn set_dict(col: &ArrayRef, rows: &[usize], value: &str) -> Result<ArrayRef, Error> {
    let d = col.as_dictionary_opt::<Int32Type>().ok_or_else(|| not_a("dictionary"))?;
    let values = d.values().as_string_opt::<i32>().ok_or_else(|| not_a("utf8 dictionary"))?;
    let mut texts: Vec<Option<&str>> = values.iter().collect();
    let k = match texts.iter().position(|v| *v == Some(value)) {
        Some(k) => k,
        None => {
            texts.push(Some(value));
            texts.len() - 1
        }
    };
    let mut keys: Vec<Option<i32>> = d.keys().iter().collect();
    for &i in rows {
        keys[i] = Some(k as i32);
    }
    let keys = Int32Array::from(keys);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(StringArray::from(texts)))?))
}

/// A copy of the `error` column with the marks' messages.
fn set_error(col: &ArrayRef, marks: &[Mark]) -> Result<ArrayRef, Error> {
    let s = col.as_string_opt::<i32>().ok_or_else(|| not_a("utf8"))?;
    let mut v: Vec<Option<&str>> = s.iter().collect();
    for m in marks {
        v[m.row] = Some(&m.message);
    }
    Ok(Arc::new(StringArray::from(v)))
}

/// A copy of the `record_count` column with `rows` set to 0.
fn set_zero(col: &ArrayRef, rows: &[usize]) -> Result<ArrayRef, Error> {
    let c = col.as_primitive_opt::<UInt32Type>().ok_or_else(|| not_a("uint32"))?;
    let mut v = c.values().to_vec();
    for &i in rows {
        v[i] = 0;
    }
    Ok(Arc::new(UInt32Array::new(v.into(), c.nulls().cloned())))
}

fn not_a(what: &str) -> Error {
    Error::Arrow(ArrowError::SchemaError(format!("replay check: a telegram column is not {what}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{hex, status_of, GAS};
    use crate::{decode_batch, decode_batch_checked, BatchOptions, FrameItem};
    use meterlink::address::Address;
    use meterlink::keys::{KeyMaterial, KeyStore};
    use meterlink::mbus::decode::DecodeOptions;
    use meterlink::replay::decode_checked;
    use meterlink::mbus::encode::{Builder, SecurityParams};
    use meterlink::mbus::link::wmbus::FrameFormat;
    use meterlink::mbus::records::{encode_record, Function, RecordValue};

    const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    /// A mode-7 frame of meter `id` (KAM), AFL counter `mc`, two records.
    fn mode7(id: [u8; 4], mc: u32, key: [u8; 16]) -> Vec<u8> {
        let mut b = Builder::wireless(0x44, Address::new(0x2C2D, id, 1, 7), FrameFormat::A);
        b.security = SecurityParams { mode: 7, message_counter: Some(mc), ..Default::default() };
        b.key = Some(KeyMaterial::Aes(key));
        let mut rec = encode_record(0, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(i64::from(mc))).unwrap();
        rec.extend(encode_record(0, 0, 0, Function::Instantaneous, &[0x5B], &RecordValue::int(21)).unwrap());
        b.encode(&rec, &[]).unwrap()
    }

    const A: [u8; 4] = [0x78, 0x56, 0x34, 0x12];
    const B: [u8; 4] = [0x11, 0x11, 0x11, 0x11];
    const NO_KEY: [u8; 4] = [0x22, 0x22, 0x22, 0x22];

    fn frames() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for (i, c) in [1u32, 2, 2, 3, 1, 5, 4, 5, 6].into_iter().enumerate() {
            v.push(mode7(A, c, KEY));
            v.push(mode7(B, 1 + i as u32 / 2, KEY));
            if i % 3 == 0 {
                v.push(hex(GAS));
                v.push(mode7(NO_KEY, 1, KEY));
                v.push(mode7(A, 100, [9; 16]));
            }
        }
        v
    }

    fn keys() -> KeyStore {
        let mut k = KeyStore::new();
        k.insert(Some(0x2C2D), A, KeyMaterial::Aes(KEY));
        k.insert(None, B, KeyMaterial::Aes(KEY));
        k
    }

    /// (status, error code, error, record_count) per row, and the records' frame indexes.
    type Rows = (Vec<(String, Option<String>, Option<String>, u32)>, Vec<u64>);

    fn rows(b: &DecodedBatch) -> Rows {
        let mut out = Vec::new();
        let mut recs = Vec::new();
        for (t, r) in b.telegrams.iter().zip(&b.records) {
            let (st, code) = (dict(t, "status").unwrap(), dict(t, "error_code").unwrap());
            let err = t.column_by_name("error").unwrap().as_string::<i32>();
            let n = t.column_by_name("record_count").unwrap().as_primitive::<UInt32Type>();
            assert_eq!(t.column_by_name("error_offset").unwrap().null_count(), t.num_rows() - {
                (0..t.num_rows()).filter(|&i| dict_text(code, i).is_some_and(|c| c != "replayed_counter")).count()
            });
            for i in 0..t.num_rows() {
                let text = |d| dict_text(d, i).map(String::from);
                out.push((text(st).unwrap(), text(code), err.is_valid(i).then(|| err.value(i).to_string()), n.value(i)));
            }
            recs.extend(r.column_by_name("frame_index").unwrap().as_primitive::<UInt64Type>().values().iter().copied());
        }
        (out, recs)
    }

    #[test]
    fn replays_are_the_same_rows_whatever_the_threads_and_chunks() {
        let f = frames();
        let items: Vec<FrameItem> = f.iter().map(|x| FrameItem::Bytes(x)).collect();
        let k = keys();
        // The independent expectation: the frames decoded one by one with one store.
        let single = CounterStore::new();
        let expected: Vec<Result<usize, String>> = f
            .iter()
            .map(|x| decode_checked(x, &DecodeOptions::default(), &k, None, &single).map(|t| t.records.len()).map_err(|e| e.to_string()))
            .collect();
        let replays = expected.iter().filter(|r| r.as_ref().is_err_and(|e| e.starts_with("replayed counter"))).count();
        assert_eq!(replays, 4 + 4, "A: 2, 1, 4, 5 again; B: 1, 2, 3, 4 again");
        let mut seen = Vec::new();
        for threads in [Some(1), Some(2)] {
            for chunk_rows in 1..=f.len() {
                let opts = BatchOptions { threads, chunk_rows, ..Default::default() };
                let store = CounterStore::new();
                let b = decode_batch_checked(&items[..], &k, &opts, &[], Some(&store)).unwrap();
                let (r, recs) = rows(&b);
                for (row, exp) in r.iter().zip(&expected) {
                    match exp {
                        Ok(n) => assert_eq!(row.3 as usize, *n),
                        Err(e) => assert_eq!(row.2.as_deref(), Some(e.as_str()), "{row:?}"),
                    }
                }
                assert_eq!(b.counts.get(Status::SecurityError) as usize, replays + 3, "{r:?}");
                assert_eq!(b.counts.records as usize, recs.len());
                assert_eq!(recs.len(), r.iter().map(|x| x.3 as usize).sum::<usize>());
                assert_eq!(store.entries(), single.entries());
                seen.push((r, recs, b.counts));
            }
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]));
        // Without a store nothing is a replay.
        let plain = decode_batch(&items[..], &k, &BatchOptions::default(), &[]).unwrap();
        assert_eq!(plain.counts.get(Status::SecurityError), 3);
        assert!(status_of(&plain).iter().zip(&seen[0].0).all(|(a, b)| a == &b.0 || b.1.as_deref() == Some("replayed_counter")));
    }

    #[test]
    fn a_store_carries_over_to_the_next_batch() {
        let (f, k, store) = ([mode7(A, 3, KEY), mode7(A, 4, KEY)], keys(), CounterStore::new());
        let items: Vec<FrameItem> = f.iter().map(|x| FrameItem::Bytes(x)).collect();
        let b = decode_batch_checked(&items[..], &k, &BatchOptions::default(), &[], Some(&store)).unwrap();
        assert_eq!(status_of(&b), ["ok", "ok"]);
        let b = decode_batch_checked(&items[..], &k, &BatchOptions::default(), &[], Some(&store)).unwrap();
        assert_eq!(status_of(&b), ["security_error", "security_error"]);
        let (r, recs) = rows(&b);
        assert!(r[0].2.as_deref().unwrap().ends_with("sent counter 3, not greater than the last accepted counter 4"));
        assert!(recs.is_empty() && b.counts.records == 0);
    }
}
