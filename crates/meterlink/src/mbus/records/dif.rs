//! Data information block (DIF + DIFEs, EN 13757-3:2013 6.3) and the record walker.

use super::date::DateTimeValue;
use super::value::{self, Value};
use super::vif::{self, ValueHint, VifInfo, VifTable};
use super::{Function, Record, RecordError, RecordKind, Span};

/// Maximum number of DIFEs (EN 13757-3 6.3.1).
pub const MAX_DIFES: usize = 10;

/// Length in bytes of the fixed-size data field codes (DIF bits 0–3), EN 13757-3 table 4.
/// 0x0D (LVAR) and 0x0F (special functions) are handled separately.
const FIXED_LEN: [u8; 16] = [0, 1, 2, 3, 4, 4, 6, 8, 0, 1, 2, 3, 4, 0, 6, 0];

/// How the data field is coded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Coding {
    None,
    Int,
    Real,
    Bcd,
    Lvar,
}

const CODING: [Coding; 16] = [
    Coding::None, // 0x0 no data
    Coding::Int,  // 0x1 8-bit integer
    Coding::Int,  // 0x2 16-bit integer
    Coding::Int,  // 0x3 24-bit integer
    Coding::Int,  // 0x4 32-bit integer
    Coding::Real, // 0x5 32-bit real
    Coding::Int,  // 0x6 48-bit integer
    Coding::Int,  // 0x7 64-bit integer
    Coding::None, // 0x8 selection for readout
    Coding::Bcd,  // 0x9 2-digit BCD
    Coding::Bcd,  // 0xA 4-digit BCD
    Coding::Bcd,  // 0xB 6-digit BCD
    Coding::Bcd,  // 0xC 8-digit BCD
    Coding::Lvar, // 0xD variable length
    Coding::Bcd,  // 0xE 12-digit BCD
    Coding::None, // 0xF special functions (not reached)
];

/// Function field, DIF bits 5..4 (EN 13757-3 6.3.2).
#[inline(always)]
fn function(dif: u8) -> Function {
    match (dif >> 4) & 0x03 {
        0 => Function::Instantaneous,
        1 => Function::Maximum,
        2 => Function::Minimum,
        _ => Function::Error,
    }
}

/// A span whose length is known to fit (a DIB, VIB or data field of one record).
#[inline(always)]
fn span(start: usize, end: usize) -> Span {
    debug_assert!(end - start <= u16::MAX as usize);
    Span { start: start as u32, len: (end - start) as u16 }
}

/// A span to the end of the buffer: the length saturates at `u16::MAX`.
fn span_to_end(start: usize, end: usize) -> Span {
    Span { start: start as u32, len: u16::try_from(end - start).unwrap_or(u16::MAX) }
}

/// What an LVAR byte announces (EN 13757-3:2013 table 5).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lvar {
    Text,
    PositiveBcd,
    NegativeBcd,
    Binary,
}

fn lvar_kind(l: u8) -> Option<(Lvar, usize)> {
    Some(match l {
        0x00..=0xBF => (Lvar::Text, l as usize),
        0xC0..=0xC9 => (Lvar::PositiveBcd, (l - 0xC0) as usize),
        0xD0..=0xD9 => (Lvar::NegativeBcd, (l - 0xD0) as usize),
        0xE0..=0xEF => (Lvar::Binary, (l - 0xE0) as usize),
        0xF0..=0xF4 => (Lvar::Binary, 4 * (l - 0xEC) as usize),
        0xF5 => (Lvar::Binary, 48),
        0xF6 => (Lvar::Binary, 64),
        _ => return None, // 0xCA..0xCF, 0xDA..0xDF, 0xF7..0xFF reserved
    })
}

/// Parse every record of `buf` into `out` (see [`super::parse_records`]).
pub(crate) fn parse_all(buf: &[u8], msb_first: bool, out: &mut Vec<Record>) -> Result<(), RecordError> {
    // Records take 4 bytes or more, bar a few: one allocation instead of a chain of regrowths.
    out.reserve(buf.len() / 4 + 1);
    let mut i = 0usize;
    while let Some(&dif) = buf.get(i) {
        i = if dif == 0x2F {
            // Idle filler (EN 13757-3 table 6), here inline: every decrypted telegram starts
            // with 2F 2F and most end in a run of them.
            i + 1
        } else if dif & 0x0F == 0x0F {
            match special(buf, i, out)? {
                Some(next) => next,
                None => return Ok(()),
            }
        } else {
            data_record(buf, i, msb_first, out)?
        };
    }
    Ok(())
}

/// Special functions, EN 13757-3 table 6: the offset of the next record, or `None` when the
/// rest of the buffer is manufacturer data.
#[inline(never)]
fn special(buf: &[u8], i: usize, out: &mut Vec<Record>) -> Result<Option<usize>, RecordError> {
    let dif = buf[i];
    let bare = |kind, data: Span, value| Record {
        kind,
        dib: span(i, i + 1),
        vib: span(i + 1, i + 1),
        data,
        function: Function::Instantaneous,
        storage: 0,
        tariff: 0,
        subunit: 0,
        vif: VifInfo::none(),
        value,
    };
    match dif {
        // Idle filler (`parse_all` skips it before getting here).
        0x2F => Ok(Some(i + 1)),
        0x0F | 0x1F => {
            let data = span_to_end(i + 1, buf.len());
            let kind = RecordKind::ManufacturerData { more_records_follow: dif == 0x1F };
            out.push(bare(kind, data, Value::Bytes(data)));
            Ok(None)
        }
        0x7F | 0xFF => {
            out.push(bare(RecordKind::GlobalReadout, span(i + 1, i + 1), Value::None));
            Ok(Some(i + 1))
        }
        _ => Err(RecordError::Invalid { offset: i, reason: "reserved special-function DIF" }),
    }
}

/// A data record before its DIB, VIB and data field are read in.
const FRESH: Record = Record {
    kind: RecordKind::Data,
    dib: Span { start: 0, len: 0 },
    vib: Span { start: 0, len: 0 },
    data: Span { start: 0, len: 0 },
    function: Function::Instantaneous,
    storage: 0,
    tariff: 0,
    subunit: 0,
    vif: VifInfo::none(),
    value: Value::None,
};

/// One DIF/VIF data record starting at `start`; returns the offset just past it.
///
/// The record is decoded in place: a [`FRESH`] record is pushed onto `out` and its fields
/// are filled in (building the 128-byte record on the stack and copying it costs more); the
/// slot is removed again if the record turns out malformed.
#[inline(always)]
fn data_record(buf: &[u8], start: usize, msb_first: bool, out: &mut Vec<Record>) -> Result<usize, RecordError> {
    let k = out.len();
    out.push(FRESH);
    let res = fill(buf, start, msb_first, &mut out[k]);
    if res.is_err() {
        out.pop();
    }
    res
}

/// Decode the data record at `start` into `rec` (fresh: [`FRESH`]).
#[inline(always)]
fn fill(buf: &[u8], start: usize, msb_first: bool, rec: &mut Record) -> Result<usize, RecordError> {
    let dif = buf[start];
    let dib_end = if dif & 0x80 == 0 {
        // DIF bit 6: storage number bit 0 (EN 13757-3 6.3.2)
        rec.storage = ((dif >> 6) & 1) as u64;
        start + 1
    } else {
        parse_difes(buf, start, rec)?
    };
    let j = vif::parse_vib(buf, dib_end, start, msb_first, &mut rec.vif)?;

    // Data field, EN 13757-3 table 4 (fixed lengths) and table 5 (LVAR).
    let code = (dif & 0x0F) as usize;
    let coding = CODING[code];
    let (content_start, len, lvar) = if coding == Coding::Lvar {
        let Some(&l) = buf.get(j) else {
            return Err(RecordError::Truncated { record_offset: start, needed: 1, available: 0 });
        };
        let Some((kind, len)) = lvar_kind(l) else {
            return Err(RecordError::Invalid { offset: j, reason: "reserved LVAR value" });
        };
        (j + 1, len, Some(kind))
    } else {
        (j, FIXED_LEN[code] as usize, None)
    };
    let end = content_start + len;
    let Some(content) = buf.get(content_start..end) else {
        return Err(RecordError::Truncated {
            record_offset: start,
            needed: len,
            available: buf.len() - content_start.min(buf.len()),
        });
    };
    rec.dib = span(start, dib_end);
    rec.vib = span(dib_end, j);
    rec.data = span(j, end);
    rec.function = function(dif);
    decode_value(&rec.vif, coding, lvar, content, span(content_start, end), msb_first, &mut rec.value);
    Ok(end)
}

/// Storage number, tariff and subunit of a DIB with DIFEs (EN 13757-3 6.3.2, 6.3.3): DIF
/// bit 6, then per DIFE 4 storage bits, 2 tariff bits and 1 subunit bit. Returns the DIB end.
#[inline(never)]
fn parse_difes(buf: &[u8], start: usize, rec: &mut Record) -> Result<usize, RecordError> {
    let mut storage = ((buf[start] >> 6) & 1) as u64;
    let mut tariff = 0u32;
    let mut subunit = 0u16;
    let mut j = start + 1;
    let mut n = 0u32;
    loop {
        let Some(&d) = buf.get(j) else {
            return Err(RecordError::Truncated { record_offset: start, needed: 1, available: 0 });
        };
        if n as usize == MAX_DIFES {
            return Err(RecordError::TooManyDifes { offset: start + 1 });
        }
        storage |= ((d & 0x0F) as u64) << (1 + 4 * n);
        tariff |= (((d >> 4) & 0x03) as u32) << (2 * n);
        subunit |= (((d >> 6) & 0x01) as u16) << n;
        n += 1;
        j += 1;
        if d & 0x80 == 0 {
            (rec.storage, rec.tariff, rec.subunit) = (storage, tariff, subunit);
            return Ok(j);
        }
    }
}

/// Store `v` in `slot`, which holds [`Value::None`] (nothing to drop): no drop glue.
#[inline(always)]
fn put(slot: &mut Value, v: Value) {
    std::mem::forget(std::mem::replace(slot, v));
}

/// Decode the data field `b` (span `sp`) into `slot` (fresh: [`Value::None`]).
#[inline(always)]
fn decode_value(
    info: &VifInfo,
    coding: Coding,
    lvar: Option<Lvar>,
    b: &[u8],
    sp: Span,
    msb_first: bool,
    slot: &mut Value,
) {
    if coding == Coding::None {
        return;
    }
    match info.hint {
        ValueHint::Bytes => return put(slot, Value::Bytes(sp)),
        ValueHint::DateTime => {
            // Date/time types by length: 2 → G, 3 → J, 4 → F, 6 → I (integer DIFs), or
            // an LVAR binary field (type M). Any other coding is read as the DIF says.
            let m = coding == Coding::Lvar && lvar == Some(Lvar::Binary);
            let layout = DateTimeValue::layout_for_len(b.len());
            if let (true, Some(layout)) = (coding == Coding::Int || m, layout) {
                // Written in place: a blank value first, then only the fields the type has.
                put(slot, Value::DateTime(DateTimeValue::blank(layout, m)));
                if let Value::DateTime(d) = slot {
                    d.fill(value::word(b, msb_first));
                }
                return;
            }
        }
        ValueHint::Number => {}
    }
    let exponent = info.exponent;
    match coding {
        Coding::Int => put(slot, Value::Number { mantissa: value::int_signed(b, msb_first), exponent }),
        Coding::Real => put(slot, Value::Real(value::scale(value::real32(b, msb_first) as f64, exponent as i32))),
        Coding::Bcd => match value::bcd(b, msb_first) {
            Some(m) => put(slot, Value::Number { mantissa: m, exponent }),
            None => put(slot, Value::InvalidBcd(sp)),
        },
        Coding::Lvar => put(slot, lvar_value(info, lvar, b, sp, msb_first)),
        Coding::None => {}
    }
}

/// The value of an LVAR data field (EN 13757-3 table 5).
#[inline(never)]
fn lvar_value(info: &VifInfo, lvar: Option<Lvar>, b: &[u8], sp: Span, msb_first: bool) -> Value {
    let exponent = info.exponent;
    match lvar {
        // A manufacturer-specific VIF gives the characters no meaning: keep the bytes.
        Some(Lvar::Text) if info.table == VifTable::ManufacturerSpecific => Value::Bytes(sp),
        Some(Lvar::Text) => Value::Text(value::text(b, msb_first)),
        Some(Lvar::PositiveBcd) | Some(Lvar::NegativeBcd) => {
            let negative = lvar == Some(Lvar::NegativeBcd);
            // Up to 18 digits fit an i64; longer or signed-nibble fields are kept raw.
            match (b.len() <= 9).then(|| value::bcd(b, msb_first)).flatten() {
                Some(m) if m >= 0 => Value::Number { mantissa: if negative { -m } else { m }, exponent },
                _ => Value::InvalidBcd(sp),
            }
        }
        Some(Lvar::Binary) | None => Value::Bytes(sp),
    }
}
