//! Payload shapes (issue 15 §1): what gateways actually publish, turned into reception parts.
//!
//! Every shape is a function `payload, topic, now -> Vec<Parsed>`; the LoRaWAN bridge shapes
//! (Lobaro fragment ports, IMST segments) also keep a bounded, timed-out reassembly state per
//! device in a [`Parser`]. One module per shape:
//!
//! | name          | shape                                                                   |
//! |---------------|-------------------------------------------------------------------------|
//! | `hex`         | hex text, one telegram per line (`0x` prefix and blanks allowed)        |
//! | `binary`      | the raw telegram bytes                                                  |
//! | `rtl433`      | rtl_433's Wireless-MBus JSON (`data` from the CI field, CRCs stripped)  |
//! | `rtl-wmbus`   | rtl_wmbus lines `mode;crc;3of6;time;rssi;rssi;id;0x<frame>`             |
//! | `wmbusmeters` | JSON with a `telegram` hex field (wmbusmeters jsonl, the HTTP shape)    |
//! | `chirpstack`  | ChirpStack v4 uplink events (base64 `data`, `rxInfo[]`)                 |
//! | `tts`         | The Things Stack v3 uplinks (`uplink_message.frm_payload`, `rx_metadata`)|
//! | `lobaro`      | either envelope, Lobaro wM-Bus bridge ports 11–99, 101, 102             |
//! | `imst`        | either envelope, IMST range extender segments (port 0x44/0x04)          |
//! | `elvaco`      | Elvaco CMe3100 report rows / CMeX50 hexdump lines                       |
//! | `dlms`        | a DLMS/COSEM push, raw bytes or hex                                     |
//! | `auto`        | detected from the payload                                               |

mod elvaco;
mod hexlines;
mod imst;
mod lobaro;
mod lorawan;
mod rtl433;
mod rtlwmbus;
pub mod time;
mod wmbusmeters;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::reception::{Ack, LinkCrc, Protocol, Reception};

/// One reception parsed out of a payload: a [`crate::reception::Reception`] without the
/// intake's own parts (its name, the acknowledgement).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The receiving gateway, where the payload names it (else the intake decides).
    pub gateway: Option<String>,
    /// Reception time (Unix ms), where the payload has one (else the intake's clock).
    pub received_at_ms: Option<i64>,
    /// dBm.
    pub rssi: Option<f32>,
    /// The telegram bytes.
    pub frame: Vec<u8>,
    /// CRC state of `frame`.
    pub link_crc: LinkCrc,
    /// Which decoder.
    pub protocol: Protocol,
}

impl Parsed {
    /// A bare M-Bus frame with no metadata.
    pub fn mbus(frame: Vec<u8>, link_crc: LinkCrc) -> Self {
        Parsed { gateway: None, received_at_ms: None, rssi: None, frame, link_crc, protocol: Protocol::Mbus }
    }
}

/// Why a payload (or one line of it) could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of a multi-line payload, where one line is to blame.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl ParseError {
    /// An error about the whole payload.
    pub fn new(reason: impl Into<String>) -> Self {
        ParseError { line: None, reason: reason.into() }
    }

    /// The same error, blamed on `line` (1-based).
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for ParseError {}

/// A payload shape (the `parser` names of the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Detect.
    Auto,
    /// Hex text lines.
    Hex,
    /// Raw bytes.
    Binary,
    /// rtl_433 JSON.
    Rtl433,
    /// rtl_wmbus lines.
    RtlWmbus,
    /// JSON with `telegram`.
    Wmbusmeters,
    /// ChirpStack v4 uplink event.
    Chirpstack,
    /// The Things Stack v3 uplink.
    Tts,
    /// Lobaro bridge inside either LoRaWAN envelope.
    Lobaro,
    /// IMST range extender inside either LoRaWAN envelope.
    Imst,
    /// Elvaco CMe rows.
    Elvaco,
    /// DLMS push bytes.
    Dlms,
}

impl FromStr for Shape {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        Ok(match s {
            "auto" => Shape::Auto,
            "hex" => Shape::Hex,
            "binary" => Shape::Binary,
            "rtl433" | "rtl_433" => Shape::Rtl433,
            "rtl-wmbus" | "rtl_wmbus" | "rtlwmbus" => Shape::RtlWmbus,
            "wmbusmeters" | "json" => Shape::Wmbusmeters,
            "chirpstack" => Shape::Chirpstack,
            "tts" | "ttn" => Shape::Tts,
            "lobaro" => Shape::Lobaro,
            "imst" => Shape::Imst,
            "elvaco" => Shape::Elvaco,
            "dlms" => Shape::Dlms,
            other => return Err(ParseError::new(format!("unknown parser {other:?}"))),
        })
    }
}

/// Bounds of the LoRaWAN reassembly state (per [`Parser`]).
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyLimits {
    /// Devices with a telegram in progress, at most (the oldest is dropped beyond).
    pub max_devices: usize,
    /// Bytes buffered for one device, at most.
    pub max_bytes: usize,
    /// A telegram in progress is dropped when its next fragment is this late (ms).
    pub timeout_ms: i64,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        ReassemblyLimits { max_devices: 10_000, max_bytes: 4096, timeout_ms: 15 * 60_000 }
    }
}

/// One device's telegram in progress: fragments by LoRaWAN frame counter.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// (frame counter, fragment index or segment number, bytes).
    pub parts: Vec<(u32, u32, Vec<u8>)>,
    /// Last fragment's arrival (Unix ms).
    pub last_ms: i64,
}

/// A stateful parser: the shapes plus the fragment reassembly of the LoRaWAN bridges.
#[derive(Debug, Default)]
pub struct Parser {
    limits: ReassemblyLimits,
    pending: HashMap<String, Pending>,
}

impl Parser {
    /// A parser with the given reassembly bounds.
    pub fn new(limits: ReassemblyLimits) -> Self {
        Parser { limits, pending: HashMap::new() }
    }

    /// Devices with a telegram in progress.
    pub fn pending_devices(&self) -> usize {
        self.pending.len()
    }

    /// Parse one payload of `shape` that arrived on `topic` at `now_ms`.
    pub fn parse(&mut self, shape: Shape, payload: &[u8], topic: &str, now_ms: i64) -> Result<Vec<Parsed>, ParseError> {
        self.expire(now_ms);
        let shape = if shape == Shape::Auto { detect(payload, topic) } else { shape };
        match shape {
            Shape::Auto | Shape::Hex => hexlines::parse_hex(payload),
            Shape::Binary => Ok(vec![hexlines::parse_binary(payload)]),
            Shape::Rtl433 => rtl433::parse(payload),
            Shape::RtlWmbus => rtlwmbus::parse(payload),
            Shape::Wmbusmeters => wmbusmeters::parse(payload),
            Shape::Elvaco => elvaco::parse(payload, topic),
            Shape::Dlms => hexlines::parse_dlms(payload),
            Shape::Chirpstack | Shape::Tts | Shape::Lobaro | Shape::Imst => self.parse_lorawan(shape, payload, now_ms),
        }
    }

    /// A LoRaWAN envelope, then the bridge's framing by port.
    fn parse_lorawan(&mut self, shape: Shape, payload: &[u8], now_ms: i64) -> Result<Vec<Parsed>, ParseError> {
        let up = lorawan::parse_envelope(payload)?;
        let bridge = match shape {
            Shape::Imst => lorawan::Bridge::Imst,
            Shape::Lobaro => lorawan::Bridge::Lobaro,
            _ => lorawan::Bridge::by_port(up.f_port),
        };
        let max = self.limits.max_bytes;
        let telegrams = match bridge {
            lorawan::Bridge::Plain => Ok(vec![lorawan::Telegram { frame: up.data.clone(), time_ms: None, rssi: None }]),
            lorawan::Bridge::Lobaro => lobaro::feed(self.slot(&up.device, now_ms), &up, max),
            lorawan::Bridge::Imst => imst::feed(self.slot(&up.device, now_ms), &up, max),
        };
        self.pending.retain(|_, p| !p.parts.is_empty());
        Ok(lorawan::receptions(&up, telegrams?))
    }

    /// The device's pending state, making room within the bound first.
    fn slot(&mut self, device: &str, now_ms: i64) -> &mut Pending {
        if !self.pending.contains_key(device) && self.pending.len() >= self.limits.max_devices {
            if let Some(oldest) = self.pending.iter().min_by_key(|(_, p)| p.last_ms).map(|(k, _)| k.clone()) {
                self.pending.remove(&oldest);
            }
        }
        let p = self.pending.entry(device.to_string()).or_default();
        p.last_ms = now_ms;
        p
    }

    /// Drop telegrams whose next fragment is overdue.
    fn expire(&mut self, now_ms: i64) {
        let timeout = self.limits.timeout_ms;
        self.pending.retain(|_, p| now_ms - p.last_ms <= timeout);
    }
}

/// The [`Reception`] of a parsed part: the payload's gateway, else `default_gateway` (the MQTT
/// topic, the intake's name); the payload's time, else `now_ms`.
pub fn to_reception(p: Parsed, intake: &Arc<str>, default_gateway: &str, now_ms: i64, ack: Option<Ack>) -> Reception {
    let gateway = p.gateway.as_deref().unwrap_or(default_gateway).into();
    to_reception_at(p, intake, gateway, now_ms, ack)
}

/// [`to_reception`] with the gateway already resolved (the MQTT intake caches its names).
pub fn to_reception_at(p: Parsed, intake: &Arc<str>, gateway: Arc<str>, now_ms: i64, ack: Option<Ack>) -> Reception {
    Reception {
        intake: intake.clone(),
        gateway,
        received_at_ms: p.received_at_ms.unwrap_or(now_ms),
        rssi: p.rssi,
        frame: p.frame,
        link_crc: p.link_crc,
        protocol: p.protocol,
        ack,
    }
}

/// Guess the shape of a payload (the `auto` parser).
pub fn detect(payload: &[u8], topic: &str) -> Shape {
    let text = std::str::from_utf8(payload).ok().map(str::trim_start);
    let Some(text) = text else { return Shape::Binary };
    if text.starts_with('{') || text.starts_with('[') {
        return detect_json(text);
    }
    if topic.contains("/CMe3100/") || text.starts_with("serial-number;") {
        return Shape::Elvaco;
    }
    let first = text.lines().next().unwrap_or("");
    if rtlwmbus::looks_like(first) {
        return Shape::RtlWmbus;
    }
    if elvaco::looks_like(first) {
        return Shape::Elvaco;
    }
    if !text.is_empty() && text.lines().all(hexlines::is_hex_line) {
        return Shape::Hex;
    }
    Shape::Binary
}

fn detect_json(text: &str) -> Shape {
    // Cheap key probes; the chosen parser validates the whole document.
    if text.contains("\"uplink_message\"") {
        Shape::Tts
    } else if text.contains("\"rxInfo\"") || text.contains("\"deviceInfo\"") {
        Shape::Chirpstack
    } else if text.contains("\"telegram\"") {
        Shape::Wmbusmeters
    } else {
        Shape::Rtl433
    }
}

/// Decode hex text (`0x` prefix, blanks, `:`/`-` separators allowed), in one pass without
/// an intermediate copy (the MQTT hot path).
pub(crate) fn hex_decode(s: &str) -> Result<Vec<u8>, ParseError> {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if let Some(out) = hex_plain(s.as_bytes()) {
        return Ok(out);
    }
    let sep = |b: &u8| matches!(b, b' ' | b'\t' | b':' | b'-');
    let n = s.bytes().filter(|b| !sep(b)).count();
    if n == 0 {
        return Err(ParseError::new("no hex digits"));
    }
    if n % 2 != 0 {
        return Err(ParseError::new(format!("odd number of hex digits ({n})")));
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParseError::new(format!("not a hex digit: {:?}", c as char))),
    };
    let mut out = Vec::with_capacity(n / 2);
    let mut high = None;
    for c in s.bytes().filter(|b| !sep(b)) {
        let v = nib(c)?;
        match high.take() {
            None => high = Some(v),
            Some(h) => out.push(h << 4 | v),
        }
    }
    Ok(out)
}

/// The common case: an even run of hex digits and nothing else; None otherwise (the general
/// path then handles separators and names the error).
fn hex_plain(s: &[u8]) -> Option<Vec<u8>> {
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2).map(|p| Some(nib(p[0])? << 4 | nib(p[1])?)).collect()
}

/// The CRC state of a frame whose L-field tells: `L + 1 == len` means no CRCs.
pub(crate) fn crc_state(frame: &[u8]) -> LinkCrc {
    match frame.first() {
        Some(&l) if l as usize + 1 == frame.len() => LinkCrc::Stripped,
        _ => LinkCrc::Auto,
    }
}

/// A JSON number or numeric string as f32 (RSSI fields).
pub(crate) fn json_f32(v: Option<&serde_json::Value>) -> Option<f32> {
    match v? {
        serde_json::Value::Number(n) => n.as_f64().map(|x| x as f32),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A JSON time: RFC 3339 / `YYYY-MM-DD hh:mm:ss` text, or Unix seconds / ms as a number.
pub(crate) fn json_time(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::String(s) => time::parse_ms(s),
        serde_json::Value::Number(n) => n.as_f64().map(time::unix_number_ms),
        _ => None,
    }
}

/// Parse a JSON document.
pub(crate) fn json(payload: &[u8]) -> Result<serde_json::Value, ParseError> {
    serde_json::from_slice(payload).map_err(|e| ParseError::new(format!("JSON: {e}")))
}

#[cfg(test)]
pub(crate) mod samples {
    //! The telegram every shape's test carries: OMS Vol. 2 Annex N, N.2.1 (security mode 5,
    //! published with its key `0102030405060708090A0B0C0D0E0F11`; CRCs stripped, L = 0x2E),
    //! the same bytes as `tests/vectors/wireless-frames.json` `mode5-oms-annexN-N21`.
    pub const OMS_N21: &str = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3";

    /// The bytes of [`OMS_N21`].
    pub fn oms_n21() -> Vec<u8> {
        super::hex_decode(OMS_N21).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_shape() {
        assert_eq!(detect(b"{\"uplink_message\":{}}", "t"), Shape::Tts);
        assert_eq!(detect(b"{\"deviceInfo\":{},\"rxInfo\":[]}", "t"), Shape::Chirpstack);
        assert_eq!(detect(b"{\"telegram\":\"00\"}", "t"), Shape::Wmbusmeters);
        assert_eq!(detect(b"{\"model\":\"Wireless-MBus\"}", "t"), Shape::Rtl433);
        assert_eq!(detect(samples::OMS_N21.as_bytes(), "t"), Shape::Hex);
        assert_eq!(detect(&samples::oms_n21(), "t"), Shape::Binary);
        assert_eq!(detect(b"T1;1;1;2025-11-11 00:02:32.480483;170;179;A15EFC53;0x1944", "t"), Shape::RtlWmbus);
        assert_eq!(detect(b"x", "a/ecmXv1.0/CMe3100/4001/1/2"), Shape::Elvaco);
    }

    #[test]
    fn hex_decode_accepts_prefix_and_separators_and_rejects_odd() {
        assert_eq!(hex_decode("0x2e 44:93-15").unwrap(), [0x2e, 0x44, 0x93, 0x15]);
        assert_eq!(hex_decode("2e4493Af").unwrap(), [0x2e, 0x44, 0x93, 0xaf]);
        assert!(hex_decode("2e4g").unwrap_err().reason.contains("not a hex digit: 'g'"));
        assert!(hex_decode("2e4").unwrap_err().reason.contains("odd"));
        assert!(hex_decode("zz").unwrap_err().reason.contains("not a hex digit"));
    }

    #[test]
    fn unknown_parser_name_is_an_error() {
        assert!("nope".parse::<Shape>().is_err());
        assert_eq!("rtl_433".parse::<Shape>().unwrap(), Shape::Rtl433);
    }
}
