//! The E-meter engine: the P2 master of up to four channels (DSMR P2 §1.2), wired (§4.3: it
//! polls, scans and commands) and wireless (§4.4: it listens, answers SND_IR with CNF_IR and
//! commands a device inside the frequent access cycle after one of its transmissions).

mod state;
mod wired;
mod wireless;

pub use state::EMeterState;

use std::collections::VecDeque;

use super::{Event, Millis, Mode, Outbox};
use crate::crypto::Key;
use crate::dsmr::app::{self, Command};
use crate::dsmr::control::{Medium, MessageKind};
use crate::dsmr::error::{Direction, DsmrError};
use crate::dsmr::message::{self, Header, LinkAddress, Message};
use crate::dsmr::p3::ChannelView;
use crate::dsmr::short_id::ShortId;
use crate::address::Address;

const HOUR: Millis = 3_600_000;
const MINUTE: Millis = 60_000;

/// How the E-meter behaves where the standard leaves a choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EMeterConfig {
    /// Wired: how long to wait for E5h / RSP_UD (ms). EN 13757-2: 330 bit times + 50 ms at
    /// 2400 Bd ≈ 190 ms.
    pub response_timeout_ms: Millis,
    /// Wired: retries of a command without answer (§6.3.1: at most 2).
    pub retries: u8,
    /// Wired: the polling period (§4.3: hourly).
    pub poll_interval_ms: Millis,
    /// §8.1: after a key transfer, set the clock and read versions and configuration through a
    /// changed readout list, then restore it.
    pub auto_administer: bool,
    /// The readout selection used by the administration (§8.1, §6.4.2, §6.4.8): VIBs.
    pub admin_readout: Vec<Vec<u8>>,
}

impl Default for EMeterConfig {
    fn default() -> Self {
        EMeterConfig {
            response_timeout_ms: 200,
            retries: 2,
            poll_interval_ms: HOUR,
            auto_administer: true,
            admin_readout: vec![vec![0xFD, 0x0D], vec![0xFD, 0x0E], vec![0xFD, 0x0F], vec![0xFD, 0x67]],
        }
    }
}

/// Work for a device, queued by the API (and by the administration of §8.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// §6.5.1: send the wrapped key; on acknowledgement use `user` from then on.
    Key {
        /// The new user key in clear (P3 transfer_key gives both forms).
        user: Key,
        /// The same key encrypted with the device's default key.
        wrapped: [u8; 16],
    },
    /// §6.2.1: set the device clock to the E-meter's time at sending.
    Clock,
    /// §6.3.1: select these VIBs for readout, read them (REQ_UD2), restore (SND_NKE).
    Readout(Vec<Vec<u8>>),
    /// §6.3.2: reset the readout list (SND_NKE).
    ResetReadout,
    /// §6.2.3: clear the status bits in the mask.
    ClearStatus(u8),
    /// REQ_UD2: read meter data now (also to learn the frame counter, §5.2).
    Request,
    /// §6.2.2 (wired): set the primary address.
    Address(u8),
}

/// One channel of the E-meter (the M-Bus client setup object 0-x:24.1.0.255).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelState {
    /// 1–4.
    pub channel: u8,
    /// Wired or wireless.
    pub medium: Medium,
    /// The registered Short ID.
    pub short_id: ShortId,
    /// Wired primary address.
    pub primary_address: u8,
    /// Whether the device confirmed the binding (answered, or got its CNF_IR).
    pub bound: bool,
    /// The user key, once transferred (or given).
    pub user_key: Option<Key>,
    /// The last validated frame counter (§5.2); None = unknown (a REQ_UD2 comes first).
    pub counter: Option<u32>,
    /// Work not yet done.
    pub tasks: VecDeque<Task>,
    /// Wireless: a frequent access cycle the E-meter is running: what it waits for.
    pub fac: Option<Awaiting>,
    /// The readout list is changed (§6.3.1) and not reset yet.
    pub readout_changed: bool,
    /// After a key change was acknowledged: the key before it and the task, until the device's
    /// next meter data shows which key it really uses (an acknowledgement proves nothing: E5h
    /// carries no identity).
    pub unconfirmed_key: Option<(Option<Key>, Task)>,
    /// A REQ_UD2 was sent to learn the frame counter for the next task (§5.2); if the counter is
    /// still unknown after it, that task fails instead of asking again.
    pub sync_tried: bool,
    /// The P3 view (Appendix A).
    pub view: ChannelView,
    /// When the device was last heard.
    pub last_seen: Option<Millis>,
}

/// What the E-meter waits for after sending to a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Awaiting {
    /// Nothing (the FAC is open, the next task may go).
    Nothing,
    /// E5h / ACK for `task` (wireless ACK carries our access number `acc`).
    Ack {
        /// The task sent.
        task: Task,
        /// Our access number in it.
        acc: u8,
        /// Tries so far.
        tries: u8,
        /// The E-meter's time when sent (Unix seconds; the time a clock task set).
        time: i64,
    },
    /// RSP_UD after REQ_UD2.
    Data {
        /// Tries so far.
        tries: u8,
    },
    /// Wired scan: E5h from address 0.
    ScanNke,
    /// Wired scan: RSP_UD from `address` (0 = the new device).
    ScanData {
        /// Address polled.
        address: u8,
    },
    /// Wired scan: E5h for setting a new device to `address`.
    ScanAddress {
        /// The address given.
        address: u8,
        /// The device found.
        short_id: ShortId,
    },
}

/// A wired transaction in progress (part of [`EMeterState`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// The channel it is for (0 = the installation scan).
    pub channel: u8,
    /// What the E-meter waits for.
    pub awaiting: Awaiting,
    /// When it counts as unanswered.
    pub deadline: Millis,
    /// The frame sent (sent again on a retry).
    pub frame: Vec<u8>,
}

/// The E-meter engine.
#[derive(Clone, Debug)]
pub struct EMeter {
    cfg: EMeterConfig,
    channels: [Option<ChannelState>; 4],
    acc: u8,
    install_until: Option<Millis>,
    detected: Vec<ShortId>,
    scan: VecDeque<u8>,
    next_scan: Option<Millis>,
    next_poll: Option<Millis>,
    wired: Option<Pending>,
    out: Outbox,
}

impl EMeter {
    /// An E-meter with no channels; `access_number` is its initial ACC.
    pub fn new(cfg: EMeterConfig, access_number: u8) -> Self {
        EMeter {
            cfg,
            channels: Default::default(),
            acc: access_number,
            install_until: None,
            detected: Vec::new(),
            scan: VecDeque::new(),
            next_scan: None,
            next_poll: None,
            wired: None,
            out: Outbox::default(),
        }
    }

    /// The channel 1–4, if registered.
    pub fn channel(&self, channel: u8) -> Option<&ChannelState> {
        self.channels.get(usize::from(channel).wrapping_sub(1))?.as_ref()
    }

    /// All registered channels.
    pub fn channels(&self) -> impl Iterator<Item = &ChannelState> {
        self.channels.iter().flatten()
    }

    /// Wireless devices seen in installation mode and not registered (the display list, §8.1).
    pub fn detected(&self) -> &[ShortId] {
        &self.detected
    }

    /// Whether installation mode is on.
    pub fn installing(&self) -> bool {
        self.install_until.is_some()
    }

    /// Next bytes to send, and on which medium.
    pub fn poll_transmit(&mut self) -> Option<(Medium, Vec<u8>)> {
        self.out.tx.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When [`EMeter::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let w = self.wired.as_ref().map(|p| p.deadline);
        [w, self.next_scan, self.next_poll, self.install_until].into_iter().flatten().min()
    }

    /// §8.1: M-Bus cover removed or power-up: installation mode for an hour; the wired scan
    /// starts (every minute until four devices, cover closed, or the hour is over).
    pub fn cover_opened(&mut self, now: Millis) {
        self.install_until = Some(now + HOUR);
        self.next_scan = Some(now);
        self.out.event(Event::Mode { channel: 0, mode: Mode::Installation });
        self.run(now);
    }

    /// §8.1: the cover is back: installation mode ends.
    pub fn cover_closed(&mut self, now: Millis) {
        self.end_installation();
        self.run(now);
    }

    /// §8.3.1.2: the DLMS slave_install(): one scan cycle of address 0 and the unused addresses.
    pub fn slave_install(&mut self, now: Millis) {
        self.queue_scan();
        self.run(now);
    }

    /// Start hourly polling of wired channels (at the next whole hour).
    pub fn start_polling(&mut self, now: Millis) {
        self.next_poll = Some(now.div_euclid(HOUR) * HOUR + self.cfg.poll_interval_ms);
    }

    /// §8.4.2.1 3b/3c, §8.3.1.1: write a Short ID (and a wired primary address) into channel
    /// 1–4's M-Bus client setup (P0 / P3). Wired: the E-meter then polls it to bind.
    pub fn register(&mut self, now: Millis, channel: u8, medium: Medium, short_id: ShortId, primary_address: u8) -> Result<(), DsmrError> {
        let slot = self.slot(channel)?;
        *slot = Some(ChannelState {
            channel,
            medium,
            short_id,
            primary_address,
            bound: false,
            user_key: None,
            counter: None,
            tasks: VecDeque::new(),
            fac: None,
            readout_changed: false,
            unconfirmed_key: None,
            sync_tried: false,
            view: ChannelView::new(channel),
            last_seen: None,
        });
        self.detected.retain(|s| *s != short_id);
        if medium == Medium::Wired {
            self.task(channel, Task::Request)?;
        }
        self.run(now);
        Ok(())
    }

    /// §8.4.2.2 step 5: the installer selects a detected wireless device; it is registered on
    /// the first free channel. Returns the channel.
    pub fn select(&mut self, now: Millis, short_id: ShortId) -> Result<u8, DsmrError> {
        if !self.installing() || !self.detected.contains(&short_id) {
            return Err(DsmrError::State { reason: format!("{short_id} is not in the installation list") });
        }
        let ch = self.free_channel().ok_or_else(|| DsmrError::State { reason: "four channels in use".into() })?;
        self.register(now, ch, Medium::Wireless, short_id, 0)?;
        Ok(ch)
    }

    /// Remove a channel's registration (de-installation).
    pub fn deregister(&mut self, channel: u8) -> Result<(), DsmrError> {
        *self.slot(channel)? = None;
        // A wired transaction of that channel is dropped: its answer has no channel to go to.
        if self.wired.as_ref().is_some_and(|p| p.channel == channel) {
            self.wired = None;
        }
        Ok(())
    }

    /// Queue work for a channel (wired: runs now; wireless: in the next FAC).
    pub fn task(&mut self, channel: u8, task: Task) -> Result<(), DsmrError> {
        let ch = self.slot(channel)?.as_mut().ok_or_else(|| no_channel(channel))?;
        ch.tasks.push_back(task);
        Ok(())
    }

    /// §6.5.1 / P3 transfer_key: send `wrapped` (the user key encrypted with the device's default
    /// key) and use `user` once the device acknowledged.
    pub fn transfer_key(&mut self, now: Millis, channel: u8, user: Key, wrapped: [u8; 16]) -> Result<(), DsmrError> {
        self.task(channel, Task::Key { user, wrapped })?;
        self.run(now);
        Ok(())
    }

    /// Queue a task and run the wired bus (`task` + `run`).
    pub fn command(&mut self, now: Millis, channel: u8, task: Task) -> Result<(), DsmrError> {
        self.task(channel, task)?;
        self.run(now);
        Ok(())
    }

    /// The E-meter knows a channel's user key already (e.g. restored from the CS).
    pub fn set_key(&mut self, channel: u8, key: Option<Key>) -> Result<(), DsmrError> {
        let ch = self.slot(channel)?.as_mut().ok_or_else(|| no_channel(channel))?;
        ch.user_key = key;
        Ok(())
    }

    fn slot(&mut self, channel: u8) -> Result<&mut Option<ChannelState>, DsmrError> {
        self.channels.get_mut(usize::from(channel).wrapping_sub(1)).ok_or_else(|| no_channel(channel))
    }

    fn free_channel(&self) -> Option<u8> {
        (1..=4u8).find(|&c| self.channels[usize::from(c) - 1].is_none())
    }

    fn end_installation(&mut self) {
        if self.install_until.take().is_some() {
            self.next_scan = None;
            self.scan.clear();
            self.out.event(Event::Mode { channel: 0, mode: Mode::Customer });
        }
    }

    /// Time passed: wired time-outs, scan, hourly poll, end of installation.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.install_until.is_some_and(|t| t <= now) {
            self.end_installation();
        }
        if self.wired.as_ref().is_some_and(|p| p.deadline <= now) {
            self.wired_timeout(now);
        }
        if self.next_scan.is_some_and(|t| t <= now) {
            self.next_scan = Some(now + MINUTE);
            self.queue_scan();
        }
        if self.next_poll.is_some_and(|t| t <= now) {
            self.next_poll = Some(now + self.cfg.poll_interval_ms);
            for c in self.channels.iter_mut().flatten().filter(|c| c.medium == Medium::Wired && c.bound) {
                c.tasks.push_back(Task::Request);
            }
        }
        self.run(now);
    }

    /// Bytes received on `medium`.
    pub fn handle_received(&mut self, now: Millis, medium: Medium, bytes: &[u8]) {
        let msg = match message::parse(medium, Direction::FromDevice, bytes) {
            Ok(m) => m,
            Err(e) => {
                self.out.reject(medium, e);
                if medium == Medium::Wired {
                    self.wired_timeout(now); // a garbled answer counts as none (retry)
                }
                return;
            }
        };
        match medium {
            Medium::Wired => self.wired_received(now, &msg),
            Medium::Wireless => self.wireless_received(now, &msg),
        }
        self.run(now);
    }
}

fn no_channel(channel: u8) -> DsmrError {
    DsmrError::State { reason: format!("no device registered on channel {channel}") }
}

// ---- shared: building frames, reading meter data ----------------------------------------

impl EMeter {
    fn next_acc(&mut self) -> u8 {
        self.acc = self.acc.wrapping_add(1);
        self.acc
    }

    /// The application data and CI of a task's SND_UD (§6.2, §6.3.1, §6.5.1).
    fn task_records(now: Millis, task: &Task) -> Option<(Command, bool)> {
        let cmd = match task {
            Task::Key { wrapped, .. } => Command::SetKey(*wrapped),
            Task::Clock => Command::SetTime(now.div_euclid(1000)),
            Task::Readout(v) => Command::SelectReadout(v.clone()),
            Task::ClearStatus(m) => Command::ClearStatus(*m),
            Task::Address(a) => Command::SetAddress(*a),
            Task::ResetReadout | Task::Request => return None,
        };
        // Set-key and set-address always travel in clear (§6.5, §6.2.2).
        let clear = matches!(cmd, Command::SetKey(_) | Command::SetAddress(_));
        Some((cmd, clear))
    }

    /// Build the frame for `task` to channel `ch` (None: the task needs the frame counter first).
    fn task_frame(&mut self, now: Millis, ch: u8, task: &Task) -> Option<(Vec<u8>, u8)> {
        let acc = self.next_acc();
        let c = self.channel(ch)?.clone();
        let (medium, sid) = (c.medium, c.short_id);
        let link = match medium {
            Medium::Wired => LinkAddress::Primary(c.primary_address),
            Medium::Wireless => LinkAddress::Radio(Address::default()),
        };
        let long = |cw| Some(Header { short_id: Some(sid), acc, status: 0, cw });
        let (kind, header, records, key) = match Self::task_records(now, task) {
            None => {
                let kind = if *task == Task::Request { MessageKind::DataRequest } else { MessageKind::Normalisation };
                let h = if medium == Medium::Wireless { long(Default::default()) } else { None };
                (kind, h, Vec::new(), None)
            }
            Some((cmd, clear)) => {
                let key = if clear { None } else { c.user_key };
                if key.is_some() && c.counter.is_none() {
                    return None;
                }
                let kind = match (&cmd, medium) {
                    (Command::SetTime(_), _) => MessageKind::ClockSync,
                    (Command::SetKey(_) | Command::SetAddress(_), Medium::Wired) => MessageKind::Unencrypted,
                    _ => MessageKind::Control,
                };
                let h = match (kind, medium) {
                    (MessageKind::Unencrypted, _) => None,
                    (MessageKind::Control, Medium::Wired) => Some(Header { short_id: None, acc, status: 0, cw: Default::default() }),
                    _ => long(Default::default()),
                };
                (kind, h, app::encode_commands(&[cmd]), key)
            }
        };
        let mut m = Message::new(medium, kind, link, header, Vec::new())?;
        let fc = c.counter.unwrap_or(0).wrapping_add(1);
        m.seal(&records, key.as_ref(), &sid.0, fc);
        if key.is_some() {
            self.chan_mut(ch).counter = Some(fc); // §5.2: the sender increments by one
        }
        Some((m.encode().ok()?, acc))
    }

    /// The frame for the next task of `ch`, learning the frame counter first where needed
    /// (§5.2: a REQ_UD2 before an encrypted command when the counter is unknown). Returns the
    /// task and its frame; None when nothing is queued.
    fn next_frame(&mut self, now: Millis, ch: u8, default: Option<Task>) -> Option<(Task, Vec<u8>, u8)> {
        loop {
            let task = self.chan_mut(ch).tasks.pop_front().or_else(|| default.clone())?;
            if let Some((frame, acc)) = self.task_frame(now, ch, &task) {
                if task != Task::Request {
                    self.chan_mut(ch).sync_tried = false;
                }
                return Some((task, frame, acc));
            }
            if std::mem::take(&mut self.chan_mut(ch).sync_tried) {
                self.task_failed(ch, &task, now.div_euclid(1000)); // still no counter: give up
                continue;
            }
            let c = self.chan_mut(ch);
            c.sync_tried = true;
            c.tasks.push_front(task);
            c.tasks.push_front(Task::Request);
        }
    }

    fn chan_mut(&mut self, ch: u8) -> &mut ChannelState {
        self.channels[usize::from(ch) - 1].as_mut().expect("registered channel")
    }

    fn channel_of(&self, medium: Medium, sid: &ShortId) -> Option<u8> {
        self.channels().find(|c| c.medium == medium && c.short_id == *sid).map(|c| c.channel)
    }

    /// Meter data from channel `ch` (RSP_UD, SND_NR, SND_IR): §6.5 clear data refused once a key
    /// is set, mode-15 decryption, §5.2 counter check, §6.4 blocks, the P3 view.
    fn meter_data(&mut self, now: Millis, ch: u8, msg: &Message) {
        self.confirm_key(ch, msg);
        let c = self.chan_mut(ch);
        c.last_seen = Some(now);
        let sid = c.short_id;
        if !msg.encrypted() && c.user_key.is_some() && !msg.payload.is_empty() {
            return self.out.reject(msg.medium, DsmrError::Unencrypted { what: "meter data" });
        }
        if msg.encrypted() && c.user_key.is_none() {
            let fc = msg.frame_counter();
            return self.out.event(Event::Reading { channel: ch, kind: msg.kind, frame_counter: fc, data: None });
        }
        let (plain, fc) = match msg.open(c.user_key.as_ref(), &sid.0) {
            Ok(x) => x,
            Err(e) => return self.out.reject(msg.medium, e),
        };
        if let (Some(fc), Some(last)) = (fc, c.counter) {
            if fc <= last {
                return self.out.reject(msg.medium, DsmrError::Replay { counter: fc, last });
            }
        }
        if fc.is_some() {
            c.counter = fc;
        }
        let data = match app::parse_data(sid.0.device_type, &plain) {
            Ok(d) => d,
            Err(e) => return self.out.reject(msg.medium, e.rebased(msg.payload_offset)),
        };
        let acc = msg.header.map_or(0, |h| h.acc);
        c.view.update(&sid, acc, c.primary_address, &data);
        self.out.event(Event::Reading { channel: ch, kind: msg.kind, frame_counter: fc, data: Some(data) });
    }

    /// The first meter data after a key change settles it: decrypted by the new key, it is
    /// confirmed; clear, or readable only with the old key, the change did not happen — the old
    /// key stays and the key task is reported failed.
    fn confirm_key(&mut self, ch: u8, msg: &Message) {
        let c = self.chan_mut(ch);
        let Some((old, task)) = c.unconfirmed_key.take() else { return };
        let sid = c.short_id.0;
        let reads = |k: Option<&Key>| match (msg.encrypted(), k) {
            (false, None) => true,
            (true, Some(k)) => msg.open(Some(k), &sid).is_ok(),
            _ => false,
        };
        if reads(c.user_key.as_ref()) || !reads(old.as_ref()) {
            return;
        }
        c.user_key = old;
        c.counter = None;
        self.task_failed(ch, &task, 0);
    }

    /// A task was acknowledged: its effect on the E-meter side and what follows (§8.1).
    fn task_done(&mut self, ch: u8, task: Task, time: i64) {
        let admin = self.cfg.auto_administer;
        let readout = self.cfg.admin_readout.clone();
        let c = self.chan_mut(ch);
        match &task {
            Task::Key { user, .. } => {
                c.unconfirmed_key = Some((c.user_key, task.clone()));
                c.user_key = Some(*user);
                c.counter = None; // learnt from the next encrypted message (§5.2)
                if admin {
                    c.tasks.push_back(Task::Clock);
                    c.tasks.push_back(Task::Readout(readout));
                }
                self.out.event(Event::KeySet { channel: ch });
            }
            Task::Clock => self.out.event(Event::ClockSet { channel: ch, time, deviation: 0 }),
            Task::Readout(_) => {
                // Read the selection, then restore the default list (§6.3.1, §8.1): wired with
                // SND_NKE; wireless the SND_NKE that ends the FAC does it (§6.3.2).
                c.readout_changed = true;
                if c.medium == Medium::Wired {
                    c.tasks.push_front(Task::ResetReadout);
                }
                c.tasks.push_front(Task::Request);
            }
            Task::ResetReadout => {
                c.readout_changed = false;
                self.out.event(Event::ReadoutReset { channel: ch });
            }
            Task::Address(a) => {
                c.primary_address = *a;
                self.out.event(Event::AddressSet { channel: ch, address: *a });
            }
            Task::ClearStatus(_) | Task::Request => {}
        }
        if let Some((cmd, _)) = Self::task_records(time * 1000, &task) {
            self.out.event(Event::CommandDone { channel: ch, command: cmd });
        }
    }
}
