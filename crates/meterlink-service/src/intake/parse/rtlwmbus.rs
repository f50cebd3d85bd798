//! rtl_wmbus output lines (`rtl_sdr ... | rtl_wmbus`):
//! `mode;crc_ok;3of6_ok;time;packet_rssi;current_rssi;link_id;0x<frame>`, the frame with its
//! L-field and without link-layer CRCs. The two RSSI columns are the demodulator's magnitudes,
//! not dBm, so they are not kept as RSSI.

use super::{hex_decode, time, ParseError, Parsed};
use crate::reception::LinkCrc;

/// Eight `;` fields and a `0x` frame.
pub(crate) fn looks_like(line: &str) -> bool {
    let f: Vec<&str> = line.trim().split(';').collect();
    f.len() == 8 && f[7].starts_with("0x")
}

/// One telegram per line; a line whose CRC or 3-of-6 check failed is an error.
pub(crate) fn parse(payload: &[u8]) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).map_err(|_| ParseError::new("rtl_wmbus output is not text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        out.push(line_of(line.trim()).map_err(|e| e.at_line(i + 1))?);
    }
    if out.is_empty() {
        return Err(ParseError::new("empty payload"));
    }
    Ok(out)
}

fn line_of(line: &str) -> Result<Parsed, ParseError> {
    let f: Vec<&str> = line.split(';').collect();
    if f.len() != 8 {
        return Err(ParseError::new(format!("rtl_wmbus: {} fields, expected 8", f.len())));
    }
    if f[1] != "1" || f[2] != "1" {
        return Err(ParseError::new("rtl_wmbus: the receiver reports a failed CRC or 3-of-6 check"));
    }
    let frame = hex_decode(f[7])?;
    Ok(Parsed { received_at_ms: time::parse_ms(f[3]), ..Parsed::mbus(frame, LinkCrc::Stripped) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rtl_wmbus lines quoted in rtl_433 issue #3400 (2025-11-10) and rtl-wmbus issue #38.
    const ISSUE3400: &str = "T1;1;1;2025-11-11 00:02:32.480483;170;179;A15EFC53;0x1944304c53fc5ea12404a2611940133e55d1a7a23ad208ba62c7\n\
T1;1;1;2022-08-23 23:20:57.000;127;162;0106741C;0x1344304c1c7406018800a04114001300aa3afd3c\n";

    #[test]
    fn lines_become_receptions() {
        let got = parse(ISSUE3400.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].frame.len(), 0x19 + 1);
        assert_eq!(&got[0].frame[..4], &[0x19, 0x44, 0x30, 0x4c]);
        assert_eq!(got[0].link_crc, LinkCrc::Stripped);
        assert_eq!(got[0].received_at_ms, Some(1_762_819_352_480));
        assert_eq!(got[1].frame.len(), 0x13 + 1);
        assert_eq!(got[0].rssi, None);
    }

    #[test]
    fn failed_checks_are_errors_naming_the_line() {
        let bad = "T1;1;1;2025-11-11 00:02:32;1;1;X;0x0144\nT1;0;1;2025-11-11 00:02:32;1;1;X;0x0144\n";
        assert_eq!(parse(bad.as_bytes()).unwrap_err().line, Some(2));
    }
}
