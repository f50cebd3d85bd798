//! The pipeline's side of the silence alarms (issue 15 §4): every reception is "heard"
//! (its gateway, and its meter when decoded), [`Alarms::check`] runs every second; each
//! raised or cleared alarm is a structured warning (`alarm = "silence"`, `kind`, `name`) and the
//! gauges `meterlink_silent_gateways` / `meterlink_silent_meters` follow the alarm state.
//!
//! "Heard" is the head-end's wall clock when the reception is processed, not the gateway's time
//! stamp: an archive replayed from last year must not raise every alarm at once, and a gateway
//! with a wrong clock is still heard.

use std::sync::Arc;

use crate::alarms::{AlarmEvent, Silence, SourceKind};
use crate::config::AlarmsSection;
use crate::metrics::Metrics;

/// Silence alarms with their metrics.
pub struct Alarms {
    silence: Silence,
    metrics: Arc<Metrics>,
    enabled: bool,
    now_ms: i64,
}

impl Alarms {
    /// Alarms as configured in `[alarms]` (both 0: off, nothing is tracked).
    pub fn new(cfg: &AlarmsSection, metrics: Arc<Metrics>) -> Self {
        let enabled = cfg.gateway_silence_s > 0 || cfg.meter_silence_s > 0;
        Alarms { silence: Silence::new(cfg.gateway_silence_s, cfg.meter_silence_s), metrics, enabled, now_ms: now_ms() }
    }

    /// The time the next receptions are heard at (read once per group of receptions).
    pub fn tick(&mut self) {
        if self.enabled {
            self.now_ms = now_ms();
        }
    }

    /// A reception from `gateway` (of `meter`, when decoded).
    pub fn heard(&mut self, gateway: &str, meter: Option<&str>) {
        if !self.enabled {
            return;
        }
        let events = self.silence.heard(gateway, meter, self.now_ms);
        if !events.is_empty() {
            self.report(events);
        }
    }

    /// Raise the alarms whose silence started (log them, update the gauges).
    pub fn check(&mut self) {
        if !self.enabled {
            return;
        }
        let events = self.silence.check(now_ms());
        self.report(events);
    }

    fn report(&mut self, events: Vec<AlarmEvent>) {
        for e in events {
            match e {
                AlarmEvent::Raised { kind, name, last_heard_ms } => {
                    tracing::warn!(alarm = "silence", state = "raised", kind = kind_name(kind), name = %name, last_heard_ms, "{} {name} not heard since {last_heard_ms} (Unix ms)", kind_name(kind));
                }
                AlarmEvent::Cleared { kind, name } => {
                    tracing::warn!(alarm = "silence", state = "cleared", kind = kind_name(kind), name = %name, "{} {name} heard again", kind_name(kind));
                }
            }
        }
        let (g, m) = self.silence.silent();
        self.metrics.silent_gateways.set(g as i64);
        self.metrics.silent_meters.set(m as i64);
    }
}

fn kind_name(k: SourceKind) -> &'static str {
    match k {
        SourceKind::Gateway => "gateway",
        SourceKind::Meter => "meter",
    }
}

fn now_ms() -> i64 {
    crate::intake::files::now_ms()
}
