//! The BER subset ACSE uses (X.690; IEC 62056-5-3 Annex B): one-octet tags, definite lengths
//! in short or long form (up to 4 length octets), EXPLICIT tags wrapping one element.

use super::cursor::Reader;
use super::ApduError;

/// One BER element: its tag and content octets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BerTlv {
    /// The tag octet (`04` octet string, `02` integer, `80` context \[0\] primitive, ...).
    pub tag: u8,
    /// The content octets.
    pub content: Vec<u8>,
}

/// One element as read: where its tag is, the tag, where its content starts, the content.
pub(crate) struct Element<'a> {
    pub at: usize,
    pub tag: u8,
    pub content_at: usize,
    pub content: &'a [u8],
}

/// Read one element. High tag numbers (`1F` form) and indefinite lengths are refused.
pub(crate) fn read_element<'a>(r: &mut Reader<'a>) -> Result<Element<'a>, ApduError> {
    let at = r.pos();
    let tag = r.u8()?;
    if tag & 0x1F == 0x1F {
        return Err(ApduError::BerElement { offset: at, tag });
    }
    let len_at = r.pos();
    let first = r.u8()?;
    let n = if first < 0x80 {
        first as usize
    } else {
        let k = (first & 0x7F) as usize;
        if k == 0 || k > 4 {
            return Err(ApduError::BadLength { offset: len_at });
        }
        r.bytes(k)?.iter().fold(0usize, |v, &b| v << 8 | b as usize)
    };
    if n > r.remaining() {
        return Err(ApduError::BadLength { offset: len_at });
    }
    let content_at = r.pos();
    Ok(Element { at, tag, content_at, content: r.bytes(n)? })
}

/// Read the elements of a constructed value's content.
pub(crate) fn read_elements<'a>(content: &'a [u8], base: usize) -> Result<Vec<Element<'a>>, ApduError> {
    let mut r = Reader::with_base(content, base);
    let mut v = Vec::new();
    while r.remaining() > 0 {
        v.push(read_element(&mut r)?);
    }
    Ok(v)
}

/// The single element inside an EXPLICIT tag.
pub(crate) fn explicit<'a>(e: &Element<'a>) -> Result<Element<'a>, ApduError> {
    let mut r = Reader::with_base(e.content, e.content_at);
    let inner = read_element(&mut r).map_err(|_| ApduError::BerElement { offset: e.at, tag: e.tag })?;
    if r.remaining() > 0 {
        return Err(ApduError::BerElement { offset: e.at, tag: e.tag });
    }
    Ok(inner)
}

/// The content of an EXPLICIT tag holding one element with tag `inner`.
pub(crate) fn explicit_of<'a>(e: &Element<'a>, inner: u8) -> Result<Element<'a>, ApduError> {
    let i = explicit(e)?;
    if i.tag != inner {
        return Err(ApduError::BerElement { offset: i.at, tag: i.tag });
    }
    Ok(i)
}

/// A one-octet INTEGER (or ENUMERATED) content.
pub(crate) fn small_int(e: &Element, what: &'static str) -> Result<u8, ApduError> {
    match e.content {
        [v] => Ok(*v),
        _ => Err(ApduError::BadValue { offset: e.at, what }),
    }
}

/// Append a BER length (short form below 128, else the shortest long form).
pub(crate) fn put_ber_length(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let be = (n as u64).to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&be[skip..]);
}

/// Append one element.
pub(crate) fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    put_ber_length(out, content.len());
    out.extend_from_slice(content);
}

/// Append an EXPLICIT tag around one element.
pub(crate) fn put_explicit(out: &mut Vec<u8>, tag: u8, inner: &BerTlv) {
    let mut c = Vec::with_capacity(inner.content.len() + 6);
    put_tlv(&mut c, inner.tag, &inner.content);
    put_tlv(out, tag, &c);
}
