//! Identification fields: manufacturer code (EN 13757-7 7.5.2), identification number
//! (7.5.1), device type (7.5.4), status byte (7.5.6).

pub use crate::address::{manufacturer_code, manufacturer_from_str, manufacturer_to_str};

/// Identification number, 4 bytes LE on the wire, printed most significant digit first.
/// BCD gives 8 decimal digits; a non-BCD ID is printed as its hex digits (uppercase, as libmbus
/// prints them), faithfully: never rejected, never "corrected".
pub fn id_to_string(id: [u8; 4]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(8);
    for b in id.iter().rev() {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

/// True if every nibble of the ID is a decimal digit.
pub fn id_is_bcd(id: [u8; 4]) -> bool {
    id.iter().all(|b| b >> 4 <= 9 && b & 0xF <= 9)
}

/// Device type names (EN 13757-7:2018 Table 7.5.4 / EN 13757-3; OMS Vol. 2 Table 3).
/// EN 13757-7:2025 reduces the thermal-energy types (it no longer distinguishes inlet/outlet);
/// the legacy codes are still on air, so their names say which variant they were.
static DEVICE_TYPES: [&str; 0x40] = [
    "Other",                                      // 00
    "Oil",                                        // 01
    "Electricity",                                // 02
    "Gas",                                        // 03
    "Heat (outlet)",                              // 04 volume measured at return temperature
    "Steam",                                      // 05
    "Warm water (30-90 °C)",                      // 06
    "Water",                                      // 07
    "Heat cost allocator",                        // 08
    "Compressed air",                             // 09
    "Cooling load (outlet)",                      // 0A
    "Cooling load (inlet)",                       // 0B
    "Heat (inlet)",                               // 0C volume measured at flow temperature
    "Heat / cooling load",                        // 0D
    "Bus / system component",                     // 0E
    "Unknown medium",                             // 0F
    "Reserved (consumption meter)",               // 10
    "Reserved (consumption meter)",               // 11
    "Reserved (consumption meter)",               // 12
    "Reserved (consumption meter)",               // 13
    "Calorific value",                            // 14
    "Hot water (>= 90 °C)",                       // 15
    "Cold water",                                 // 16
    "Dual register (hot/cold) water",             // 17
    "Pressure",                                   // 18
    "A/D converter",                              // 19
    "Smoke detector",                             // 1A
    "Room sensor",                                // 1B
    "Gas detector",                               // 1C
    "Reserved (sensor)",                          // 1D
    "Reserved (sensor)",                          // 1E
    "Reserved (sensor)",                          // 1F
    "Breaker (electricity)",                      // 20
    "Valve (gas or water)",                       // 21
    "Reserved (switching device)",                // 22
    "Reserved (switching device)",                // 23
    "Reserved (switching device)",                // 24
    "Customer unit (display device)",             // 25
    "Reserved (customer unit)",                   // 26
    "Reserved (customer unit)",                   // 27
    "Waste water",                                // 28
    "Garbage",                                    // 29
    "Carbon dioxide",                             // 2A
    "Reserved (environmental meter)",             // 2B
    "Reserved (environmental meter)",             // 2C
    "Reserved (environmental meter)",             // 2D
    "Reserved (environmental meter)",             // 2E
    "Reserved (environmental meter)",             // 2F
    "Reserved (system device)",                   // 30
    "Communication controller",                   // 31
    "Unidirectional repeater",                    // 32
    "Bidirectional repeater",                     // 33
    "Reserved (system device)",                   // 34
    "Reserved (system device)",                   // 35
    "Radio converter (system side)",              // 36
    "Radio converter (meter side)",               // 37
    "Bus converter (meter side)",                 // 38
    "Reserved (system device)",                   // 39
    "Reserved (system device)",                   // 3A
    "Reserved (system device)",                   // 3B
    "Reserved (system device)",                   // 3C
    "Reserved (system device)",                   // 3D
    "Reserved (system device)",                   // 3E
    "Reserved (system device)",                   // 3F
];

/// Name of device type `t` (EN 13757-7 7.5.4): "Wildcard" for 0xFF, "Reserved" past 0x3F.
pub fn device_type_name(t: u8) -> &'static str {
    match t {
        0..=0x3F => DEVICE_TYPES[t as usize],
        0xFF => "Wildcard",
        _ => "Reserved",
    }
}

/// Status byte bits (EN 13757-7 Table 7.5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub u8);

impl Status {
    /// Bits 1..0: 0 no error, 1 application busy, 2 any application error, 3 abnormal condition.
    pub const fn application(self) -> &'static str {
        match self.0 & 0x03 {
            0 => "no error",
            1 => "application busy",
            2 => "any application error",
            _ => "abnormal condition / alarm",
        }
    }
    /// Bit 2: power low.
    pub const fn power_low(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Bit 3: permanent error.
    pub const fn permanent_error(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// Bit 4: temporary error.
    pub const fn temporary_error(self) -> bool {
        self.0 & 0x10 != 0
    }
    /// Bits 7..5: manufacturer specific.
    pub const fn manufacturer_bits(self) -> u8 {
        self.0 >> 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manufacturer_codes() {
        // security-notes.md a.2: "ELS" = 0x1593 (on air 93 15); Kamstrup C1 vector 2D 2C = "KAM";
        // OMS N.5.3 93 44 = "QDS"; DSMR P2 B.1.3 IV B4 38 = "NET".
        assert_eq!(&manufacturer_to_str(0x1593), b"ELS");
        assert_eq!(&manufacturer_to_str(0x2C2D), b"KAM");
        assert_eq!(&manufacturer_to_str(0x4493), b"QDS");
        assert_eq!(&manufacturer_to_str(0x38B4), b"NET");
        assert_eq!(manufacturer_from_str("ELS"), Some(0x1593));
        assert_eq!(manufacturer_from_str("els"), None);
        assert_eq!(&manufacturer_to_str(0), b"@@@");
        for m in [0x0421u16, 0x1593, 0x2C2D, 0x6A50, 0x7FFF] {
            let s = manufacturer_to_str(m);
            if let Some(back) = manufacturer_from_str(std::str::from_utf8(&s).unwrap()) {
                assert_eq!(back, m);
            }
        }
    }

    #[test]
    fn ids() {
        assert_eq!(id_to_string([0x78, 0x56, 0x34, 0x12]), "12345678");
        assert_eq!(id_to_string([0x09, 0x01, 0x15, 0x23]), "23150109");
        assert_eq!(id_to_string([0xAB, 0x00, 0x00, 0xFF]), "FF0000AB");
        assert!(id_is_bcd([0x78, 0x56, 0x34, 0x12]));
        assert!(!id_is_bcd([0x7A, 0x56, 0x34, 0x12]));
    }

    #[test]
    fn device_types_and_status() {
        assert_eq!(device_type_name(0x07), "Water");
        assert_eq!(device_type_name(0x03), "Gas");
        assert_eq!(device_type_name(0x37), "Radio converter (meter side)");
        assert_eq!(device_type_name(0x80), "Reserved");
        let s = Status(0x27);
        assert_eq!(s.application(), "abnormal condition / alarm");
        assert!(s.power_low() && !s.permanent_error() && !s.temporary_error());
        assert_eq!(s.manufacturer_bits(), 1);
    }
}
