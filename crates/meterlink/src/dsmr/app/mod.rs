//! The application layer of DSMR P2 (§6): commands (§6.2), the readout list (§6.3), the
//! variable data blocks (§6.4) and the key transport records (§6.5), as typed values with their
//! record encodings. Both engines and [`crate::dsmr::p3`] build on this; nothing here knows
//! about frames, keys or state.
//!
//! CONTRACT (lead-owned signatures; the app-layer worker implements the bodies and may add
//! items): [`Command`], [`encode_commands`], [`parse_commands`], [`DeviceValues`],
//! [`readout_records`], [`P2Data`], [`Reading`], [`ReadingKind`], [`parse_data`],
//! [`type_i`], [`from_type_i`].

mod blocks;
mod commands;
mod readout;
mod time;
mod walk;

pub use blocks::{is_thermal, is_water};
pub use commands::{TC_SET_TIME, VIB_CLEAR_STATUS, VIB_KEY};
pub use time::eu_summer_time;
pub(crate) use time::civil_from_days;

use super::error::DsmrError;
use walk::RecordWalk;

/// A command from the E-meter to an M-Bus device (§6.2, §6.3.1, §6.5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// §6.2.1: set date and time (CI 6Ch): `TC=00 ‖ Type I (UTC) ‖ 00 00 00`. Unix seconds, UTC.
    SetTime(i64),
    /// §6.2.2: set the primary address (wired; CI 51h, always in clear): `01 7A A`.
    SetAddress(u8),
    /// §6.2.3: clear the status bits in the mask: `01 FD 97 06 mask` (spec mask 73h).
    ClearStatus(u8),
    /// §6.5.1: a new user key, encrypted with the default key (AES-128-ECB), carried as
    /// `07 FD 19 <low 8 bytes, LSB first> 47 FD 19 <high 8 bytes, LSB first>`.
    SetKey([u8; 16]),
    /// §6.3.1: change the readout list: one `08 <VIB>` record ("selection for readout",
    /// data field 1000b) per VIB given (e.g. `[0xFD, 0x0D]`).
    SelectReadout(Vec<Vec<u8>>),
}

/// The records of `commands`, in order (no 2F fillers: the message layer adds them).
pub fn encode_commands(commands: &[Command]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24);
    for c in commands {
        commands::encode_one(c, &mut out);
    }
    out
}

/// Parse the clear application data of an E-meter → device message into commands. Leading
/// 2F 2F and filler bytes are skipped. `ci` selects the reading: 6Ch (set time) or the records
/// form (51h, 5Ah, 5Bh). Unknown records are an error (`dsmr_application`, offset in `data`).
/// A frame-counter record `04 FD 08` among the records is skipped (§5.2); consecutive
/// selection records make one [`Command::SelectReadout`].
pub fn parse_commands(ci: u8, data: &[u8]) -> Result<Vec<Command>, DsmrError> {
    match ci {
        0x6C => commands::parse_set_time(data),
        _ => commands::parse_records_form(data),
    }
}

/// What an M-Bus device knows and reports (the source of its readout records, §6.3, §6.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceValues {
    /// Device type (medium) of the header (§6.3: it selects the default readout list).
    pub device_type: u8,
    /// The 17-character equipment identifier (§6.4.1).
    pub equipment_id: String,
    /// The status byte (§6.3.3).
    pub status: u8,
    /// The meter configuration mask (§6.4.8).
    pub config_mask: u8,
    /// The time stamp of the last hourly value (Unix seconds, UTC; §6.4.3).
    pub timestamp: i64,
    /// The hourly readings, each in the record form of its §6.4 block.
    pub readings: Vec<Reading>,
    /// Version texts by VIFE (0Ch..0Fh after FDh; §6.4.2), e.g. `(0x0D, "met=PCBx1.x2\r\n")`.
    pub versions: Vec<(u8, String)>,
    /// DSMR 4.0 valve status (§9.1: `89 40 FD 1A mask`), sent when present.
    pub valve: Option<u8>,
}

/// The records a device sends for a readout: the default list of §6.3 for its device type when
/// `selection` is None (status, equipment identifier, time stamp, the readings, configuration,
/// the valve if any: the B1.3 order), else only the selected items in the order selected (VIBs
/// as given to [`Command::SelectReadout`]; as the B1.2 response, which carries only the two
/// version texts). The frame counter record is not included (the message layer adds it).
pub fn readout_records(values: &DeviceValues, selection: Option<&[Vec<u8>]>) -> Vec<u8> {
    readout::records(values, selection)
}

/// Which quantity a reading is (§6.4.4–§6.4.7, Appendix A).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadingKind {
    /// Gas, temperature-converted volume (VIF 13h G4–G6, 14h G10–G25).
    GasConverted,
    /// Gas, unconverted volume (VIF 93h 3Ah / 94h 3Ah).
    GasUnconverted,
    /// Thermal: heat energy (VIF 0Fh/0Dh..., DIFE device bit 0).
    Heat,
    /// Thermal: cold energy (DIFE 40h, device unit 1).
    Cold,
    /// Thermal: volume (VIF 13h).
    ThermalVolume,
    /// Water volume (VIF 13h).
    Water,
    /// Slave E-meter energy (VIF 03h, Wh).
    Electricity,
}

/// One reading: the value as sent (`raw`) and its decimal scaler (value = raw × 10^scaler) and
/// unit (`"m3"`, `"GJ"`, `"Wh"`...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Which quantity.
    pub kind: ReadingKind,
    /// The value as sent (BCD digits read as a decimal integer).
    pub raw: i64,
    /// Decimal exponent: value = raw × 10^scaler.
    pub scaler: i8,
    /// The unit.
    pub unit: &'static str,
    /// Storage number (1 = the hourly value, §6.1).
    pub storage: u64,
    /// The VIF bytes as sent (e.g. `[0x13]`, `[0x93, 0x3A]`).
    pub vib: Vec<u8>,
}

/// The §6.4 data blocks found in a device's clear application data, named.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct P2Data {
    /// `0D 78` equipment identifier (§6.4.1), as text (sent last character first).
    pub equipment_id: Option<String>,
    /// `01 FD 17` status byte (§6.3.3).
    pub status: Option<u8>,
    /// `01 FD 67` meter configuration mask (§6.4.8).
    pub config_mask: Option<u8>,
    /// `46 6D` time stamp of the hourly value (§6.4.3), Unix seconds UTC.
    pub timestamp: Option<i64>,
    /// The time stamp's type-I SU ("time during daylight saving") flag as sent; §6.2.1
    /// footnote 4 has devices send 0.
    pub timestamp_summer: Option<bool>,
    /// The reading records (§6.4.4–§6.4.7).
    pub readings: Vec<Reading>,
    /// FD 0C..0F version texts (§6.4.2), by VIFE.
    pub versions: Vec<(u8, String)>,
    /// DSMR 4.0 valve status (§9.1; discarded by a 4.2 E-meter but reported here).
    pub valve: Option<u8>,
    /// Records that are none of the above, as (DIB+VIB hex, data hex) — kept, never dropped.
    pub other: Vec<(String, String)>,
}

/// Name the §6.4 blocks in a device's clear application data (after decryption; 2F fillers
/// skipped). `device_type` tells water/thermal/gas apart (same DIF/VIF 4C 13).
/// Records that are well-formed but none of the §6.4 blocks (a version text with another VIF,
/// a reading VIF the device type does not have, an invalid BCD value or date) go to
/// [`P2Data::other`]; a record that does not parse is `dsmr_application` at its offset.
pub fn parse_data(device_type: u8, data: &[u8]) -> Result<P2Data, DsmrError> {
    blocks::parse(device_type, data)
}

/// Unix seconds (UTC) → the 6 bytes of EN 13757-3 type I as §6.2.1 footnote 4 fills them
/// (UTC, day of week, week 0, leap-year flag, no daylight saving fields).
/// Years are sent modulo 100 (type I has no century).
pub fn type_i(unix_seconds: i64) -> [u8; 6] {
    time::encode_type_i(unix_seconds, true)
}

/// The inverse of [`type_i`] (daylight-saving fields ignored, §6.2.1); None if invalid.
/// Years 00–80 read as 2000–2080, 81–99 as 1981–1999 (as the M-Bus record decoder does).
pub fn from_type_i(b: [u8; 6]) -> Option<i64> {
    time::decode_type_i(b).map(|(t, _)| t)
}
