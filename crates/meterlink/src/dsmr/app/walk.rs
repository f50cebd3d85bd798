//! The record walk shared by the command and data parsers: EN 13757-3 records
//! ([`crate::mbus::records::parse_records`], 2F fillers skipped) as byte slices, so the §6
//! blocks can be matched by their exact DIB and VIB.

use super::super::error::DsmrError;
use crate::mbus::records::{parse_records, Record, RecordKind};

/// One record as sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawRecord<'a> {
    /// DIF + DIFEs.
    pub dib: &'a [u8],
    /// VIF + VIFEs (empty for manufacturer data / global readout).
    pub vib: &'a [u8],
    /// The data field as sent, the LVAR byte included.
    pub data: &'a [u8],
    /// The value bytes (the data field without its LVAR byte).
    pub value: &'a [u8],
    /// Offset of the DIF in the walked buffer.
    pub offset: usize,
}

impl RawRecord<'_> {
    /// DIB and VIB as hex (`"4C13"`).
    pub fn head_hex(&self) -> String {
        let mut s = hex(self.dib);
        s.push_str(&hex(self.vib));
        s
    }

    /// An LVAR text (LVAR 00h–BFh), turned into reading order (sent last character first).
    pub fn text(&self) -> Option<String> {
        let (&l, t) = self.data.split_first()?;
        (self.dib.first().is_some_and(|d| d & 0x0F == 0x0D) && l < 0xC0)
            .then(|| t.iter().rev().map(|&c| char::from(c)).collect())
    }
}

/// Upper-case hex of `b`.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// All records of a buffer.
pub(crate) struct RecordWalk<'a> {
    /// The records in order.
    pub records: Vec<RawRecord<'a>>,
}

impl<'a> RecordWalk<'a> {
    /// Walk `data`; a malformed record is `dsmr_application` at its offset.
    pub fn new(data: &'a [u8]) -> Result<Self, DsmrError> {
        let mut recs: Vec<Record> = Vec::new();
        parse_records(data, false, &mut recs)
            .map_err(|e| DsmrError::Application { reason: e.to_string(), offset: e.offset() })?;
        let records = recs.iter().map(|r| raw(data, r)).collect();
        Ok(RecordWalk { records })
    }
}

fn raw<'a>(data: &'a [u8], r: &Record) -> RawRecord<'a> {
    let d = r.data.get(data);
    let lvar = r.kind == RecordKind::Data && r.dib.get(data).first().is_some_and(|x| x & 0x0F == 0x0D);
    RawRecord {
        dib: r.dib.get(data),
        vib: r.vib.get(data),
        data: d,
        value: if lvar && !d.is_empty() { &d[1..] } else { d },
        offset: r.dib.start as usize,
    }
}
