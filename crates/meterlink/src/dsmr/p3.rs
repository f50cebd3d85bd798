//! P2 → P3 (DSMR P2 Appendix A): how each received P2 telegram shows on the E-meter's DLMS side
//! for its channel x = 1–4: the M-Bus client setup object 0-x:24.1.0.255, the equipment
//! identifier 0-x:96.1.0.255, and the last value with its capture time (0-x:24.2.1.255 /
//! 0-x:24.3.0.255 capture objects) — as OBIS rows (the DLMS family's [`ObisRow`]) and as DSMR P1
//! text lines.
//!
//! CONTRACT (lead-owned signatures; the app-layer worker implements the bodies and may add
//! items): [`ChannelView`], [`ClientSetup`], [`ChannelView::new`], [`ChannelView::update`],
//! [`ChannelView::obis_rows`], [`ChannelView::p1_lines`], [`p3_view`].

use super::app::{P2Data, Reading};
use super::error::DsmrError;
use super::short_id::ShortId;
use crate::crypto::Key;
use crate::dlms::obis::ObisRow;

/// The M-Bus client setup attributes of Appendix A's header table (class 72).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSetup {
    /// Primary address (wired; 0 for wireless).
    pub primary_address: u8,
    /// Identification number (the Short ID's, decimal).
    pub identification_number: u32,
    /// Manufacturer code (M field).
    pub manufacturer_id: u16,
    /// Version (DSMR compliance level).
    pub version: u8,
    /// Device type.
    pub device_type: u8,
    /// Access number of the last telegram.
    pub access_number: u8,
    /// Status (from the `01 FD 17` record, Appendix A: not the header byte).
    pub status: u8,
}

/// The P3 view of one channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelView {
    /// Channel 1–4.
    pub channel: u8,
    /// 0-x:24.1.0.255.
    pub client_setup: ClientSetup,
    /// 0-x:96.1.0.255.
    pub equipment_id: Option<String>,
    /// The last reading and its capture time (Unix seconds UTC), 0-x:24.2.1.255.
    pub last: Option<(Reading, i64)>,
    /// The meter configuration mask (§6.4.8), captured too.
    pub config_mask: Option<u8>,
    /// The daylight-saving flag of the capture time, as the telegram tells it (P1 "S"/"W").
    pub summer_time: Option<bool>,
}

impl ChannelView {
    /// An empty view of `channel`.
    pub fn new(channel: u8) -> Self {
        ChannelView { channel, ..Default::default() }
    }

    /// Take one received telegram: its Short ID, access number, primary address (0 wireless)
    /// and named data blocks.
    pub fn update(&mut self, short_id: &ShortId, access_number: u8, primary_address: u8, data: &P2Data) {
        let _ = (short_id, access_number, primary_address, data);
        todo!("app-layer worker")
    }

    /// The view as OBIS rows (`0-x:24.1.0.255` attributes, `0-x:96.1.0.255`,
    /// `0-x:24.2.1.255` value with scaler/unit, its capture time).
    pub fn obis_rows(&self) -> Vec<ObisRow> {
        todo!("app-layer worker")
    }

    /// The view as DSMR P1 lines, e.g. `0-1:96.1.0(…)`, `0-1:24.2.1(090618110000S)(00000.391*m3)`.
    pub fn p1_lines(&self) -> Vec<String> {
        todo!("app-layer worker")
    }
}

/// The P3 view of a single P2 telegram (wired RSP_UD or wireless SND_NR/RSP_UD/SND_IR, method 0
/// or 15 with `key`) on `channel`.
pub fn p3_view(frame: &[u8], channel: u8, key: Option<&Key>) -> Result<ChannelView, DsmrError> {
    let _ = (frame, channel, key);
    todo!("app-layer worker")
}
