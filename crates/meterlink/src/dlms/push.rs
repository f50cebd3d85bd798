//! Pushes as OBIS rows: a data-notification body that describes itself (structures of OBIS,
//! value and scaler_unit), the known HAN list layouts (Aidon, Kaifa, Kamstrup; the Austrian
//! and Luxembourg pushes), or a capture-objects list given by the user.
//!
//! Self-describing bodies are walked as a sequence of items, each either a group
//! `structure { octet-string(6) OBIS, value [, structure { integer scaler, enum unit }] }`
//! (Aidon, Austrian TINETZ/Sagemcom), or the same three flattened in the sequence (Kamstrup,
//! Austrian EVN: `OBIS, value[, scaler_unit], OBIS, value, …`), or a bare value (a list
//! version, a date-time, a meter number) that becomes a row without OBIS code. Kaifa's lists
//! carry no OBIS codes: their codes and scalers come from the layout, chosen by the element
//! count and the list version `KFM_001`.

use std::borrow::Cow;
use std::cell::Cell;

use super::axdr::{tag, tape, view_data, AxdrError, Children, Data, DataView, Scalar, TapeChildren, TapeNode};
use super::cosem::{obis_name, scale, scale_float, unit_name, DateTime};
use super::{Obis, ObisRow, RowValue};

/// One entry of a push-setup's `push_object_list` / a profile's `capture_objects` (Blue Book
/// 4.4.8 / 4.3.6): which attribute of which object the body's element at the same index holds,
/// and optionally the object's scaler_unit (read from the meter beforehand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureObject {
    /// The interface class (1 Data, 3 Register, 4 Extended register, 8 Clock, ...).
    pub class_id: u16,
    /// The object's logical name.
    pub obis: Obis,
    /// The attribute index (2 = value for Data/Register).
    pub attribute: i8,
    /// The scaler and Blue Book unit of the value, where known.
    pub scaler_unit: Option<(i8, u8)>,
}

/// A body node: a [`Data`] tree or a [`DataView`] of the bytes; the row logic reads both.
pub trait Node<'a>: Copy {
    /// The children's iterator.
    type Iter: Iterator<Item = Self>;
    /// The Data tag.
    fn tag(self) -> u8;
    /// The scalar value.
    fn scalar(self) -> Scalar<'a>;
    /// The elements of an array or structure (none otherwise).
    fn children(self) -> Self::Iter;
}

impl<'a> Node<'a> for &'a Data {
    type Iter = std::slice::Iter<'a, Data>;
    fn tag(self) -> u8 {
        Data::tag(self)
    }
    fn scalar(self) -> Scalar<'a> {
        Data::scalar(self)
    }
    fn children(self) -> Self::Iter {
        match self {
            Data::Array(v) | Data::Structure(v) => v.iter(),
            _ => [].iter(),
        }
    }
}

impl<'t, 'a> Node<'a> for TapeNode<'t, 'a> {
    type Iter = TapeChildren<'t, 'a>;
    fn tag(self) -> u8 {
        TapeNode::tag(&self)
    }
    fn scalar(self) -> Scalar<'a> {
        TapeNode::scalar(&self)
    }
    fn children(self) -> TapeChildren<'t, 'a> {
        TapeNode::children(&self)
    }
}

impl<'a> Node<'a> for DataView<'a> {
    type Iter = Children<'a>;
    fn tag(self) -> u8 {
        DataView::tag(&self)
    }
    fn scalar(self) -> Scalar<'a> {
        DataView::scalar(&self)
    }
    fn children(self) -> Children<'a> {
        DataView::children(&self)
    }
}

fn is_seq<'a, N: Node<'a>>(n: N) -> bool {
    matches!(n.tag(), tag::ARRAY | tag::STRUCTURE)
}

/// The body's elements (the body itself when it is a single value).
fn elements<'a, N: Node<'a>>(body: N) -> Vec<N> {
    if is_seq(body) {
        body.children().collect()
    } else {
        vec![body]
    }
}

/// The OBIS rows of a notification body (empty when the layout is not recognised).
pub fn rows(body: &Data) -> Vec<ObisRow> {
    rows_of(body)
}

/// The OBIS rows of a notification body given as its A-XDR bytes (one Data item filling
/// `body`), read in place without building the Data tree.
pub fn rows_from_bytes(body: &[u8]) -> Result<Vec<ObisRow>, AxdrError> {
    let (t, n) = tape(body)?;
    if n != body.len() {
        return Err(AxdrError::TrailingBytes { offset: n });
    }
    Ok(rows_of(t.root()))
}

/// The OBIS rows of a body node (see [`rows`]).
pub fn rows_of<'a, N: Node<'a>>(body: N) -> Vec<ObisRow> {
    let mut out = Vec::new();
    rows_into(body, &mut out);
    out
}

/// [`rows_of`] into `out` (cleared first), for callers that reuse one buffer.
pub fn rows_into<'a, N: Node<'a>>(body: N, out: &mut Vec<ObisRow>) {
    out.clear();
    let items = elements(body);
    if is_seq(body) {
        if let Some(layout) = kaifa_layout(&items) {
            out.extend(items.iter().zip(layout).map(|(d, &(o, s, u))| value_row(Some(o), *d, s, u)));
            return;
        }
    }
    let defaults = if is_kamstrup(&items) { KAMSTRUP_SCALERS } else { &[] };
    out.reserve(items.len());
    walk(&items, defaults, out);
}

/// The rows of the commonest self-describing bodies, read straight from their A-XDR bytes:
/// an array or structure (one-octet count) whose elements are groups `structure(2|3) {
/// octet-string(6) OBIS, value [, scaler_unit] }` (Aidon, Austrian TINETZ/Sagemcom) or the
/// same flattened (`OBIS, value [, scaler_unit]`, Austrian EVN), values scalar, a scaler_unit
/// `structure { integer, enum }`. Each value is checked as A-XDR ([`view_data`]); the body
/// must fill `body`. `out` (cleared first) then holds what [`rows_from_bytes`] gives; None (and
/// `out` empty) for any other body, valid or not, which the general path then reads.
pub fn group_rows_from_bytes(body: &[u8], out: &mut Vec<ObisRow>) -> Option<()> {
    out.clear();
    let r = group_rows(body, out);
    if r.is_none() {
        out.clear();
    }
    r
}

fn group_rows(body: &[u8], out: &mut Vec<ObisRow>) -> Option<()> {
    let (&[t, n], mut rest) = body.split_first_chunk::<2>()?;
    if !matches!(t, tag::ARRAY | tag::STRUCTURE) || n == 0 || n >= 0x80 {
        return None;
    }
    out.reserve(usize::from(n));
    let mut left = usize::from(n);
    while left > 0 {
        let (grouped, r) = match rest.split_first_chunk::<4>()? {
            (&[tag::STRUCTURE, k @ (2 | 3), tag::OCTET_STRING, 6], r) => (Some(k), r),
            (&[tag::OCTET_STRING, 6, ..], _) if left >= 2 => (None, &rest[2..]),
            _ => return None,
        };
        let (obis, r) = r.split_first_chunk::<6>()?;
        let (value, used) = view_data(r).ok()?;
        if matches!(value.tag(), tag::ARRAY | tag::STRUCTURE | tag::COMPACT_ARRAY) {
            return None;
        }
        rest = &r[used..];
        // A group's third child must be a scaler_unit; a flat one is taken when it follows.
        let su = match (grouped, rest.split_first_chunk::<6>()) {
            (Some(3) | None, Some((&[tag::STRUCTURE, 2, tag::INTEGER, s, tag::ENUM, u], r))) if grouped.is_some() || left >= 3 => {
                rest = r;
                Some((s as i8, u))
            }
            (Some(3), _) => return None,
            _ => None,
        };
        left -= match grouped {
            Some(_) => 1,
            None => 2 + usize::from(su.is_some()),
        };
        out.push(value_row(Some(Obis(*obis)), value, su.map(|x| x.0), su.map(|x| x.1)));
    }
    rest.is_empty().then_some(())
}

/// Rows for a body whose elements follow a user-given capture-objects list, element `i`
/// holding `capture[i]` (extra elements on either side are ignored).
pub fn rows_with_capture(body: &Data, capture: &[CaptureObject]) -> Vec<ObisRow> {
    rows_with_capture_of(body, capture)
}

/// [`rows_with_capture`] for any body node.
pub fn rows_with_capture_of<'a, N: Node<'a>>(body: N, capture: &[CaptureObject]) -> Vec<ObisRow> {
    elements(body)
        .into_iter()
        .zip(capture)
        .map(|(d, c)| {
            let (s, u) = c.scaler_unit.map_or((None, None), |(s, u)| (Some(s), Some(u)));
            value_row(Some(c.obis), d, s, u)
        })
        .collect()
}

/// Walk a self-describing sequence (see the module text).
fn walk<'a, N: Node<'a>>(items: &[N], defaults: &[Default], out: &mut Vec<ObisRow>) {
    let mut i = 0;
    while i < items.len() {
        let item = items[i];
        if let Some(row) = group_row(item) {
            out.push(row);
            i += 1;
        } else if let (Some(obis), Some(&value)) = (obis_of(item), items.get(i + 1)) {
            let su = items.get(i + 2).and_then(|&n| scaler_unit(n));
            let (s, u) = match su {
                Some((s, u)) => (Some(s), Some(u)),
                None => default_for(defaults, &obis),
            };
            out.push(value_row(Some(obis), value, s, u));
            i += if su.is_some() { 3 } else { 2 };
        } else if item.tag() == tag::NULL_DATA {
            i += 1; // padding (Kamstrup single-phase lists leave out L2/L3 as null pairs)
        } else {
            out.push(bare_row(item, i, out.is_empty(), defaults));
            i += 1;
        }
    }
}

/// A `structure { OBIS, value [, scaler_unit] }` group.
fn group_row<'a, N: Node<'a>>(item: N) -> Option<ObisRow> {
    if item.tag() != tag::STRUCTURE {
        return None;
    }
    let mut g = item.children();
    let obis = obis_of(g.next()?)?;
    let value = g.next()?;
    let su = match g.next() {
        None => None,
        Some(n) => Some(scaler_unit(n)?),
    };
    if g.next().is_some() {
        return None;
    }
    let (s, u) = su.map_or((None, None), |(s, u)| (Some(s), Some(u)));
    Some(value_row(Some(obis), value, s, u))
}

/// A logical name: a 6-octet octet-string.
fn obis_of<'a, N: Node<'a>>(d: N) -> Option<Obis> {
    match d.scalar() {
        Scalar::Octets(b) if b.len() == 6 => Obis::from_octets(b),
        _ => None,
    }
}

/// A scaler_unit: `structure { integer scaler, enum unit }` (Blue Book 4.3.2).
fn scaler_unit<'a, N: Node<'a>>(d: N) -> Option<(i8, u8)> {
    if d.tag() != tag::STRUCTURE {
        return None;
    }
    let mut c = d.children();
    let (s, u) = (c.next()?, c.next()?);
    if c.next().is_some() || s.tag() != tag::INTEGER || u.tag() != tag::ENUM {
        return None;
    }
    match (s.scalar(), u.scalar()) {
        (Scalar::Int(s), Scalar::Int(u)) => Some((s as i8, u as u8)),
        _ => None,
    }
}

/// A value without OBIS code in a self-describing list: Kamstrup's first element is its list
/// version identifier (1.1.0.2.129.255); a leading date-time (Austrian EVN) is the clock.
fn bare_row<'a, N: Node<'a>>(item: N, index: usize, first: bool, defaults: &[Default]) -> ObisRow {
    let obis = if index == 0 && !defaults.is_empty() {
        Some(Obis([1, 1, 0, 2, 129, 255]))
    } else if first && octets_datetime(item.scalar()).is_some() {
        Some(Obis([0, 0, 1, 0, 0, 255]))
    } else {
        None
    };
    value_row(obis, item, None, None)
}

/// The row of one value with its scaler and unit.
fn value_row<'a, N: Node<'a>>(obis: Option<Obis>, d: N, scaler: Option<i8>, unit: Option<u8>) -> ObisRow {
    let mut row = ObisRow {
        obis,
        value: RowValue::None,
        mantissa: None,
        scaler: None,
        unit: unit.filter(|&u| u != 255).and_then(unit_name).map(Cow::Borrowed),
        name: obis.as_ref().and_then(cached_name),
    };
    let s = scaler.unwrap_or(0);
    match d.scalar() {
        Scalar::Int(m) if d.tag() != tag::BOOLEAN => {
            row.value = scale(m, s);
            row.mantissa = Some(m);
            row.scaler = Some(s);
        }
        Scalar::Bool(b) => row.value = RowValue::Int(i64::from(b)),
        Scalar::F32(v) => number_f(&mut row, f64::from(v), s),
        Scalar::F64(v) => number_f(&mut row, v, s),
        Scalar::U64(v) => number_f(&mut row, v as f64, s),
        other => row.value = text_value(other),
    }
    row
}

/// Slots of the per-thread memo of [`obis_name`] (pushes repeat the same few codes).
const NAME_SLOTS: usize = 64;

thread_local! {
    static NAMES: [Cell<(Obis, Option<&'static str>)>; NAME_SLOTS] =
        const { [const { Cell::new((Obis([0; 6]), None)) }; NAME_SLOTS] };
}

/// [`obis_name`] through a direct-mapped per-thread memo (the name table's binary search is
/// a string of unpredictable branches; a memo hit is one compare). The empty slots hold
/// `0.0.0.0.0.0`, which has no name, so they are correct entries too.
fn cached_name(o: &Obis) -> Option<&'static str> {
    let [a, b, c, d, e, f] = o.0;
    let h = u64::from_le_bytes([a, b, c, d, e, f, 0, 0]).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
    NAMES.with(|slots| {
        let slot = &slots[h as usize % NAME_SLOTS];
        let (seen, name) = slot.get();
        if seen == *o {
            return name;
        }
        let name = obis_name(o);
        slot.set((*o, name));
        name
    })
}

fn number_f(row: &mut ObisRow, v: f64, s: i8) {
    row.value = RowValue::Float(scale_float(v, s));
    row.scaler = Some(s);
}

/// Strings, dates and octets: a 12-octet date-time as ISO text, printable octets as text,
/// others as bytes.
fn text_value(v: Scalar<'_>) -> RowValue {
    let iso = |s: Option<String>| s.map_or(RowValue::None, RowValue::Text);
    match v {
        Scalar::DateTime(t) => iso(t.to_iso()),
        Scalar::Date(t) => iso(t.to_iso()),
        Scalar::Time(t) => iso(t.to_iso()),
        Scalar::Visible(b) | Scalar::Utf8(b) => RowValue::Text(String::from_utf8_lossy(b).into_owned()),
        Scalar::Bits(_, b) => RowValue::Bytes(b.to_vec()),
        Scalar::Octets(b) => {
            if let Some(t) = octets_datetime(v) {
                RowValue::Text(t)
            } else if !b.is_empty() && b.iter().all(|c| (0x20..0x7F).contains(c)) {
                // Printable ASCII: the bytes are the text (one copy, not a char at a time).
                RowValue::Text(String::from_utf8_lossy(b).into_owned())
            } else {
                RowValue::Bytes(b.to_vec())
            }
        }
        _ => RowValue::None,
    }
}

/// An octet-string holding a fully specified COSEM date-time, as ISO text.
fn octets_datetime(v: Scalar<'_>) -> Option<String> {
    match v {
        Scalar::Octets(b) => DateTime::from_octets(b)?.to_iso(),
        _ => None,
    }
}

// ---- known layouts ---------------------------------------------------------------------

/// A value's default scaler and unit by OBIS C and D (for lists that carry no scaler_unit).
type Default = (u8, u8, i8, u8);

/// Kamstrup HAN lists (Norway/Sweden): currents in 0.01 A, energies in 10 Wh/varh, the rest
/// in W, var, V (Kamstrup "HAN-NVE" list description, as amshan applies it).
const KAMSTRUP_SCALERS: &[Default] = &[
    (1, 7, 0, 27),
    (2, 7, 0, 27),
    (3, 7, 0, 29),
    (4, 7, 0, 29),
    (31, 7, -2, 33),
    (51, 7, -2, 33),
    (71, 7, -2, 33),
    (32, 7, 0, 35),
    (52, 7, 0, 35),
    (72, 7, 0, 35),
    (1, 8, 1, 30),
    (2, 8, 1, 30),
    (3, 8, 1, 32),
    (4, 8, 1, 32),
];

fn default_for(defaults: &[Default], obis: &Obis) -> (Option<i8>, Option<u8>) {
    let [_, _, c, d, ..] = obis.0;
    match defaults.iter().find(|x| (x.0, x.1) == (c, d)) {
        Some(&(_, _, s, u)) => (Some(s), Some(u)),
        None => (None, None),
    }
}

fn is_kamstrup<'a, N: Node<'a>>(items: &[N]) -> bool {
    matches!(items.first().map(|n| n.scalar()), Some(Scalar::Visible(b) | Scalar::Octets(b)) if b.starts_with(b"Kamstrup_"))
}

/// One element of a value-only list: its OBIS code, scaler and unit.
type Known = (Obis, Option<i8>, Option<u8>);

const fn k(a: u8, c: u8, d: u8, e: u8, s: i8, u: u8) -> Known {
    let su = if u == 0 { (None, None) } else { (Some(s), Some(u)) };
    (Obis([a, 0, c, d, e, 255]), su.0, su.1)
}

/// Kaifa (KFM_001) list 2, three-phase: version, meter id, type, P+, P-, Q+, Q-, I1..3, U1..3;
/// currents in mA, voltages in 0.1 V (Kaifa "HAN OBIS codes KFM_001").
const KAIFA_3P: [Known; 13] = [
    k(1, 0, 2, 129, 0, 0),
    k(0, 96, 1, 0, 0, 0),
    k(0, 96, 1, 7, 0, 0),
    k(1, 1, 7, 0, 0, 27),
    k(1, 2, 7, 0, 0, 27),
    k(1, 3, 7, 0, 0, 29),
    k(1, 4, 7, 0, 0, 29),
    k(1, 31, 7, 0, -3, 33),
    k(1, 51, 7, 0, -3, 33),
    k(1, 71, 7, 0, -3, 33),
    k(1, 32, 7, 0, -1, 35),
    k(1, 52, 7, 0, -1, 35),
    k(1, 72, 7, 0, -1, 35),
];

/// Kaifa list 2, single-phase: version, meter id, type, P+, P-, Q+, Q-, I1, U1.
const KAIFA_1P: [Known; 9] = [
    KAIFA_3P[0], KAIFA_3P[1], KAIFA_3P[2], KAIFA_3P[3], KAIFA_3P[4], KAIFA_3P[5], KAIFA_3P[6],
    KAIFA_3P[7], KAIFA_3P[10],
];

/// Kaifa list 3 adds the clock and the four energy totals (Wh, varh) to list 2.
const KAIFA_TAIL: [Known; 5] = [
    k(0, 1, 0, 0, 0, 0),
    k(1, 1, 8, 0, 0, 30),
    k(1, 2, 8, 0, 0, 30),
    k(1, 3, 8, 0, 0, 32),
    k(1, 4, 8, 0, 0, 32),
];

/// Kaifa list 1: active power import only.
const KAIFA_1: [Known; 1] = [k(1, 1, 7, 0, 0, 27)];

/// The Kaifa layout of a value-only list, by its length and list version.
fn kaifa_layout<'a, N: Node<'a>>(items: &[N]) -> Option<impl Iterator<Item = &'static Known>> {
    if let [one] = items {
        if one.tag() == tag::DOUBLE_LONG_UNSIGNED {
            return Some(KAIFA_1.iter().chain(&[]));
        }
    }
    let (Scalar::Visible(version) | Scalar::Octets(version)) = items.first()?.scalar() else { return None };
    if !version.starts_with(b"KFM_") || items.iter().any(|&d| obis_of(d).is_some()) {
        return None;
    }
    let head: &'static [Known] = match items.len() {
        9 | 14 => &KAIFA_1P,
        13 | 18 => &KAIFA_3P,
        _ => return None,
    };
    let tail: &'static [Known] = if items.len() == 14 || items.len() == 18 { &KAIFA_TAIL } else { &[] };
    Some(head.iter().chain(tail))
}
