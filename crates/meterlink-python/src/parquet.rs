//! `ParquetWriter` for Python: [`meterlink_arrow::writers::ParquetWriter`] (zstd, one row group
//! per `write`, column chunks encoded in parallel, later tables conformed to the first schema),
//! called with the GIL released.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use super::batch::ArrowTable;
use meterlink_arrow::writers::ParquetWriter as Writer;
use meterlink_arrow::Error;

/// `ParquetWriter(path, table, threads=None)`: a Parquet file (zstd) with `table`'s schema;
/// `write(table)` appends a row group, `close()` writes the footer.
#[pyclass(module = "meterlink._native")]
pub struct ParquetWriter {
    inner: Writer,
}

/// I/O failures are `OSError`; a closed writer and thread-pool failures say so; anything else is
/// "cannot write Parquet: ...".
fn err(e: Error) -> PyErr {
    match e {
        Error::Io(e) => PyOSError::new_err(e.to_string()),
        e @ (Error::Closed | Error::ThreadPool(_)) => PyValueError::new_err(e.to_string()),
        e => PyValueError::new_err(format!("cannot write Parquet: {e}")),
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
        let inner = py.detach(|| Writer::create(path, schema, threads)).map_err(err)?;
        Ok(ParquetWriter { inner })
    }

    /// Append `table` as one row group (nothing for an empty table).
    fn write(&mut self, py: Python<'_>, table: &ArrowTable) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.write(table.batches())).map_err(err)
    }

    /// Write the footer and close the file (again: nothing).
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.close()).map_err(err)
    }
}
