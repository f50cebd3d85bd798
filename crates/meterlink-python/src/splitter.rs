//! `FrameSplitter`: the wired stream splitter for Python.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use meterlink::mbus::link::splitter::{Piece, Splitter};

/// Incremental FT1.2 stream splitter. `feed(data)` returns what could be cut so far as a list of
/// `("frame", offset, bytes)` and `("skipped", offset, length)` tuples; `finish()` flushes.
#[pyclass(module = "meterlink._native")]
pub struct FrameSplitter {
    inner: Splitter,
}

fn drain<'py>(py: Python<'py>, s: &mut Splitter) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    while let Some(p) = s.next_piece() {
        let item = match p {
            Piece::Frame { offset, bytes } => piece(py, "frame", offset, PyBytes::new(py, &bytes).into_any())?,
            Piece::Skipped { offset, len } => piece(py, "skipped", offset, len.into_pyobject(py)?.into_any())?,
        };
        out.append(item)?;
    }
    Ok(out)
}

/// One `(kind, offset, payload)` tuple of a splitter's output (FT1.2 and HDLC alike).
pub(crate) fn piece<'py>(py: Python<'py>, kind: &str, offset: u64, payload: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [kind.into_pyobject(py)?.into_any(), offset.into_pyobject(py)?.into_any(), payload])
}

#[pymethods]
impl FrameSplitter {
    #[new]
    #[pyo3(signature = (accept_ack=true))]
    fn new(accept_ack: bool) -> Self {
        let mut inner = Splitter::new();
        inner.accept_ack = accept_ack;
        FrameSplitter { inner }
    }
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        self.inner.push(data);
        drain(py, &mut self.inner)
    }
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.inner.finish();
        drain(py, &mut self.inner)
    }
    #[getter]
    fn frames_total(&self) -> u64 {
        self.inner.frames_total
    }
    #[getter]
    fn skipped_total(&self) -> u64 {
        self.inner.skipped_total
    }
}
