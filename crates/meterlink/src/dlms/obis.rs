//! OBIS codes (IEC 62056-6-1) and the OBIS rows that pushes and P1 telegrams become.

use std::borrow::Cow;
use std::fmt;

/// An OBIS code, the six value groups A–F.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obis(pub [u8; 6]);

impl fmt::Display for Obis {
    /// Dotted text: `1.0.1.8.0.255`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a}.{b}.{c}.{d}.{e}.{g}")
    }
}

impl Obis {
    /// The code from a 6-octet string, as COSEM carries logical names.
    pub fn from_octets(b: &[u8]) -> Option<Obis> {
        Some(Obis(b.try_into().ok()?))
    }

    /// Parse dotted text (`1.0.1.8.0.255`) or the reduced IEC form of P1 lines (`1-0:1.8.0`,
    /// `1-0:1.8.0.255`, `0-1:24.2.1`); F defaults to 255.
    pub fn parse(s: &str) -> Option<Obis> {
        let (ab, rest) = match s.split_once(':') {
            Some((ab, rest)) => (Some(ab), rest),
            None => (None, s),
        };
        let mut v = [0u8, 0, 0, 0, 0, 255];
        let mut n = 0;
        if let Some(ab) = ab {
            let (a, b) = ab.split_once('-')?;
            v[0] = a.parse().ok()?;
            v[1] = b.parse().ok()?;
            n = 2;
        }
        for part in rest.split(['.', '*', '&']) {
            if n >= 6 {
                return None;
            }
            v[n] = part.parse().ok()?;
            n += 1;
        }
        let min = if ab.is_some() { 5 } else { 6 };
        (n >= min).then_some(Obis(v))
    }
}

/// A row's value: numbers already scaled; text; raw octets; or none.
#[derive(Clone, Debug, PartialEq)]
pub enum RowValue {
    /// No value (null-data, or an invalid field).
    None,
    /// An integer with scaler 0 (or none).
    Int(i64),
    /// A number with its scaler applied.
    Float(f64),
    /// Text (visible-string, utf8-string, a date as ISO 8601, a P1 text value).
    Text(String),
    /// Octets that are not text.
    Bytes(Vec<u8>),
}

/// One value of a push or a P1 telegram with its OBIS code.
#[derive(Clone, Debug, PartialEq)]
pub struct ObisRow {
    /// The OBIS code, where the layout carries one.
    pub obis: Option<Obis>,
    /// The value, scaled.
    pub value: RowValue,
    /// The unscaled integer, for numbers.
    pub mantissa: Option<i64>,
    /// The decimal exponent applied (`value = mantissa × 10^scaler`).
    pub scaler: Option<i8>,
    /// The unit (Blue Book unit enumeration name, or the P1 text's unit).
    pub unit: Option<Cow<'static, str>>,
    /// The OBIS code's common name, where known.
    pub name: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::Obis;

    #[test]
    fn obis_text_forms() {
        let o = Obis([1, 0, 1, 8, 1, 255]);
        assert_eq!(o.to_string(), "1.0.1.8.1.255");
        assert_eq!(Obis::parse("1.0.1.8.1.255"), Some(o));
        assert_eq!(Obis::parse("1-0:1.8.1"), Some(o));
        assert_eq!(Obis::parse("1-0:1.8.1.255"), Some(o));
        assert_eq!(Obis::parse("0-1:24.2.1"), Some(Obis([0, 1, 24, 2, 1, 255])));
        assert_eq!(Obis::parse("1.0.1.8"), None);
        assert_eq!(Obis::parse("1-0:1.8.1.255.7"), None);
        assert_eq!(Obis::parse("1-0:x.8.1"), None);
    }
}
