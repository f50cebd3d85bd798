//! LoRaWAN network-server envelopes carrying wM-Bus telegrams from LoRaWAN bridges:
//! ChirpStack v4 uplink events (`deviceInfo.devEui`, `fCnt`, `fPort`, base64 `data`,
//! `rxInfo[].gatewayId/rssi/gwTime`) and The Things Stack v3 uplinks (`end_device_ids`,
//! `uplink_message.f_cnt/f_port/frm_payload`, `rx_metadata[].gateway_ids.gateway_id/rssi/time`).
//! Protobuf JSON omits zero values, so a missing `fCnt`/`fPort` is 0.
//!
//! One reception per receiving LoRaWAN gateway, named `<device>/<gateway>`: the bridge is the
//! wM-Bus receiver, the gateway the hop that heard it.

use base64::Engine;
use serde_json::Value;

use super::{json_f32, json_time, ParseError, Parsed};
use crate::reception::LinkCrc;

/// One uplink, envelope removed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Uplink {
    /// DevEUI (or the device ID).
    pub device: String,
    /// LoRaWAN frame counter.
    pub f_cnt: u32,
    /// LoRaWAN port.
    pub f_port: u32,
    /// FRMPayload.
    pub data: Vec<u8>,
    /// The network server's time of the uplink.
    pub time_ms: Option<i64>,
    /// Receiving gateways.
    pub rx: Vec<Rx>,
}

/// One gateway's reception of an uplink.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rx {
    pub gateway: String,
    pub rssi: Option<f32>,
    pub time_ms: Option<i64>,
}

/// A wM-Bus telegram out of a bridge's framing, with what the bridge adds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Telegram {
    pub frame: Vec<u8>,
    /// The bridge's wM-Bus reception time.
    pub time_ms: Option<i64>,
    /// The bridge's wM-Bus RSSI.
    pub rssi: Option<f32>,
}

/// How a bridge frames telegrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bridge {
    /// The payload is one whole telegram.
    Plain,
    /// Lobaro: port 10·part + total (11–99), or 101/102 with a control byte.
    Lobaro,
    /// IMST: segment control byte, time-stamped length-prefixed packets.
    Imst,
}

impl Bridge {
    /// Lobaro's ports when the parser is a bare envelope (`chirpstack`, `tts`); IMST needs
    /// the `imst` parser (its port 0x44 is also Lobaro's "part 6 of 8").
    pub fn by_port(port: u32) -> Bridge {
        let lobaro_split = (11..=99).contains(&port) && port % 10 != 0 && port / 10 <= port % 10;
        if lobaro_split || port == 101 || port == 102 {
            Bridge::Lobaro
        } else {
            Bridge::Plain
        }
    }
}

/// Either envelope, told apart by its keys.
pub(crate) fn parse_envelope(payload: &[u8]) -> Result<Uplink, ParseError> {
    let v = super::json(payload)?;
    if v.get("uplink_message").is_some() {
        tts(&v)
    } else if v.get("rxInfo").is_some() || v.get("deviceInfo").is_some() {
        chirpstack(&v)
    } else {
        Err(ParseError::new("neither a ChirpStack v4 uplink event nor a The Things Stack uplink"))
    }
}

fn b64(s: Option<&str>) -> Result<Vec<u8>, ParseError> {
    let s = s.ok_or_else(|| ParseError::new("no payload (base64 `data` / `frm_payload`)"))?;
    base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|e| ParseError::new(format!("base64: {e}")))
}

fn u32_of(v: Option<&Value>) -> u32 {
    v.and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn chirpstack(v: &Value) -> Result<Uplink, ParseError> {
    let device = v.pointer("/deviceInfo/devEui").and_then(Value::as_str).ok_or_else(|| ParseError::new("ChirpStack: no deviceInfo.devEui"))?;
    let rx = v.get("rxInfo").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let rx = rx
        .iter()
        .filter_map(|r| {
            let gateway = r.get("gatewayId").and_then(Value::as_str)?.to_string();
            let time_ms = ["gwTime", "time", "nsTime"].iter().find_map(|k| json_time(r.get(*k)));
            Some(Rx { gateway, rssi: json_f32(r.get("rssi")), time_ms })
        })
        .collect();
    Ok(Uplink {
        device: device.to_string(),
        f_cnt: u32_of(v.get("fCnt")),
        f_port: u32_of(v.get("fPort")),
        data: b64(v.get("data").and_then(Value::as_str))?,
        time_ms: json_time(v.get("time")),
        rx,
    })
}

fn tts(v: &Value) -> Result<Uplink, ParseError> {
    let ids = v.get("end_device_ids");
    let device = ["dev_eui", "device_id"].iter().find_map(|k| ids.and_then(|i| i.get(*k)).and_then(Value::as_str));
    let device = device.ok_or_else(|| ParseError::new("The Things Stack: no end_device_ids.dev_eui/device_id"))?;
    let up = &v["uplink_message"];
    let rx = up.get("rx_metadata").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let rx = rx
        .iter()
        .filter_map(|r| {
            let ids = r.get("gateway_ids")?;
            let gateway = ids.get("gateway_id").or_else(|| ids.get("eui")).and_then(Value::as_str)?.to_string();
            let time_ms = ["time", "received_at"].iter().find_map(|k| json_time(r.get(*k)));
            Some(Rx { gateway, rssi: json_f32(r.get("rssi")).or_else(|| json_f32(r.get("channel_rssi"))), time_ms })
        })
        .collect();
    Ok(Uplink {
        device: device.to_string(),
        f_cnt: u32_of(up.get("f_cnt")),
        f_port: u32_of(up.get("f_port")),
        data: b64(up.get("frm_payload").and_then(Value::as_str))?,
        time_ms: json_time(up.get("received_at")).or_else(|| json_time(v.get("received_at"))),
        rx,
    })
}

/// One reception per telegram and receiving gateway. The bridge's own time and RSSI (the
/// wM-Bus reception) win over the gateway's (the LoRa hop); then the gateway's, then the
/// network server's time.
pub(crate) fn receptions(up: &Uplink, telegrams: Vec<Telegram>) -> Vec<Parsed> {
    let fallback = [Rx { gateway: String::new(), rssi: None, time_ms: None }];
    let rx: &[Rx] = if up.rx.is_empty() { &fallback } else { &up.rx };
    let mut out = Vec::with_capacity(telegrams.len() * rx.len());
    for t in &telegrams {
        for r in rx {
            let gateway = if r.gateway.is_empty() { up.device.clone() } else { format!("{}/{}", up.device, r.gateway) };
            out.push(Parsed {
                gateway: Some(gateway),
                received_at_ms: t.time_ms.or(r.time_ms).or(up.time_ms),
                rssi: t.rssi.or(r.rssi),
                ..Parsed::mbus(t.frame.clone(), LinkCrc::Stripped)
            });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ChirpStack v4 MQTT integration uplink event (`application/<id>/device/<eui>/event/up`)
    /// in the field names of chirpstack_api 4.x `integration.UplinkEvent` (protobuf JSON), two
    /// gateways receiving.
    pub fn chirpstack_event(port: u32, f_cnt: u32, data: &[u8]) -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        format!(
            r#"{{"deduplicationId":"3ac7e3c4-4401-4b8d-9386-a5c902f9202d","time":"2023-12-07T15:31:49.433679+00:00",
"deviceInfo":{{"tenantId":"52f14cd4-c6f1-4fbd-8f87-4025e1d49242","tenantName":"ChirpStack","applicationId":"17c82e96-be03-4f38-aef3-f83d48582d97","applicationName":"wmbus","deviceProfileName":"Lobaro bridge","deviceName":"bridge-1","devEui":"70b3d5e75e003c5a"}},
"devAddr":"00189440","adr":true,"dr":5,"fCnt":{f_cnt},"fPort":{port},"confirmed":false,"data":"{data}",
"rxInfo":[{{"gatewayId":"7276ff003904021c","uplinkId":531,"gwTime":"2023-12-07T15:31:49.433+00:00","rssi":-45,"snr":9.2,"context":"VYWJHA==","crcStatus":"CRC_OK"}},
{{"gatewayId":"0016c001f153a14c","uplinkId":4217,"rssi":-101,"snr":-3.5,"crcStatus":"CRC_OK"}}],
"txInfo":{{"frequency":868300000,"modulation":{{"lora":{{"bandwidth":125000,"spreadingFactor":10,"codeRate":"CR_4_5"}}}}}}}}"#
        )
    }

    /// A The Things Stack v3 uplink (thethingsindustries.com docs, "Data Formats", uplink
    /// messages) with one gateway.
    pub fn tts_uplink(port: u32, f_cnt: u32, data: &[u8]) -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        format!(
            r#"{{"end_device_ids":{{"device_id":"dev1","application_ids":{{"application_id":"app1"}},"dev_eui":"0004A30B001C0530","join_eui":"800000000000000C","dev_addr":"00BCB929"}},
"correlation_ids":["as:up:01..."],"received_at":"2020-02-12T15:15:45.787Z",
"uplink_message":{{"session_key_id":"AXBSH1Pk6Z0G166...","f_port":{port},"f_cnt":{f_cnt},"frm_payload":"{data}",
"rx_metadata":[{{"gateway_ids":{{"gateway_id":"gtw1","eui":"9C5C8E00001A05C4"}},"time":"2020-02-12T15:15:45.787Z","timestamp":2463457000,"rssi":-35,"channel_rssi":-35,"snr":5.2,"uplink_token":"ChIKEA..."}}],
"settings":{{"data_rate":{{"lora":{{"bandwidth":125000,"spreading_factor":7}}}},"frequency":"868300000"}},"received_at":"2020-02-12T15:15:45.787Z","confirmed":true}}}}"#
        )
    }

    #[test]
    fn chirpstack_one_reception_per_gateway() {
        let up = parse_envelope(chirpstack_event(1, 7, &[1, 2, 3]).as_bytes()).unwrap();
        assert_eq!((up.device.as_str(), up.f_cnt, up.f_port, up.data.as_slice()), ("70b3d5e75e003c5a", 7, 1, &[1u8, 2, 3][..]));
        let r = receptions(&up, vec![Telegram { frame: vec![9], time_ms: None, rssi: None }]);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].gateway.as_deref(), Some("70b3d5e75e003c5a/7276ff003904021c"));
        assert_eq!((r[0].rssi, r[0].received_at_ms), (Some(-45.0), Some(1_701_963_109_433)));
        // No gwTime: the network server's time.
        assert_eq!((r[1].rssi, r[1].received_at_ms), (Some(-101.0), Some(1_701_963_109_433)));
    }

    #[test]
    fn tts_uplink_fields() {
        let up = parse_envelope(tts_uplink(2, 42, &[0xAA]).as_bytes()).unwrap();
        assert_eq!((up.device.as_str(), up.f_cnt, up.f_port), ("0004A30B001C0530", 42, 2));
        assert_eq!(up.rx, vec![Rx { gateway: "gtw1".into(), rssi: Some(-35.0), time_ms: Some(1_581_520_545_787) }]);
    }

    #[test]
    fn lobaro_ports_by_number() {
        assert_eq!(Bridge::by_port(11), Bridge::Lobaro);
        assert_eq!(Bridge::by_port(24), Bridge::Lobaro);
        assert_eq!(Bridge::by_port(42), Bridge::Plain); // part 4 of 2 is no Lobaro port
        assert_eq!(Bridge::by_port(101), Bridge::Lobaro);
        assert_eq!(Bridge::by_port(1), Bridge::Plain);
    }
}
