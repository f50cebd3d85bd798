//! `Data` from its tree: the A-XDR tree of `meterlink.dlms.decode_data`
//! (`{"type": <Blue Book type name>, "value": ...}`), so that decoding what this encodes gives
//! the same tree back. Lossless extras: `"bits"` for a bit-string whose length is not a
//! multiple of 8, `"description"` for a compact-array (else inferred from its first value),
//! date-time / date / time as their octets in hex (else ISO 8601 text, or null for "not
//! specified").

use super::{as_bool, as_bytes, as_int, as_list, as_text, root, Node, Obj, TreeError};
use crate::dlms::axdr::{tag, Data, TypeDescription};
use crate::dlms::cosem::{Date, DateTime, Time};

/// The `Data` a node holds: [`Node::Data`], or an A-XDR tree (see the module documentation).
pub fn data_from_tree(n: &Node, path: &str) -> Result<Data, TreeError> {
    if let Node::Data(d) = n {
        return Ok(d.clone());
    }
    let o = Obj::of(n, path)?;
    let t = o.text("type")?;
    let value = o.opt("value").unwrap_or(&Node::Null);
    let vp = o.at("value");
    if let Some(d) = scalar(t, value, &vp)? {
        return Ok(d);
    }
    Ok(match t {
        "null-data" => Data::NullData,
        "dont-care" => Data::DontCare,
        "array" => Data::Array(as_list(value, &vp, data_from_tree)?),
        "structure" => Data::Structure(as_list(value, &vp, data_from_tree)?),
        "bit-string" => bit_string(&o, value, &vp)?,
        "octet-string" => Data::OctetString(as_bytes(value, &vp)?),
        "visible-string" => Data::VisibleString(latin1(value, &vp)?),
        "utf8-string" => Data::Utf8String(as_text(value, &vp)?.as_bytes().to_vec()),
        "date-time" => Data::DateTime(DateTime(octets(value, &vp, parse_iso_datetime, |d| d.0, [0xFF; 12], 9)?)),
        "date" => Data::Date(Date(octets(value, &vp, parse_iso_date, |d| d.0, [0xFF; 5], 0)?)),
        "time" => Data::Time(Time(octets(value, &vp, parse_iso_time, |d| d.0, [0xFF; 4], 0)?)),
        "compact-array" => compact_array(&o, value, &vp)?,
        _ => return Err(TreeError::Unknown { path: o.at("type"), value: t.into() }),
    })
}

/// The number types, or None for the others.
fn scalar(t: &str, v: &Node, p: &str) -> Result<Option<Data>, TreeError> {
    Ok(Some(match t {
        "boolean" => Data::Boolean(as_bool(v, p)?),
        "double-long" => Data::DoubleLong(as_int(v, p)?),
        "double-long-unsigned" => Data::DoubleLongUnsigned(as_int(v, p)?),
        "bcd" => Data::Bcd(as_int(v, p)?),
        "integer" => Data::Integer(as_int(v, p)?),
        "long" => Data::Long(as_int(v, p)?),
        "unsigned" => Data::Unsigned(as_int(v, p)?),
        "long-unsigned" => Data::LongUnsigned(as_int(v, p)?),
        "long64" => Data::Long64(as_int(v, p)?),
        "long64-unsigned" => Data::Long64Unsigned(as_int(v, p)?),
        "enum" => Data::Enum(as_int(v, p)?),
        "float32" => Data::Float32(as_float(v, p)? as f32),
        "float64" => Data::Float64(as_float(v, p)?),
        _ => return Ok(None),
    }))
}

fn as_float(n: &Node, path: &str) -> Result<f64, TreeError> {
    match n {
        Node::Float(f) => Ok(*f),
        Node::Int(i) => Ok(*i as f64),
        _ => Err(TreeError::WrongType { path: root(path), expected: "a number" }),
    }
}

/// visible-string: text whose characters are single octets (as decode_data reads them).
fn latin1(n: &Node, path: &str) -> Result<Vec<u8>, TreeError> {
    if let Node::Bytes(b) = n {
        return Ok(b.clone());
    }
    as_text(n, path)?.chars().map(|c| u8::try_from(u32::from(c)).map_err(|_| TreeError::OutOfRange { path: root(path) })).collect()
}

/// bit-string: hex octets, `"bits"` the number of bits (default: all of them).
fn bit_string(o: &Obj, v: &Node, p: &str) -> Result<Data, TreeError> {
    let bytes = as_bytes(v, p)?;
    let bits: usize = o.int_or("bits", bytes.len() * 8)?;
    if bits.div_ceil(8) != bytes.len() {
        return Err(TreeError::OutOfRange { path: o.at("bits") });
    }
    Ok(Data::BitString { bits, bytes })
}

/// A date-time / date / time: null ("not specified": `unspecified`), its octets in hex, or
/// ISO 8601 text. `dev` is where the deviation starts (0 for none).
fn octets<T, const N: usize>(
    n: &Node,
    path: &str,
    parse: fn(&str) -> Option<T>,
    raw: fn(T) -> [u8; N],
    unspecified: [u8; N],
    dev: usize,
) -> Result<[u8; N], TreeError> {
    match n {
        Node::Null => {
            let mut b = unspecified;
            if dev > 0 {
                b[dev..dev + 2].copy_from_slice(&[0x80, 0x00]);
            }
            Ok(b)
        }
        Node::Text(s) if s.contains(['-', ':']) => {
            parse(s).map(raw).ok_or_else(|| TreeError::Unknown { path: root(path), value: s.clone() })
        }
        _ => as_bytes(n, path)?.try_into().map_err(|_| TreeError::OutOfRange { path: root(path) }),
    }
}

fn digits(s: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    let v: u32 = if s.bytes().all(|c| c.is_ascii_digit()) && !s.is_empty() { s.parse().ok()? } else { return None };
    range.contains(&v).then_some(v)
}

/// `YYYY-MM-DD` as a COSEM date (day of week not specified).
pub fn parse_iso_date(s: &str) -> Option<Date> {
    let mut p = s.split('-');
    let (y, m, d) = (digits(p.next()?, 0..=9999)?, digits(p.next()?, 1..=12)?, digits(p.next()?, 1..=31)?);
    if p.next().is_some() || s.len() != 10 {
        return None;
    }
    let y = (y as u16).to_be_bytes();
    Some(Date([y[0], y[1], m as u8, d as u8, 0xFF]))
}

/// `HH:MM[:SS[.hh]]` as a COSEM time (hundredths not specified when absent).
pub fn parse_iso_time(s: &str) -> Option<Time> {
    let (hms, hundredths) = match s.split_once('.') {
        Some((a, h)) if h.len() == 2 => (a, digits(h, 0..=99)? as u8),
        Some(_) => return None,
        None => (s, 0xFF),
    };
    let mut p = hms.split(':');
    let (h, m) = (digits(p.next()?, 0..=23)?, digits(p.next()?, 0..=59)?);
    let sec = p.next().map(|x| digits(x, 0..=59)).unwrap_or(Some(0))?;
    if p.next().is_some() || !hms.split(':').all(|x| x.len() == 2) {
        return None;
    }
    Some(Time([h as u8, m as u8, sec as u8, hundredths]))
}

/// ISO 8601 date-time (`2020-01-06T00:03:00+01:00`, `Z`, or no offset) as a COSEM date-time:
/// the deviation is the offset negated (Blue Book 4.1.6.1), not specified without an offset;
/// day of week and clock status not specified.
pub fn parse_iso_datetime(s: &str) -> Option<DateTime> {
    let (date, rest) = s.split_once('T')?;
    let (time, deviation) = split_offset(rest)?;
    let (d, t) = (parse_iso_date(date)?, parse_iso_time(time)?);
    let mut b = [0xFF; 12];
    b[..5].copy_from_slice(&d.0);
    b[5..9].copy_from_slice(&t.0);
    b[9..11].copy_from_slice(&deviation.to_be_bytes());
    Some(DateTime(b))
}

/// The time part and the deviation (minutes, UTC − local; 0x8000 when no offset is given).
fn split_offset(s: &str) -> Option<(&str, i16)> {
    if let Some(t) = s.strip_suffix('Z') {
        return Some((t, 0));
    }
    let Some(at) = s.rfind(['+', '-']) else { return Some((s, i16::MIN)) };
    let (t, off) = s.split_at(at);
    let (hh, mm) = off[1..].split_once(':')?;
    let minutes = (digits(hh, 0..=14)? * 60 + digits(mm, 0..=59)?) as i16;
    (minutes <= 840).then_some((t, if off.starts_with('+') { -minutes } else { minutes }))
}

/// compact-array: the values (a list of trees) and the type description (given, or inferred
/// from the first value; `unsigned` for an empty array).
fn compact_array(o: &Obj, v: &Node, p: &str) -> Result<Data, TreeError> {
    let values = as_list(v, p, data_from_tree)?;
    let description = match o.opt("description") {
        Some(d) => description_from(d, &o.at("description"))?,
        None => values.first().map_or(Ok(TypeDescription::Simple(tag::UNSIGNED)), |d| infer(d, p))?,
    };
    Ok(Data::CompactArray { description, values })
}

fn infer(d: &Data, path: &str) -> Result<TypeDescription, TreeError> {
    Ok(match d {
        Data::Array(v) => {
            let n = u16::try_from(v.len()).map_err(|_| TreeError::OutOfRange { path: root(path) })?;
            let el = v.first().map_or(Ok(TypeDescription::Simple(tag::UNSIGNED)), |x| infer(x, path))?;
            TypeDescription::Array(n, Box::new(el))
        }
        Data::Structure(v) => TypeDescription::Structure(v.iter().map(|x| infer(x, path)).collect::<Result<_, _>>()?),
        Data::CompactArray { .. } => return Err(TreeError::WrongType { path: root(path), expected: "no compact-array inside a compact-array" }),
        other => TypeDescription::Simple(other.tag()),
    })
}

/// A type description: a simple type's name, `{"type": "array", "length": n, "element": d}`
/// or `{"type": "structure", "members": [d, ...]}`.
fn description_from(n: &Node, path: &str) -> Result<TypeDescription, TreeError> {
    if let Node::Text(s) = n {
        return simple_tag(s).map(TypeDescription::Simple).ok_or_else(|| TreeError::Unknown { path: root(path), value: s.clone() });
    }
    let o = Obj::of(n, path)?;
    match o.text("type")? {
        "array" => Ok(TypeDescription::Array(o.int("length")?, Box::new(description_from(o.get("element")?, &o.at("element"))?))),
        "structure" => Ok(TypeDescription::Structure(o.list("members", description_from)?)),
        s => simple_tag(s).map(TypeDescription::Simple).ok_or_else(|| TreeError::Unknown { path: o.at("type"), value: s.into() }),
    }
}

/// The tag of a simple type named as `Data::type_name` spells it.
fn simple_tag(name: &str) -> Option<u8> {
    const SIMPLE: [u8; 22] = [0, 3, 4, 5, 6, 9, 10, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 255];
    SIMPLE.iter().copied().find(|&t| sample(t).is_some_and(|d| d.type_name() == name))
}

/// A value of each simple tag (for its name).
fn sample(t: u8) -> Option<Data> {
    Some(match t {
        tag::NULL_DATA => Data::NullData,
        tag::BOOLEAN => Data::Boolean(false),
        tag::BIT_STRING => Data::BitString { bits: 0, bytes: vec![] },
        tag::DOUBLE_LONG => Data::DoubleLong(0),
        tag::DOUBLE_LONG_UNSIGNED => Data::DoubleLongUnsigned(0),
        tag::OCTET_STRING => Data::OctetString(vec![]),
        tag::VISIBLE_STRING => Data::VisibleString(vec![]),
        tag::UTF8_STRING => Data::Utf8String(vec![]),
        tag::BCD => Data::Bcd(0),
        tag::INTEGER => Data::Integer(0),
        tag::LONG => Data::Long(0),
        tag::UNSIGNED => Data::Unsigned(0),
        tag::LONG_UNSIGNED => Data::LongUnsigned(0),
        tag::LONG64 => Data::Long64(0),
        tag::LONG64_UNSIGNED => Data::Long64Unsigned(0),
        tag::ENUM => Data::Enum(0),
        tag::FLOAT32 => Data::Float32(0.0),
        tag::FLOAT64 => Data::Float64(0.0),
        tag::DATE_TIME => Data::DateTime(DateTime([0; 12])),
        tag::DATE => Data::Date(Date([0; 5])),
        tag::TIME => Data::Time(Time([0; 4])),
        tag::DONT_CARE => Data::DontCare,
        _ => return None,
    })
}
