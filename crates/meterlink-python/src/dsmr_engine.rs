//! The DSMR P2 sans-IO engines for Python (issue 14 §5): `DsmrMBusDevice` and `DsmrEMeter`
//! wrap the core's [`MBusDevice`] and [`EMeter`]; `meterlink.dsmr.MBusDevice` / `EMeter`
//! (python/meterlink/dsmr/_engine.py) give them their typed Python API. Conversion only: every
//! protocol decision is the core's. Events, configurations and states cross as JSON-able dicts
//! (dsmr_engine/conv.rs, dsmr_engine/state.rs); engine errors map through [`to_pyerr`].

mod conv;
mod fields;
mod state;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use super::convert::frame_bytes;
use super::to_pyerr;
use conv::{event_dict, medium_name, medium_of, mode_name, obis_row_dict, values_dict, values_of, vibs_of};
use fields::{key_of, short_id_of, Fields};
use meterlink::dsmr::engine::{ChannelState, EMeter, MBusDevice, Millis, Task};
use meterlink::dsmr::mode15;
use meterlink::dsmr::DsmrError;

fn engine_err(py: Python<'_>, e: DsmrError) -> PyErr {
    to_pyerr(py, e.into())
}

/// An M-Bus device engine (G/thermal/water/slave-E meter), wired or wireless.
#[pyclass(module = "meterlink._native")]
pub struct DsmrMBusDevice {
    inner: MBusDevice,
}

#[pymethods]
impl DsmrMBusDevice {
    /// `config`: medium, short_id, default_key (+ fac_delay_s, response_window_ms,
    /// schedule_offset_s); `values`: the DeviceValues dict.
    #[new]
    #[pyo3(signature = (config, mode, values, user_key=None, primary_address=0, access_number=0))]
    fn new(
        config: &Bound<'_, PyAny>,
        mode: &str,
        values: &Bound<'_, PyAny>,
        user_key: Option<&Bound<'_, PyAny>>,
        primary_address: u8,
        access_number: u8,
    ) -> PyResult<Self> {
        let py = config.py();
        let cfg = state::device_config_of(&Fields::of(config, "config")?)?;
        let values = values_of(&Fields::of(values, "values")?, cfg.short_id.0.device_type)?;
        let user_key = user_key.filter(|k| !k.is_none()).map(|k| key_of(k, "user_key")).transpose()?;
        let mode = conv::mode_of(py, mode)?;
        Ok(DsmrMBusDevice { inner: MBusDevice::new(cfg, mode, values, user_key, primary_address, access_number) })
    }

    /// Resume from `config()` and `state()` dicts.
    #[staticmethod]
    fn from_state(config: &Bound<'_, PyAny>, state: &Bound<'_, PyAny>) -> PyResult<Self> {
        let cfg = state::device_config_of(&Fields::of(config, "config")?)?;
        let st = state::device_state_of(&Fields::of(state, "state")?, cfg.short_id.0.device_type)?;
        Ok(DsmrMBusDevice { inner: MBusDevice::from_state(cfg, st) })
    }

    /// The configuration as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state::device_config_dict(py, self.inner.config())
    }

    /// The state as a JSON-able dict (user key in clear).
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state::device_state_dict(py, self.inner.state())
    }

    /// The values it reports.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        values_dict(py, &self.inner.state().values)
    }

    /// Replace the values it reports.
    fn set_values(&mut self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let dt = self.inner.config().short_id.0.device_type;
        *self.inner.values_mut() = values_of(&Fields::of(values, "values")?, dt)?;
        Ok(())
    }

    /// `"storage"`, `"installation"` or `"customer"`.
    fn mode(&self) -> &'static str {
        mode_name(self.inner.state().mode)
    }

    /// Bytes received from the E-meter at `now` (Unix ms).
    fn handle_received(&mut self, now: Millis, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let b = frame_bytes(data)?;
        self.inner.handle_received(now, &b);
        Ok(())
    }

    /// Time passed.
    fn handle_timeout(&mut self, now: Millis) {
        self.inner.handle_timeout(now);
    }

    /// The next bytes to send.
    fn poll_transmit<'py>(&mut self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.poll_transmit().map(|b| PyBytes::new(py, &b))
    }

    /// The next event as a dict.
    fn poll_event<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.poll_event().map(|e| event_dict(py, &e)).transpose()
    }

    /// When `handle_timeout` is due.
    fn poll_timeout(&self) -> Option<Millis> {
        self.inner.poll_timeout()
    }

    /// The installer's push button (§8.2, §8.4.2.2).
    fn press_button(&mut self, now: Millis) {
        self.inner.press_button(now);
    }

    /// Wireless, customer mode: start the hourly SND_NR schedule.
    fn start(&mut self, now: Millis) {
        self.inner.start(now);
    }

    /// The device clock reads `device_now` when the caller's reads `now`.
    fn set_clock(&mut self, now: Millis, device_now: Millis) {
        self.inner.set_clock(now, device_now);
    }

    /// The device's own time at `now`.
    fn device_time(&self, now: Millis) -> Millis {
        self.inner.device_time(now)
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!("<DsmrMBusDevice {} {} {}>", c.short_id, medium_name(c.medium), mode_name(self.inner.state().mode))
    }
}

/// The E-meter engine (the P2 master of up to four channels).
#[pyclass(module = "meterlink._native")]
pub struct DsmrEMeter {
    inner: EMeter,
}

fn task_arg(py: Python<'_>, task: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Task> {
    let int = |what: &str| -> PyResult<u8> {
        value.and_then(|v| v.extract::<u8>().ok()).ok_or_else(|| fields::argument(py, format!("{what} must be an int 0..255")))
    };
    Ok(match task {
        "clock" => Task::Clock,
        "readout" => Task::Readout(vibs_of(py, value.ok_or_else(|| fields::argument(py, "readout needs VIBs".into()))?)?),
        "reset_readout" => Task::ResetReadout,
        "clear_status" => Task::ClearStatus(int("mask")?),
        "request" => Task::Request,
        "address" => Task::Address(int("address")?),
        _ => return Err(fields::argument(py, format!("unknown command {task:?}"))),
    })
}

/// A channel's dict with its P3 view rendered (`view.obis_values`, `view.p1_lines`).
fn channel_view<'py>(py: Python<'py>, c: &ChannelState) -> PyResult<Bound<'py, PyDict>> {
    let d = state::channel_dict(py, c)?;
    let view = state::view_dict(py, &c.view)?;
    let rows = c.view.obis_rows().iter().map(|r| obis_row_dict(py, r)).collect::<PyResult<Vec<_>>>()?;
    view.set_item("obis_values", PyList::new(py, rows)?)?;
    view.set_item("p1_lines", c.view.p1_lines())?;
    d.set_item("view", view)?;
    d.set_item("p3", Bound::new(py, super::dsmr_p3::DsmrP3View { inner: c.view.clone() })?)?;
    Ok(d)
}

#[pymethods]
impl DsmrEMeter {
    /// `config`: response_timeout_ms, retries, poll_interval_ms, auto_administer, admin_readout
    /// (each optional).
    #[new]
    #[pyo3(signature = (config, access_number=0))]
    fn new(config: &Bound<'_, PyAny>, access_number: u8) -> PyResult<Self> {
        let cfg = state::emeter_config_of(&Fields::of(config, "config")?)?;
        Ok(DsmrEMeter { inner: EMeter::new(cfg, access_number) })
    }

    /// Resume from `config()` and `state()` dicts.
    #[staticmethod]
    fn from_state(py: Python<'_>, config: &Bound<'_, PyAny>, state: &Bound<'_, PyAny>) -> PyResult<Self> {
        let cfg = state::emeter_config_of(&Fields::of(config, "config")?)?;
        let st = state::emeter_state_of(&Fields::of(state, "state")?)?;
        Ok(DsmrEMeter { inner: EMeter::from_state(cfg, st).map_err(|e| engine_err(py, e))? })
    }

    /// The configuration as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state::emeter_config_dict(py, self.inner.config())
    }

    /// The state as a JSON-able dict (user keys in clear).
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        state::emeter_state_dict(py, &self.inner.state())
    }

    /// Bytes received on `medium` at `now`.
    fn handle_received(&mut self, py: Python<'_>, now: Millis, medium: &str, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let m = medium_of(py, medium)?;
        let b = frame_bytes(data)?;
        self.inner.handle_received(now, m, &b);
        Ok(())
    }

    /// Time passed.
    fn handle_timeout(&mut self, now: Millis) {
        self.inner.handle_timeout(now);
    }

    /// The next (medium, bytes) to send.
    fn poll_transmit<'py>(&mut self, py: Python<'py>) -> Option<(&'static str, Bound<'py, PyBytes>)> {
        self.inner.poll_transmit().map(|(m, b)| (medium_name(m), PyBytes::new(py, &b)))
    }

    /// The next event as a dict.
    fn poll_event<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.poll_event().map(|e| event_dict(py, &e)).transpose()
    }

    /// When `handle_timeout` is due.
    fn poll_timeout(&self) -> Option<Millis> {
        self.inner.poll_timeout()
    }

    /// §8.1: cover removed: installation mode, wired scan.
    fn cover_opened(&mut self, now: Millis) {
        self.inner.cover_opened(now);
    }

    /// §8.1: cover back: installation mode ends.
    fn cover_closed(&mut self, now: Millis) {
        self.inner.cover_closed(now);
    }

    /// §8.3.1.2: one scan cycle.
    fn slave_install(&mut self, now: Millis) {
        self.inner.slave_install(now);
    }

    /// Hourly polling of wired channels.
    fn start_polling(&mut self, now: Millis) {
        self.inner.start_polling(now);
    }

    /// Write a Short ID (and wired address) into a channel's M-Bus client setup.
    #[pyo3(signature = (now, channel, medium, short_id, primary_address=0))]
    fn register(&mut self, py: Python<'_>, now: Millis, channel: u8, medium: &str, short_id: &Bound<'_, PyAny>, primary_address: u8) -> PyResult<()> {
        let (m, s) = (medium_of(py, medium)?, short_id_of(short_id)?);
        self.inner.register(now, channel, m, s, primary_address).map_err(|e| engine_err(py, e))
    }

    /// §8.4.2.2 step 5: select a detected wireless device; returns its channel.
    fn select(&mut self, py: Python<'_>, now: Millis, short_id: &Bound<'_, PyAny>) -> PyResult<u8> {
        let s = short_id_of(short_id)?;
        self.inner.select(now, s).map_err(|e| engine_err(py, e))
    }

    /// Remove a channel's registration.
    fn deregister(&mut self, py: Python<'_>, channel: u8) -> PyResult<()> {
        self.inner.deregister(channel).map_err(|e| engine_err(py, e))
    }

    /// §6.5.1: send `wrapped_key` (the user key encrypted with the default key); use
    /// `user_key` once acknowledged.
    fn transfer_key(&mut self, py: Python<'_>, now: Millis, channel: u8, user_key: &Bound<'_, PyAny>, wrapped_key: &Bound<'_, PyAny>) -> PyResult<()> {
        let (u, w) = (key_of(user_key, "user_key")?, key_of(wrapped_key, "wrapped_key")?);
        self.inner.transfer_key(now, channel, u, w).map_err(|e| engine_err(py, e))
    }

    /// Queue a command: "clock", "readout" (value: VIBs), "reset_readout", "clear_status"
    /// (value: mask), "request", "address" (value: the new primary address).
    #[pyo3(signature = (now, channel, task, value=None))]
    fn command(&mut self, py: Python<'_>, now: Millis, channel: u8, task: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let t = task_arg(py, task, value)?;
        self.inner.command(now, channel, t).map_err(|e| engine_err(py, e))
    }

    /// The E-meter knows a channel's user key already (None forgets it).
    #[pyo3(signature = (channel, key=None))]
    fn set_key(&mut self, py: Python<'_>, channel: u8, key: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let k = key.filter(|k| !k.is_none()).map(|k| key_of(k, "key")).transpose()?;
        self.inner.set_key(channel, k).map_err(|e| engine_err(py, e))
    }

    /// The registered channels, with their P3 views rendered.
    fn channels<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner.channels().map(|c| channel_view(py, c)).collect()
    }

    /// Wireless devices seen in installation mode and not registered.
    fn detected(&self) -> Vec<String> {
        self.inner.detected().iter().map(ToString::to_string).collect()
    }

    /// Whether installation mode is on.
    fn installing(&self) -> bool {
        self.inner.installing()
    }

    fn __repr__(&self) -> String {
        format!("<DsmrEMeter channels={} installing={}>", self.inner.channels().count(), self.inner.installing())
    }
}

/// §6.5.1: the user key encrypted with the default key (AES-128-ECB), as `transfer_key` sends it.
#[pyfunction]
pub fn dsmr_wrap_user_key<'py>(default_key: &Bound<'py, PyAny>, user_key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let (d, u) = (key_of(default_key, "default_key")?, key_of(user_key, "user_key")?);
    Ok(PyBytes::new(default_key.py(), &mode15::wrap_user_key(&d, &u)))
}
