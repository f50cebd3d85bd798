//! Intakes (issue 15 §1): each turns what arrives into [`Reception`]s and sends them into the
//! pipeline's bounded queue. A full queue makes an intake wait (MQTT QoS 1 stops acknowledging,
//! HTTP answers late, TCP stops reading); QoS 0 and UDP receptions that cannot wait are dropped
//! and counted (`meterlink_qos0_dropped_total`).
//!
//! Workers add: `mqtt.rs` (+ `parse/`: payload shapes), `http.rs`, `lines.rs` (TCP/UDP),
//! `files.rs`, `broker.rs` (embedded).

pub mod broker;
pub mod http;
pub mod lines;
pub mod mqtt;
pub mod parse;

use crate::reception::Reception;

pub mod files;

/// The sending end of the pipeline's queue.
pub type Sink = tokio::sync::mpsc::Sender<Reception>;
