//! Time in DSMR P2 (§6.2.1 footnote 4, §6.4.3): EN 13757-3 type I carrying UTC, and the
//! civil-calendar arithmetic behind it (proleptic Gregorian, no leap seconds).

use crate::mbus::records::DateTimeValue;

pub(crate) use crate::civil::{civil_from_days, days_from_civil, days_in_month, is_leap};

/// Type I with the fields of footnote 4 (UTC, day of week 1 = Monday … 7 = Sunday, week 0,
/// leap-year flag, no daylight-saving fields). Years are sent modulo 100 (type I has no
/// century; the decoder reads 00–80 as 20xx).
pub(crate) fn encode_type_i(unix: i64, with_day_of_week: bool) -> [u8; 6] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = ((secs / 3600) as u8, ((secs / 60) % 60) as u8, (secs % 60) as u8);
    let dow = if with_day_of_week { ((days + 3).rem_euclid(7) + 1) as u8 } else { 0 }; // 1970-01-01: Thursday
    let yy = y.rem_euclid(100) as u8;
    let leap = if is_leap(y) { 0x80 } else { 0 };
    [ss | leap, mm, hh | (dow << 5), d | ((yy & 0x07) << 5), m | ((yy >> 3) << 4), 0]
}

/// Type I → Unix seconds UTC and the SU (daylight saving) flag; None when a field is out of
/// range, marked invalid (IV) or "every" (63 / 0 / 127 codes), or the day does not exist.
pub(crate) fn decode_type_i(b: [u8; 6]) -> Option<(i64, bool)> {
    let v = DateTimeValue::decode_i(b);
    if v.invalid || v.every != 0 {
        return None;
    }
    let (y, mo, d) = (i64::from(v.year?), v.month?, v.day?);
    let (h, mi, s) = (v.hour?, v.minute?, v.second?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let t = days_from_civil(y, mo, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Some((t, v.summer_time))
}

/// The Unix time of the last Sunday of `month` in `year`, 01:00 UTC (EU summer-time switch).
fn last_sunday_0100(year: i64, month: u8) -> i64 {
    let last = days_from_civil(year, month, days_in_month(year, month));
    let dow = (last + 3).rem_euclid(7); // 0 = Monday … 6 = Sunday
    (last - (dow + 1) % 7) * 86_400 + 3600
}

/// Whether the instant `unix` (UTC) falls in EU summer time (Directive 2000/84/EC: from the
/// last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC).
pub fn eu_summer_time(unix: i64) -> bool {
    let (y, _, _) = civil_from_days(unix.div_euclid(86_400));
    (last_sunday_0100(y, 3)..last_sunday_0100(y, 10)).contains(&unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_switch_instants() {
        // 2009: 29 March 01:00 UTC and 25 October 01:00 UTC.
        let on = days_from_civil(2009, 3, 29) * 86_400 + 3600;
        let off = days_from_civil(2009, 10, 25) * 86_400 + 3600;
        assert!(!eu_summer_time(on - 1) && eu_summer_time(on));
        assert!(eu_summer_time(off - 1) && !eu_summer_time(off));
    }
}
