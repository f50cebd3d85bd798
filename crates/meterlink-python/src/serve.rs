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

/// The load generator (issue 15 §5) with `meterlink-serve --loadgen`'s arguments: publishes
/// wM-Bus and DSMR telegrams of N meters as G gateways hear them; returns the summary JSON
/// (`radio`, `heard`, `publications`). Raises `ValueError` with the usage on bad arguments,
/// `OSError` when the broker fails. The GIL is released while it publishes.
#[pyfunction]
pub fn loadgen(py: Python<'_>, args: Vec<String>) -> PyResult<String> {
    let usage = args.iter().any(|a| a == "-h" || a == "--help");
    py.detach(|| meterlink_service::loadgen::cli::run(&args)).map_err(|e| {
        if usage || e.contains("usage:") || e.contains("needs a value") || e.contains("not a number") || e.contains("must be") {
            pyo3::exceptions::PyValueError::new_err(e)
        } else {
            pyo3::exceptions::PyOSError::new_err(e)
        }
    })
}
