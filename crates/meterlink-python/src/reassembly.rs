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
/// Memory is bounded: at most `max_meters` pending messages of at most `max_length` bytes; when
/// a new meter's message starts while the table is full, the message started longest ago is
/// evicted. With `timeout` (seconds), messages started longer ago than that by the caller's
/// clock (`push(..., now=)`, `expire(now)`) are dropped.
#[pyclass(module = "meterlink._native")]
pub struct AflReassembler {
    inner: FrameReassembler,
}

#[pymethods]
impl AflReassembler {
    #[new]
    #[pyo3(signature = (max_length=16384, max_meters=10000, timeout=None))]
    fn new(max_length: usize, max_meters: usize, timeout: Option<f64>) -> PyResult<Self> {
        let inner = FrameReassembler::new(max_length, max_meters);
        Ok(AflReassembler { inner: match timeout {
            Some(t) if t.is_nan() || t < 0.0 => {
                return Err(raise_arg(format!("timeout must be a number of seconds >= 0, not {t}")));
            }
            Some(t) => inner.with_timeout(t),
            None => inner,
        } })
    }

    #[pyo3(signature = (frame, keys=None, now=None))]
    fn push(
        &mut self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        keys: Option<&Bound<'_, PyAny>>,
        now: Option<f64>,
    ) -> PyResult<Option<Telegram>> {
        let bytes = frame_bytes(frame)?;
        let pushed = match now {
            Some(t) => self.inner.push_frame_at(&bytes, t),
            None => self.inner.push_frame(&bytes),
        };
        let Some(done) = pushed.map_err(|e| to_pyerr(py, e))? else {
            return Ok(None);
        };
        // Keys are converted only for a complete message.
        let keys = keys_arg(py, keys)?;
        let tg = done.decode(&DecodeOptions::default(), keys.lookup()).map_err(|e| to_pyerr(py, e))?;
        Ok(Some(Telegram::from_core(Arc::new(tg))))
    }

    /// Drop the pending messages started more than `timeout` seconds before `now`; returns how
    /// many were dropped.
    fn expire(&mut self, now: f64) -> usize {
        self.inner.expire(now)
    }

    /// Number of meters with a message still incomplete.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Pending messages evicted so far because the table was full.
    #[getter]
    fn evicted(&self) -> u64 {
        self.inner.evicted()
    }

    /// Pending messages dropped so far by the time-out.
    #[getter]
    fn expired(&self) -> u64 {
        self.inner.expired()
    }
}

fn raise_arg(message: String) -> PyErr {
    Python::attach(|py| super::raise(py, None, message, None, super::ARGUMENT_CODE))
}
