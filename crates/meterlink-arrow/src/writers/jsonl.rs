//! JSON lines: one object per row and line, keys in column order; nulls written as `null`,
//! binary as lowercase hex, dictionary columns as their strings, nested records as arrays of
//! objects (arrow-json's encoding).

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_json::writer::LineDelimited;
use rayon::prelude::*;

use crate::Error;

/// One record batch as JSON lines.
fn encode_one(b: &RecordBatch) -> Result<Vec<u8>, Error> {
    let mut w = arrow_json::WriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(Vec::new());
    w.write(b)?;
    w.finish()?;
    Ok(w.into_inner())
}

/// The JSON lines of each batch, encoded in parallel (global rayon pool), in batch order.
/// Concatenated they are the table's JSON lines.
pub fn encode_jsonl(batches: &[RecordBatch]) -> Result<Vec<Vec<u8>>, Error> {
    batches.par_iter().map(encode_one).collect()
}

/// Write the rows of `batches` to `out` as JSON lines (encoded as [`encode_jsonl`] does).
pub fn write_jsonl<W: Write>(batches: &[RecordBatch], out: &mut W) -> Result<(), Error> {
    for part in encode_jsonl(batches)? {
        out.write_all(&part)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{hex, GAS};
    use crate::{decode_batch, nest, BatchOptions, FrameItem};
    use meterlink::keys::NoKeys;

    #[test]
    fn decoded_rows_round_trip_through_json() {
        let gas = hex(GAS);
        let items = [FrameItem::Bytes(&gas), FrameItem::Bytes(&[0x68, 0x01])];
        let b = decode_batch(&items[..], &NoKeys, &BatchOptions::default(), &[]).unwrap();
        let mut out = Vec::new();
        write_jsonl(&nest(&b).unwrap().batches, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 2);
        // Keys in column order, the nested records last.
        assert!(text.starts_with("{\"index\":0,"), "{text}");
        assert!(text.lines().all(|l| l.contains(",\"records\":[") && l.ends_with("]}")), "{text}");
        assert_eq!(rows[0]["status"], "ok");
        assert_eq!(rows[0]["record_count"], 3);
        let recs = rows[0]["records"].as_array().unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0]["dif"], "0c");
        assert!((recs[0]["value"].as_f64().unwrap() - 28504.27).abs() < 1e-9);
        assert_eq!(recs[1]["text"], "2008-05-31T23:50");
        // An error row: explicit nulls, no records.
        assert_eq!(rows[1]["index"], 1);
        assert_eq!(rows[1]["status"], "frame_error");
        assert!(rows[1]["error"].as_str().unwrap().contains("truncated"), "{}", rows[1]["error"]);
        assert!(rows[1].as_object().unwrap().values().any(|v| v.is_null()));
        assert_eq!(rows[1]["records"].as_array().unwrap().len(), 0);
        // The parts are the lines of each batch.
        let parts = encode_jsonl(&b.telegrams).unwrap();
        assert_eq!(parts.len(), b.telegrams.len());
    }
}
