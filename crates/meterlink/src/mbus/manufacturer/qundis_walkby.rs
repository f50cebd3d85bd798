//! Qundis walk-by record (manufacturer QDS): Q caloric heat cost allocators and Q water meters
//! (device types 06h, 07h, 08h, and 37h radio converters for them).
//!
//! Layout facts: wmbusmeters src/driver_qwater.cc (offsets of the values in the record) and the
//! test telegrams of drivers/src/qcaloric.xmq and src/driver_qwater.cc (the tests below); the
//! reading of byte 9 as the VIF of the values is ours, from those telegrams (13h for the water
//! meters' 0.001 m³, 6Eh for the allocators' HCA, the same VIFs their standard telegrams use).
//!
//! The meter sends one data record DIF 0Dh, VIF FFh, VIFE 5Fh with a 53-byte (35h) LVAR:
//!
//! | offset | bytes | content                                                   |
//! |--------|-------|-----------------------------------------------------------|
//! | 9      | 1     | VIF of the values: 13h (volume, 0.001 m³) or 6Eh (HCA)    |
//! | 12     | 4     | current value, BCD                                        |
//! | 16     | 2     | last billing date (type G)                                |
//! | 18     | 4     | value at the last billing date (storage 1), BCD           |
//! | 22     | 2     | last month-end date (type G)                              |
//! | 24     | 4     | value at that month end (storage 17), BCD                 |

use super::{bcd_le, derived, Input};
use crate::mbus::records::{Record, RecordKind, Unit, Value};

const LEN: usize = 53;

const VOLUME: [&str; 3] = [
    "Volume (manufacturer-specific, Qundis walk-by layout)",
    "Volume at billing date (manufacturer-specific, Qundis walk-by layout)",
    "Volume at month end (manufacturer-specific, Qundis walk-by layout)",
];
const HCA: [&str; 3] = [
    "Heat cost allocation (manufacturer-specific, Qundis walk-by layout)",
    "Heat cost allocation at billing date (manufacturer-specific, Qundis walk-by layout)",
    "Heat cost allocation at month end (manufacturer-specific, Qundis walk-by layout)",
];

pub(super) fn decode(input: &Input<'_>, out: &mut Vec<Record>) {
    let p = input.payload;
    let Some(r) = input.records.iter().find(|r| {
        r.kind == RecordKind::Data && r.dib.get(p) == [0x0D] && r.vib.get(p) == [0xFF, 0x5F]
    }) else {
        return;
    };
    let Value::Bytes(span) = r.value else { return };
    let b = span.get(p);
    if b.len() != LEN {
        return;
    }
    let (names, unit, exponent) = match b[9] {
        0x13 => (&VOLUME, Unit::M3, -3),
        0x6E => (&HCA, Unit::Hca, 0),
        _ => return,
    };
    // (offset, storage number, name)
    let fields = [(12, 0, names[0]), (18, 1, names[1]), (24, 17, names[2])];
    let mut vals = [0i64; 3];
    for (k, (at, _, _)) in fields.iter().enumerate() {
        match bcd_le(&b[*at..at + 4]) {
            Some(v) => vals[k] = v,
            None => return,
        }
    }
    let base = span.start as usize;
    for ((at, storage, name), v) in fields.into_iter().zip(vals) {
        out.push(derived(name, unit, Value::Number { mantissa: v, exponent }, exponent, storage, base + at, 4));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::mbus::records::Value;

    const LAYOUT: &str = "Qundis walk-by";

    fn v(t: &crate::mbus::decode::Telegram, prefix: &str, storage: u64) -> Option<Value> {
        find(t, LAYOUT, prefix, storage)
    }

    /// Current (storage 0), billing-date (1) and month-end (17) values of `quantity`.
    fn check(t: &crate::mbus::decode::Telegram, quantity: &str, mantissas: [i64; 3], exponent: i8) {
        let prefixes = [format!("{quantity} ("), format!("{quantity} at billing"), format!("{quantity} at month end")];
        for ((prefix, storage), mantissa) in prefixes.iter().zip([0, 1, 17]).zip(mantissas) {
            assert_eq!(v(t, prefix, storage), Some(Value::Number { mantissa, exponent }), "{prefix}");
        }
    }

    // wmbusmeters src/driver_qwater.cc, second telegram of test "MyQWater" (12353648).
    const QWATER: &str = "47449344483635121806780DFF5F350082DA0000600107C113FFFF48200000BF2C91170000DF2120200000008001000000060019001000160018000D001300350017002F046D370CC422C759";

    #[test]
    fn water_meter() {
        let t = tg(QWATER);
        check(&t, "Volume", [2048, 1791, 2020], -3);
        // Test "QWooo" (78563412): 139.663 / 127.382 / 138.163 m³.
        let t = tg("49449344123456781606780DFF5F3500824E00007F0007C113FFFF63961300DF2C82731200FE2463811300A400F200D100A900DD00E000E90006011601EA0027010F012F046D0211F225");
        check(&t, "Volume", [139663, 127382, 138163], -3);
    }

    #[test]
    fn radio_converter_water() {
        // wmbusmeters src/driver_qwater.cc / drivers/src/qwaterv2.xmq telegram of meter 37432649
        // sent through a radio converter (device type 37h).
        let t = tg("5344934449264337353778077949264337934435070DFF5F350082560000110007C113FFFF245300001F3C210400003E348946000000800080008000800080008000002A0066005F00730072002F046D000F3235");
        check(&t, "Volume", [5324, 421, 4689], -3);
    }

    #[test]
    fn heat_cost_allocator() {
        // wmbusmeters drivers/src/qcaloric.xmq, test "MyElement4" (90919293); the standard
        // telegram of the same meter (test "MyElement3") carries 97 / 270 / 97 HCA.
        let t = tg("49449344939291903408780DFF5F350082180000800007B06EFFFF970000009F2C70020000BE26970000000000010018002E001F002E0023FF210008000500020000002F046D220FA228");
        check(&t, "Heat cost allocation", [97, 270, 97], 0);
    }

    #[test]
    fn mismatched_records_give_nothing() {
        // LVAR one byte short (34h; the frame shortened by one byte and the L field adjusted).
        let short = QWATER.replacen("47449344", "46449344", 1).replacen("0DFF5F35", "0DFF5F34", 1).replacen("350017002F046D", "3500172F046D", 1);
        assert!(derived(&tg(&short), LAYOUT).is_empty());
        // Wrong VIFE (5Eh).
        let marker = QWATER.replacen("0DFF5F", "0DFF5E", 1);
        assert!(derived(&tg(&marker), LAYOUT).is_empty());
        // Unknown value VIF (14h).
        let vif = QWATER.replacen("07C113FFFF", "07C114FFFF", 1);
        assert!(derived(&tg(&vif), LAYOUT).is_empty());
    }
}
