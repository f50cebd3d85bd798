//! P1 text telegrams (DSMR 5, Luxembourg Smarty, Austrian P1): `/` header, OBIS lines, `!` and
//! the CRC-16; lines as OBIS rows.
//!
//! ```text
//! /XXX5<identification>            header line (DSMR 5.0.2 P1 6.2)
//! <empty line>
//! 1-0:1.8.1(005017.120*kWh)        reference(value*unit)
//! 0-1:24.2.1(200909100000S)(00000.123*m3)          capture time, value
//! 1-0:99.97.0(2)(0-0:96.7.19)(ts)(dur*s)(ts)(dur*s) power-failure event log
//! !CRC4                            CRC-16/ARC over '/' .. '!' inclusive (DSMR 5.0.2 P1 6.12)
//! ```
//! Telegrams without CRC (`!` alone, DSMR 2.2/3) are accepted with `crc = None`. Lines of DSMR
//! 2.2/3 may continue on the next line (a line starting with `(`).

mod error;
mod rows;

pub use error::P1Error;
pub use rows::{p1_timestamp, P1Row};

use super::Obis;

static CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_ARC);

/// CRC-16/ARC (poly 0xA001 reflected, init 0): the P1 telegram CRC (DSMR 5.0.2 P1 6.12).
pub fn crc16_arc(data: &[u8]) -> u16 {
    CRC.checksum(data)
}

/// One data line: its OBIS reference and the values in parentheses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P1Line {
    /// The OBIS code (F = 255 where the line gives five groups).
    pub obis: Obis,
    /// The reference as written (`1-0:1.8.1`).
    pub reference: String,
    /// The text of each `( … )` group, in order.
    pub values: Vec<String>,
    /// The line as written (continuation lines included, with their line ends), without the
    /// final line end.
    pub raw: String,
    /// Offset of the line in the telegram.
    pub offset: usize,
}

impl P1Line {
    /// A line from its reference and values (`raw` written in the standard form).
    pub fn new(reference: &str, values: &[&str]) -> Option<P1Line> {
        let obis = Obis::parse(reference)?;
        let mut raw = reference.to_string();
        for v in values {
            raw.push('(');
            raw.push_str(v);
            raw.push(')');
        }
        let values = values.iter().map(|v| v.to_string()).collect();
        Some(P1Line { obis, reference: reference.to_string(), values, raw, offset: 0 })
    }
}

/// A parsed P1 telegram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct P1Telegram {
    /// The identification after `/` (`ISk5\2MT382-1000`).
    pub header: String,
    /// The data lines in order.
    pub lines: Vec<P1Line>,
    /// The CRC after `!`, checked; None for telegrams without one.
    pub crc: Option<u16>,
    /// Whether lines end in CR LF (else LF).
    pub crlf: bool,
}

/// Offset of the `!` that starts a line, if any.
fn end_mark(text: &[u8]) -> Option<usize> {
    text.windows(2).position(|w| w == b"\n!").map(|i| i + 1)
}

/// Check the CRC (or its absence) after the `!` at `bang` and what follows it.
fn check_end(text: &[u8], bang: usize) -> Result<Option<u16>, P1Error> {
    let after = &text[bang + 1..];
    let hex_digits = after.iter().take(4).take_while(|b| b.is_ascii_hexdigit()).count();
    let (crc, rest_at) = if hex_digits == 4 {
        let s = std::str::from_utf8(&after[..4]).expect("hex digits are ASCII");
        let expected = u16::from_str_radix(s, 16).expect("4 hex digits");
        let computed = crc16_arc(&text[..=bang]);
        if expected != computed {
            return Err(P1Error::Crc { offset: bang + 1, expected, computed });
        }
        (Some(expected), bang + 5)
    } else if after.first().is_none_or(|b| matches!(b, b'\r' | b'\n')) {
        (None, bang + 1)
    } else {
        return Err(P1Error::CrcSyntax { offset: bang + 1 });
    };
    if let Some(i) = text[rest_at..].iter().position(|b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t')) {
        return Err(P1Error::Trailing { offset: rest_at + i });
    }
    Ok(crc)
}

/// The `( … )` groups of `s` (which starts with `(`), or None if anything else is there.
fn groups(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('(')?;
        let close = inner.find(')')?;
        out.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some(out)
}

/// Parse the data lines between the header line and the `!` line. `base` is where `body`
/// starts in the telegram.
fn parse_lines(body: &str, base: usize) -> Result<Vec<P1Line>, P1Error> {
    let mut lines: Vec<P1Line> = Vec::new();
    let mut at = base;
    for full in body.split_inclusive('\n') {
        let offset = at;
        at += full.len();
        let line = full.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        let bad = P1Error::Line { offset };
        if line.starts_with('(') {
            // DSMR 2.2/3: a value continued on the next line.
            let prev = lines.last_mut().ok_or(bad.clone())?;
            prev.values.extend(groups(line).ok_or(bad)?);
            let start = prev.offset - base;
            prev.raw = body[start..offset - base + line.len()].to_string();
            continue;
        }
        let open = line.find('(').ok_or(bad.clone())?;
        let reference = &line[..open];
        let obis = Obis::parse(reference).ok_or(bad.clone())?;
        let values = groups(&line[open..]).ok_or(bad)?;
        lines.push(P1Line { obis, reference: reference.to_string(), values, raw: line.to_string(), offset });
    }
    Ok(lines)
}

/// Parse a telegram: `/` header line, data lines, `!` with an optional CRC (checked), then
/// only line ends.
pub fn parse(text: &[u8]) -> Result<P1Telegram, P1Error> {
    if text.first() != Some(&b'/') {
        return Err(if text.is_empty() { P1Error::Truncated { offset: 0 } } else { P1Error::Header { offset: 0 } });
    }
    let bang = end_mark(text).ok_or(P1Error::Truncated { offset: text.len() })?;
    let crc = check_end(text, bang)?;
    let head_end = text.iter().position(|&b| b == b'\n').expect("the end mark follows a line end");
    let body_start = head_end + 1;
    let header_bytes = &text[1..head_end];
    let crlf = header_bytes.last() == Some(&b'\r');
    let header = std::str::from_utf8(header_bytes).map_err(|_| P1Error::Header { offset: 0 })?;
    let header = header.trim_end_matches('\r').to_string();
    if header.is_empty() || header.chars().any(char::is_control) {
        return Err(P1Error::Header { offset: 0 });
    }
    let body = std::str::from_utf8(&text[body_start..bang])
        .map_err(|e| P1Error::Line { offset: body_start + e.valid_up_to() })?;
    let lines = parse_lines(body, body_start)?;
    Ok(P1Telegram { header, lines, crc, crlf })
}

impl P1Telegram {
    /// The first line with this OBIS code.
    pub fn line(&self, obis: Obis) -> Option<&P1Line> {
        self.lines.iter().find(|l| l.obis == obis)
    }

    /// The telegram as text: `/header`, an empty line, the lines as written, `!` and the CRC
    /// computed anew (none if the telegram had none). Byte-exact for telegrams in the standard
    /// layout.
    pub fn to_text(&self) -> String {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut out = format!("/{}{eol}{eol}", self.header);
        for l in &self.lines {
            out.push_str(&l.raw);
            out.push_str(eol);
        }
        out.push('!');
        if self.crc.is_some() {
            let crc = crc16_arc(out.as_bytes());
            out.push_str(&format!("{crc:04X}"));
        }
        out.push_str(eol);
        out
    }
}

#[cfg(test)]
mod tests;
