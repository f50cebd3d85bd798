//! `AflReassembler` for Python: [`meterlink::mbus::reassembly::FrameReassembler`] (AFL
//! fragments, EN 13757-7 6.3, in; decoded telegrams out).

use std::sync::Arc;

use pyo3::prelude::*;

use super::convert::frame_bytes;
use super::keys::keys_arg;
use super::telegram::Telegram;
use super::to_pyerr;
use meterlink::mbus::reassembly::FrameReassembler;
use meterlink::mbus::decode::DecodeOptions;

/// Reassembles fragmented wireless messages, one pending message per meter (link address).
/// `push(frame)` returns the decoded `Telegram` when a message is complete (an unfragmented
/// frame completes at once), None while fragments are pending, and raises `DecodeError` naming
/// what is missing when a fragment is lost or out of order (the pending message is dropped).
/// Memory is bounded: at most `max_meters` pending messages of at most `max_length` bytes.
#[pyclass(module = "meterlink._native")]
pub struct AflReassembler {
    inner: FrameReassembler,
}

#[pymethods]
impl AflReassembler {
    #[new]
    #[pyo3(signature = (max_length=16384, max_meters=10000))]
    fn new(max_length: usize, max_meters: usize) -> Self {
        AflReassembler { inner: FrameReassembler::new(max_length, max_meters) }
    }

    #[pyo3(signature = (frame, keys=None))]
    fn push(&mut self, py: Python<'_>, frame: &Bound<'_, PyAny>, keys: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Telegram>> {
        let bytes = frame_bytes(frame)?;
        let Some(done) = self.inner.push_frame(&bytes).map_err(|e| to_pyerr(py, e))? else {
            return Ok(None);
        };
        // Keys are converted only for a complete message.
        let keys = keys_arg(py, keys)?;
        let tg = done.decode(&DecodeOptions::default(), keys.lookup()).map_err(|e| to_pyerr(py, e))?;
        Ok(Some(Telegram::from_core(Arc::new(tg))))
    }

    /// Number of meters with a message still incomplete.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }
}
