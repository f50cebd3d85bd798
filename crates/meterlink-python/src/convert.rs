//! Input conversion (bytes-like or hex text → bytes) and small table look-ups.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use super::{raise, to_pyerr, ARGUMENT_CODE};
use meterlink::mbus::tpl::device;


/// A frame argument: `bytes` is borrowed without copying; `str` is hex; any other object
/// supporting the buffer protocol (bytearray, memoryview, numpy) is copied once.
pub(crate) fn frame_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_cow()?;
        return meterlink::hex::parse_hex(&s).map(Cow::Owned).map_err(|e| to_pyerr(obj.py(), e.into()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    // Anything else must support the buffer protocol (memoryview, array, numpy); `bytes(obj)`
    // would turn an int into that many zero bytes.
    match pyo3::types::PyMemoryView::from(obj).and_then(|mv| mv.call_method0("tobytes")) {
        Ok(b) => Ok(Cow::Owned(b.cast_into::<PyBytes>()?.as_bytes().to_vec())),
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "frame must be bytes-like or a hex str, not {}",
            obj.get_type().name()?
        ))),
    }
}

/// The `link=`, `strict=` and `tail=` arguments shared by the decode entry points.
pub(crate) fn decode_options(link: &str, strict: bool, tail: &str) -> PyResult<meterlink::mbus::decode::DecodeOptions> {
    use meterlink::mbus::decode::{DecodeOptions, LinkMode, TailPolicy};
    let Some(tail) = TailPolicy::parse(tail) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "tail must be 'auto', 'strict' or 'keep', not {tail:?}"
        )));
    };
    let Some(link) = LinkMode::parse(link) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "link must be 'auto', 'wired', 'wireless', 'wireless-a', 'wireless-b' or 'wireless-nocrc', not {link:?}"
        )));
    };
    Ok(DecodeOptions { link, strict, tail, ..DecodeOptions::default() })
}

pub(crate) fn hex_lower(b: &[u8]) -> String {
    meterlink::hex::to_hex_lower(b)
}

/// Three-letter manufacturer code → the 16-bit M-field value.
#[pyfunction]
pub fn manufacturer_code(py: Python<'_>, name: &str) -> PyResult<u16> {
    device::manufacturer_from_str(name).ok_or_else(|| {
        raise(py, None, format!("manufacturer code must be three letters A-Z, got {name:?}"), None, ARGUMENT_CODE)
    })
}

/// 16-bit M-field value → three letters.
#[pyfunction]
pub fn manufacturer_name(code: u16) -> String {
    String::from_utf8_lossy(&device::manufacturer_to_str(code)).into_owned()
}

/// Device type (EN 13757-7 7.5.4) → name.
#[pyfunction]
pub fn device_type_name(code: u8) -> &'static str {
    device::device_type_name(code)
}
