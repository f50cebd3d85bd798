//! `meterlink serve`: a head-end ingestion service built on the meterlink core (issue 15).
//!
//! ```text
//! intakes (MQTT, HTTP, TCP/UDP lines, files) ──Reception──▶ bounded queue (backpressure)
//!     ──▶ pipeline: decode with the key store (hot reload) ─▶ dedup across gateways (window)
//!         ─▶ replay check (counters) ─▶ Batch of rows ─▶ Store (SQLite | PostgreSQL) commit
//!         ─▶ acknowledge the receptions (MQTT QoS 1 PUBACK, HTTP 200) only after the commit
//! metrics (/metrics, /health), silence alarms, structured logs, graceful shutdown
//! ```
//! At-least-once delivery plus idempotent storage (unique keys in the database) gives every
//! telegram stored exactly once, across restarts and across several workers on one PostgreSQL.
//!
//! CONTRACT (lead-owned, workers may add): [`reception::Reception`], [`reception::Ack`],
//! [`store::Store`], [`store::Batch`] and its rows, [`config::Config`], [`metrics::Metrics`],
//! [`error::ServiceError`].

pub mod alarms;
pub mod config;
pub mod error;
pub mod intake;
pub mod loadgen;
pub mod metrics;
pub mod pipeline;
pub mod reception;
pub mod sink;
pub mod store;

pub use error::ServiceError;

/// Run the service until SIGINT/SIGTERM (graceful: intakes stop, the queue drains, the last
/// batch commits and is acknowledged), on a multi-threaded tokio runtime of its own.
pub fn run(config: config::Config) -> Result<(), ServiceError> {
    config.validate()?;
    init_logging(&config.service.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("meterlink-serve")
        .build()
        .map_err(|e| ServiceError::Io(format!("tokio runtime: {e}")))?;
    rt.block_on(pipeline::serve(config))
}

/// Structured logs on stderr (issue 15 §4): `json` (one object per event: time, level, target,
/// fields) or `text`; the level from `RUST_LOG` (default `info`). Only the first call installs
/// a subscriber (the Python process may run the service more than once).
pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { b.json().try_init() } else { b.with_ansi(false).try_init() };
}
