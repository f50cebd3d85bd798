//! The client side of the optimistic and decided paths (issue 15 §3, §5): once it is known which
//! telegrams of a batch are duplicates or replays ([`super::sql::DECIDE`]), everything else is
//! plain rows: the new telegrams, their readings and receptions go by binary COPY straight into
//! the tables (sorted by primary key), the rest (receptions of duplicates, rejections, the
//! `meters` / `meter_gateways` aggregates, one row per meter and per (meter, gateway)) into
//! small staging tables for one upsert statement ([`super::sql::FINISH`]).

use std::collections::HashMap;

use bytes::Bytes;

use super::copy;
use crate::store::schema::{KeyMap, KEY_COUNTER};
use crate::store::{Batch, ReceptionRow, RejectedRow, TelegramRow, WriteReport};

/// What the database decided for one telegram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not stored yet: insert it with its readings and receptions.
    New,
    /// Stored already (under this key): only its receptions are added.
    Dup([u8; 16]),
    /// Its counter is not above its meter's last one: a `replayed_counter` rejection.
    Replay,
}

/// Per dedup key: its telegram's index, its first reception's index, the earliest and the
/// latest reception time.
pub struct Spans(KeyMap<(usize, Option<usize>, i64, i64)>);

impl Spans {
    /// Index a batch.
    pub fn of(b: &Batch) -> Spans {
        let mut m: KeyMap<(usize, Option<usize>, i64, i64)> = KeyMap::with_capacity_and_hasher(b.telegrams.len(), Default::default());
        for (i, t) in b.telegrams.iter().enumerate() {
            m.insert(t.dedup_key, (i, None, i64::MAX, i64::MIN));
        }
        for (i, r) in b.receptions.iter().enumerate() {
            if let Some(e) = m.get_mut(&r.dedup_key) {
                e.1.get_or_insert(i);
                e.2 = e.2.min(r.received_at_ms);
                e.3 = e.3.max(r.received_at_ms);
            }
        }
        Spans(m)
    }

    /// The telegram index of a key.
    pub fn telegram(&self, key: &[u8; 16]) -> Option<usize> {
        self.0.get(key).map(|e| e.0)
    }

    /// The span of a telegram's reception times (its own time when it has none).
    pub fn span(&self, t: &TelegramRow) -> (i64, i64) {
        match self.0.get(&t.dedup_key) {
            Some(&(_, Some(_), lo, hi)) => (lo, hi),
            _ => (t.received_at_ms, t.received_at_ms),
        }
    }

    /// A telegram's first reception in batch order.
    pub fn first<'a>(&self, b: &'a Batch, t: &TelegramRow) -> Option<&'a ReceptionRow> {
        self.0.get(&t.dedup_key).and_then(|e| e.1).map(|i| &b.receptions[i])
    }
}

/// A `meter_gateways` row: meter, gateway, RSSI, last seen.
pub type GatewayRow<'a> = (&'a str, &'a str, Option<f32>, i64);

/// Where `meters` / `meter_gateways` go (decisions "Deferred summaries", "Split summaries").
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Summaries {
    /// Staged for this batch's `FINISH`.
    PerBatch,
    /// The default: the `meters` rows that carry a counter staged for this batch's `FINISH`
    /// (the replay floor stays current in the database, with the row locks that keep two
    /// workers apart); the counter-less `meters` rows and every `meter_gateways` row (last
    /// seen, RSSI: nothing a decision reads) returned for the store's deferred summary.
    Split,
    /// Returned for the store's summary; `s_met` staged only for the optimistic trap.
    Deferred {
        /// The optimistic path (its trap reads `s_met`).
        trap: bool,
    },
}

/// The COPY streams of a decided batch and its report.
pub struct Plan<'a> {
    /// Straight into `telegrams`, `receptions`, `readings` (new telegrams only).
    pub direct: [Option<Bytes>; 3],
    /// Into the staging tables `s_rec`, `s_rej`, `s_met`, `s_mg`.
    pub staged: [Option<Bytes>; 4],
    /// The report, `rejected` still to be counted by the database.
    pub report: WriteReport,
    /// The summary rows when deferred (for the store's in-memory summary).
    pub summary: Option<(Vec<copy::MeterRow<'a>>, Vec<GatewayRow<'a>>)>,
    /// The staged `s_met` / `s_mg` rows are upserted by `FINISH` (per batch, split); with
    /// everything deferred `s_met` is staged only for the optimistic trap.
    pub upsert: bool,
}

fn nonempty(v: Vec<u8>, rows: usize) -> Option<Bytes> {
    (rows > 0).then(|| v.into())
}

/// The replay rejection of a telegram (as the SQLite store writes it).
pub fn replay_row(t: &TelegramRow, first: Option<&ReceptionRow>) -> RejectedRow {
    RejectedRow {
        received_at_ms: t.received_at_ms,
        gateway: first.map_or_else(|| t.worker.clone(), |r| r.gateway.clone()),
        intake: first.map_or_else(|| t.worker.clone(), |r| r.intake.clone()),
        code: "replayed_counter",
        reason: format!(
            "replayed counter: {} {} (key ID {}) sent counter {}, not above the last accepted one",
            t.protocol,
            t.meter,
            t.key_id,
            t.counter.unwrap_or(0)
        ),
        offset: None,
        meter: Some(t.meter.clone()),
        frame: t.frame.clone(),
    }
}

/// Apply the verdicts (one per telegram, batch order) to a batch, summaries per batch.
pub fn plan<'a>(b: &'a Batch, spans: &Spans, verdicts: &[Verdict]) -> Plan<'a> {
    plan_with(b, spans, verdicts, Summaries::PerBatch)
}

/// [`plan`] with the summaries staged or returned.
pub fn plan_with<'a>(b: &'a Batch, spans: &Spans, verdicts: &[Verdict], summaries: Summaries) -> Plan<'a> {
    let (new, telegrams) = telegrams(b, verdicts);
    let mut p = rest(b, spans, verdicts, &new, summaries);
    p.direct[0] = telegrams;
    p
}

/// The first part of a plan: the new telegrams, sorted by key, and their `telegrams` COPY
/// stream (the store sends it while [`rest`] builds the others on another thread).
pub fn telegrams<'a>(b: &'a Batch, verdicts: &[Verdict]) -> (Vec<&'a TelegramRow>, Option<Bytes>) {
    let mut new = new_telegrams(b, verdicts);
    new.sort_unstable_by_key(|t| t.dedup_key);
    let data = nonempty(copy::telegrams_direct(&new), new.len());
    (new, data)
}

/// The rest of a plan for the `new` telegrams of [`telegrams`] (its `direct[0]` empty).
pub fn rest<'a>(b: &'a Batch, spans: &Spans, verdicts: &[Verdict], new: &[&'a TelegramRow], summaries: Summaries) -> Plan<'a> {
    let verdict = |key: &[u8; 16]| spans.telegram(key).map(|i| verdicts[i]);
    let mut readings: Vec<_> = b.readings.iter().filter(|r| verdict(&r.dedup_key) == Some(Verdict::New)).collect();
    readings.sort_unstable_by_key(|r| (r.dedup_key, r.idx));
    let (mut own, mut dup) = (Vec::with_capacity(b.receptions.len()), Vec::new());
    for r in &b.receptions {
        match verdict(&r.dedup_key) {
            Some(Verdict::New) => own.push((r.dedup_key, r)),
            Some(Verdict::Dup(k)) => dup.push((k, r)),
            _ => {}
        }
    }
    own.sort_unstable_by(|a, b| (a.0, &a.1.gateway, a.1.received_at_ms).cmp(&(b.0, &b.1.gateway, b.1.received_at_ms)));
    let replays: Vec<RejectedRow> = b
        .telegrams
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| **v == Verdict::Replay)
        .map(|(t, _)| replay_row(t, spans.first(b, t)))
        .collect();
    let rejected: Vec<&RejectedRow> = b.rejected.iter().chain(&replays).collect();
    let meters = meters(new, spans);
    let (met, mg, summary) = match summaries {
        Summaries::PerBatch => {
            let gateways = gateways(b, spans, verdicts);
            (nonempty(copy::meters(&meters), meters.len()), nonempty(copy::gateways(&gateways), gateways.len()), None)
        }
        Summaries::Split => {
            let (counted, rest): (Vec<_>, Vec<_>) = meters.into_iter().partition(|m| m.counter.is_some());
            (nonempty(copy::meters(&counted), counted.len()), None, Some((rest, gateways(b, spans, verdicts))))
        }
        Summaries::Deferred { trap } => {
            let met = if trap { nonempty(copy::meters(&meters), meters.len()) } else { None };
            (met, None, Some((meters, gateways(b, spans, verdicts))))
        }
    };
    Plan {
        direct: [
            None,
            nonempty(copy::receptions(&own), own.len()),
            nonempty(copy::readings(&readings), readings.len()),
        ],
        staged: [nonempty(copy::receptions(&dup), dup.len()), nonempty(copy::rejected(&rejected), rejected.len()), met, mg],
        report: WriteReport { stored: new.len(), duplicates: dup_count(verdicts), replays: replays.len(), rejected: 0 },
        summary,
        upsert: !matches!(summaries, Summaries::Deferred { .. }),
    }
}

fn dup_count(verdicts: &[Verdict]) -> usize {
    verdicts.iter().filter(|v| matches!(v, Verdict::Dup(_))).count()
}

/// One `meters` row per (meter, key id) of the stored telegrams: the highest counter, the
/// latest reception, the lowest counter and its key with the number of counter keys (the
/// optimistic path's replay traps); sorted by key (lock order between workers).
pub fn meters<'a>(new: &[&'a TelegramRow], spans: &Spans) -> Vec<copy::MeterRow<'a>> {
    let mut m: HashMap<(&str, u8), copy::MeterRow<'a>> = HashMap::with_capacity(new.len());
    for t in new {
        let e = m.entry((t.meter.as_str(), t.key_id)).or_insert(copy::MeterRow {
            meter: t.meter.as_str(),
            key_id: t.key_id,
            counter: None,
            seen: i64::MIN,
            first: None,
            lo_key: None,
            hi_key: None,
            n: 0,
        });
        e.counter = e.counter.max(t.counter);
        e.seen = e.seen.max(spans.span(t).1);
        if t.dedup_key[0] == KEY_COUNTER {
            e.n += 1;
            if e.lo_key.is_none_or(|k| t.dedup_key < k) {
                e.lo_key = Some(t.dedup_key);
            }
            if e.hi_key.is_none_or(|k| t.dedup_key > k) {
                e.hi_key = Some(t.dedup_key);
            }
        }
        e.first = match (e.first, t.counter) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let mut v: Vec<_> = m.into_values().collect();
    v.sort_unstable_by(|a, b| (a.meter, a.key_id).cmp(&(b.meter, b.key_id)));
    v
}

/// The new telegrams of a decided batch.
pub fn new_telegrams<'a>(b: &'a Batch, verdicts: &[Verdict]) -> Vec<&'a TelegramRow> {
    b.telegrams.iter().zip(verdicts).filter(|(_, v)| **v == Verdict::New).map(|(t, _)| t).collect()
}

/// One `meter_gateways` row per (meter, gateway) heard in the batch: the latest reception
/// (the last in batch order among equal times, as SQLite); sorted by key.
pub fn gateways<'a>(b: &'a Batch, spans: &Spans, verdicts: &[Verdict]) -> Vec<GatewayRow<'a>> {
    let mut m: HashMap<(&str, &str), (i64, Option<f32>)> = HashMap::with_capacity(b.telegrams.len());
    for r in &b.receptions {
        let Some(ti) = spans.telegram(&r.dedup_key) else { continue };
        if verdicts[ti] == Verdict::Replay {
            continue;
        }
        let e = m.entry((b.telegrams[ti].meter.as_str(), &*r.gateway)).or_insert((i64::MIN, None));
        if r.received_at_ms >= e.0 {
            *e = (r.received_at_ms, r.rssi);
        }
    }
    let mut v: Vec<_> = m.into_iter().map(|((meter, gw), (at, rssi))| (meter, gw, rssi, at)).collect();
    v.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    v
}
