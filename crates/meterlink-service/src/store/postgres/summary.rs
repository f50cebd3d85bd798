//! Deferred summaries (decisions "Deferred summaries"): the `meters` / `meter_gateways` rows of
//! the batches committed since the last flush, aggregated in the client exactly as the per-batch
//! upserts would have left them (highest counter, latest time; per gateway the latest
//! reception, a later batch winning a tie), written in one transaction by
//! [`super::PgStore::flush`].

use std::collections::HashMap;

use bytes::Bytes;

use super::copy::{self, MeterRow};

/// Per (meter, key id): highest counter, last seen.
type MeterEntries = Vec<(u8, Option<u32>, i64)>;
/// Per (meter, gateway): RSSI, last seen.
type GatewayEntries = Vec<(Box<str>, Option<f32>, i64)>;

/// What the next flush writes, keyed by meter (looked up by `&str`: no allocation for a meter
/// already in the summary; a meter has few key ids and gateways, searched in order).
#[derive(Default)]
pub struct Summary {
    meters: HashMap<Box<str>, MeterEntries>,
    gateways: HashMap<Box<str>, GatewayEntries>,
}

impl Summary {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.meters.is_empty() && self.gateways.is_empty()
    }

    /// Add a committed batch's aggregates (`plan::meters`, `plan::gateways`).
    pub fn merge(&mut self, meters: &[MeterRow<'_>], gateways: &[(&str, &str, Option<f32>, i64)]) {
        for m in meters {
            let v = match self.meters.get_mut(m.meter) {
                Some(v) => v,
                None => self.meters.entry(m.meter.into()).or_default(),
            };
            match v.iter_mut().find(|e| e.0 == m.key_id) {
                Some(e) => (e.1, e.2) = (e.1.max(m.counter), e.2.max(m.seen)),
                None => v.push((m.key_id, m.counter, m.seen)),
            }
        }
        for &(meter, gw, rssi, seen) in gateways {
            let v = match self.gateways.get_mut(meter) {
                Some(v) => v,
                None => self.gateways.entry(meter.into()).or_default(),
            };
            match v.iter_mut().find(|e| &*e.0 == gw) {
                Some(e) if seen >= e.2 => (e.1, e.2) = (rssi, seen),
                Some(_) => {}
                None => v.push((gw.into(), rssi, seen)),
            }
        }
    }

    /// The `s_met` and `s_mg` streams (sorted by key: the lock order of `FINISH`), `None`
    /// where empty; the summary itself stays until [`Summary::clear`] (after the commit).
    pub fn streams(&self) -> [Option<Bytes>; 2] {
        let mut m: Vec<MeterRow<'_>> = self
            .meters
            .iter()
            .flat_map(|(meter, v)| {
                v.iter().map(move |&(key_id, counter, seen)| MeterRow { meter, key_id, counter, seen, first: None, lo_key: None, hi_key: None, n: 0 })
            })
            .collect();
        m.sort_unstable_by(|a, b| (a.meter, a.key_id).cmp(&(b.meter, b.key_id)));
        let mut g: Vec<(&str, &str, Option<f32>, i64)> =
            self.gateways.iter().flat_map(|(meter, v)| v.iter().map(move |(gw, rssi, seen)| (&**meter, &**gw, *rssi, *seen))).collect();
        g.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        [(!m.is_empty()).then(|| copy::meters(&m).into()), (!g.is_empty()).then(|| copy::gateways(&g).into())]
    }

    /// Forget what was flushed.
    pub fn clear(&mut self) {
        self.meters.clear();
        self.gateways.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn met(meter: &str, counter: Option<u32>, seen: i64) -> MeterRow<'_> {
        MeterRow { meter, key_id: 0, counter, seen, first: counter, lo_key: None, hi_key: None, n: 1 }
    }

    #[test]
    fn merging_keeps_the_highest_counter_and_the_latest_reception() {
        let mut s = Summary::default();
        s.merge(&[met("A", Some(7), 100)], &[("A", "g1", Some(-70.0), 100)]);
        s.merge(&[met("A", Some(5), 300)], &[("A", "g1", Some(-60.0), 90), ("A", "g2", None, 50)]);
        s.merge(&[met("A", None, 200)], &[("A", "g2", Some(-80.0), 50)]);
        assert_eq!(s.meters["A"], [(0, Some(7), 300)]);
        assert_eq!(s.gateways["A"], [("g1".into(), Some(-70.0), 100), ("g2".into(), Some(-80.0), 50)], "a later batch wins a tie");
        assert!(s.streams().iter().all(Option::is_some));
        s.clear();
        assert!(s.is_empty() && s.streams().iter().all(Option::is_none));
    }
}
