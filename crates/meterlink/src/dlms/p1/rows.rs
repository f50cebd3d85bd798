//! P1 lines as OBIS rows (DSMR 5.0.2 P1 6.4–6.12 value formats).

use std::borrow::Cow;

use super::{P1Line, P1Telegram};
use crate::dlms::{Obis, ObisRow, RowValue};

/// A row of a P1 telegram with the time its value was captured, where the line gives one
/// (M-Bus channel values `0-n:24.2.1(time)(value)`, power-failure log entries).
#[derive(Clone, Debug, PartialEq)]
pub struct P1Row {
    /// The OBIS row.
    pub row: ObisRow,
    /// The capture (or event) time, ISO 8601.
    pub time: Option<String>,
}

/// `YYMMDDhhmmssX` (X = `S` summer time, `W` winter time; DSMR 5.0.2 P1 6.4 "TST") as ISO 8601
/// with the Central European offset (+02:00 / +01:00); 12 digits without X give no offset
/// (DSMR 2.2/3). None if the text is no such timestamp.
pub fn p1_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let offset = match (b.len(), b.last()) {
        (13, Some(b'S')) => "+02:00",
        (13, Some(b'W')) => "+01:00",
        (12, _) => "",
        _ => return None,
    };
    let digits = &b[..12];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |i: usize| u32::from(digits[i] - b'0') * 10 + u32::from(digits[i + 1] - b'0');
    let (y, mo, d, h, mi, se) = (n(0), n(2), n(4), n(6), n(8), n(10));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(format!("20{y:02}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}{offset}"))
}

/// Whether a code's value is text although it may look like a number (DSMR 5.0.2 P1 Table:
/// version 0.2.8, equipment identifiers 96.1.x, tariff indicator 96.14.0, text messages
/// 96.13.x; Smarty's logical device name 42.0.0).
fn is_text_code(o: Obis) -> bool {
    let [_, _, c, d, _, _] = o.0;
    matches!((c, d), (96, 1) | (96, 13) | (96, 14) | (0, 2) | (42, 0))
}

/// Hex-encoded text (equipment identifiers, messages) decoded, if it is printable text.
fn hex_text(s: &str) -> Option<String> {
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    let bytes = crate::hex::parse_hex(s).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.chars().all(|c| !c.is_control()).then_some(text)
}

/// A P1 number: its value, the digits as an integer and the decimal exponent, the unit text.
struct Number<'a> {
    value: RowValue,
    mantissa: Option<i64>,
    scaler: Option<i8>,
    unit: Option<&'a str>,
}

/// A number `[+-]digits[.digits][*unit]`.
fn number(s: &str) -> Option<Number<'_>> {
    let (num, unit) = match s.split_once('*') {
        Some((n, u)) => (n, Some(u)),
        None => (s, None),
    };
    let digits = num.strip_prefix(['+', '-']).unwrap_or(num);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || digits.ends_with('.') {
        return None;
    }
    let mantissa = num.replace('.', "").parse::<i64>().ok();
    let value = match (frac.is_empty(), mantissa) {
        (true, Some(m)) => RowValue::Int(m),
        _ => RowValue::Float(num.parse::<f64>().ok()?),
    };
    let scaler = mantissa.and(i8::try_from(frac.len()).ok().map(|n| -n));
    Some(Number { value, mantissa, scaler, unit })
}

fn row(obis: Obis, value: RowValue, mantissa: Option<i64>, scaler: Option<i8>, unit: Option<&str>) -> ObisRow {
    let unit = unit.filter(|u| !u.is_empty()).map(|u| Cow::Owned(u.to_string()));
    ObisRow { obis: Some(obis), value, mantissa, scaler, unit, name: None }
}

/// One value as a row: numbers with their unit, timestamps as ISO text, text codes as text
/// (hex decoded where it is hex-encoded text), anything else as its text.
pub(super) fn value_row(obis: Obis, s: &str) -> ObisRow {
    if is_text_code(obis) {
        let [_, _, c, d, _, _] = obis.0;
        let hex_coded = matches!((c, d), (96, 1) | (96, 13) | (42, 0));
        let text = hex_text(s).filter(|_| hex_coded).unwrap_or_else(|| s.to_string());
        return row(obis, RowValue::Text(text), None, None, None);
    }
    if let Some(n) = number(s) {
        return row(obis, n.value, n.mantissa, n.scaler, n.unit);
    }
    if let Some(t) = p1_timestamp(s) {
        return row(obis, RowValue::Text(t), None, None, None);
    }
    let v = if s.is_empty() { RowValue::None } else { RowValue::Text(s.to_string()) };
    row(obis, v, None, None, None)
}

fn timed(obis: Obis, time: &str, value: &str) -> P1Row {
    P1Row { row: value_row(obis, value), time: p1_timestamp(time) }
}

/// A profile log `(n)(reference)(time)(value)…` (the power-failure event log 99.97.0), if the
/// line is one.
fn profile_log(l: &P1Line) -> Option<Vec<P1Row>> {
    let v = &l.values;
    let n: usize = v.first()?.parse().ok()?;
    let entry = Obis::parse(v.get(1)?).filter(|_| v[1].contains(':'))?;
    if v.len() != 2 + 2 * n {
        return None;
    }
    let mut out = vec![P1Row { row: value_row(l.obis, &v[0]), time: None }];
    out.extend(v[2..].chunks(2).map(|p| timed(entry, &p[0], &p[1])));
    Some(out)
}

/// The DSMR 2.2/3 gas profile `0-n:24.3.0(time)(status)(period)(count)(reference)(unit)(value)`.
fn legacy_profile(l: &P1Line) -> Option<P1Row> {
    let v = &l.values;
    if v.len() != 7 || !v[4].contains(':') {
        return None;
    }
    let obis = Obis::parse(&v[4])?;
    let n = number(&v[6])?;
    Some(P1Row { row: row(obis, n.value, n.mantissa, n.scaler, Some(&v[5])), time: p1_timestamp(&v[0]) })
}

/// The rows of one line.
fn line_rows(l: &P1Line) -> Vec<P1Row> {
    if let Some(rows) = profile_log(l) {
        return rows;
    }
    if let Some(r) = legacy_profile(l) {
        return vec![r];
    }
    match l.values.as_slice() {
        [t, v] if p1_timestamp(t).is_some() && !is_text_code(l.obis) => vec![timed(l.obis, t, v)],
        vs => vs.iter().map(|v| P1Row { row: value_row(l.obis, v), time: None }).collect(),
    }
}

impl P1Telegram {
    /// Every value as a row with its capture time: one row per single-value line; a
    /// `(time)(value)` line (M-Bus channels 0-n:24.2.1, maximum demand) as one row with its
    /// time; the power-failure log 1-0:99.97.0 as a row with its entry count followed by one
    /// row per entry (OBIS 0-0:96.7.19, duration in s, time = end of the failure); other
    /// multi-value lines as one row per value.
    pub fn timed_rows(&self) -> Vec<P1Row> {
        self.lines.iter().flat_map(line_rows).collect()
    }

    /// The rows without their times (see [`P1Telegram::timed_rows`]).
    pub fn rows(&self) -> Vec<ObisRow> {
        self.timed_rows().into_iter().map(|r| r.row).collect()
    }
}
