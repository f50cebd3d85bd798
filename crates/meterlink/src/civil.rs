//! Proleptic Gregorian calendar arithmetic (no leap seconds): day numbers since 1970-01-01 and
//! back, the one copy every date the library and the service read or write goes through.
//! The algorithms are H. Hinnant's `days_from_civil` / `civil_from_days` ("chrono-Compatible
//! Low-Level Date Algorithms"): eras of 400 years (146,097 days) starting on 1 March, so the
//! leap day is the last day of its year.

/// Days since 1970-01-01 → (year, month 1–12, day 1–31).
pub fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1–12, day 1–31) → days since 1970-01-01, the inverse of [`civil_from_days`].
/// The month and day are not checked against the calendar (31 February is 3 March): callers
/// check what their format allows first.
pub fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Whether `y` is a Gregorian leap year.
pub fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in month `m` (1–12) of year `y`; 31 for a month outside 1–12 (callers check the
/// month first).
pub fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round trip over ±2,190 years, and fixed points: the epoch, 2000-03-01 (11,017 days),
    /// 2024-01-01 (1,704,067,200 s / 86,400 = 19,723), the leap day 2024-02-29, the day
    /// before the epoch, and a century that is not leap (1900) and one that is (2000).
    #[test]
    fn days_and_dates() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_723 + 59), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert!(!is_leap(1900) && is_leap(2000) && is_leap(2024) && !is_leap(2023));
        assert_eq!(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);
        assert_eq!(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
        assert_eq!([days_in_month(1900, 2), days_in_month(2000, 2), days_in_month(2023, 4), days_in_month(2023, 12)], [28, 29, 30, 31]);
    }
}
