//! Time stamps as gateways and archives write them, the one parser of every intake (payload
//! shapes and file archives): RFC 3339 (`2023-12-07T15:31:49.433679+00:00`, `...Z`), ISO 8601's
//! other zone forms (`+0100`, `+01`), `YYYY-MM-DD hh:mm[:ss[.frac]]` without a zone (read as
//! UTC: rtl_433 `-M time:utc`, rtl_wmbus, Elvaco rows), or Unix numbers (seconds, with a
//! fraction as rtl_433 `-M time:unix:usec` writes them, or ms when too large to be seconds).

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Unix ms of a text time stamp, or None when it is not one of the accepted forms.
pub fn parse_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(n) = unix_number(s) {
        return Some(n);
    }
    let (date, rest) = (s.get(..10)?, s.get(10..)?);
    let sep = rest.chars().next()?;
    if sep != 'T' && sep != 't' && sep != ' ' {
        return None;
    }
    let mut dp = date.split('-');
    let (y, mo, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    let rest = &rest[1..];
    let (clock, offset_s) = split_zone(rest)?;
    let (hms, frac) = clock.split_once('.').map_or((clock, ""), |(a, b)| (a, b));
    let mut tp = hms.split(':');
    let (h, mi, sec) = (num(tp.next()?)?, num(tp.next()?)?, num(tp.next().unwrap_or("0"))?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let ms_frac = if frac.is_empty() { 0 } else { num(&format!("{:0<3}", &frac[..frac.len().min(3)]))? };
    let secs = meterlink::civil::days_from_civil(y, mo as u8, d as u8) * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    Some(secs * 1000 + ms_frac)
}

/// `digits[.digits]` as Unix ms ([`unix_number_ms`]).
fn unix_number(s: &str) -> Option<i64> {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    num(int)?;
    num(frac)?;
    s.parse::<f64>().ok().map(unix_number_ms)
}

/// Split `hh:mm[:ss[.f]](Z|±hh:mm|±hhmm|±hh)?` into the clock and the zone offset in seconds.
fn split_zone(s: &str) -> Option<(&str, i64)> {
    if let Some(c) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Some((c, 0));
    }
    match s.rfind(['+', '-']) {
        Some(i) => {
            let (clock, zone) = (&s[..i], &s[i + 1..]);
            let sign = if s.as_bytes()[i] == b'-' { -1 } else { 1 };
            let z: String = zone.chars().filter(|c| *c != ':').collect();
            let minutes = match z.len() {
                2 => 0,
                4 => num(&z[2..])?,
                _ => return None,
            };
            Some((clock, sign * (num(&z[..2])? * 3600 + minutes * 60)))
        }
        None => Some((s, 0)),
    }
}

/// Unix seconds, or ms when the number is beyond year 5138 as seconds (> 1e11).
pub fn unix_number_ms(n: f64) -> i64 {
    if n.abs() > 1e11 {
        n as i64
    } else {
        (n * 1000.0).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_naive_forms() {
        // 2020-02-24T16:00:26Z is Unix 1582560026 (Lobaro's port-101 example).
        assert_eq!(parse_ms("2020-02-24T16:00:26Z"), Some(1_582_560_026_000));
        assert_eq!(parse_ms("2020-02-24T17:00:26+01:00"), Some(1_582_560_026_000));
        assert_eq!(parse_ms("2020-02-24 16:00:26"), Some(1_582_560_026_000));
        assert_eq!(parse_ms("2020-02-24T16:00:26.433679+00:00"), Some(1_582_560_026_433));
        assert_eq!(parse_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_ms("1582560026"), Some(1_582_560_026_000));
        assert_eq!(parse_ms("2020-13-01 00:00:00"), None);
        assert_eq!(parse_ms("yesterday"), None);
    }

    /// The forms file archives carry too (the file intake's parser before the two were one).
    #[test]
    fn archive_forms() {
        // 2024-01-01T00:03:17Z is Unix 1704067397 (`date -d @1704067397 -u`).
        assert_eq!(parse_ms("2024-01-01T00:03:17Z"), Some(1_704_067_397_000));
        assert_eq!(parse_ms("2024-01-01 01:03:17.5+01:00"), Some(1_704_067_397_500));
        assert_eq!(parse_ms("2024-01-01T01:03:17+01"), Some(1_704_067_397_000));
        assert_eq!(parse_ms("2023-12-31T23:03:17-0100"), Some(1_704_067_397_000));
        assert_eq!(parse_ms("2024-01-01T00:03"), Some(1_704_067_380_000));
        assert_eq!(parse_ms("1704067397"), Some(1_704_067_397_000));
        assert_eq!(parse_ms("1704067397.25"), Some(1_704_067_397_250));
        assert_eq!(parse_ms("1704067397123"), Some(1_704_067_397_123));
        for bad in ["1704067397.", ".5", "1e9", "-5", "2024-01-01T24:00:00Z", "2024-01-01T00:03:17+1"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }
}
