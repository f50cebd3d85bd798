//! One radio (or wire) reception of a telegram by one gateway: what every intake produces and
//! the pipeline consumes.

use std::sync::Arc;

/// Which decoder a reception goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Wired or wireless M-Bus, DSMR P2 (the M-Bus decoder handles mode 15).
    Mbus,
    /// DLMS/COSEM pushes (HDLC, wrapper, M-Bus segments) and encrypted P1.
    Dlms,
}

/// Whether the frame still carries its link-layer CRCs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkCrc {
    /// As received on air: check them.
    Present,
    /// Removed by the receiver (rtl_433 `data`, most dongles): nothing to check.
    Stripped,
    /// Unknown: detect.
    Auto,
}

/// What the pipeline tells an intake after the batch holding a reception was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// Its rows (telegram, reception, readings, or the rejection) are committed.
    Committed,
    /// The store failed: do not acknowledge (MQTT redelivers; HTTP answers 503).
    Failed,
}

/// Called once, after the commit of the batch holding the reception (at-least-once delivery:
/// MQTT QoS 1 sends its PUBACK here, HTTP answers here).
pub struct Ack(Box<dyn FnOnce(AckOutcome) + Send>);

impl Ack {
    /// An acknowledgement that runs `f`.
    pub fn new(f: impl FnOnce(AckOutcome) + Send + 'static) -> Self {
        Ack(Box::new(f))
    }

    /// Resolve it.
    pub fn resolve(self, outcome: AckOutcome) {
        (self.0)(outcome)
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ack")
    }
}

/// One reception.
#[derive(Debug)]
pub struct Reception {
    /// The intake it came through (its configured name).
    pub intake: Arc<str>,
    /// The gateway that received it (from the payload, the topic, or the intake's name).
    pub gateway: Arc<str>,
    /// When the gateway received it (Unix ms, UTC; the intake's clock when the payload has none).
    pub received_at_ms: i64,
    /// Signal strength, dBm, where the gateway reports it.
    pub rssi: Option<f32>,
    /// The telegram bytes.
    pub frame: Vec<u8>,
    /// Link-layer CRC state of `frame`.
    pub link_crc: LinkCrc,
    /// Which decoder.
    pub protocol: Protocol,
    /// Resolved after commit; None for intakes that need no acknowledgement (QoS 0, UDP).
    pub ack: Option<Ack>,
}
