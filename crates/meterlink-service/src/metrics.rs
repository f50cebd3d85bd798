//! Prometheus metrics (issue 15 §4), one registry per worker, rendered at `/metrics`.
//!
//! CONTRACT (lead-owned; the ops worker adds the HTTP endpoints, alarms and may add metrics).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of per-intake, per-gateway counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// Intake name.
    pub intake: String,
    /// Gateway name.
    pub gateway: String,
}

/// Labels of per-code counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// Error code.
    pub code: String,
}

/// Labels of per-intake counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntakeLabels {
    /// Intake name.
    pub intake: String,
}

/// Labels of per-gateway counters (at most [`GATEWAY_LABELS_MAX`] gateways, then
/// [`OTHER_GATEWAY`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GatewayLabels {
    /// Gateway name.
    pub gateway: String,
}

/// Labels of per-gateway, per-code counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GatewayCodeLabels {
    /// Gateway name.
    pub gateway: String,
    /// Error code.
    pub code: String,
}

/// Labels of per-table counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    /// Table name.
    pub table: String,
}

/// Distinct gateway labels of the per-gateway families (bounded label sets: a scrape stays
/// small whatever a misconfigured intake names its gateways).
pub const GATEWAY_LABELS_MAX: usize = 10_000;
/// The label of every gateway beyond [`GATEWAY_LABELS_MAX`] (parentheses: no MQTT topic or
/// configured name looks like it by accident).
pub const OTHER_GATEWAY: &str = "(other)";

/// Every metric of the service.
#[derive(Default)]
pub struct Metrics {
    /// `meterlink_received_total{intake,gateway}`: receptions taken in (get the counter
    /// through [`Metrics::received_for`], which bounds the gateway labels).
    pub received: Family<SourceLabels, Counter>,
    /// The gateways named in the per-gateway families (at most [`GATEWAY_LABELS_MAX`]).
    gateway_names: std::sync::Mutex<std::collections::HashSet<String>>,
    /// `meterlink_decoded_total`: telegrams decoded (before dedup).
    pub decoded: Counter,
    /// `meterlink_stored_total`: telegrams stored.
    pub stored: Counter,
    /// `meterlink_duplicates_total`: receptions of a telegram already stored.
    pub duplicates: Counter,
    /// `meterlink_replays_total`: replayed counters.
    pub replays: Counter,
    /// `meterlink_decrypt_failures_total`.
    pub decrypt_failures: Counter,
    /// `meterlink_rejected_total{code}`.
    pub rejected: Family<CodeLabels, Counter>,
    /// `meterlink_qos0_dropped_total{intake}`: QoS 0 / UDP receptions dropped on a full queue.
    pub qos0_dropped: Family<IntakeLabels, Counter>,
    /// `meterlink_mqtt_subscribed{intake}`: 1 while the MQTT intake is connected and its
    /// subscriptions are acknowledged, else 0.
    pub mqtt_subscribed: Family<IntakeLabels, Gauge>,
    /// `meterlink_mqtt_reconnects_total{intake}`: MQTT connections ended by an error (and made
    /// again).
    pub mqtt_reconnects: Family<IntakeLabels, Counter>,
    /// `meterlink_queue_depth`: receptions waiting for the pipeline.
    pub queue_depth: Gauge,
    /// `meterlink_store_lag_ms`: age of the oldest reception of the last committed batch.
    pub store_lag_ms: Gauge,
    /// `meterlink_batches_total`: committed transactions.
    pub batches: Counter,
    /// `meterlink_silent_gateways`: gateways not heard for `[alarms] gateway_silence_s`.
    pub silent_gateways: Gauge,
    /// `meterlink_silent_meters`: meters not heard for `[alarms] meter_silence_s`.
    pub silent_meters: Gauge,
    /// `meterlink_gateway_stored_total{gateway}`: telegrams stored, by the gateway of their
    /// first reception.
    pub gateway_stored: Family<GatewayLabels, Counter>,
    /// `meterlink_gateway_duplicates_total{gateway}`: receptions that stored no telegram of
    /// their own (another reception of the same radio telegram did).
    pub gateway_duplicates: Family<GatewayLabels, Counter>,
    /// `meterlink_gateway_rejected_total{gateway,code}`: rejected receptions.
    pub gateway_rejected: Family<GatewayCodeLabels, Counter>,
    /// `meterlink_parquet_rows_total`: telegrams written to the Parquet sink.
    pub parquet_rows: Counter,
    /// `meterlink_parquet_dropped_total`: stored telegrams the Parquet sink dropped (behind,
    /// or a write failed); they are in the database.
    pub parquet_dropped: Counter,
    /// `meterlink_pruned_total{table}`: rows deleted by retention (`telegrams`, `rejected`).
    pub pruned: Family<TableLabels, Counter>,
}

impl Metrics {
    /// The `gateway` label of every per-gateway series: the gateway itself for the first
    /// [`GATEWAY_LABELS_MAX`] gateways named, [`OTHER_GATEWAY`] for the rest (a gateway name
    /// comes from the payload or topic, so a misbehaving publisher could otherwise grow the
    /// label sets, and every scrape, without bound).
    pub fn gateway_label<'a>(&self, gateway: &'a str) -> &'a str {
        let mut named = self.gateway_names.lock().unwrap_or_else(|p| p.into_inner());
        if named.contains(gateway) || (named.len() < GATEWAY_LABELS_MAX && named.insert(gateway.to_string())) {
            gateway
        } else {
            OTHER_GATEWAY
        }
    }

    /// The `received` counter of (intake, gateway), its gateway label bounded
    /// ([`Metrics::gateway_label`]).
    pub fn received_for(&self, intake: &str, gateway: &str) -> Counter {
        let labels = SourceLabels { intake: intake.to_string(), gateway: self.gateway_label(gateway).to_string() };
        self.received.get_or_create(&labels).clone()
    }

    /// Register every metric in `registry` under `meterlink_`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("meterlink");
        r.register("received", "Receptions taken in", self.received.clone());
        r.register("decoded", "Telegrams decoded", self.decoded.clone());
        r.register("stored", "Telegrams stored", self.stored.clone());
        r.register("duplicates", "Receptions of a telegram already stored", self.duplicates.clone());
        r.register("replays", "Telegrams with a replayed counter", self.replays.clone());
        r.register("decrypt_failures", "Telegrams that failed decryption or verification", self.decrypt_failures.clone());
        r.register("rejected", "Rejected receptions by error code", self.rejected.clone());
        r.register("qos0_dropped", "QoS 0 / UDP receptions dropped on a full queue", self.qos0_dropped.clone());
        r.register("mqtt_subscribed", "1 while the MQTT intake is connected and subscribed", self.mqtt_subscribed.clone());
        r.register("mqtt_reconnects", "MQTT connections ended by an error", self.mqtt_reconnects.clone());
        r.register("queue_depth", "Receptions waiting for the pipeline", self.queue_depth.clone());
        r.register("store_lag_ms", "Age of the oldest reception of the last committed batch (ms)", self.store_lag_ms.clone());
        r.register("batches", "Committed store transactions", self.batches.clone());
        r.register("silent_gateways", "Gateways silent longer than the configured alarm time", self.silent_gateways.clone());
        r.register("silent_meters", "Meters silent longer than the configured alarm time", self.silent_meters.clone());
        r.register("gateway_stored", "Telegrams stored, by the gateway of their first reception", self.gateway_stored.clone());
        r.register("gateway_duplicates", "Receptions of a telegram another reception stored, by gateway", self.gateway_duplicates.clone());
        r.register("gateway_rejected", "Rejected receptions by gateway and error code", self.gateway_rejected.clone());
        r.register("parquet_rows", "Telegrams written to the Parquet sink", self.parquet_rows.clone());
        r.register("parquet_dropped", "Stored telegrams the Parquet sink dropped", self.parquet_dropped.clone());
        r.register("pruned", "Rows deleted by retention", self.pruned.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past [`GATEWAY_LABELS_MAX`] gateways, `received` counts under `(other)`; the gateways
    /// seen before keep their own label, and nothing is lost from the totals.
    #[test]
    fn received_gateway_labels_are_bounded() {
        let m = Metrics::default();
        for i in 0..GATEWAY_LABELS_MAX + 50 {
            m.received_for("mqtt", &format!("gw-{i}")).inc();
        }
        m.received_for("mqtt", "gw-0").inc();
        m.received_for("http", "gw-0").inc();
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("meterlink_received_total{")).collect();
        // GATEWAY_LABELS_MAX gateways on mqtt, (other) on mqtt, gw-0 on http.
        assert_eq!(rows.len(), GATEWAY_LABELS_MAX + 2);
        let value = |labels: &str| rows.iter().find(|l| l.contains(labels)).and_then(|l| l.rsplit(' ').next()).map(str::to_string);
        assert_eq!(value(r#"gateway="(other)",intake="mqtt""#).or_else(|| value(r#"intake="mqtt",gateway="(other)""#)).as_deref(), Some("50"));
        let total: u64 = rows.iter().filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok()).sum();
        assert_eq!(total, GATEWAY_LABELS_MAX as u64 + 52);
    }
}
