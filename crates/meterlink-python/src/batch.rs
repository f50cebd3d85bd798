//! Bulk decoding for Python: `_decode_batch` (list or Arrow input), `DecodedBatch` and
//! `ArrowTable` (exported through the Arrow PyCapsule stream interface by pyo3-arrow).

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{Field, FieldRef, SchemaRef};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyCapsule, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3_arrow::error::PyArrowResult;
use pyo3_arrow::ffi::{to_schema_pycapsule, to_stream_pycapsule, ArrayIterator};
use pyo3_arrow::input::AnyArray;

use super::convert::decode_options;
use super::keys::keys_arg;
use super::replay::CounterStore;
use meterlink_arrow::{self as batch, BatchOptions, FrameItem, InputError, Status, StreamDecoder, Table};

/// An Arrow-crate error as Python raises it: `TypeError` for a frame column of the wrong type,
/// `ValueError` otherwise, with the error's message.
pub(crate) fn batch_err(e: batch::Error) -> PyErr {
    match e {
        batch::Error::FrameType(_) => PyTypeError::new_err(e.to_string()),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// A table of record batches that pyarrow, polars, pandas and DuckDB read without copying
/// (`__arrow_c_stream__`).
#[pyclass(frozen, module = "meterlink._native")]
pub struct ArrowTable {
    inner: Table,
}

impl ArrowTable {
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }
    pub(crate) fn batches(&self) -> &[RecordBatch] {
        &self.inner.batches
    }
}

impl From<Table> for ArrowTable {
    fn from(inner: Table) -> Self {
        ArrowTable { inner }
    }
}

#[pymethods]
impl ArrowTable {
    /// The Arrow C stream of the table's record batches (Arrow PyCapsule interface).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyArrowResult<Bound<'py, PyCapsule>> {
        let schema = self.schema();
        let field: FieldRef =
            Arc::new(Field::new_struct("", schema.fields().clone(), false).with_metadata(schema.metadata().clone()));
        let arrays: Vec<Result<ArrayRef, arrow_schema::ArrowError>> =
            self.batches().iter().map(|b| Ok(Arc::new(StructArray::from(b.clone())) as ArrayRef)).collect();
        to_stream_pycapsule(py, Box::new(ArrayIterator::new(arrays, field)), requested_schema)
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyArrowResult<Bound<'py, PyCapsule>> {
        to_schema_pycapsule(py, self.schema().as_ref())
    }

    fn __len__(&self) -> usize {
        self.num_rows()
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.inner.num_rows()
    }

    #[getter]
    fn num_batches(&self) -> usize {
        self.batches().len()
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// The rows as JSON lines (UTF-8 `bytes`, one object per row and line, keys in column
    /// order): nulls written as `null`, binary as lowercase hex, dictionary columns as their
    /// strings, nested records as arrays of objects. Encoded by arrow-json, the record batches
    /// in parallel (rayon), GIL released.
    fn to_jsonl<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let batches = self.batches();
        let parts = py.detach(|| batch::writers::encode_jsonl(batches));
        let parts = parts.map_err(|e| PyValueError::new_err(format!("cannot write JSON lines: {e}")))?;
        let len = parts.iter().map(Vec::len).sum();
        PyBytes::new_with(py, len, |buf| {
            let mut at = 0;
            for p in &parts {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
            Ok(())
        })
    }

    /// This table with the columns of `schema` (anything with `__arrow_c_schema__`), by name:
    /// missing ones null, others cast where the type differs, extra ones dropped. For writers
    /// whose file has one schema while later batches carry other metadata columns.
    fn conform(&self, py: Python<'_>, schema: pyo3_arrow::PySchema) -> PyResult<ArrowTable> {
        let schema = schema.into_inner();
        let inner = py
            .detach(|| self.inner.conform(&schema))
            .map_err(|e| PyValueError::new_err(format!("cannot conform the table: {e}")))?;
        Ok(ArrowTable { inner })
    }

    /// A `pyarrow.Table` (zero-copy).
    fn to_pyarrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let pa = slf.py().import("pyarrow")?;
        pa.getattr("RecordBatchReader")?.call_method1("from_stream", (slf,))?.call_method0("read_all")
    }

    /// A `pandas.DataFrame` (through pyarrow).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::to_pyarrow(slf)?.call_method0("to_pandas")
    }

    /// A `polars.DataFrame` (zero-copy where polars allows).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let pl = slf.py().import("polars")?;
        pl.call_method1("from_arrow", (Self::to_pyarrow(slf)?,))
    }

    fn __repr__(&self) -> String {
        format!("<ArrowTable {} rows, {} columns: {}>", self.num_rows(), self.schema().fields().len(), self.column_names().join(", "))
    }
}

/// The result of `decode_batch`: `telegrams` (one row per input frame, in input order) and
/// `records` (one row per data record, `frame_index` → `telegrams.index`).
#[pyclass(frozen, module = "meterlink._native")]
pub struct DecodedBatch {
    inner: batch::DecodedBatch,
}

#[pymethods]
impl DecodedBatch {
    /// One row per input frame, in input order.
    #[getter]
    fn telegrams(&self) -> ArrowTable {
        self.inner.telegram_table().into()
    }
    /// One row per data record.
    #[getter]
    fn records(&self) -> ArrowTable {
        self.inner.record_table().into()
    }
    /// The telegram table with a `records` column holding each telegram's records
    /// (`list<struct>`, the record columns without `frame_index`).
    fn nested(&self) -> PyResult<ArrowTable> {
        batch::nest(&self.inner).map(ArrowTable::from).map_err(batch_err)
    }
    /// True when the frames were decoded requiring verified DLL CRCs: asked for
    /// (`link_crc="required"`), or established because most of the source's first frames carry
    /// them. Decode later batches of the same source with `link_crc="required"`.
    #[getter]
    fn link_crc_required(&self) -> bool {
        self.inner.link_crc_required
    }
    /// Telegram rows per status (`ok`, `no_key`, `frame_error`, `decode_error`,
    /// `security_error`), plus `frames` and `records` totals.
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let c = &self.inner.counts;
        d.set_item("frames", c.frames())?;
        for s in Status::ALL {
            d.set_item(s.as_str(), c.get(s))?;
        }
        d.set_item("records", c.records)?;
        Ok(d)
    }
    fn __len__(&self) -> usize {
        self.inner.counts.frames() as usize
    }
    /// Join batches decoded one after the other (same metadata columns) into one.
    #[staticmethod]
    fn concat(batches: Vec<PyRef<'_, DecodedBatch>>) -> PyResult<DecodedBatch> {
        let parts: Vec<&batch::DecodedBatch> = batches.iter().map(|b| &b.inner).collect();
        batch::concat(&parts).map(|inner| DecodedBatch { inner }).map_err(batch_err)
    }
    fn __repr__(&self) -> String {
        let c = &self.inner.counts;
        format!(
            "<DecodedBatch {} frames: {} ok, {} no_key, {} frame_error, {} decode_error, {} security_error; {} records>",
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

/// A metadata column from a Python list (str / int / float / bool / None) or an Arrow array.
pub(crate) fn metadata_column(name: &str, v: &Bound<'_, PyAny>) -> PyResult<(FieldRef, ArrayRef)> {
    if v.hasattr("__arrow_c_array__")? || v.hasattr("__arrow_c_stream__")? {
        let arr: AnyArray = v.extract()?;
        let chunked = arr.into_chunked_array()?;
        let (chunks, field) = chunked.into_inner();
        if chunks.len() != 1 {
            return Err(PyValueError::new_err(format!("metadata column {name:?} must be one Arrow array")));
        }
        let a = chunks.into_iter().next().unwrap_or_else(|| arrow_array::new_empty_array(field.data_type()));
        return Ok((Arc::new(Field::new(name, a.data_type().clone(), true)), a));
    }
    let items: Vec<Bound<'_, PyAny>> = v.try_iter()?.collect::<PyResult<_>>()?;
    let first = items.iter().find(|x| !x.is_none());
    let a: ArrayRef = match first {
        Some(x) if x.is_instance_of::<PyBool>() => {
            let mut b = BooleanBuilder::with_capacity(items.len());
            for x in &items {
                b.append_option(if x.is_none() { None } else { Some(x.extract::<bool>()?) });
            }
            Arc::new(b.finish())
        }
        Some(x) if x.is_instance_of::<PyInt>() => {
            let mut b = Int64Builder::with_capacity(items.len());
            for x in &items {
                b.append_option(if x.is_none() { None } else { Some(x.extract::<i64>()?) });
            }
            Arc::new(b.finish())
        }
        Some(x) if x.is_instance_of::<PyFloat>() => {
            let mut b = Float64Builder::with_capacity(items.len());
            for x in &items {
                b.append_option(if x.is_none() { None } else { Some(x.extract::<f64>()?) });
            }
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::with_capacity(items.len(), 0);
            for x in &items {
                if x.is_none() {
                    b.append_null();
                } else {
                    let text = x.cast::<PyString>().map_err(|_| {
                        PyTypeError::new_err(format!("metadata column {name:?} mixes types; use str, int, float or bool"))
                    })?;
                    // Lone surrogates are replaced (U+FFFD) rather than aborting the batch.
                    b.append_value(&*text.to_string_lossy());
                }
            }
            Arc::new(b.finish())
        }
    };
    Ok((Arc::new(Field::new(name, a.data_type().clone(), true)), a))
}

/// A list item that is not `bytes`: hex text, a copy of a bytes-like object, or an input error.
fn frame_item(obj: &Bound<'_, PyAny>) -> PyResult<FrameItem<'static>> {
    if let Ok(s) = obj.cast::<PyString>() {
        // A str that is not valid Unicode (a lone surrogate) is an input row, not an abort.
        return Ok(match s.to_cow() {
            Ok(t) => FrameItem::Hex(std::borrow::Cow::Owned(t.into_owned())),
            Err(_) => FrameItem::Error(InputError::new("frame text is not valid Unicode (a lone surrogate)", None)),
        });
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(FrameItem::Owned(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(FrameItem::Owned(b.to_vec()));
    }
    if obj.is_none() {
        return Ok(FrameItem::Error(InputError::new("null frame", None)));
    }
    match pyo3::types::PyMemoryView::from(obj).and_then(|mv| mv.call_method0("tobytes")) {
        Ok(b) => Ok(FrameItem::Owned(b.cast_into::<PyBytes>()?.as_bytes().to_vec())),
        Err(_) => Ok(FrameItem::Error(InputError::new(
            format!("frame must be bytes-like or a hex str, not {}", obj.get_type().name()?),
            None,
        ))),
    }
}

/// The frames of a tuple, `bytes` items borrowed in place. This loop runs with the GIL held
/// (serial), so it does the least per item: one borrowed item, a type check, two calls for the
/// data pointer and length; no reference counting, no per-item allocation.
pub(crate) fn list_frames<'a>(tuple: &'a Bound<'_, PyTuple>) -> PyResult<batch::ListFrames<'a>> {
    let mut src = batch::ListFrames::with_capacity(tuple.len());
    for obj in tuple.iter_borrowed() {
        let p = obj.as_ptr();
        // SAFETY: `p` is a live object owned by `tuple` (a tuple never drops its items before
        // it is dropped itself, and it cannot be resized), and `tuple` outlives the returned
        // slices ('a). `bytes` objects are immutable, so the buffer stays valid and unchanged
        // while other threads read it with the GIL released.
        if unsafe { pyo3::ffi::PyBytes_CheckExact(p) } != 0 {
            let data = unsafe {
                let ptr = pyo3::ffi::PyBytes_AsString(p) as *const u8;
                let len = pyo3::ffi::PyBytes_Size(p);
                if ptr.is_null() || len < 0 {
                    return Err(PyErr::fetch(tuple.py()));
                }
                std::slice::from_raw_parts::<'a, u8>(ptr, len as usize)
            };
            src.push_bytes(data);
        } else {
            src.push_item(frame_item(&obj)?);
        }
    }
    Ok(src)
}

const _: () = assert!(batch::DEFAULT_MAX_LINE == 65536);

/// The batch options of the `link=`, `strict=`, `tail=` and `threads=` arguments.
/// The safety options of batch decoding: `accept_unprotected`, `default_keys`, and `link_crc`:
/// "source" (the frames are one receiver's: when they show DLL CRCs, every frame must verify
/// them), "frame" (each frame judged alone, as `decode` does), "required" (always).
pub(crate) struct Safety<'a> {
    pub accept_unprotected: bool,
    pub default_keys: bool,
    pub link_crc: &'a str,
}

fn batch_options(
    (link, strict, tail): (&str, bool, &str),
    safety: &Safety<'_>,
    threads: Option<usize>,
    index_base: u64,
    chunk_rows: usize,
) -> PyResult<BatchOptions> {
    let mut decode = decode_options(link, strict, tail)?;
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    decode.accept_unprotected = safety.accept_unprotected;
    decode.default_keys = safety.default_keys;
    let one_source = match safety.link_crc {
        "source" => true,
        "frame" => false,
        "required" => {
            decode.require_link_crc = true;
            true
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "link_crc must be 'source', 'frame' or 'required', not {other:?}"
            )))
        }
    };
    Ok(BatchOptions { decode, chunk_rows, threads, index_base, one_source })
}

/// `_decode_batch(frames, keys=None, link="auto", strict=False, tail="auto", threads=None,
/// column=None, index_base=0, metadata=None, errors=None, chunk_rows=16384, ..., counters=None)`:
/// the native batch decoder behind `meterlink.decode_batch`. With `counters` (a `CounterStore`)
/// the decoded rows are checked for replayed counters in input order after the decode
/// (`meterlink_arrow::replay`), so the result is the same for any thread count.
#[pyfunction]
#[pyo3(signature = (frames, keys=None, link="auto", strict=false, tail="auto", threads=None, column=None, index_base=0, metadata=None, errors=None, chunk_rows=16384, accept_unprotected=false, default_keys=true, link_crc="source", counters=None))]
#[allow(clippy::too_many_arguments)]
pub fn _decode_batch(
    py: Python<'_>,
    frames: &Bound<'_, PyAny>,
    keys: Option<&Bound<'_, PyAny>>,
    link: &str,
    strict: bool,
    tail: &str,
    threads: Option<usize>,
    column: Option<&str>,
    index_base: u64,
    metadata: Option<&Bound<'_, PyDict>>,
    errors: Option<Vec<(usize, String)>>,
    chunk_rows: usize,
    accept_unprotected: bool,
    default_keys: bool,
    link_crc: &str,
    counters: Option<&Bound<'_, CounterStore>>,
) -> PyResult<DecodedBatch> {
    let counters = counters.map(|c| &c.get().inner);
    let safety = Safety { accept_unprotected, default_keys, link_crc };
    let opts = batch_options((link, strict, tail), &safety, threads, index_base, chunk_rows)?;
    let keys = keys_arg(py, keys)?;
    let mut meta: Vec<(FieldRef, ArrayRef)> = Vec::new();
    if let Some(m) = metadata {
        for (k, v) in m.iter() {
            let name: String = k.extract()?;
            meta.push(metadata_column(&name, &v)?);
        }
    }

    if frames.is_instance_of::<PyList>() || frames.is_instance_of::<PyTuple>() {
        // A tuple (a list is copied into one, a C loop of increfs) keeps every item alive and in
        // place while the GIL is released, whatever other Python threads do to the list.
        let tuple = match frames.cast::<PyList>() {
            Ok(l) => l.to_tuple(),
            Err(_) => frames.cast::<PyTuple>()?.clone(),
        };
        let mut items = list_frames(&tuple)?;
        for (i, msg) in errors.unwrap_or_default() {
            items.set_error(i, InputError::new(msg, None));
        }
        let lookup = keys.lookup();
        let out = py.detach(|| batch::decode_batch_checked(&items, lookup, &opts, &meta, counters)).map_err(batch_err)?;
        return Ok(DecodedBatch { inner: out });
    }
    if !(frames.hasattr("__arrow_c_array__")? || frames.hasattr("__arrow_c_stream__")?) {
        return Err(PyTypeError::new_err(format!(
            "frames must be a list of bytes / hex str or an Arrow array, table or stream, not {}",
            frames.get_type().name()?
        )));
    }
    if errors.is_some() {
        return Err(PyValueError::new_err("errors= applies to list input only"));
    }
    let any: AnyArray = frames.extract()?;
    let reader = any.into_reader()?;
    let field = reader.field();
    let lookup = keys.lookup();
    let mut stream = StreamDecoder::new(opts, column, &meta);
    for chunk in reader {
        let chunk = chunk.map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.detach(|| stream.push(&chunk, lookup)).map_err(batch_err)?;
    }
    let mut out = stream.finish(field.data_type(), lookup).map_err(batch_err)?;
    if let Some(store) = counters {
        py.detach(|| batch::replay::check_replays(&mut out, store)).map_err(batch_err)?;
    }
    Ok(DecodedBatch { inner: out })
}

/// `LineReader(format)`: a text archive (`hex`, `rtl-wmbus`, `wmbusmeters`) fed piece by piece;
/// `decode_next` parses lines and decodes them, both with the GIL released, `max_rows` telegram
/// rows at a time (metadata: `line`, then the format's columns).
#[pyclass(module = "meterlink._native")]
pub struct LineReader {
    inner: batch::LineReader,
}

#[pymethods]
impl LineReader {
    #[new]
    // 65536 = batch::DEFAULT_MAX_LINE, as a literal so that the signature shows it.
    #[pyo3(signature = (format, max_line_length=65536))]
    fn new(format: &str, max_line_length: usize) -> PyResult<Self> {
        let f = batch::LineFormat::parse(format).ok_or_else(|| {
            PyValueError::new_err(format!("line format must be hex, rtl-wmbus or wmbusmeters, not {format:?}"))
        })?;
        if max_line_length == 0 {
            return Err(PyValueError::new_err("max_line_length must be at least 1"));
        }
        Ok(LineReader { inner: batch::LineReader::new(f).with_max_line_length(max_line_length) })
    }

    /// Append a piece of the (decompressed) archive.
    fn feed(&mut self, py: Python<'_>, data: &Bound<'_, PyBytes>) {
        let bytes = data.as_bytes();
        let inner = &mut self.inner;
        py.detach(|| inner.feed(bytes));
    }

    /// The next `max_rows` rows decoded, fewer at the end (`last`: nothing more will be fed),
    /// or None when no full batch is ready yet (or nothing is left). With `counters` (a
    /// `CounterStore`) replayed counters are marked, in line order (see `_decode_batch`).
    #[pyo3(signature = (max_rows, last=false, keys=None, link="auto", strict=false, tail="auto", threads=None, index_base=0, accept_unprotected=false, default_keys=true, link_crc="source", counters=None))]
    #[allow(clippy::too_many_arguments)]
    fn decode_next(
        &mut self,
        py: Python<'_>,
        max_rows: usize,
        last: bool,
        keys: Option<&Bound<'_, PyAny>>,
        link: &str,
        strict: bool,
        tail: &str,
        threads: Option<usize>,
        index_base: u64,
        accept_unprotected: bool,
        default_keys: bool,
        link_crc: &str,
        counters: Option<&Bound<'_, CounterStore>>,
    ) -> PyResult<Option<DecodedBatch>> {
        let counters = counters.map(|c| &c.get().inner);
        let safety = Safety { accept_unprotected, default_keys, link_crc };
        let chunk_rows = BatchOptions::default().chunk_rows;
        let opts = batch_options((link, strict, tail), &safety, threads, index_base, chunk_rows)?;
        let keys = keys_arg(py, keys)?;
        let lookup = keys.lookup();
        let inner = &mut self.inner;
        let out = py.detach(|| match inner.next_batch(max_rows, last) {
            None => Ok(None),
            Some(rows) => batch::decode_batch_checked(&rows, lookup, &opts, &rows.metadata, counters).map(Some),
        });
        Ok(out.map_err(batch_err)?.map(|inner| DecodedBatch { inner }))
    }

    /// The metadata columns after `line` (for `hex`: known once the first content line is read).
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.inner.columns().to_vec()
    }

    /// Lines read so far.
    #[getter]
    fn lines_read(&self) -> u64 {
        self.inner.lines_read()
    }

    /// The line length limit in bytes (a longer line is one `line_too_long` error row).
    #[getter]
    fn max_line_length(&self) -> usize {
        self.inner.max_line_length()
    }
}
