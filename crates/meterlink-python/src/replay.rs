//! `CounterStore` for Python: the core's [`meterlink::replay::CounterStore`] (the last accepted
//! message counter per meter and key ID), passed as `counters=` to `decode`, `_decode_batch`
//! and `LineReader.decode_next`. `meterlink.CounterStore` (python/meterlink/replay.py)
//! subclasses it to persist the entries in SQLite.

use pyo3::prelude::*;

use super::telegram::Telegram;
use super::to_pyerr;
use meterlink::dlms::security::KeyKind;
use meterlink::replay::{CounterStore as CoreStore, DlmsSubject, MeterKey};

/// One entry as Python sees it: (manufacturer, id, key_id, counter).
type Entry = (String, String, u8, u32);

/// One DLMS entry: (system title as 16 hex digits, key kind name, invocation counter).
type DlmsEntry = (String, String, u32);

fn dlms_subject(py: Python<'_>, title: &str, key: &str) -> PyResult<DlmsSubject> {
    let bad = |what: String| super::raise(py, None, what, None, super::ARGUMENT_CODE);
    let t = meterlink::hex::parse_hex(title).ok().and_then(|t| <[u8; 8]>::try_from(t).ok());
    let t = t.ok_or_else(|| bad("a system title is 16 hex digits".into()))?;
    let k = KeyKind::from_name(key).ok_or_else(|| bad(format!("unknown DLMS key kind {key:?}")))?;
    Ok(DlmsSubject { system_title: t, key: k })
}

/// The last accepted counter per (meter, key ID); thread-safe, one entry per meter and key ID
/// (memory grows with the number of meters, it is not bounded).
#[pyclass(module = "meterlink._native", frozen, subclass)]
pub struct CounterStore {
    pub(crate) inner: CoreStore,
}

fn meter_key(py: Python<'_>, manufacturer: &str, id: &str, key_id: u8) -> PyResult<MeterKey> {
    MeterKey::from_text(manufacturer, id, key_id).map_err(|e| to_pyerr(py, e.into()))
}

#[pymethods]
impl CounterStore {
    #[new]
    fn new() -> Self {
        CounterStore { inner: CoreStore::new() }
    }

    /// Every entry as (manufacturer, id, key_id, counter), sorted.
    fn entries(&self) -> Vec<Entry> {
        let e = self.inner.entries();
        e.into_iter().map(|(k, c)| (k.manufacturer_string(), k.id_string(), k.key_id, c)).collect()
    }

    /// Add entries (manufacturer, id, key_id, counter); where a meter is known, the higher
    /// counter stays. Malformed manufacturers or IDs raise `MeterlinkError` and add nothing.
    fn load(&self, py: Python<'_>, entries: Vec<Entry>) -> PyResult<()> {
        let mut keyed = Vec::with_capacity(entries.len());
        for (m, id, key_id, c) in &entries {
            keyed.push((meter_key(py, m, id, *key_id)?, *c));
        }
        self.inner.extend(keyed);
        Ok(())
    }

    /// The last accepted counter of a meter and key ID, or None.
    #[pyo3(signature = (manufacturer, id, key_id=0))]
    fn last(&self, py: Python<'_>, manufacturer: &str, id: &str, key_id: u8) -> PyResult<Option<u32>> {
        Ok(self.inner.last(meter_key(py, manufacturer, id, key_id)?))
    }

    /// Raise `SecurityError` (`replayed_counter`) when the verified telegram's counter is not
    /// greater than its meter's last accepted one; records nothing.
    fn check(&self, py: Python<'_>, telegram: &Telegram) -> PyResult<()> {
        self.inner.check(&telegram.inner).map_err(|e| to_pyerr(py, e))
    }

    /// Record the counter of a verified telegram (others change nothing).
    fn accept(&self, telegram: &Telegram) {
        self.inner.accept(&telegram.inner);
    }

    /// Every DLMS entry as (system title hex, key kind, invocation counter), sorted.
    fn dlms_entries(&self) -> Vec<DlmsEntry> {
        let e = self.inner.dlms_entries();
        e.into_iter().map(|(s, c)| (meterlink::hex::to_hex_lower(&s.system_title), s.key.name().to_owned(), c)).collect()
    }

    /// Add DLMS entries (system title hex, key kind, counter); the higher counter stays.
    fn load_dlms(&self, py: Python<'_>, entries: Vec<DlmsEntry>) -> PyResult<()> {
        let mut subjects = Vec::with_capacity(entries.len());
        for (t, k, c) in &entries {
            subjects.push((dlms_subject(py, t, k)?, *c));
        }
        self.inner.extend_dlms(subjects);
        Ok(())
    }

    /// The last accepted invocation counter of a DLMS sender (system title, key kind), or None.
    #[pyo3(signature = (system_title, key="global-unicast"))]
    fn last_dlms(&self, py: Python<'_>, system_title: &str, key: &str) -> PyResult<Option<u32>> {
        Ok(self.inner.last_dlms(dlms_subject(py, system_title, key)?))
    }

    /// Forget every counter.
    fn clear(&self) {
        self.inner.clear();
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("<CounterStore {} meters>", self.inner.len())
    }
}
