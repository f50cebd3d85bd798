//! The sans-IO DSMR P2 protocol engines: [`EMeter`] (the P2 master / "other device") and
//! [`MBusDevice`] (a gas, thermal, water or slave-E meter), wired and wireless.
//!
//! Sans-IO: the caller passes received bytes and the current time in ([`EMeter::handle_received`],
//! [`EMeter::handle_timeout`]) and takes bytes to send, the next deadline and typed events out
//! ([`EMeter::poll_transmit`], [`EMeter::poll_timeout`], [`EMeter::poll_event`]). No sockets, clocks,
//! threads or randomness inside: the same inputs give the same outputs. Times are Unix
//! milliseconds (UTC), as the caller's clock says.
//!
//! The message flows implement DSMR P2 §4.3 (wired), §4.4 (wireless, with the frequent access
//! cycle), §5.2 (frame counters), §6.2/§6.3 (commands, readout list), §6.5 (keys) and §8
//! (installation and binding); choices the standard leaves open are in docs/decisions.md.

mod device;
mod emeter;

pub use device::{DeviceConfig, DeviceState, FacState, MBusDevice};
pub use emeter::{Awaiting, ChannelState, EMeter, EMeterConfig, EMeterState, Pending, Task};

use super::app::{Command, P2Data};
use super::control::{Medium, MessageKind};
use super::error::DsmrError;
use super::short_id::ShortId;

/// Unix time in milliseconds (UTC), the engines' only notion of time.
pub type Millis = i64;

/// The state of an M-Bus device (§8.2; test mode is vendor specific and out of scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Storage: the wireless interface is inactive.
    Storage,
    /// Installation: a wired device accepts settings; a wireless one broadcasts SND_IR.
    Installation,
    /// Customer: normal operation.
    Customer,
}

/// What happened, for the caller (and the head-end).
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// E-meter: a device answered the wired scan, or sent an SND_IR (§8.3.1, §8.4.2.1).
    DeviceFound {
        /// The device.
        short_id: ShortId,
        /// Wired: its primary address (0 = unconfigured); None for wireless.
        primary_address: Option<u8>,
    },
    /// The device and the E-meter are bound (E-meter: channel registered and the device
    /// confirmed; device: address set or CNF_IR received, now in customer mode).
    Bound {
        /// E-meter channel 1–4 (0 on the device side).
        channel: u8,
        /// The device.
        short_id: ShortId,
    },
    /// A wired device's primary address was set (§6.2.2).
    AddressSet {
        /// Channel (0 on the device side).
        channel: u8,
        /// The new address.
        address: u8,
    },
    /// A new user key is in use (§6.5.1).
    KeySet {
        /// Channel (0 on the device side).
        channel: u8,
    },
    /// The device clock was set (§6.2.1).
    ClockSet {
        /// Channel (0 on the device side).
        channel: u8,
        /// The time set (Unix seconds, UTC).
        time: i64,
        /// Device side: the deviation found (new − old clock, seconds); 0 on the E-meter side.
        deviation: i64,
    },
    /// A command was carried out (device) or acknowledged (E-meter).
    CommandDone {
        /// Channel (0 on the device side).
        channel: u8,
        /// The command.
        command: Command,
    },
    /// A command got no acknowledgement after its retries (E-meter).
    CommandFailed {
        /// Channel.
        channel: u8,
        /// The command.
        command: Command,
    },
    /// The readout list went back to the default (§6.3.2).
    ReadoutReset {
        /// Channel (0 on the device side).
        channel: u8,
    },
    /// Meter data received (E-meter): RSP_UD, SND_NR or SND_IR of a registered device.
    Reading {
        /// Channel.
        channel: u8,
        /// Which message brought it.
        kind: MessageKind,
        /// The frame counter (method 15).
        frame_counter: Option<u32>,
        /// The named data blocks; None when encrypted with a key the E-meter does not have yet
        /// (§8.4.2.2 step 8).
        data: Option<P2Data>,
    },
    /// A received message was rejected (§4.1 C/CI, §5.2 replay, decryption, §6.5 clear
    /// message with a user key set...): nothing of it was used.
    Rejected {
        /// Medium it came on.
        medium: Medium,
        /// Why.
        error: DsmrError,
    },
    /// Device: a frequent access cycle started or ended (§4.4); E-meter: installation mode.
    Mode {
        /// Channel (0 for the engine itself).
        channel: u8,
        /// Device: its new state; E-meter: Installation on entry, Customer on exit.
        mode: Mode,
    },
    /// Wireless device: a frequent access cycle began (true) or ended (false).
    Fac {
        /// Whether the FAC is running now.
        active: bool,
    },
}

/// FIFO of outputs shared by both engines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outbox {
    pub(crate) tx: std::collections::VecDeque<(Medium, Vec<u8>)>,
    pub(crate) events: std::collections::VecDeque<Event>,
}

impl Outbox {
    pub(crate) fn send(&mut self, medium: Medium, bytes: Vec<u8>) {
        self.tx.push_back((medium, bytes));
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    pub(crate) fn reject(&mut self, medium: Medium, error: DsmrError) {
        self.events.push_back(Event::Rejected { medium, error });
    }
}

/// A small deterministic hash (FNV-1a) for per-device schedule offsets: no randomness inside.
pub(crate) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

