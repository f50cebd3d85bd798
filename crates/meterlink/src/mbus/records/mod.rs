//! EN 13757-3 application layer: variable data records (DIF/DIFE, VIF/VIFE, data field).
//!
//! `parse_records` walks the application data that follows a TPL header and yields one
//! [`Record`] per data record. Records reference their raw bytes by [`Span`] into that
//! buffer, so parsing allocates nothing but the output vector (text values excepted).
//!
//! [`encode_record`] builds one data record from a [`RecordValue`] (the encoder's side).

mod date;
mod dif;
mod encode;
#[cfg(test)]
mod tests;
mod value;
mod vif;

pub use date::{
    DateTimeValue, DateType, EVERY_DAY, EVERY_HOUR, EVERY_MINUTE, EVERY_MONTH, EVERY_SECOND, EVERY_YEAR,
};
pub use dif::MAX_DIFES;
pub use encode::{encode_record, RecordValue};
pub use value::Value;
pub use vif::{Unit, ValueHint, VifInfo, VifTable, MAX_VIFES};

use std::fmt;

/// A byte range inside the application-data buffer handed to [`parse_records`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// Number of bytes.
    pub len: u16,
}

impl Span {
    /// The bytes of the span in `buf` (panics if `buf` is shorter).
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.start as usize + self.len as usize]
    }
}

/// Function field, DIF bits 5..4 (EN 13757-3 6.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Instantaneous value (0).
    Instantaneous,
    /// Maximum value (1).
    Maximum,
    /// Minimum value (2).
    Minimum,
    /// "Value during error state".
    Error,
}

impl Function {
    /// The lower-case name: "instantaneous", "maximum", "minimum", "error".
    pub const fn as_str(self) -> &'static str {
        match self {
            Function::Instantaneous => "instantaneous",
            Function::Maximum => "maximum",
            Function::Minimum => "minimum",
            Function::Error => "error",
        }
    }
}

/// What kind of data block a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// An ordinary DIF/VIF data record.
    Data,
    /// DIF 0x0F / 0x1F: manufacturer-specific data to the end of the APDU.
    /// `more_records_follow` is true for 0x1F.
    ManufacturerData {
        /// True for DIF 0x1F.
        more_records_follow: bool,
    },
    /// DIF 0x7F / 0xFF: global readout request (no VIF, no data).
    GlobalReadout,
}

/// One decoded data record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Data record, manufacturer data or global readout.
    pub kind: RecordKind,
    /// DIF + DIFEs.
    pub dib: Span,
    /// VIF + VIFEs (empty for manufacturer data / global readout).
    pub vib: Span,
    /// The data field as transmitted (for manufacturer data: everything to the end).
    pub data: Span,
    /// Function field (DIF bits 5..4).
    pub function: Function,
    /// Storage number (DIF bit 6 and the DIFEs' bits 3..0).
    pub storage: u64,
    /// Tariff (the DIFEs' bits 5..4).
    pub tariff: u32,
    /// Subunit (the DIFEs' bit 6).
    pub subunit: u16,
    /// What the VIB says: quantity name, unit, decimal exponent, VIFE modifiers.
    pub vif: VifInfo,
    /// The decoded value, scaled exactly by the VIF exponent where it is numeric.
    pub value: Value,
}

impl Record {
    /// True when the value is an LVAR "binary number" (LVAR 0xE0..0xF6, EN 13757-3 table 5):
    /// [`Value::Bytes`] holding an integer LSB first (MSB first for the 0x76-family CIs).
    /// Containers and bit fields (e.g. FD 0x3B, 0x72, 0x76) are not numbers and give false.
    pub fn is_binary_number(&self, buf: &[u8]) -> bool {
        matches!(self.value, Value::Bytes(_))
            && self.kind == RecordKind::Data
            && self.vif.hint != ValueHint::Bytes
            && self.dib.get(buf).first().is_some_and(|d| d & 0x0F == 0x0D)
            && buf.get(self.data.start as usize).is_some_and(|&l| l >= 0xE0)
    }
}

/// Why the record stream could not be decoded. Offsets are relative to the buffer passed to
/// [`parse_records`]; callers add the buffer's position in the frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The record starting at `record_offset` needs more bytes than remain.
    Truncated {
        /// Where the record (its DIF) starts.
        record_offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// More than 10 DIFEs (EN 13757-3 6.3.1) starting at `offset`.
    TooManyDifes {
        /// Where the DIFEs start.
        offset: usize,
    },
    /// More than 10 VIFEs (EN 13757-3 6.4.1) starting at `offset`.
    TooManyVifes {
        /// Where the VIFEs start.
        offset: usize,
    },
    /// A reserved or impossible coding at `offset`.
    Invalid {
        /// Where the coding is.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Truncated { record_offset, needed, available } => write!(
                f,
                "data record at offset {record_offset} is truncated: needs {needed} more bytes, {available} left"
            ),
            RecordError::TooManyDifes { offset } => {
                write!(f, "more than 10 DIFEs at offset {offset}")
            }
            RecordError::TooManyVifes { offset } => {
                write!(f, "more than 10 VIFEs at offset {offset}")
            }
            RecordError::Invalid { offset, reason } => write!(f, "{reason} at offset {offset}"),
        }
    }
}

impl std::error::Error for RecordError {}

impl RecordError {
    /// Byte offset (relative to the record buffer) where the problem was found.
    pub fn offset(&self) -> usize {
        match *self {
            RecordError::Truncated { record_offset, .. } => record_offset,
            RecordError::TooManyDifes { offset }
            | RecordError::TooManyVifes { offset }
            | RecordError::Invalid { offset, .. } => offset,
        }
    }

    /// The same error with every offset moved by `delta` (to make it frame-relative).
    pub fn shifted(self, delta: usize) -> Self {
        match self {
            RecordError::Truncated { record_offset, needed, available } => {
                RecordError::Truncated { record_offset: record_offset + delta, needed, available }
            }
            RecordError::TooManyDifes { offset } => RecordError::TooManyDifes { offset: offset + delta },
            RecordError::TooManyVifes { offset } => RecordError::TooManyVifes { offset: offset + delta },
            RecordError::Invalid { offset, reason } => RecordError::Invalid { offset: offset + delta, reason },
        }
    }
}

/// Parse every data record in `buf` (application data after the TPL header; DIF 0x2F idle
/// filler is skipped) and append them to `out`.
///
/// `msb_first` is true for the 0x76-family CIs whose multi-byte data fields are sent
/// most-significant byte first.
pub fn parse_records(buf: &[u8], msb_first: bool, out: &mut Vec<Record>) -> Result<(), RecordError> {
    dif::parse_all(buf, msb_first, out)
}

/// A readable one-line description of a record: "Volume (storage 1, tariff 2): 12.345 m^3";
/// subunit and a non-instantaneous function are added when present, e.g.
/// "Power (storage 0, tariff 1, subunit 1, maximum): 31600 W". Numbers are printed exactly
/// (mantissa and exponent, no float rounding).
pub fn describe(record: &Record, buf: &[u8]) -> String {
    value::describe(record, buf)
}
