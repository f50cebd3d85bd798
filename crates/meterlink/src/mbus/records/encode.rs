//! Building data records (EN 13757-3 clause 6): the counterpart of the DIB/VIB/data-field
//! parsers in `dif.rs` and `vif.rs`. [`encode_record`] writes DIF (+ DIFEs), the VIB as given and
//! the data field coded as [`RecordValue`] says.

use super::{Function, MAX_DIFES};
use crate::mbus::encode_error::EncodeError;

/// The value of one data record and how its data field is coded.
#[derive(Clone, Debug, PartialEq)]
pub enum RecordValue {
    /// No data field (DIF data field 0).
    None,
    /// Signed integer (type B) in `size` bytes: 1, 2, 3, 4, 6 or 8.
    Int {
        /// The value.
        value: i64,
        /// The data field size in bytes.
        size: u8,
    },
    /// BCD (type A) with `digits` digits: 2, 4, 6, 8 or 12. Negative values use the top
    /// nibble 0xF as the minus sign (one digit fewer).
    Bcd {
        /// The value.
        value: i64,
        /// The number of BCD digits.
        digits: u8,
    },
    /// 32-bit IEEE 754 real (type H).
    Real(f32),
    /// Text (LVAR 0x00..0xBF), Latin-1, sent last character first.
    Text(String),
}

impl RecordValue {
    /// The smallest integer coding that holds `value`.
    pub fn int(value: i64) -> Self {
        let size = [1u8, 2, 3, 4, 6, 8]
            .into_iter()
            .find(|&s| fits_signed(value, s))
            .unwrap_or(8);
        RecordValue::Int { value, size }
    }

    /// The smallest BCD coding that holds `value` (None if it has more than 12 digits).
    pub fn bcd(value: i64) -> Option<Self> {
        [2u8, 4, 6, 8, 12]
            .into_iter()
            .find(|&d| fits_bcd(value, d))
            .map(|digits| RecordValue::Bcd { value, digits })
    }
}

fn fits_signed(v: i64, size: u8) -> bool {
    if size >= 8 {
        return true;
    }
    let bits = u32::from(size) * 8;
    let min = -(1i64 << (bits - 1));
    let max = (1i64 << (bits - 1)) - 1;
    (min..=max).contains(&v)
}

fn fits_bcd(v: i64, digits: u8) -> bool {
    let d = u32::from(digits) - u32::from(v < 0);
    v.unsigned_abs() < 10u64.pow(d)
}

/// Encode one data record: DIF (+ DIFEs for storage > 1, tariff, subunit), the VIF bytes as
/// given (VIF + VIFEs, e.g. `[0x13]` or `[0xFD, 0x17]`) and the data field.
///
/// Storage numbers up to 2^41 − 1, tariffs up to 2^20 − 1 and subunits up to 2^10 − 1 fit the
/// 10 DIFEs EN 13757-3 allows.
pub fn encode_record(
    storage: u64,
    tariff: u32,
    subunit: u16,
    function: Function,
    vif: &[u8],
    value: &RecordValue,
) -> Result<Vec<u8>, EncodeError> {
    check_vib(vif)?;
    let (code, data) = data_field(value)?;
    let n = dife_count(storage, tariff, subunit)?;
    let mut out = Vec::with_capacity(1 + n + vif.len() + data.len());
    write_dib(&mut out, n, storage, tariff, subunit, function, code);
    out.extend_from_slice(vif);
    out.extend_from_slice(&data);
    Ok(out)
}

/// The VIB as given: VIF + VIFEs chained by their extension bits (6.4.1), at most 10 VIFEs.
/// A plain-text VIF (0x7C/0xFC, 6.4.3) is taken as it is.
fn check_vib(vif: &[u8]) -> Result<(), EncodeError> {
    let Some(&first) = vif.first() else {
        return Err(EncodeError::MissingVif);
    };
    if first & 0x7F != 0x7C {
        let last = vif.len() - 1;
        if vif[..last].iter().any(|b| b & 0x80 == 0) || vif[last] & 0x80 != 0 {
            return Err(EncodeError::VifExtensionBits);
        }
    } else {
        // A plain-text VIB (EN 13757-3 6.4.4: 7C/FC, length, ASCII text, VIFEs): it must read
        // back exactly as given, or the encoder would emit a record its decoder rejects.
        let mut info = super::VifInfo::none();
        if super::vif::parse_vib(vif, 0, 0, false, &mut info) != Ok(vif.len()) {
            return Err(EncodeError::PlainTextVib);
        }
        // The decoder finds the text by trying its two placements (6.4.3 and the libmbus one);
        // a VIB that only reads back because nothing follows it would read differently before
        // the 2F fillers of an encrypted payload's last block (found by the `encode` fuzz
        // target): it must read the same with fillers after it.
        let mut padded = vif.to_vec();
        padded.extend_from_slice(&[0x2F; 16]);
        let mut info_padded = super::VifInfo::none();
        if super::vif::parse_vib(&padded, 0, 0, false, &mut info_padded) != Ok(vif.len()) || info_padded != info {
            return Err(EncodeError::PlainTextVib);
        }
    }
    if vif.len() > 11 {
        return Err(EncodeError::TooManyVifes);
    }
    Ok(())
}

/// The DIF data-field code (6.3.3, table 4) and the data field bytes of `value`.
fn data_field(value: &RecordValue) -> Result<(u8, Vec<u8>), EncodeError> {
    match value {
        RecordValue::None => Ok((0x0, Vec::new())),
        RecordValue::Int { value, size } => int_field(*value, *size),
        RecordValue::Bcd { value, digits } => bcd_field(*value, *digits),
        RecordValue::Real(f) => Ok((0x5, f.to_le_bytes().to_vec())),
        RecordValue::Text(s) => text_field(s),
    }
}

/// Type B signed integer, LSB first.
fn int_field(value: i64, size: u8) -> Result<(u8, Vec<u8>), EncodeError> {
    let code = match size {
        1 => 0x1,
        2 => 0x2,
        3 => 0x3,
        4 => 0x4,
        6 => 0x6,
        8 => 0x7,
        _ => return Err(EncodeError::IntegerSize { size }),
    };
    if !fits_signed(value, size) {
        return Err(EncodeError::IntegerOverflow { value, size });
    }
    Ok((code, value.to_le_bytes()[..usize::from(size)].to_vec()))
}

/// Type A BCD, LSB first; a negative value carries 0xF in its top nibble.
fn bcd_field(value: i64, digits: u8) -> Result<(u8, Vec<u8>), EncodeError> {
    let code = match digits {
        2 => 0x9,
        4 => 0xA,
        6 => 0xB,
        8 => 0xC,
        12 => 0xE,
        _ => return Err(EncodeError::BcdDigits { digits }),
    };
    if !fits_bcd(value, digits) {
        return Err(EncodeError::BcdOverflow { value, digits });
    }
    let n = usize::from(digits) / 2;
    let mut m = value.unsigned_abs();
    let mut b = vec![0u8; n];
    for byte in b.iter_mut() {
        let lo = (m % 10) as u8;
        m /= 10;
        let hi = (m % 10) as u8;
        m /= 10;
        *byte = hi << 4 | lo;
    }
    if value < 0 {
        b[n - 1] |= 0xF0;
    }
    Ok((code, b))
}

/// LVAR text (LVAR 0x00..0xBF, table 5): length byte, Latin-1 characters last first.
fn text_field(s: &str) -> Result<(u8, Vec<u8>), EncodeError> {
    let mut b = Vec::with_capacity(s.len() + 1);
    for ch in s.chars().rev() {
        let c = u32::from(ch);
        if c > 0xFF {
            return Err(EncodeError::NotLatin1 { ch });
        }
        b.push(c as u8);
    }
    if b.len() > 0xBF {
        return Err(EncodeError::TextTooLong { len: b.len() });
    }
    b.insert(0, b.len() as u8);
    Ok((0xD, b))
}

/// How many DIFEs storage, tariff and subunit need (6.3.1: at most 10).
fn dife_count(storage: u64, tariff: u32, subunit: u16) -> Result<usize, EncodeError> {
    let rest = storage >> 1;
    let mut n = 0usize;
    while n < 11
        && ((rest >> (4 * n)) != 0 || (u64::from(tariff) >> (2 * n)) != 0 || (u64::from(subunit) >> n) != 0)
    {
        n += 1;
    }
    if n > MAX_DIFES {
        return Err(EncodeError::TooManyDifes { storage, tariff, subunit });
    }
    Ok(n)
}

/// DIF (6.3.2: extension, storage LSB, function, data field) and `n` DIFEs (6.3.4): DIFE k
/// carries storage bits 1+4k..4+4k, tariff bits 2k..2k+1, subunit bit k.
fn write_dib(out: &mut Vec<u8>, n: usize, storage: u64, tariff: u32, subunit: u16, function: Function, code: u8) {
    let f = match function {
        Function::Instantaneous => 0u8,
        Function::Maximum => 1,
        Function::Minimum => 2,
        Function::Error => 3,
    };
    let rest = storage >> 1;
    out.push(u8::from(n > 0) << 7 | ((storage & 1) as u8) << 6 | f << 4 | code);
    for k in 0..n {
        let s = ((rest >> (4 * k)) & 0x0F) as u8;
        let t = ((tariff >> (2 * k)) & 0x03) as u8;
        let u = ((subunit >> k) & 0x01) as u8;
        out.push(u8::from(k + 1 < n) << 7 | u << 6 | t << 4 | s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Vec<u8> {
        crate::hex::parse_hex(s).unwrap()
    }

    #[test]
    fn record_encoder() {
        // EN 13757-3 examples: 0C 14 27048502 (BCD8 volume), 04 6D ... ; DIFEs for storage/tariff.
        assert_eq!(
            encode_record(
                0,
                0,
                0,
                Function::Instantaneous,
                &[0x14],
                &RecordValue::Bcd {
                    value: 2_850_427,
                    digits: 8
                }
            )
            .unwrap(),
            hx("0C1427048502")
        );
        assert_eq!(
            encode_record(1, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(1)).unwrap(),
            hx("411301")
        );
        assert_eq!(
            encode_record(2, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::int(1)).unwrap(),
            hx("81011301")
        );
        assert_eq!(
            encode_record(0, 1, 0, Function::Instantaneous, &[0x13], &RecordValue::int(1)).unwrap(),
            hx("81101301")
        );
        assert_eq!(
            encode_record(0, 0, 1, Function::Minimum, &[0x13], &RecordValue::int(-1)).unwrap(),
            hx("A14013FF")
        );
        assert_eq!(
            encode_record(
                0,
                0,
                0,
                Function::Instantaneous,
                &[0xFD, 0x17],
                &RecordValue::Int { value: 0, size: 2 }
            )
            .unwrap(),
            hx("02FD170000")
        );
        assert_eq!(
            encode_record(
                0,
                0,
                0,
                Function::Instantaneous,
                &[0x13],
                &RecordValue::Bcd { value: -5, digits: 2 }
            )
            .unwrap(),
            hx("0913F5")
        );
        assert_eq!(
            encode_record(
                0,
                0,
                0,
                Function::Instantaneous,
                &[0xFD, 0x0C],
                &RecordValue::Text("AB".into())
            )
            .unwrap(),
            hx("0DFD0C024241")
        );
    }

    #[test]
    fn record_encoder_sizes_and_limits() {
        assert_eq!(RecordValue::int(128), RecordValue::Int { value: 128, size: 2 });
        assert_eq!(
            RecordValue::int(-8_388_608),
            RecordValue::Int {
                value: -8_388_608,
                size: 3
            }
        );
        assert_eq!(
            RecordValue::bcd(-999),
            Some(RecordValue::Bcd { value: -999, digits: 4 })
        );
        assert_eq!(RecordValue::bcd(1_000_000_000_000), None);
        // 2^41 - 1 is the largest storage number (10 DIFEs)
        let big = encode_record(
            (1 << 41) - 1,
            (1 << 20) - 1,
            (1 << 10) - 1,
            Function::Instantaneous,
            &[0x13],
            &RecordValue::None,
        );
        assert_eq!(big.unwrap().len(), 12);
        assert!(encode_record(1 << 41, 0, 0, Function::Instantaneous, &[0x13], &RecordValue::None).is_err());
        assert!(encode_record(0, 0, 0, Function::Instantaneous, &[0x93], &RecordValue::None).is_err());
        assert!(encode_record(
            0,
            0,
            0,
            Function::Instantaneous,
            &[0x13],
            &RecordValue::Int { value: 300, size: 1 }
        )
        .is_err());
        assert!(encode_record(
            0,
            0,
            0,
            Function::Instantaneous,
            &[0x13],
            &RecordValue::Bcd { value: 100, digits: 2 }
        )
        .is_err());
    }

    #[test]
    fn record_errors_keep_their_messages() {
        let f = Function::Instantaneous;
        let msg = |vif: &[u8], v: RecordValue| encode_record(0, 0, 0, f, vif, &v).unwrap_err().to_string();
        assert_eq!(msg(&[], RecordValue::None), "a data record needs at least one VIF byte");
        assert_eq!(msg(&[0x93], RecordValue::None), "VIF bytes: every byte but the last needs the extension bit 0x80");
        assert_eq!(msg(&[0xFB; 12][..].iter().copied().chain([0x01]).collect::<Vec<_>>(), RecordValue::None), "more than 10 VIFEs");
        assert_eq!(msg(&[0x13], RecordValue::Int { value: 1, size: 5 }), "integer size 5 bytes: 1, 2, 3, 4, 6 or 8");
        assert_eq!(msg(&[0x13], RecordValue::Int { value: 300, size: 1 }), "300 does not fit a 1-byte signed integer");
        assert_eq!(msg(&[0x13], RecordValue::Bcd { value: 1, digits: 3 }), "BCD with 3 digits: 2, 4, 6, 8 or 12");
        assert_eq!(msg(&[0x13], RecordValue::Bcd { value: 100, digits: 2 }), "100 does not fit 2 BCD digits");
        assert_eq!(msg(&[0xFD, 0x0C], RecordValue::Text("\u{20AC}".into())), "text character '\u{20ac}' is not Latin-1");
        assert_eq!(msg(&[0xFD, 0x0C], RecordValue::Text("x".repeat(192))), "text of 192 characters (at most 191)");
        let e = encode_record(1 << 41, 0, 0, f, &[0x13], &RecordValue::None).unwrap_err();
        assert_eq!(e.to_string(), "storage 2199023255552, tariff 0, subunit 0 need more than 10 DIFEs");
        assert_eq!(e.code(), "encode_too_many_difes");
    }
}
