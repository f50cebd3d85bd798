//! The variable data blocks of §6.4 (and the DSMR 4.0 valve block of §9.1), named.
//!
//! ```text
//! 0D 78 LVAR text          equipment identifier        §6.4.1
//! 0D FD 0C..0F LVAR text   version texts               §6.4.2
//! 46 6D type I             time stamp (storage 1)      §6.4.3
//! 4C 13 / 4C 14 BCD8       gas converted G4-G6/G10-25  §6.4.4 (0C: actual value)
//! 4C 93 3A / 4C 94 3A      gas unconverted             Appendix A
//! 4C 0F / CC 40 0F         heat / cold energy          §6.4.5 (any energy VIF 00-0F)
//! 4C 13                    thermal volume / water      §6.4.5, §6.4.6 (by device type)
//! 4C 03                    slave E-meter energy        §6.4.7
//! 01 FD 17 / 01 FD 67      status / configuration mask §6.3.3, §6.4.8
//! 89 40 FD 1A              valve status (DSMR 4.0)     §9.1
//! ```

use super::super::error::DsmrError;
use super::super::short_id::device_type as dt;
use super::time::decode_type_i;
use super::walk::{hex, RawRecord, RecordWalk};
use super::{P2Data, Reading, ReadingKind};

/// Whether a device type is a thermal meter (heat, cooling, heat/cooling: EN 13757-3 Table 3).
pub fn is_thermal(device_type: u8) -> bool {
    matches!(device_type, dt::HEAT | 0x0A | 0x0B | 0x0C | dt::HEAT_COOLING)
}

/// Whether a device type is a water meter (water, warm, hot, cold water).
pub fn is_water(device_type: u8) -> bool {
    matches!(device_type, dt::WATER | 0x06 | 0x15 | 0x16)
}

/// Decimal scaler and unit of an energy VIF (EN 13757-3 Table 10: 0000 0nnn Wh × 10^(n−3),
/// 0000 1nnn J × 10^n, given in GJ).
fn energy(vif: u8) -> Option<(i8, &'static str)> {
    match vif {
        0x00..=0x07 => Some((vif as i8 - 3, "Wh")),
        0x08..=0x0F => Some(((vif & 7) as i8 - 9, "GJ")),
        _ => None,
    }
}

/// Volume VIF 0001 0nnn (extension bit ignored): m³ × 10^(n−6).
fn volume_scaler(vif: u8) -> i8 {
    (vif & 7) as i8 - 6
}

/// The reading kind, scaler and unit of a BCD-8 record's DIB storage-free head and VIB.
fn reading_kind(device_type: u8, cold: bool, vib: &[u8]) -> Option<(ReadingKind, i8, &'static str)> {
    use ReadingKind as K;
    let gas = device_type == dt::GAS;
    match vib {
        [0x13] | [0x14] if gas && !cold => Some((K::GasConverted, volume_scaler(vib[0]), "m3")),
        [0x93, 0x3A] | [0x94, 0x3A] if gas && !cold => Some((K::GasUnconverted, volume_scaler(vib[0]), "m3")),
        [0x10..=0x17] if is_water(device_type) && !cold => Some((K::Water, volume_scaler(vib[0]), "m3")),
        [0x10..=0x17] if is_thermal(device_type) && !cold => Some((K::ThermalVolume, volume_scaler(vib[0]), "m3")),
        [v @ 0x00..=0x0F] if is_thermal(device_type) => {
            energy(*v).map(|(s, u)| (if cold { K::Cold } else { K::Heat }, s, u))
        }
        [v @ 0x00..=0x07] if device_type == dt::ELECTRICITY && !cold => {
            energy(*v).map(|(s, u)| (K::Electricity, s, u))
        }
        _ => None,
    }
}

/// A §6.4.4–§6.4.7 reading: DIF x4 or x0C (8-digit BCD, storage 0 or 1 in bit 6) with no DIFE
/// (or, for cold, DIFE 40h: subunit 1), a valid BCD value.
fn reading(device_type: u8, r: &RawRecord) -> Option<Reading> {
    let (dif, cold) = match r.dib {
        [d] if d & 0xBF == 0x0C => (*d, false),
        [d, 0x40] if d & 0xBF == 0x8C => (*d, true),
        _ => return None,
    };
    let (kind, scaler, unit) = reading_kind(device_type, cold, r.vib)?;
    let raw = bcd8(r.value)?;
    Some(Reading { kind, raw, scaler, unit, storage: u64::from(dif >> 6 & 1), vib: r.vib.to_vec() })
}

/// 8 BCD digits, LSB first; a top nibble Fh is the minus sign (EN 13757-3 Annex A type A).
fn bcd8(b: &[u8]) -> Option<i64> {
    let mut v = 0i64;
    let mut neg = false;
    for (i, &x) in b.iter().enumerate().rev() {
        let (hi, lo) = (x >> 4, x & 0x0F);
        if i == b.len() - 1 && hi == 0x0F {
            neg = true;
        } else if hi > 9 {
            return None;
        } else {
            v = v * 10 + i64::from(hi);
        }
        if lo > 9 {
            return None;
        }
        v = v * 10 + i64::from(lo);
    }
    Some(if neg { -v } else { v })
}

/// Name one record into `out`; false if it is none of the §6.4 blocks.
fn name_block(device_type: u8, r: &RawRecord, out: &mut P2Data) -> bool {
    match (r.dib, r.vib) {
        ([0x0D], [0x78]) => out.equipment_id = r.text(),
        ([0x0D], [0xFD, v @ 0x0C..=0x0F]) => match r.text() {
            Some(t) => out.versions.push((*v, t)),
            None => return false,
        },
        ([0x01], [0xFD, 0x17]) => out.status = Some(r.value[0]),
        ([0x01], [0xFD, 0x67]) => out.config_mask = Some(r.value[0]),
        ([0x46], [0x6D]) => match decode_type_i(r.value.try_into().expect("6 bytes")) {
            Some((t, su)) => (out.timestamp, out.timestamp_summer) = (Some(t), Some(su)),
            None => return false,
        },
        ([0x89, 0x40], [0xFD, 0x1A]) => out.valve = Some(r.value[0]),
        _ => match reading(device_type, r) {
            Some(x) => out.readings.push(x),
            None => return false,
        },
    }
    true
}

/// See [`super::parse_data`].
pub(crate) fn parse(device_type: u8, data: &[u8]) -> Result<P2Data, DsmrError> {
    let walk = RecordWalk::new(data)?;
    let mut out = P2Data::default();
    for r in &walk.records {
        if !name_block(device_type, r, &mut out) {
            out.other.push((r.head_hex(), hex(r.data)));
        }
    }
    Ok(out)
}
