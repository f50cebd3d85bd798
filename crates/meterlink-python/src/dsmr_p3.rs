//! DSMR P2 → P3 (Appendix A) for Python: `dsmr_p3_view` (one telegram's view of an E-meter
//! channel as OBIS rows and P1 lines) and `dsmr_parse_data` (the §6.4 blocks of clear
//! application data). Errors go through the one conversion ([`to_pyerr`]).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use meterlink::dlms::RowValue;
use meterlink::dsmr::app::{self, P2Data, Reading};
use meterlink::dsmr::p3::{self, ChannelView};
use meterlink::address::manufacturer_to_str;

use super::convert::{frame_bytes, hex_lower};
use super::keys::KeyStore;
use super::{raise, to_pyerr, ARGUMENT_CODE};

/// One channel's P3 view (see `meterlink.dsmr.p3_view`).
#[pyclass(frozen, module = "meterlink._native")]
pub struct DsmrP3View {
    pub(crate) inner: ChannelView,
}

fn reading_kind(r: &Reading) -> &'static str {
    use app::ReadingKind as K;
    match r.kind {
        K::GasConverted => "gas_converted",
        K::GasUnconverted => "gas_unconverted",
        K::Heat => "heat",
        K::Cold => "cold",
        K::ThermalVolume => "thermal_volume",
        K::Water => "water",
        K::Electricity => "electricity",
    }
}

fn reading_dict<'py>(py: Python<'py>, r: &Reading) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item(intern!(py, "kind"), reading_kind(r))?;
    d.set_item(intern!(py, "raw"), r.raw)?;
    d.set_item(intern!(py, "scaler"), r.scaler)?;
    d.set_item(intern!(py, "unit"), r.unit)?;
    d.set_item(intern!(py, "storage"), r.storage)?;
    d.set_item(intern!(py, "vib"), hex_lower(&r.vib))?;
    Ok(d)
}

fn readings<'py>(py: Python<'py>, rs: &[Reading]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, rs.iter().map(|r| reading_dict(py, r)).collect::<PyResult<Vec<_>>>()?)
}

#[pymethods]
impl DsmrP3View {
    #[getter]
    fn channel(&self) -> u8 {
        self.inner.channel
    }
    #[getter]
    fn primary_address(&self) -> u8 {
        self.inner.client_setup.primary_address
    }
    #[getter]
    fn identification_number(&self) -> u32 {
        self.inner.client_setup.identification_number
    }
    #[getter]
    fn manufacturer_id(&self) -> u16 {
        self.inner.client_setup.manufacturer_id
    }
    #[getter]
    fn manufacturer(&self) -> String {
        String::from_utf8_lossy(&manufacturer_to_str(self.inner.client_setup.manufacturer_id)).into_owned()
    }
    #[getter]
    fn version(&self) -> u8 {
        self.inner.client_setup.version
    }
    #[getter]
    fn device_type(&self) -> u8 {
        self.inner.client_setup.device_type
    }
    #[getter]
    fn access_number(&self) -> u8 {
        self.inner.client_setup.access_number
    }
    #[getter]
    fn status(&self) -> u8 {
        self.inner.client_setup.status
    }
    #[getter]
    fn equipment_id(&self) -> Option<&str> {
        self.inner.equipment_id.as_deref()
    }
    #[getter]
    fn config_mask(&self) -> Option<u8> {
        self.inner.config_mask
    }
    #[getter]
    fn summer_time(&self) -> Option<bool> {
        self.inner.summer_time
    }
    /// Capture time of the last value, Unix seconds UTC.
    #[getter]
    fn capture_time(&self) -> Option<i64> {
        self.inner.last.as_ref().map(|(_, t)| *t)
    }
    /// The last value (scaled) as a dict, or None.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.last.as_ref().map(|(r, _)| reading_dict(py, r)).transpose()
    }
    #[getter]
    fn readings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        readings(py, &self.inner.readings)
    }
    /// OBIS rows as dicts: obis, value, scaler, unit, name (as meterlink.dlms), class_id, attribute.
    #[getter]
    fn obis_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.attribute_rows();
        let mut out = Vec::with_capacity(rows.len());
        for a in &rows {
            let d = PyDict::new(py);
            let r = &a.row;
            d.set_item(intern!(py, "obis"), r.obis.map(|o| o.to_string()))?;
            match &r.value {
                RowValue::Int(i) => d.set_item(intern!(py, "value"), i)?,
                RowValue::Float(f) => d.set_item(intern!(py, "value"), f)?,
                RowValue::Text(t) => d.set_item(intern!(py, "value"), t)?,
                RowValue::Bytes(b) => d.set_item(intern!(py, "value"), hex_lower(b))?,
                RowValue::None => d.set_item(intern!(py, "value"), py.None())?,
            }
            d.set_item(intern!(py, "scaler"), r.scaler)?;
            d.set_item(intern!(py, "unit"), r.unit.as_deref())?;
            d.set_item(intern!(py, "name"), r.name)?;
            d.set_item(intern!(py, "class_id"), a.class_id)?;
            d.set_item(intern!(py, "attribute"), a.attribute)?;
            out.push(d);
        }
        PyList::new(py, out)
    }
    /// The view as DSMR P1 text lines.
    fn p1_lines(&self) -> Vec<String> {
        self.inner.p1_lines()
    }
    fn __repr__(&self) -> String {
        let c = &self.inner.client_setup;
        format!("<DsmrP3View channel={} id={:08} type={:02X}h lines={}>", self.inner.channel, c.identification_number, c.device_type, self.inner.p1_lines().len())
    }
}

fn key16(py: Python<'_>, k: &Bound<'_, PyAny>) -> PyResult<[u8; 16]> {
    let b = frame_bytes(k)?;
    b.as_ref().try_into().map_err(|_| raise(py, None, format!("key must be 16 bytes, got {}", b.len()), None, ARGUMENT_CODE))
}

/// dsmr_p3_view(telegram, channel=1, key=None, iv_version=None) -> DsmrP3View.
/// `key`: 16 bytes (or hex), or a KeyStore looked up by the telegram's Short ID.
#[pyfunction]
#[pyo3(signature = (telegram, channel=1, key=None, iv_version=None))]
pub fn dsmr_p3_view(
    py: Python<'_>,
    telegram: &Bound<'_, PyAny>,
    channel: u8,
    key: Option<&Bound<'_, PyAny>>,
    iv_version: Option<u8>,
) -> PyResult<DsmrP3View> {
    let frame = frame_bytes(telegram)?;
    let r = match key {
        Some(k) if k.is_instance_of::<KeyStore>() => {
            let store = k.cast::<KeyStore>()?.get();
            py.detach(|| p3::p3_view_with_keys(&frame, channel, &store.inner, iv_version))
        }
        Some(k) => {
            let k = key16(py, k)?;
            p3::p3_view_with_iv(&frame, channel, Some(&k), iv_version)
        }
        None => p3::p3_view_with_iv(&frame, channel, None, iv_version),
    };
    r.map(|inner| DsmrP3View { inner }).map_err(|e| to_pyerr(py, e.into()))
}

fn data_dict<'py>(py: Python<'py>, d: &P2Data) -> PyResult<Bound<'py, PyDict>> {
    let o = PyDict::new(py);
    o.set_item(intern!(py, "equipment_id"), d.equipment_id.as_deref())?;
    o.set_item(intern!(py, "status"), d.status)?;
    o.set_item(intern!(py, "config_mask"), d.config_mask)?;
    o.set_item(intern!(py, "timestamp"), d.timestamp)?;
    o.set_item(intern!(py, "timestamp_summer"), d.timestamp_summer)?;
    o.set_item(intern!(py, "readings"), readings(py, &d.readings)?)?;
    o.set_item(intern!(py, "versions"), d.versions.iter().map(|(v, t)| (*v, t.as_str())).collect::<Vec<_>>())?;
    o.set_item(intern!(py, "valve"), d.valve)?;
    o.set_item(intern!(py, "other"), d.other.clone())?;
    Ok(o)
}

/// dsmr_parse_data(device_type, data) -> dict: the §6.4 blocks of clear application data.
#[pyfunction]
pub fn dsmr_parse_data<'py>(py: Python<'py>, device_type: u8, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let b = frame_bytes(data)?;
    let d = app::parse_data(device_type, &b).map_err(|e| to_pyerr(py, e.into()))?;
    data_dict(py, &d)
}
