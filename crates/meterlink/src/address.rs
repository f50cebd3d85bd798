//! The meter address: identification number, manufacturer, version, device type
//! (EN 13757-3 secondary address; EN 13757-4 A/M fields; EN 13757-7 TPL long header).
//!
//! One type for every layer: the TPL long header and the link layer parse it, the security
//! modes (and DSMR mode 15) build IVs, nonces and KDF inputs from it ([`Address::bytes`]).
//! Re-exported as [`crate::mbus::tpl::Address`], which adds the text renderings.

/// Meter identity: identification number, manufacturer, version, device type.
/// Carried by the long TPL header, the wireless A/M fields, or the ELL/AFL receiver address.
///
/// Which one goes into IVs, nonces and KDF inputs (EN 13757-7 9.6.2 / OMS; verified by OMS
/// N.5.3 and CEN/TR 17167 F.3): the TPL long header's address when the TPL has a long header,
/// otherwise the DLL (link) address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Address {
    /// Identification number as on the wire (LE, normally BCD).
    pub id: [u8; 4],
    /// Manufacturer code (EN 13757-3 FLAG association; sent LE).
    pub manufacturer: u16,
    /// Version (generation) of the meter.
    pub version: u8,
    /// Device type (medium), EN 13757-3 Table 3.
    pub device_type: u8,
}

impl Address {
    /// An address from its fields, in the on-air order of the link header: manufacturer, ID,
    /// version, device type.
    pub const fn new(manufacturer: u16, id: [u8; 4], version: u8, device_type: u8) -> Self {
        Address { id, manufacturer, version, device_type }
    }

    /// A secondary address in wire order, as a long TPL header and the selection telegram
    /// (SND_UD with CI 52h) carry it: ID (4, LSB first) ‖ manufacturer (2, LSB first) ‖
    /// version ‖ device type (EN 13757-3 secondary addressing).
    pub fn from_wire(b: [u8; 8]) -> Self {
        Address::new(u16::from_le_bytes([b[4], b[5]]), [b[0], b[1], b[2], b[3]], b[6], b[7])
    }

    /// From the 8 bytes after the C field of a wireless link header: `M(2) ID(4) ver type`
    /// (EN 13757-4 §12.5).
    pub fn from_link_bytes(b: &[u8; 8]) -> Self {
        Address::new(u16::from_le_bytes([b[0], b[1]]), [b[2], b[3], b[4], b[5]], b[6], b[7])
    }

    /// `M(2, LE) || ID(4) || version || device type`: the first 8 bytes of every IV/nonce
    /// (EN 13757-7 §9.4, DSMR P2 §5.2).
    #[inline]
    pub fn bytes(&self) -> [u8; 8] {
        let m = self.manufacturer.to_le_bytes();
        [m[0], m[1], self.id[0], self.id[1], self.id[2], self.id[3], self.version, self.device_type]
    }

    /// `bytes() ‖ counter (4, big-endian)`: the 12-byte IV of security mode 9 and of the AFL
    /// GMAC [?] (fixed field ‖ invocation field, NIST SP 800-38D §8.2.1).
    #[inline]
    pub fn iv_with_counter(&self, counter: u32) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&self.bytes());
        n[8..].copy_from_slice(&counter.to_be_bytes());
        n
    }
}

// Manufacturer codes: the three letters of the FLAG association packed into the M field
// (EN 13757-7 7.5.2), part of every meter address.

/// Manufacturer code → three letters: ((c1−64)<<10) | ((c2−64)<<5) | (c3−64).
/// Codes outside A..Z (e.g. 0x0000) are printed with the characters they encode, never rejected.
pub fn manufacturer_to_str(m: u16) -> [u8; 3] {
    let c = |shift: u16| (((m >> shift) & 0x1F) as u8) + 64;
    [c(10), c(5), c(0)]
}

/// Three letters → manufacturer code. `None` unless all three are A..Z.
pub fn manufacturer_from_str(s: &str) -> Option<u16> {
    let b: &[u8; 3] = s.as_bytes().try_into().ok()?;
    b.iter().all(|c| c.is_ascii_uppercase()).then(|| manufacturer_code(b))
}

/// The packed 2-byte M-field value of three letters A–Z (EN 13757-3 / FLAG association).
pub const fn manufacturer_code(code: &[u8; 3]) -> u16 {
    (((code[0] - 64) as u16) << 10) | (((code[1] - 64) as u16) << 5) | ((code[2] - 64) as u16)
}
