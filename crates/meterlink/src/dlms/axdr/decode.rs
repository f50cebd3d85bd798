//! A-XDR decoding of `Data` (IEC 61334-6 as profiled by the Blue Book 4.1.5): one tag octet,
//! then the value; lengths and element counts in A-XDR length form (one octet below 0x80,
//! else 0x8N and N octets); fixed sizes for the numbers and the date/time types.

use super::{tag, AxdrError, Data, TypeDescription};
use crate::dlms::cosem::{Date, DateTime, Time};

/// The deepest nesting of arrays/structures (and compact-array type descriptions) accepted;
/// deeper input is `axdr_too_deep`, never a stack overflow.
pub const MAX_DEPTH: usize = 32;

/// Decode one Data item from the start of `buf`: the value and the bytes it took.
pub fn decode_data(buf: &[u8]) -> Result<(Data, usize), AxdrError> {
    let mut r = Reader { buf, pos: 0 };
    let d = r.data(0)?;
    Ok((d, r.pos))
}

/// Decode one Data item filling all of `buf` (`axdr_trailing_bytes` otherwise).
pub fn decode_data_exact(buf: &[u8]) -> Result<Data, AxdrError> {
    let (d, n) = decode_data(buf)?;
    if n != buf.len() {
        return Err(AxdrError::TrailingBytes { offset: n });
    }
    Ok(d)
}

/// What [`Reader::walk`] reports.
#[derive(Clone, Copy)]
pub(super) enum Event {
    /// A scalar (or compact-array) item starting at this offset.
    Leaf(usize),
    /// An array or structure starting at this offset; its elements follow.
    Open(usize),
    /// The end of the innermost open array or structure.
    Close,
}

/// A cursor over the input; offsets in errors are absolute in `buf`.
pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], AxdrError> {
        if n > self.remaining() {
            return Err(AxdrError::Truncated {
                offset: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AxdrError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(super) fn u8(&mut self) -> Result<u8, AxdrError> {
        Ok(self.array::<1>()?[0])
    }

    /// An A-XDR length: short form below 0x80; else 0x81..=0x84 and that many octets, in
    /// the shortest form (anything else would not re-encode to the same bytes).
    pub(super) fn length(&mut self) -> Result<usize, AxdrError> {
        let at = self.pos;
        let first = self.u8()?;
        if first < 0x80 {
            return Ok(first.into());
        }
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return Err(AxdrError::BadLength { offset: at });
        }
        let mut v: u64 = 0;
        for &b in self.take(n)? {
            v = (v << 8) | u64::from(b);
        }
        let min_octets = if v < 0x80 {
            0
        } else {
            (64 - v.leading_zeros() as usize).div_ceil(8)
        };
        if n != min_octets {
            return Err(AxdrError::BadLength { offset: at });
        }
        usize::try_from(v).map_err(|_| AxdrError::BadLength { offset: at })
    }

    /// A count of items that take at least one octet each: bounded by the input left, so
    /// that a forged count cannot reserve memory (it fails as truncated instead).
    fn count(&mut self) -> Result<usize, AxdrError> {
        let n = self.length()?;
        if n > self.remaining() {
            return Err(AxdrError::Truncated {
                offset: self.buf.len(),
            });
        }
        Ok(n)
    }

    /// Step over one tagged Data item, checking it exactly as [`Reader::data`] does, without
    /// building it (compact-arrays, rare in pushes, are built and dropped).
    pub(super) fn skip(&mut self, depth: usize) -> Result<(), AxdrError> {
        self.walk(depth, |_| {})
    }

    /// [`Reader::skip`] that reports every item to `sink` in order: its offset when it starts
    /// (`Open` for arrays/structures, `Leaf` for the rest) and `Close` when a sequence ends.
    /// Iterative, with a stack of the elements still to read at each open level.
    pub(super) fn walk(&mut self, depth: usize, mut sink: impl FnMut(Event)) -> Result<(), AxdrError> {
        let mut left = [0usize; MAX_DEPTH + 1];
        let mut level = 0usize;
        left[0] = 1;
        loop {
            if left[level] == 0 {
                if level == 0 {
                    return Ok(());
                }
                sink(Event::Close);
                level -= 1;
                continue;
            }
            left[level] -= 1;
            let at = self.pos;
            let t = self.u8()?;
            let n = match t {
                tag::ARRAY | tag::STRUCTURE => {
                    if depth + level >= MAX_DEPTH {
                        return Err(AxdrError::TooDeep { offset: at });
                    }
                    let n = self.count()?;
                    sink(Event::Open(at));
                    level += 1;
                    left[level] = n;
                    continue;
                }
                tag::COMPACT_ARRAY => {
                    self.compact_array(at, depth + level)?;
                    sink(Event::Leaf(at));
                    continue;
                }
                tag::NULL_DATA | tag::DONT_CARE => 0,
                tag::BOOLEAN => {
                    self.simple(t, at)?;
                    sink(Event::Leaf(at));
                    continue;
                }
                tag::BIT_STRING => self.length()?.div_ceil(8),
                tag::OCTET_STRING | tag::VISIBLE_STRING | tag::UTF8_STRING => self.length()?,
                _ => fixed_size(t).ok_or(AxdrError::UnknownTag { offset: at, tag: t })?,
            };
            self.take(n)?;
            sink(Event::Leaf(at));
        }
    }

    /// One tagged Data item.
    fn data(&mut self, depth: usize) -> Result<Data, AxdrError> {
        let at = self.pos;
        let t = self.u8()?;
        match t {
            tag::ARRAY | tag::STRUCTURE => {
                if depth >= MAX_DEPTH {
                    return Err(AxdrError::TooDeep { offset: at });
                }
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.data(depth + 1)?);
                }
                Ok(if t == tag::ARRAY {
                    Data::Array(v)
                } else {
                    Data::Structure(v)
                })
            }
            tag::COMPACT_ARRAY => self.compact_array(at, depth),
            _ => self.simple(t, at),
        }
    }

    /// The value of a simple (not array/structure/compact-array) type, after its tag.
    fn simple(&mut self, t: u8, at: usize) -> Result<Data, AxdrError> {
        Ok(match t {
            tag::NULL_DATA => Data::NullData,
            tag::DONT_CARE => Data::DontCare,
            tag::BOOLEAN => {
                let p = self.pos;
                match self.u8()? {
                    0 => Data::Boolean(false),
                    1 => Data::Boolean(true),
                    _ => return Err(AxdrError::BadBoolean { offset: p }),
                }
            }
            tag::BIT_STRING => {
                let bits = self.length()?;
                let bytes = self.take(bits.div_ceil(8))?.to_vec();
                Data::BitString { bits, bytes }
            }
            tag::DOUBLE_LONG => Data::DoubleLong(i32::from_be_bytes(self.array()?)),
            tag::DOUBLE_LONG_UNSIGNED => {
                Data::DoubleLongUnsigned(u32::from_be_bytes(self.array()?))
            }
            tag::OCTET_STRING => Data::OctetString(self.string()?),
            tag::VISIBLE_STRING => Data::VisibleString(self.string()?),
            tag::UTF8_STRING => Data::Utf8String(self.string()?),
            tag::BCD => Data::Bcd(self.u8()?),
            tag::INTEGER => Data::Integer(i8::from_be_bytes(self.array()?)),
            tag::LONG => Data::Long(i16::from_be_bytes(self.array()?)),
            tag::UNSIGNED => Data::Unsigned(self.u8()?),
            tag::LONG_UNSIGNED => Data::LongUnsigned(u16::from_be_bytes(self.array()?)),
            tag::LONG64 => Data::Long64(i64::from_be_bytes(self.array()?)),
            tag::LONG64_UNSIGNED => Data::Long64Unsigned(u64::from_be_bytes(self.array()?)),
            tag::ENUM => Data::Enum(self.u8()?),
            tag::FLOAT32 => Data::Float32(f32::from_be_bytes(self.array()?)),
            tag::FLOAT64 => Data::Float64(f64::from_be_bytes(self.array()?)),
            tag::DATE_TIME => Data::DateTime(DateTime(self.array()?)),
            tag::DATE => Data::Date(Date(self.array()?)),
            tag::TIME => Data::Time(Time(self.array()?)),
            _ => return Err(AxdrError::UnknownTag { offset: at, tag: t }),
        })
    }

    fn string(&mut self) -> Result<Vec<u8>, AxdrError> {
        let n = self.length()?;
        Ok(self.take(n)?.to_vec())
    }

    /// compact-array (Blue Book 4.1.5): `contents-description` (a TypeDescription), then
    /// `array-contents`, an octet string whose elements are encoded untagged by it.
    fn compact_array(&mut self, at: usize, depth: usize) -> Result<Data, AxdrError> {
        if depth >= MAX_DEPTH {
            return Err(AxdrError::TooDeep { offset: at });
        }
        let desc_at = self.pos;
        let description = self.type_description(depth + 1)?;
        if min_size(&description) == 0 {
            return Err(AxdrError::BadTypeDescription { offset: desc_at });
        }
        let len = self.length()?;
        let start = self.pos;
        let end = start.checked_add(len).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(AxdrError::Truncated {
            offset: self.buf.len(),
        })?;
        let mut sub = Reader {
            buf: &self.buf[..end],
            pos: start,
        };
        let mut values = Vec::with_capacity(len / min_size(&description).max(1));
        while sub.pos < end {
            let el = sub.pos;
            let v = sub.by_description(&description).map_err(|e| match e {
                AxdrError::Truncated { .. } => AxdrError::CompactArrayLength { offset: el },
                other => other,
            })?;
            values.push(v);
        }
        self.pos = end;
        Ok(Data::CompactArray {
            description,
            values,
        })
    }

    /// A TypeDescription: a simple type's tag; `array` (tag 1) with a 2-octet element count
    /// and the element type; `structure` (tag 2) with a count and the member types.
    fn type_description(&mut self, depth: usize) -> Result<TypeDescription, AxdrError> {
        let at = self.pos;
        if depth >= MAX_DEPTH {
            return Err(AxdrError::TooDeep { offset: at });
        }
        let t = self.u8()?;
        match t {
            tag::ARRAY => {
                let n = u16::from_be_bytes(self.array()?);
                let el = self.type_description(depth + 1)?;
                Ok(TypeDescription::Array(n, Box::new(el)))
            }
            tag::STRUCTURE => {
                let n = self.count()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.type_description(depth + 1)?);
                }
                Ok(TypeDescription::Structure(v))
            }
            _ if is_simple(t) => Ok(TypeDescription::Simple(t)),
            _ => Err(AxdrError::BadTypeDescription { offset: at }),
        }
    }

    /// One untagged compact-array element of type `d`.
    fn by_description(&mut self, d: &TypeDescription) -> Result<Data, AxdrError> {
        match d {
            TypeDescription::Simple(t) => self.simple(*t, self.pos),
            TypeDescription::Array(n, el) => {
                let mut v = Vec::with_capacity(usize::from(*n).min(self.remaining()));
                for _ in 0..*n {
                    v.push(self.by_description(el)?);
                }
                Ok(Data::Array(v))
            }
            TypeDescription::Structure(members) => {
                let mut v = Vec::with_capacity(members.len());
                for m in members {
                    v.push(self.by_description(m)?);
                }
                Ok(Data::Structure(v))
            }
        }
    }
}

/// Whether `t` is a simple Data type that a TypeDescription may name.
pub(super) fn is_simple(t: u8) -> bool {
    matches!(t, 0 | 3..=6 | 9 | 10 | 12 | 13 | 15..=18 | 20..=27 | 255)
}

/// The fewest octets one element of type `d` takes; 0 when some part of it takes none
/// (null-data, dont-care, an empty structure or array): such descriptions are refused so that
/// every decoded node costs at least one input octet.
pub(super) fn min_size(d: &TypeDescription) -> usize {
    match d {
        TypeDescription::Simple(t) => match *t {
            tag::NULL_DATA | tag::DONT_CARE => 0,
            tag::BOOLEAN | tag::BCD | tag::INTEGER | tag::UNSIGNED | tag::ENUM => 1,
            tag::BIT_STRING | tag::OCTET_STRING | tag::VISIBLE_STRING | tag::UTF8_STRING => 1,
            tag::LONG | tag::LONG_UNSIGNED => 2,
            tag::DOUBLE_LONG | tag::DOUBLE_LONG_UNSIGNED | tag::FLOAT32 | tag::TIME => 4,
            tag::DATE => 5,
            tag::LONG64 | tag::LONG64_UNSIGNED | tag::FLOAT64 => 8,
            tag::DATE_TIME => 12,
            _ => 0,
        },
        TypeDescription::Array(n, el) => {
            let m = min_size(el);
            if m == 0 {
                0
            } else {
                usize::from(*n).saturating_mul(m)
            }
        }
        TypeDescription::Structure(members) => {
            let mut sum = 0usize;
            for m in members {
                let s = min_size(m);
                if s == 0 {
                    return 0;
                }
                sum = sum.saturating_add(s);
            }
            sum
        }
    }
}

/// The value size of the fixed-size simple types (after the tag).
pub(super) fn fixed_size(t: u8) -> Option<usize> {
    Some(match t {
        tag::BOOLEAN | tag::BCD | tag::INTEGER | tag::UNSIGNED | tag::ENUM => 1,
        tag::LONG | tag::LONG_UNSIGNED => 2,
        tag::DOUBLE_LONG | tag::DOUBLE_LONG_UNSIGNED | tag::FLOAT32 | tag::TIME => 4,
        tag::DATE => 5,
        tag::LONG64 | tag::LONG64_UNSIGNED | tag::FLOAT64 => 8,
        tag::DATE_TIME => 12,
        _ => return None,
    })
}
