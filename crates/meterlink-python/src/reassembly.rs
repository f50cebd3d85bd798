//! `AflReassembler` for Python: AFL fragments (EN 13757-7 6.3) in, decoded telegrams out.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;

use super::convert::frame_bytes;
use super::keys::keys_arg;
use super::telegram::Telegram;
use super::to_pyerr;
use meterlink::mbus::afl;
use meterlink::error::{Error, ErrorKind};
use meterlink::mbus::link::wmbus::{self, FormatHint};
use meterlink::mbus::decode::{self as core, DecodeOptions};

/// Reassembles fragmented wireless messages, one pending message per meter (link address).
/// `push(frame)` returns the decoded `Telegram` when a message is complete (an unfragmented
/// frame completes at once), None while fragments are pending, and raises `DecodeError` naming
/// what is missing when a fragment is lost or out of order (the pending message is dropped).
/// Memory is bounded: at most `max_meters` pending messages of at most `max_length` bytes.
#[pyclass(module = "meterlink._native")]
pub struct AflReassembler {
    pending: HashMap<[u8; 8], afl::AflReassembler>,
    max_length: usize,
    max_meters: usize,
}

#[pymethods]
impl AflReassembler {
    #[new]
    #[pyo3(signature = (max_length=16384, max_meters=10000))]
    fn new(max_length: usize, max_meters: usize) -> Self {
        AflReassembler { pending: HashMap::new(), max_length, max_meters: max_meters.max(1) }
    }

    #[pyo3(signature = (frame, keys=None))]
    fn push(&mut self, py: Python<'_>, frame: &Bound<'_, PyAny>, keys: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Telegram>> {
        let bytes = frame_bytes(frame)?;
        let wf = wmbus::parse_wmbus(&bytes, FormatHint::Auto)
            .map_err(|e| to_pyerr(py, e.into()))?;
        let mut data: &[u8] = &wf.data;
        // An unencrypted ELL I/III may stand before the AFL.
        if matches!(data.first(), Some(0x8C) | Some(0x8E)) {
            let e = meterlink::mbus::ell::parse_ell(data).map_err(|e| to_pyerr(py, Error::in_layer(ErrorKind::Ell(e), 10)))?;
            data = &data[e.payload_offset..];
        }
        if data.first() != Some(&0x90) {
            return Err(to_pyerr(py, Error::new(10, ErrorKind::NoAfl)));
        }
        let mut key = [0u8; 8];
        key.copy_from_slice(&bytes[2..10]);
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_meters {
            // Full: forget the pending messages rather than grow without bound.
            self.pending.clear();
        }
        let r = self.pending.entry(key).or_insert_with(|| afl::AflReassembler::new(self.max_length));
        let msg = match r.push(data) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.pending.remove(&key);
                return Err(to_pyerr(py, Error::in_layer(ErrorKind::Afl(e), 0)));
            }
        };
        self.pending.remove(&key);
        let keys = keys_arg(py, keys)?;
        let result = core::decode_reassembled(&bytes[..10], &msg, &DecodeOptions::default(), keys.lookup());
        result.map(|tg| Some(Telegram::from_core(Arc::new(tg)))).map_err(|e| to_pyerr(py, e))
    }

    /// Number of meters with a message still incomplete.
    #[getter]
    fn pending(&self) -> usize {
        self.pending.len()
    }
}
