//! Elvaco gateways:
//! - CMe3100 MQTT report template 4001 (Elvaco support, "MQTT Report Templates"): rows
//!   `serial-number;device-identification;created;value-data-count;mbus-raw-value` after a
//!   header row, the raw value a wired M-Bus telegram from its C-field without checksum and
//!   stop byte (rebuilt here as a long frame `68 L L 68 ... CS 16`, EN 13757-2 §5), on topic
//!   `<base>/ecmXv1.0/CMe3100/<template>/<serial>/<meter>`; the gateway is the CMe serial.
//! - CMeX50 hexdump "Info + Tgm" lines (CMeX50 user manual):
//!   `iiiiiiii;*mmm;vv;dd;ss;rrrr;ww;<telegram hex>;`, the wireless telegram from its
//!   L-field, `rrrr` its RSSI in dBm.

use super::{crc_state, hex_decode, time, ParseError, Parsed};
use crate::reception::LinkCrc;

/// A CMeX50 hexdump line (eight `;` fields, the last but one hex).
pub(crate) fn looks_like(line: &str) -> bool {
    let f: Vec<&str> = line.trim().split(';').collect();
    f.len() >= 8 && f[7].len() >= 20 && f[7].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every row or line of the payload.
pub(crate) fn parse(payload: &[u8], topic: &str) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).map_err(|_| ParseError::new("Elvaco payload is not text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("serial-number;") {
            continue;
        }
        let row = if looks_like(line) { hexdump(line) } else { report_row(line, topic) };
        out.push(row.map_err(|e| e.at_line(i + 1))?);
    }
    if out.is_empty() {
        return Err(ParseError::new("Elvaco: no rows"));
    }
    Ok(out)
}

fn report_row(line: &str, topic: &str) -> Result<Parsed, ParseError> {
    let f: Vec<&str> = line.split(';').map(str::trim).collect();
    if f.len() < 5 {
        return Err(ParseError::new(format!("Elvaco report row: {} fields, expected 5", f.len())));
    }
    let raw = hex_decode(f[4])?;
    if raw.is_empty() || raw.len() > 252 {
        return Err(ParseError::new("Elvaco report row: M-Bus raw value of 0 or more than 252 bytes"));
    }
    let cs = raw.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    let l = raw.len() as u8;
    let mut frame = vec![0x68, l, l, 0x68];
    frame.extend_from_slice(&raw);
    frame.extend_from_slice(&[cs, 0x16]);
    let serial = topic_serial(topic).unwrap_or(f[0]);
    Ok(Parsed { gateway: Some(serial.to_string()), received_at_ms: time::parse_ms(f[2]), ..Parsed::mbus(frame, LinkCrc::Present) })
}

/// `<base>/ecmXv1.0/CMe3100/<template>/<serial>/<meter>` → serial.
fn topic_serial(topic: &str) -> Option<&str> {
    let parts: Vec<&str> = topic.split('/').collect();
    let i = parts.iter().position(|p| *p == "CMe3100")?;
    parts.get(i + 2).copied()
}

fn hexdump(line: &str) -> Result<Parsed, ParseError> {
    let f: Vec<&str> = line.split(';').collect();
    let frame = hex_decode(f[7])?;
    let crc = crc_state(&frame);
    Ok(Parsed { rssi: f[5].trim().parse().ok(), ..Parsed::mbus(frame, crc) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmex50_hexdump_line() {
        // CMeX50 manual's example line, telegram completed to its L = 0x57 with filler
        // records (the manual elides the middle as "...").
        let mut tg = hex_decode("5744961554890200201B7AE40000000002").unwrap();
        tg.resize(0x58, 0x2f);
        let line = format!("00028954; ELV;20;1B;00; -83; T;{};", tg.iter().map(|b| format!("{b:02X}")).collect::<String>());
        assert!(looks_like(&line));
        let got = parse(line.as_bytes(), "elvaco/cmex50").unwrap();
        assert_eq!(got[0].frame, tg);
        assert_eq!(got[0].rssi, Some(-83.0));
        assert_eq!(got[0].link_crc, LinkCrc::Stripped);
    }

    #[test]
    fn cme3100_report_rows_become_long_frames() {
        // Report template 4001 as documented: header, then a row; the raw value is an
        // RSP_UD from C-field 08, A-field 00, CI 72 with the meter's 12-byte header.
        let topic = "Company A/ecmXv1.0/CMe3100/4001/0016123456/50855417";
        let body = "serial-number;device-identification;created;value-data-count;mbus-raw-value\n\
                    0016123456;50855417;2024-03-01 10:00:00;1;0800721774855096150107AE0000000C1327040000\n";
        let got = parse(body.as_bytes(), topic).unwrap();
        assert_eq!(got.len(), 1);
        let f = &got[0].frame;
        assert_eq!(&f[..5], &[0x68, 0x15, 0x15, 0x68, 0x08]);
        let cs = f[4..f.len() - 2].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        assert_eq!((f[f.len() - 2], f[f.len() - 1]), (cs, 0x16));
        assert_eq!(got[0].gateway.as_deref(), Some("0016123456"));
        assert_eq!(got[0].received_at_ms, Some(1_709_287_200_000));
    }
}
