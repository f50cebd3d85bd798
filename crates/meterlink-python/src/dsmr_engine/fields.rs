//! Reading plain Python values (dicts of ints, str, lists) into the engines' types, with one
//! kind of error: `MeterlinkError` (code `argument`) naming the field that is wrong.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::{raise, ARGUMENT_CODE};
use meterlink::crypto::Key;
use meterlink::dsmr::short_id::ShortId;

/// `MeterlinkError` (code `argument`) with `message`.
pub(crate) fn argument(py: Python<'_>, message: String) -> PyErr {
    raise(py, None, message, None, ARGUMENT_CODE)
}

/// A dict read field by field; `what` names it in errors.
pub(crate) struct Fields<'py> {
    d: Bound<'py, PyDict>,
    what: String,
}

impl<'py> Fields<'py> {
    /// `obj` must be a dict.
    pub(crate) fn of(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        let d = obj.cast::<PyDict>().map_err(|_| argument(obj.py(), format!("{what} must be a dict")))?;
        Ok(Fields { d: d.clone(), what: what.to_owned() })
    }

    fn py(&self) -> Python<'py> {
        self.d.py()
    }

    fn bad(&self, key: &str, why: &str) -> PyErr {
        argument(self.py(), format!("{}[{key:?}]: {why}", self.what))
    }

    /// The value at `key`; None when missing or None.
    pub(crate) fn opt_any(&self, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.d.get_item(key)?.filter(|v| !v.is_none()))
    }

    /// The value at `key`, which must be there and not None.
    pub(crate) fn any(&self, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.opt_any(key)?.ok_or_else(|| self.bad(key, "missing"))
    }

    /// An integer in `T`'s range.
    pub(crate) fn int<T: TryFrom<i128>>(&self, key: &str) -> PyResult<T> {
        let v = self.any(key)?;
        int_of(&v).ok_or_else(|| self.bad(key, &format!("an integer in range, not {v}")))
    }

    /// An integer or None.
    pub(crate) fn opt_int<T: TryFrom<i128>>(&self, key: &str) -> PyResult<Option<T>> {
        match self.opt_any(key)? {
            None => Ok(None),
            Some(_) => self.int(key).map(Some),
        }
    }

    /// An integer, `default` when missing.
    pub(crate) fn int_or<T: TryFrom<i128>>(&self, key: &str, default: T) -> PyResult<T> {
        Ok(self.opt_int(key)?.unwrap_or(default))
    }

    /// A bool.
    pub(crate) fn bool(&self, key: &str) -> PyResult<bool> {
        self.any(key)?.extract::<bool>().map_err(|_| self.bad(key, "a bool"))
    }

    /// A str.
    pub(crate) fn str(&self, key: &str) -> PyResult<String> {
        self.opt_str(key)?.ok_or_else(|| self.bad(key, "missing"))
    }

    /// A str or None.
    pub(crate) fn opt_str(&self, key: &str) -> PyResult<Option<String>> {
        match self.opt_any(key)? {
            None => Ok(None),
            Some(v) => v.extract::<String>().map(Some).map_err(|_| self.bad(key, "a str")),
        }
    }

    /// A list (or tuple) of items; empty when missing.
    pub(crate) fn list(&self, key: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
        match self.opt_any(key)? {
            None => Ok(Vec::new()),
            Some(v) => items(&v).ok_or_else(|| self.bad(key, "a list")),
        }
    }

    /// A nested dict.
    pub(crate) fn dict(&self, key: &str) -> PyResult<Fields<'py>> {
        Fields::of(&self.any(key)?, &format!("{}[{key:?}]", self.what))
    }

    /// A nested dict or None.
    pub(crate) fn opt_dict(&self, key: &str) -> PyResult<Option<Fields<'py>>> {
        match self.opt_any(key)? {
            None => Ok(None),
            Some(v) => Fields::of(&v, &format!("{}[{key:?}]", self.what)).map(Some),
        }
    }

    /// Bytes given as bytes or hex text.
    pub(crate) fn bytes(&self, key: &str) -> PyResult<Vec<u8>> {
        bytes_of(&self.any(key)?).ok_or_else(|| self.bad(key, "bytes or a hex str"))
    }

    /// Bytes or None.
    pub(crate) fn opt_bytes(&self, key: &str) -> PyResult<Option<Vec<u8>>> {
        match self.opt_any(key)? {
            None => Ok(None),
            Some(_) => self.bytes(key).map(Some),
        }
    }

    /// A 16-byte key (bytes or 32 hex digits) or None.
    pub(crate) fn opt_key(&self, key: &str) -> PyResult<Option<Key>> {
        match self.opt_bytes(key)? {
            None => Ok(None),
            Some(b) => Key::try_from(b.as_slice()).map(Some).map_err(|_| self.bad(key, "a key is 16 bytes")),
        }
    }

    /// A 16-byte key.
    pub(crate) fn key(&self, key: &str) -> PyResult<Key> {
        self.opt_key(key)?.ok_or_else(|| self.bad(key, "missing"))
    }

    /// A Short ID (`"NET-23456789-42-03"` or its 8 wire bytes).
    pub(crate) fn short_id(&self, key: &str) -> PyResult<ShortId> {
        short_id_of(&self.any(key)?)
    }
}

/// An int that fits `T`.
fn int_of<T: TryFrom<i128>>(v: &Bound<'_, PyAny>) -> Option<T> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return None;
    }
    v.extract::<i128>().ok().and_then(|i| T::try_from(i).ok())
}

/// The items of a list or tuple.
pub(crate) fn items<'py>(v: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = v.cast::<PyList>() {
        return Some(l.iter().collect());
    }
    v.cast::<PyTuple>().ok().map(|t| t.iter().collect())
}

/// bytes / bytearray, or hex text.
pub(crate) fn bytes_of(v: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Some(b.as_bytes().to_vec());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return meterlink::hex::parse_hex(&s.to_cow().ok()?).ok();
    }
    v.extract::<Vec<u8>>().ok().filter(|_| !v.is_instance_of::<PyString>())
}

/// A key argument: 16 bytes or 32 hex digits.
pub(crate) fn key_of(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Key> {
    bytes_of(v)
        .and_then(|b| Key::try_from(b.as_slice()).ok())
        .ok_or_else(|| argument(v.py(), format!("{what} must be 16 bytes or 32 hex digits")))
}

/// A Short ID argument: `"NET-23456789-42-03"` text (or anything whose `str()` is that), or
/// the 8 bytes of a long header (`ID ‖ MAN ‖ VER ‖ DEV`).
pub(crate) fn short_id_of(v: &Bound<'_, PyAny>) -> PyResult<ShortId> {
    let py = v.py();
    if let Ok(b) = v.cast::<PyBytes>() {
        let w = <[u8; 8]>::try_from(b.as_bytes()).map_err(|_| argument(py, "a Short ID is 8 bytes".into()))?;
        return Ok(ShortId::from_wire(w));
    }
    let text = v.str()?.to_cow()?.into_owned();
    ShortId::parse(&text).ok_or_else(|| {
        argument(py, format!("a Short ID is written like \"NET-23456789-42-03\" (MAN-ID-VER-TYPE), not {text:?}"))
    })
}
