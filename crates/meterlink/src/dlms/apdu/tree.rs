//! A neutral tree of every APDU (`Apdu::to_tree` / `Apdu::from_tree`): what the Python layer
//! (`meterlink.dlms.apdu_tree` / `encode`) converts to and from dicts, lists and scalars.
//!
//! Layout: a map with the ASN.1 type under `"apdu_type"` ([`Apdu::type_name`]), the CHOICE
//! alternative under `"choice"` ([`Apdu::choice_name`]), then the APDU's fields in snake_case.
//! OBIS codes are dotted text, octet strings lowercase hex text (bytes accepted on input),
//! enumerations their standard names (the number where no name is known; both accepted),
//! `Data` values [`Node::Data`] (on input also the A-XDR tree `{"type": ..., "value": ...}`
//! of `meterlink.dlms.decode_data`, see [`data_from_tree`]). `from_tree(to_tree(x)) == x` for
//! every APDU; optional fields may be left out on input (absent = null).

mod acse;
mod data;
mod services;

use std::fmt;

use super::Apdu;
use crate::dlms::axdr::Data;
use crate::dlms::obis::Obis;

pub use data::{data_from_tree, parse_iso_date, parse_iso_datetime, parse_iso_time};

/// One node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// No value (an absent OPTIONAL field).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i128),
    /// A floating-point number (A-XDR float trees only).
    Float(f64),
    /// Octets (accepted wherever hex text is; never produced).
    Bytes(Vec<u8>),
    /// Text: names, hex octets, dotted OBIS codes.
    Text(String),
    /// A SEQUENCE OF.
    List(Vec<Node>),
    /// A SEQUENCE or CHOICE: named fields in order.
    Map(Vec<(String, Node)>),
    /// A COSEM `Data` value.
    Data(Data),
}

impl Node {
    /// The field `key` of a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Why a tree is not an APDU; `path` names the field (`attribute.instance`, `results[2]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeError {
    /// A required field is absent.
    Missing {
        /// The field.
        path: String,
    },
    /// A field has the wrong kind of value.
    WrongType {
        /// The field.
        path: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A name (apdu_type, choice, enumeration) that is not known.
    Unknown {
        /// The field.
        path: String,
        /// The value given.
        value: String,
    },
    /// A number or length outside the field's range.
    OutOfRange {
        /// The field.
        path: String,
    },
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::Missing { path } => write!(f, "APDU tree: missing field {path}"),
            TreeError::WrongType { path, expected } => write!(f, "APDU tree: {path} must be {expected}"),
            TreeError::Unknown { path, value } => write!(f, "APDU tree: {path}: unknown value {value:?}"),
            TreeError::OutOfRange { path } => write!(f, "APDU tree: {path} is out of range"),
        }
    }
}

impl std::error::Error for TreeError {}

impl TreeError {
    /// The path of the field at fault.
    pub fn path(&self) -> &str {
        match self {
            TreeError::Missing { path } | TreeError::WrongType { path, .. } => path,
            TreeError::Unknown { path, .. } | TreeError::OutOfRange { path } => path,
        }
    }
}

impl Apdu {
    /// The APDU as a tree (see the module documentation for the layout).
    pub fn to_tree(&self) -> Node {
        let mut m = Out::new(self.type_name(), self.choice_name());
        match self {
            Apdu::Aarq(_) | Apdu::Aare(_) | Apdu::Rlrq(_) | Apdu::Rlre(_) => acse::acse_to(self, &mut m),
            Apdu::InitiateRequest(_) | Apdu::InitiateResponse(_) | Apdu::Ciphered(_) => acse::other_to(self, &mut m),
            _ => services::services_to(self, &mut m),
        }
        m.node()
    }

    /// The APDU a tree describes (the inverse of [`Apdu::to_tree`]).
    pub fn from_tree(node: &Node) -> Result<Apdu, TreeError> {
        from_tree_at(node, "")
    }
}

/// [`Apdu::from_tree`] of a nested APDU at `path`.
fn from_tree_at(node: &Node, path: &str) -> Result<Apdu, TreeError> {
    let o = Obj::of(node, path)?;
    let t = o.text("apdu_type")?;
    if let Some(a) = acse::acse_from(t, &o)? {
        return Ok(a);
    }
    if let Some(a) = services::services_from(t, &o)? {
        return Ok(a);
    }
    Err(TreeError::Unknown { path: o.at("apdu_type"), value: t.to_string() })
}

// ---- building ----

/// A map under construction.
pub(crate) struct Out(Vec<(String, Node)>);

impl Out {
    fn new(apdu_type: &str, choice: &str) -> Self {
        Out(vec![("apdu_type".into(), Node::Text(apdu_type.into())), ("choice".into(), Node::Text(choice.into()))])
    }
    fn empty() -> Self {
        Out(Vec::new())
    }
    fn put(&mut self, k: &str, v: Node) -> &mut Self {
        self.0.push((k.into(), v));
        self
    }
    fn int(&mut self, k: &str, v: impl Into<i128>) -> &mut Self {
        self.put(k, Node::Int(v.into()))
    }
    fn node(self) -> Node {
        Node::Map(self.0)
    }
}

/// Lowercase hex text.
pub(crate) fn hex(b: &[u8]) -> Node {
    const D: &[u8; 16] = b"0123456789abcdef";
    Node::Text(b.iter().flat_map(|&x| [D[(x >> 4) as usize] as char, D[(x & 15) as usize] as char]).collect())
}

fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Node) -> Node {
    v.map_or(Node::Null, f)
}

fn one(k: &str, v: Node) -> Node {
    Node::Map(vec![(k.into(), v)])
}

/// A name from `table`, or the number where it has none.
fn named(table: &[(u8, &str)], v: u8) -> Node {
    match table.iter().find(|(k, _)| *k == v) {
        Some((_, n)) => Node::Text((*n).into()),
        None => Node::Int(v.into()),
    }
}

/// A name from an indexed table (empty entries have no name).
fn indexed(table: &[&str], v: u8) -> Node {
    match table.get(v as usize) {
        Some(n) if !n.is_empty() => Node::Text((*n).into()),
        _ => Node::Int(v.into()),
    }
}

// ---- reading ----

/// A map being read, with its path.
pub(crate) struct Obj<'a> {
    path: String,
    fields: &'a [(String, Node)],
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

impl<'a> Obj<'a> {
    fn of(node: &'a Node, path: &str) -> Result<Self, TreeError> {
        match node {
            Node::Map(fields) => Ok(Obj { path: path.to_string(), fields }),
            _ => Err(TreeError::WrongType { path: root(path), expected: "a map" }),
        }
    }
    fn at(&self, k: &str) -> String {
        join(&self.path, k)
    }
    fn has(&self, k: &str) -> bool {
        self.opt(k).is_some()
    }
    /// The field, None when absent or null.
    fn opt(&self, k: &str) -> Option<&'a Node> {
        self.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v).filter(|v| **v != Node::Null)
    }
    fn get(&self, k: &str) -> Result<&'a Node, TreeError> {
        self.opt(k).ok_or_else(|| TreeError::Missing { path: self.at(k) })
    }
    fn int<T: TryFrom<i128>>(&self, k: &str) -> Result<T, TreeError> {
        as_int(self.get(k)?, &self.at(k))
    }
    fn opt_int<T: TryFrom<i128>>(&self, k: &str) -> Result<Option<T>, TreeError> {
        self.opt(k).map(|n| as_int(n, &self.at(k))).transpose()
    }
    fn int_or<T: TryFrom<i128>>(&self, k: &str, default: T) -> Result<T, TreeError> {
        Ok(self.opt_int(k)?.unwrap_or(default))
    }
    fn bool(&self, k: &str) -> Result<bool, TreeError> {
        as_bool(self.get(k)?, &self.at(k))
    }
    fn opt_bool(&self, k: &str) -> Result<Option<bool>, TreeError> {
        self.opt(k).map(|n| as_bool(n, &self.at(k))).transpose()
    }
    fn text(&self, k: &str) -> Result<&'a str, TreeError> {
        as_text(self.get(k)?, &self.at(k))
    }
    fn bytes(&self, k: &str) -> Result<Vec<u8>, TreeError> {
        as_bytes(self.get(k)?, &self.at(k))
    }
    fn opt_bytes(&self, k: &str) -> Result<Option<Vec<u8>>, TreeError> {
        self.opt(k).map(|n| as_bytes(n, &self.at(k))).transpose()
    }
    fn obj(&self, k: &str) -> Result<Obj<'a>, TreeError> {
        Obj::of(self.get(k)?, &self.at(k))
    }
    fn data(&self, k: &str) -> Result<Data, TreeError> {
        data_from_tree(self.get(k)?, &self.at(k))
    }
    fn obis(&self, k: &str) -> Result<Obis, TreeError> {
        let n = self.get(k)?;
        match n {
            Node::Text(s) => Obis::parse(s).ok_or_else(|| TreeError::Unknown { path: self.at(k), value: s.clone() }),
            _ => Obis::from_octets(&as_bytes(n, &self.at(k))?).ok_or(TreeError::OutOfRange { path: self.at(k) }),
        }
    }
    /// A list field's items, each read by `f` with its path.
    fn list<T>(&self, k: &str, f: impl Fn(&'a Node, &str) -> Result<T, TreeError>) -> Result<Vec<T>, TreeError> {
        as_list(self.get(k)?, &self.at(k), f)
    }
    /// An enumeration: a name from `table` or a number.
    fn named(&self, k: &str, table: &[(u8, &str)]) -> Result<u8, TreeError> {
        as_named(self.get(k)?, &self.at(k), |s| table.iter().find(|(_, n)| *n == s).map(|(v, _)| *v))
    }
    /// An enumeration: a name from an indexed table or a number.
    fn indexed(&self, k: &str, table: &[&str]) -> Result<u8, TreeError> {
        as_named(self.get(k)?, &self.at(k), |s| index_of(table, s))
    }
    /// The only key of a one-field map (a CHOICE) and its value.
    fn choice(&self) -> Result<(&'a str, &'a Node), TreeError> {
        match self.fields {
            [(k, v)] => Ok((k, v)),
            _ => Err(TreeError::WrongType { path: root(&self.path), expected: "a map with one key (a CHOICE)" }),
        }
    }
}

fn root(path: &str) -> String {
    if path.is_empty() {
        "the APDU".into()
    } else {
        path.into()
    }
}

fn index_of(table: &[&str], s: &str) -> Option<u8> {
    table.iter().position(|n| !n.is_empty() && *n == s).and_then(|i| u8::try_from(i).ok())
}

pub(crate) fn as_int<T: TryFrom<i128>>(n: &Node, path: &str) -> Result<T, TreeError> {
    match n {
        Node::Int(v) => T::try_from(*v).map_err(|_| TreeError::OutOfRange { path: root(path) }),
        _ => Err(TreeError::WrongType { path: root(path), expected: "an integer" }),
    }
}

pub(crate) fn as_bool(n: &Node, path: &str) -> Result<bool, TreeError> {
    match n {
        Node::Bool(b) => Ok(*b),
        _ => Err(TreeError::WrongType { path: root(path), expected: "a boolean" }),
    }
}

pub(crate) fn as_text<'a>(n: &'a Node, path: &str) -> Result<&'a str, TreeError> {
    match n {
        Node::Text(s) => Ok(s),
        _ => Err(TreeError::WrongType { path: root(path), expected: "text" }),
    }
}

/// Octets: bytes, or hex text (spaces allowed).
pub(crate) fn as_bytes(n: &Node, path: &str) -> Result<Vec<u8>, TreeError> {
    match n {
        Node::Bytes(b) => Ok(b.clone()),
        Node::Text(s) => unhex(s).ok_or(TreeError::WrongType { path: root(path), expected: "hex text or bytes" }),
        _ => Err(TreeError::WrongType { path: root(path), expected: "hex text or bytes" }),
    }
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    let v = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    digits.chunks(2).map(|p| Some(v(p[0])? << 4 | v(p[1])?)).collect()
}

pub(crate) fn as_list<'a, T>(
    n: &'a Node,
    path: &str,
    f: impl Fn(&'a Node, &str) -> Result<T, TreeError>,
) -> Result<Vec<T>, TreeError> {
    match n {
        Node::List(items) => items.iter().enumerate().map(|(i, x)| f(x, &format!("{path}[{i}]"))).collect(),
        _ => Err(TreeError::WrongType { path: root(path), expected: "a list" }),
    }
}

fn as_named(n: &Node, path: &str, by_name: impl Fn(&str) -> Option<u8>) -> Result<u8, TreeError> {
    match n {
        Node::Text(s) => by_name(s).ok_or_else(|| TreeError::Unknown { path: root(path), value: s.clone() }),
        _ => as_int(n, path),
    }
}
