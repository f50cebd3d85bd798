//! Fixed data structure (EN 1434-3:1997 clause 6.3 / EN 13757-3 Annex, CI 0x73 and MSB-first 0x77).
//!
//! ```text
//! ID(4, BCD) ACC(1) STATUS(1) MEDIUM/UNIT(2) COUNTER1(4) COUNTER2(4)
//! medium = (MU[0] >> 6) | ((MU[1] >> 6) << 2); unit1 = MU[0] & 0x3F; unit2 = MU[1] & 0x3F
//! STATUS bit 7: counters binary (1) or BCD (0); bit 6: counter 2 stored at a fixed date (historic)
//! ```

/// Length of the structure after the CI.
pub const LEN: usize = 16;

/// Meaning of a fixed-structure unit code: quantity, base unit (meterlink vocabulary), exponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedUnit {
    /// Quantity name, e.g. "Energy", "Volume flow", "Counter", "Reserved".
    pub quantity: &'static str,
    /// Unit text as in [`Unit::as_str`](crate::mbus::records::Unit::as_str); `None` for
    /// dates, times, plain counters and reserved codes.
    pub unit: Option<&'static str>,
    /// Decimal exponent applied to the counter.
    pub exponent: i8,
}

const fn u(quantity: &'static str, unit: &'static str, exponent: i8) -> FixedUnit {
    FixedUnit { quantity, unit: Some(unit), exponent }
}

/// Unit codes 0x00..0x3F (EN 1434-3 Table 6).
static UNITS: [FixedUnit; 0x3A] = [
    FixedUnit { quantity: "Time (h,min,s)", unit: None, exponent: 0 },
    FixedUnit { quantity: "Date (D,M,Y)", unit: None, exponent: 0 },
    u("Energy", "Wh", 0),
    u("Energy", "Wh", 1),
    u("Energy", "Wh", 2),
    u("Energy", "Wh", 3),
    u("Energy", "Wh", 4),
    u("Energy", "Wh", 5),
    u("Energy", "Wh", 6),
    u("Energy", "Wh", 7),
    u("Energy", "Wh", 8),
    u("Energy", "J", 3),
    u("Energy", "J", 4),
    u("Energy", "J", 5),
    u("Energy", "J", 6),
    u("Energy", "J", 7),
    u("Energy", "J", 8),
    u("Energy", "J", 9),
    u("Energy", "J", 10),
    u("Energy", "J", 11),
    u("Power", "W", 0),
    u("Power", "W", 1),
    u("Power", "W", 2),
    u("Power", "W", 3),
    u("Power", "W", 4),
    u("Power", "W", 5),
    u("Power", "W", 6),
    u("Power", "W", 7),
    u("Power", "W", 8),
    u("Power", "J/h", 3),
    u("Power", "J/h", 4),
    u("Power", "J/h", 5),
    u("Power", "J/h", 6),
    u("Power", "J/h", 7),
    u("Power", "J/h", 8),
    u("Power", "J/h", 9),
    u("Power", "J/h", 10),
    u("Power", "J/h", 11),
    u("Volume", "m^3", -6),
    u("Volume", "m^3", -5),
    u("Volume", "m^3", -4),
    u("Volume", "m^3", -3),
    u("Volume", "m^3", -2),
    u("Volume", "m^3", -1),
    u("Volume", "m^3", 0),
    u("Volume", "m^3", 1),
    u("Volume", "m^3", 2),
    u("Volume flow", "m^3/h", -6),
    u("Volume flow", "m^3/h", -5),
    u("Volume flow", "m^3/h", -4),
    u("Volume flow", "m^3/h", -3),
    u("Volume flow", "m^3/h", -2),
    u("Volume flow", "m^3/h", -1),
    u("Volume flow", "m^3/h", 0),
    u("Volume flow", "m^3/h", 1),
    u("Volume flow", "m^3/h", 2),
    u("Temperature", "°C", -3),
    u("Units for H.C.A.", "HCA", 0),
];

/// Unit code 0x3E: "same unit as counter 1, but historic value".
pub const UNIT_SAME_HISTORIC: u8 = 0x3E;
/// Unit code 0x3F: without units.
pub const UNIT_NONE: u8 = 0x3F;

/// Meaning of unit code `code` (EN 1434-3 Table 6): 0x3F is a counter without unit, codes past
/// the table are "Reserved".
pub fn unit(code: u8) -> FixedUnit {
    match code {
        0..=0x39 => UNITS[code as usize],
        UNIT_NONE => FixedUnit { quantity: "Counter", unit: None, exponent: 0 },
        _ => FixedUnit { quantity: "Reserved", unit: None, exponent: 0 },
    }
}

/// Medium codes of the fixed structure (EN 1434-3; not the EN 13757 device-type table).
static MEDIA: [&str; 16] = [
    "Other",
    "Oil",
    "Electricity",
    "Gas",
    "Heat",
    "Steam",
    "Hot water",
    "Water",
    "Heat cost allocator",
    "Reserved",
    "Gas (mode 2)",
    "Heat (mode 2)",
    "Hot water (mode 2)",
    "Water (mode 2)",
    "Heat cost allocator (mode 2)",
    "Reserved",
];

/// Name of a fixed-structure medium code (low 4 bits of `code`).
pub fn medium_name(code: u8) -> &'static str {
    MEDIA[(code & 0x0F) as usize]
}

/// One counter of the structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    /// The counter as an integer, or `None` when a BCD counter holds non-decimal nibbles.
    pub value: Option<i64>,
    /// Unit code (see [`unit()`]); for counter 2, unit code 0x3E is replaced by counter 1's code.
    pub unit_code: u8,
    /// Offset of the 4 counter bytes after the CI.
    pub offset: usize,
    /// The value was stored at a fixed date (counter 2 with STATUS bit 6 or unit code 0x3E).
    pub historic: bool,
}

/// The decoded fixed data structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedData {
    /// Identification number, 4 BCD bytes, least significant first.
    pub id: [u8; 4],
    /// Access number (ACC).
    pub access_number: u8,
    /// Status byte: bit 7 binary counters, bit 6 counter 2 historic.
    pub status: u8,
    /// Medium code, 4 bits taken from the top two bits of each MEDIUM/UNIT byte (see
    /// [`medium_name`]).
    pub medium: u8,
    /// Counter 1 and counter 2.
    pub counters: [Counter; 2],
}

fn counter(bytes: [u8; 4], binary: bool) -> Option<i64> {
    if binary {
        return Some(u32::from_le_bytes(bytes) as i64);
    }
    let mut v: i64 = 0;
    for b in bytes.iter().rev() {
        let (hi, lo) = (b >> 4, b & 0x0F);
        if hi > 9 || lo > 9 {
            return None;
        }
        v = v * 100 + (hi * 10 + lo) as i64;
    }
    Some(v)
}

/// Parse the 16 bytes after CI 0x73 (`msb_first` for CI 0x77: multi-byte fields reversed).
pub fn parse(after_ci: &[u8], msb_first: bool) -> Option<FixedData> {
    let b: &[u8; LEN] = after_ci.get(..LEN)?.try_into().ok()?;
    let field = |at: usize| {
        let mut f = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if msb_first {
            f.reverse();
        }
        f
    };
    let status = b[5];
    let binary = status & 0x80 != 0;
    let (mu0, mu1) = if msb_first { (b[7], b[6]) } else { (b[6], b[7]) };
    let medium = (mu0 >> 6) | ((mu1 >> 6) << 2);
    let unit1 = mu0 & 0x3F;
    let unit2 = mu1 & 0x3F;
    let historic2 = status & 0x40 != 0 || unit2 == UNIT_SAME_HISTORIC;
    Some(FixedData {
        id: field(0),
        access_number: b[4],
        status,
        medium,
        counters: [
            Counter { value: counter(field(8), binary), unit_code: unit1, offset: 8, historic: false },
            Counter {
                value: counter(field(12), binary),
                unit_code: if unit2 == UNIT_SAME_HISTORIC { unit1 } else { unit2 },
                offset: 12,
                historic: historic2,
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_meter_bcd_counters() {
        // A fixed-structure water meter telegram: ID 12345678, ACC 0x0A, counters 1 l and 135 l
        // (unit2 0x3E = same unit, historic). Counters BCD because status bit 7 is clear.
        let after = [0x78, 0x56, 0x34, 0x12, 0x0A, 0x00, 0xE9, 0x7E, 1, 0, 0, 0, 0x35, 0x01, 0, 0];
        let f = parse(&after, false).unwrap();
        assert_eq!(f.id, [0x78, 0x56, 0x34, 0x12]);
        assert_eq!(medium_name(f.medium), "Water");
        assert_eq!(f.counters[0].value, Some(1));
        assert_eq!(unit(f.counters[0].unit_code), u("Volume", "m^3", -3));
        assert_eq!(f.counters[1].value, Some(135));
        assert!(f.counters[1].historic);
        assert_eq!(f.counters[1].unit_code, 0x29);
    }

    #[test]
    fn heat_meter_and_binary_and_msb() {
        let after = [0x93, 0x92, 0x91, 0x90, 0x10, 0x00, 0x05, 0x69, 0x31, 0x65, 0, 0, 0x69, 0, 0, 0];
        let f = parse(&after, false).unwrap();
        assert_eq!(medium_name(f.medium), "Heat");
        assert_eq!(f.counters[0].value, Some(6531));
        assert_eq!(unit(f.counters[0].unit_code), u("Energy", "Wh", 3));
        assert_eq!(f.counters[1].value, Some(69));
        assert_eq!(unit(f.counters[1].unit_code).unit, Some("m^3"));
        let mut bin = after;
        bin[5] = 0x80;
        assert_eq!(parse(&bin, false).unwrap().counters[0].value, Some(0x6531));
        let mut bad = after;
        bad[8] = 0x3A;
        assert_eq!(parse(&bad, false).unwrap().counters[0].value, None);
        let mut msb = after;
        msb[8..12].reverse();
        msb.swap(6, 7);
        assert_eq!(parse(&msb, true).unwrap().counters[0].value, parse(&after, false).unwrap().counters[0].value);
        assert!(parse(&after[..15], false).is_none());
    }
}
