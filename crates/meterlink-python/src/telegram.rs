//! `Telegram` and `Record` Python classes over the core's decoded telegram.
//!
//! A `Telegram` holds the Rust result behind an `Arc`; `Record` objects are created only when
//! asked for and share it. `to_dict()` builds the dict in one pass without intermediate objects.

use std::sync::Arc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use super::convert::{frame_bytes, hex_lower};
use super::convert::decode_options;
use super::keys::keys_arg;
use super::replay::CounterStore;
use super::to_pyerr;

/// Compact-frame formats learnt from full frames (EN 13757-3 compact frames, CI 79h/7Bh).
/// Pass the same cache to every `decode(..., formats=cache)` call of a stream.
#[pyclass(module = "meterlink._native", frozen)]
pub struct FormatCache {
    pub(crate) inner: meterlink::mbus::compact::FormatCache,
}

#[pymethods]
impl FormatCache {
    #[new]
    #[pyo3(signature = (capacity=4096))]
    fn new(capacity: usize) -> Self {
        FormatCache { inner: meterlink::mbus::compact::FormatCache::new(capacity) }
    }
    fn __len__(&self) -> usize {
        self.inner.len()
    }
    fn __repr__(&self) -> String {
        format!("<FormatCache {} formats>", self.inner.len())
    }
}
use meterlink::mbus::records::{self, Record as CoreRecord, RecordKind, Value};
use meterlink::mbus::decode::{self as core, DecryptedBy, FrameKind, LinkInfo};
use meterlink::mbus::tpl;

/// decode(frame, keys=None, link="auto", strict=False, tail="auto", formats=None, secondary_address=None, default_keys=True, accept_unprotected=False, counters=None)
///
/// `counters`: a `CounterStore`; a telegram verified with a key whose message counter is not
/// greater than the last one accepted for its meter raises `SecurityError` (`replayed_counter`),
/// otherwise its counter is recorded.
#[pyfunction]
#[pyo3(signature = (frame, keys=None, link="auto", strict=false, tail="auto", formats=None, secondary_address=None, default_keys=true, accept_unprotected=false, counters=None))]
#[allow(clippy::too_many_arguments)]
pub fn decode(
    py: Python<'_>,
    frame: &Bound<'_, PyAny>,
    keys: Option<&Bound<'_, PyAny>>,
    link: &str,
    strict: bool,
    tail: &str,
    formats: Option<&Bound<'_, FormatCache>>,
    secondary_address: Option<&Bound<'_, PyAny>>,
    default_keys: bool,
    accept_unprotected: bool,
    counters: Option<&Bound<'_, CounterStore>>,
) -> PyResult<Telegram> {
    let formats = formats.map(|f| &f.get().inner);
    let mut opts = decode_options(link, strict, tail)?;
    opts.default_keys = default_keys;
    opts.accept_unprotected = accept_unprotected;
    if let Some(obj) = secondary_address {
        let b = frame_bytes(obj)?;
        let wire: [u8; 8] = b.as_ref().try_into().map_err(|_| {
            pyo3::exceptions::PyValueError::new_err(format!(
                "secondary_address must be 8 bytes (ID, manufacturer, version, device type as on the wire), got {}",
                b.len()
            ))
        })?;
        opts.secondary_address = Some(tpl::Address::from_wire(wire));
    }
    let bytes = frame_bytes(frame)?;
    let keys = keys_arg(py, keys)?;
    let result = match counters {
        Some(store) => meterlink::replay::decode_checked(&bytes, &opts, keys.lookup(), formats, &store.get().inner),
        None => core::decode_full(&bytes, &opts, keys.lookup(), formats),
    };
    match result {
        Ok(tg) => Ok(Telegram { inner: Arc::new(tg) }),
        Err(e) => Err(to_pyerr(py, e)),
    }
}

#[pyclass(frozen, module = "meterlink._native")]
pub struct Telegram {
    pub(crate) inner: Arc<core::Telegram>,
}

fn number_to_py(py: Python<'_>, mantissa: i64, exponent: i8) -> PyResult<Py<PyAny>> {
    if exponent >= 0 {
        let scaled = 10i128.checked_pow(exponent as u32).and_then(|p| (mantissa as i128).checked_mul(p));
        return match scaled {
            Some(v) => Ok(v.into_pyobject(py)?.into_any().unbind()),
            None => Ok((mantissa as f64 * 10f64.powi(exponent as i32)).into_pyobject(py)?.into_any().unbind()),
        };
    }
    Ok(scaled_f64(mantissa, exponent).into_pyobject(py)?.into_any().unbind())
}

/// mantissa × 10^exponent as the nearest f64 (division by an exact power of ten).
fn scaled_f64(mantissa: i64, exponent: i8) -> f64 {
    if exponent >= 0 {
        mantissa as f64 * 10f64.powi(exponent as i32)
    } else {
        mantissa as f64 / 10f64.powi(-(exponent as i32))
    }
}

/// The Python value of a record: int (exponent ≥ 0) or float for numbers, ISO text for dates,
/// str for text, lowercase hex for raw bytes, None when absent or invalid.
fn value_to_py(py: Python<'_>, v: &Value, payload: &[u8]) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::None | Value::InvalidBcd(_) => py.None(),
        Value::Number { mantissa, exponent } => number_to_py(py, *mantissa, *exponent)?,
        Value::Real(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::DateTime(d) => match d.to_iso() {
            Some(s) => PyString::new(py, &s).into_any().unbind(),
            None => py.None(),
        },
        Value::Text(s) => PyString::new(py, s).into_any().unbind(),
        Value::Bytes(span) => PyString::new(py, &hex_lower(span.get(payload))).into_any().unbind(),
    })
}

/// A record's Python value: as [`value_to_py`], except that an LVAR "binary number" (EN 13757-3
/// Table 5, LVAR E0h..F6h) is an int (LSB first on the wire; MSB first for the 0x76 CIs).
fn record_value(py: Python<'_>, r: &CoreRecord, payload: &[u8], msb_first: bool) -> PyResult<Py<PyAny>> {
    if let Value::Bytes(span) = &r.value {
        if r.is_binary_number(payload) {
            let int = match core::binary_number(span.get(payload), msb_first) {
                Some(v) => v.into_pyobject(py)?.into_any(),
                // Wider than 64 bits: Python's int takes any width.
                None => {
                    let order = if msb_first { "big" } else { "little" };
                    let bytes = pyo3::types::PyBytes::new(py, span.get(payload));
                    py.get_type::<pyo3::types::PyInt>().call_method1(intern!(py, "from_bytes"), (bytes, order))?
                }
            };
            return number_scale(py, int.cast_into()?, r.vif.exponent);
        }
    }
    value_to_py(py, &r.value, payload)
}

/// int × 10^exponent: an int for exponent ≥ 0, else a float.
fn number_scale(py: Python<'_>, int: Bound<'_, PyAny>, exponent: i8) -> PyResult<Py<PyAny>> {
    if exponent == 0 {
        return Ok(int.unbind());
    }
    if exponent > 0 {
        return Ok(int.mul(10i64.pow(exponent as u32))?.unbind());
    }
    let f: f64 = int.extract()?;
    Ok((f / 10f64.powi(-(exponent as i32))).into_pyobject(py)?.into_any().unbind())
}

fn record_unit(r: &CoreRecord) -> Option<&str> {
    if let Some(t) = r.vif.plain_text_unit.as_deref() {
        return Some(t);
    }
    r.vif.unit.as_str()
}


fn function_str(py: Python<'_>, f: meterlink::mbus::records::Function) -> &Bound<'_, PyString> {
    use meterlink::mbus::records::Function::*;
    match f {
        Instantaneous => intern!(py, "instantaneous"),
        Maximum => intern!(py, "maximum"),
        Minimum => intern!(py, "minimum"),
        Error => intern!(py, "error"),
    }
}

fn record_dict<'py>(py: Python<'py>, r: &CoreRecord, payload: &[u8], msb_first: bool) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "value"), record_value(py, r, payload, msb_first)?)?;
    d.set_item(intern!(py, "unit"), record_unit(r))?;
    d.set_item(intern!(py, "quantity"), core::record_quantity(r))?;
    d.set_item(intern!(py, "storage"), r.storage)?;
    d.set_item(intern!(py, "tariff"), r.tariff)?;
    d.set_item(intern!(py, "subunit"), r.subunit)?;
    d.set_item(intern!(py, "function"), function_str(py, r.function))?;
    d.set_item(intern!(py, "dif"), hex_lower(r.dib.get(payload)))?;
    d.set_item(intern!(py, "vif"), hex_lower(r.vib.get(payload)))?;
    Ok(d)
}

fn msb_first(t: &core::Telegram) -> bool {
    t.ci_info().is_some_and(|i| i.msb_first)
}

impl Telegram {
    pub(crate) fn from_core(inner: Arc<core::Telegram>) -> Self {
        Telegram { inner }
    }

    fn manufacturer(&self) -> Option<String> {
        self.inner.address.filter(|_| self.inner.device_type_name_override.is_none()).map(|a| a.manufacturer_string())
    }
}

#[pymethods]
impl Telegram {
    /// Three-letter manufacturer code (None where the frame carries no identity).
    #[getter(manufacturer)]
    fn py_manufacturer(&self) -> Option<String> {
        self.manufacturer()
    }
    /// Identification number as printed (8 BCD digits; hex digits for a non-BCD ID).
    #[getter]
    fn id(&self) -> Option<String> {
        self.inner.address.map(|a| a.id_string())
    }
    #[getter]
    fn version(&self) -> Option<u8> {
        self.inner.address.filter(|_| self.inner.device_type_name_override.is_none()).map(|a| a.version)
    }
    #[getter]
    fn device_type(&self) -> Option<u8> {
        self.inner.address.map(|a| a.device_type)
    }
    #[getter]
    fn device_type_name(&self) -> Option<&'static str> {
        self.inner.device_type_name()
    }
    #[getter]
    fn access_number(&self) -> Option<u8> {
        self.inner.access_number()
    }
    #[getter]
    fn status(&self) -> Option<u8> {
        self.inner.status()
    }
    /// Configuration field (EN 13757-7 7.5.8), 0 without a TPL header.
    #[getter]
    fn configuration(&self) -> u16 {
        self.inner.header.config
    }
    #[getter]
    fn ci(&self) -> Option<u8> {
        self.inner.ci
    }
    /// What the CI field announces (EN 13757-7 Table 2).
    #[getter]
    fn ci_name(&self) -> Option<&'static str> {
        self.inner.ci_info().map(|i| i.name)
    }
    #[getter]
    fn header(&self) -> &'static str {
        match self.inner.header.kind {
            tpl::HeaderKind::None => "none",
            tpl::HeaderKind::Short => "short",
            tpl::HeaderKind::Long => "long",
        }
    }
    #[getter]
    fn encrypted(&self) -> bool {
        self.inner.protection.encrypted()
    }
    #[getter]
    fn decrypted(&self) -> bool {
        self.inner.protection.decrypted()
    }
    #[getter]
    fn security_mode(&self) -> Option<u8> {
        self.inner.protection.mode
    }
    #[getter]
    fn application_error(&self) -> Option<&str> {
        self.inner.application_error.as_deref()
    }
    /// "wired" (FT1.2) or "wireless" (EN 13757-4).
    #[getter]
    fn link_layer(&self) -> &'static str {
        match self.inner.link {
            LinkInfo::Wired { .. } => "wired",
            LinkInfo::Wireless { .. } => "wireless",
        }
    }
    /// Wired: "long frame", "control frame", "short frame", "single character".
    /// Wireless: "format A", "format B", "no CRC" (CRCs removed by the receiver).
    #[getter]
    fn frame_type(&self) -> &'static str {
        self.inner.link.frame_type()
    }
    /// The link-layer C field.
    #[getter]
    fn c_field(&self) -> u8 {
        match self.inner.link {
            LinkInfo::Wired { c, .. } | LinkInfo::Wireless { c, .. } => c,
        }
    }
    /// Name of the link-layer service (SND_NKE, REQ_UD2, RSP_UD, SND_NR, ...).
    #[getter]
    fn c_field_name(&self) -> &'static str {
        match self.inner.link {
            LinkInfo::Wired { kind: FrameKind::SingleCharacter, .. } => "ACK",
            LinkInfo::Wired { c, .. } => meterlink::mbus::link::wired::CField(c).name(),
            LinkInfo::Wireless { c, .. } => meterlink::mbus::link::wmbus::c_field_name(c).unwrap_or("unknown"),
        }
    }
    /// Wired primary address (A field); None for wireless frames (see `link_id`).
    #[getter]
    fn address(&self) -> Option<u8> {
        match self.inner.link {
            LinkInfo::Wired { kind: FrameKind::SingleCharacter, .. } => None,
            LinkInfo::Wired { a, .. } => Some(a),
            LinkInfo::Wireless { .. } => None,
        }
    }
    /// Wireless link-layer (transmitter) identity: ID and manufacturer. They differ from
    /// `id`/`manufacturer` when a long TPL header names another meter (repeaters, gateways).
    #[getter]
    fn link_id(&self) -> Option<String> {
        self.inner.link_address().map(|a| a.id_string())
    }
    #[getter]
    fn link_manufacturer(&self) -> Option<String> {
        self.inner.link_address().map(|a| a.manufacturer_string())
    }
    /// Bytes after the L-delimited wireless frame that were ignored (RSSI etc.).
    #[getter]
    fn trailing_bytes(&self) -> usize {
        match self.inner.link {
            LinkInfo::Wireless { trailing, .. } => trailing,
            LinkInfo::Wired { .. } => 0,
        }
    }
    /// "meterlink" (decrypted and verified with the key), "receiver" (forwarded already
    /// decrypted), or None.
    #[getter]
    fn decrypted_by(&self) -> Option<&'static str> {
        self.inner.protection.decrypted_by().map(DecryptedBy::as_str)
    }
    /// "verified" (FT1.2 checksum or format A/B CRCs checked) or "absent" (the frame came
    /// without DLL CRCs: nothing at the link layer was checked).
    #[getter]
    fn link_crc(&self) -> &'static str {
        self.inner.link_crc().as_str()
    }
    /// The check that protected the values: "mac" (AFL CMAC/GMAC), "aead" (GCM/CCM tag), "crc"
    /// (ELL payload CRC after AES-CTR), "filler_2f2f" (2F 2F after CBC), or "none".
    #[getter]
    fn integrity(&self) -> &'static str {
        self.inner.integrity().as_str()
    }
    /// Every counter the telegram carries: access_number, tpl_message_counter,
    /// afl_message_counter, afl_key_info, ell_session, dsmr_frame_counter (None when absent) and
    /// key_id.
    #[getter]
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.inner.counters();
        let d = PyDict::new(py);
        d.set_item("access_number", c.access_number)?;
        d.set_item("tpl_message_counter", c.tpl_message_counter)?;
        d.set_item("afl_message_counter", c.afl_message_counter)?;
        d.set_item("afl_key_info", c.afl_key_info)?;
        d.set_item("ell_session", c.ell_session)?;
        d.set_item("dsmr_frame_counter", c.dsmr_frame_counter)?;
        d.set_item("key_id", c.key_id)?;
        Ok(d)
    }
    /// The end of the application data that did not decode as records, as
    /// `{"offset": frame offset, "data": hex, "reason": text}`; None when everything decoded.
    #[getter]
    fn undecoded<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(u) = &self.inner.undecoded else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("offset", u.offset)?;
        d.set_item("data", hex_lower(&self.inner.payload[u.start.min(self.inner.payload.len())..]))?;
        d.set_item("reason", &u.reason)?;
        Ok(Some(d))
    }
    /// The status byte's bits (EN 13757-7 7.5.6) in words: the application status when not
    /// "no error", "power low", "permanent error", "temporary error", and manufacturer bits.
    #[getter]
    fn status_flags(&self) -> Vec<String> {
        let Some(st) = self.inner.status() else { return vec![] };
        let s = tpl::Status(st);
        let mut out = vec![];
        if st & 0x03 != 0 {
            out.push(s.application().to_string());
        }
        if s.power_low() {
            out.push("power low".into());
        }
        if s.permanent_error() {
            out.push("permanent error".into());
        }
        if s.temporary_error() {
            out.push("temporary error".into());
        }
        if s.manufacturer_bits() != 0 {
            out.push(format!("manufacturer bits 0x{:X}", s.manufacturer_bits()));
        }
        out
    }
    /// The configuration field and its extension split into their bits for the telegram's
    /// security mode (EN 13757-7 7.5.8, 7.7): None without a TPL header.
    #[getter]
    fn security_config<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        use meterlink::mbus::security::EncryptedLength as E;
        let Some(c) = &self.inner.protection.config else { return Ok(None) };
        let d = PyDict::new(py);
        d.set_item("raw", c.raw)?;
        d.set_item("mode", c.mode)?;
        let (kind, n): (&str, Option<u16>) = match c.encrypted {
            E::None => ("none", None),
            E::AesBlocks(n) => ("aes_blocks", Some(n.into())),
            E::DesBlocks(n) => ("des_units", Some(n.into())),
            E::Bytes(n) => ("bytes", Some(n.into())),
            E::ToEnd => ("to_end", None),
        };
        d.set_item("encrypted_length_kind", kind)?;
        d.set_item("encrypted_length", n)?;
        d.set_item("bidirectional", c.bidirectional)?;
        d.set_item("accessibility", c.accessibility)?;
        d.set_item("synchronous", c.synchronous)?;
        d.set_item("content", c.content)?;
        d.set_item("hop_count", c.hop_count)?;
        d.set_item("repeater_access", c.repeater_access)?;
        d.set_item("content_index", c.content_index)?;
        d.set_item("padding", c.padding)?;
        d.set_item("counter_present", c.counter_present)?;
        d.set_item("extension", (c.ext_len > 0).then_some(c.ext))?;
        d.set_item("key_id", c.key_id)?;
        d.set_item("kdf", c.kdf)?;
        d.set_item("key_version", c.key_version)?;
        d.set_item("message_counter", c.message_counter)?;
        d.set_item("tag_length", c.tag_len)?;
        Ok(Some(d))
    }
    /// For a compact frame expanded from the format cache: its format signature.
    #[getter]
    fn compact_signature(&self) -> Option<u16> {
        self.inner.compact_signature
    }
    /// The application data the records were decoded from (plaintext), as bytes.
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.inner.payload)
    }
    #[getter]
    fn records(&self) -> Vec<Record> {
        (0..self.inner.records.len()).map(|i| Record { tg: self.inner.clone(), index: i }).collect()
    }
    fn __len__(&self) -> usize {
        self.inner.records.len()
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = &*self.inner;
        let d = PyDict::new(py);
        d.set_item(intern!(py, "manufacturer"), self.manufacturer())?;
        d.set_item(intern!(py, "id"), self.id())?;
        d.set_item(intern!(py, "version"), self.version())?;
        d.set_item(intern!(py, "device_type"), self.device_type())?;
        d.set_item(intern!(py, "device_type_name"), t.device_type_name())?;
        d.set_item(intern!(py, "access_number"), t.access_number())?;
        d.set_item(intern!(py, "status"), t.status())?;
        d.set_item(intern!(py, "ci"), t.ci)?;
        d.set_item(intern!(py, "encrypted"), t.protection.encrypted())?;
        d.set_item(intern!(py, "decrypted"), t.protection.decrypted())?;
        d.set_item(intern!(py, "security_mode"), t.protection.mode)?;
        d.set_item(intern!(py, "application_error"), t.application_error.as_deref())?;
        d.set_item(intern!(py, "link_layer"), self.link_layer())?;
        d.set_item(intern!(py, "frame_type"), self.frame_type())?;
        d.set_item(intern!(py, "address"), self.address())?;
        d.set_item(intern!(py, "link_id"), self.link_id())?;
        d.set_item(intern!(py, "decrypted_by"), self.decrypted_by())?;
        d.set_item(intern!(py, "link_crc"), self.link_crc())?;
        d.set_item(intern!(py, "integrity"), self.integrity())?;
        d.set_item(intern!(py, "counters"), self.counters(py)?)?;
        d.set_item(intern!(py, "undecoded"), self.undecoded(py)?)?;
        let recs = PyList::empty(py);
        for r in &t.records {
            recs.append(record_dict(py, r, &t.payload, msb_first(t))?)?;
        }
        d.set_item(intern!(py, "records"), recs)?;
        Ok(d)
    }
    /// The `to_dict()` result as JSON text.
    #[pyo3(signature = (indent=None))]
    fn to_json(&self, py: Python<'_>, indent: Option<usize>) -> PyResult<String> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("ensure_ascii", false)?;
        kwargs.set_item("indent", indent)?;
        py.import("json")?.call_method("dumps", (self.to_dict(py)?,), Some(&kwargs))?.extract()
    }
    fn __repr__(&self) -> String {
        let t = &*self.inner;
        match t.address {
            Some(a) => format!(
                "<Telegram {} {} {} ci=0x{:02X} records={}{}>",
                self.manufacturer().unwrap_or_else(|| "-".into()),
                a.id_string(),
                t.device_type_name().unwrap_or("?"),
                t.ci.unwrap_or(0),
                t.records.len(),
                if t.is_opaque() { " encrypted" } else { "" }
            ),
            None => format!(
                "<Telegram {} ci={} records={}{}>",
                self.frame_type(),
                t.ci.map(|c| format!("0x{c:02X}")).unwrap_or_else(|| "-".into()),
                t.records.len(),
                t.application_error.as_deref().map(|e| format!(" error={e:?}")).unwrap_or_default()
            ),
        }
    }
}

#[pyclass(frozen, module = "meterlink._native")]
pub struct Record {
    tg: Arc<core::Telegram>,
    index: usize,
}

impl Record {
    fn r(&self) -> &CoreRecord {
        &self.tg.records[self.index]
    }
}

#[pymethods]
impl Record {
    /// Scaled value: int (non-negative exponent) or float for numbers, ISO text for dates and
    /// times, str for text, lowercase hex for raw bytes, None when absent or invalid.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        record_value(py, self.r(), &self.tg.payload, msb_first(&self.tg))
    }
    /// Exact value as `decimal.Decimal` (numbers only, else None).
    #[getter]
    fn decimal(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.r().value {
            Value::Number { mantissa, exponent } => {
                let dec = py.import("decimal")?.getattr("Decimal")?;
                Ok(dec.call1((format!("{mantissa}E{exponent}"),))?.unbind())
            }
            Value::Real(f) => {
                let dec = py.import("decimal")?.getattr("Decimal")?;
                Ok(dec.call1((f.to_string(),))?.unbind())
            }
            _ => Ok(py.None()),
        }
    }
    /// (mantissa, exponent) of an integer/BCD value: value = mantissa × 10**exponent.
    #[getter]
    fn exact(&self) -> Option<(i64, i8)> {
        match self.r().value {
            Value::Number { mantissa, exponent } => Some((mantissa, exponent)),
            _ => None,
        }
    }
    /// "number", "real", "datetime", "text", "bytes", "invalid" or "none".
    #[getter]
    fn value_type(&self) -> &'static str {
        match self.r().value {
            Value::None => "none",
            Value::Number { .. } => "number",
            Value::Real(_) => "real",
            Value::DateTime(_) => "datetime",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::InvalidBcd(_) => "invalid",
        }
    }
    #[getter]
    fn unit(&self) -> Option<&str> {
        record_unit(self.r())
    }
    #[getter]
    fn quantity(&self) -> &'static str {
        core::record_quantity(self.r())
    }
    /// VIFE modifiers in words ("per hour", "lower limit value", ...).
    #[getter]
    fn extensions(&self) -> Vec<&'static str> {
        self.r().vif.extensions().collect()
    }
    #[getter]
    fn exponent(&self) -> i8 {
        self.r().vif.exponent
    }
    #[getter]
    fn storage(&self) -> u64 {
        self.r().storage
    }
    #[getter]
    fn tariff(&self) -> u32 {
        self.r().tariff
    }
    #[getter]
    fn subunit(&self) -> u16 {
        self.r().subunit
    }
    #[getter]
    fn function(&self) -> &'static str {
        self.r().function.as_str()
    }
    /// "data", "manufacturer", "manufacturer_more_follow" or "global_readout".
    #[getter]
    fn kind(&self) -> &'static str {
        match self.r().kind {
            RecordKind::Data => "data",
            RecordKind::ManufacturerData { more_records_follow: false } => "manufacturer",
            RecordKind::ManufacturerData { more_records_follow: true } => "manufacturer_more_follow",
            RecordKind::GlobalReadout => "global_readout",
        }
    }
    /// DIF + DIFEs, hex.
    #[getter]
    fn dif(&self) -> String {
        hex_lower(self.r().dib.get(&self.tg.payload))
    }
    /// VIF + VIFEs, hex.
    #[getter]
    fn vif(&self) -> String {
        hex_lower(self.r().vib.get(&self.tg.payload))
    }
    /// The data field as transmitted, hex.
    #[getter]
    fn raw(&self) -> String {
        hex_lower(self.r().data.get(&self.tg.payload))
    }
    #[getter]
    fn description(&self) -> String {
        records::describe(self.r(), &self.tg.payload)
    }
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        record_dict(py, self.r(), &self.tg.payload, msb_first(&self.tg))
    }
    fn __repr__(&self) -> String {
        format!("<Record {}>", records::describe(self.r(), &self.tg.payload))
    }
}
