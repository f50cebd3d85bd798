//! Reception → rows (issue 15 §2): M-Bus, wM-Bus and DSMR P2 (mode 15) through
//! `meterlink::decode_into` with the key store, DLMS/COSEM through `meterlink::dlms::decode`
//! with the store's keys by system title. A failure is a [`RejectedRow`] with the error's
//! stable code, message and offset (docs/errors.md) — never dropped.
//!
//! An encrypted telegram without a key is rejected (`no_key`, as `strict = true` would raise
//! it), so that it is stored as a telegram once its key arrives, not kept as a header. The
//! decoder itself runs with `strict = false`, because `strict` also demands link-layer CRCs,
//! which many receivers strip.

use std::sync::Arc;

use meterlink::dlms;
use meterlink::keys::KeyStore;
use meterlink::mbus::decode::{record_quantity, FrameKind, LinkInfo};
use meterlink::mbus::link::wmbus::{strip_crcs_a, strip_crcs_b, FrameFormat};
use meterlink::mbus::records::{Record, Value};
use meterlink::mbus::tpl::{id_to_string, manufacturer_to_str};
use meterlink::{DecodeOptions, LinkMode, Telegram};

use crate::reception::{LinkCrc, Protocol, Reception};
use crate::store::schema::{counter_key, frame_hash};
use crate::store::{ReadingRow, RejectedRow, TelegramRow};

/// How a telegram is deduplicated: by its exact counter key, or by its frame hash (the
/// pipeline adds the time bucket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// `(meter, key id, counter)` as a dedup key.
    Counter([u8; 16]),
    /// Hash of the CRC-stripped frame.
    Frame([u8; 11]),
}

/// A decoded telegram; `dedup_key` fields are zero until the pipeline sets them.
#[derive(Debug)]
pub struct Decoded {
    /// How to dedup it.
    pub identity: Identity,
    /// Its row.
    pub telegram: TelegramRow,
    /// Its records.
    pub readings: Vec<ReadingRow>,
}

/// Decodes receptions, reusing one `Telegram`'s buffers.
pub struct Decoder {
    worker: Arc<str>,
    tg: Telegram,
}

impl Decoder {
    /// A decoder for rows stored by `worker`.
    pub fn new(worker: Arc<str>) -> Self {
        Decoder { worker, tg: Telegram::new(LinkInfo::Wired { c: 0, a: 0, kind: FrameKind::SingleCharacter }) }
    }

    /// Decode one reception with `keys`.
    pub fn decode(&mut self, rx: &Reception, keys: &KeyStore) -> Result<Decoded, Box<RejectedRow>> {
        match rx.protocol {
            Protocol::Mbus => self.decode_mbus(rx, keys),
            Protocol::Dlms => self.decode_dlms(rx, keys),
        }
    }

    fn decode_mbus(&mut self, rx: &Reception, keys: &KeyStore) -> Result<Decoded, Box<RejectedRow>> {
        let opts = DecodeOptions {
            link: match rx.link_crc {
                LinkCrc::Stripped => LinkMode::WirelessNoCrc,
                LinkCrc::Present | LinkCrc::Auto => LinkMode::Auto,
            },
            require_link_crc: rx.link_crc == LinkCrc::Present,
            ..DecodeOptions::default()
        };
        let tg = &mut self.tg;
        if let Err(e) = meterlink::decode_into(&rx.frame, &opts, keys, tg) {
            return Err(rejected(rx, e.code(), e.to_string(), e.position(), None));
        }
        let meter = tg.address.map(|a| meter_text(a.manufacturer, a.id));
        if tg.is_opaque() {
            let reason = "no_key: encrypted and no key is known for the meter".to_string();
            return Err(rejected(rx, "no_key", reason, None, meter));
        }
        let Some(address) = tg.address else {
            return Err(rejected(rx, "service_no_meter", "the telegram names no meter (no address)".into(), None, None));
        };
        let subject = meterlink::replay::replay_subject(tg);
        let identity = match subject {
            Some((_, c)) => {
                let m = address.manufacturer.to_le_bytes();
                let id = [m[0], m[1], address.id[0], address.id[1], address.id[2], address.id[3], address.version, address.device_type, 0];
                Identity::Counter(counter_key(id, tg.counters().key_id, c))
            }
            None => Identity::Frame(frame_hash(&stripped(tg, &rx.frame))),
        };
        let telegram = TelegramRow {
            dedup_key: [0; 16],
            meter: meter.unwrap_or_default(),
            device_type: Some(address.device_type),
            key_id: tg.counters().key_id,
            counter: subject.map(|s| s.1),
            access_number: tg.access_number(),
            status: tg.status(),
            integrity: tg.integrity().as_str(),
            protocol: if tg.protection.mode == Some(15) { "dsmr" } else { "mbus" },
            received_at_ms: rx.received_at_ms,
            frame: rx.frame.clone(),
            worker: self.worker.clone(),
        };
        Ok(Decoded { identity, telegram, readings: mbus_readings(tg) })
    }

    fn decode_dlms(&mut self, rx: &Reception, keys: &KeyStore) -> Result<Decoded, Box<RejectedRow>> {
        let k = match keys.dlms_entries() {
            [] => dlms::decode::Keys::None,
            e => dlms::decode::Keys::ByTitle(e.to_vec()),
        };
        let opts = dlms::decode::DecodeOptions { strict: true, ..Default::default() };
        let msg = dlms::decode::decode(&rx.frame, &k, &opts).map_err(|e| rejected(rx, e.code(), e.to_string(), e.position(), None))?;
        let meter = msg.system_title.map(|t| meterlink::hex::to_hex_lower(&t).to_ascii_uppercase()).unwrap_or_else(|| "dlms".into());
        let readings = msg.rows.iter().enumerate().map(|(i, r)| dlms_reading(i, r)).collect();
        let (identity, key_id, counter) = dlms_identity(&msg, &rx.frame);
        let telegram = TelegramRow {
            dedup_key: [0; 16],
            meter,
            device_type: None,
            key_id,
            counter,
            access_number: None,
            status: None,
            integrity: if msg.plaintext.is_some() { "aead" } else { "none" },
            protocol: "dlms",
            received_at_ms: rx.received_at_ms,
            frame: rx.frame.clone(),
            worker: self.worker.clone(),
        };
        Ok(Decoded { identity, telegram, readings })
    }
}

/// The replay subject of a DLMS message (DLMS UA Green Book 9.2.7.2.4, as `meterlink::replay`
/// cites it: the invocation counter of a key must increase with every APDU): a deciphered
/// APDU with a system title is keyed `01 ‖ system title ‖ 01 ‖ key id ‖ invocation counter`, key
/// id = the key kind (0 global unicast, 1 global broadcast, 2 dedicated, 3 wrapped, 4 agreed;
/// `meterlink::replay::DlmsSubject`), so the store rejects a replayed counter as for M-Bus.
/// Clear messages and ones no key deciphered keep the frame-hash key (their counter is not
/// verified). Returns (identity, key id, counter).
fn dlms_identity(msg: &dlms::decode::Message, frame: &[u8]) -> (Identity, u8, Option<u32>) {
    match (msg.ciphered(), msg.system_title, msg.decrypted()) {
        (Some(c), Some(title), true) => {
            let kind = dlms::security::KeyKind::of(c);
            let key_id = dlms_key_id(kind);
            let mut id = [1u8; 9];
            id[..8].copy_from_slice(&title);
            (Identity::Counter(counter_key(id, key_id, c.invocation_counter)), key_id, Some(c.invocation_counter))
        }
        _ => (Identity::Frame(frame_hash(frame)), 0, None),
    }
}

/// The `key_id` column of a DLMS key kind.
fn dlms_key_id(kind: dlms::security::KeyKind) -> u8 {
    use dlms::security::KeyKind::*;
    match kind {
        GlobalUnicast => 0,
        GlobalBroadcast => 1,
        Dedicated => 2,
        Wrapped => 3,
        Agreed => 4,
    }
}

/// `KAM12345678`: manufacturer letters and the ID as printed.
fn meter_text(manufacturer: u16, id: [u8; 4]) -> String {
    let m = manufacturer_to_str(manufacturer);
    let mut s = String::with_capacity(11);
    s.push_str(std::str::from_utf8(&m).unwrap_or("???"));
    s.push_str(&id_to_string(id));
    s
}

/// The frame without its DLL CRCs (format A/B), as the dedup hash needs (issue 15 §2).
fn stripped<'a>(tg: &Telegram, frame: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
    let r = match tg.link {
        LinkInfo::Wireless { format: FrameFormat::A, trailing, .. } => strip_crcs_a(&frame[..frame.len() - trailing]),
        LinkInfo::Wireless { format: FrameFormat::B, trailing, .. } => strip_crcs_b(&frame[..frame.len() - trailing]),
        _ => return frame.into(),
    };
    r.map_or(frame.into(), Into::into)
}

/// A rejected reception.
pub fn rejected(rx: &Reception, code: &'static str, reason: String, offset: Option<usize>, meter: Option<String>) -> Box<RejectedRow> {
    Box::new(RejectedRow {
        received_at_ms: rx.received_at_ms,
        gateway: rx.gateway.clone(),
        intake: rx.intake.clone(),
        code,
        reason,
        offset: offset.map(|o| o as u32),
        meter,
        frame: rx.frame.clone(),
    })
}

/// One row per record; `time_ms` is the telegram's first complete date-time record, read as
/// UTC (M-Bus dates carry no zone).
fn mbus_readings(tg: &Telegram) -> Vec<ReadingRow> {
    let time_ms = tg.records.iter().find_map(|r| r.value.as_datetime().and_then(unix_ms));
    tg.records.iter().enumerate().map(|(i, r)| mbus_reading(tg, i, r, time_ms)).collect()
}

fn mbus_reading(tg: &Telegram, i: usize, r: &Record, time_ms: Option<i64>) -> ReadingRow {
    let text = match &r.value {
        Value::DateTime(d) => d.to_iso(),
        Value::Text(t) => Some(t.to_string()),
        Value::Bytes(s) | Value::InvalidBcd(s) => Some(meterlink::hex::to_hex_lower(s.get(&tg.payload))),
        _ => None,
    };
    let unit = r.vif.plain_text_unit.as_deref().or(r.vif.unit.as_str()).map(str::to_string);
    ReadingRow {
        dedup_key: [0; 16],
        idx: i as u16,
        quantity: record_quantity(r).to_string(),
        unit,
        value: r.value.as_f64(),
        text,
        storage: r.storage,
        tariff: r.tariff,
        subunit: r.subunit,
        function: r.function.as_str(),
        time_ms: r.value.as_datetime().and_then(unix_ms).or(time_ms),
    }
}

fn dlms_reading(i: usize, r: &dlms::ObisRow) -> ReadingRow {
    let (value, text) = match &r.value {
        dlms::RowValue::Int(v) => (Some(*v as f64), None),
        dlms::RowValue::Float(v) => (Some(*v), None),
        dlms::RowValue::Text(t) => (None, Some(t.clone())),
        dlms::RowValue::Bytes(b) => (None, Some(meterlink::hex::to_hex_lower(b))),
        dlms::RowValue::None => (None, None),
    };
    ReadingRow {
        dedup_key: [0; 16],
        idx: i as u16,
        quantity: r.obis.map_or_else(|| r.name.unwrap_or("?").to_string(), |o| o.to_string()),
        unit: r.unit.as_deref().map(str::to_string),
        value,
        text,
        storage: 0,
        tariff: 0,
        subunit: 0,
        function: "instantaneous",
        time_ms: None,
    }
}

/// A complete, valid M-Bus date (and time) as Unix ms, the fields read as UTC.
fn unix_ms(d: &meterlink::mbus::records::DateTimeValue) -> Option<i64> {
    if d.invalid {
        return None;
    }
    let (y, m, day) = (i64::from(d.year?), i64::from(d.month?), i64::from(d.day?));
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let days = meterlink::civil::days_from_civil(y, m as u8, day as u8);
    let secs = i64::from(d.hour.unwrap_or(0)) * 3600 + i64::from(d.minute.unwrap_or(0)) * 60 + i64::from(d.second.unwrap_or(0));
    Some((days * 86_400 + secs) * 1000)
}
