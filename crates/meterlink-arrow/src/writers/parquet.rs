//! [`ParquetWriter`]: decoded tables to a Parquet file (zstd), written by arrow-rs's `parquet`
//! crate with the column chunks of each row group encoded in parallel (rayon). pyarrow's writer
//! encodes one column after another on one thread, which made Parquet output, not decoding,
//! the limit of `meterlink bulk`.
//!
//! Each `write` is one row group. The file's schema is the one given at creation; a later table
//! with other metadata columns is conformed to it ([`crate::conform`]). The Arrow schema is
//! stored in the file (`ARROW:schema`), so pyarrow, polars and DuckDB read the dictionary
//! columns back as dictionaries.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowLeafColumn, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;

use crate::{conform, pool, Error};

/// An open Parquet file and what encodes its row groups.
struct Open {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    row_groups: usize,
}

/// A Parquet file (zstd) of one schema: [`write`](Self::write) appends a row group,
/// [`close`](Self::close) writes the footer.
pub struct ParquetWriter {
    open: Option<Open>,
    threads: Option<usize>,
}

impl Open {
    fn create(path: &Path, schema: SchemaRef) -> Result<Open, Error> {
        let mut props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let props = Arc::new(props);
        let parquet_schema = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema)?;
        let out = File::create(path)?;
        let file = SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, out), parquet_schema.root_schema_ptr(), props)?;
        let factory = ArrowRowGroupWriterFactory::new(&file, schema.clone());
        Ok(Open { file, factory, schema, row_groups: 0 })
    }

    /// The leaf columns of every batch (conformed to the file's schema), computed in parallel.
    fn leaves(&self, batches: &[&RecordBatch]) -> Result<Vec<Vec<ArrowLeafColumn>>, Error> {
        let schema = &self.schema;
        batches
            .par_iter()
            .map(|b| -> Result<Vec<ArrowLeafColumn>, Error> {
                let b = conform(b, schema)?;
                let mut out = Vec::new();
                for (field, col) in schema.fields().iter().zip(b.columns()) {
                    out.extend(compute_leaves(field, col)?);
                }
                Ok(out)
            })
            .collect()
    }

    /// One row group from `batches`: the leaf columns of every batch are computed in parallel,
    /// then each column chunk is encoded by one task, then the chunks are appended in order.
    fn write(&mut self, batches: &[&RecordBatch]) -> Result<(), Error> {
        let leaves = self.leaves(batches)?;
        let writers = self.factory.create_column_writers(self.row_groups)?;
        // Column-major: task `k` gets leaf `k` of every batch.
        let mut per_column: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::with_capacity(leaves.len())).collect();
        for batch_leaves in leaves {
            if batch_leaves.len() != per_column.len() {
                return Err(Error::LeafMismatch);
            }
            for (k, leaf) in batch_leaves.into_iter().enumerate() {
                per_column[k].push(leaf);
            }
        }
        let chunks = writers
            .into_par_iter()
            .zip(per_column)
            .map(|(mut w, leaves)| {
                for leaf in &leaves {
                    w.write(leaf)?;
                }
                w.close()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rg = self.file.next_row_group()?;
        for c in chunks {
            c.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        self.row_groups += 1;
        Ok(())
    }
}

impl ParquetWriter {
    /// Create the file at `path` with `schema`. `threads`: `None` encodes on the global rayon
    /// pool, `Some(n)` on a cached pool of `n` threads ([`crate::pool`]).
    pub fn create(path: impl AsRef<Path>, schema: SchemaRef, threads: Option<usize>) -> Result<Self, Error> {
        let open = Open::create(path.as_ref(), schema)?;
        Ok(ParquetWriter { open: Some(open), threads })
    }

    /// Append the rows of `batches` as one row group (nothing when they hold no rows).
    /// [`Error::Closed`] after [`close`](Self::close).
    pub fn write(&mut self, batches: &[RecordBatch]) -> Result<(), Error> {
        let open = self.open.as_mut().ok_or(Error::Closed)?;
        let batches: Vec<&RecordBatch> = batches.iter().filter(|b| b.num_rows() > 0).collect();
        if batches.is_empty() {
            return Ok(());
        }
        match self.threads {
            Some(n) => pool(n)?.install(|| open.write(&batches)),
            None => open.write(&batches),
        }
    }

    /// Write the footer, flush and close the file (again: nothing).
    pub fn close(&mut self) -> Result<(), Error> {
        if let Some(open) = self.open.take() {
            // Writes the footer, then hands back the buffered file to flush.
            let buffered = open.file.into_inner()?;
            buffered.into_inner().map_err(|e| e.into_error())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{hex, GAS, HEAT_20};
    use crate::{decode_batch, nest, BatchOptions, FrameItem};
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};
    use arrow_array::{Array, ArrayRef, StringArray};
    use arrow_schema::{DataType, Field};
    use meterlink::keys::NoKeys;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn decoded(meta: &str) -> crate::DecodedBatch {
        let (gas, heat) = (hex(GAS), hex(HEAT_20));
        let items = [FrameItem::Bytes(&gas), FrameItem::Bytes(&[1, 2, 3]), FrameItem::Bytes(&heat)];
        let m: Vec<(Arc<Field>, ArrayRef)> =
            vec![(Arc::new(Field::new(meta, DataType::Utf8, true)), Arc::new(StringArray::from(vec!["a", "b", "c"])))];
        decode_batch(&items[..], &NoKeys, &BatchOptions::default(), &m).unwrap()
    }

    fn read_back(path: &Path) -> (usize, Vec<RecordBatch>) {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
        let groups = builder.metadata().num_row_groups();
        (groups, builder.build().unwrap().map(|b| b.unwrap()).collect())
    }

    #[test]
    fn row_groups_read_back_with_the_arrow_schema() {
        let dir = std::env::temp_dir().join(format!("meterlink-arrow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("telegrams.parquet");
        let first = nest(&decoded("site")).unwrap();
        let mut w = ParquetWriter::create(&path, first.schema.clone(), Some(2)).unwrap();
        w.write(&first.batches).unwrap();
        w.write(&[]).unwrap(); // no rows: no row group
        // Other metadata columns: conformed to the first schema (`site` null, `room` dropped).
        w.write(&nest(&decoded("room")).unwrap().batches).unwrap();
        w.close().unwrap();
        w.close().unwrap();
        assert!(matches!(w.write(&first.batches), Err(Error::Closed)));
        let (groups, batches) = read_back(&path);
        assert_eq!(groups, 2);
        // The stored Arrow schema gives back the dictionary and list<struct> columns.
        assert_eq!(batches[0].schema().fields(), first.schema.fields());
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 6);
        let index: Vec<u64> =
            batches.iter().flat_map(|b| b.column_by_name("index").unwrap().as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(index, vec![0, 1, 2, 0, 1, 2]);
        let site: Vec<Option<String>> = batches
            .iter()
            .flat_map(|b| b.column_by_name("site").unwrap().as_string::<i32>().iter().map(|s| s.map(String::from)).collect::<Vec<_>>())
            .collect();
        assert_eq!(site, [Some("a"), Some("b"), Some("c"), None, None, None].map(|s| s.map(String::from)));
        let lengths: Vec<i32> = batches
            .iter()
            .flat_map(|b| {
                let l = b.column_by_name("records").unwrap().as_list::<i32>().clone();
                (0..l.len()).map(move |i| l.value_length(i))
            })
            .collect();
        assert_eq!(lengths, [3, 0, 20, 3, 0, 20]);
        let first_records = batches[0].column_by_name("records").unwrap().as_list::<i32>().value(0);
        let v = first_records.as_struct().column_by_name("value").unwrap().as_primitive::<Float64Type>();
        assert!((v.value(0) - 28504.27).abs() < 1e-9);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_path_is_an_io_error() {
        let schema = crate::telegram_schema();
        let e = ParquetWriter::create("/nonexistent-dir/x.parquet", schema, None).err().unwrap();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
    }
}
