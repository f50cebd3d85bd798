//! JSON with the telegram as hex: wmbusmeters' JSON lines (`telegram`, `timestamp`,
//! `rssi_dbm`, `device`) and the service's own HTTP shape
//! `{"telegram": hex, "gateway": .., "time": .., "rssi": ..}`, one object, an array, or one
//! object per line.

use serde_json::Value;

use super::{crc_state, hex_decode, json_f32, json_time, ParseError, Parsed};

/// Every object of the payload.
pub(crate) fn parse(payload: &[u8]) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).map_err(|_| ParseError::new("JSON payload is not text"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| one(v).map_err(|e| e.at_line(i + 1))).collect(),
        Ok(v) => Ok(vec![one(&v)?]),
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                let v: Value = serde_json::from_str(l).map_err(|e| ParseError::new(format!("JSON: {e}")).at_line(i + 1))?;
                one(&v).map_err(|e| e.at_line(i + 1))
            })
            .collect(),
    }
}

/// One object: `telegram` is required; the rest is metadata.
pub(crate) fn one(v: &Value) -> Result<Parsed, ParseError> {
    let t = v.get("telegram").and_then(Value::as_str).ok_or_else(|| ParseError::new("no \"telegram\" hex field"))?;
    // wmbusmeters logs telegrams as `|2E44...|` in places: the bars are not data.
    let frame = hex_decode(&t.replace(['|', '_'], ""))?;
    let gateway = ["gateway", "device"].iter().find_map(|k| v.get(*k).and_then(Value::as_str)).map(str::to_string);
    let time = ["time", "timestamp", "received_at"].iter().find_map(|k| json_time(v.get(*k)));
    let rssi = ["rssi", "rssi_dbm"].iter().find_map(|k| json_f32(v.get(*k)));
    let crc = crc_state(&frame);
    Ok(Parsed { gateway, received_at_ms: time, rssi, ..Parsed::mbus(frame, crc) })
}

#[cfg(test)]
mod tests {
    use super::super::samples::{oms_n21, OMS_N21};
    use super::*;

    #[test]
    fn wmbusmeters_json_line() {
        // wmbusmeters' JSON output fields (README "format=json": `timestamp`, `device`,
        // `rssi_dbm`) carrying the OMS Annex N N.2.1 telegram.
        let line = format!(r#"{{"_":"telegram","media":"water","meter":"unknown","id":"12345678","telegram":"|{OMS_N21}|","timestamp":"2024-03-01T10:00:00Z","device":"im871a[00102759]","rssi_dbm":-77}}"#);
        let got = parse(format!("{line}\n{line}\n").as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].frame, oms_n21());
        assert_eq!(got[0].gateway.as_deref(), Some("im871a[00102759]"));
        assert_eq!(got[0].rssi, Some(-77.0));
        assert_eq!(got[0].received_at_ms, Some(1_709_287_200_000));
    }

    #[test]
    fn http_shape_array_and_errors() {
        let body = format!(r#"[{{"telegram":"{OMS_N21}","gateway":"gw-1","time":1709287200,"rssi":-60.5}},{{"telegram":"zz"}}]"#);
        let e = parse(body.as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(2));
        let body = format!(r#"{{"telegram":"{OMS_N21}","gateway":"gw-1","time":1709287200,"rssi":-60.5}}"#);
        let p = &parse(body.as_bytes()).unwrap()[0];
        assert_eq!((p.gateway.as_deref(), p.received_at_ms, p.rssi), (Some("gw-1"), Some(1_709_287_200_000), Some(-60.5)));
        assert!(parse(b"{\"gateway\":\"x\"}").unwrap_err().reason.contains("telegram"));
    }
}
