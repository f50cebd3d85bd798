//! `meterlink serve` (issue 15): the head-end ingestion service run from Python, the GIL
//! released for the whole run (until SIGINT/SIGTERM, or until `once` file intakes are read).

use pyo3::prelude::*;

use meterlink_service::config::Config;
use meterlink_service::ServiceError;

fn service_err(py: Python<'_>, e: ServiceError) -> PyErr {
    crate::raise(py, None, e.to_string(), None, e.code())
}

/// Run the service with the TOML configuration `config_toml` ("" = the embedded defaults);
/// `keys` adds key files, `db` selects a SQLite file. Raises `MeterlinkError` with code
/// `service_config`, `service_store`, `service_intake` or `service_io`.
#[pyfunction]
#[pyo3(signature = (config_toml, keys=None, db=None))]
pub fn serve(py: Python<'_>, config_toml: &str, keys: Option<Vec<String>>, db: Option<String>) -> PyResult<()> {
    let mut config = Config::from_toml_str(config_toml).map_err(|e| service_err(py, e))?;
    config.keys.files.extend(keys.unwrap_or_default().into_iter().map(Into::into));
    if let Some(db) = db {
        config.store.kind = "sqlite".into();
        config.store.path = db.into();
    }
    py.detach(|| meterlink_service::run(config)).map_err(|e| service_err(py, e))
}
