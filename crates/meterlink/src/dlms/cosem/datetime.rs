//! COSEM date-time, date and time (Blue Book 4.1.6.1): octet strings of 12, 5 and 4 octets
//! whose fields may each be "not specified" (0xFF, 0xFFFF for the year, 0x8000 for the
//! deviation). The deviation is UTC minus local time in minutes, so the ISO 8601 offset is its
//! negation (`FFC4` = −60 → `+01:00`), as dlms-cosem and the corpus read it.


/// A COSEM date-time (Blue Book 4.1.6.1): the 12 octets as sent (year, month, day of month,
/// day of week, hour, minute, second, hundredths, deviation, clock status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime(pub [u8; 12]);

/// A COSEM date: year (2), month, day of month, day of week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Date(pub [u8; 5]);

/// A COSEM time: hour, minute, second, hundredths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Time(pub [u8; 4]);

/// The clock status octet (Blue Book 4.1.6.1): bit 0 invalid value, 1 doubtful value,
/// 2 different clock base, 3 invalid clock status, 7 daylight saving active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClockStatus(pub u8);

impl ClockStatus {
    /// Bit 0: the time could not be recovered (invalid value).
    pub fn invalid_value(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// Bit 1: the value may be wrong (doubtful value).
    pub fn doubtful_value(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Bit 2: the clock runs on a different time base.
    pub fn different_clock_base(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Bit 3: the clock status itself is invalid.
    pub fn invalid_clock_status(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// Bit 7: daylight saving time is active.
    pub fn daylight_saving_active(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// The date fields (year, month, day, weekday) from 5 octets.
fn year(b: &[u8]) -> Option<u16> {
    let y = u16::from_be_bytes([b[0], b[1]]);
    (y != 0xFFFF).then_some(y)
}
fn month(b: &[u8]) -> Option<u8> {
    (1..=12).contains(&b[2]).then_some(b[2])
}
fn day(b: &[u8]) -> Option<u8> {
    (1..=31).contains(&b[3]).then_some(b[3])
}
fn weekday(b: &[u8]) -> Option<u8> {
    (1..=7).contains(&b[4]).then_some(b[4])
}
fn ranged(v: u8, max: u8) -> Option<u8> {
    (v <= max).then_some(v)
}

/// `YYYY-MM-DD` when year, month and day are all given and form a calendar date.
fn date_iso(b: &[u8], out: &mut String) -> Option<()> {
    let (y, m, d) = (year(b)?, month(b)?, day(b)?);
    if d > crate::civil::days_in_month(i64::from(y), m) || y > 9999 {
        return None;
    }
    digits(out, (y / 100) as u8);
    digits(out, (y % 100) as u8);
    out.push('-');
    digits(out, m);
    out.push('-');
    digits(out, d);
    Some(())
}

/// Two decimal digits (`v` < 100).
fn digits(out: &mut String, v: u8) {
    out.push(char::from(b'0' + v / 10));
    out.push(char::from(b'0' + v % 10));
}

/// `HH:MM:SS[.hh]` when hour and minute are given; an unspecified second counts as 0 and
/// unspecified (or zero) hundredths are left out.
fn time_iso(t: &[u8], out: &mut String) -> Option<()> {
    let (h, mi) = (ranged(t[0], 23)?, ranged(t[1], 59)?);
    let s = if t[2] == 0xFF { 0 } else { ranged(t[2], 59)? };
    for (i, v) in [h, mi, s].into_iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        digits(out, v);
    }
    match t[3] {
        0 | 0xFF => {}
        c if c <= 99 => {
            out.push('.');
            digits(out, c);
        }
        _ => return None,
    }
    Some(())
}

macro_rules! date_accessors {
    ($t:ty, $off:expr) => {
        impl $t {
            /// The year, `None` when not specified (0xFFFF).
            pub fn year(&self) -> Option<u16> {
                year(&self.0[$off..])
            }
            /// The month 1–12; `None` when not specified or a DST marker.
            pub fn month(&self) -> Option<u8> {
                month(&self.0[$off..])
            }
            /// Month 0xFE: the month daylight saving time begins.
            pub fn dst_begin(&self) -> bool {
                self.0[$off + 2] == 0xFE
            }
            /// Month 0xFD: the month daylight saving time ends.
            pub fn dst_end(&self) -> bool {
                self.0[$off + 2] == 0xFD
            }
            /// The day of month 1–31; `None` when not specified or a last-day marker.
            pub fn day(&self) -> Option<u8> {
                day(&self.0[$off..])
            }
            /// Day 0xFE: the last day of the month.
            pub fn last_day_of_month(&self) -> bool {
                self.0[$off + 3] == 0xFE
            }
            /// Day 0xFD: the second-last day of the month.
            pub fn second_last_day_of_month(&self) -> bool {
                self.0[$off + 3] == 0xFD
            }
            /// The day of week, 1 = Monday … 7 = Sunday; `None` when not specified.
            pub fn weekday(&self) -> Option<u8> {
                weekday(&self.0[$off..])
            }
        }
    };
}

macro_rules! time_accessors {
    ($t:ty, $off:expr) => {
        impl $t {
            /// The hour 0–23, `None` when not specified.
            pub fn hour(&self) -> Option<u8> {
                ranged(self.0[$off], 23)
            }
            /// The minute 0–59, `None` when not specified.
            pub fn minute(&self) -> Option<u8> {
                ranged(self.0[$off + 1], 59)
            }
            /// The second 0–59, `None` when not specified.
            pub fn second(&self) -> Option<u8> {
                ranged(self.0[$off + 2], 59)
            }
            /// The hundredths of a second 0–99, `None` when not specified.
            pub fn hundredths(&self) -> Option<u8> {
                ranged(self.0[$off + 3], 99)
            }
        }
    };
}

date_accessors!(DateTime, 0);
date_accessors!(Date, 0);
time_accessors!(DateTime, 5);
time_accessors!(Time, 0);

impl DateTime {
    /// The date-time of a 12-octet string (as octet-string values carry it).
    pub fn from_octets(b: &[u8]) -> Option<DateTime> {
        Some(DateTime(b.try_into().ok()?))
    }

    /// The deviation in minutes (UTC − local time), `None` when not specified (0x8000) or
    /// outside ±14 h.
    pub fn deviation(&self) -> Option<i16> {
        let d = i16::from_be_bytes([self.0[9], self.0[10]]);
        (d != i16::MIN && d.unsigned_abs() <= 840).then_some(d)
    }

    /// The clock status, `None` when not specified (0xFF).
    pub fn clock_status(&self) -> Option<ClockStatus> {
        (self.0[11] != 0xFF).then_some(ClockStatus(self.0[11]))
    }

    /// ISO 8601 text, `2020-01-06T00:03:00+01:00`: the UTC offset (−deviation) when the
    /// deviation is given, none otherwise. `None` unless year, month, day, hour and minute are
    /// specified and valid (an unspecified second counts as 0, unspecified hundredths are left
    /// out).
    pub fn to_iso(&self) -> Option<String> {
        let mut s = String::with_capacity(32);
        date_iso(&self.0[..5], &mut s)?;
        s.push('T');
        time_iso(&self.0[5..9], &mut s)?;
        if i16::from_be_bytes([self.0[9], self.0[10]]) != i16::MIN {
            let off = -i32::from(self.deviation()?);
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            s.push(sign);
            digits(&mut s, (a / 60) as u8);
            s.push(':');
            digits(&mut s, (a % 60) as u8);
        }
        Some(s)
    }
}

impl Date {
    /// ISO 8601 date `YYYY-MM-DD`; `None` unless year, month and day are specified and valid.
    pub fn to_iso(&self) -> Option<String> {
        let mut s = String::with_capacity(10);
        date_iso(&self.0, &mut s)?;
        Some(s)
    }
}

impl Time {
    /// ISO 8601 time `HH:MM:SS[.hh]`; `None` unless hour and minute are specified and valid.
    pub fn to_iso(&self) -> Option<String> {
        let mut s = String::with_capacity(11);
        time_iso(&self.0, &mut s)?;
        Some(s)
    }
}
