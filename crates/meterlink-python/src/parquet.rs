//! `ParquetWriter`: decoded tables to a Parquet file, written by arrow-rs's `parquet` crate with
//! the columns of each row group encoded in parallel (rayon), GIL released. pyarrow's writer
//! encodes one column after another on one thread, which made Parquet output, not decoding,
//! the limit of `meterlink bulk`.
//!
//! Each `write` is one row group. The file's schema is the first table's; a later table with
//! other metadata columns is conformed to it (missing columns null, extra ones dropped, other
//! types cast). The Arrow schema is stored in the file (`ARROW:schema`), so pyarrow, polars and
//! DuckDB read the dictionary columns back as dictionaries.

use std::fs::File;
use std::io::BufWriter;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowLeafColumn, ArrowRowGroupWriterFactory};
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

use super::batch::{conform, ArrowTable};
use meterlink_arrow as batch;

struct Open {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    row_groups: usize,
}

/// `ParquetWriter(path, table, threads=None)`: a Parquet file (zstd) with `table`'s schema;
/// `write(table)` appends a row group, `close()` writes the footer.
#[pyclass(module = "meterlink._native")]
pub struct ParquetWriter {
    open: Option<Open>,
    threads: Option<usize>,
}

fn err(e: ParquetError) -> PyErr {
    match e {
        ParquetError::External(e) => PyOSError::new_err(e.to_string()),
        e => PyValueError::new_err(format!("cannot write Parquet: {e}")),
    }
}

fn arrow_err(e: ArrowError) -> PyErr {
    PyValueError::new_err(format!("cannot write Parquet: {e}"))
}

impl Open {
    fn create(path: &str, schema: SchemaRef) -> Result<Open, ParquetError> {
        let mut props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
        add_encoded_arrow_schema_to_metadata(&schema, &mut props);
        let props = Arc::new(props);
        let parquet_schema = ArrowSchemaConverter::new().with_coerce_types(props.coerce_types()).convert(&schema)?;
        let out = File::create(path).map_err(|e| ParquetError::External(Box::new(e)))?;
        let file = SerializedFileWriter::new(BufWriter::with_capacity(1 << 20, out), parquet_schema.root_schema_ptr(), props)?;
        let factory = ArrowRowGroupWriterFactory::new(&file, schema.clone());
        Ok(Open { file, factory, schema, row_groups: 0 })
    }

    /// One row group from `batches`: the leaf columns of every batch are computed in parallel,
    /// then each column chunk is encoded by one task, then the chunks are appended in order.
    fn write(&mut self, batches: &[RecordBatch]) -> PyResult<()> {
        let schema = self.schema.clone();
        let leaves: Vec<Vec<ArrowLeafColumn>> = batches
            .par_iter()
            .map(|b| -> PyResult<Vec<ArrowLeafColumn>> {
                let b = conform(b, &schema).map_err(arrow_err)?;
                let mut out = Vec::new();
                for (field, col) in schema.fields().iter().zip(b.columns()) {
                    out.extend(compute_leaves(field, col).map_err(err)?);
                }
                Ok(out)
            })
            .collect::<PyResult<_>>()?;
        let writers = self.factory.create_column_writers(self.row_groups).map_err(err)?;
        // Column-major: task `k` gets leaf `k` of every batch.
        let mut per_column: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::with_capacity(leaves.len())).collect();
        for batch_leaves in leaves {
            if batch_leaves.len() != per_column.len() {
                return Err(PyValueError::new_err("cannot write Parquet: leaf columns do not match the schema"));
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
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let mut rg = self.file.next_row_group().map_err(err)?;
        for c in chunks {
            c.append_to_row_group(&mut rg).map_err(err)?;
        }
        rg.close().map_err(err)?;
        self.row_groups += 1;
        Ok(())
    }
}

#[pymethods]
impl ParquetWriter {
    #[new]
    #[pyo3(signature = (path, table, threads=None))]
    fn new(py: Python<'_>, path: &str, table: &ArrowTable, threads: Option<usize>) -> PyResult<Self> {
        if threads == Some(0) {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        let schema = table.schema().clone();
        let open = py.detach(|| Open::create(path, schema)).map_err(err)?;
        Ok(ParquetWriter { open: Some(open), threads })
    }

    /// Append `table` as one row group (nothing for an empty table).
    fn write(&mut self, py: Python<'_>, table: &ArrowTable) -> PyResult<()> {
        let open = self.open.as_mut().ok_or_else(|| PyValueError::new_err("the Parquet writer is closed"))?;
        let batches: Vec<RecordBatch> = table.batches().iter().filter(|b| b.num_rows() > 0).cloned().collect();
        if batches.is_empty() {
            return Ok(());
        }
        let threads = self.threads;
        py.detach(|| match threads {
            Some(n) => batch::pool(n).map_err(PyValueError::new_err)?.install(|| open.write(&batches)),
            None => open.write(&batches),
        })
    }

    /// Write the footer and close the file (again: nothing).
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(open) = self.open.take() {
            py.detach(|| {
                // Writes the footer, then hands back the buffered file to flush.
                let buffered = open.file.into_inner()?;
                buffered.into_inner().map_err(|e| ParquetError::External(Box::new(e.into_error())))?;
                Ok::<(), ParquetError>(())
            })
            .map_err(err)?;
        }
        Ok(())
    }
}
