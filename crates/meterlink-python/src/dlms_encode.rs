//! `meterlink.dlms` building: `encode` (APDU trees → bytes), `apdu_tree`, `encode_data`,
//! `encipher`, `hdlc_frame`, `wrapper_frame`, `mbus_frames`. Conversion only: the trees are
//! `meterlink::dlms::apdu::tree`, the encoders the stages'.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use meterlink::dlms::apdu::tree::{data_from_tree, Node, TreeError};
use meterlink::dlms::apdu::{decode_apdu, encode_apdu_to_vec, Apdu};
use meterlink::dlms::axdr::encode_data;
use meterlink::dlms::decode::dlms_error;
use meterlink::dlms::hdlc::{encode_frame, HdlcAddress, HdlcControl, HdlcFrame};
use meterlink::dlms::security::ciphered::{GENERAL_CIPHERING, GENERAL_DED_CIPHERING, GENERAL_GLO_CIPHERING};
use meterlink::dlms::security::{encipher, tag_for_plain, DlmsKeys, Protection, SecurityControl};
use meterlink::dlms::{mbus, wrapper, DlmsError};

use super::convert::frame_bytes;
use super::dlms::data_tree;
use super::{raise, to_pyerr, ARGUMENT_CODE};

/// Deepest tree accepted from Python (a list that holds itself must not overflow the stack).
const MAX_DEPTH: usize = 64;

fn argument(py: Python<'_>, message: String) -> PyErr {
    raise(py, None, message, None, ARGUMENT_CODE)
}

fn tree_error(py: Python<'_>, e: TreeError) -> PyErr {
    argument(py, e.to_string())
}

fn stage_error(py: Python<'_>, e: impl Into<DlmsError>) -> PyErr {
    to_pyerr(py, dlms_error(e.into(), 0))
}

/// A Python value as a tree node: None, bool, int, float, str, bytes-like, dict (str keys),
/// list or tuple.
fn to_node(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Node> {
    let py = obj.py();
    if depth > MAX_DEPTH {
        return Err(argument(py, format!("APDU tree: nested deeper than {MAX_DEPTH} levels")));
    }
    Ok(if obj.is_none() {
        Node::Null
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Node::Bool(b.is_true())
    } else if obj.is_instance_of::<PyInt>() {
        Node::Int(obj.extract::<i128>().map_err(|_| argument(py, "APDU tree: integer out of range".into()))?)
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Node::Float(f.value())
    } else if let Ok(s) = obj.cast::<PyString>() {
        Node::Text(s.to_cow()?.into_owned())
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut fields = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let k = k.cast::<PyString>().map_err(|_| argument(py, "APDU tree: map keys must be str".into()))?;
            fields.push((k.to_cow()?.into_owned(), to_node(&v, depth + 1)?));
        }
        Node::Map(fields)
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        Node::List(obj.try_iter()?.map(|x| to_node(&x?, depth + 1)).collect::<PyResult<_>>()?)
    } else {
        let kind = || obj.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        Node::Bytes(frame_bytes(obj).map_err(|_| argument(py, format!("APDU tree: unsupported value of type {}", kind())))?.into_owned())
    })
}

/// A tree node as Python: maps as dicts, lists as lists, `Data` as its A-XDR tree.
fn to_py<'py>(py: Python<'py>, n: &Node) -> PyResult<Bound<'py, PyAny>> {
    Ok(match n {
        Node::Null => py.None().into_bound(py),
        Node::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Node::Int(i) => i.into_pyobject(py)?.into_any(),
        Node::Float(f) => f.into_pyobject(py)?.into_any(),
        Node::Bytes(b) => PyBytes::new(py, b).into_any(),
        Node::Text(s) => PyString::new(py, s).into_any(),
        Node::List(items) => PyList::new(py, items.iter().map(|x| to_py(py, x)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Node::Map(fields) => {
            let d = PyDict::new(py);
            for (k, v) in fields {
                d.set_item(k, to_py(py, v)?)?;
            }
            d.into_any()
        }
        Node::Data(d) => data_tree(py, d)?,
    })
}

/// The tree of an APDU as Python (`DlmsMessage.apdu_tree()` and `apdu_tree()`).
pub(crate) fn apdu_to_py<'py>(py: Python<'py>, apdu: &Apdu) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, &apdu.to_tree())
}

/// dlms_encode(apdu: dict) -> bytes: the APDU a tree describes, encoded.
#[pyfunction]
pub fn dlms_encode<'py>(py: Python<'py>, apdu: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let node = to_node(apdu, 0)?;
    let bytes = py.detach(|| Apdu::from_tree(&node).map(|a| encode_apdu_to_vec(&a)));
    let bytes = bytes.map_err(|e| tree_error(py, e))?.map_err(|e| stage_error(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

/// dlms_apdu_tree(data) -> dict: the tree of one APDU (bytes or hex).
#[pyfunction]
pub fn dlms_apdu_tree<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let bytes = frame_bytes(data)?;
    let apdu = py.detach(|| decode_apdu(&bytes)).map_err(|e| stage_error(py, e))?;
    apdu_to_py(py, &apdu)
}

/// dlms_encode_data(tree) -> bytes: one A-XDR Data item from its tree (the inverse of
/// `dlms_decode_data`).
#[pyfunction]
pub fn dlms_encode_data<'py>(py: Python<'py>, tree: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let node = to_node(tree, 0)?;
    let data = data_from_tree(&node, "").map_err(|e| tree_error(py, e))?;
    let mut out = Vec::new();
    encode_data(&data, &mut out);
    Ok(PyBytes::new(py, &out))
}

/// The ciphered APDU's tag for `form` and the plain APDU's tag.
fn form_tag(py: Python<'_>, form: &str, plain: &[u8]) -> PyResult<u8> {
    let service = |dedicated: bool| {
        let t = *plain.first().ok_or_else(|| argument(py, "encipher: the APDU is empty".into()))?;
        tag_for_plain(t, dedicated)
            .ok_or_else(|| argument(py, format!("encipher: no {form} form for an APDU with tag {t:#04x}")))
    };
    match form {
        "general-glo-ciphering" => Ok(GENERAL_GLO_CIPHERING),
        "general-ded-ciphering" => Ok(GENERAL_DED_CIPHERING),
        "general-ciphering" => Ok(GENERAL_CIPHERING),
        "glo" => service(false),
        "ded" => service(true),
        other => Err(argument(
            py,
            format!("encipher: form must be 'general-glo-ciphering', 'general-ded-ciphering', 'general-ciphering', 'glo' or 'ded', not {other:?}"),
        )),
    }
}

/// dlms_encipher(apdu, system_title, invocation_counter, ek, ak, security_control, form) ->
/// bytes: the plain APDU protected as the ciphering stage's `encipher` does it (the ded forms
/// use `ek` as the dedicated key).
#[pyfunction]
#[pyo3(signature = (apdu, system_title, invocation_counter, ek, ak=None, security_control=0x30, form="general-glo-ciphering"))]
#[allow(clippy::too_many_arguments)]
pub fn dlms_encipher<'py>(
    py: Python<'py>,
    apdu: &Bound<'py, PyAny>,
    system_title: &Bound<'py, PyAny>,
    invocation_counter: u32,
    ek: &Bound<'py, PyAny>,
    ak: Option<&Bound<'py, PyAny>>,
    security_control: u8,
    form: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let plain = frame_bytes(apdu)?;
    let title = frame_bytes(system_title)?;
    let title: [u8; 8] = title.as_ref().try_into().map_err(|_| argument(py, format!("encipher: system_title is 8 bytes, got {}", title.len())))?;
    let ek = frame_bytes(ek)?.into_owned();
    let ak = ak.map(|a| frame_bytes(a).map(|b| b.into_owned())).transpose()?;
    let tag = form_tag(py, form, &plain)?;
    let mut keys = DlmsKeys::new(ek.clone(), ak);
    if form.contains("ded") {
        keys.dedicated_key = Some(ek);
    }
    let p = Protection {
        tag,
        security_control: SecurityControl(security_control),
        invocation_counter,
        system_title: title,
        general: None,
    };
    let out = py.detach(|| encipher(&p, &plain, &keys)).map_err(|e| stage_error(py, e))?;
    Ok(PyBytes::new(py, &out))
}

/// An HDLC address: an int (one byte), `(upper, lower)` or `{"upper", "lower"[, "length"]}`
/// (2 bytes when both fit 7 bits, else 4).
fn hdlc_address(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<HdlcAddress> {
    let py = obj.py();
    let bad = || argument(py, format!("hdlc_frame: {what} must be an int, (upper, lower) or {{'upper': int, 'lower': int}}"));
    if let Ok(upper) = obj.extract::<u16>() {
        return Ok(HdlcAddress::one_byte(upper));
    }
    let (upper, lower, length): (u16, Option<u16>, Option<u8>) = if let Ok(d) = obj.cast::<PyDict>() {
        let get = |k: &str| d.get_item(k).ok().flatten().filter(|v| !v.is_none());
        let upper = get("upper").ok_or_else(bad)?.extract().map_err(|_| bad())?;
        let lower = get("lower").map(|v| v.extract()).transpose().map_err(|_| bad())?;
        let length = get("length").map(|v| v.extract()).transpose().map_err(|_| bad())?;
        (upper, lower, length)
    } else {
        let (u, l): (u16, Option<u16>) = obj.extract().map_err(|_| bad())?;
        (u, l, None)
    };
    Ok(match lower {
        None => HdlcAddress::one_byte(upper),
        Some(l) => HdlcAddress::server(upper, l, length.unwrap_or(if upper <= 0x7F && l <= 0x7F { 2 } else { 4 })),
    })
}

/// The control byte: `"I"` (10h: N(S) = N(R) = 0, poll), `"UI"` (13h, as pushes), or an int.
fn hdlc_control(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let py = obj.py();
    if let Ok(s) = obj.cast::<PyString>() {
        return match &*s.to_cow()? {
            "I" => Ok(HdlcControl::I { ns: 0, nr: 0, pf: true }.to_byte()),
            "UI" => Ok(HdlcControl::Ui { pf: true }.to_byte()),
            other => Err(argument(py, format!("hdlc_frame: control must be 'I', 'UI' or an int, not {other:?}"))),
        };
    }
    obj.extract::<u8>().map_err(|_| argument(py, "hdlc_frame: control must be 'I', 'UI' or an int 0..255".into()))
}

/// The LLC header (IEC 62056-46 8.3): True / "response" E6 E7 00 (server to client, as pushes
/// and responses), "request" E6 E6 00, False none.
fn llc_header(obj: &Bound<'_, PyAny>) -> PyResult<&'static [u8]> {
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(if b.is_true() { &[0xE6, 0xE7, 0x00] } else { &[] });
    }
    match obj.extract::<String>().as_deref() {
        Ok("response") => Ok(&[0xE6, 0xE7, 0x00]),
        Ok("request") => Ok(&[0xE6, 0xE6, 0x00]),
        _ => Err(argument(obj.py(), "hdlc_frame: llc must be True, False, 'request' or 'response'".into())),
    }
}

/// dlms_hdlc_frame(info, destination, source, control="I", segmented=False, llc=True) ->
/// bytes: one HDLC frame (format type 3, HCS and FCS) around the information field, the LLC
/// header first unless `llc=False`.
#[pyfunction]
#[pyo3(signature = (info, destination, source, control=None, segmented=false, llc=None))]
pub fn dlms_hdlc_frame<'py>(
    py: Python<'py>,
    info: &Bound<'py, PyAny>,
    destination: &Bound<'py, PyAny>,
    source: &Bound<'py, PyAny>,
    control: Option<&Bound<'py, PyAny>>,
    segmented: bool,
    llc: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let body = frame_bytes(info)?;
    let control = match control {
        Some(c) => hdlc_control(c)?,
        None => HdlcControl::I { ns: 0, nr: 0, pf: true }.to_byte(),
    };
    let llc = match llc {
        Some(l) => llc_header(l)?,
        None => &[0xE6, 0xE7, 0x00],
    };
    let information = [llc, &body[..]].concat();
    let frame = HdlcFrame {
        segmented,
        destination: hdlc_address(destination, "destination")?,
        source: hdlc_address(source, "source")?,
        control,
        information: &information,
    };
    let out = encode_frame(&frame).map_err(|e| stage_error(py, e))?;
    Ok(PyBytes::new(py, &out))
}

/// dlms_wrapper_frame(apdu, source_wport=1, destination_wport=1) -> bytes: the IEC 62056-47
/// wrapper header (version 1, length) and the APDU.
#[pyfunction]
#[pyo3(signature = (apdu, source_wport=1, destination_wport=1))]
pub fn dlms_wrapper_frame<'py>(py: Python<'py>, apdu: &Bound<'py, PyAny>, source_wport: u16, destination_wport: u16) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = frame_bytes(apdu)?;
    let out = wrapper::encode(source_wport, destination_wport, &bytes).map_err(|e| stage_error(py, e))?;
    Ok(PyBytes::new(py, &out))
}

/// dlms_mbus_frames(apdu, address=0xFF, control=0x53, stsap=0x01, dtsap=0x67,
/// segment_size=245) -> bytes: the wired M-Bus long frames of one APDU, back to back, CI 00–1F
/// segments as the Austrian meters send them.
#[pyfunction]
#[pyo3(signature = (apdu, address=0xFF, control=0x53, stsap=0x01, dtsap=0x67, segment_size=245))]
pub fn dlms_mbus_frames<'py>(
    py: Python<'py>,
    apdu: &Bound<'py, PyAny>,
    address: u8,
    control: u8,
    stsap: u8,
    dtsap: u8,
    segment_size: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = frame_bytes(apdu)?;
    let out = mbus::encode_segments(&bytes, control, address, stsap, dtsap, segment_size).map_err(|e| stage_error(py, e))?;
    Ok(PyBytes::new(py, &out))
}
