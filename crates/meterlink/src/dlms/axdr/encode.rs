//! A-XDR encoding of `Data`: the exact inverse of [`super::decode_data`] for every value it
//! returns (lengths in their shortest form).

use super::{tag, Data, TypeDescription};

/// Append the A-XDR encoding of `data`.
///
/// A compact-array's values are written untagged in the order given; values that do not match
/// the description are written by their own type (the result then does not decode back).
pub fn encode_data(data: &Data, out: &mut Vec<u8>) {
    out.push(data.tag());
    match data {
        Data::Array(v) | Data::Structure(v) => {
            push_length(v.len(), out);
            for d in v {
                encode_data(d, out);
            }
        }
        Data::CompactArray {
            description,
            values,
        } => {
            push_description(description, out);
            let mut contents = Vec::new();
            for v in values {
                push_untagged(v, &mut contents);
            }
            push_length(contents.len(), out);
            out.extend_from_slice(&contents);
        }
        other => push_simple(other, out),
    }
}

/// An A-XDR length in its shortest form.
pub(crate) fn push_length(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
        return;
    }
    let bytes = (n as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn push_description(d: &TypeDescription, out: &mut Vec<u8>) {
    match d {
        TypeDescription::Simple(t) => out.push(*t),
        TypeDescription::Array(n, el) => {
            out.push(tag::ARRAY);
            out.extend_from_slice(&n.to_be_bytes());
            push_description(el, out);
        }
        TypeDescription::Structure(members) => {
            out.push(tag::STRUCTURE);
            push_length(members.len(), out);
            for m in members {
                push_description(m, out);
            }
        }
    }
}

/// A compact-array element: no tag, and for arrays/structures no count either.
fn push_untagged(d: &Data, out: &mut Vec<u8>) {
    match d {
        Data::Array(v) | Data::Structure(v) => {
            for x in v {
                push_untagged(x, out);
            }
        }
        Data::CompactArray { .. } => encode_data(d, out),
        other => push_simple(other, out),
    }
}

/// The value of a simple type, after its tag.
fn push_simple(d: &Data, out: &mut Vec<u8>) {
    match d {
        Data::NullData | Data::DontCare => {}
        Data::Boolean(b) => out.push(u8::from(*b)),
        Data::BitString { bits, bytes } => {
            push_length(*bits, out);
            out.extend_from_slice(bytes);
        }
        Data::DoubleLong(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::DoubleLongUnsigned(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::OctetString(b) | Data::VisibleString(b) | Data::Utf8String(b) => {
            push_length(b.len(), out);
            out.extend_from_slice(b);
        }
        Data::Bcd(v) | Data::Unsigned(v) | Data::Enum(v) => out.push(*v),
        Data::Integer(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::Long(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::LongUnsigned(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::Long64(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::Long64Unsigned(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::Float32(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::Float64(v) => out.extend_from_slice(&v.to_be_bytes()),
        Data::DateTime(v) => out.extend_from_slice(&v.0),
        Data::Date(v) => out.extend_from_slice(&v.0),
        Data::Time(v) => out.extend_from_slice(&v.0),
        Data::Array(_) | Data::Structure(_) | Data::CompactArray { .. } => push_untagged(d, out),
    }
}
