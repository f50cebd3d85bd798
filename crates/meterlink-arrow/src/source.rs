//! Where the frames of a batch come from.

use arrow_array::cast::AsArray;
use arrow_array::{Array, BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray, StringArray, StringViewArray};
use arrow_schema::DataType;

use crate::Error;

/// Why an input item is not a frame (it becomes a `frame_error` row with this message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// What is wrong with the item.
    pub message: String,
    /// Where in the item, if known.
    pub offset: Option<usize>,
    /// The stable error code (`input` unless a more precise one applies, see docs/errors.md).
    pub code: &'static str,
}

impl InputError {
    /// An input item that is not a frame (code `input`).
    pub fn new(message: impl Into<String>, offset: Option<usize>) -> Self {
        InputError { message: message.into(), offset, code: INPUT_CODE }
    }
}

/// The code of input items that are not frames (null, wrong type, a line without a frame).
pub const INPUT_CODE: &str = "input";

impl From<meterlink::hex::HexError> for InputError {
    fn from(e: meterlink::hex::HexError) -> Self {
        let e = meterlink::Error::from(e);
        InputError { message: e.to_string(), offset: Some(e.offset), code: e.code() }
    }
}

/// Random access to the frames of a batch, shared by the worker threads.
pub trait FrameSource: Sync {
    /// Number of frames.
    fn len(&self) -> usize;
    /// True without frames.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Frame `i`, borrowed from the source or decoded (hex) into `scratch`.
    fn frame<'s>(&'s self, i: usize, scratch: &'s mut Vec<u8>) -> Result<&'s [u8], InputError>;
}

/// Hex digits → bytes (the core's parser); the error becomes an input error at its position.
pub fn parse_hex_into(s: &str, out: &mut Vec<u8>) -> Result<(), InputError> {
    meterlink::hex::parse_hex_into(s, out).map_err(InputError::from)
}

/// One frame of a list input.
#[derive(Clone, Debug)]
pub enum FrameItem<'a> {
    /// The frame's bytes.
    Bytes(&'a [u8]),
    /// The frame as hex text.
    Hex(std::borrow::Cow<'a, str>),
    /// An owned copy (bytearray, memoryview...).
    Owned(Vec<u8>),
    /// The item is not a frame.
    Error(InputError),
}

impl FrameSource for [FrameItem<'_>] {
    fn len(&self) -> usize {
        <[FrameItem]>::len(self)
    }
    fn frame<'s>(&'s self, i: usize, scratch: &'s mut Vec<u8>) -> Result<&'s [u8], InputError> {
        match &self[i] {
            FrameItem::Bytes(b) => Ok(b),
            FrameItem::Owned(b) => Ok(b),
            FrameItem::Hex(s) => {
                parse_hex_into(s, scratch)?;
                Ok(scratch)
            }
            FrameItem::Error(e) => Err(e.clone()),
        }
    }
}

/// The frames of a list input, compact for the common case: every `bytes` item is a borrowed
/// slice (16 bytes a row, no tag); the rare others (hex text, copies, input errors) are kept
/// aside, sorted by row. The Python binding fills it while holding the GIL, then decodes with
/// the GIL released, so the fewer bytes written per row the shorter that serial step.
#[derive(Debug, Default)]
pub struct ListFrames<'a> {
    bytes: Vec<&'a [u8]>,
    /// `(row, item)`, rows increasing; `bytes[row]` is an empty placeholder.
    other: Vec<(usize, FrameItem<'a>)>,
}

impl<'a> ListFrames<'a> {
    /// An empty list with room for `n` frames.
    pub fn with_capacity(n: usize) -> Self {
        ListFrames { bytes: Vec::with_capacity(n), other: Vec::new() }
    }
    /// Append a frame borrowed as bytes.
    pub fn push_bytes(&mut self, b: &'a [u8]) {
        self.bytes.push(b);
    }
    /// Append an item that is not borrowed bytes.
    pub fn push_item(&mut self, item: FrameItem<'a>) {
        match item {
            FrameItem::Bytes(b) => self.bytes.push(b),
            item => {
                self.other.push((self.bytes.len(), item));
                self.bytes.push(&[]);
            }
        }
    }
    /// Replace row `i` (if it exists) by an input error.
    pub fn set_error(&mut self, i: usize, e: InputError) {
        if i >= self.bytes.len() {
            return;
        }
        self.bytes[i] = &[];
        match self.other.binary_search_by_key(&i, |(r, _)| *r) {
            Ok(k) => self.other[k].1 = FrameItem::Error(e),
            Err(k) => self.other.insert(k, (i, FrameItem::Error(e))),
        }
    }
}

impl FrameSource for ListFrames<'_> {
    fn len(&self) -> usize {
        self.bytes.len()
    }
    fn frame<'s>(&'s self, i: usize, scratch: &'s mut Vec<u8>) -> Result<&'s [u8], InputError> {
        let b = self.bytes[i];
        if !b.is_empty() || self.other.is_empty() {
            return Ok(b);
        }
        match self.other.binary_search_by_key(&i, |(r, _)| *r) {
            Ok(k) => std::slice::from_ref(&self.other[k].1).frame(0, scratch),
            Err(_) => Ok(b),
        }
    }
}

/// An Arrow array of frames: binary (bytes) or string (hex) in any offset width or view layout.
/// Null entries become `frame_error` rows.
pub enum ArrowFrames<'a> {
    /// `binary`: the frames' bytes.
    Binary(&'a BinaryArray),
    /// `large_binary`.
    LargeBinary(&'a LargeBinaryArray),
    /// `binary_view`.
    BinaryView(&'a BinaryViewArray),
    /// `string`: the frames as hex text.
    Hex(&'a StringArray),
    /// `large_string` (hex).
    LargeHex(&'a LargeStringArray),
    /// `string_view` (hex).
    HexView(&'a StringViewArray),
}

impl<'a> ArrowFrames<'a> {
    /// The frames of `a`; [`Error::FrameType`] for an array of any other type.
    pub fn new(a: &'a dyn Array) -> Result<Self, Error> {
        Ok(match a.data_type() {
            DataType::Binary => ArrowFrames::Binary(a.as_binary::<i32>()),
            DataType::LargeBinary => ArrowFrames::LargeBinary(a.as_binary::<i64>()),
            DataType::BinaryView => ArrowFrames::BinaryView(a.as_binary_view()),
            DataType::Utf8 => ArrowFrames::Hex(a.as_string::<i32>()),
            DataType::LargeUtf8 => ArrowFrames::LargeHex(a.as_string::<i64>()),
            DataType::Utf8View => ArrowFrames::HexView(a.as_string_view()),
            t => return Err(Error::FrameType(t.clone())),
        })
    }

    fn array(&self) -> &dyn Array {
        match self {
            ArrowFrames::Binary(a) => *a,
            ArrowFrames::LargeBinary(a) => *a,
            ArrowFrames::BinaryView(a) => *a,
            ArrowFrames::Hex(a) => *a,
            ArrowFrames::LargeHex(a) => *a,
            ArrowFrames::HexView(a) => *a,
        }
    }
}

impl FrameSource for ArrowFrames<'_> {
    fn len(&self) -> usize {
        self.array().len()
    }
    fn frame<'s>(&'s self, i: usize, scratch: &'s mut Vec<u8>) -> Result<&'s [u8], InputError> {
        if self.array().is_null(i) {
            return Err(InputError::new("null frame", None));
        }
        let text = match self {
            ArrowFrames::Binary(a) => return Ok(a.value(i)),
            ArrowFrames::LargeBinary(a) => return Ok(a.value(i)),
            ArrowFrames::BinaryView(a) => return Ok(a.value(i)),
            ArrowFrames::Hex(a) => a.value(i),
            ArrowFrames::LargeHex(a) => a.value(i),
            ArrowFrames::HexView(a) => a.value(i),
        };
        parse_hex_into(text, scratch)?;
        Ok(scratch)
    }
}
