//! The Short ID (DSMR P2 §4.2.2): `ID(4) ‖ MAN(2) ‖ VER ‖ DEV`, the M-Bus device's name in
//! long data headers, SND_IR and the E-meter's M-Bus client setup object; and the 17-character
//! equipment identifier (§6.4.1) it is derived from.

use std::fmt;

use crate::address::{manufacturer_from_str, manufacturer_to_str, Address};

/// DSMR compliance level 4.2 in the version field (§4.2.3: major in the high nibble).
pub const VERSION_42: u8 = 0x42;
/// DSMR 4.0 (backwards compatibility, §9).
pub const VERSION_40: u8 = 0x40;

/// Device types of DSMR P2 M-Bus devices (EN 13757-3 Table 3 codes used by §6.3/§6.4).
pub mod device_type {
    /// Electricity (a slave E-meter, §6.4.7).
    pub const ELECTRICITY: u8 = 0x02;
    /// Gas (§6.4.4).
    pub const GAS: u8 = 0x03;
    /// Heat (thermal, §6.4.5).
    pub const HEAT: u8 = 0x04;
    /// Water (§6.4.6).
    pub const WATER: u8 = 0x07;
    /// Heat/cooling load meter (thermal, "device type = x0D" in §6.3).
    pub const HEAT_COOLING: u8 = 0x0D;
    /// Cooling load meter (thermal).
    pub const COOLING: u8 = 0x0A;
}

/// A DSMR Short ID. The wire order (long header, SND_IR A-field's content) is
/// `ID ‖ MAN ‖ VER ‖ DEV` ([`ShortId::wire`]); a wireless link header sends the same fields as
/// `MAN ‖ ID ‖ VER ‖ DEV` ([`Address::bytes`], §4.2.2 "MAN en ID fields are swapped").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ShortId(pub Address);

impl ShortId {
    /// From an identification number (8 decimal digits), manufacturer code, version, device type.
    /// `None` if `id` has more than 8 digits.
    pub fn new(id: u32, manufacturer: u16, version: u8, device_type: u8) -> Option<Self> {
        Some(ShortId(Address::new(manufacturer, bcd4(id)?, version, device_type)))
    }

    /// §4.2.2: the identification number is the last 8 digits of the 10-digit serial number,
    /// i.e. the last 8 characters of the 17-character equipment identifier (§6.4.1), as BCD.
    /// `None` unless `equipment_id` has 17 characters ending in 8 decimal digits.
    pub fn from_equipment_id(equipment_id: &str, manufacturer: u16, version: u8, device_type: u8) -> Option<Self> {
        let b = equipment_id.as_bytes();
        if b.len() != 17 || !b[9..].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let id = b[9..].iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        Self::new(id, manufacturer, version, device_type)
    }

    /// The 8 bytes of a long header (EN 13757-3 secondary address order).
    pub fn wire(&self) -> [u8; 8] {
        let a = &self.0;
        let m = a.manufacturer.to_le_bytes();
        [a.id[0], a.id[1], a.id[2], a.id[3], m[0], m[1], a.version, a.device_type]
    }

    /// From the 8 bytes of a long header.
    pub fn from_wire(b: [u8; 8]) -> Self {
        ShortId(Address::from_wire(b))
    }

    /// The identification number as a decimal number, if it is BCD.
    pub fn id_number(&self) -> Option<u32> {
        let mut v = 0u32;
        for &b in self.0.id.iter().rev() {
            let (hi, lo) = (b >> 4, b & 0x0F);
            if hi > 9 || lo > 9 {
                return None;
            }
            v = v * 100 + u32::from(hi) * 10 + u32::from(lo);
        }
        Some(v)
    }

    /// The three-letter manufacturer code.
    pub fn manufacturer(&self) -> String {
        String::from_utf8_lossy(&manufacturer_to_str(self.0.manufacturer)).into_owned()
    }

    /// Parse `"NET-23456789-42-03"`-style text (manufacturer, 8-digit ID, version hex, type hex)
    /// as written by [`fmt::Display`].
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split('-');
        let (m, id, v, t) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || id.len() != 8 {
            return None;
        }
        let id: u32 = id.parse().ok()?;
        let v = u8::from_str_radix(v, 16).ok()?;
        let t = u8::from_str_radix(t, 16).ok()?;
        Self::new(id, manufacturer_from_str(m)?, v, t)
    }
}

impl fmt::Display for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.0.id;
        write!(
            f,
            "{}-{:02x}{:02x}{:02x}{:02x}-{:02X}-{:02X}",
            self.manufacturer(),
            id[3],
            id[2],
            id[1],
            id[0],
            self.0.version,
            self.0.device_type
        )
    }
}

/// 8 decimal digits → 4 BCD bytes, LSB first.
fn bcd4(mut v: u32) -> Option<[u8; 4]> {
    if v > 99_999_999 {
        return None;
    }
    let mut out = [0u8; 4];
    for b in &mut out {
        let lo = (v % 10) as u8;
        let hi = ((v / 10) % 10) as u8;
        *b = (hi << 4) | lo;
        v /= 100;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // DSMR P2 Appendix B: equipment identifier 'XXXXX110123456789' → identification number
    // 23456789, manufacturer 'NET' (38 B4 on air), version 42h, gas 03h; the long header of
    // B1.3 carries `89 67 45 23 B4 38 42 03`.
    #[test]
    fn appendix_b_short_id() {
        let net = manufacturer_from_str("NET").unwrap();
        assert_eq!(net, 0x38B4);
        let s = ShortId::from_equipment_id("XXXXX110123456789", net, VERSION_42, device_type::GAS).unwrap();
        assert_eq!(s.wire(), [0x89, 0x67, 0x45, 0x23, 0xB4, 0x38, 0x42, 0x03]);
        assert_eq!(s.0.bytes(), [0xB4, 0x38, 0x89, 0x67, 0x45, 0x23, 0x42, 0x03]);
        assert_eq!(s.id_number(), Some(23456789));
        assert_eq!(s.to_string(), "NET-23456789-42-03");
        assert_eq!(ShortId::parse("NET-23456789-42-03"), Some(s));
        assert_eq!(ShortId::from_wire(s.wire()), s);
        assert!(ShortId::from_equipment_id("XXXXX11012345678X", net, 0x42, 3).is_none());
        assert!(ShortId::from_equipment_id("XXXXX11012345678", net, 0x42, 3).is_none());
    }
}
