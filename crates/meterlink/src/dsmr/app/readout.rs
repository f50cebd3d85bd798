//! The readout list (§6.3): the records a device sends for REQ_UD2 / SND_NR, by default for
//! its device type or as selected by the E-meter (§6.3.1).
//!
//! Default list (§6.3, in the order of the Appendix B1.3 telegram): status `01 FD 17`,
//! equipment identifier `0D 78`, time stamp `46 6D`, the hourly readings, configuration
//! `01 FD 67`. The time stamp is type I with day of week 0: §6.4.3 names only
//! "yy.mm.dd hh:mm:ss", and B1.3 (a Thursday) sends 0 there — unlike the §6.2.1 set-time
//! command, whose footnote 4 fills the day of week.

use super::time::encode_type_i;
use super::{DeviceValues, Reading, ReadingKind};
use crate::mbus::records::{encode_record, Function, RecordValue};

/// One record: DIB from storage/subunit and the coding, the VIB as given.
fn record(out: &mut Vec<u8>, storage: u64, subunit: u16, vib: &[u8], v: RecordValue) {
    // The VIBs and values written here are all valid codings (fixed tables, 8-digit BCD of
    // an i64 clamped below, texts of at most 0xBF bytes): an encoder error cannot happen, but
    // is dropped rather than panicking.
    if let Ok(r) = encode_record(storage, 0, subunit, Function::Instantaneous, vib, &v) {
        out.extend_from_slice(&r);
    }
}

fn text(out: &mut Vec<u8>, vib: &[u8], t: &str) {
    let t: String = t.chars().filter(|c| u32::from(*c) < 0x100).take(0xBF).collect();
    record(out, 0, 0, vib, RecordValue::Text(t));
}

fn status(out: &mut Vec<u8>, v: &DeviceValues) {
    record(out, 0, 0, &[0xFD, 0x17], RecordValue::Int { value: i64::from(v.status as i8), size: 1 });
}

fn config(out: &mut Vec<u8>, v: &DeviceValues) {
    record(out, 0, 0, &[0xFD, 0x67], RecordValue::Int { value: i64::from(v.config_mask as i8), size: 1 });
}

fn timestamp(out: &mut Vec<u8>, v: &DeviceValues) {
    let b = encode_type_i(v.timestamp, false);
    let n = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0]);
    record(out, 1, 0, &[0x6D], RecordValue::Int { value: n as i64, size: 6 });
}

/// A reading as its §6.4 block: 8-digit BCD, storage as given, cold with DIFE 40h (subunit 1).
fn reading(out: &mut Vec<u8>, r: &Reading) {
    let subunit = u16::from(r.kind == ReadingKind::Cold);
    let raw = r.raw.clamp(-9_999_999, 99_999_999);
    record(out, r.storage, subunit, &r.vib, RecordValue::Bcd { value: raw, digits: 8 });
}

fn valve(out: &mut Vec<u8>, v: u8) {
    // §9.1: DIF 89h (2-digit BCD, DIFE follows), DIFE 40h, FD 1A, the mask byte as sent.
    out.extend_from_slice(&[0x89, 0x40, 0xFD, 0x1A, v]);
}

/// The default list of §6.3.
fn default_list(v: &DeviceValues, out: &mut Vec<u8>) {
    status(out, v);
    text(out, &[0x78], &v.equipment_id);
    timestamp(out, v);
    for r in &v.readings {
        reading(out, r);
    }
    config(out, v);
    if let Some(m) = v.valve {
        valve(out, m);
    }
}

/// One selected item (§6.3.1: "the answer data field is determined by the slave"); items the
/// device does not have are left out.
fn selected(v: &DeviceValues, vib: &[u8], out: &mut Vec<u8>) {
    match vib {
        [0xFD, 0x17] => status(out, v),
        [0xFD, 0x67] => config(out, v),
        [0x78] => text(out, vib, &v.equipment_id),
        [0x6D] => timestamp(out, v),
        [0xFD, 0x1A] => v.valve.into_iter().for_each(|m| valve(out, m)),
        [0xFD, x @ 0x0C..=0x0F] => {
            v.versions.iter().filter(|(k, _)| k == x).for_each(|(_, t)| text(out, vib, t));
        }
        _ => v.readings.iter().filter(|r| r.vib == vib).for_each(|r| reading(out, r)),
    }
}

/// See [`super::readout_records`].
pub(crate) fn records(values: &DeviceValues, selection: Option<&[Vec<u8>]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match selection {
        None => default_list(values, &mut out),
        Some(items) => items.iter().for_each(|vib| selected(values, vib, &mut out)),
    }
    out
}
