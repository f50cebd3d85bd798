//! The engines' configurations and persistable states as JSON-able dicts, and back (issue 14
//! §5 "serialisable state"): `from_state(state()).state() == state()`. Keys are in clear.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::conv::{medium_name, medium_of, mode_name, mode_of, reading_dict, reading_of, values_dict, values_of, vibs_list, vibs_of};
use super::fields::{argument, Fields};
use crate::convert::hex_lower;
use meterlink::dsmr::engine::{
    Awaiting, ChannelState, DeviceConfig, DeviceState, EMeterConfig, EMeterState, FacState, Pending, Task,
};
use meterlink::dsmr::p3::{ChannelView, ClientSetup};

/// [`DeviceConfig`] as a dict.
pub(crate) fn device_config_dict<'py>(py: Python<'py>, c: &DeviceConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("medium", medium_name(c.medium))?;
    d.set_item("short_id", c.short_id.to_string())?;
    d.set_item("default_key", hex_lower(&c.default_key))?;
    d.set_item("fac_delay_s", c.fac_delay_s)?;
    d.set_item("response_window_ms", c.response_window_ms)?;
    d.set_item("schedule_offset_s", c.schedule_offset_s)?;
    Ok(d)
}

/// [`DeviceConfig`] from a dict (missing timings take [`DeviceConfig::new`]'s defaults).
pub(crate) fn device_config_of(f: &Fields<'_>) -> PyResult<DeviceConfig> {
    let py = f.any("medium")?.py();
    let base = DeviceConfig::new(medium_of(py, &f.str("medium")?)?, f.short_id("short_id")?, f.key("default_key")?);
    let fac_delay_s: u8 = f.int_or("fac_delay_s", base.fac_delay_s)?;
    if !(2..=5).contains(&fac_delay_s) {
        return Err(argument(py, format!("fac_delay_s must be 2, 3, 4 or 5 (§4.4), not {fac_delay_s}")));
    }
    Ok(DeviceConfig {
        fac_delay_s,
        response_window_ms: f.int_or("response_window_ms", base.response_window_ms)?,
        schedule_offset_s: f.opt_int("schedule_offset_s")?,
        ..base
    })
}

fn fac_dict<'py>(py: Python<'py>, f: &FacState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("pending", f.pending.as_deref().map(hex_lower))?;
    d.set_item("idle", f.idle)?;
    d.set_item("heard", f.heard)?;
    Ok(d)
}

/// [`DeviceState`] as a dict.
pub(crate) fn device_state_dict<'py>(py: Python<'py>, s: &DeviceState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mode", mode_name(s.mode))?;
    d.set_item("user_key", s.user_key.as_ref().map(|k| hex_lower(k)))?;
    d.set_item("primary_address", s.primary_address)?;
    d.set_item("frame_counter", s.frame_counter)?;
    d.set_item("access_number", s.access_number)?;
    d.set_item("clock_offset", s.clock_offset)?;
    d.set_item("values", values_dict(py, &s.values)?)?;
    d.set_item("selection", s.selection.as_deref().map(vibs_list))?;
    d.set_item("install_since", s.install_since)?;
    d.set_item("next_tx", s.next_tx)?;
    d.set_item("listen_until", s.listen_until)?;
    d.set_item("fac", s.fac.as_ref().map(|f| fac_dict(py, f)).transpose()?)?;
    d.set_item("key_history", s.key_history.iter().map(|k| hex_lower(k)).collect::<Vec<_>>())?;
    Ok(d)
}

/// [`DeviceState`] from a dict.
pub(crate) fn device_state_of(f: &Fields<'_>, device_type: u8) -> PyResult<DeviceState> {
    let py = f.any("mode")?.py();
    let selection = f.opt_any("selection")?.map(|v| vibs_of(py, &v)).transpose()?;
    let fac = match f.opt_dict("fac")? {
        None => None,
        Some(x) => Some(FacState { pending: x.opt_bytes("pending")?, idle: x.int("idle")?, heard: x.bool("heard")? }),
    };
    Ok(DeviceState {
        mode: mode_of(py, &f.str("mode")?)?,
        user_key: f.opt_key("user_key")?,
        primary_address: f.int("primary_address")?,
        frame_counter: f.int("frame_counter")?,
        access_number: f.int("access_number")?,
        clock_offset: f.int("clock_offset")?,
        values: values_of(&f.dict("values")?, device_type)?,
        selection,
        install_since: f.opt_int("install_since")?,
        next_tx: f.opt_int("next_tx")?,
        listen_until: f.opt_int("listen_until")?,
        fac,
        key_history: keys_of(f, "key_history")?,
    })
}

fn keys_of(f: &Fields<'_>, key: &str) -> PyResult<Vec<[u8; 16]>> {
    let bad = |v: &Bound<'_, PyAny>| argument(v.py(), format!("{key} holds 16-byte keys (hex)"));
    f.list(key)?.iter().map(|v| super::fields::bytes_of(v).and_then(|b| <[u8; 16]>::try_from(b).ok()).ok_or_else(|| bad(v))).collect()
}

/// [`EMeterConfig`] as a dict.
pub(crate) fn emeter_config_dict<'py>(py: Python<'py>, c: &EMeterConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("response_timeout_ms", c.response_timeout_ms)?;
    d.set_item("retries", c.retries)?;
    d.set_item("poll_interval_ms", c.poll_interval_ms)?;
    d.set_item("auto_administer", c.auto_administer)?;
    d.set_item("admin_readout", vibs_list(&c.admin_readout))?;
    Ok(d)
}

/// [`EMeterConfig`] from a dict (missing entries take the defaults).
pub(crate) fn emeter_config_of(f: &Fields<'_>) -> PyResult<EMeterConfig> {
    let base = EMeterConfig::default();
    let admin_readout = match f.opt_any("admin_readout")? {
        Some(v) => vibs_of(v.py(), &v)?,
        None => base.admin_readout.clone(),
    };
    let auto_administer = if f.opt_any("auto_administer")?.is_some() { f.bool("auto_administer")? } else { base.auto_administer };
    let poll_interval_ms: i64 = f.int_or("poll_interval_ms", base.poll_interval_ms)?;
    if poll_interval_ms <= 0 {
        return Err(argument(f.any("poll_interval_ms")?.py(), "poll_interval_ms must be positive".into()));
    }
    Ok(EMeterConfig {
        response_timeout_ms: f.int_or("response_timeout_ms", base.response_timeout_ms)?,
        retries: f.int_or("retries", base.retries)?,
        poll_interval_ms,
        auto_administer,
        admin_readout,
    })
}

/// A [`Task`] as `{"task": name, ...}`.
pub(crate) fn task_dict<'py>(py: Python<'py>, t: &Task) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let name = match t {
        Task::Key { user, wrapped } => {
            d.set_item("user", hex_lower(user))?;
            d.set_item("wrapped", hex_lower(wrapped))?;
            "key"
        }
        Task::Clock => "clock",
        Task::Readout(v) => (d.set_item("vibs", vibs_list(v))?, "readout").1,
        Task::ResetReadout => "reset_readout",
        Task::ClearStatus(m) => (d.set_item("mask", m)?, "clear_status").1,
        Task::Request => "request",
        Task::Address(a) => (d.set_item("address", a)?, "address").1,
    };
    d.set_item("task", name)?;
    Ok(d)
}

/// A [`Task`] from its dict.
pub(crate) fn task_of(f: &Fields<'_>) -> PyResult<Task> {
    let name = f.str("task")?;
    Ok(match name.as_str() {
        "key" => Task::Key { user: f.key("user")?, wrapped: f.key("wrapped")? },
        "clock" => Task::Clock,
        "readout" => Task::Readout(vibs_of(f.any("vibs")?.py(), &f.any("vibs")?)?),
        "reset_readout" => Task::ResetReadout,
        "clear_status" => Task::ClearStatus(f.int("mask")?),
        "request" => Task::Request,
        "address" => Task::Address(f.int("address")?),
        _ => return Err(argument(f.any("task")?.py(), format!("unknown task {name:?}"))),
    })
}

/// An [`Awaiting`] as `{"awaiting": name, ...}`.
fn awaiting_dict<'py>(py: Python<'py>, a: &Awaiting) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let name = match a {
        Awaiting::Nothing => "nothing",
        Awaiting::Ack { task, acc, tries, time } => {
            d.set_item("task", task_dict(py, task)?)?;
            d.set_item("acc", acc)?;
            d.set_item("tries", tries)?;
            d.set_item("time", time)?;
            "ack"
        }
        Awaiting::Data { tries } => (d.set_item("tries", tries)?, "data").1,
        Awaiting::ScanNke => "scan_nke",
        Awaiting::ScanData { address } => (d.set_item("address", address)?, "scan_data").1,
        Awaiting::ScanAddress { address, short_id } => {
            d.set_item("address", address)?;
            d.set_item("short_id", short_id.to_string())?;
            "scan_address"
        }
    };
    d.set_item("awaiting", name)?;
    Ok(d)
}

fn awaiting_of(f: &Fields<'_>) -> PyResult<Awaiting> {
    let name = f.str("awaiting")?;
    Ok(match name.as_str() {
        "nothing" => Awaiting::Nothing,
        "ack" => Awaiting::Ack { task: task_of(&f.dict("task")?)?, acc: f.int("acc")?, tries: f.int("tries")?, time: f.int("time")? },
        "data" => Awaiting::Data { tries: f.int("tries")? },
        "scan_nke" => Awaiting::ScanNke,
        "scan_data" => Awaiting::ScanData { address: f.int("address")? },
        "scan_address" => Awaiting::ScanAddress { address: f.int("address")?, short_id: f.short_id("short_id")? },
        _ => return Err(argument(f.any("awaiting")?.py(), format!("unknown awaiting {name:?}"))),
    })
}

const SETUP_FIELDS: [&str; 7] =
    ["primary_address", "identification_number", "manufacturer_id", "version", "device_type", "access_number", "status"];

fn setup_values(c: &ClientSetup) -> [u32; 7] {
    [
        c.primary_address.into(),
        c.identification_number,
        c.manufacturer_id.into(),
        c.version.into(),
        c.device_type.into(),
        c.access_number.into(),
        c.status.into(),
    ]
}

/// A [`ChannelView`]'s raw content (the P3 object values, not their rendering).
pub(crate) fn view_dict<'py>(py: Python<'py>, v: &ChannelView) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let setup = PyDict::new(py);
    for (k, x) in SETUP_FIELDS.iter().zip(setup_values(&v.client_setup)) {
        setup.set_item(k, x)?;
    }
    d.set_item("channel", v.channel)?;
    d.set_item("client_setup", setup)?;
    d.set_item("equipment_id", v.equipment_id.as_deref())?;
    let last = match &v.last {
        Some((r, t)) => {
            let l = PyDict::new(py);
            l.set_item("reading", reading_dict(py, r)?)?;
            l.set_item("time", t)?;
            Some(l)
        }
        None => None,
    };
    d.set_item("last", last)?;
    d.set_item("config_mask", v.config_mask)?;
    d.set_item("summer_time", v.summer_time)?;
    d.set_item("readings", PyList::new(py, v.readings.iter().map(|r| reading_dict(py, r)).collect::<PyResult<Vec<_>>>()?)?)?;
    Ok(d)
}

fn view_of(f: &Fields<'_>) -> PyResult<ChannelView> {
    let s = f.dict("client_setup")?;
    let client_setup = ClientSetup {
        primary_address: s.int("primary_address")?,
        identification_number: s.int("identification_number")?,
        manufacturer_id: s.int("manufacturer_id")?,
        version: s.int("version")?,
        device_type: s.int("device_type")?,
        access_number: s.int("access_number")?,
        status: s.int("status")?,
    };
    let last = match f.opt_dict("last")? {
        Some(l) => Some((reading_of(&l.dict("reading")?)?, l.int("time")?)),
        None => None,
    };
    let summer_time = if f.opt_any("summer_time")?.is_some() { Some(f.bool("summer_time")?) } else { None };
    let readings = f.list("readings")?.iter().map(|r| reading_of(&Fields::of(r, "readings")?)).collect::<PyResult<_>>()?;
    Ok(ChannelView {
        channel: f.int("channel")?,
        client_setup,
        equipment_id: f.opt_str("equipment_id")?,
        last,
        config_mask: f.opt_int("config_mask")?,
        summer_time,
        readings,
    })
}

/// A [`ChannelState`] as a dict (raw view; key in clear).
pub(crate) fn channel_dict<'py>(py: Python<'py>, c: &ChannelState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("channel", c.channel)?;
    d.set_item("medium", medium_name(c.medium))?;
    d.set_item("short_id", c.short_id.to_string())?;
    d.set_item("primary_address", c.primary_address)?;
    d.set_item("bound", c.bound)?;
    d.set_item("user_key", c.user_key.as_ref().map(|k| hex_lower(k)))?;
    d.set_item("counter", c.counter)?;
    d.set_item("tasks", PyList::new(py, c.tasks.iter().map(|t| task_dict(py, t)).collect::<PyResult<Vec<_>>>()?)?)?;
    d.set_item("fac", c.fac.as_ref().map(|a| awaiting_dict(py, a)).transpose()?)?;
    d.set_item("readout_changed", c.readout_changed)?;
    let unconfirmed = match &c.unconfirmed_key {
        Some((before, task)) => {
            let u = PyDict::new(py);
            u.set_item("key_before", before.as_ref().map(|k| hex_lower(k)))?;
            u.set_item("task", task_dict(py, task)?)?;
            Some(u)
        }
        None => None,
    };
    d.set_item("unconfirmed_key", unconfirmed)?;
    d.set_item("sync_tried", c.sync_tried)?;
    d.set_item("view", view_dict(py, &c.view)?)?;
    d.set_item("last_seen", c.last_seen)?;
    Ok(d)
}

fn channel_of(f: &Fields<'_>) -> PyResult<ChannelState> {
    let py = f.any("medium")?.py();
    let tasks = f.list("tasks")?.iter().map(|t| task_of(&Fields::of(t, "tasks")?)).collect::<PyResult<_>>()?;
    Ok(ChannelState {
        channel: f.int("channel")?,
        medium: medium_of(py, &f.str("medium")?)?,
        short_id: f.short_id("short_id")?,
        primary_address: f.int("primary_address")?,
        bound: f.bool("bound")?,
        user_key: f.opt_key("user_key")?,
        counter: f.opt_int("counter")?,
        tasks,
        fac: f.opt_dict("fac")?.map(|a| awaiting_of(&a)).transpose()?,
        readout_changed: f.bool("readout_changed")?,
        unconfirmed_key: match f.opt_dict("unconfirmed_key")? {
            Some(u) => Some((u.opt_key("key_before")?, task_of(&u.dict("task")?)?)),
            None => None,
        },
        sync_tried: f.bool("sync_tried")?,
        view: view_of(&f.dict("view")?)?,
        last_seen: f.opt_int("last_seen")?,
    })
}

/// [`EMeterState`] as a dict.
pub(crate) fn emeter_state_dict<'py>(py: Python<'py>, s: &EMeterState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("channels", PyList::new(py, s.channels.iter().map(|c| channel_dict(py, c)).collect::<PyResult<Vec<_>>>()?)?)?;
    d.set_item("access_number", s.access_number)?;
    d.set_item("install_until", s.install_until)?;
    d.set_item("detected", s.detected.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    d.set_item("scan", s.scan.iter().map(|&a| u16::from(a)).collect::<Vec<u16>>())?;
    d.set_item("next_scan", s.next_scan)?;
    d.set_item("next_poll", s.next_poll)?;
    let wired = match &s.wired {
        Some(p) => {
            let w = PyDict::new(py);
            w.set_item("channel", p.channel)?;
            w.set_item("awaiting", awaiting_dict(py, &p.awaiting)?)?;
            w.set_item("deadline", p.deadline)?;
            w.set_item("frame", hex_lower(&p.frame))?;
            Some(w)
        }
        None => None,
    };
    d.set_item("wired", wired)?;
    Ok(d)
}

/// [`EMeterState`] from a dict.
pub(crate) fn emeter_state_of(f: &Fields<'_>) -> PyResult<EMeterState> {
    let channels = f.list("channels")?.iter().map(|c| channel_of(&Fields::of(c, "channels")?)).collect::<PyResult<_>>()?;
    let detected = f.list("detected")?.iter().map(super::fields::short_id_of).collect::<PyResult<_>>()?;
    let scan = f.list("scan")?.iter().map(|a| a.extract::<u8>()).collect::<PyResult<_>>()?;
    let wired = match f.opt_dict("wired")? {
        Some(w) => Some(Pending {
            channel: w.int("channel")?,
            awaiting: awaiting_of(&w.dict("awaiting")?)?,
            deadline: w.int("deadline")?,
            frame: w.bytes("frame")?,
        }),
        None => None,
    };
    Ok(EMeterState {
        channels,
        access_number: f.int("access_number")?,
        install_until: f.opt_int("install_until")?,
        detected,
        scan,
        next_scan: f.opt_int("next_scan")?,
        next_poll: f.opt_int("next_poll")?,
        wired,
    })
}
