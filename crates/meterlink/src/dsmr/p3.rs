//! P2 → P3 (DSMR P2 Appendix A): how each received P2 telegram shows on the E-meter's DLMS side
//! for its channel x = 1–4: the M-Bus client setup object 0-x:24.1.0.255, the equipment
//! identifier 0-x:96.1.0.255, and the last value with its capture time (0-x:24.2.1.255 /
//! 0-x:24.3.0.255 capture objects) — as OBIS rows (the DLMS family's [`ObisRow`]) and as DSMR P1
//! text lines.
//!
//! Capture times: P2 carries UTC (§6.2.1 footnote 4). The OBIS rows give the capture time as
//! ISO 8601 UTC (`2009-06-18T11:00:00Z`). The P1 lines print the same UTC digits
//! (`YYMMDDhhmmss`), as the expected B1.3 line `0-1:24.2.1(090618110000S)(00000.391*m3)`
//! has them, followed by `S` when that instant falls in EU summer time (last Sunday of March
//! 01:00 UTC to last Sunday of October 01:00 UTC) or the type-I SU flag is set, else `W`:
//! footnote 4 has devices send the daylight-saving fields as 0, so the flag alone would always
//! say winter. A P1 consumer that reads the digits as local time is off by the UTC offset
//! (docs/decisions.md, "DSMR P2 / app layer").
//!
//! CONTRACT (lead-owned signatures; the app-layer worker implements the bodies and may add
//! items): [`ChannelView`], [`ClientSetup`], [`ChannelView::new`], [`ChannelView::update`],
//! [`ChannelView::obis_rows`], [`ChannelView::p1_lines`], [`p3_view`].

use std::borrow::Cow;

use super::app::{parse_data, P2Data, Reading, ReadingKind};
use super::app::eu_summer_time;
use super::control::{Medium, MessageKind};
use super::error::{Direction, DsmrError};
use super::message::{self, LinkAddress};
use super::short_id::ShortId;
use crate::address::Address;
use crate::crypto::Key;
use crate::keys::KeyLookup;
use crate::dlms::obis::{Obis, ObisRow, RowValue};

/// The M-Bus client setup attributes of Appendix A's header table (class 72).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSetup {
    /// Primary address (wired; 0 for wireless).
    pub primary_address: u8,
    /// Identification number (the Short ID's, decimal).
    pub identification_number: u32,
    /// Manufacturer code (M field).
    pub manufacturer_id: u16,
    /// Version (DSMR compliance level).
    pub version: u8,
    /// Device type.
    pub device_type: u8,
    /// Access number of the last telegram.
    pub access_number: u8,
    /// Status (from the `01 FD 17` record, Appendix A: not the header byte).
    pub status: u8,
}

/// The P3 view of one channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelView {
    /// Channel 1–4.
    pub channel: u8,
    /// 0-x:24.1.0.255.
    pub client_setup: ClientSetup,
    /// 0-x:96.1.0.255.
    pub equipment_id: Option<String>,
    /// The last reading and its capture time (Unix seconds UTC), 0-x:24.2.1.255.
    pub last: Option<(Reading, i64)>,
    /// The meter configuration mask (§6.4.8), captured too.
    pub config_mask: Option<u8>,
    /// The daylight-saving flag of the capture time, as the telegram tells it (P1 "S"/"W").
    pub summer_time: Option<bool>,
    /// Every reading of the last telegram that had any (thermal meters send up to three).
    pub readings: Vec<Reading>,
}

/// Class 72 (M-Bus client) attribute numbers of the Appendix A header table, in row order.
pub const CLIENT_SETUP_ATTRIBUTES: [(u8, &str); 7] = [
    (5, "primary_address"),
    (6, "identification_number"),
    (7, "manufacturer_id"),
    (8, "version"),
    (9, "device_type"),
    (10, "access_number"),
    (11, "status"),
];

/// One OBIS row with the COSEM class and attribute it stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeRow {
    /// COSEM interface class (72 M-Bus client, 1 data, 4 extended register).
    pub class_id: u16,
    /// Attribute number within the class.
    pub attribute: u8,
    /// The row (its `name` is the attribute's name).
    pub row: ObisRow,
}

fn obis(c: u8, d: u8, e: u8, channel: u8) -> Obis {
    Obis([0, channel, c, d, e, 255])
}

fn row(o: Obis, value: RowValue, name: &'static str) -> ObisRow {
    let mantissa = if let RowValue::Int(i) = value { Some(i) } else { None };
    ObisRow { obis: Some(o), value, mantissa, scaler: None, unit: None, name: Some(name) }
}

/// The reading to show as "the last value": the first converted gas reading, else the first
/// reading of the telegram (heat before cold before volume, as the device sent them).
fn pick(readings: &[Reading]) -> Option<&Reading> {
    readings.iter().find(|r| r.kind == ReadingKind::GasConverted).or(readings.first())
}

/// `raw × 10^scaler` as f64, divided once by an exact power of ten.
fn scaled(raw: i64, scaler: i8) -> f64 {
    let p = 10f64.powi(i32::from(scaler.unsigned_abs()));
    if scaler < 0 {
        raw as f64 / p
    } else {
        raw as f64 * p
    }
}

/// ISO 8601 UTC text of Unix seconds.
fn iso_utc(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

fn civil(t: i64) -> (i64, u8, u8, i64, i64, i64) {
    let (y, mo, d) = super::app::civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    (y, mo, d, s / 3600, s / 60 % 60, s % 60)
}

impl ChannelView {
    /// An empty view of `channel`.
    pub fn new(channel: u8) -> Self {
        ChannelView { channel, ..Default::default() }
    }

    /// Take one received telegram: its Short ID, access number, primary address (0 wireless)
    /// and named data blocks. Blocks absent from the telegram keep their last value; the
    /// last value moves only when the telegram has both a reading and a time stamp.
    pub fn update(&mut self, short_id: &ShortId, access_number: u8, primary_address: u8, data: &P2Data) {
        let a = &short_id.0;
        let cs = &mut self.client_setup;
        cs.primary_address = primary_address;
        // A non-BCD identification number (not DSMR) is shown as its four bytes, LE.
        cs.identification_number = short_id.id_number().unwrap_or(u32::from_le_bytes(a.id));
        (cs.manufacturer_id, cs.version, cs.device_type, cs.access_number) =
            (a.manufacturer, a.version, a.device_type, access_number);
        if let Some(s) = data.status {
            cs.status = s;
        }
        if data.equipment_id.is_some() {
            self.equipment_id.clone_from(&data.equipment_id);
        }
        if data.config_mask.is_some() {
            self.config_mask = data.config_mask;
        }
        if !data.readings.is_empty() {
            self.readings.clone_from(&data.readings);
        }
        if let (Some(r), Some(t)) = (pick(&data.readings), data.timestamp) {
            self.last = Some((r.clone(), t));
            self.summer_time = Some(data.timestamp_summer == Some(true) || eu_summer_time(t));
        }
    }

    /// The view as OBIS rows with their COSEM class and attribute: the 0-x:24.1.0.255
    /// attributes of Appendix A, 0-x:96.1.0.255, and 0-x:24.2.1.255 value (scaler, unit) and
    /// capture time (ISO 8601 UTC).
    pub fn attribute_rows(&self) -> Vec<AttributeRow> {
        let x = self.channel;
        let cs = &self.client_setup;
        let setup = [
            cs.primary_address.into(),
            cs.identification_number.into(),
            cs.manufacturer_id.into(),
            cs.version.into(),
            cs.device_type.into(),
            cs.access_number.into(),
            cs.status.into(),
        ];
        let mut out: Vec<AttributeRow> = CLIENT_SETUP_ATTRIBUTES
            .iter()
            .zip(setup)
            .map(|(&(attribute, name), v): (&(u8, &'static str), i64)| AttributeRow {
                class_id: 72,
                attribute,
                row: row(obis(24, 1, 0, x), RowValue::Int(v), name),
            })
            .collect();
        if let Some(id) = &self.equipment_id {
            let r = row(obis(96, 1, 0, x), RowValue::Text(id.clone()), "equipment_identifier");
            out.push(AttributeRow { class_id: 1, attribute: 2, row: r });
        }
        if let Some((r, t)) = &self.last {
            out.push(AttributeRow { class_id: 4, attribute: 2, row: value_row(x, r) });
            let c = row(obis(24, 2, 1, x), RowValue::Text(iso_utc(*t)), "capture_time");
            out.push(AttributeRow { class_id: 4, attribute: 5, row: c });
        }
        out
    }

    /// The view as OBIS rows (`0-x:24.1.0.255` attributes, `0-x:96.1.0.255`,
    /// `0-x:24.2.1.255` value with scaler/unit, its capture time); see
    /// [`ChannelView::attribute_rows`] for the attribute of each.
    pub fn obis_rows(&self) -> Vec<ObisRow> {
        self.attribute_rows().into_iter().map(|a| a.row).collect()
    }

    /// The view as DSMR P1 lines: `0-x:24.1.0(003)` (device type), `0-x:96.1.0(<equipment
    /// identifier, hex of its ASCII>)`, `0-x:24.2.1(YYMMDDhhmmssX)(value*unit)` (see the
    /// module note on the time; Wh are given as kWh as P1 does).
    pub fn p1_lines(&self) -> Vec<String> {
        let x = self.channel;
        let mut out = vec![format!("0-{x}:24.1.0({:03})", self.client_setup.device_type)];
        if let Some(id) = &self.equipment_id {
            let h: String = id.bytes().map(|b| format!("{b:02X}")).collect();
            out.push(format!("0-{x}:96.1.0({h})"));
        }
        if let Some((r, t)) = &self.last {
            let (y, mo, d, h, mi, s) = civil(*t);
            let sw = if self.summer_time == Some(true) { 'S' } else { 'W' };
            let yy = y.rem_euclid(100);
            out.push(format!("0-{x}:24.2.1({yy:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}{sw})({})", p1_value(r)));
        }
        out
    }
}

fn value_row(x: u8, r: &Reading) -> ObisRow {
    ObisRow {
        obis: Some(obis(24, 2, 1, x)),
        value: RowValue::Float(scaled(r.raw, r.scaler)),
        mantissa: Some(r.raw),
        scaler: Some(r.scaler),
        unit: Some(Cow::Borrowed(r.unit)),
        name: Some("value"),
    }
}

/// `value*unit` in the P1 form: 8 digits with the reading's decimals (F8(3) for G4-G6
/// `00000.391*m3`, F8(2) for G10-G25); Wh become kWh (three more decimals).
fn p1_value(r: &Reading) -> String {
    let (scaler, unit) = if r.unit == "Wh" { (r.scaler - 3, "kWh") } else { (r.scaler, r.unit) };
    let dec = usize::from((-scaler).max(0).unsigned_abs());
    let mag = i128::from(r.raw.unsigned_abs()) * 10i128.pow(u32::from(scaler.max(0).unsigned_abs()));
    let digits = format!("{mag:0w$}", w = 8.max(dec + 1));
    let (int, frac) = digits.split_at(digits.len() - dec);
    let sign = if r.raw < 0 { "-" } else { "" };
    match dec {
        0 => format!("{sign}{int}*{unit}"),
        _ => format!("{sign}{int}.{frac}*{unit}"),
    }
}

/// The device identity a telegram's IV uses (§5.2) and its Short ID: the long header's
/// (wired CI 72h) or the link address (wireless, short header).
fn identity(m: &message::Message) -> Result<(ShortId, u8), DsmrError> {
    let hdr = m.header.ok_or(DsmrError::Header { offset: m.payload_offset })?;
    match (hdr.short_id, m.link) {
        (Some(s), LinkAddress::Primary(a)) => Ok((s, a)),
        (Some(s), LinkAddress::Radio(_)) => Ok((s, 0)),
        (None, LinkAddress::Radio(addr)) => Ok((ShortId(addr), 0)),
        (None, LinkAddress::Primary(_)) => Err(DsmrError::Header { offset: m.payload_offset }),
    }
}

/// The P3 view of a single P2 telegram (wired RSP_UD or wireless SND_NR/RSP_UD/SND_IR, method 0
/// or 15 with `key`) on `channel`.
pub fn p3_view(frame: &[u8], channel: u8, key: Option<&Key>) -> Result<ChannelView, DsmrError> {
    p3_view_with_iv(frame, channel, key, None)
}

/// [`p3_view`] with the IV's version byte given instead of taken from the header: the
/// Appendix B1.3 telegram says 42h in its header but its ciphertext was made with 40h (the IV
/// printed in the Appendix B preamble; `mode15` module doc). `None` follows §5.2.
pub fn p3_view_with_iv(frame: &[u8], channel: u8, key: Option<&Key>, iv_version: Option<u8>) -> Result<ChannelView, DsmrError> {
    view(frame, channel, |_| key.copied(), iv_version)
}

/// [`p3_view_with_iv`] with the key looked up by the device's manufacturer and identification
/// number (the Short ID) in `keys` (e.g. a [`crate::keys::KeyStore`]).
pub fn p3_view_with_keys(frame: &[u8], channel: u8, keys: &dyn KeyLookup, iv_version: Option<u8>) -> Result<ChannelView, DsmrError> {
    view(frame, channel, |s| keys.key_for(s.0.manufacturer, s.0.id).and_then(|k| k.aes().copied()), iv_version)
}

/// Medium by the first byte (68h: wired long frame, else a wireless L field), §4.1 check,
/// decryption with the device identity (§5.2), §6.4 blocks, a fresh view.
fn view(frame: &[u8], channel: u8, key_for: impl Fn(&ShortId) -> Option<Key>, iv_version: Option<u8>) -> Result<ChannelView, DsmrError> {
    let medium = if frame.first() == Some(&0x68) { Medium::Wired } else { Medium::Wireless };
    let m = message::parse(medium, Direction::FromDevice, frame)?;
    if !matches!(m.kind, MessageKind::MeterData | MessageKind::PeriodicData | MessageKind::Installation) {
        return Err(DsmrError::Application { reason: format!("{:?} carries no meter data", m.kind), offset: 0 });
    }
    let (sid, primary) = identity(&m)?;
    let a = sid.0;
    let dev = Address::new(a.manufacturer, a.id, iv_version.unwrap_or(a.version), a.device_type);
    let key = if m.encrypted() { key_for(&sid) } else { None };
    let (clear, _) = m.open(key.as_ref(), &dev)?;
    let data = parse_data(a.device_type, &clear).map_err(|e| e.rebased(m.payload_offset))?;
    let mut v = ChannelView::new(channel);
    v.update(&sid, m.header.map_or(0, |h| h.acc), primary, &data);
    Ok(v)
}
