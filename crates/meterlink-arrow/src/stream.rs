//! Decoding an Arrow stream chunk by chunk: each chunk (an array of frames or a table-like
//! struct array) is split into its frame column and metadata columns, decoded, and appended to
//! one [`DecodedBatch`] whose `index` column runs on across chunks.

use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, FieldRef};

use crate::{decode_batch, split_frames, ArrowFrames, BatchOptions, DecodedBatch, Error};
use meterlink::keys::KeyLookup;

/// Decodes the chunks of one Arrow stream into one [`DecodedBatch`]. `metadata` columns span
/// the whole stream; each chunk gets its slice of them.
pub struct StreamDecoder<'m> {
    opts: BatchOptions,
    column: Option<String>,
    metadata: &'m [(FieldRef, ArrayRef)],
    meta_at: usize,
    out: Option<DecodedBatch>,
}

impl<'m> StreamDecoder<'m> {
    /// A decoder with the frames in `column` (see [`split_frames`] for the default choice).
    pub fn new(opts: BatchOptions, column: Option<&str>, metadata: &'m [(FieldRef, ArrayRef)]) -> Self {
        StreamDecoder { opts, column: column.map(String::from), metadata, meta_at: 0, out: None }
    }

    /// Split `chunk` into frames and metadata, with this chunk's slice of the stream's metadata
    /// columns appended ([`Error::MetadataShort`] when they end too soon).
    fn split(&mut self, chunk: &ArrayRef) -> Result<(ArrayRef, Vec<(FieldRef, ArrayRef)>), Error> {
        let (frames, mut meta) = split_frames(chunk, self.column.as_deref())?;
        let n = frames.len();
        for (f, a) in self.metadata {
            if self.meta_at + n > a.len() {
                return Err(Error::MetadataShort { name: f.name().clone() });
            }
            meta.push((f.clone(), a.slice(self.meta_at, n)));
        }
        self.meta_at += n;
        Ok((frames, meta))
    }

    /// Decode the next chunk and append its rows.
    pub fn push(&mut self, chunk: &ArrayRef, keys: &(dyn KeyLookup + Sync)) -> Result<(), Error> {
        let (frames, meta) = self.split(chunk)?;
        let src = ArrowFrames::new(frames.as_ref())?;
        let part = decode_batch(&src, keys, &self.opts, &meta)?;
        self.opts.index_base += frames.len() as u64;
        // Once the source's frames show DLL CRCs, every later chunk must verify them too.
        self.opts.decode.require_link_crc |= part.link_crc_required;
        match &mut self.out {
            None => self.out = Some(part),
            Some(o) => o.extend(part)?,
        }
        Ok(())
    }

    /// The decoded rows. A stream without chunks still gives the tables its metadata columns:
    /// `data_type` is the stream's (chunk) type.
    pub fn finish(mut self, data_type: &DataType, keys: &(dyn KeyLookup + Sync)) -> Result<DecodedBatch, Error> {
        if let Some(out) = self.out.take() {
            return Ok(out);
        }
        let none = arrow_array::new_empty_array(data_type);
        let (frames, mut meta) = split_frames(&none, self.column.as_deref())?;
        meta.extend(self.metadata.iter().map(|(f, a)| (f.clone(), a.slice(0, 0))));
        let src = ArrowFrames::new(frames.as_ref())?;
        decode_batch(&src, keys, &self.opts, &meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{hex, status_of, GAS};
    use arrow_array::cast::AsArray;
    use arrow_array::types::UInt64Type;
    use arrow_array::{BinaryArray, Int32Array, StringArray, StructArray};
    use arrow_schema::Field;
    use meterlink::keys::NoKeys;
    use std::sync::Arc;

    fn chunk(frames: Vec<&[u8]>, site: Vec<i32>) -> ArrayRef {
        Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("frame", DataType::Binary, true)), Arc::new(BinaryArray::from(frames)) as ArrayRef),
            (Arc::new(Field::new("site", DataType::Int32, true)), Arc::new(Int32Array::from(site)) as ArrayRef),
        ]))
    }

    #[test]
    fn chunks_continue_the_index_and_slice_the_metadata() {
        let gas = hex(GAS);
        let meta: Vec<(FieldRef, ArrayRef)> =
            vec![(Arc::new(Field::new("ts", DataType::Utf8, true)), Arc::new(StringArray::from(vec!["a", "b", "c"])))];
        let mut d = StreamDecoder::new(BatchOptions { index_base: 10, ..Default::default() }, None, &meta);
        d.push(&chunk(vec![&gas, &[1]], vec![1, 2]), &NoKeys).unwrap();
        d.push(&chunk(vec![&gas], vec![3]), &NoKeys).unwrap();
        let first = chunk(vec![], vec![]);
        let out = d.finish(first.data_type(), &NoKeys).unwrap();
        assert_eq!(status_of(&out), ["ok", "frame_error", "ok"]);
        let index: Vec<u64> =
            out.telegrams.iter().flat_map(|t| t.column_by_name("index").unwrap().as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(index, [10, 11, 12]);
        let ts: Vec<&str> = out.telegrams.iter().flat_map(|t| t.column_by_name("ts").unwrap().as_string::<i32>().iter().flatten()).collect();
        assert_eq!(ts, ["a", "b", "c"]);
        assert!(out.telegram_schema.field_with_name("site").is_ok());
        // The metadata ends before the frames do.
        let mut d = StreamDecoder::new(BatchOptions::default(), None, &meta);
        let e = d.push(&chunk(vec![&gas; 4], vec![0; 4]), &NoKeys).unwrap_err();
        assert_eq!(e.to_string(), "metadata column \"ts\" is shorter than the frames");
    }

    #[test]
    fn an_empty_stream_keeps_its_columns() {
        let empty = chunk(vec![], vec![]);
        let out = StreamDecoder::new(BatchOptions::default(), None, &[]).finish(empty.data_type(), &NoKeys).unwrap();
        assert_eq!(out.num_frames(), 0);
        assert!(out.telegram_schema.field_with_name("site").is_ok());
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![1]));
        let e = StreamDecoder::new(BatchOptions::default(), None, &[]).push(&ints, &NoKeys).unwrap_err();
        assert!(matches!(e, Error::FrameType(DataType::Int32)), "{e}");
    }
}
