//! Values read from manufacturer-specific data by known per-meter layouts.
//!
//! EN 13757-3 leaves the bytes after DIF 0Fh/1Fh, and the meaning of VIFEs after a
//! manufacturer VIFE (FFh), to the manufacturer. For a few meter families the layout is known
//! (documented by the open-source wmbusmeters project's drivers and checked here against their
//! test telegrams). Each layout below is a small decoder, registered by manufacturer, device
//! type and (where it matters) version, that turns those bytes into *additional* records.
//!
//! Rules every decoder keeps:
//! - It is strictly gated: manufacturer, device type, version, and the exact block length or
//!   marker bytes of its layout. A block that does not match gives no records at all, never
//!   plausible guesses.
//! - It only adds records; the generic EN 13757-3 records (including the raw manufacturer
//!   block) stay as they are.
//! - Each added record has `kind` [`RecordKind::Data`], an exact value, a unit, the storage
//!   number where the layout has a history index, `data` pointing at the bytes it was read
//!   from, empty DIB/VIB spans (there is no DIB/VIB for these values) unless it reinterprets a
//!   transmitted record, `vif.manufacturer_specific` set, and a quantity text that names the
//!   layout, e.g. "Heat cost allocation, month-end history (manufacturer-specific, BFW 240
//!   radio layout)".

mod apator162;
mod bfw240radio;
mod hydrodigit;
mod qundis_walkby;
mod schneider_iem3000;

use crate::mbus::records::{Function, Record, RecordKind, Span, Unit, Value, VifInfo, VifTable};
use crate::mbus::tpl::Address;

/// What a layout decoder may look at: the plaintext application data and the generic records
/// parsed from it (their spans point into `payload`).
pub(crate) struct Input<'a> {
    pub payload: &'a [u8],
    pub records: &'a [Record],
}

type Decoder = fn(&Input<'_>, &mut Vec<Record>);

/// One registered layout.
struct Layout {
    /// Manufacturer (M field / FLAG association code, 3 letters packed as in EN 13757-4).
    manufacturer: u16,
    /// Device types (EN 13757-3 table 3) the layout is known for.
    device_types: &'static [u8],
    /// Versions the layout is known for; empty: any version.
    versions: &'static [u8],
    decode: Decoder,
}

use crate::mbus::tpl::device::manufacturer_code as flag;

/// The registry: manufacturer (+ device type, version) → layout decoder.
static LAYOUTS: &[Layout] = &[
    // BFW 240 radio heat cost allocator.
    Layout { manufacturer: flag(b"BFW"), device_types: &[0x08], versions: &[0x02], decode: bfw240radio::decode },
    // BMT Hydrodigit water meters.
    Layout {
        manufacturer: flag(b"BMT"),
        device_types: &[0x06, 0x07],
        versions: &[0x13, 0x15, 0x17],
        decode: hydrodigit::decode,
    },
    // Qundis walk-by record (Q caloric heat cost allocators, Q water meters, radio converters).
    Layout {
        manufacturer: flag(b"QDS"),
        device_types: &[0x06, 0x07, 0x08, 0x37],
        versions: &[],
        decode: qundis_walkby::decode,
    },
    // Apator 162 water meters.
    Layout { manufacturer: flag(b"APA"), device_types: &[0x06, 0x07], versions: &[0x05], decode: apator162::decode },
    // Schneider Electric iEM3000 series electricity meters.
    Layout { manufacturer: flag(b"SEC"), device_types: &[0x02], versions: &[], decode: schneider_iem3000::decode },
];

/// Records decoded from manufacturer-specific data by the layout registered for `address`
/// (none if no layout matches). `payload` is the plaintext application data `records` were
/// parsed from.
pub fn decode_records(address: Address, payload: &[u8], records: &[Record]) -> Vec<Record> {
    let mut out = Vec::new();
    let input = Input { payload, records };
    for l in LAYOUTS.iter().filter(|l| {
        l.manufacturer == address.manufacturer
            && l.device_types.contains(&address.device_type)
            && (l.versions.is_empty() || l.versions.contains(&address.version))
    }) {
        (l.decode)(&input, &mut out);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the layouts.
// ---------------------------------------------------------------------------------------------

/// A record for a value read from bytes `at..at + len` of the payload.
pub(crate) fn derived(
    quantity: &'static str,
    unit: Unit,
    value: Value,
    exponent: i8,
    storage: u64,
    at: usize,
    len: usize,
) -> Record {
    let mut vif = VifInfo::new(quantity, unit, exponent, VifTable::NoVib, 0);
    vif.manufacturer_specific = true;
    let empty = Span { start: at as u32, len: 0 };
    Record {
        kind: RecordKind::Data,
        dib: empty,
        vib: empty,
        data: Span { start: at as u32, len: len as u16 },
        function: Function::Instantaneous,
        storage,
        tariff: 0,
        subunit: 0,
        vif,
        value,
    }
}

/// Unsigned little-endian integer of up to 8 bytes.
pub(crate) fn uint_le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x))
}

/// Unsigned BCD, least significant byte first; `None` if a nibble is not a decimal digit.
pub(crate) fn bcd_le(b: &[u8]) -> Option<i64> {
    b.iter().rev().try_fold(0i64, |v, &x| {
        let (hi, lo) = (x >> 4, x & 0x0F);
        (hi <= 9 && lo <= 9).then(|| v * 100 + i64::from(hi) * 10 + i64::from(lo))
    })
}

/// The content of the manufacturer data block (after DIF 0Fh/1Fh), with its payload offset.
pub(crate) fn manufacturer_block<'a>(input: &Input<'a>) -> Option<(usize, &'a [u8])> {
    let r = input.records.iter().find(|r| matches!(r.kind, RecordKind::ManufacturerData { .. }))?;
    let start = r.data.start as usize;
    Some((start, input.payload.get(start..start + r.data.len as usize)?))
}

#[cfg(test)]
pub(crate) mod test_util {
    use crate::mbus::records::{Record, Value};
    use crate::mbus::decode::{decode, DecodeOptions, Telegram};

    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    pub fn tg(h: &str) -> Telegram {
        decode(&hex(h), &DecodeOptions::default()).unwrap()
    }

    /// The records added by manufacturer layouts (quantity names the layout).
    pub fn derived<'a>(t: &'a Telegram, layout: &str) -> Vec<&'a Record> {
        t.records.iter().filter(|r| r.vif.quantity.contains(layout)).collect()
    }

    /// (quantity, storage, value as f64) of the derived records.
    pub fn values(t: &Telegram, layout: &str) -> Vec<(&'static str, u64, Option<f64>)> {
        derived(t, layout).iter().map(|r| (r.vif.quantity, r.storage, r.value.as_f64())).collect()
    }

    pub fn find(t: &Telegram, layout: &str, quantity_prefix: &str, storage: u64) -> Option<Value> {
        derived(t, layout)
            .into_iter()
            .find(|r| r.vif.quantity.starts_with(quantity_prefix) && r.storage == storage)
            .map(|r| r.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_codes() {
        // Packed codes as sent in the M field: BFW = 08D7h, BMT = 09B4h, QDS = 4493h, SEC = 4CA3h.
        assert_eq!(flag(b"BFW"), 0x08D7);
        assert_eq!(flag(b"BMT"), 0x09B4);
        assert_eq!(flag(b"QDS"), 0x4493);
        assert_eq!(flag(b"SEC"), 0x4CA3);
        assert_eq!(flag(b"APA"), 0x0601);
    }

    #[test]
    fn helpers() {
        assert_eq!(uint_le(&[0x03, 0xC1]), 0xC103);
        assert_eq!(bcd_le(&[0x48, 0x20, 0x00, 0x00]), Some(2048));
        assert_eq!(bcd_le(&[0xFF, 0xFF]), None);
    }
}
