//! `_dsmr_simulate`: the DSMR P2 traffic simulator for Python (`meterlink.dsmr.simulate`).
//! Generation runs without the GIL; the result is either written to files (archive and key
//! file) or returned as columns.

use std::fs::File;
use std::io::{BufWriter, Write};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use meterlink::dsmr::simulate::{e_meter_id, SimConfig, Simulator};

use super::{raise, to_pyerr, ARGUMENT_CODE};

/// What the generation left behind (filled without the GIL).
#[derive(Default)]
struct Columns {
    times: Vec<i64>,
    e_meters: Vec<u32>,
    channels: Vec<u8>,
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

fn io_err(py: Python<'_>, what: &str, e: std::io::Error) -> PyErr {
    raise(py, None, format!("{what}: {e}"), None, ARGUMENT_CODE)
}

fn write_files(sim: &mut Simulator, path: &str, keys_path: &str) -> Result<u64, (String, std::io::Error)> {
    fn ctx(p: &str) -> impl FnOnce(std::io::Error) -> (String, std::io::Error) + '_ {
        move |e| (p.to_string(), e)
    }
    let mut keys = BufWriter::new(File::create(keys_path).map_err(ctx(keys_path))?);
    sim.write_key_file(&mut keys).and_then(|_| keys.flush()).map_err(ctx(keys_path))?;
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(ctx(path))?);
    let n = sim.write_archive(&mut out).map_err(ctx(path))?;
    out.flush().map_err(ctx(path))?;
    Ok(n)
}

/// Simulate DSMR P2 traffic. With `path`: write the hex archive there and the key file to
/// `keys_path`; returns `(count, key_file_text)`. Without: returns `(count, key_file_text,
/// times, e_meters, channels, frames)` (Unix seconds, E-meter names, channels 1-4, bytes).
#[pyfunction]
#[pyo3(signature = (e_meters, devices_min, devices_max, hours, start, seed, wireless, loss, path=None, keys_path=None))]
#[allow(clippy::too_many_arguments)]
pub fn _dsmr_simulate<'py>(
    py: Python<'py>,
    e_meters: u32,
    devices_min: u8,
    devices_max: u8,
    hours: u32,
    start: i64,
    seed: u64,
    wireless: f64,
    loss: f64,
    path: Option<String>,
    keys_path: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let cfg = SimConfig { e_meters, devices: (devices_min, devices_max), hours, start, seed, wireless, loss };
    let mut sim = py.detach(|| Simulator::new(cfg)).map_err(|e| to_pyerr(py, e.into()))?;
    let mut key_text = Vec::new();
    sim.write_key_file(&mut key_text).map_err(|e| io_err(py, "key file", e))?;
    let key_text = String::from_utf8_lossy(&key_text).into_owned();
    if let (Some(path), Some(keys_path)) = (path, keys_path) {
        let n = py.detach(|| write_files(&mut sim, &path, &keys_path)).map_err(|(p, e)| io_err(py, &p, e))?;
        return Ok((n, key_text).into_pyobject(py)?.into_any());
    }
    let cols = py.detach(|| {
        let mut c = Columns::default();
        sim.run(|t| {
            c.times.push(t.time);
            c.e_meters.push(t.e_meter);
            c.channels.push(t.channel);
            c.bytes.extend_from_slice(t.frame);
            c.ends.push(c.bytes.len());
        });
        c
    });
    let mut names: Vec<Option<Bound<'py, PyAny>>> = Vec::new();
    let meters = PyList::empty(py);
    for &m in &cols.e_meters {
        let i = m as usize;
        if names.len() <= i {
            names.resize(i + 1, None);
        }
        let name = match &names[i] {
            Some(n) => n.clone(),
            None => {
                let n = e_meter_id(m).into_pyobject(py)?.into_any();
                names[i] = Some(n.clone());
                n
            }
        };
        meters.append(name)?;
    }
    let frames = PyList::empty(py);
    let mut at = 0;
    for &end in &cols.ends {
        frames.append(PyBytes::new(py, &cols.bytes[at..end]))?;
        at = end;
    }
    let n = cols.times.len() as u64;
    Ok((n, key_text, cols.times, meters, cols.channels, frames).into_pyobject(py)?.into_any())
}
