//! Silence alarms (issue 15 §4): a gateway or a meter not heard for longer than configured
//! (`[alarms] gateway_silence_s`, `meter_silence_s`). The pipeline reports what it hears
//! ([`Silence::heard`]) and asks periodically ([`Silence::check`]); each alarm is raised once
//! when the silence starts and cleared once when the source is heard again, logged as a
//! structured warning and counted in `meterlink_silent_gateways` / `meterlink_silent_meters`.

use std::collections::{HashMap, HashSet};

/// What an alarm is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A gateway (receiver).
    Gateway,
    /// A meter.
    Meter,
}

/// A change of alarm state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlarmEvent {
    /// `name` has not been heard since `last_heard_ms`.
    Raised {
        /// Gateway or meter.
        kind: SourceKind,
        /// Its name.
        name: String,
        /// When it was last heard (Unix ms).
        last_heard_ms: i64,
    },
    /// `name` is heard again.
    Cleared {
        /// Gateway or meter.
        kind: SourceKind,
        /// Its name.
        name: String,
    },
}

/// Last-heard bookkeeping of one kind of source.
#[derive(Debug, Default)]
struct Tracker {
    limit_ms: i64,
    last: HashMap<String, i64>,
    silent: HashSet<String>,
}

impl Tracker {
    fn heard(&mut self, kind: SourceKind, name: &str, at_ms: i64, out: &mut Vec<AlarmEvent>) {
        if self.limit_ms <= 0 {
            return;
        }
        match self.last.get_mut(name) {
            Some(t) => *t = (*t).max(at_ms),
            None => {
                self.last.insert(name.to_owned(), at_ms);
            }
        }
        if self.silent.remove(name) {
            out.push(AlarmEvent::Cleared { kind, name: name.to_owned() });
        }
    }

    fn check(&mut self, kind: SourceKind, now_ms: i64, out: &mut Vec<AlarmEvent>) {
        if self.limit_ms <= 0 {
            return;
        }
        for (name, &t) in &self.last {
            if now_ms - t > self.limit_ms && self.silent.insert(name.clone()) {
                out.push(AlarmEvent::Raised { kind, name: name.clone(), last_heard_ms: t });
            }
        }
    }
}

/// Silence alarms for gateways and meters.
#[derive(Debug, Default)]
pub struct Silence {
    gateways: Tracker,
    meters: Tracker,
}

impl Silence {
    /// Alarms after these silences (seconds; 0 = off).
    pub fn new(gateway_silence_s: u64, meter_silence_s: u64) -> Self {
        let ms = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
        Silence {
            gateways: Tracker { limit_ms: ms(gateway_silence_s), ..Default::default() },
            meters: Tracker { limit_ms: ms(meter_silence_s), ..Default::default() },
        }
    }

    /// A reception from `gateway` of a telegram from `meter` (if known) at `at_ms`. Returns the
    /// alarms this clears.
    pub fn heard(&mut self, gateway: &str, meter: Option<&str>, at_ms: i64) -> Vec<AlarmEvent> {
        let mut out = Vec::new();
        self.gateways.heard(SourceKind::Gateway, gateway, at_ms, &mut out);
        if let Some(m) = meter {
            self.meters.heard(SourceKind::Meter, m, at_ms, &mut out);
        }
        out
    }

    /// The alarms that start at `now_ms`.
    pub fn check(&mut self, now_ms: i64) -> Vec<AlarmEvent> {
        let mut out = Vec::new();
        self.gateways.check(SourceKind::Gateway, now_ms, &mut out);
        self.meters.check(SourceKind::Meter, now_ms, &mut out);
        out
    }

    /// Sources silent now: (gateways, meters).
    pub fn silent(&self) -> (usize, usize) {
        (self.gateways.silent.len(), self.meters.silent.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_once_cleared_once() {
        let mut s = Silence::new(60, 3600);
        assert!(s.heard("gw1", Some("KAM1"), 0).is_empty());
        assert!(s.check(60_000).is_empty(), "exactly the limit is not silence yet");
        let a = s.check(60_001);
        assert_eq!(a, vec![AlarmEvent::Raised { kind: SourceKind::Gateway, name: "gw1".into(), last_heard_ms: 0 }]);
        assert!(s.check(120_000).is_empty(), "raised once");
        assert_eq!(s.silent(), (1, 0));
        let c = s.heard("gw1", Some("KAM1"), 130_000);
        assert_eq!(c, vec![AlarmEvent::Cleared { kind: SourceKind::Gateway, name: "gw1".into() }]);
        // A late reception (older time stamp) never moves the last-heard time back.
        s.heard("gw1", None, 10);
        assert!(s.check(130_000 + 60_000).is_empty());
        let m = s.check(130_000 + 3_600_001);
        assert!(m.contains(&AlarmEvent::Raised { kind: SourceKind::Meter, name: "KAM1".into(), last_heard_ms: 130_000 }));
    }

    #[test]
    fn zero_turns_it_off() {
        let mut s = Silence::new(0, 0);
        s.heard("gw", Some("m"), 0);
        assert!(s.check(i64::MAX / 2).is_empty());
    }
}
