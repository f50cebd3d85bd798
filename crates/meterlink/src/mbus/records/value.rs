//! Record values and the data-field decoders of EN 13757-3 Annex A (types A, B, H) and
//! the LVAR codings of table 5.

use super::date::DateTimeValue;
use super::{Record, RecordKind, Span};
use std::fmt::Write as _;

/// A decoded record value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No data field (DIF data field 0x0) or "selection for readout" (0x8).
    None,
    /// An integer or BCD number: exactly mantissa × 10^exponent (exponent from the VIF, incl. VIFE multipliers).
    Number {
        /// The signed integer (BCD digits decoded, sign applied).
        mantissa: i64,
        /// Decimal exponent.
        exponent: i8,
    },
    /// A 32-bit real (DIF 0x5), already multiplied by 10^exponent of the VIF.
    Real(f64),
    /// Dates/times (types F, G, I, J, M).
    DateTime(DateTimeValue),
    /// Text (LVAR 0x00..0xBF, plain text), already turned into reading order (M-Bus sends text last char first).
    Text(Box<str>),
    /// Raw bytes as transmitted, wire order (binary LVAR 0xE0.., manufacturer data, data with no numeric meaning).
    Bytes(Span),
    /// A BCD field containing hex nibbles A..F that are not a valid sign: reported raw, never guessed.
    InvalidBcd(Span),
}

/// 10^0 ..= 10^22: every one of these is exactly representable as an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
];

/// `x` × 10^`e`, rounding once where possible (division by an exact power of ten gives the
/// correctly rounded quotient, so 54321 × 10^-3 is exactly the f64 nearest 54.321).
pub(crate) fn scale(x: f64, e: i32) -> f64 {
    if e >= 0 {
        match POW10.get(e as usize) {
            Some(p) => x * p,
            None => x * 10f64.powi(e),
        }
    } else {
        match POW10.get((-e) as usize) {
            Some(p) => x / p,
            None => x * 10f64.powi(e),
        }
    }
}

impl Value {
    /// The scaled numeric value: `Number` as mantissa × 10^exponent (54321e-3 gives exactly
    /// 54.321_f64), `Real` as is; `None` for every other variant.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Number { mantissa, exponent } => Some(scale(mantissa as f64, exponent as i32)),
            Value::Real(r) => Some(r),
            _ => None,
        }
    }

    /// The date/time, if this is one.
    pub fn as_datetime(&self) -> Option<&DateTimeValue> {
        match self {
            Value::DateTime(d) => Some(d),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field decoders. `b` is the field in wire order; `msb_first` flips the byte order.
// ---------------------------------------------------------------------------------------------

/// The field as an unsigned integer: least significant byte first on the wire (M-Bus byte
/// order) unless `msb_first` (the 0x76-family CIs). Only the 8 least significant bytes count.
#[inline(always)]
pub(crate) fn word(b: &[u8], msb_first: bool) -> u64 {
    if msb_first {
        let n = b.len().min(8);
        return b[b.len() - n..].iter().fold(0u64, |v, &x| (v << 8) | x as u64);
    }
    // Unrolled for the common fixed lengths of EN 13757-3 table 4 (1, 2, 3, 4, 6 bytes).
    match *b {
        [] => 0,
        [a] => a as u64,
        [a, b] => u16::from_le_bytes([a, b]) as u64,
        [a, b, c] => u32::from_le_bytes([a, b, c, 0]) as u64,
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as u64,
        [a, b, c, d, e, f] => u64::from_le_bytes([a, b, c, d, e, f, 0, 0]),
        _ => b[..b.len().min(8)].iter().rev().fold(0u64, |v, &x| (v << 8) | x as u64),
    }
}

/// Type B: signed two's-complement integer of 1..8 bytes, LSB first.
#[inline]
pub(crate) fn int_signed(b: &[u8], msb_first: bool) -> i64 {
    let n = b.len().min(8) as u32;
    if n == 0 {
        return 0;
    }
    // sign-extend from the top bit of the n-th byte
    let shift = 64 - n * 8;
    ((word(b, msb_first) << shift) as i64) >> shift
}

/// A BCD byte (two digits, high nibble first) as its value 0..=99, or 0xFF when a nibble
/// is A..F (EN 13757-3 Annex A, type A).
static BCD_BYTE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut x = 0;
    while x < 256 {
        if x >> 4 <= 9 && x & 0x0F <= 9 {
            t[x] = ((x >> 4) * 10 + (x & 0x0F)) as u8;
        }
        x += 1;
    }
    t
};

/// Append BCD byte `x` (the next two digits) to `(value, invalid marks)`.
#[inline(always)]
fn bcd_step((v, bad): (u64, u8), x: u8) -> (u64, u8) {
    let d = BCD_BYTE[x as usize];
    (v * 100 + d as u64, bad | d)
}

/// Type A: BCD, LSB first. A top nibble 0xF means minus (EN 13757-3 Annex A); any other
/// nibble A..F makes the field invalid (`None`). At most 18 digits (9 bytes).
#[inline(always)]
pub(crate) fn bcd(b: &[u8], msb_first: bool) -> Option<i64> {
    let z = (0u64, 0u8);
    // Most significant byte first; the fixed BCD lengths of table 4 unrolled.
    let (v, bad) = match (msb_first, b) {
        (false, &[a]) => bcd_step(z, a),
        (false, &[a, b]) => bcd_step(bcd_step(z, b), a),
        (false, &[a, b, c]) => bcd_step(bcd_step(bcd_step(z, c), b), a),
        (false, &[a, b, c, d]) => bcd_step(bcd_step(bcd_step(bcd_step(z, d), c), b), a),
        (false, &[a, b, c, d, e, f]) => {
            let hi = bcd_step(bcd_step(bcd_step(z, f), e), d);
            bcd_step(bcd_step(bcd_step(hi, c), b), a)
        }
        _ if b.len() > 9 => return None,
        (false, _) => b.iter().rev().fold(z, |acc, &x| bcd_step(acc, x)),
        (true, _) => b.iter().fold(z, |acc, &x| bcd_step(acc, x)),
    };
    if bad & 0x80 == 0 {
        // at most 18 digits: fits an i64
        return Some(v as i64);
    }
    negative_bcd(b, msb_first)
}

/// A BCD field with an invalid nibble: negative if the top nibble is the minus sign 0xF and
/// every other nibble is a digit; `None` otherwise.
#[cold]
fn negative_bcd(b: &[u8], msb_first: bool) -> Option<i64> {
    let (&top, rest) = if msb_first { b.split_first()? } else { b.split_last()? };
    if top >> 4 != 0x0F {
        return None;
    }
    let acc = bcd_step((0, 0), top & 0x0F);
    let (v, bad) = if msb_first {
        rest.iter().fold(acc, |acc, &x| bcd_step(acc, x))
    } else {
        rest.iter().rev().fold(acc, |acc, &x| bcd_step(acc, x))
    };
    (bad & 0x80 == 0).then_some(-(v as i64))
}

/// Type H: IEEE 754 single precision, LSB first.
#[inline]
pub(crate) fn real32(b: &[u8], msb_first: bool) -> f32 {
    f32::from_bits(word(b, msb_first) as u32)
}

/// LVAR text: reversed on the wire unless the application layer is MSB first. Bytes are
/// taken as Latin-1 characters.
pub(crate) fn text(b: &[u8], msb_first: bool) -> Box<str> {
    if b.is_ascii() {
        // fast path: one allocation, no UTF-8 encoding
        let mut v = b.to_vec();
        if !msb_first {
            v.reverse();
        }
        // ASCII is valid UTF-8
        return String::from_utf8(v).unwrap_or_default().into_boxed_str();
    }
    let mut s = String::with_capacity(b.len() * 2);
    if msb_first {
        s.extend(b.iter().map(|&c| c as char));
    } else {
        s.extend(b.iter().rev().map(|&c| c as char));
    }
    s.into_boxed_str()
}

// ---------------------------------------------------------------------------------------------
// describe()
// ---------------------------------------------------------------------------------------------

fn write_number(out: &mut String, mantissa: i64, exponent: i8) {
    // Exact decimal text of mantissa × 10^exponent (no float rounding).
    let digits = mantissa.unsigned_abs().to_string();
    if mantissa < 0 {
        out.push('-');
    }
    if exponent >= 0 {
        out.push_str(&digits);
        if mantissa != 0 {
            for _ in 0..exponent {
                out.push('0');
            }
        }
        return;
    }
    let frac = (-(exponent as i32)) as usize;
    if digits.len() > frac {
        let (int, dec) = digits.split_at(digits.len() - frac);
        out.push_str(int);
        out.push('.');
        out.push_str(dec);
    } else {
        out.push_str("0.");
        for _ in 0..frac - digits.len() {
            out.push('0');
        }
        out.push_str(&digits);
    }
}

fn write_hex(out: &mut String, b: &[u8]) {
    for x in b {
        let _ = write!(out, "{x:02x}");
    }
}

/// One line: "Volume (storage 1, tariff 0): 54.321 m^3".
pub(crate) fn describe(record: &Record, buf: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    let get = |s: Span| -> &[u8] {
        let a = s.start as usize;
        let b = a + s.len as usize;
        buf.get(a..b).unwrap_or(&[])
    };
    match record.kind {
        RecordKind::GlobalReadout => return "Global readout request".to_string(),
        RecordKind::ManufacturerData { more_records_follow } => {
            out.push_str("Manufacturer data");
            if more_records_follow {
                out.push_str(" (more records follow)");
            }
            out.push_str(": ");
            write_hex(&mut out, get(record.data));
            return out;
        }
        RecordKind::Data => {}
    }
    let vif = &record.vif;
    out.push_str(vif.quantity);
    if let Some(t) = &vif.plain_text_unit {
        let _ = write!(out, " \"{t}\"");
    }
    for e in vif.extensions() {
        let _ = write!(out, ", {e}");
    }
    let _ = write!(out, " (storage {}, tariff {}", record.storage, record.tariff);
    if record.subunit != 0 {
        let _ = write!(out, ", subunit {}", record.subunit);
    }
    if record.function != super::Function::Instantaneous {
        let _ = write!(out, ", {}", record.function.as_str());
    }
    out.push_str("): ");
    let unit = vif.unit.as_str().or(vif.plain_text_unit.as_deref());
    let mut numeric = false;
    match &record.value {
        Value::None => out.push_str("(no data)"),
        Value::Number { mantissa, exponent } => {
            write_number(&mut out, *mantissa, *exponent);
            numeric = true;
        }
        Value::Real(r) => {
            let _ = write!(out, "{r}");
            numeric = true;
        }
        Value::DateTime(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Text(t) => {
            let _ = write!(out, "\"{t}\"");
        }
        Value::Bytes(s) => {
            out.push_str("0x");
            write_hex(&mut out, get(*s));
        }
        Value::InvalidBcd(s) => {
            out.push_str("invalid BCD ");
            for x in get(*s).iter().rev() {
                let _ = write!(out, "{x:02X}");
            }
        }
    }
    if numeric {
        if let Some(u) = unit {
            out.push(' ');
            out.push_str(u);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_f64_exact() {
        assert_eq!(Value::Number { mantissa: 54321, exponent: -3 }.as_f64(), Some(54.321));
        assert_eq!(Value::Number { mantissa: 2850427, exponent: -2 }.as_f64(), Some(28504.27));
        assert_eq!(Value::Number { mantissa: 8, exponent: 5 }.as_f64(), Some(800000.0));
        assert_eq!(Value::Number { mantissa: -66, exponent: -3 }.as_f64(), Some(-0.066));
        assert_eq!(Value::Real(1.5).as_f64(), Some(1.5));
        assert_eq!(Value::None.as_f64(), None);
        assert_eq!(Value::Bytes(Span::default()).as_f64(), None);
        // beyond 10^22 powers are no longer exact: close enough
        assert!((scale(1.0, 30) / 1e30 - 1.0).abs() < 1e-15);
        assert!((scale(1.0, -30) / 1e-30 - 1.0).abs() < 1e-15);
    }

    #[test]
    fn integers() {
        assert_eq!(int_signed(&[0xFF], false), -1);
        assert_eq!(int_signed(&[0x7F], false), 127);
        assert_eq!(int_signed(&[0x36, 0xFF], false), -202);
        assert_eq!(int_signed(&[0xBE, 0xFF, 0xFF], false), -66);
        assert_eq!(int_signed(&[0xFE, 0xFF, 0xFF, 0xFF], false), -2);
        assert_eq!(int_signed(&[0x91, 0x7B, 0x6F, 0x01], false), 24_083_345);
        assert_eq!(int_signed(&[0xFC, 0x03, 0x6D, 0x00, 0x2D, 0x00], false), 193_280_672_764);
        assert_eq!(int_signed(&[0xFF; 6], false), -1);
        assert_eq!(int_signed(&[0xFF; 8], false), -1);
        assert_eq!(int_signed(&[0, 0, 0, 0, 0, 0, 0, 0x80], false), i64::MIN);
        // MSB first
        assert_eq!(int_signed(&[0x01, 0x6F, 0x7B, 0x91], true), 24_083_345);
        assert_eq!(int_signed(&[0xFF, 0x36], true), -202);
    }

    #[test]
    fn bcd_fields() {
        assert_eq!(bcd(&[0x27, 0x04, 0x85, 0x02], false), Some(2_850_427));
        assert_eq!(bcd(&[0x99], false), Some(99));
        assert_eq!(bcd(&[0x12, 0x34, 0x56, 0x78, 0x90, 0x12], false), Some(129_078_563_412));
        // negative: top nibble F
        assert_eq!(bcd(&[0x23, 0xF1], false), Some(-123));
        assert_eq!(bcd(&[0x01, 0x00, 0xF0], false), Some(-1));
        // error nibbles
        assert_eq!(bcd(&[0xBD, 0xEB, 0xDD, 0xDD], false), None);
        assert_eq!(bcd(&[0x1A], false), None);
        assert_eq!(bcd(&[0xF1, 0x00], false), None); // F not in the top nibble
        // MSB first
        assert_eq!(bcd(&[0x02, 0x85, 0x04, 0x27], true), Some(2_850_427));
    }

    #[test]
    fn reals() {
        // 0x41AC4B2B = 21.536703...
        let r = real32(&[0x2B, 0x4B, 0xAC, 0x41], false);
        assert!((r - 21.536_703).abs() < 1e-5);
        assert_eq!(real32(&[0x41, 0xAC, 0x4B, 0x2B], true), r);
    }

    #[test]
    fn texts() {
        assert_eq!(&*text(b"532DVR", false), "RVD235");
        assert_eq!(&*text(b"RVD235", true), "RVD235");
        assert_eq!(&*text(&[0xE9, b'a'], false), "a\u{e9}");
    }

    #[test]
    fn exact_number_text() {
        let f = |m, e| {
            let mut s = String::new();
            write_number(&mut s, m, e);
            s
        };
        assert_eq!(f(54321, -3), "54.321");
        assert_eq!(f(5, -3), "0.005");
        assert_eq!(f(-66, -3), "-0.066");
        assert_eq!(f(8, 5), "800000");
        assert_eq!(f(0, 5), "0");
        assert_eq!(f(123, 0), "123");
    }
}
