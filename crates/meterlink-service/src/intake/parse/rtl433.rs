//! rtl_433's Wireless-MBus decoder output as JSON (`-F json`, `-F mqtt`): one object per
//! telegram (or JSON lines). rtl_433 removes the link-layer CRCs and prints the link header as
//! fields (`C`, `M`, `id`, `version`, `type`) and `data` from the CI field on; the telegram is
//! rebuilt here as `L C M A` + `data` with `L = 9 + len(data)` (EN 13757-4 §12.5, format A
//! without CRCs). A `data` that already starts with its L-field is taken as it is.

use serde_json::Value;

use super::{hex_decode, json_f32, json_time, ParseError, Parsed};
use crate::reception::LinkCrc;

/// Every object of the payload (one object, an array, or one object per line).
pub(crate) fn parse(payload: &[u8]) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).map_err(|_| ParseError::new("rtl_433 JSON is not text"))?;
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => for (i, v) in items.iter().enumerate() {
            out.push(one(v).map_err(|e| e.at_line(i + 1))?)
        },
        Ok(v) => out.push(one(&v)?),
        Err(_) => for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let v = serde_json::from_str(line).map_err(|e| ParseError::new(format!("JSON: {e}")).at_line(i + 1))?;
            out.push(one(&v).map_err(|e| e.at_line(i + 1))?);
        },
    }
    Ok(out)
}

fn one(v: &Value) -> Result<Parsed, ParseError> {
    let data = v.get("data").and_then(Value::as_str).ok_or_else(|| ParseError::new("rtl_433: no \"data\" field"))?;
    let data = hex_decode(data)?;
    let frame = match header(v)? {
        Some(h) if !(data.first().is_some_and(|&l| l as usize + 1 == data.len()) && data.get(1..3) == Some(&h[1..3])) => {
            let mut f = Vec::with_capacity(10 + data.len());
            f.push((h.len() + data.len()) as u8);
            f.extend_from_slice(&h);
            f.extend_from_slice(&data);
            f
        }
        _ => data,
    };
    if frame.len() > 256 {
        return Err(ParseError::new("rtl_433: telegram longer than 255 bytes"));
    }
    Ok(Parsed {
        gateway: None,
        received_at_ms: json_time(v.get("time")),
        rssi: json_f32(v.get("rssi")).or_else(|| json_f32(v.get("RSSI"))),
        ..Parsed::mbus(frame, LinkCrc::Stripped)
    })
}

/// `C M(2) A(ID 4, version, type)` from the fields, when `M` and `id` are there.
fn header(v: &Value) -> Result<Option<[u8; 9]>, ParseError> {
    let (Some(m), Some(id)) = (v.get("M").and_then(Value::as_str), v.get("id")) else { return Ok(None) };
    let m = manufacturer(m)?;
    let id = bcd_id(id)?;
    let c = byte(v.get("C")).unwrap_or(0x44);
    let version = byte(v.get("version")).ok_or_else(|| ParseError::new("rtl_433: no \"version\""))?;
    let ty = byte(v.get("type")).ok_or_else(|| ParseError::new("rtl_433: no \"type\""))?;
    let mut h = [0u8; 9];
    h[0] = c;
    h[1..3].copy_from_slice(&m.to_le_bytes());
    h[3..7].copy_from_slice(&id);
    h[7] = version;
    h[8] = ty;
    Ok(Some(h))
}

/// Three letters → the EN 62056-21 / EN 13757-3 manufacturer code (5 bits a letter).
fn manufacturer(m: &str) -> Result<u16, ParseError> {
    let b = m.trim().as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_uppercase) {
        return Err(ParseError::new(format!("rtl_433: manufacturer {m:?} is not three capital letters")));
    }
    Ok(b.iter().fold(0u16, |acc, &c| (acc << 5) | (c - 64) as u16))
}

/// The 8-digit identification number (printed in decimal, i.e. its BCD digits) → 4 bytes LE.
fn bcd_id(v: &Value) -> Result<[u8; 4], ParseError> {
    let digits = match v {
        Value::Number(n) => n.as_u64().map(|n| format!("{n:08}")),
        Value::String(s) => Some(format!("{:0>8}", s.trim())),
        _ => None,
    }
    .filter(|d| d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()))
    .ok_or_else(|| ParseError::new(format!("rtl_433: id {v} is not 8 decimal digits")))?;
    let d = digits.as_bytes();
    Ok(std::array::from_fn(|i| ((d[6 - 2 * i] - b'0') << 4) | (d[7 - 2 * i] - b'0')))
}

/// A byte given as a number or as `"0x1B"` text.
fn byte(v: Option<&Value>) -> Option<u8> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) => u8::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rtl_433 -R 104 output posted by its author in wmbusmeters issue #36 (2019-10-13):
    /// BMT 16702184, version 16, type 0x1B, C 0x44, 78 data bytes; here in rtl_433's JSON
    /// field names, with `-M level` RSSI and `-M time:utc`.
    const ISSUE36: &str = r#"{"time":"2019-10-13 19:31:02","model":"Wireless-MBus","M":"BMT","id":16702184,"version":16,"type":"0x1B","type_string":"Room sensor","C":"0x44","data_length":78,"data":"7ab00800000265130942652809820165e50822651b0912652e09626586085265680902fb1a820142fb1a8f018201fb1ab10122fb1a7a0112fb1a9b0162fb1a8b0152fb1af101066d3b31c46c2a00","rssi":-12.3}"#;

    #[test]
    fn rebuilds_the_link_header() {
        let got = parse(ISSUE36.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        let f = &got[0].frame;
        // L = 9 + 78 = 87; BMT = 0x09B4 little-endian; ID BCD 16702184 little-endian.
        assert_eq!(&f[..12], &[0x57, 0x44, 0xb4, 0x09, 0x84, 0x21, 0x70, 0x16, 0x10, 0x1b, 0x7a, 0xb0]);
        assert_eq!(f.len(), 88);
        assert_eq!(got[0].link_crc, LinkCrc::Stripped);
        assert_eq!(got[0].received_at_ms, Some(1_570_995_062_000));
        assert_eq!(got[0].rssi, Some(-12.3));
    }

    #[test]
    fn json_lines_and_errors() {
        let two = format!("{ISSUE36}\n{ISSUE36}\n");
        assert_eq!(parse(two.as_bytes()).unwrap().len(), 2);
        let e = parse(br#"{"model":"Wireless-MBus"}"#).unwrap_err();
        assert!(e.reason.contains("data"), "{e}");
        let e = parse(br#"{"M":"bmt","id":1,"version":1,"type":1,"data":"7a"}"#).unwrap_err();
        assert!(e.reason.contains("manufacturer"), "{e}");
    }
}
