//! `meterlink.dlms` bindings: `dlms_decode`, `dlms_decode_data` and the `DlmsMessage` class.
//! Conversion only: the pipeline is `meterlink::dlms::decode`.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use meterlink::dlms::apdu::Apdu;
use meterlink::dlms::axdr::{self, Data};
use meterlink::dlms::decode::{self as pipeline, DecodeOptions, Framing, Keys, Message};
use meterlink::dlms::hdlc::HdlcAddress;
use meterlink::dlms::security::DlmsKeys;
use meterlink::dlms::{ObisRow, RowValue};

use super::convert::{frame_bytes, hex_lower};
use super::replay::CounterStore;
use super::{raise, to_pyerr, ARGUMENT_CODE};

/// One server's keys as the Python layer normalises them: (system title or None for "every
/// server", EK, AK or None, and optionally (broadcast EK, dedicated key, KEK)).
pub(crate) type KeyTuple = (Option<Vec<u8>>, Vec<u8>, Option<Vec<u8>>, Option<ExtraKeys>);

/// The broadcast encryption key, the dedicated key and the key-encryption key, each optional.
pub(crate) type ExtraKeys = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

pub(crate) fn keys_arg(py: Python<'_>, keys: Option<Vec<KeyTuple>>) -> PyResult<Keys> {
    let Some(keys) = keys else { return Ok(Keys::None) };
    let mut by_title = Vec::with_capacity(keys.len());
    for (title, ek, ak, extra) in keys {
        let mut k = DlmsKeys::new(ek, ak);
        if let Some((broadcast_ek, dedicated_key, kek)) = extra {
            (k.broadcast_ek, k.dedicated_key, k.kek) = (broadcast_ek, dedicated_key, kek);
        }
        match title {
            None if by_title.is_empty() => return Ok(Keys::Every(k)),
            None => return Err(raise(py, None, "keys: one entry for every server, or entries by system title".into(), None, ARGUMENT_CODE)),
            Some(t) => {
                let t: [u8; 8] = t.as_slice().try_into().map_err(|_| {
                    raise(py, None, format!("keys: a system title is 8 bytes, got {}", t.len()), None, ARGUMENT_CODE)
                })?;
                by_title.push((t, k));
            }
        }
    }
    Ok(Keys::ByTitle(by_title))
}

/// A key value: bytes-like, or hex text.
fn key_value(py: Python<'_>, v: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<Vec<u8>>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Ok(s) = v.cast::<pyo3::types::PyString>() {
        return meterlink::hex::parse_hex(&s.to_cow()?)
            .map(Some)
            .map_err(|_| raise(py, None, format!("{what} must be hex text or bytes"), None, ARGUMENT_CODE));
    }
    if let Ok(b) = v.cast::<pyo3::types::PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(b) = v.cast::<pyo3::types::PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    Err(raise(py, None, format!("{what} must be hex text or bytes, not {}", v.get_type().name()?), None, ARGUMENT_CODE))
}

const SERVER_KEYS: [&str; 5] = ["ek", "ak", "broadcast_ek", "dedicated_key", "kek"];

/// One server's keys from `{"ek": ..., "ak": ..., "broadcast_ek"?, "dedicated_key"?, "kek"?}`.
fn server_keys(py: Python<'_>, d: &Bound<'_, PyDict>, at: &str) -> PyResult<DlmsKeys> {
    let bad = || {
        let m = format!("keys{at}: expected {{'ek': key, 'ak': key or None}} (optional: broadcast_ek, dedicated_key, kek)");
        raise(py, None, m, None, ARGUMENT_CODE)
    };
    let mut v: [Option<Vec<u8>>; 5] = Default::default();
    for (k, val) in d.iter() {
        let k = k.cast::<pyo3::types::PyString>().map_err(|_| bad())?.to_cow()?.into_owned();
        let i = SERVER_KEYS.iter().position(|n| *n == k).ok_or_else(bad)?;
        v[i] = key_value(py, &val, &format!("keys{at}[{k:?}]"))?;
    }
    let [ek, ak, broadcast_ek, dedicated_key, kek] = v;
    let ek = ek.ok_or_else(|| raise(py, None, format!("keys{at}['ek'] is required"), None, ARGUMENT_CODE))?;
    Ok(DlmsKeys { broadcast_ek, dedicated_key, kek, ..DlmsKeys::new(ek, ak) })
}

/// The documented key forms given as a `dict`, parsed here (the Python layer passes other
/// mappings normalised): `{"ek": ..., "ak": ...}` for every server, or system title (16 hex
/// digits) → such a dict.
pub(crate) fn keys_from_dict(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Keys> {
    if d.contains("ek")? {
        return Ok(Keys::Every(server_keys(py, d, "")?));
    }
    let mut by_title = Vec::with_capacity(d.len());
    for (title, entry) in d.iter() {
        let t = title.cast::<pyo3::types::PyString>().ok().and_then(|s| meterlink::hex::parse_hex(&s.to_cow().ok()?).ok());
        let t: [u8; 8] = t
            .and_then(|t| t.try_into().ok())
            .ok_or_else(|| raise(py, None, "keys: system titles are 16 hex digits".into(), None, ARGUMENT_CODE))?;
        let entry = entry.cast::<PyDict>().map_err(|_| {
            raise(py, None, format!("keys[{title}] must be a mapping {{'ek': ..., 'ak': ...}}"), None, ARGUMENT_CODE)
        })?;
        by_title.push((t, server_keys(py, entry, &format!("[{title}]"))?));
    }
    Ok(Keys::ByTitle(by_title))
}

/// The `keys=` argument of the DLMS entry points: None; a dict in the documented forms; a
/// `KeyStore` (its DLMS servers by system title); or the Python layer's normalised list.
pub(crate) fn keys_any(py: Python<'_>, keys: Option<&Bound<'_, PyAny>>) -> PyResult<Keys> {
    let Some(k) = keys else { return Ok(Keys::None) };
    if let Ok(d) = k.cast::<PyDict>() {
        return keys_from_dict(py, d);
    }
    if let Ok(store) = k.cast::<super::keys::KeyStore>() {
        return Ok(Keys::ByTitle(store.get().inner.dlms_entries().to_vec()));
    }
    keys_arg(py, Some(k.extract::<Vec<KeyTuple>>()?))
}

/// dlms_decode(data, keys=None, framing="auto", strict=False, counters=None)
///
/// `keys`: None, or a list of `(system_title | None, ek, ak | None)` (the Python layer builds
/// it from the documented forms).
#[pyfunction]
#[pyo3(signature = (data, keys=None, framing="auto", strict=false, counters=None))]
pub fn dlms_decode(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    keys: Option<&Bound<'_, PyAny>>,
    framing: &str,
    strict: bool,
    counters: Option<&Bound<'_, CounterStore>>,
) -> PyResult<DlmsMessage> {
    let Some(framing) = Framing::from_name(framing) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "framing must be 'auto', 'hdlc', 'wrapper', 'mbus', 'p1' or 'apdu', not {framing:?}"
        )));
    };
    let keys = keys_any(py, keys)?;
    let counters = counters.map(|c| &c.get().inner);
    let text;
    let bytes: &[u8] = match data.cast::<pyo3::types::PyString>() {
        // A clear P1 telegram may be given as its text.
        Ok(s) if s.to_cow()?.starts_with('/') => {
            text = s.to_cow()?.into_owned();
            text.as_bytes()
        }
        _ => return decode_bytes(py, &frame_bytes(data)?, &keys, framing, strict, counters),
    };
    decode_bytes(py, bytes, &keys, framing, strict, counters)
}

fn decode_bytes(
    py: Python<'_>,
    data: &[u8],
    keys: &Keys,
    framing: Framing,
    strict: bool,
    counters: Option<&meterlink::replay::CounterStore>,
) -> PyResult<DlmsMessage> {
    let opts = DecodeOptions { framing, strict };
    let msg = py
        .detach(|| match counters {
            Some(store) => meterlink::replay::dlms_decode_checked(data, keys, &opts, store),
            None => pipeline::decode(data, keys, &opts),
        })
        .map_err(|e| to_pyerr(py, e))?;
    Ok(DlmsMessage { inner: msg })
}

/// dlms_decode_data(data) -> dict: one A-XDR Data item as its tree; the whole input must be
/// that item.
#[pyfunction]
pub fn dlms_decode_data<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let bytes = frame_bytes(data)?;
    let value = axdr::decode_data_exact(&bytes).map_err(|e| to_pyerr(py, pipeline::dlms_error(e.into(), 0)))?;
    data_tree(py, &value)
}

/// A decoded DLMS/COSEM message.
#[pyclass(frozen, module = "meterlink._native")]
pub struct DlmsMessage {
    inner: Message,
}

#[pymethods]
impl DlmsMessage {
    /// The framing it came in.
    #[getter]
    fn framing(&self) -> &'static str {
        self.inner.framing.name()
    }

    /// The outer APDU's ASN.1 name.
    #[getter]
    fn apdu_type(&self) -> Option<&'static str> {
        self.inner.apdu.as_ref().map(Apdu::type_name)
    }

    /// The deciphered APDU's ASN.1 name.
    #[getter]
    fn plaintext_apdu_type(&self) -> Option<&'static str> {
        self.inner.inner.as_ref().map(Apdu::type_name)
    }

    /// Whether a ciphered APDU was deciphered.
    #[getter]
    fn decrypted(&self) -> bool {
        self.inner.decrypted()
    }

    /// The deciphered plaintext.
    #[getter]
    fn plaintext_apdu(&self) -> Option<&[u8]> {
        self.inner.plaintext.as_deref()
    }

    /// The invoke-id of the APDU that carries the data.
    #[getter]
    fn invoke_id(&self) -> Option<u32> {
        self.inner.data_apdu().and_then(Apdu::invoke_id)
    }

    /// `"high"` or `"normal"`.
    #[getter]
    fn priority(&self) -> Option<&'static str> {
        self.inner.data_apdu().and_then(Apdu::priority_high).map(|h| if h { "high" } else { "normal" })
    }

    /// `"confirmed"` or `"unconfirmed"`.
    #[getter]
    fn service_class(&self) -> Option<&'static str> {
        self.inner.data_apdu().and_then(Apdu::confirmed).map(|c| if c { "confirmed" } else { "unconfirmed" })
    }

    /// The APDU's date-time as ISO 8601 text.
    #[getter]
    fn datetime(&self) -> Option<String> {
        self.inner.data_apdu().and_then(Apdu::datetime).and_then(|d| d.to_iso())
    }

    /// The decrypted (or clear) P1 text telegram.
    #[getter]
    fn p1_telegram(&self) -> Option<&str> {
        self.inner.p1_telegram.as_deref()
    }

    /// The A-XDR tree of the APDU's main value.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.data_apdu().and_then(Apdu::value).map(|v| data_tree(py, v)).transpose()
    }

    /// The security header of a ciphered APDU.
    #[getter]
    fn security<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(c) = self.inner.ciphered() else { return Ok(None) };
        let d = PyDict::new(py);
        let sc = c.security_control;
        d.set_item(intern!(py, "security_control"), sc.0)?;
        d.set_item(intern!(py, "suite"), sc.suite())?;
        d.set_item(intern!(py, "authenticated"), sc.authenticated())?;
        d.set_item(intern!(py, "encrypted"), sc.encrypted())?;
        d.set_item(intern!(py, "key_set"), if sc.broadcast() { "broadcast" } else { "unicast" })?;
        d.set_item(intern!(py, "system_title"), c.system_title.map(|t| hex_lower(&t)))?;
        d.set_item(intern!(py, "invocation_counter"), c.invocation_counter)?;
        Ok(Some(d))
    }

    /// OBIS rows of a push or P1 telegram.
    #[getter]
    fn obis_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.rows.iter().map(|r| row_dict(py, r)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, rows)
    }

    /// The HDLC frame's addresses, control field and segmentation bit.
    #[getter]
    fn hdlc<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(h) = &self.inner.hdlc else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item(intern!(py, "destination"), address(py, &h.destination)?)?;
        d.set_item(intern!(py, "source"), address(py, &h.source)?)?;
        d.set_item(intern!(py, "control"), h.control)?;
        d.set_item(intern!(py, "segmented"), h.segmented)?;
        Ok(Some(d))
    }

    /// The wrapper header.
    #[getter]
    fn wrapper<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(w) = &self.inner.wrapper else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item(intern!(py, "version"), w.version)?;
        d.set_item(intern!(py, "source_wport"), w.source_wport)?;
        d.set_item(intern!(py, "destination_wport"), w.destination_wport)?;
        d.set_item(intern!(py, "length"), w.length)?;
        Ok(Some(d))
    }

    /// The full tree of the outer APDU (`meterlink.dlms.encode` builds it back).
    fn apdu_tree<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.apdu.as_ref().map(|a| super::dlms_encode::apdu_to_py(py, a)).transpose()
    }

    /// The full tree of the deciphered APDU.
    fn plaintext_tree<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner.inner.as_ref().map(|a| super::dlms_encode::apdu_to_py(py, a)).transpose()
    }

    /// Everything above as one JSON-serialisable dict (issue 13 §4).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item(intern!(py, "framing"), self.framing())?;
        d.set_item(intern!(py, "apdu_type"), self.apdu_type())?;
        d.set_item(intern!(py, "plaintext_apdu_type"), self.plaintext_apdu_type())?;
        d.set_item(intern!(py, "security"), self.security(py)?)?;
        d.set_item(intern!(py, "decrypted"), self.decrypted())?;
        d.set_item(intern!(py, "plaintext_apdu"), self.inner.plaintext.as_deref().map(hex_lower))?;
        d.set_item(intern!(py, "invoke_id"), self.invoke_id())?;
        d.set_item(intern!(py, "priority"), self.priority())?;
        d.set_item(intern!(py, "service_class"), self.service_class())?;
        d.set_item(intern!(py, "datetime"), self.datetime())?;
        d.set_item(intern!(py, "value"), self.value(py)?)?;
        d.set_item(intern!(py, "obis_values"), self.obis_values(py)?)?;
        d.set_item(intern!(py, "p1_telegram"), self.p1_telegram())?;
        d.set_item(intern!(py, "hdlc"), self.hdlc(py)?)?;
        d.set_item(intern!(py, "wrapper"), self.wrapper(py)?)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let t = self.inner.inner.as_ref().or(self.inner.apdu.as_ref()).map_or("none", Apdu::type_name);
        format!("<DlmsMessage {} {} rows={}>", self.framing(), t, self.inner.rows.len())
    }
}

fn address<'py>(py: Python<'py>, a: &HdlcAddress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "upper"), a.upper)?;
    d.set_item(intern!(py, "lower"), a.lower)?;
    Ok(d)
}

fn row_dict<'py>(py: Python<'py>, r: &ObisRow) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "obis"), r.obis.map(|o| o.to_string()))?;
    match &r.value {
        RowValue::None => d.set_item(intern!(py, "value"), py.None())?,
        RowValue::Int(i) => d.set_item(intern!(py, "value"), i)?,
        RowValue::Float(f) => d.set_item(intern!(py, "value"), f)?,
        RowValue::Text(t) => d.set_item(intern!(py, "value"), t)?,
        RowValue::Bytes(b) => d.set_item(intern!(py, "value"), hex_lower(b))?,
    }
    d.set_item(intern!(py, "scaler"), r.scaler)?;
    d.set_item(intern!(py, "unit"), r.unit.as_deref())?;
    d.set_item(intern!(py, "name"), r.name)?;
    Ok(d)
}

/// The contract's A-XDR tree: `{"type": name, "value": ...}`.
pub(crate) fn data_tree<'py>(py: Python<'py>, v: &Data) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "type"), v.type_name())?;
    d.set_item(intern!(py, "value"), data_value(py, v)?)?;
    Ok(d.into_any())
}

fn data_list<'py>(py: Python<'py>, items: &[Data]) -> PyResult<Bound<'py, PyAny>> {
    let items = items.iter().map(|i| data_tree(py, i)).collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
}

fn data_value<'py>(py: Python<'py>, v: &Data) -> PyResult<Bound<'py, PyAny>> {
    let o = match v {
        Data::NullData | Data::DontCare => py.None().into_bound(py),
        Data::Array(items) | Data::Structure(items) => return data_list(py, items),
        Data::CompactArray { values, .. } => return data_list(py, values),
        Data::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Data::BitString { bytes, .. } | Data::OctetString(bytes) => hex_lower(bytes).into_pyobject(py)?.into_any(),
        Data::VisibleString(b) => b.iter().map(|&c| char::from(c)).collect::<String>().into_pyobject(py)?.into_any(),
        Data::Utf8String(b) => String::from_utf8_lossy(b).into_pyobject(py)?.into_any(),
        Data::DoubleLong(i) => i.into_pyobject(py)?.into_any(),
        Data::DoubleLongUnsigned(i) => i.into_pyobject(py)?.into_any(),
        Data::Bcd(i) | Data::Unsigned(i) | Data::Enum(i) => i.into_pyobject(py)?.into_any(),
        Data::Integer(i) => i.into_pyobject(py)?.into_any(),
        Data::Long(i) => i.into_pyobject(py)?.into_any(),
        Data::LongUnsigned(i) => i.into_pyobject(py)?.into_any(),
        Data::Long64(i) => i.into_pyobject(py)?.into_any(),
        Data::Long64Unsigned(i) => i.into_pyobject(py)?.into_any(),
        Data::Float32(f) => f64::from(*f).into_pyobject(py)?.into_any(),
        Data::Float64(f) => f.into_pyobject(py)?.into_any(),
        Data::DateTime(t) => t.to_iso().into_pyobject(py)?.into_any(),
        Data::Date(t) => t.to_iso().into_pyobject(py)?.into_any(),
        Data::Time(t) => t.to_iso().into_pyobject(py)?.into_any(),
    };
    Ok(o)
}
