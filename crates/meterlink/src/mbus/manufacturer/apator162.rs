//! Apator 162 water meters (manufacturer APA, device type 06h/07h, version 05h).
//!
//! Layout facts: wmbusmeters src/driver_apator162.cc, checked against its test telegrams (the
//! tests below). The manufacturer block after DIF 0Fh holds 7 bytes (a date, 4 bytes, and fault
//! flags, 3 bytes) followed by registers: a register code byte, then a fixed number of bytes
//! given by the code (table below). FFh ends the registers (padding). Register 10h is the total
//! volume: 4 bytes, unsigned LSB first, 0.001 m³.
//!
//! Only values reached through registers of known size are read: an unknown register code ends
//! the walk, and what follows it is not interpreted.

use super::{derived, manufacturer_block, uint_le, Input};
use crate::mbus::records::{Record, Unit, Value};

const TOTAL: &str = "Volume (manufacturer-specific, Apator 162 layout)";
const REG_TOTAL: u8 = 0x10;

/// Bytes after a register code; `None` for codes of unknown size.
fn register_size(code: u8) -> Option<usize> {
    Some(match code {
        0x00 | 0x10 | 0x42 | 0xA0 | 0xA1 | 0xA4 | 0xF0 => 4,
        0x01 | 0x44 | 0xA6 | 0xB6..=0xBF | 0xC0..=0xC7 | 0xD0 | 0xD3 => 3,
        0x11 | 0x41 | 0x43 | 0xA7 | 0xA8 | 0xAA..=0xAD | 0xB4 => 2,
        0x40 | 0x8B | 0x8C => 6,
        0x71 => 9,
        0x72 => 13,
        0x73 => 17,
        0x75 => 25,
        0x7B => 49,
        0x80..=0x84 | 0x86 | 0x87 => 10,
        0x85 | 0x88 | 0x8F => 11,
        0x8A => 9,
        0x8E | 0xA3 => 7,
        0xA2 | 0xA5 | 0xA9 | 0xAF => 1,
        0xB0 => 5,
        0xB1 | 0xB3 => 8,
        0xB2 | 0xB5 => 16,
        _ => return None,
    })
}

pub(super) fn decode(input: &Input<'_>, out: &mut Vec<Record>) {
    let Some((base, b)) = manufacturer_block(input) else { return };
    let mut i = 7;
    while i < b.len() && b[i] != 0xFF {
        let code = b[i];
        let Some(size) = register_size(code) else { return };
        let at = i + 1;
        if at + size > b.len() {
            return;
        }
        if code == REG_TOTAL {
            let v = Value::Number { mantissa: uint_le(&b[at..at + 4]) as i64, exponent: -3 };
            out.push(derived(TOTAL, Unit::M3, v, -3, 0, base + at, 4));
            return;
        }
        i = at + size;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::mbus::records::Value;

    const LAYOUT: &str = "Apator 162";

    fn total(h: &str) -> Option<Value> {
        find(&tg(h), LAYOUT, "Volume", 0)
    }

    #[test]
    fn test_telegrams() {
        // wmbusmeters src/driver_apator162.cc tests MyTapWaterc (77.752 m³), NewAndOld (26.282 m³).
        let c = "4E4401062020202305077A9D0040852F2F0F81902C9300000010B82F010041555942BD2882004319027301BC2601005C180100CB0A0100DFF60000A0F56C2602FFFFFFFFFFFFFFFFFFFFFFFFFF5B7C";
        assert_eq!(total(c), Some(Value::Number { mantissa: 77752, exponent: -3 }));
        let n = "4E4401068686140005077A350040852F2F0F005B599600000010AA66000041545A42850BD800437D037301C5500000564B00009E4600006A410000A01778EC03FFFFFFFFFFFFFFFFFFFFFFFFFFE393";
        assert_eq!(total(n), Some(Value::Number { mantissa: 26282, exponent: -3 }));
        // Registers before the total (71h, A0h), as in test W3: 904.398 m³.
        let w3 = "2E4401064052030205077A320020852F2F0F354DA39A00000071011ABF0D00039A0D00A01053850310CECC0D005E6D";
        assert_eq!(total(w3), Some(Value::Number { mantissa: 904398, exponent: -3 }));
    }

    #[test]
    fn unknown_register_or_short_block_gives_nothing() {
        // Register 71h changed to 70h (size unknown) before the total: nothing is read.
        let w3 = "2E4401064052030205077A320020852F2F0F354DA39A00000070011ABF0D00039A0D00A01053850310CECC0D005E6D";
        assert_eq!(total(w3), None);
        // Total register cut one byte short (frame ends inside it).
        let short = "1C4401068686140005077A350040852F2F0F005B599600000010AA6600";
        assert_eq!(total(short), None);
    }
}
