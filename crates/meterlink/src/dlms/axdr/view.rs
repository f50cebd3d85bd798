//! A-XDR data read in place: [`view_data`] checks one Data item exactly as
//! [`super::decode_data`] does but builds nothing; the [`DataView`] then reads values and walks
//! children from the bytes. This is the allocation-free path from a push body to OBIS rows.

use super::decode::{fixed_size, Event, Reader};
use super::{decode_data, tag, AxdrError, Data};
use crate::dlms::cosem::{Date, DateTime, Time};

/// One checked Data item, borrowed from the input (its tag and value octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataView<'a> {
    bytes: &'a [u8],
}

/// A scalar's value, read from a [`DataView`] or a [`Data`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// null-data.
    Null,
    /// dont-care.
    DontCare,
    /// boolean.
    Bool(bool),
    /// Any integer type (and enum, bcd) that fits i64.
    Int(i64),
    /// long64-unsigned above i64::MAX.
    U64(u64),
    /// float32.
    F32(f32),
    /// float64.
    F64(f64),
    /// bit-string: bits and their octets.
    Bits(usize, &'a [u8]),
    /// octet-string.
    Octets(&'a [u8]),
    /// visible-string.
    Visible(&'a [u8]),
    /// utf8-string.
    Utf8(&'a [u8]),
    /// date-time.
    DateTime(DateTime),
    /// date.
    Date(Date),
    /// time.
    Time(Time),
    /// array, structure or compact-array: not a scalar.
    Composite,
}

/// Check one Data item at the start of `buf` (same errors as [`decode_data`]) and view it:
/// the view and the bytes it takes.
pub fn view_data(buf: &[u8]) -> Result<(DataView<'_>, usize), AxdrError> {
    let mut r = Reader { buf, pos: 0 };
    r.skip(0)?;
    Ok((DataView { bytes: &buf[..r.pos] }, r.pos))
}

impl<'a> DataView<'a> {
    /// The item's Data tag.
    pub fn tag(&self) -> u8 {
        self.bytes[0]
    }

    /// The item's encoding (tag included).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The item built as a [`Data`] tree.
    pub fn to_data(&self) -> Data {
        // The bytes were checked by `view_data`, so decoding them again cannot fail.
        decode_data(self.bytes).map_or(Data::NullData, |(d, _)| d)
    }

    /// The elements of an array or structure (none for other types).
    pub fn children(&self) -> Children<'a> {
        match self.tag() {
            tag::ARRAY | tag::STRUCTURE => {
                let (left, h) = quick_length(&self.bytes[1..]).unwrap_or((0, 0));
                Children { rest: &self.bytes[1 + h..], left }
            }
            _ => Children { rest: &[], left: 0 },
        }
    }

    /// The value of a scalar item.
    pub fn scalar(&self) -> Scalar<'a> {
        let t = self.tag();
        let v = &self.bytes[1..];
        match t {
            tag::UNSIGNED | tag::ENUM | tag::BCD => Scalar::Int(v[0].into()),
            tag::INTEGER => Scalar::Int((v[0] as i8).into()),
            tag::LONG => Scalar::Int(i16::from_be_bytes(array(v)).into()),
            tag::LONG_UNSIGNED => Scalar::Int(u16::from_be_bytes(array(v)).into()),
            tag::DOUBLE_LONG => Scalar::Int(i32::from_be_bytes(array(v)).into()),
            tag::DOUBLE_LONG_UNSIGNED => Scalar::Int(u32::from_be_bytes(array(v)).into()),
            tag::LONG64 => Scalar::Int(i64::from_be_bytes(array(v))),
            tag::LONG64_UNSIGNED => {
                let u = u64::from_be_bytes(array(v));
                i64::try_from(u).map_or(Scalar::U64(u), Scalar::Int)
            }
            tag::OCTET_STRING | tag::VISIBLE_STRING | tag::UTF8_STRING | tag::BIT_STRING => string(t, v),
            tag::NULL_DATA => Scalar::Null,
            tag::DONT_CARE => Scalar::DontCare,
            tag::BOOLEAN => Scalar::Bool(v[0] != 0),
            tag::FLOAT32 => Scalar::F32(f32::from_be_bytes(array(v))),
            tag::FLOAT64 => Scalar::F64(f64::from_be_bytes(array(v))),
            tag::DATE_TIME => Scalar::DateTime(DateTime(array(v))),
            tag::DATE => Scalar::Date(Date(array(v))),
            tag::TIME => Scalar::Time(Time(array(v))),
            _ => Scalar::Composite,
        }
    }
}

/// The octets of a string type (after its tag): the length, then that many octets (bits).
fn string(t: u8, v: &[u8]) -> Scalar<'_> {
    let (n, h) = quick_length(v).unwrap_or((0, 0));
    let size = if t == tag::BIT_STRING { n.div_ceil(8) } else { n };
    let rest = v.get(h..h + size).unwrap_or_default();
    match t {
        tag::BIT_STRING => Scalar::Bits(n, rest),
        tag::OCTET_STRING => Scalar::Octets(rest),
        tag::VISIBLE_STRING => Scalar::Visible(rest),
        _ => Scalar::Utf8(rest),
    }
}

fn array<const N: usize>(v: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&v[..N]);
    a
}

/// The elements of an array or structure view, in order.
#[derive(Clone, Debug)]
pub struct Children<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Children<'a> {
    type Item = DataView<'a>;

    fn next(&mut self) -> Option<DataView<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let n = item_len(self.rest)?;
        let (item, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(DataView { bytes: item })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// The length of the (already checked) item at the start of `b`: no checks beyond staying
/// inside `b`, since `view_data` made them.
fn item_len(b: &[u8]) -> Option<usize> {
    let t = *b.first()?;
    if let Some(n) = fixed_size(t) {
        return Some(1 + n);
    }
    match t {
        tag::NULL_DATA | tag::DONT_CARE => Some(1),
        tag::OCTET_STRING | tag::VISIBLE_STRING | tag::UTF8_STRING | tag::BIT_STRING => {
            let (n, h) = quick_length(&b[1..])?;
            let n = if t == tag::BIT_STRING { n.div_ceil(8) } else { n };
            Some(1 + h + n)
        }
        tag::ARRAY | tag::STRUCTURE => {
            let (n, h) = quick_length(&b[1..])?;
            let mut pos = 1 + h;
            for _ in 0..n {
                pos += item_len(b.get(pos..)?)?;
            }
            Some(pos)
        }
        _ => {
            let mut r = Reader { buf: b, pos: 0 };
            r.skip(0).ok()?;
            Some(r.pos)
        }
    }
}

/// An A-XDR length already checked: the value and the octets it takes.
fn quick_length(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first < 0x80 {
        return Some((first.into(), 1));
    }
    let k = usize::from(first & 0x7F);
    let v = b.get(1..1 + k)?.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x));
    Some((v, 1 + k))
}

impl Data {
    /// The value of a scalar, as a [`DataView`] gives it.
    pub fn scalar(&self) -> Scalar<'_> {
        match self {
            Data::NullData => Scalar::Null,
            Data::DontCare => Scalar::DontCare,
            Data::Boolean(b) => Scalar::Bool(*b),
            Data::BitString { bits, bytes } => Scalar::Bits(*bits, bytes),
            Data::OctetString(b) => Scalar::Octets(b),
            Data::VisibleString(b) => Scalar::Visible(b),
            Data::Utf8String(b) => Scalar::Utf8(b),
            Data::Long64Unsigned(v) if *v > i64::MAX as u64 => Scalar::U64(*v),
            Data::Float32(v) => Scalar::F32(*v),
            Data::Float64(v) => Scalar::F64(*v),
            Data::DateTime(v) => Scalar::DateTime(*v),
            Data::Date(v) => Scalar::Date(*v),
            Data::Time(v) => Scalar::Time(*v),
            Data::Array(_) | Data::Structure(_) | Data::CompactArray { .. } => Scalar::Composite,
            other => other.as_i64().map_or(Scalar::Composite, Scalar::Int),
        }
    }
}

/// A checked Data item as a flat list of its items in order ("tape"): each entry holds the
/// item's offset and the index just past its subtree, so that elements are stepped over in
/// O(1). One allocation, one pass; built by [`tape`].
#[derive(Clone, Debug, Default)]
pub struct Tape<'a> {
    bytes: &'a [u8],
    nodes: Vec<(u32, u32)>,
}

/// Check one Data item at the start of `buf` (same errors as [`decode_data`]) and lay it out
/// as a [`Tape`]: the tape and the bytes the item takes.
pub fn tape(buf: &[u8]) -> Result<(Tape<'_>, usize), AxdrError> {
    // Offsets are kept as u32: an item must lie in the first 4 GiB (longer input is truncated).
    let buf = &buf[..buf.len().min(u32::MAX as usize)];
    let mut nodes: Vec<(u32, u32)> = Vec::with_capacity(buf.len() / 2 + 1);
    let mut open = [0u32; super::MAX_DEPTH + 1];
    let mut sp = 0usize;
    let mut r = Reader { buf, pos: 0 };
    r.walk(0, |e| match e {
        Event::Leaf(at) => {
            let i = nodes.len() as u32;
            nodes.push((at as u32, i + 1));
        }
        Event::Open(at) => {
            open[sp] = nodes.len() as u32;
            sp += 1;
            nodes.push((at as u32, 0));
        }
        Event::Close => {
            sp -= 1;
            let end = nodes.len() as u32;
            nodes[open[sp] as usize].1 = end;
        }
    })?;
    Ok((Tape { bytes: &buf[..r.pos], nodes }, r.pos))
}

impl<'a> Tape<'a> {
    /// The root item.
    pub fn root(&self) -> TapeNode<'_, 'a> {
        TapeNode { tape: self, idx: 0 }
    }
}

/// One item of a [`Tape`].
#[derive(Clone, Copy, Debug)]
pub struct TapeNode<'t, 'a> {
    tape: &'t Tape<'a>,
    idx: u32,
}

impl<'t, 'a> TapeNode<'t, 'a> {
    /// The item as a [`DataView`] of its bytes.
    pub fn view(&self) -> DataView<'a> {
        let (off, _) = self.tape.nodes[self.idx as usize];
        let b = &self.tape.bytes[off as usize..];
        let n = item_len(b).unwrap_or(b.len());
        DataView { bytes: &b[..n] }
    }

    /// The item's Data tag.
    pub fn tag(&self) -> u8 {
        self.tape.bytes[self.tape.nodes[self.idx as usize].0 as usize]
    }

    /// The value of a scalar item.
    pub fn scalar(&self) -> Scalar<'a> {
        let off = self.tape.nodes[self.idx as usize].0 as usize;
        let b = &self.tape.bytes[off..];
        // A scalar's view needs only its own bytes; `scalar` reads no further than they go.
        DataView { bytes: b }.scalar()
    }

    /// The elements of an array or structure (none for other types).
    pub fn children(&self) -> TapeChildren<'t, 'a> {
        let (off, end) = self.tape.nodes[self.idx as usize];
        let left = match self.tag() {
            tag::ARRAY | tag::STRUCTURE => quick_length(&self.tape.bytes[off as usize + 1..]).map_or(0, |x| x.0),
            _ => 0,
        };
        TapeChildren { tape: self.tape, next: self.idx + 1, end, left }
    }
}

/// The elements of a [`TapeNode`], in order.
#[derive(Clone, Debug)]
pub struct TapeChildren<'t, 'a> {
    tape: &'t Tape<'a>,
    next: u32,
    end: u32,
    left: usize,
}

impl<'t, 'a> Iterator for TapeChildren<'t, 'a> {
    type Item = TapeNode<'t, 'a>;

    fn next(&mut self) -> Option<TapeNode<'t, 'a>> {
        if self.left == 0 || self.next >= self.end {
            return None;
        }
        self.left -= 1;
        let n = TapeNode { tape: self.tape, idx: self.next };
        self.next = self.tape.nodes[self.next as usize].1;
        Some(n)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}
