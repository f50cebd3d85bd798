//! A-XDR reading and writing of the xDLMS fields (IEC 61334-6 / Green Book 9.5): fixed-size
//! integers big-endian, variable-length counts and lengths, OPTIONAL/DEFAULT flags, and Data.

use super::ApduError;
use crate::dlms::axdr::{decode_data, encode_data, Data};

/// A read position in one APDU.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// Read `buf`, which starts at offset `base` of the APDU.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// The current offset in the APDU.
    pub fn pos(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The rest, unread.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Fail unless everything was read.
    pub fn finish(&self) -> Result<(), ApduError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(ApduError::TrailingBytes { offset: self.pos() })
        }
    }

    /// `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ApduError> {
        if n > self.remaining() {
            return Err(ApduError::Truncated { offset: self.base + self.buf.len() });
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], ApduError> {
        Ok(self.bytes(N)?.try_into().expect("N bytes"))
    }

    /// Unsigned8.
    pub fn u8(&mut self) -> Result<u8, ApduError> {
        Ok(self.bytes(1)?[0])
    }

    /// Unsigned16.
    pub fn u16(&mut self) -> Result<u16, ApduError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Unsigned32.
    pub fn u32(&mut self) -> Result<u32, ApduError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A BOOLEAN: 00h false, any other octet true (A-XDR, as X.690 BER).
    pub fn boolean(&mut self) -> Result<bool, ApduError> {
        Ok(self.u8()? != 0)
    }

    /// The presence flag of an OPTIONAL or DEFAULT component: 00h absent, 01h present.
    pub fn flag(&mut self, what: &'static str) -> Result<bool, ApduError> {
        let at = self.pos();
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ApduError::BadValue { offset: at, what }),
        }
    }

    /// A CHOICE octet.
    pub fn choice(&mut self) -> Result<(usize, u8), ApduError> {
        let at = self.pos();
        Ok((at, self.u8()?))
    }

    /// A CHOICE octet of the LN services, checked to be one of 1..=`max`.
    pub fn service_choice(&mut self, max: u8, of: &'static str) -> Result<(usize, u8), ApduError> {
        let (at, v) = self.choice()?;
        if v == 0 || v > max {
            return Err(ApduError::BadChoice { offset: at, value: v, of });
        }
        Ok((at, v))
    }

    /// A-XDR length / SEQUENCE OF count: one octet below 80h, else 8nh and n octets (n ≤ 4).
    pub fn length(&mut self) -> Result<usize, ApduError> {
        let at = self.pos();
        let first = self.u8()?;
        if first < 0x80 {
            return Ok(first as usize);
        }
        let n = (first & 0x7F) as usize;
        if n == 0 || n > 4 {
            return Err(ApduError::BadLength { offset: at });
        }
        Ok(self.bytes(n)?.iter().fold(0usize, |v, &b| v << 8 | b as usize))
    }

    /// An OCTET STRING with its A-XDR length.
    pub fn octets(&mut self) -> Result<&'a [u8], ApduError> {
        let at = self.pos();
        let n = self.length()?;
        if n > self.remaining() {
            return Err(ApduError::BadLength { offset: at });
        }
        self.bytes(n)
    }

    /// A SEQUENCE OF count, bounded by the bytes left (each element takes at least one).
    pub fn count(&mut self) -> Result<usize, ApduError> {
        let at = self.pos();
        let n = self.length()?;
        if n > self.remaining() {
            return Err(ApduError::BadLength { offset: at });
        }
        Ok(n)
    }

    /// One Data item (the A-XDR stage).
    pub fn data(&mut self) -> Result<Data, ApduError> {
        let at = self.pos();
        let (d, n) = decode_data(self.rest()).map_err(|error| ApduError::Data { offset: at, error })?;
        self.pos += n;
        Ok(d)
    }

    /// A SEQUENCE OF `T`.
    pub fn seq<T>(&mut self, mut f: impl FnMut(&mut Self) -> Result<T, ApduError>) -> Result<Vec<T>, ApduError> {
        let n = self.count()?;
        let mut v = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            v.push(f(self)?);
        }
        Ok(v)
    }
}

/// Append an A-XDR length.
pub(crate) fn put_length(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let be = (n as u64).to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&be[skip..]);
}

/// Append an OCTET STRING with its length.
pub(crate) fn put_octets(out: &mut Vec<u8>, b: &[u8]) {
    put_length(out, b.len());
    out.extend_from_slice(b);
}

/// Append a BOOLEAN (01h for true).
pub(crate) fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.push(b as u8);
}

/// Append one Data item.
pub(crate) fn put_data(out: &mut Vec<u8>, d: &Data) {
    encode_data(d, out);
}

/// Append a SEQUENCE OF `T`.
pub(crate) fn put_seq<T>(out: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    put_length(out, items.len());
    for i in items {
        f(out, i);
    }
}
