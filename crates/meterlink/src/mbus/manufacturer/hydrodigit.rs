//! BMT Hydrodigit water meters (manufacturer BMT, device type 06h/07h, versions 13h/15h/17h).
//!
//! Layout facts: wmbusmeters drivers/src/hydrodigit.xmq (and the older src/driver_hydrodigit.cc),
//! checked against their test telegrams (the tests below). The manufacturer block after DIF 0Fh
//! starts with a content byte whose bits announce the sections that follow, in this order:
//!
//! | bit  | section        | bytes | content                                                 |
//! |------|----------------|-------|---------------------------------------------------------|
//! | 01h  | battery        | 1     | low nibble: battery voltage code (table below)          |
//! | 02h  | fraud          | 1 + 3 | fraud type flags, fraud date                            |
//! | 80h  | leak           | 3     | leak date                                               |
//! | 04h  | backflow       | 4     | backflow volume, unsigned LSB first, 0.001 m³           |
//! | 10h  | monthly totals | 12×3  | volume at the end of January..December, LSB first, 0.01 m³; 10 000 000 and above (FFFFFFh) = not recorded |
//!
//! Other bits (08h, 20h, 40h) add no section. Bytes after the announced sections are ignored.

use super::{derived, manufacturer_block, uint_le, Input};
use crate::mbus::records::{Record, Unit, Value};

/// Battery voltage in 0.01 V by the low nibble of the battery byte.
const VOLTAGE: [i64; 16] = [370, 190, 210, 220, 230, 240, 250, 265, 280, 290, 305, 320, 335, 350, 370, 370];

const BATTERY: &str = "Battery voltage (manufacturer-specific, BMT Hydrodigit layout)";
const BACKFLOW: &str = "Backflow volume (manufacturer-specific, BMT Hydrodigit layout)";
const MONTHS: [&str; 12] = [
    "Volume at end of January (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of February (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of March (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of April (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of May (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of June (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of July (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of August (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of September (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of October (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of November (manufacturer-specific, BMT Hydrodigit layout)",
    "Volume at end of December (manufacturer-specific, BMT Hydrodigit layout)",
];

const BIT_BATTERY: u8 = 0x01;
const BIT_FRAUD: u8 = 0x02;
const BIT_BACKFLOW: u8 = 0x04;
const BIT_MONTHLY: u8 = 0x10;
const BIT_LEAK: u8 = 0x80;

pub(super) fn decode(input: &Input<'_>, out: &mut Vec<Record>) {
    let Some((base, b)) = manufacturer_block(input) else { return };
    let Some(&contents) = b.first() else { return };
    let has = |bit: u8| contents & bit != 0;
    let section = |bit: u8, len: usize| if has(bit) { len } else { 0 };
    let needed = 1
        + section(BIT_BATTERY, 1)
        + section(BIT_FRAUD, 4)
        + section(BIT_LEAK, 3)
        + section(BIT_BACKFLOW, 4)
        + section(BIT_MONTHLY, 36);
    if b.len() < needed || needed == 1 {
        return;
    }
    let mut i = 1;
    if has(BIT_BATTERY) {
        let v = Value::Number { mantissa: VOLTAGE[(b[i] & 0x0F) as usize], exponent: -2 };
        out.push(derived(BATTERY, Unit::V, v, -2, 0, base + i, 1));
        i += 1;
    }
    i += section(BIT_FRAUD, 4) + section(BIT_LEAK, 3);
    if has(BIT_BACKFLOW) {
        let v = Value::Number { mantissa: uint_le(&b[i..i + 4]) as i64, exponent: -3 };
        out.push(derived(BACKFLOW, Unit::M3, v, -3, 0, base + i, 4));
        i += 4;
    }
    if has(BIT_MONTHLY) {
        for (m, q) in MONTHS.iter().enumerate() {
            let at = i + 3 * m;
            let raw = uint_le(&b[at..at + 3]);
            let v = if raw < 10_000_000 { Value::Number { mantissa: raw as i64, exponent: -2 } } else { Value::None };
            out.push(derived(q, Unit::M3, v, -2, 0, base + at, 3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::mbus::records::Value;

    const LAYOUT: &str = "BMT Hydrodigit";

    fn num(t: &crate::mbus::decode::Telegram, prefix: &str) -> Option<Value> {
        find(t, LAYOUT, prefix, 0)
    }

    #[test]
    fn monthly_backflow_battery() {
        // wmbusmeters hydrodigit test "HydrodigitWater" (meter 86868686).
        let t = tg("4E44B4098686868613077AF00040052F2F0C1366380000046D27287E2A0F150E00000000C10000D10000E60000FD00000C01002F0100410100540100680100890000A00000B30000002F2F2F2F2F2F");
        assert_eq!(num(&t, "Battery voltage"), Some(Value::Number { mantissa: 370, exponent: -2 }));
        assert_eq!(num(&t, "Backflow volume"), Some(Value::Number { mantissa: 0, exponent: -3 }));
        let months = [193, 209, 230, 253, 268, 303, 321, 340, 360, 137, 160, 179];
        let got: Vec<_> = values(&t, LAYOUT).into_iter().filter(|v| v.0.starts_with("Volume at end")).collect();
        assert_eq!(got.len(), 12);
        for (g, m) in got.iter().zip(months) {
            assert_eq!(g.2, Some(m as f64 / 100.0), "{}", g.0);
        }
    }

    #[test]
    fn backflow_encoding_and_leak_date() {
        // wmbusmeters hydrodigit test "Hydro3" (87654321): backflow 0.015 m³, 3.05 V.
        let t = tg("4644B4092143658713077A9C0000000C1364390400046D212F16350F152A0F000000440F00C00F00511000D51000B20B00180C007C0C00E60C00560D00D10D00400E00C60E0000");
        assert_eq!(num(&t, "Backflow volume"), Some(Value::Number { mantissa: 15, exponent: -3 }));
        assert_eq!(num(&t, "Battery voltage"), Some(Value::Number { mantissa: 305, exponent: -2 }));
        assert_eq!(num(&t, "Volume at end of January"), Some(Value::Number { mantissa: 3908, exponent: -2 }));
        assert_eq!(num(&t, "Volume at end of December"), Some(Value::Number { mantissa: 3782, exponent: -2 }));
        // "Hydro4" (87654322): leak date section before backflow; FFFFFF months not recorded.
        let t = tg("4944B4092243658713077A7F0000000C1363020400046D242C12360F950A24042507000000A405006E0700850900CA0B004A0E00FFFFFFFFFFFF020000020000250000B3010095030000");
        assert_eq!(num(&t, "Backflow volume"), Some(Value::Number { mantissa: 7, exponent: -3 }));
        assert_eq!(num(&t, "Volume at end of January"), Some(Value::Number { mantissa: 1444, exponent: -2 }));
        assert_eq!(num(&t, "Volume at end of June"), Some(Value::None));
        assert_eq!(num(&t, "Volume at end of August"), Some(Value::Number { mantissa: 2, exponent: -2 }));
    }

    #[test]
    fn battery_and_fraud_only() {
        // wmbusmeters hydrodigit tests (03245501, 23746391): content 03h and 05h.
        let t = tg("2444B4090155240317068C00487AC00000000C1335670000046D172EEA280F030000000000");
        assert_eq!(values(&t, LAYOUT).len(), 1);
        assert_eq!(num(&t, "Battery voltage"), Some(Value::Number { mantissa: 370, exponent: -2 }));
        let t = tg("2144B4099163742315077A400000000C1399999999046D092A30340F050B01000000");
        assert_eq!(num(&t, "Battery voltage"), Some(Value::Number { mantissa: 320, exponent: -2 }));
        assert_eq!(num(&t, "Backflow volume"), Some(Value::Number { mantissa: 1, exponent: -3 }));
    }

    #[test]
    fn short_block_gives_nothing() {
        // Content 05h announces 1 + 4 bytes; one byte short → no records.
        let t = tg("2044B4099163742315077A400000000C1399999999046D092A30340F050B010000");
        assert!(derived(&t, LAYOUT).is_empty());
        // Monthly data announced (15h) but December one byte short (the trailing byte dropped too).
        let t = tg("4444B4092143658713077A9C0000000C1364390400046D212F16350F152A0F000000440F00C00F00511000D51000B20B00180C007C0C00E60C00560D00D10D00400E00C60E");
        assert!(derived(&t, LAYOUT).is_empty());
        // A content byte announcing nothing.
        let t = tg("2144B4099163742315077A400000000C1399999999046D092A30340F080B01000000");
        assert!(derived(&t, LAYOUT).is_empty());
    }
}
