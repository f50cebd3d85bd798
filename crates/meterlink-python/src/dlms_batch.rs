//! Bulk DLMS/COSEM for Python: `_dlms_decode_batch` (list or Arrow input) and `DlmsBatch`
//! (its `messages` and `obis` tables exported through the Arrow PyCapsule interface).
//! Conversion only: the decoding is `meterlink_arrow::dlms::decode_batch`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3_arrow::input::AnyArray;

use meterlink::dlms::decode::{DecodeOptions, Framing};
use meterlink_arrow::dlms::{self, DlmsBatchOptions};
use meterlink_arrow::{InputError, Status};

use super::batch::{batch_err, list_frames, metadata_column, ArrowTable};
use super::dlms::keys_any;
use super::replay::CounterStore;

/// The result of `decode_batch(..., protocol="dlms")`: `messages` (one row per input frame, in
/// input order) and `obis` (one row per OBIS value, `frame_index` → `messages.index`).
#[pyclass(frozen, module = "meterlink._native")]
pub struct DlmsBatch {
    inner: dlms::DlmsBatch,
}

#[pymethods]
impl DlmsBatch {
    /// One row per input frame, in input order.
    #[getter]
    fn messages(&self) -> ArrowTable {
        self.inner.message_table().into()
    }
    /// One row per OBIS value of a push or P1 telegram.
    #[getter]
    fn obis(&self) -> ArrowTable {
        self.inner.obis_table().into()
    }
    /// The messages table with an `obis` column holding each message's OBIS rows
    /// (`list<struct>`, the OBIS columns without `frame_index`).
    fn nested(&self) -> PyResult<ArrowTable> {
        self.inner.nested().map(ArrowTable::from).map_err(batch_err)
    }
    /// Message rows per status (`ok`, `no_key`, `frame_error`, `decode_error`,
    /// `security_error`), plus `frames` and `obis` (OBIS rows) totals.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let c = &self.inner.counts;
        d.set_item("frames", c.frames())?;
        for s in Status::ALL {
            d.set_item(s.as_str(), c.get(s))?;
        }
        d.set_item("obis", c.records)?;
        Ok(d)
    }
    fn __len__(&self) -> usize {
        self.inner.counts.frames() as usize
    }
    /// Join batches decoded one after the other (same metadata columns) into one.
    #[staticmethod]
    fn concat(batches: Vec<PyRef<'_, DlmsBatch>>) -> PyResult<DlmsBatch> {
        let parts: Vec<&dlms::DlmsBatch> = batches.iter().map(|b| &b.inner).collect();
        dlms::concat(&parts).map(|inner| DlmsBatch { inner }).map_err(batch_err)
    }
    fn __repr__(&self) -> String {
        let c = &self.inner.counts;
        format!(
            "<DlmsBatch {} messages: {} ok, {} no_key, {} frame_error, {} decode_error, {} security_error; {} OBIS rows>",
            c.frames(),
            c.get(Status::Ok),
            c.get(Status::NoKey),
            c.get(Status::FrameError),
            c.get(Status::DecodeError),
            c.get(Status::SecurityError),
            c.records
        )
    }
}

fn batch_options(framing: &str, strict: bool, threads: Option<usize>, index_base: u64, chunk_rows: usize) -> PyResult<DlmsBatchOptions> {
    let framing = Framing::from_name(framing).ok_or_else(|| {
        PyValueError::new_err(format!("framing must be 'auto', 'hdlc', 'wrapper', 'mbus', 'p1' or 'apdu', not {framing:?}"))
    })?;
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    Ok(DlmsBatchOptions { decode: DecodeOptions { framing, strict }, chunk_rows: chunk_rows.max(1), threads, index_base })
}

/// The tuple of list items with clear P1 telegrams given as text (a `str` starting with `/`)
/// turned into their bytes; other `str` items stay hex text. A C-level scan: lists without such
/// items are used as they are.
fn with_p1_text<'py>(tuple: Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyTuple>> {
    let is_text = |o: &Bound<'py, PyAny>| o.cast::<PyString>().is_ok_and(|s| s.to_cow().is_ok_and(|t| t.starts_with('/')));
    if !tuple.iter().any(|o| is_text(&o)) {
        return Ok(tuple);
    }
    let py = tuple.py();
    let items = tuple
        .iter()
        .map(|o| match o.cast::<PyString>() {
            Ok(s) if is_text(&o) => Ok(PyBytes::new(py, s.to_cow()?.as_bytes()).into_any()),
            _ => Ok(o),
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(py, items)
}

/// `_dlms_decode_batch(frames, keys=None, framing="auto", strict=False, threads=None,
/// column=None, index_base=0, metadata=None, errors=None, chunk_rows=16384, counters=None)`: the native batch
/// decoder behind `meterlink.decode_batch(..., protocol="dlms")`. `keys` as `dlms_decode` takes
/// them (the Python layer normalises the documented forms); with list input, `metadata` maps
/// column names to sequences as long as `frames` (carried into `messages`) and `errors` lists
/// (row, message) of rows already known to be bad. With `counters` (a `CounterStore`) replayed
/// invocation counters are rejected, checked in input order after the parallel decode.
#[pyfunction]
#[pyo3(signature = (frames, keys=None, framing="auto", strict=false, threads=None, column=None, index_base=0, metadata=None, errors=None, chunk_rows=16384, counters=None))]
#[allow(clippy::too_many_arguments)]
pub fn _dlms_decode_batch(
    py: Python<'_>,
    frames: &Bound<'_, PyAny>,
    keys: Option<&Bound<'_, PyAny>>,
    framing: &str,
    strict: bool,
    threads: Option<usize>,
    column: Option<&str>,
    index_base: u64,
    metadata: Option<&Bound<'_, PyDict>>,
    errors: Option<Vec<(usize, String)>>,
    chunk_rows: usize,
    counters: Option<&Bound<'_, CounterStore>>,
) -> PyResult<DlmsBatch> {
    let counters = counters.map(|c| &c.get().inner);
    let opts = batch_options(framing, strict, threads, index_base, chunk_rows)?;
    let keys = keys_any(py, keys)?;
    let mut meta = Vec::new();
    if let Some(m) = metadata {
        for (k, v) in m.iter() {
            meta.push(metadata_column(&k.extract::<String>()?, &v)?);
        }
    }
    if frames.is_instance_of::<PyList>() || frames.is_instance_of::<PyTuple>() {
        // A tuple keeps every item alive and in place while the GIL is released.
        let tuple = match frames.cast::<PyList>() {
            Ok(l) => l.to_tuple(),
            Err(_) => frames.cast::<PyTuple>()?.clone(),
        };
        let tuple = with_p1_text(tuple)?;
        let mut items = list_frames(&tuple)?;
        for (i, msg) in errors.unwrap_or_default() {
            items.set_error(i, InputError::new(msg, None));
        }
        let out = py.detach(|| dlms::decode_batch_checked(&items, &keys, &opts, &meta, counters)).map_err(batch_err)?;
        return Ok(DlmsBatch { inner: out });
    }
    if !(frames.hasattr("__arrow_c_array__")? || frames.hasattr("__arrow_c_stream__")?) {
        return Err(PyTypeError::new_err(format!(
            "frames must be a list of bytes / hex str or an Arrow array, table or stream, not {}",
            frames.get_type().name()?
        )));
    }
    if errors.is_some() || metadata.is_some() {
        return Err(PyValueError::new_err("errors= and metadata= apply to list input only"));
    }
    let reader = frames.extract::<AnyArray>()?.into_reader()?;
    let mut out = dlms::DlmsBatch::empty(&[]);
    let mut base = index_base;
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(e.to_string()))?;
        let o = DlmsBatchOptions { index_base: base, ..opts.clone() };
        let part = py.detach(|| dlms::decode_arrow(&chunk, column, &keys, &o, counters)).map_err(batch_err)?;
        base += part.counts.frames();
        out.extend(part).map_err(batch_err)?;
    }
    Ok(DlmsBatch { inner: out })
}
