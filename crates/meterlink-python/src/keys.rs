//! `KeyStore` for Python, and conversion of the `keys=` argument.
//!
//! Keys never appear in `repr`, in exception messages, or in pickles (a KeyStore refuses to be
//! pickled; load it from its file in each process instead).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use super::{raise, to_pyerr};
use super::ARGUMENT_CODE;
use meterlink::keys::{
    parse_key_hex, parse_meter_id, parse_meter_name, KeyError, KeyFileError, KeyLoader, KeyLookup, KeyMaterial,
    KeyStore as CoreStore, NoKeys, OnDuplicate,
};

fn key_err(py: Python<'_>, e: KeyError) -> PyErr {
    to_pyerr(py, e.into())
}

/// A key value (bytes, 16 or 8; or hex text), or why it is not one (`TypeError` for a value of the wrong type).
fn key_material_or(v: &Bound<'_, PyAny>) -> PyResult<Result<KeyMaterial, KeyError>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(KeyMaterial::from_bytes(b.as_bytes()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(match s.to_cow() {
            Ok(t) => parse_key_hex(&t),
            Err(_) => Err(KeyError::BadKeyHex),
        });
    }
    Err(pyo3::exceptions::PyTypeError::new_err("a key must be bytes or a hex str"))
}

/// The `on_duplicate=` argument: "error", "first" or "last".
fn on_duplicate_arg(py: Python<'_>, s: &str) -> PyResult<OnDuplicate> {
    OnDuplicate::parse(s).ok_or_else(|| {
        raise(py, None, format!("on_duplicate must be \"error\", \"first\" or \"last\", not {s:?}"), None, ARGUMENT_CODE)
    })
}

/// A key-file error as `MeterlinkError`, prefixed with the file (or "key file"): it names the
/// line and column, never a value.
fn file_err(py: Python<'_>, source: Option<&str>, e: KeyFileError) -> PyErr {
    let code = meterlink::Error::from(e.error.clone()).code();
    raise(py, None, format!("{} {e}", source.unwrap_or("key file")), None, code)
}

/// A dict entry or a JSON entry: the meter's name (core [`meterlink::keys::parse_meter_name`])
/// and its key, at `position` (entry or line number).
fn add_entry(loader: &mut KeyLoader<'_>, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>, position: usize) -> PyResult<Result<(), KeyError>> {
    let name: String = k.extract().map_err(|_| pyo3::exceptions::PyTypeError::new_err("meter ids must be str"))?;
    Ok(key_material_or(v)?.and_then(|key| parse_meter_name(&name).and_then(|(m, id)| loader.add(m, id, key, position))))
}

pub(crate) fn store_from_dict(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<CoreStore> {
    store_from_dict_with(py, d, OnDuplicate::Error)
}

fn store_from_dict_with(py: Python<'_>, d: &Bound<'_, PyDict>, on_duplicate: OnDuplicate) -> PyResult<CoreStore> {
    let mut store = CoreStore::with_capacity(d.len());
    let mut loader = KeyLoader::new(&mut store, on_duplicate);
    for (i, (k, v)) in d.iter().enumerate() {
        add_entry(&mut loader, &k, &v, i + 1)?.map_err(|e| key_err(py, e))?;
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
    #[pyo3(signature = (keys=None, on_duplicate="error"))]
    fn new(py: Python<'_>, keys: Option<&Bound<'_, PyDict>>, on_duplicate: &str) -> PyResult<Self> {
        let on_duplicate = on_duplicate_arg(py, on_duplicate)?;
        Ok(KeyStore { inner: match keys {
            Some(d) => store_from_dict_with(py, d, on_duplicate)?,
            None => CoreStore::new(),
        } })
    }

    /// Load `id,key` or `manufacturer,id,key` lines (core `KeyStore::load_csv_with`: a header
    /// is recognised by its column names; `#` comments allowed). `source` names the text in
    /// messages (a path).
    #[staticmethod]
    #[pyo3(signature = (text, on_duplicate="error", source=None))]
    fn from_csv_text(py: Python<'_>, text: &str, on_duplicate: &str, source: Option<&str>) -> PyResult<KeyStore> {
        let on_duplicate = on_duplicate_arg(py, on_duplicate)?;
        let mut s = CoreStore::new();
        py.detach(|| s.load_csv_with(text, on_duplicate)).map_err(|e| file_err(py, source, e))?;
        Ok(KeyStore { inner: s })
    }

    /// Load a CSV key file (UTF-8); errors name the path, the line and the column.
    #[staticmethod]
    #[pyo3(signature = (path, on_duplicate="error"))]
    fn from_csv(py: Python<'_>, path: std::path::PathBuf, on_duplicate: &str) -> PyResult<KeyStore> {
        let name = path.display().to_string();
        let bytes = std::fs::read(&path)
            .map_err(|e| pyo3::exceptions::PyOSError::new_err((e.raw_os_error().unwrap_or(0), e.to_string(), name.clone())))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            raise(py, None, format!("{name}: not UTF-8 text (byte {})", e.valid_up_to()), None, ARGUMENT_CODE)
        })?;
        Self::from_csv_text(py, text, on_duplicate, Some(&name))
    }

    /// Load a JSON key file `{"12345678": "00112233…", …}` (through `meterlink.load_keys`).
    #[staticmethod]
    #[pyo3(signature = (path, on_duplicate="error"))]
    fn from_json(py: Python<'_>, path: &Bound<'_, PyAny>, on_duplicate: &str) -> PyResult<Py<KeyStore>> {
        let kw = PyDict::new(py);
        kw.set_item("format", "json")?;
        kw.set_item("on_duplicate", on_duplicate)?;
        py.import("meterlink.keys")?.getattr("load_keys")?.call((path,), Some(&kw))?.cast_into::<KeyStore>().map(Bound::unbind).map_err(PyErr::from)
    }

    /// A store from `(meter, key, position)` entries (a JSON key file's, with line numbers):
    /// errors name the position as a line of `source`.
    #[staticmethod]
    #[pyo3(signature = (entries, on_duplicate="error", source=None))]
    fn _from_entries(
        py: Python<'_>,
        entries: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>, usize)>,
        on_duplicate: &str,
        source: Option<&str>,
    ) -> PyResult<KeyStore> {
        let on_duplicate = on_duplicate_arg(py, on_duplicate)?;
        let mut store = CoreStore::with_capacity(entries.len());
        let mut loader = KeyLoader::new(&mut store, on_duplicate);
        for (k, v, line) in &entries {
            let r = add_entry(&mut loader, k, v, *line)?;
            r.map_err(|error| file_err(py, source, KeyFileError { line: *line, column: None, error }))?;
        }
        Ok(KeyStore { inner: store })
    }

    /// A copy of this store with DLMS/COSEM servers' keys: `{"<system title, 16 hex digits>":
    /// {"ek": key, "ak": key or None, ...}}` (the forms of `meterlink.dlms.decode`).
    /// `meterlink.dlms.decode(..., keys=store)` and the DLMS bulk decoders then use them.
    fn with_dlms(&self, py: Python<'_>, servers: &Bound<'_, PyDict>) -> PyResult<KeyStore> {
        let mut inner = self.inner.clone();
        match super::dlms::keys_from_dict(py, servers)? {
            meterlink::dlms::decode::Keys::ByTitle(v) => v.into_iter().for_each(|(t, k)| inner.insert_dlms(t, k)),
            _ => return Err(raise_arg(py, "KeyStore.with_dlms: give the keys by system title (16 hex digits)")),
        }
        Ok(KeyStore { inner })
    }

    /// A copy of this store that accepts unprotected payloads (clear data under an encrypted
    /// header, mode 0, clear ELL) from the named keyed meters (`"12345678"` or
    /// `"KAM12345678"`): the per-key form of `accept_unprotected=True`, for meters behind a
    /// receiver that decrypts in the radio.
    fn with_unprotected(&self, py: Python<'_>, meters: Vec<String>) -> PyResult<KeyStore> {
        let mut inner = self.inner.clone();
        for m in &meters {
            let (manufacturer, id) = meterlink::keys::parse_meter_name(m).map_err(|e| key_err(py, e))?;
            inner.accept_unprotected(manufacturer, id);
        }
        Ok(KeyStore { inner })
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

fn raise_arg(py: Python<'_>, m: &str) -> PyErr {
    super::raise(py, None, m.to_owned(), None, super::ARGUMENT_CODE)
}
