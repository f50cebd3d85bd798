//! Plain payloads: hex text (one telegram per line) and raw bytes (one telegram), M-Bus or
//! DLMS.

use super::{crc_state, hex_decode, ParseError, Parsed};
use crate::reception::{LinkCrc, Protocol};

/// A line of hex digits (with an optional `0x` and blanks), nothing else.
pub(crate) fn is_hex_line(line: &str) -> bool {
    let l = line.trim();
    let l = l.strip_prefix("0x").or_else(|| l.strip_prefix("0X")).unwrap_or(l);
    !l.is_empty() && l.bytes().all(|b| b.is_ascii_hexdigit() || b == b' ' || b == b'\t')
}

/// One telegram per non-empty line; errors name the line.
pub(crate) fn parse_hex(payload: &[u8]) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).map_err(|_| ParseError::new("hex payload is not text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let frame = hex_decode(line).map_err(|e| e.at_line(i + 1))?;
        out.push(classify(frame));
    }
    if out.is_empty() {
        return Err(ParseError::new("empty payload"));
    }
    Ok(out)
}

/// The payload is the telegram.
pub(crate) fn parse_binary(payload: &[u8]) -> Parsed {
    classify(payload.to_vec())
}

/// Wired long frames (`68 L L 68`) carry their checksum; wireless frames tell by their L-field.
fn classify(frame: Vec<u8>) -> Parsed {
    let wired = frame.len() >= 4 && frame[0] == 0x68 && frame[3] == 0x68 && frame[1] == frame[2];
    let crc = if wired { LinkCrc::Present } else { crc_state(&frame) };
    Parsed::mbus(frame, crc)
}

/// A DLMS push: hex text if it reads as hex, else the raw bytes.
pub(crate) fn parse_dlms(payload: &[u8]) -> Result<Vec<Parsed>, ParseError> {
    let text = std::str::from_utf8(payload).ok().filter(|t| !t.trim().is_empty() && t.lines().all(is_hex_line));
    let frames = match text {
        Some(t) => parse_hex(t.as_bytes())?.into_iter().map(|p| p.frame).collect(),
        None => vec![payload.to_vec()],
    };
    Ok(frames.into_iter().map(|frame| Parsed { protocol: Protocol::Dlms, ..Parsed::mbus(frame, LinkCrc::Auto) }).collect())
}

#[cfg(test)]
mod tests {
    use super::super::samples::{oms_n21, OMS_N21};
    use super::*;

    #[test]
    fn hex_lines_make_one_reception_each() {
        let text = format!("{OMS_N21}\n\n0x{}\n", OMS_N21.to_lowercase());
        let got = parse_hex(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].frame, oms_n21());
        assert_eq!(got[1].frame, oms_n21());
        // L = 0x2E = 46 and 47 bytes: no CRCs.
        assert_eq!(got[0].link_crc, LinkCrc::Stripped);
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_hex(format!("{OMS_N21}\n2E44Q3\n").as_bytes()).unwrap_err();
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn binary_wired_long_frame_keeps_its_checksum() {
        // EN 13757-3 example RSP_UD long frame head (68 L L 68).
        let p = parse_binary(&[0x68, 0x03, 0x03, 0x68, 0x08, 0x01, 0x72, 0x7b, 0x16]);
        assert_eq!(p.link_crc, LinkCrc::Present);
        assert_eq!(parse_binary(&oms_n21()).link_crc, LinkCrc::Stripped);
    }

    #[test]
    fn dlms_hex_or_bytes() {
        let p = parse_dlms(b"7EA0").unwrap();
        assert_eq!((p[0].frame.as_slice(), p[0].protocol), (&[0x7e, 0xa0][..], Protocol::Dlms));
        let p = parse_dlms(&[0xdb, 0x08]).unwrap();
        assert_eq!(p[0].frame, [0xdb, 0x08]);
    }
}
