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
pub mod metrics;
pub mod pipeline;
pub mod reception;
pub mod store;

pub use error::ServiceError;

/// Run the service until SIGINT/SIGTERM (graceful: intakes stop, the queue drains, the last
/// batch commits and is acknowledged), on a multi-threaded tokio runtime of its own.
pub fn run(config: config::Config) -> Result<(), ServiceError> {
    config.validate()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("meterlink-serve")
        .build()
        .map_err(|e| ServiceError::Io(format!("tokio runtime: {e}")))?;
    rt.block_on(pipeline::serve(config))
}
