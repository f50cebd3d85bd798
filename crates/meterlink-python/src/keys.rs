//! `KeyStore` for Python, and conversion of the `keys=` argument.
//!
//! Keys never appear in `repr`, in exception messages, or in pickles (a KeyStore refuses to be
//! pickled; load it from its file in each process instead).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use super::{raise, to_pyerr};
use meterlink::keys::{parse_key_hex, parse_meter_id, parse_meter_name, KeyError, KeyLookup, KeyMaterial, KeyStore as CoreStore, NoKeys};

fn key_err(py: Python<'_>, e: KeyError) -> PyErr {
    to_pyerr(py, e.into())
}

/// A key value: bytes (16 or 8) or hex text.
fn key_material(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<KeyMaterial> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return KeyMaterial::from_bytes(b.as_bytes()).map_err(|e| key_err(py, e));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return parse_key_hex(&s.to_cow()?).map_err(|e| key_err(py, e));
    }
    Err(pyo3::exceptions::PyTypeError::new_err("a key must be bytes or a hex str"))
}

/// A dict entry: the meter's name (core [`meterlink::keys::parse_meter_name`]) and its key.
fn add_entry(py: Python<'_>, store: &mut CoreStore, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    let name: String = k.extract().map_err(|_| pyo3::exceptions::PyTypeError::new_err("meter ids must be str"))?;
    let key = key_material(py, v)?;
    let (m, id) = parse_meter_name(&name).map_err(|e| key_err(py, e))?;
    store.insert(m, id, key);
    Ok(())
}

pub(crate) fn store_from_dict(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<CoreStore> {
    let mut store = CoreStore::with_capacity(d.len());
    for (k, v) in d.iter() {
        add_entry(py, &mut store, &k, &v)?;
    }
    Ok(store)
}

/// Keys per meter: `KeyStore({"12345678": "00112233…", "KAM76348799": b"…"})`, or
/// `KeyStore.from_csv(path)` / `from_json(path)`. Entries for manufacturer + ID win over ID-only.
#[pyclass(module = "meterlink._native", frozen)]
pub struct KeyStore {
    pub(crate) inner: CoreStore,
}

#[pymethods]
impl KeyStore {
    #[new]
    #[pyo3(signature = (keys=None))]
    fn new(py: Python<'_>, keys: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(KeyStore { inner: match keys {
            Some(d) => store_from_dict(py, d)?,
            None => CoreStore::new(),
        } })
    }

    /// Load `id,key` or `manufacturer,id,key` lines (a header line and `#` comments allowed).
    #[staticmethod]
    fn from_csv_text(py: Python<'_>, text: &str) -> PyResult<KeyStore> {
        let mut s = CoreStore::new();
        py.detach(|| s.load_csv(text))
            .map_err(|(line, e)| raise(py, None, format!("key file line {line}: {e}"), None, meterlink::Error::from(e).code()))?;
        Ok(KeyStore { inner: s })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, id: &str) -> bool {
        parse_meter_id(id).is_ok_and(|i| meterlink::keys::KeyLookup::key_for(&self.inner, 0, i).is_some())
    }

    fn __repr__(&self) -> String {
        format!("<KeyStore {} keys>", self.inner.len())
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(pyo3::exceptions::PyTypeError::new_err(
            "KeyStore cannot be pickled: keys never leave the process; load the key file where it is needed",
        ))
    }
}

pub(crate) enum Keys<'a> {
    None,
    Borrowed(&'a CoreStore),
    Owned(CoreStore),
}

impl Keys<'_> {
    pub(crate) fn lookup(&self) -> &(dyn KeyLookup + Sync) {
        match self {
            Keys::None => &NoKeys,
            Keys::Borrowed(s) => *s,
            Keys::Owned(s) => s,
        }
    }
}

/// The `keys=` argument: None, a `KeyStore` (borrowed) or a dict (converted once).
pub(crate) fn keys_arg<'a>(py: Python<'_>, keys: Option<&'a Bound<'_, PyAny>>) -> PyResult<Keys<'a>> {
    match keys {
        None => Ok(Keys::None),
        Some(k) if k.is_none() => Ok(Keys::None),
        Some(k) => {
            if let Ok(store) = k.cast::<KeyStore>() {
                Ok(Keys::Borrowed(&store.get().inner))
            } else if let Ok(d) = k.cast::<PyDict>() {
                Ok(Keys::Owned(store_from_dict(py, d)?))
            } else {
                Err(pyo3::exceptions::PyTypeError::new_err("keys must be a dict or a meterlink.KeyStore"))
            }
        }
    }
}
