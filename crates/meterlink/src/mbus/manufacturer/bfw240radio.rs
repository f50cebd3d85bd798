//! BFW 240 radio heat cost allocator (manufacturer BFW, device type 08h, version 02h).
//!
//! Layout facts: wmbusmeters drivers/src/bfw240radio.xmq, checked against its test telegrams
//! (the tests below). The meter sends no EN 13757-3 records: the 40 bytes after the short TPL
//! header are one fixed block
//!
//! | offset | bytes | content                                                          |
//! |--------|-------|------------------------------------------------------------------|
//! | 0      | 2     | 2Fh 2Fh                                                          |
//! | 2      | 1     | varies                                                           |
//! | 3      | 1     | 1Fh                                                              |
//! | 4      | 2     | HCA at the end of the previous billing period, MSB first         |
//! | 6      | 2     | HCA of the current billing period, MSB first                     |
//! | 8      | 2     | not decoded                                                      |
//! | 10     | 27    | 9 × 3 bytes: month-end HCA 18..1 months ago, two 12-bit values each |
//! | 37     | 3     | device date: day, month, year (BCD, year 20yy)                   |
//!
//! In the 3-byte group for months (n+1, n) (n odd, oldest group first), month n is
//! `(b1 & 0Fh) << 8 | b2` and month n+1 is `(b1 >> 4) << 8 | b0`.

use super::{derived, Input};
use crate::mbus::records::{Record, Unit, Value};

const LEN: usize = 40;
const CURRENT: &str = "Heat cost allocation (manufacturer-specific, BFW 240 radio layout)";
const BILLING: &str = "Heat cost allocation at end of previous billing period (manufacturer-specific, BFW 240 radio layout)";
const HISTORY: &str = "Heat cost allocation, month-end history (manufacturer-specific, BFW 240 radio layout)";

fn bcd_byte(x: u8) -> Option<u8> {
    (x >> 4 <= 9 && x & 0x0F <= 9).then_some((x >> 4) * 10 + (x & 0x0F))
}

pub(super) fn decode(input: &Input<'_>, out: &mut Vec<Record>) {
    let p = input.payload;
    if p.len() != LEN || p[0] != 0x2F || p[1] != 0x2F || p[3] != 0x1F {
        return;
    }
    // The device date must be a real date: day 1..31, month 1..12 (BCD).
    let (Some(day), Some(month), Some(_)) = (bcd_byte(p[37]), bcd_byte(p[38]), bcd_byte(p[39])) else {
        return;
    };
    if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
        return;
    }
    let number = |m: u64| Value::Number { mantissa: m as i64, exponent: 0 };
    out.push(derived(CURRENT, Unit::Hca, number(u64::from(p[6]) << 8 | u64::from(p[7])), 0, 0, 6, 2));
    out.push(derived(BILLING, Unit::Hca, number(u64::from(p[4]) << 8 | u64::from(p[5])), 0, 1, 4, 2));
    // Months 1..18 ago: storage number = months ago.
    let mut months = Vec::with_capacity(18);
    for g in 0..9 {
        let at = 10 + 3 * g;
        let t = &p[at..at + 3];
        let odd = 17 - 2 * g as u64;
        months.push((odd, u64::from(t[1] & 0x0F) << 8 | u64::from(t[2]), at));
        months.push((odd + 1, u64::from(t[1] >> 4) << 8 | u64::from(t[0]), at));
    }
    months.sort_by_key(|m| m.0);
    for (ago, v, at) in months {
        out.push(derived(HISTORY, Unit::Hca, number(v), 0, ago, at, 3));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::mbus::records::Value;

    const LAYOUT: &str = "BFW 240 radio";
    // wmbusmeters drivers/src/bfw240radio.xmq, test telegrams 1 and 2 (meter 00707788).
    const T1: &str = "3644D7088877700002087ADBC000002F2F9E1F03C10388152A00000000000000000000000000000204000404000EE2020AC1321D280221";
    const T2: &str = "3644D7088877700002087A8BC000002F2F011F03C1038D152A0000000000000000000000000200040400040E00E20A23C11D238D010321";

    fn hca(t: &crate::mbus::decode::Telegram, prefix: &str, storage: u64) -> i64 {
        match find(t, LAYOUT, prefix, storage) {
            Some(Value::Number { mantissa, exponent: 0 }) => mantissa,
            other => panic!("{prefix} {storage}: {other:?}"),
        }
    }

    #[test]
    fn test_telegram_1() {
        let t = tg(T1);
        assert_eq!(derived(&t, LAYOUT).len(), 20);
        assert_eq!(hca(&t, "Heat cost allocation (", 0), 904);
        assert_eq!(hca(&t, "Heat cost allocation at end", 1), 961);
        let expected = [541, 961, 522, 226, 14, 4, 4, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for (k, e) in expected.iter().enumerate() {
            assert_eq!(hca(&t, "Heat cost allocation, month-end", k as u64 + 1), *e, "month -{}", k + 1);
        }
        assert!(derived(&t, LAYOUT).iter().all(|r| r.vif.unit == crate::mbus::records::Unit::Hca));
    }

    #[test]
    fn test_telegram_2() {
        let t = tg(T2);
        assert_eq!(hca(&t, "Heat cost allocation (", 0), 909);
        assert_eq!(hca(&t, "Heat cost allocation at end", 1), 961);
        let expected = [909, 541, 961, 522, 226, 14, 4, 4, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0];
        for (k, e) in expected.iter().enumerate() {
            assert_eq!(hca(&t, "Heat cost allocation, month-end", k as u64 + 1), *e, "month -{}", k + 1);
        }
    }

    #[test]
    fn mismatched_blocks_give_nothing() {
        // One byte short (L field adjusted, last date byte dropped).
        let short = format!("35{}", &T1[2..T1.len() - 2]);
        assert!(derived(&tg(&short), LAYOUT).is_empty());
        // Wrong marker at offset 3 (1Fh → 1Eh).
        let marker = T1.replacen("2F2F9E1F", "2F2F9E1E", 1);
        assert!(derived(&tg(&marker), LAYOUT).is_empty());
        // Not a date (month 13).
        let date = T1.replacen("280221", "281321", 1);
        assert!(derived(&tg(&date), LAYOUT).is_empty());
        // Another manufacturer's device with the same bytes.
        let other = T1.replacen("D708", "D709", 1);
        assert!(derived(&tg(&other), LAYOUT).is_empty());
    }
}
