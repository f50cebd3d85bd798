//! CI-field table (EN 13757-7 clause 5.2, Table 2; OMS Vol. 2 Table 2 for the same codes).
//!
//! The EN 13757-7:2025 preview we hold does not reproduce the table; the codes below are those of
//! EN 13757-7:2018 / EN 13757-3 as quoted by OMS Vol. 2, plus the legacy EN 1434-3 codes still sent
//! by wired meters (0x73/0x77 fixed data, 0x76 MSB-first variable data).

/// What follows the CI field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CiHeader {
    /// Application data directly (no TPL header).
    None,
    /// Short TPL header: ACC, STS, CFG(2).
    Short,
    /// Long TPL header: ID(4), M(2), VER, TYPE, ACC, STS, CFG(2).
    Long,
    /// Fixed data structure (EN 1434-3): ID(4) ACC STS medium/unit(2) counter(4) counter(4).
    Fixed,
    /// Extended link layer; the number is its length after the CI (0 = variable, ELL V).
    Ell(u8),
    /// Authentication and fragmentation layer.
    Afl,
}

/// What the application data after the header is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CiPayload {
    /// EN 13757-3 variable data records.
    Records,
    /// EN 13757-3 records in compact frame form (need a format signature cache).
    CompactRecords,
    /// EN 13757-3 format frame (describes a compact frame).
    FormatFrame,
    /// Application error (EN 13757-7 7.5.7 / EN 13757-3).
    ApplicationError,
    /// Alarm (EN 13757-7).
    Alarm,
    /// DLMS/COSEM application layer (IEC 62056-5-3).
    Dlms,
    /// OBIS-based data (IEC 62056-6-1).
    Obis,
    /// Command/selection/reset to a device (EN 13757-3 application layer to device).
    Command,
    /// Clock synchronisation.
    ClockSync,
    /// Transport layer only, no application data.
    TransportOnly,
    /// Another layer header follows (ELL, AFL, network layer).
    Layer,
    /// Manufacturer-specific application layer.
    Manufacturer,
    /// Image transfer / security information transfer (EN 13757-7 Annex A, OMS).
    Transfer,
    /// Baud rate switch (EN 13757-2 wired).
    BaudRate,
    /// A CI code the table does not assign.
    Reserved,
}

/// Meaning of one CI code: the header that follows it and the kind of payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CiInfo {
    /// What follows the CI field.
    pub header: CiHeader,
    /// What the application data after the header is.
    pub payload: CiPayload,
    /// Multi-byte fields are sent most-significant byte first (legacy mode 2, CI 0x76/0x77).
    pub msb_first: bool,
    /// Description, e.g. "response from device".
    pub name: &'static str,
}

const fn ci(header: CiHeader, payload: CiPayload, name: &'static str) -> CiInfo {
    CiInfo { header, payload, msb_first: false, name }
}

use CiHeader as H;
use CiPayload as P;

/// (first, last, info), sorted, non-overlapping; codes not listed are reserved.
static CI_TABLE: &[(u8, u8, CiInfo)] = &[
    (0x00, 0x1F, ci(H::None, P::Dlms, "DLMS/COSEM data segment (wired M-Bus transport)")),
    (0x50, 0x50, ci(H::None, P::Command, "application reset or select to device")),
    (0x51, 0x51, ci(H::None, P::Command, "command to device")),
    (0x52, 0x52, ci(H::None, P::Command, "selection of device")),
    (0x53, 0x53, ci(H::Long, P::Command, "application reset or select to device")),
    (0x54, 0x54, ci(H::None, P::Command, "request of selected application to device")),
    (0x55, 0x55, ci(H::Long, P::Command, "request of selected application to device")),
    (0x5A, 0x5A, ci(H::Short, P::Command, "command to device")),
    (0x5B, 0x5B, ci(H::Long, P::Command, "command to device")),
    (0x5C, 0x5C, ci(H::None, P::ClockSync, "synchronize action")),
    (0x60, 0x60, ci(H::Long, P::Dlms, "DLMS/COSEM to device")),
    (0x61, 0x61, ci(H::Short, P::Dlms, "DLMS/COSEM to device")),
    (0x64, 0x64, ci(H::Long, P::Obis, "OBIS-based data to device")),
    (0x65, 0x65, ci(H::Short, P::Obis, "OBIS-based data to device")),
    (0x69, 0x69, ci(H::None, P::FormatFrame, "format frame")),
    (0x6A, 0x6A, ci(H::Short, P::FormatFrame, "format frame")),
    (0x6B, 0x6B, ci(H::Long, P::FormatFrame, "format frame")),
    (0x6C, 0x6C, ci(H::Long, P::ClockSync, "clock synchronisation (absolute)")),
    (0x6D, 0x6D, ci(H::Long, P::ClockSync, "clock synchronisation (relative)")),
    (0x6E, 0x6E, ci(H::Short, P::ApplicationError, "application error from device")),
    (0x6F, 0x6F, ci(H::Long, P::ApplicationError, "application error from device")),
    (0x70, 0x70, ci(H::None, P::ApplicationError, "application error from device")),
    (0x71, 0x71, ci(H::None, P::Alarm, "alarm from device")),
    (0x72, 0x72, ci(H::Long, P::Records, "response from device")),
    (0x73, 0x73, ci(H::Fixed, P::Records, "response from device, fixed data structure")),
    (0x74, 0x74, ci(H::Short, P::Alarm, "alarm from device")),
    (0x75, 0x75, ci(H::Long, P::Alarm, "alarm from device")),
    (
        0x76,
        0x76,
        CiInfo { header: H::Long, payload: P::Records, msb_first: true, name: "response from device, MSB first" },
    ),
    (
        0x77,
        0x77,
        CiInfo {
            header: H::Fixed,
            payload: P::Records,
            msb_first: true,
            name: "response from device, fixed data structure, MSB first",
        },
    ),
    (0x78, 0x78, ci(H::None, P::Records, "response from device")),
    (0x79, 0x79, ci(H::None, P::CompactRecords, "compact frame from device")),
    (0x7A, 0x7A, ci(H::Short, P::Records, "response from device")),
    (0x7B, 0x7B, ci(H::Short, P::CompactRecords, "compact frame from device")),
    (0x7C, 0x7C, ci(H::Long, P::Dlms, "DLMS/COSEM from device")),
    (0x7D, 0x7D, ci(H::Short, P::Dlms, "DLMS/COSEM from device")),
    (0x7E, 0x7E, ci(H::Long, P::Obis, "OBIS-based data from device")),
    (0x7F, 0x7F, ci(H::Short, P::Obis, "OBIS-based data from device")),
    (0x80, 0x80, ci(H::Long, P::TransportOnly, "transport layer to device")),
    (0x81, 0x81, ci(H::None, P::Layer, "network layer (EN 13757-5)")),
    (0x82, 0x82, ci(H::Short, P::TransportOnly, "transport layer to device")),
    (0x83, 0x83, ci(H::None, P::Layer, "network management (EN 13757-5)")),
    (0x84, 0x84, ci(H::Long, P::CompactRecords, "compact frame from device")),
    (0x85, 0x85, ci(H::Short, P::CompactRecords, "compact frame from device")),
    (0x86, 0x86, ci(H::Ell(0), P::Layer, "extended link layer V (variable)")),
    (0x87, 0x87, ci(H::Long, P::FormatFrame, "format frame")),
    (0x88, 0x88, ci(H::Short, P::FormatFrame, "format frame")),
    (0x8A, 0x8A, ci(H::Short, P::TransportOnly, "transport layer from device")),
    (0x8B, 0x8B, ci(H::Long, P::TransportOnly, "transport layer from device")),
    (0x8C, 0x8C, ci(H::Ell(2), P::Layer, "extended link layer I")),
    (0x8D, 0x8D, ci(H::Ell(8), P::Layer, "extended link layer II")),
    (0x8E, 0x8E, ci(H::Ell(10), P::Layer, "extended link layer III")),
    (0x8F, 0x8F, ci(H::Ell(16), P::Layer, "extended link layer IV")),
    (0x90, 0x90, ci(H::Afl, P::Layer, "authentication and fragmentation layer")),
    (0xA0, 0xB7, ci(H::None, P::Manufacturer, "manufacturer-specific application layer")),
    (0xB8, 0xBF, ci(H::None, P::BaudRate, "set baud rate")),
    (0xC0, 0xC0, ci(H::Long, P::Transfer, "image transfer to device")),
    (0xC1, 0xC1, ci(H::Short, P::Transfer, "image transfer from device")),
    (0xC2, 0xC2, ci(H::Long, P::Transfer, "image transfer from device")),
    (0xC3, 0xC3, ci(H::Long, P::Transfer, "security information transfer to device")),
    (0xC4, 0xC4, ci(H::Short, P::Transfer, "security information transfer from device")),
    (0xC5, 0xC5, ci(H::Long, P::Transfer, "security information transfer from device")),
];

/// CI 73h as used in wireless M-Bus: compact frame with a long header (OMS Vol. 2 Table 2).
pub static COMPACT_LONG_73: CiInfo = ci(H::Long, P::CompactRecords, "compact frame from device");

static RESERVED: CiInfo = ci(H::None, P::Reserved, "reserved");

/// CI code → index into `CI_TABLE` (`u8::MAX`: reserved), built at compile time from the
/// table, so a lookup is two loads.
static CI_INDEX: [u8; 256] = {
    let mut index = [u8::MAX; 256];
    let mut i = 0;
    while i < CI_TABLE.len() {
        let (lo, hi, _) = &CI_TABLE[i];
        let mut code = *lo as usize;
        while code <= *hi as usize {
            index[code] = i as u8;
            code += 1;
        }
        i += 1;
    }
    index
};

const _: () = assert!(CI_TABLE.len() < u8::MAX as usize);

/// Look a CI field up. Unknown codes come back as `CiPayload::Reserved`.
pub fn lookup(code: u8) -> &'static CiInfo {
    match CI_TABLE.get(CI_INDEX[code as usize] as usize) {
        Some((_, _, info)) => info,
        None => &RESERVED,
    }
}

/// Baud rate selected by CI 0xB8..0xBF (EN 13757-2).
pub fn baud_rate(code: u8) -> Option<u32> {
    match code {
        0xB8..=0xBF => Some(300 << (code - 0xB8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_disjoint() {
        for w in CI_TABLE.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{:02X}", w[1].0);
        }
    }

    #[test]
    fn index_agrees_with_the_table_for_every_code() {
        for code in 0..=255u8 {
            let want = CI_TABLE.iter().find(|(lo, hi, _)| (*lo..=*hi).contains(&code)).map(|(_, _, i)| i);
            assert!(std::ptr::eq(lookup(code), want.unwrap_or(&RESERVED)), "{code:02X}");
        }
    }

    #[test]
    fn known_codes() {
        assert_eq!(lookup(0x72).header, CiHeader::Long);
        assert_eq!(lookup(0x7A).header, CiHeader::Short);
        assert_eq!(lookup(0x78).header, CiHeader::None);
        assert_eq!(lookup(0x8D).header, CiHeader::Ell(8));
        assert_eq!(lookup(0x90).header, CiHeader::Afl);
        assert!(lookup(0x76).msb_first);
        assert_eq!(lookup(0x70).payload, CiPayload::ApplicationError);
        assert_eq!(lookup(0xA5).payload, CiPayload::Manufacturer);
        assert_eq!(lookup(0x7C).payload, CiPayload::Dlms);
        assert_eq!(lookup(0x11).payload, CiPayload::Dlms);
        assert_eq!(lookup(0x40).payload, CiPayload::Reserved);
        assert_eq!(lookup(0xFF).payload, CiPayload::Reserved);
        assert_eq!(baud_rate(0xB8), Some(300));
        assert_eq!(baud_rate(0xBD), Some(9600));
        assert_eq!(baud_rate(0xBF), Some(38400));
    }
}
