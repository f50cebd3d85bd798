//! Date and time data types of EN 13757-3 Annex A: F (date + time, 32 bit), G (date, 16 bit),
//! I (date + time + seconds, 48 bit), J (time, 24 bit), M (variable length, see below).
//!
//! Wildcards: a field holding its "every" / "not specified" marker (day 0, month 0 or 15,
//! year 127, hour 31, minute 63, second 63; EN 13757-3:2013 Annex A, used for periodic dates
//! such as a yearly due date) is kept as such: the field is `None` and its bit is set in
//! [`DateTimeValue::every`]. Such a value, or one whose IV (invalid) bit is set, has no ISO
//! form: [`DateTimeValue::to_iso`] returns `None` rather than a bogus date.
//!
//! Years: type F carries two "hundred year" bits (HY, byte 1 bits 5–6) and the year is
//! 1900 + 100·HY + yy. Meters that leave HY at 0 and the 16/48-bit types, which have no
//! century, follow the usual two-digit convention for compatibility (also what libmbus does):
//! yy ≤ 80 means 20yy, 81..99 means 19yy.

use std::fmt;

/// Which EN 13757-3 Annex A type a date/time was coded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DateType {
    /// 32-bit date and time (minutes).
    F,
    /// 16-bit date.
    G,
    /// 48-bit date and time with seconds.
    I,
    /// 24-bit time of day.
    J,
    /// Variable length (LVAR 0xE2/0xE3/0xE4/0xE6) holding a G/J/F/I layout.
    M,
}

impl DateType {
    /// The type letter: 'F', 'G', 'I', 'J' or 'M'.
    pub const fn letter(self) -> char {
        match self {
            DateType::F => 'F',
            DateType::G => 'G',
            DateType::I => 'I',
            DateType::J => 'J',
            DateType::M => 'M',
        }
    }
}

/// [`DateTimeValue::every`] bit: the year field holds its wildcard marker.
pub const EVERY_YEAR: u8 = 0x01;
/// [`DateTimeValue::every`] bit: the month field holds its wildcard marker.
pub const EVERY_MONTH: u8 = 0x02;
/// [`DateTimeValue::every`] bit: the day field holds its wildcard marker.
pub const EVERY_DAY: u8 = 0x04;
/// [`DateTimeValue::every`] bit: the hour field holds its wildcard marker.
pub const EVERY_HOUR: u8 = 0x08;
/// [`DateTimeValue::every`] bit: the minute field holds its wildcard marker.
pub const EVERY_MINUTE: u8 = 0x10;
/// [`DateTimeValue::every`] bit: the second field holds its wildcard marker.
pub const EVERY_SECOND: u8 = 0x20;

/// A decoded date/time field. Parts the type does not carry are `None` (and no `every` bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTimeValue {
    /// The type letter it was coded in.
    pub kind: DateType,
    /// Layout inside a type M value (G, J, F or I); equals `kind` otherwise.
    pub layout: DateType,
    /// Full year (e.g. 2014). `None` if absent, a wildcard, or not a valid two-digit year.
    pub year: Option<u16>,
    /// Month as coded (1 = January). `None` if absent or a wildcard.
    pub month: Option<u8>,
    /// Day of month. `None` if absent or a wildcard.
    pub day: Option<u8>,
    /// Hour. `None` if absent or a wildcard.
    pub hour: Option<u8>,
    /// Minute. `None` if absent or a wildcard.
    pub minute: Option<u8>,
    /// Second (types I and J). `None` if absent or a wildcard.
    pub second: Option<u8>,
    /// Day of week 1 = Monday .. 7 = Sunday (type I; 0 = not specified → `None`).
    pub day_of_week: Option<u8>,
    /// Week of year 1..53 (type I; 0 = not specified → `None`).
    pub week: Option<u8>,
    /// Wildcard markers, `EVERY_*` bits.
    pub every: u8,
    /// IV bit: the meter says the time is invalid.
    pub invalid: bool,
    /// SU bit: summer time (types F and I).
    pub summer_time: bool,
    /// LY bit: leap year (type I).
    pub leap_year: bool,
    /// Daylight saving deviation in hours, signed (type I).
    pub dst_deviation_hours: i8,
    /// Offset from UTC in minutes, where the coding carries one (not decoded yet: always None).
    pub utc_offset_minutes: Option<i16>,
}

impl DateTimeValue {
    const fn empty(kind: DateType) -> Self {
        DateTimeValue {
            kind,
            layout: kind,
            year: None,
            month: None,
            day: None,
            hour: None,
            minute: None,
            second: None,
            day_of_week: None,
            week: None,
            every: 0,
            invalid: false,
            summer_time: false,
            leap_year: false,
            dst_deviation_hours: 0,
            utc_offset_minutes: None,
        }
    }

    /// Decode `b` (LSB first) as the type its length implies: 2 → G, 3 → J, 4 → F, 6 → I.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() > 8 {
            return None;
        }
        Self::from_word(super::value::word(b, false), b.len())
    }

    /// Decode the `len` bytes packed LSB first into `v` as the type the length implies.
    fn from_word(v: u64, len: usize) -> Option<Self> {
        let mut d = Self::empty(Self::layout_for_len(len)?);
        d.fill(v);
        Some(d)
    }

    /// The layout a field of `len` bytes has: 2 → G, 3 → J, 4 → F, 6 → I.
    #[inline(always)]
    pub(crate) fn layout_for_len(len: usize) -> Option<DateType> {
        Some(match len {
            2 => DateType::G,
            3 => DateType::J,
            4 => DateType::F,
            6 => DateType::I,
            _ => return None,
        })
    }

    /// An empty value of `layout` (G, J, F or I), reached through an LVAR (type M) if `m`;
    /// [`DateTimeValue::fill`] completes it.
    #[inline(always)]
    pub(crate) const fn blank(layout: DateType, m: bool) -> Self {
        let mut d = Self::empty(layout);
        if m {
            d.kind = DateType::M;
        }
        d
    }

    /// Decode the bytes packed LSB first in `v` into a blank value of their layout.
    #[inline(always)]
    pub(crate) fn fill(&mut self, v: u64) {
        let b = v.to_le_bytes();
        match self.layout {
            DateType::G => self.fill_g(b[0], b[1]),
            DateType::J => self.fill_j(b[0], b[1], b[2]),
            DateType::F => self.fill_f([b[0], b[1], b[2], b[3]]),
            DateType::I => self.fill_i([b[0], b[1], b[2], b[3], b[4], b[5]]),
            DateType::M => {} // never a layout
        }
    }

    /// Type G (16 bit): day bits 0–4 and year bits 0–2 in byte 0; month bits 0–3 and
    /// year bits 3–6 in byte 1.
    pub fn decode_g(lo: u8, hi: u8) -> Self {
        let mut v = Self::empty(DateType::G);
        v.fill_g(lo, hi);
        v
    }

    /// Type J (24 bit): second, minute, hour.
    pub fn decode_j(s: u8, m: u8, h: u8) -> Self {
        let mut v = Self::empty(DateType::J);
        v.fill_j(s, m, h);
        v
    }

    /// Type F (32 bit): minute + IV; hour + HY + SU; then a type G date.
    pub fn decode_f(b: [u8; 4]) -> Self {
        let mut v = Self::empty(DateType::F);
        v.fill_f(b);
        v
    }

    /// Type I (48 bit): second + SU + LY; minute + DST sign + IV; hour + day of week;
    /// a type G date; week + DST deviation.
    pub fn decode_i(b: [u8; 6]) -> Self {
        let mut v = Self::empty(DateType::I);
        v.fill_i(b);
        v
    }

    #[inline]
    fn fill_g(&mut self, lo: u8, hi: u8) {
        self.set_date(lo, hi, 0, false);
    }

    #[inline]
    fn fill_j(&mut self, s: u8, m: u8, h: u8) {
        self.set_field_sec(s & 0x3F);
        self.set_field_min(m & 0x3F);
        self.set_field_hour(h & 0x1F);
    }

    #[inline]
    fn fill_f(&mut self, b: [u8; 4]) {
        self.set_field_min(b[0] & 0x3F);
        self.invalid = b[0] & 0x80 != 0;
        self.set_field_hour(b[1] & 0x1F);
        self.summer_time = b[1] & 0x80 != 0;
        let hundred_year = (b[1] >> 5) & 0x03;
        self.set_date(b[2], b[3], hundred_year, true);
    }

    #[inline]
    fn fill_i(&mut self, b: [u8; 6]) {
        self.set_field_sec(b[0] & 0x3F);
        self.summer_time = b[0] & 0x40 != 0;
        self.leap_year = b[0] & 0x80 != 0;
        self.set_field_min(b[1] & 0x3F);
        let dst_positive = b[1] & 0x40 != 0;
        self.invalid = b[1] & 0x80 != 0;
        self.set_field_hour(b[2] & 0x1F);
        let dow = b[2] >> 5;
        self.day_of_week = (dow != 0).then_some(dow);
        self.set_date(b[3], b[4], 0, false);
        let week = b[5] & 0x3F;
        self.week = (week != 0).then_some(week);
        let dev = (b[5] >> 6) as i8;
        self.dst_deviation_hours = if dst_positive { dev } else { -dev };
    }

    /// Type M: the same bytes as G/J/F/I, but reached through an LVAR.
    pub fn decode_m(b: &[u8]) -> Option<Self> {
        Self::decode(b).map(Self::into_m)
    }

    /// The same value, marked as reached through an LVAR (type M).
    #[inline]
    fn into_m(mut self) -> Self {
        self.layout = self.kind;
        self.kind = DateType::M;
        self
    }

    #[inline]
    fn set_date(&mut self, lo: u8, hi: u8, hundred_year: u8, has_hy: bool) {
        let day = lo & 0x1F;
        let month = hi & 0x0F;
        let yy = ((lo & 0xE0) >> 5) | ((hi & 0xF0) >> 1);
        if day == 0 {
            self.every |= EVERY_DAY;
        } else {
            self.day = Some(day);
        }
        if month == 0 || month == 15 {
            self.every |= EVERY_MONTH;
        } else {
            self.month = Some(month);
        }
        if yy == 127 {
            self.every |= EVERY_YEAR;
        } else if yy <= 99 {
            let century: u16 = if has_hy && hundred_year != 0 {
                1900 + 100 * hundred_year as u16
            } else if yy <= 80 {
                2000
            } else {
                1900
            };
            self.year = Some(century + yy as u16);
        }
    }

    #[inline]
    fn set_field_sec(&mut self, s: u8) {
        if s == 63 {
            self.every |= EVERY_SECOND;
        } else {
            self.second = Some(s);
        }
    }

    #[inline]
    fn set_field_min(&mut self, m: u8) {
        if m == 63 {
            self.every |= EVERY_MINUTE;
        } else {
            self.minute = Some(m);
        }
    }

    #[inline]
    fn set_field_hour(&mut self, h: u8) {
        if h == 31 {
            self.every |= EVERY_HOUR;
        } else {
            self.hour = Some(h);
        }
    }

    fn has_date(&self) -> bool {
        !matches!(self.layout, DateType::J)
    }

    fn has_time(&self) -> bool {
        !matches!(self.layout, DateType::G)
    }

    fn has_seconds(&self) -> bool {
        matches!(self.layout, DateType::I | DateType::J)
    }

    /// True when the value is a real point in time: no IV bit, no wildcard, every field in range.
    pub fn is_valid(&self) -> bool {
        if self.invalid || self.every != 0 {
            return false;
        }
        if self.has_date() {
            let (Some(y), Some(m), Some(d)) = (self.year, self.month, self.day) else {
                return false;
            };
            if !(1..=12).contains(&m) || d == 0 || d > crate::civil::days_in_month(i64::from(y), m) {
                return false;
            }
        }
        if self.has_time() {
            let (Some(h), Some(mi)) = (self.hour, self.minute) else {
                return false;
            };
            if h > 23 || mi > 59 {
                return false;
            }
            if self.has_seconds() && !matches!(self.second, Some(s) if s <= 59) {
                return false;
            }
        }
        true
    }

    /// Append the ISO 8601 text of [`DateTimeValue::to_iso`] to `out` without `fmt` (the bulk
    /// decoder's hot path). Returns false, writing nothing, when the value is not valid.
    pub fn write_iso(&self, out: &mut Vec<u8>) -> bool {
        if !self.is_valid() {
            return false;
        }
        // is_valid: every part the layout has is Some and in range (2 digits); years of other
        // widths than 4 (never decoded, but the field is public) take the fmt path.
        let two = |out: &mut Vec<u8>, v: Option<u8>, sep: u8| {
            let v = v.unwrap_or(0);
            out.extend_from_slice(&[sep, b'0' + v / 10, b'0' + v % 10]);
        };
        if self.has_date() {
            let y = self.year.unwrap_or(0);
            if !(1000..=9999).contains(&y) {
                out.extend_from_slice(self.to_string().as_bytes());
                return true;
            }
            out.extend_from_slice(&[
                b'0' + (y / 1000) as u8,
                b'0' + (y / 100 % 10) as u8,
                b'0' + (y / 10 % 10) as u8,
                b'0' + (y % 10) as u8,
            ]);
            two(out, self.month, b'-');
            two(out, self.day, b'-');
        }
        if self.has_time() {
            let h = self.hour.unwrap_or(0);
            if self.has_date() {
                out.push(b'T');
            }
            out.extend_from_slice(&[b'0' + h / 10, b'0' + h % 10]);
            two(out, self.minute, b':');
            if self.has_seconds() {
                two(out, self.second, b':');
            }
        }
        true
    }

    /// ISO 8601 text: `YYYY-MM-DD` (G), `YYYY-MM-DDTHH:MM` (F), `YYYY-MM-DDTHH:MM:SS` (I),
    /// `HH:MM:SS` (J). `None` when [`DateTimeValue::is_valid`] is false.
    pub fn to_iso(&self) -> Option<String> {
        if !self.is_valid() {
            return None;
        }
        Some(self.to_string())
    }
}

/// ISO form for valid values; for others the fields as far as known, wildcards as `*`
/// (e.g. `****-12-31`), and an ` (invalid)` suffix for the IV bit.
impl fmt::Display for DateTimeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn part(f: &mut fmt::Formatter<'_>, v: Option<impl Into<u16>>, width: usize, every: bool) -> fmt::Result {
            match v {
                Some(x) => write!(f, "{:0width$}", x.into()),
                None if every => write!(f, "{}", "*".repeat(width)),
                None => write!(f, "{}", "?".repeat(width)),
            }
        }
        if self.has_date() {
            part(f, self.year, 4, self.every & EVERY_YEAR != 0)?;
            f.write_str("-")?;
            part(f, self.month, 2, self.every & EVERY_MONTH != 0)?;
            f.write_str("-")?;
            part(f, self.day, 2, self.every & EVERY_DAY != 0)?;
            if self.has_time() {
                f.write_str("T")?;
            }
        }
        if self.has_time() {
            part(f, self.hour, 2, self.every & EVERY_HOUR != 0)?;
            f.write_str(":")?;
            part(f, self.minute, 2, self.every & EVERY_MINUTE != 0)?;
            if self.has_seconds() {
                f.write_str(":")?;
                part(f, self.second, 2, self.every & EVERY_SECOND != 0)?;
            }
        }
        if self.invalid {
            f.write_str(" (invalid)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iso_bytes(d: &DateTimeValue) -> Option<String> {
        let mut out = b"x".to_vec();
        d.write_iso(&mut out).then(|| String::from_utf8(out[1..].to_vec()).unwrap())
    }

    #[test]
    fn write_iso_matches_to_iso_for_every_type_g() {
        for v in 0..=u16::MAX {
            let d = DateTimeValue::decode(&v.to_le_bytes()).unwrap();
            assert_eq!(iso_bytes(&d), d.to_iso(), "{v:04x}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn write_iso_matches_to_iso(b in proptest::collection::vec(any::<u8>(), 2..7), m in any::<bool>()) {
            let d = if m { DateTimeValue::decode_m(&b) } else { DateTimeValue::decode(&b) };
            if let Some(mut d) = d {
                prop_assert_eq!(iso_bytes(&d), d.to_iso());
                // Public fields set by hand: odd years too.
                d.year = d.year.map(|y| y.wrapping_mul(7) % 12000);
                prop_assert_eq!(iso_bytes(&d), d.to_iso());
            }
        }
    }

    #[test]
    fn type_g() {
        // 0x1CBF: day 31, month 12, yy = 0b0001_101 = 13 -> 2013-12-31
        let d = DateTimeValue::decode(&[0xBF, 0x1C]).unwrap();
        assert_eq!(d.kind, DateType::G);
        assert_eq!(d.to_iso().as_deref(), Some("2013-12-31"));
        // 0x0CFF: day 31, month 12, yy = 7 -> 2007-12-31 (OMS Vol.2 wired example, storage 1)
        assert_eq!(DateTimeValue::decode_g(0xFF, 0x0C).to_iso().as_deref(), Some("2007-12-31"));
        // all zero: day 0, month 0 -> wildcards, no ISO form
        let z = DateTimeValue::decode_g(0, 0);
        assert_eq!(z.every, EVERY_DAY | EVERY_MONTH);
        assert_eq!(z.to_iso(), None);
        assert!(!z.is_valid());
        // year 99 -> 1999; 80 -> 2080
        assert_eq!(DateTimeValue::decode_g(0x61, 0xC1).year, Some(1999)); // yy = 3 | (12 << 3) = 99
        assert_eq!(DateTimeValue::decode_g(0x01, 0xA1).year, Some(2080)); // yy = 10 << 3 = 80
        // month 13 -> out of range
        assert_eq!(DateTimeValue::decode_g(0x01, 0x0D).to_iso(), None);
        // Feb 29 only in leap years
        assert_eq!(DateTimeValue::decode_g(0x1D | (4 << 5), 0x02).to_iso().as_deref(), Some("2004-02-29"));
        assert_eq!(DateTimeValue::decode_g(0x1D | (5 << 5), 0x02).to_iso(), None);
    }

    #[test]
    fn type_f() {
        // OMS Vol.2 Annex N wired example: 32 37 1F 15 = 2008-05-31 23:50 (HY = 1)
        let d = DateTimeValue::decode(&[0x32, 0x37, 0x1F, 0x15]).unwrap();
        assert_eq!(d.kind, DateType::F);
        assert_eq!(d.to_iso().as_deref(), Some("2008-05-31T23:50"));
        assert!(!d.summer_time);
        // HY = 0 with yy = 96 -> 1996
        let d = DateTimeValue::decode_f([0x10, 0x09, 0x05, 0xC5]);
        assert_eq!(d.to_iso().as_deref(), Some("1996-05-05T09:16"));
        // HY = 2 -> 21yy
        let d = DateTimeValue::decode_f([0x00, 0x40, 0x21, 0x01]);
        assert_eq!(d.year, Some(2101));
        // IV bit set: never a date
        let d = DateTimeValue::decode_f([0xA1, 0x15, 0xE9, 0x17]);
        assert!(d.invalid);
        assert_eq!(d.to_iso(), None);
        // summer time bit
        assert!(DateTimeValue::decode_f([0x00, 0x8C, 0x21, 0x01]).summer_time);
        // year 127 = every year: 1 January every year at 00:00
        let d = DateTimeValue::decode_f([0x00, 0x00, 0xE1, 0xF1]);
        assert_eq!(d.every, EVERY_YEAR);
        assert_eq!((d.month, d.day), (Some(1), Some(1)));
        assert_eq!(d.to_iso(), None);
        assert_eq!(d.to_string(), "****-01-01T00:00");
        // every hour / every minute markers
        let d = DateTimeValue::decode_f([0x3F, 0x1F, 0x21, 0x01]);
        assert_eq!(d.every, EVERY_HOUR | EVERY_MINUTE);
        // hour 24 out of range
        assert_eq!(DateTimeValue::decode_f([0x00, 0x18, 0x21, 0x01]).to_iso(), None);
    }

    #[test]
    fn type_i() {
        // DSMR 4.2.2 P2 example: 00 00 0B 32 16 00 = 2009-06-18 11:00:00
        let d = DateTimeValue::decode(&[0x00, 0x00, 0x0B, 0x32, 0x16, 0x00]).unwrap();
        assert_eq!(d.kind, DateType::I);
        assert_eq!(d.to_iso().as_deref(), Some("2009-06-18T11:00:00"));
        // seconds, day of week, week, DST deviation +1
        let d = DateTimeValue::decode_i([0x40 | 30, 0x40 | 5, (3 << 5) | 7, 0x32, 0x16, (1 << 6) | 25]);
        assert_eq!(d.to_iso().as_deref(), Some("2009-06-18T07:05:30"));
        assert!(d.summer_time);
        assert_eq!((d.day_of_week, d.week, d.dst_deviation_hours), (Some(3), Some(25), 1));
        // IV bit in byte 1
        assert_eq!(DateTimeValue::decode_i([0, 0x80, 0x0B, 0x32, 0x16, 0]).to_iso(), None);
        // every second
        assert_eq!(DateTimeValue::decode_i([63, 0, 0x0B, 0x32, 0x16, 0]).every, EVERY_SECOND);
    }

    #[test]
    fn type_j() {
        let d = DateTimeValue::decode(&[45, 30, 12]).unwrap();
        assert_eq!(d.kind, DateType::J);
        assert_eq!(d.to_iso().as_deref(), Some("12:30:45"));
        assert_eq!(DateTimeValue::decode_j(60, 0, 0).to_iso(), None);
        assert_eq!(DateTimeValue::decode_j(0, 63, 0).every, EVERY_MINUTE);
    }

    #[test]
    fn type_m_and_other_lengths() {
        let d = DateTimeValue::decode_m(&[0xBF, 0x1C]).unwrap();
        assert_eq!((d.kind, d.layout), (DateType::M, DateType::G));
        assert_eq!(d.to_iso().as_deref(), Some("2013-12-31"));
        assert!(DateTimeValue::decode(&[1, 2, 3, 4, 5]).is_none());
        assert!(DateTimeValue::decode(&[]).is_none());
    }
}
