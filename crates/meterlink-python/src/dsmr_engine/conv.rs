//! The engines' values as plain Python values (dicts of ints, str, lists: JSON-able) and back.
//! Bytes are lower-case hex text, keys too; Short IDs are `"NET-23456789-42-03"` text; times
//! are Unix milliseconds (engine clocks) or seconds (command and data time stamps, as the core).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::fields::{argument, bytes_of, items, Fields};
use crate::convert::hex_lower;
use meterlink::dlms::{ObisRow, RowValue};
use meterlink::dsmr::app::{Command, DeviceValues, P2Data, Reading, ReadingKind};
use meterlink::dsmr::control::{Medium, MessageKind};
use meterlink::dsmr::engine::{Event, Mode};
use meterlink::dsmr::DsmrError;

/// `"wired"` / `"wireless"`.
pub(crate) fn medium_name(m: Medium) -> &'static str {
    match m {
        Medium::Wired => "wired",
        Medium::Wireless => "wireless",
    }
}

/// The inverse of [`medium_name`].
pub(crate) fn medium_of(py: Python<'_>, s: &str) -> PyResult<Medium> {
    match s {
        "wired" => Ok(Medium::Wired),
        "wireless" => Ok(Medium::Wireless),
        _ => Err(argument(py, format!("medium must be \"wired\" or \"wireless\", not {s:?}"))),
    }
}

/// `"storage"` / `"installation"` / `"customer"` (§8.2).
pub(crate) fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Storage => "storage",
        Mode::Installation => "installation",
        Mode::Customer => "customer",
    }
}

/// The inverse of [`mode_name`].
pub(crate) fn mode_of(py: Python<'_>, s: &str) -> PyResult<Mode> {
    match s {
        "storage" => Ok(Mode::Storage),
        "installation" => Ok(Mode::Installation),
        "customer" => Ok(Mode::Customer),
        _ => Err(argument(py, format!("mode must be \"storage\", \"installation\" or \"customer\", not {s:?}"))),
    }
}

/// The §4.3/§4.4 message a reading came in, snake_case.
pub(crate) fn message_kind_name(k: MessageKind) -> &'static str {
    match k {
        MessageKind::Normalisation => "normalisation",
        MessageKind::DataRequest => "data_request",
        MessageKind::MeterData => "meter_data",
        MessageKind::PeriodicData => "periodic_data",
        MessageKind::Control => "control",
        MessageKind::ClockSync => "clock_sync",
        MessageKind::Unencrypted => "unencrypted",
        MessageKind::Ack => "ack",
        MessageKind::Installation => "installation",
        MessageKind::InstallConfirm => "install_confirm",
        MessageKind::ClassOneRequest => "class_one_request",
        MessageKind::StatusRequest => "status_request",
        MessageKind::StatusResponse => "status_response",
    }
}

const READING_KINDS: [(ReadingKind, &str); 7] = [
    (ReadingKind::GasConverted, "gas_converted"),
    (ReadingKind::GasUnconverted, "gas_unconverted"),
    (ReadingKind::Heat, "heat"),
    (ReadingKind::Cold, "cold"),
    (ReadingKind::ThermalVolume, "thermal_volume"),
    (ReadingKind::Water, "water"),
    (ReadingKind::Electricity, "electricity"),
];

/// The units a §6.4 reading can carry (the core keeps them as `&'static str`).
const UNITS: [&str; 6] = ["m3", "GJ", "Wh", "kWh", "MWh", "MJ"];

fn reading_kind_name(k: ReadingKind) -> &'static str {
    READING_KINDS.iter().find(|(x, _)| *x == k).map_or("other", |(_, n)| n)
}

/// One reading: kind, raw, scaler, unit, storage, vib (hex) and the scaled `value`.
pub(crate) fn reading_dict<'py>(py: Python<'py>, r: &Reading) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", reading_kind_name(r.kind))?;
    d.set_item("raw", r.raw)?;
    d.set_item("scaler", r.scaler)?;
    d.set_item("unit", r.unit)?;
    d.set_item("storage", r.storage)?;
    d.set_item("vib", hex_lower(&r.vib))?;
    d.set_item("value", r.raw as f64 * 10f64.powi(i32::from(r.scaler)))?;
    Ok(d)
}

/// A reading from its dict (`value` is ignored: `raw` and `scaler` are the truth).
pub(crate) fn reading_of(f: &Fields<'_>) -> PyResult<Reading> {
    let py = f.any("kind")?.py();
    let kind = f.str("kind")?;
    let kind = READING_KINDS.iter().find(|(_, n)| *n == kind).map(|(k, _)| *k);
    let kind = kind.ok_or_else(|| argument(py, "reading kind must be one of gas_converted, gas_unconverted, heat, cold, thermal_volume, water, electricity".into()))?;
    let unit = f.str("unit")?;
    let unit = UNITS.iter().find(|u| **u == unit).ok_or_else(|| argument(py, format!("reading unit must be one of {UNITS:?}")))?;
    Ok(Reading { kind, raw: f.int("raw")?, scaler: f.int("scaler")?, unit, storage: f.int_or("storage", 1)?, vib: f.bytes("vib")? })
}

fn readings_list<'py>(py: Python<'py>, rs: &[Reading]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, rs.iter().map(|r| reading_dict(py, r)).collect::<PyResult<Vec<_>>>()?)
}

fn readings_of(f: &Fields<'_>, key: &str) -> PyResult<Vec<Reading>> {
    f.list(key)?.iter().map(|r| reading_of(&Fields::of(r, key)?)).collect()
}

/// `[[vife, text], ...]` (lists, not tuples: the same after a JSON round trip).
fn versions_list<'py>(py: Python<'py>, v: &[(u8, String)]) -> PyResult<Bound<'py, PyList>> {
    let pairs = v.iter().map(|(k, t)| PyList::new(py, [k.into_pyobject(py)?.into_any(), t.into_pyobject(py)?.into_any()]));
    PyList::new(py, pairs.collect::<PyResult<Vec<_>>>()?)
}

fn versions_of(f: &Fields<'_>) -> PyResult<Vec<(u8, String)>> {
    let mut out = Vec::new();
    for v in f.list("versions")? {
        let pair = items(&v).filter(|p| p.len() == 2);
        let parsed = pair.and_then(|p| Some((p[0].extract::<u8>().ok()?, p[1].extract::<String>().ok()?)));
        out.push(parsed.ok_or_else(|| argument(v.py(), "versions are [vife, text] pairs".into()))?);
    }
    Ok(out)
}

/// [`DeviceValues`] as a dict.
pub(crate) fn values_dict<'py>(py: Python<'py>, v: &DeviceValues) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("device_type", v.device_type)?;
    d.set_item("equipment_id", &v.equipment_id)?;
    d.set_item("status", v.status)?;
    d.set_item("config_mask", v.config_mask)?;
    d.set_item("timestamp", v.timestamp)?;
    d.set_item("readings", readings_list(py, &v.readings)?)?;
    d.set_item("versions", versions_list(py, &v.versions)?)?;
    d.set_item("valve", v.valve)?;
    Ok(d)
}

/// [`DeviceValues`] from a dict; missing entries take `default`'s.
pub(crate) fn values_of(f: &Fields<'_>, default: u8) -> PyResult<DeviceValues> {
    Ok(DeviceValues {
        device_type: f.int_or("device_type", default)?,
        equipment_id: f.opt_str("equipment_id")?.unwrap_or_default(),
        status: f.int_or("status", 0)?,
        config_mask: f.int_or("config_mask", 0)?,
        timestamp: f.int_or("timestamp", 0)?,
        readings: readings_of(f, "readings")?,
        versions: versions_of(f)?,
        valve: f.opt_int("valve")?,
    })
}

/// [`P2Data`]: the named §6.4 blocks of a reading.
pub(crate) fn p2data_dict<'py>(py: Python<'py>, p: &P2Data) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("equipment_id", p.equipment_id.as_deref())?;
    d.set_item("status", p.status)?;
    d.set_item("config_mask", p.config_mask)?;
    d.set_item("timestamp", p.timestamp)?;
    d.set_item("timestamp_summer", p.timestamp_summer)?;
    d.set_item("readings", readings_list(py, &p.readings)?)?;
    d.set_item("versions", versions_list(py, &p.versions)?)?;
    d.set_item("valve", p.valve)?;
    d.set_item("other", p.other.iter().map(|(a, b)| vec![a.as_str(), b.as_str()]).collect::<Vec<_>>())?;
    Ok(d)
}

/// A command (§6.2, §6.3.1, §6.5.1): `{"name": ..., "value": ...}`.
pub(crate) fn command_dict<'py>(py: Python<'py>, c: &Command) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match c {
        Command::SetTime(t) => (d.set_item("name", "set_time")?, d.set_item("value", t)?),
        Command::SetAddress(a) => (d.set_item("name", "set_address")?, d.set_item("value", a)?),
        Command::ClearStatus(m) => (d.set_item("name", "clear_status")?, d.set_item("value", m)?),
        Command::SetKey(w) => (d.set_item("name", "set_key")?, d.set_item("value", hex_lower(w))?),
        Command::SelectReadout(v) => {
            let vibs: Vec<String> = v.iter().map(|b| hex_lower(b)).collect();
            (d.set_item("name", "select_readout")?, d.set_item("value", vibs)?)
        }
    };
    Ok(d)
}

/// A rejection's error: code, message, offset.
fn error_into(d: &Bound<'_, PyDict>, e: &DsmrError) -> PyResult<()> {
    d.set_item("code", e.code())?;
    d.set_item("message", e.to_string())?;
    d.set_item("offset", e.offset())
}

/// An [`Event`] as `{"kind": ..., fields...}`.
pub(crate) fn event_dict<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let kind = match e {
        Event::DeviceFound { short_id, primary_address } => {
            d.set_item("short_id", short_id.to_string())?;
            d.set_item("primary_address", primary_address)?;
            "device_found"
        }
        Event::Bound { channel, short_id } => {
            d.set_item("channel", channel)?;
            d.set_item("short_id", short_id.to_string())?;
            "bound"
        }
        Event::AddressSet { channel, address } => {
            d.set_item("channel", channel)?;
            d.set_item("address", address)?;
            "address_set"
        }
        Event::KeySet { channel } => (d.set_item("channel", channel)?, "key_set").1,
        Event::ClockSet { channel, time, deviation } => {
            d.set_item("channel", channel)?;
            d.set_item("time", time)?;
            d.set_item("deviation", deviation)?;
            "clock_set"
        }
        Event::CommandDone { channel, command } | Event::CommandFailed { channel, command } => {
            d.set_item("channel", channel)?;
            d.set_item("command", command_dict(py, command)?)?;
            if matches!(e, Event::CommandDone { .. }) { "command_done" } else { "command_failed" }
        }
        Event::ReadoutReset { channel } => (d.set_item("channel", channel)?, "readout_reset").1,
        Event::Reading { channel, kind, frame_counter, data } => {
            d.set_item("channel", channel)?;
            d.set_item("message_kind", message_kind_name(*kind))?;
            d.set_item("frame_counter", frame_counter)?;
            d.set_item("data", data.as_ref().map(|p| p2data_dict(py, p)).transpose()?)?;
            "reading"
        }
        Event::Rejected { medium, error } => {
            d.set_item("medium", medium_name(*medium))?;
            error_into(&d, error)?;
            "rejected"
        }
        Event::Mode { channel, mode } => {
            d.set_item("channel", channel)?;
            d.set_item("mode", mode_name(*mode))?;
            "mode"
        }
        Event::Fac { active } => (d.set_item("active", active)?, "fac").1,
    };
    d.set_item("kind", kind)?;
    Ok(d)
}

/// An OBIS row as the DLMS family gives it to Python (`obis`, `value`, `scaler`, `unit`, `name`).
pub(crate) fn obis_row_dict<'py>(py: Python<'py>, r: &ObisRow) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("obis", r.obis.map(|o| o.to_string()))?;
    match &r.value {
        RowValue::None => d.set_item("value", py.None())?,
        RowValue::Int(i) => d.set_item("value", i)?,
        RowValue::Float(f) => d.set_item("value", f)?,
        RowValue::Text(t) => d.set_item("value", t)?,
        RowValue::Bytes(b) => d.set_item("value", hex_lower(b))?,
    }
    d.set_item("scaler", r.scaler)?;
    d.set_item("unit", r.unit.as_deref())?;
    d.set_item("name", r.name)?;
    Ok(d)
}

/// A list of VIBs (hex text or bytes each).
pub(crate) fn vibs_of(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<u8>>> {
    let bad = || argument(py, "a readout selection is a list of VIBs (hex str or bytes each, e.g. \"fd0d\")".into());
    let list = items(v).ok_or_else(bad)?;
    list.iter().map(|x| bytes_of(x).filter(|b| !b.is_empty()).ok_or_else(bad)).collect()
}

/// VIBs as hex text.
pub(crate) fn vibs_list(v: &[Vec<u8>]) -> Vec<String> {
    v.iter().map(|b| hex_lower(b)).collect()
}
