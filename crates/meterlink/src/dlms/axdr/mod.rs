//! A-XDR encoding of COSEM data (IEC 62056-6-2 / Blue Book 4.1.5; IEC 61334-6): the `Data`
//! CHOICE, its lengths, and compact-array.

mod decode;
mod encode;
mod error;
mod view;

pub use decode::{decode_data, decode_data_exact, MAX_DEPTH};
pub use encode::encode_data;
pub use error::AxdrError;
pub use view::{tape, view_data, Children, DataView, Scalar, Tape, TapeChildren, TapeNode};

use super::cosem::{Date, DateTime, Time};

/// One COSEM `Data` value (Blue Book "Data ::= CHOICE"), tag in brackets.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// \[0\] null-data.
    NullData,
    /// \[1\] array.
    Array(Vec<Data>),
    /// \[2\] structure.
    Structure(Vec<Data>),
    /// \[3\] boolean.
    Boolean(bool),
    /// \[4\] bit-string: the number of bits and the bytes holding them (first bit = MSB).
    BitString {
        /// Number of bits.
        bits: usize,
        /// The bits, packed MSB first.
        bytes: Vec<u8>,
    },
    /// \[5\] double-long (i32).
    DoubleLong(i32),
    /// \[6\] double-long-unsigned (u32).
    DoubleLongUnsigned(u32),
    /// \[9\] octet-string.
    OctetString(Vec<u8>),
    /// \[10\] visible-string.
    VisibleString(Vec<u8>),
    /// \[12\] utf8-string.
    Utf8String(Vec<u8>),
    /// \[13\] bcd.
    Bcd(u8),
    /// \[15\] integer (i8).
    Integer(i8),
    /// \[16\] long (i16).
    Long(i16),
    /// \[17\] unsigned (u8).
    Unsigned(u8),
    /// \[18\] long-unsigned (u16).
    LongUnsigned(u16),
    /// \[19\] compact-array: its type description and the values it describes.
    CompactArray {
        /// The element type.
        description: TypeDescription,
        /// The elements, decoded by the description.
        values: Vec<Data>,
    },
    /// \[20\] long64 (i64).
    Long64(i64),
    /// \[21\] long64-unsigned (u64).
    Long64Unsigned(u64),
    /// \[22\] enum.
    Enum(u8),
    /// \[23\] float32.
    Float32(f32),
    /// \[24\] float64.
    Float64(f64),
    /// \[25\] date-time (12 octets).
    DateTime(DateTime),
    /// \[26\] date (5 octets).
    Date(Date),
    /// \[27\] time (4 octets).
    Time(Time),
    /// \[255\] dont-care.
    DontCare,
}

/// A compact-array type description (Blue Book "TypeDescription ::= CHOICE").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeDescription {
    /// A simple type, by its Data tag.
    Simple(u8),
    /// array: number of elements and the element type.
    Array(u16, Box<TypeDescription>),
    /// structure: the member types.
    Structure(Vec<TypeDescription>),
}

impl Data {
    /// The type's name as the standard spells it (`double-long-unsigned`, `octet-string`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::NullData => "null-data",
            Data::Array(_) => "array",
            Data::Structure(_) => "structure",
            Data::Boolean(_) => "boolean",
            Data::BitString { .. } => "bit-string",
            Data::DoubleLong(_) => "double-long",
            Data::DoubleLongUnsigned(_) => "double-long-unsigned",
            Data::OctetString(_) => "octet-string",
            Data::VisibleString(_) => "visible-string",
            Data::Utf8String(_) => "utf8-string",
            Data::Bcd(_) => "bcd",
            Data::Integer(_) => "integer",
            Data::Long(_) => "long",
            Data::Unsigned(_) => "unsigned",
            Data::LongUnsigned(_) => "long-unsigned",
            Data::CompactArray { .. } => "compact-array",
            Data::Long64(_) => "long64",
            Data::Long64Unsigned(_) => "long64-unsigned",
            Data::Enum(_) => "enum",
            Data::Float32(_) => "float32",
            Data::Float64(_) => "float64",
            Data::DateTime(_) => "date-time",
            Data::Date(_) => "date",
            Data::Time(_) => "time",
            Data::DontCare => "dont-care",
        }
    }
}

/// The Data tags (Blue Book 4.1.5 "Data ::= CHOICE").
pub mod tag {
    /// \[0\] null-data.
    pub const NULL_DATA: u8 = 0;
    /// \[1\] array.
    pub const ARRAY: u8 = 1;
    /// \[2\] structure.
    pub const STRUCTURE: u8 = 2;
    /// \[3\] boolean.
    pub const BOOLEAN: u8 = 3;
    /// \[4\] bit-string.
    pub const BIT_STRING: u8 = 4;
    /// \[5\] double-long.
    pub const DOUBLE_LONG: u8 = 5;
    /// \[6\] double-long-unsigned.
    pub const DOUBLE_LONG_UNSIGNED: u8 = 6;
    /// \[9\] octet-string.
    pub const OCTET_STRING: u8 = 9;
    /// \[10\] visible-string.
    pub const VISIBLE_STRING: u8 = 10;
    /// \[12\] utf8-string.
    pub const UTF8_STRING: u8 = 12;
    /// \[13\] bcd.
    pub const BCD: u8 = 13;
    /// \[15\] integer.
    pub const INTEGER: u8 = 15;
    /// \[16\] long.
    pub const LONG: u8 = 16;
    /// \[17\] unsigned.
    pub const UNSIGNED: u8 = 17;
    /// \[18\] long-unsigned.
    pub const LONG_UNSIGNED: u8 = 18;
    /// \[19\] compact-array.
    pub const COMPACT_ARRAY: u8 = 19;
    /// \[20\] long64.
    pub const LONG64: u8 = 20;
    /// \[21\] long64-unsigned.
    pub const LONG64_UNSIGNED: u8 = 21;
    /// \[22\] enum.
    pub const ENUM: u8 = 22;
    /// \[23\] float32.
    pub const FLOAT32: u8 = 23;
    /// \[24\] float64.
    pub const FLOAT64: u8 = 24;
    /// \[25\] date-time.
    pub const DATE_TIME: u8 = 25;
    /// \[26\] date.
    pub const DATE: u8 = 26;
    /// \[27\] time.
    pub const TIME: u8 = 27;
    /// \[255\] dont-care.
    pub const DONT_CARE: u8 = 255;
}

impl Data {
    /// The Data tag of this value.
    pub fn tag(&self) -> u8 {
        match self {
            Data::NullData => tag::NULL_DATA,
            Data::Array(_) => tag::ARRAY,
            Data::Structure(_) => tag::STRUCTURE,
            Data::Boolean(_) => tag::BOOLEAN,
            Data::BitString { .. } => tag::BIT_STRING,
            Data::DoubleLong(_) => tag::DOUBLE_LONG,
            Data::DoubleLongUnsigned(_) => tag::DOUBLE_LONG_UNSIGNED,
            Data::OctetString(_) => tag::OCTET_STRING,
            Data::VisibleString(_) => tag::VISIBLE_STRING,
            Data::Utf8String(_) => tag::UTF8_STRING,
            Data::Bcd(_) => tag::BCD,
            Data::Integer(_) => tag::INTEGER,
            Data::Long(_) => tag::LONG,
            Data::Unsigned(_) => tag::UNSIGNED,
            Data::LongUnsigned(_) => tag::LONG_UNSIGNED,
            Data::CompactArray { .. } => tag::COMPACT_ARRAY,
            Data::Long64(_) => tag::LONG64,
            Data::Long64Unsigned(_) => tag::LONG64_UNSIGNED,
            Data::Enum(_) => tag::ENUM,
            Data::Float32(_) => tag::FLOAT32,
            Data::Float64(_) => tag::FLOAT64,
            Data::DateTime(_) => tag::DATE_TIME,
            Data::Date(_) => tag::DATE,
            Data::Time(_) => tag::TIME,
            Data::DontCare => tag::DONT_CARE,
        }
    }

    /// The value as a signed integer, for the integer types (and enum, bcd), where it fits.
    pub fn as_i64(&self) -> Option<i64> {
        Some(match *self {
            Data::DoubleLong(v) => v.into(),
            Data::DoubleLongUnsigned(v) => v.into(),
            Data::Integer(v) => v.into(),
            Data::Long(v) => v.into(),
            Data::Unsigned(v) | Data::Enum(v) | Data::Bcd(v) => v.into(),
            Data::LongUnsigned(v) => v.into(),
            Data::Long64(v) => v,
            Data::Long64Unsigned(v) => i64::try_from(v).ok()?,
            _ => return None,
        })
    }

    /// The octets of an octet-string, visible-string or utf8-string.
    pub fn as_octets(&self) -> Option<&[u8]> {
        match self {
            Data::OctetString(b) | Data::VisibleString(b) | Data::Utf8String(b) => Some(b),
            _ => None,
        }
    }
}

/// Bit-exact equality (floats compared by their bits, so NaN equals the same NaN): what a
/// decode → encode → decode round trip preserves.
pub fn same_data(a: &Data, b: &Data) -> bool {
    match (a, b) {
        (Data::Float32(x), Data::Float32(y)) => x.to_bits() == y.to_bits(),
        (Data::Float64(x), Data::Float64(y)) => x.to_bits() == y.to_bits(),
        (Data::Array(x), Data::Array(y)) | (Data::Structure(x), Data::Structure(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_data(p, q))
        }
        (
            Data::CompactArray {
                description: d1,
                values: v1,
            },
            Data::CompactArray {
                description: d2,
                values: v2,
            },
        ) => d1 == d2 && v1.len() == v2.len() && v1.iter().zip(v2).all(|(p, q)| same_data(p, q)),
        _ => a == b,
    }
}
