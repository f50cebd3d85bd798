//! The E-meter's persistable state (issue 14 §5 "serialisable state, so a head-end can persist
//! it"): everything that changes, apart from outputs not yet polled.

use std::collections::VecDeque;

use super::{Awaiting, ChannelState, EMeter, EMeterConfig, Pending};
use crate::dsmr::engine::{Millis, Outbox};
use crate::dsmr::error::DsmrError;
use crate::dsmr::short_id::ShortId;

/// Everything that changes in an [`EMeter`]: persist it to resume ([`EMeter::from_state`]).
/// It holds the channels' user keys in clear: store it as key material. Bytes to send and
/// events not yet polled are not part of it (poll them before persisting).
#[derive(Clone, Debug, PartialEq)]
pub struct EMeterState {
    /// The registered channels, in channel order.
    pub channels: Vec<ChannelState>,
    /// The E-meter's access number (§4.2.4), the last one used.
    pub access_number: u8,
    /// Installation mode ends then (§8.1); None = not in installation mode.
    pub install_until: Option<Millis>,
    /// Wireless devices seen in installation mode, not registered (§8.1).
    pub detected: Vec<ShortId>,
    /// Wired addresses still to scan in this cycle (§8.3.1).
    pub scan: Vec<u8>,
    /// The next wired scan cycle.
    pub next_scan: Option<Millis>,
    /// The next hourly poll.
    pub next_poll: Option<Millis>,
    /// The wired transaction in progress.
    pub wired: Option<Pending>,
}

impl EMeter {
    /// The configuration.
    pub fn config(&self) -> &EMeterConfig {
        &self.cfg
    }

    /// A snapshot of the state (persist it; [`EMeter::from_state`]).
    pub fn state(&self) -> EMeterState {
        EMeterState {
            channels: self.channels().cloned().collect(),
            access_number: self.acc,
            install_until: self.install_until,
            detected: self.detected.clone(),
            scan: self.scan.iter().copied().collect(),
            next_scan: self.next_scan,
            next_poll: self.next_poll,
            wired: self.wired.clone(),
        }
    }

    /// Resume from a persisted state. `dsmr_state` if a channel number is not 1–4 or repeats, or
    /// the wired transaction waits for a channel's answer and that channel is not registered.
    pub fn from_state(cfg: EMeterConfig, st: EMeterState) -> Result<Self, DsmrError> {
        let bad = |reason: String| DsmrError::State { reason };
        let mut channels: [Option<ChannelState>; 4] = Default::default();
        for c in st.channels {
            let n = c.channel;
            let slot = channels.get_mut(usize::from(n).wrapping_sub(1)).ok_or_else(|| bad(format!("channel {n} is not 1-4")))?;
            if slot.is_some() {
                return Err(bad(format!("channel {n} given twice")));
            }
            *slot = Some(c);
        }
        if let Some(p) = &st.wired {
            let needs_channel = matches!(p.awaiting, Awaiting::Ack { .. } | Awaiting::Data { .. } | Awaiting::Nothing);
            let known = channels.get(usize::from(p.channel).wrapping_sub(1)).is_some_and(Option::is_some);
            if needs_channel && !known {
                return Err(bad(format!("the wired transaction is for channel {}, which is not registered", p.channel)));
            }
        }
        Ok(EMeter {
            cfg,
            channels,
            acc: st.access_number,
            install_until: st.install_until,
            detected: st.detected,
            scan: st.scan.into_iter().collect::<VecDeque<u8>>(),
            next_scan: st.next_scan,
            next_poll: st.next_poll,
            wired: st.wired,
            out: Outbox::default(),
        })
    }
}
