//! The service configuration: one TOML file (issue 15 §1), validated with the offending TOML
//! path in every error. With no file at all, [`Config::default`] is the embedded head-end:
//! an embedded MQTT broker on 127.0.0.1:1883 with an intake subscribed to `telegrams/#`
//! (payload shapes detected), HTTP `POST /telegrams` (and `/metrics`, `/health`) on
//! 127.0.0.1:8080, SQLite `meterlink.db` in the working directory.
//!
//! ```toml
//! [service]
//! worker = "w1"                  # names this worker in logs and rows
//! [keys]
//! files = ["keys.csv"]           # hot-reloaded when they change
//! [store]
//! kind = "postgres"              # or "sqlite" (default) with path = "meterlink.db"
//! url = "postgres://meterlink@localhost/meterlink"
//! retention_days = 90            # prune older telegrams and rejections hourly (meters kept)
//! # retention_minutes = 30        # or minutes (staging, soaks): pruned every quarter period
//! [parquet]
//! dir = "/data/meterlink"        # hourly Parquet files of the stored telegrams
//! [broker]
//! embedded = false               # use an external broker
//! [[mqtt]]
//! url = "mqtt://broker:1883"     # mqtts:// for TLS
//! topics = ["gw/+/rx"]
//! share_group = "meterlink"      # $share/meterlink/gw/+/rx across workers
//! parsers = [{ topic = "lora/#", parser = "chirpstack" }]
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ServiceError;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Worker-wide settings.
    pub service: ServiceSection,
    /// Key files.
    pub keys: KeysSection,
    /// Dedup across receivers.
    pub dedup: DedupSection,
    /// Where rows go.
    pub store: StoreSection,
    /// The embedded broker.
    pub broker: BrokerSection,
    /// MQTT intakes.
    pub mqtt: Vec<MqttIntake>,
    /// HTTP intakes (also serve `/metrics` and `/health`).
    pub http: Vec<HttpIntake>,
    /// TCP line intakes.
    pub tcp: Vec<LineIntake>,
    /// UDP line intakes.
    pub udp: Vec<LineIntake>,
    /// File / directory intakes.
    pub files: Vec<FileIntake>,
    /// Silence alarms.
    pub alarms: AlarmsSection,
    /// Optional Parquet sink (hourly files, the `meterlink bulk` schema).
    pub parquet: Option<ParquetSection>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service: ServiceSection::default(),
            keys: KeysSection::default(),
            dedup: DedupSection::default(),
            store: StoreSection::default(),
            broker: BrokerSection::default(),
            mqtt: vec![MqttIntake::default()],
            http: vec![HttpIntake::default()],
            tcp: Vec::new(),
            udp: Vec::new(),
            files: Vec::new(),
            alarms: AlarmsSection::default(),
            parquet: None,
        }
    }
}

/// `[service]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSection {
    /// This worker's name.
    pub worker: String,
    /// Receptions waiting for the pipeline, at most (bounded memory; intakes wait beyond it).
    pub queue_capacity: usize,
    /// Rows per store transaction, at most.
    pub batch_max: usize,
    /// A batch is written at the latest this long after its first reception (ms).
    pub batch_interval_ms: u64,
    /// Group commit: write the batch as soon as the queue is empty and the store is free, not
    /// only at `batch_max` or `batch_interval_ms` (sooner acknowledgements; default on).
    pub group_commit: bool,
    /// `json` (structured) or `text` logs on stderr.
    pub log_format: String,
}

impl Default for ServiceSection {
    fn default() -> Self {
        ServiceSection {
            worker: "meterlink".into(),
            queue_capacity: 65_536,
            batch_max: 10_000,
            batch_interval_ms: 200,
            group_commit: true,
            log_format: "text".into(),
        }
    }
}

/// `[keys]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// Key files (`meterlink` key-store CSV/JSON), re-read when they change.
    pub files: Vec<PathBuf>,
}

/// `[dedup]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DedupSection {
    /// Receptions of one telegram within this many seconds are one telegram.
    pub window_s: f64,
}

impl Default for DedupSection {
    fn default() -> Self {
        DedupSection { window_s: 10.0 }
    }
}

/// `[store]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// `sqlite` or `postgres`.
    pub kind: String,
    /// SQLite file.
    pub path: PathBuf,
    /// PostgreSQL connection string.
    pub url: Option<String>,
    /// Delete telegrams (with their readings and receptions) and rejections older than this
    /// many days, at start and hourly, in chunks (0 = keep everything; `meters` is always kept).
    pub retention_days: u32,
    /// The same in minutes, for short-lived databases (staging, soak runs), pruned every
    /// quarter of the period (at least every minute); not together with `retention_days`.
    pub retention_minutes: u32,
}

impl StoreSection {
    /// How long rows are kept (`None`: for ever).
    pub fn retention(&self) -> Option<std::time::Duration> {
        let secs = u64::from(self.retention_days) * 86_400 + u64::from(self.retention_minutes) * 60;
        (secs > 0).then(|| std::time::Duration::from_secs(secs))
    }
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection { kind: "sqlite".into(), path: "meterlink.db".into(), url: None, retention_days: 0, retention_minutes: 0 }
    }
}

/// `[broker]`: the embedded MQTT broker.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerSection {
    /// Run it.
    pub embedded: bool,
    /// Where it listens.
    pub listen: String,
}

impl Default for BrokerSection {
    fn default() -> Self {
        BrokerSection { embedded: true, listen: "127.0.0.1:1883".into() }
    }
}

/// A topic pattern → payload parser mapping.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicParser {
    /// MQTT topic filter (`+`, `#`).
    pub topic: String,
    /// Parser name: `auto`, `hex`, `binary`, `rtl433`, `wmbusmeters`, `chirpstack`, `tts`,
    /// `lobaro`, `imst`, `elvaco`, `dlms`.
    pub parser: String,
}

/// `[[mqtt]]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttIntake {
    /// Name (metrics label, `intake` column).
    pub name: String,
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Topic filters.
    pub topics: Vec<String>,
    /// 0 or 1.
    pub qos: u8,
    /// `$share/<group>/` prefix for scale-out across workers.
    pub share_group: Option<String>,
    /// Client ID (persistent sessions need a stable one); default `meterlink-<worker>`.
    pub client_id: Option<String>,
    /// Keep the session (and its queued QoS 1 messages) across reconnects and restarts.
    pub persistent_session: bool,
    /// Credentials.
    pub username: Option<String>,
    /// Credentials.
    pub password: Option<String>,
    /// CA certificate (PEM) for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM).
    pub client_key: Option<PathBuf>,
    /// Topic → parser mapping; the first match wins; otherwise `default_parser`.
    pub parsers: Vec<TopicParser>,
    /// Parser when no mapping matches.
    pub default_parser: String,
    /// MQTT keep-alive in seconds (CONNECT; PINGREQ when due), 5 to 65,535; default 30. Any
    /// packet from the broker counts as an answer to an outstanding PINGREQ (decisions:
    /// "MQTT keep-alive under a backlog").
    pub keep_alive_secs: u32,
}

impl Default for MqttIntake {
    fn default() -> Self {
        MqttIntake {
            name: "mqtt".into(),
            url: "mqtt://127.0.0.1:1883".into(),
            topics: vec!["telegrams/#".into()],
            qos: 1,
            share_group: None,
            client_id: None,
            persistent_session: true,
            username: None,
            password: None,
            ca_file: None,
            client_cert: None,
            client_key: None,
            parsers: Vec::new(),
            default_parser: "auto".into(),
            keep_alive_secs: 30,
        }
    }
}

/// `[[http]]`: `POST /telegrams` (JSON or hex lines), `/metrics`, `/health`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpIntake {
    /// Name.
    pub name: String,
    /// `host:port`.
    pub listen: String,
}

impl Default for HttpIntake {
    fn default() -> Self {
        HttpIntake { name: "http".into(), listen: "127.0.0.1:8080".into() }
    }
}

/// `[[tcp]]` / `[[udp]]`: one telegram per line (hex, or rtl-wmbus output).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LineIntake {
    /// Name (also the gateway name of its receptions).
    pub name: String,
    /// `host:port`.
    pub listen: String,
    /// `auto`, `hex`, `rtl-wmbus`, `wmbusmeters`.
    #[serde(default = "auto")]
    pub parser: String,
}

/// `[[files]]`: an archive file or a directory of them, as `meterlink bulk` reads them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileIntake {
    /// Name (also the gateway name).
    pub name: String,
    /// A file, or a directory (every file in it, then new ones as they appear).
    pub path: PathBuf,
    /// `auto`, `hex`, `rtl-wmbus`, `wmbusmeters`, `parquet`.
    #[serde(default = "auto")]
    pub format: String,
    /// Stop after reading (true) or watch for more (false).
    #[serde(default)]
    pub once: bool,
}

fn auto() -> String {
    "auto".into()
}

/// `[alarms]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmsSection {
    /// Alarm when a gateway has not been heard for this long (s; 0 = off).
    pub gateway_silence_s: u64,
    /// Alarm when a meter has not been heard for this long (s; 0 = off).
    pub meter_silence_s: u64,
}

/// `[parquet]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParquetSection {
    /// Directory of the hourly files (`YYYY/MM/DD/HH.parquet`, the `meterlink bulk` schema;
    /// created when missing).
    pub dir: PathBuf,
}

impl Config {
    /// Parse TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ServiceError> {
        let c: Config = toml::from_str(text).map_err(|e| ServiceError::Config {
            path: e.span().map(|s| format!("bytes {}..{}", s.start, s.end)).unwrap_or_default(),
            reason: e.message().to_string(),
        })?;
        c.validate()?;
        Ok(c)
    }

    /// Read and parse a TOML file.
    pub fn from_file(path: &str) -> Result<Self, ServiceError> {
        let text = std::fs::read_to_string(Path::new(path)).map_err(|e| ServiceError::Config { path: path.into(), reason: e.to_string() })?;
        Self::from_toml_str(&text)
    }

    /// Check the values TOML's types cannot: kinds, ranges, listen addresses, URLs, names.
    pub fn validate(&self) -> Result<(), ServiceError> {
        let bad = |path: String, reason: &str| Err(ServiceError::Config { path, reason: reason.into() });
        if !matches!(self.store.kind.as_str(), "sqlite" | "postgres") {
            return bad("store.kind".into(), "must be \"sqlite\" or \"postgres\"");
        }
        if self.store.kind == "postgres" && self.store.url.is_none() {
            return bad("store.url".into(), "a PostgreSQL store needs a connection URL");
        }
        if self.store.retention_days > 0 && self.store.retention_minutes > 0 {
            return bad("store.retention_minutes".into(), "set retention_days or retention_minutes, not both");
        }
        if !(self.dedup.window_s.is_finite() && self.dedup.window_s >= 0.0) {
            return bad("dedup.window_s".into(), "must be a non-negative number of seconds");
        }
        if !matches!(self.service.log_format.as_str(), "json" | "text") {
            return bad("service.log_format".into(), "must be \"json\" or \"text\"");
        }
        if self.service.queue_capacity == 0 || self.service.batch_max == 0 {
            return bad("service".into(), "queue_capacity and batch_max must be positive");
        }
        for (i, m) in self.mqtt.iter().enumerate() {
            if m.qos > 1 {
                return bad(format!("mqtt[{i}].qos"), "must be 0 or 1");
            }
            if !(5..=65_535).contains(&m.keep_alive_secs) {
                return bad(format!("mqtt[{i}].keep_alive_secs"), "must be 5 to 65535 (MQTT's two-byte keep-alive)");
            }
            if !(m.url.starts_with("mqtt://") || m.url.starts_with("mqtts://")) {
                return bad(format!("mqtt[{i}].url"), "must start with mqtt:// or mqtts://");
            }
            if m.topics.is_empty() {
                return bad(format!("mqtt[{i}].topics"), "subscribe to at least one topic");
            }
        }
        let listens = self.http.iter().map(|h| ("http", &h.listen)).chain(self.tcp.iter().map(|t| ("tcp", &t.listen))).chain(self.udp.iter().map(|u| ("udp", &u.listen)));
        for (i, (kind, l)) in listens.enumerate() {
            if l.parse::<std::net::SocketAddr>().is_err() {
                return bad(format!("{kind}[{i}].listen"), "must be host:port with an IP address");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_head_end() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c, Config::default());
        assert!(c.broker.embedded);
        assert_eq!(c.mqtt[0].topics, ["telegrams/#"]);
        assert_eq!(c.http[0].listen, "127.0.0.1:8080");
        assert_eq!(c.store.path, PathBuf::from("meterlink.db"));
    }

    #[test]
    fn errors_name_the_path() {
        let e = Config::from_toml_str("[store]\nkind = \"mysql\"").unwrap_err();
        assert!(e.to_string().contains("store.kind"), "{e}");
        let e = Config::from_toml_str("[[mqtt]]\nurl = \"tcp://x\"").unwrap_err();
        assert!(e.to_string().contains("mqtt[0].url"), "{e}");
        let e = Config::from_toml_str("[[mqtt]]\nkeep_alive_secs = 2").unwrap_err();
        assert!(e.to_string().contains("mqtt[0].keep_alive_secs"), "{e}");
        assert_eq!(Config::from_toml_str("[[mqtt]]\nkeep_alive_secs = 90").unwrap().mqtt[0].keep_alive_secs, 90);
        let e = Config::from_toml_str("[servce]\nworker = \"x\"").unwrap_err();
        assert_eq!(e.code(), "service_config");
    }

    #[test]
    fn retention_in_days_or_minutes() {
        let days = Config::from_toml_str("[store]\nretention_days = 90").unwrap();
        assert_eq!(days.store.retention(), Some(std::time::Duration::from_secs(90 * 86_400)));
        let minutes = Config::from_toml_str("[store]\nretention_minutes = 30").unwrap();
        assert_eq!(minutes.store.retention(), Some(std::time::Duration::from_secs(1_800)));
        assert_eq!(Config::default().store.retention(), None);
        let e = Config::from_toml_str("[store]\nretention_days = 1\nretention_minutes = 30").unwrap_err();
        assert!(e.to_string().contains("store.retention_minutes"), "{e}");
    }
}
