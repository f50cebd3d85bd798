//! `HdlcSplitter`: the DLMS HDLC stream splitter for Python (`meterlink.dlms.iter_frames`), and
//! the HLS functions.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use super::splitter::piece;

use meterlink::dlms::hdlc::splitter::{FrameSplitter, SplitItem};
use meterlink::dlms::security::{hls, DlmsKeys};

use super::{raise, to_pyerr, ARGUMENT_CODE};

/// Incremental HDLC stream splitter (IEC 62056-46 frames; octet-stuffed ones un-stuffed when
/// they fail as they are). `feed(data)` returns what could be cut so far as a list of
/// `("frame", offset, bytes)` and `("skipped", offset, length)` tuples; `finish()` flushes.
#[pyclass(module = "meterlink._native")]
pub struct HdlcSplitter {
    inner: FrameSplitter,
}

fn drain<'py>(py: Python<'py>, s: &mut FrameSplitter) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    while let Some(item) = s.next_item() {
        let t = match item {
            SplitItem::Frame { offset, bytes, .. } => piece(py, "frame", offset, PyBytes::new(py, &bytes).into_any())?,
            SplitItem::Skipped { offset, len } => piece(py, "skipped", offset, len.into_pyobject(py)?.into_any())?,
        };
        out.append(t)?;
    }
    Ok(out)
}

#[pymethods]
impl HdlcSplitter {
    #[new]
    #[pyo3(signature = (unstuff=true))]
    fn new(unstuff: bool) -> Self {
        let mut inner = FrameSplitter::new();
        inner.unstuff = unstuff;
        HdlcSplitter { inner }
    }
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        self.inner.push(data);
        drain(py, &mut self.inner)
    }
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.inner.finish();
        drain(py, &mut self.inner)
    }
    #[getter]
    fn frames_total(&self) -> u64 {
        self.inner.frames_total
    }
    #[getter]
    fn skipped_total(&self) -> u64 {
        self.inner.skipped_total
    }
}

fn title(py: Python<'_>, t: &[u8], what: &str) -> PyResult<[u8; 8]> {
    t.try_into().map_err(|_| raise(py, None, format!("{what} is 8 bytes, got {}", t.len()), None, ARGUMENT_CODE))
}

/// dlms_hls(mechanism, challenge, secret=None, *, invocation_counter=None, suite=0,
/// system_title=None, ek=None, ak=None) -> bytes
///
/// HLS pass 3/4 (IEC 62056-5-3 9.2.2.2; Green Book 9.2.7.4): f(challenge) = HASH(challenge ‖
/// secret) for mechanisms 3 (MD5) and 4 (SHA-1); mechanism 5 (GMAC) with the keys:
/// SC ‖ IC ‖ GMAC(SC ‖ AK ‖ challenge) under IV = the sender's `system_title` ‖
/// `invocation_counter`. (Mechanism 6 needs both titles and challenges: the Rust `hls::Hls`.)
#[pyfunction]
#[pyo3(signature = (mechanism, challenge, secret=None, *, invocation_counter=None, suite=0, system_title=None, ek=None, ak=None))]
#[allow(clippy::too_many_arguments)]
pub fn dlms_hls(
    py: Python<'_>,
    mechanism: u8,
    challenge: &[u8],
    secret: Option<&[u8]>,
    invocation_counter: Option<u32>,
    suite: u8,
    system_title: Option<&[u8]>,
    ek: Option<&[u8]>,
    ak: Option<&[u8]>,
) -> PyResult<Vec<u8>> {
    let cipher = |e: meterlink::dlms::security::CipherError| to_pyerr(py, meterlink::dlms::decode::dlms_error(e.into(), 0));
    match mechanism {
        3 | 4 => {
            let secret = secret.ok_or_else(|| raise(py, None, "HLS mechanisms 3 and 4 need secret=".into(), None, ARGUMENT_CODE))?;
            hls::f_hash(mechanism, challenge, secret).map_err(cipher)
        }
        5 => {
            let (Some(ic), Some(t), Some(ek), Some(ak)) = (invocation_counter, system_title, ek, ak) else {
                let m = "HLS mechanism 5 needs invocation_counter=, system_title=, ek= and ak=";
                return Err(raise(py, None, m.into(), None, ARGUMENT_CODE));
            };
            let keys = DlmsKeys::new(ek.to_vec(), Some(ak.to_vec()));
            hls::f_gmac(&keys, suite, &title(py, t, "system_title")?, ic, challenge).map_err(cipher)
        }
        m => Err(raise(py, None, format!("HLS mechanism {m}: only 3, 4 and 5 here"), None, ARGUMENT_CODE)),
    }
}
