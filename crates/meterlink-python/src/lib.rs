//! PyO3 binding layer. The only place that knows about Python: it converts inputs, wraps the
//! core's results in Python classes and maps [`crate::Error`] onto the exception hierarchy of
//! `meterlink.exceptions` (once, here).

mod batch;
mod convert;
mod dlms;
mod dlms_split;
mod dlms_batch;
mod dlms_encode;
mod dsmr_engine;
mod dsmr_p3;
mod dsmr_sim;
mod encode;
mod keys;
mod parquet;
mod reassembly;
mod replay;
mod serve;
mod splitter;
mod telegram;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use meterlink::error::{Error, ErrorClass, ErrorKind};

static EXC: PyOnceLock<[Py<PyType>; 4]> = PyOnceLock::new();

/// [MeterlinkError, FrameError, DecodeError, SecurityError] from `meterlink.exceptions`.
fn exception_types(py: Python<'_>) -> PyResult<&[Py<PyType>; 4]> {
    EXC.get_or_try_init(py, || {
        let m = py.import("meterlink.exceptions")?;
        let get = |name: &str| -> PyResult<Py<PyType>> { Ok(m.getattr(name)?.cast_into::<PyType>()?.unbind()) };
        Ok([get("MeterlinkError")?, get("FrameError")?, get("DecodeError")?, get("SecurityError")?])
    })
}

/// Raise `class` (None: the base `MeterlinkError`) with `message`, the byte offset where it
/// applies and the stable error code.
pub(crate) fn raise(py: Python<'_>, class: Option<ErrorClass>, message: String, offset: Option<usize>, code: &str) -> PyErr {
    let types = match exception_types(py) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let idx = match class {
        None => 0,
        Some(ErrorClass::Frame) => 1,
        Some(ErrorClass::Decode) => 2,
        Some(ErrorClass::Security) => 3,
    };
    match types[idx].bind(py).call1((message, offset, code)) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The one conversion of the core's [`Error`] into a Python exception: the class its
/// [`ErrorClass`] names, its message, offset and code. Malformed arguments (keys, meter IDs)
/// are the base `MeterlinkError` without an offset.
pub(crate) fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    if let ErrorKind::Key(_) = e.kind {
        return raise(py, None, e.to_string(), None, e.code());
    }
    raise(py, Some(e.class()), e.to_string(), e.position(), e.code())
}

/// Code of errors about an argument that has no typed core error.
pub(crate) const ARGUMENT_CODE: &str = "argument";

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "__all__",
        [
            "AflReassembler",
            "ArrowTable",
            "CounterStore",
            "DecodedBatch",
            "FormatCache",
            "FrameSplitter",
            "KeyStore",
            "LineReader",
            "ParquetWriter",
            "Record",
            "Telegram",
            "__version__",
            "_decode_batch",
            "decode",
            "device_type_name",
            "DlmsBatch",
            "DlmsMessage",
            "DsmrEMeter",
            "DsmrMBusDevice",
            "_dlms_decode_batch",
            "dlms_decode",
            "dlms_hls",
            "HdlcSplitter",
            "dlms_decode_data",
            "dlms_apdu_tree",
            "dlms_encipher",
            "dlms_encode",
            "dlms_encode_data",
            "dlms_hdlc_frame",
            "dlms_mbus_frames",
            "dlms_wrapper_frame",
            "dsmr_wrap_user_key",
            "DsmrP3View",
            "dsmr_p3_view",
            "dsmr_parse_data",
            "encode",
            "encode_record",
            "manufacturer_code",
            "manufacturer_name",
            "serve",
            "loadgen",
        ],
    )?;
    m.add_function(wrap_pyfunction!(telegram::decode, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode, m)?)?;
    m.add_function(wrap_pyfunction!(encode::encode_record, m)?)?;
    m.add_class::<telegram::Telegram>()?;
    m.add_class::<telegram::Record>()?;
    m.add_class::<telegram::FormatCache>()?;
    m.add_class::<reassembly::AflReassembler>()?;
    m.add_class::<splitter::FrameSplitter>()?;
    m.add_class::<keys::KeyStore>()?;
    m.add_class::<replay::CounterStore>()?;
    m.add_class::<batch::DecodedBatch>()?;
    m.add_class::<batch::ArrowTable>()?;
    m.add_class::<batch::LineReader>()?;
    m.add_class::<parquet::ParquetWriter>()?;
    m.add_function(wrap_pyfunction!(batch::_decode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(convert::manufacturer_code, m)?)?;
    m.add_function(wrap_pyfunction!(convert::manufacturer_name, m)?)?;
    m.add_function(wrap_pyfunction!(convert::device_type_name, m)?)?;
    m.add_function(wrap_pyfunction!(dlms::dlms_decode, m)?)?;
    m.add_function(wrap_pyfunction!(dlms::dlms_decode_data, m)?)?;
    m.add_class::<dlms::DlmsMessage>()?;
    m.add_function(wrap_pyfunction!(dsmr_p3::dsmr_p3_view, m)?)?;
    m.add_function(wrap_pyfunction!(dsmr_p3::dsmr_parse_data, m)?)?;
    m.add_class::<dsmr_p3::DsmrP3View>()?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_encode, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_apdu_tree, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_encode_data, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_encipher, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_hdlc_frame, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_wrapper_frame, m)?)?;
    m.add_function(wrap_pyfunction!(dlms_encode::dlms_mbus_frames, m)?)?;
    m.add_class::<dlms_split::HdlcSplitter>()?;
    m.add_function(wrap_pyfunction!(dlms_split::dlms_hls, m)?)?;
    m.add_class::<dlms_batch::DlmsBatch>()?;
    m.add_function(wrap_pyfunction!(dlms_batch::_dlms_decode_batch, m)?)?;
    m.add_class::<dsmr_engine::DsmrMBusDevice>()?;
    m.add_class::<dsmr_engine::DsmrEMeter>()?;
    m.add_function(wrap_pyfunction!(dsmr_engine::dsmr_wrap_user_key, m)?)?;
    m.add_function(wrap_pyfunction!(dsmr_sim::_dsmr_simulate, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add_function(wrap_pyfunction!(serve::loadgen, m)?)?;
    Ok(())
}
