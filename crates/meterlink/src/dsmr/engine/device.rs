//! The M-Bus device engine (a G/thermal/water/slave-E meter): DSMR P2 §4.3 as the wired slave,
//! §4.4 as the wireless T2 meter (SND_NR schedule, frequent access cycle, SND_IR installation),
//! §5.2 frame counter owner, §6.2/§6.3 commands and readout list, §6.5 keys, §8.2 states.

use super::{fnv, Event, Millis, Mode, Outbox};
use crate::crypto::Key;
use crate::dsmr::app::{self, Command, DeviceValues};
use crate::dsmr::control::{ConfigWord, Medium, MessageKind};
use crate::dsmr::error::{Direction, DsmrError};
use crate::dsmr::message::{self, Header, LinkAddress, Message};
use crate::dsmr::mode15;
use crate::dsmr::short_id::ShortId;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 3_600_000;
/// §4.4: the FAC ends after this many device transmissions without an E-meter frame.
pub const FAC_TRANSMISSIONS: u8 = 6;

/// What a device is built with (fixed for its life).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Wired or wireless.
    pub medium: Medium,
    /// The Short ID (§4.2.2); its version is the DSMR level (42h; 40h for a DSMR 4.0 device).
    pub short_id: ShortId,
    /// The default key (§6.5): only ever used to unwrap new user keys.
    pub default_key: Key,
    /// FAC transmission delay N in seconds (§4.4: 2, 3, 4 or 5).
    pub fac_delay_s: u8,
    /// How long the radio listens after each transmission (ms). EN 13757-4 T2 gives the E-meter
    /// a few ms; in simulated time the E-meter answers at once, so the default is lenient.
    pub response_window_ms: Millis,
    /// Seconds after the whole hour of the SND_NR (§3.2.5: within the 10-minute window); None
    /// derives one (0–539 s) from the Short ID.
    pub schedule_offset_s: Option<u32>,
}

impl DeviceConfig {
    /// A device with the defaults: N = 2 s, a 1 s listening window, offset from the Short ID.
    pub fn new(medium: Medium, short_id: ShortId, default_key: Key) -> Self {
        DeviceConfig { medium, short_id, default_key, fac_delay_s: 2, response_window_ms: 1000, schedule_offset_s: None }
    }
}

/// Everything that changes: persist it to resume the device ([`MBusDevice::from_state`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceState {
    /// §8.2 state.
    pub mode: Mode,
    /// The user key; None = not set ("equal to zero", §5.1: messages go out with method 0).
    pub user_key: Option<Key>,
    /// Wired primary address (0 = unconfigured).
    pub primary_address: u8,
    /// The frame counter (§5.2: owned by the device, never reset).
    pub frame_counter: u32,
    /// Access number (§4.2.4).
    pub access_number: u8,
    /// Device clock minus the caller's clock (ms).
    pub clock_offset: Millis,
    /// The values it reports (status included).
    pub values: DeviceValues,
    /// The changed readout list (§6.3.1), None = default.
    pub selection: Option<Vec<Vec<u8>>>,
    /// Wireless: when installation mode (re)started (SND_IR every minute for an hour, §3.2.5).
    pub install_since: Option<Millis>,
    /// Wireless: when the next scheduled transmission is due.
    pub next_tx: Option<Millis>,
    /// Wireless: the radio listens until then.
    pub listen_until: Option<Millis>,
    /// Wireless: the frequent access cycle, if running.
    pub fac: Option<FacState>,
    /// The wrapped forms of the last [`KEY_HISTORY`] key changes accepted (newest last): a
    /// replayed older one is refused (`dsmr_key_replay`).
    pub key_history: Vec<[u8; 16]>,
}

/// How many past key changes a device remembers to refuse their replay.
pub const KEY_HISTORY: usize = 8;

/// A running frequent access cycle (§4.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacState {
    /// The response to send in the next slot (ACK or RSP_UD), if a request came.
    pub pending: Option<Vec<u8>>,
    /// Consecutive slots without an E-meter frame.
    pub idle: u8,
    /// Whether an E-meter frame came in the current window.
    pub heard: bool,
}

/// The M-Bus device engine.
#[derive(Clone, Debug)]
pub struct MBusDevice {
    cfg: DeviceConfig,
    st: DeviceState,
    out: Outbox,
}

impl MBusDevice {
    /// A device in `mode` with `values`, no user key unless given, frame counter and access
    /// number as given (§4.2.4: the ACC starts at a random value — the caller picks it).
    pub fn new(cfg: DeviceConfig, mode: Mode, values: DeviceValues, user_key: Option<Key>, primary_address: u8, access_number: u8) -> Self {
        let st = DeviceState {
            mode,
            user_key,
            primary_address,
            frame_counter: 0,
            access_number,
            clock_offset: 0,
            values,
            selection: None,
            install_since: None,
            next_tx: None,
            listen_until: None,
            fac: None,
            key_history: Vec::new(),
        };
        MBusDevice { cfg, st, out: Outbox::default() }
    }

    /// Resume from a persisted state.
    pub fn from_state(cfg: DeviceConfig, st: DeviceState) -> Self {
        MBusDevice { cfg, st, out: Outbox::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// The state (persist it; [`MBusDevice::from_state`]).
    pub fn state(&self) -> &DeviceState {
        &self.st
    }

    /// The values it reports; change readings, status or clock-independent data here.
    pub fn values_mut(&mut self) -> &mut DeviceValues {
        &mut self.st.values
    }

    /// Set the device clock (e.g. an unsynchronised clock at delivery): its time is `device_now`
    /// when the caller's is `now`.
    pub fn set_clock(&mut self, now: Millis, device_now: Millis) {
        self.st.clock_offset = device_now - now;
    }

    /// The device's own time.
    pub fn device_time(&self, now: Millis) -> Millis {
        now + self.st.clock_offset
    }

    /// §8.2 / §8.4.2.2 step 1 and 4: the installer puts a wireless device into installation
    /// mode, or presses the button again (back to one SND_IR a minute). A wired device goes to
    /// installation mode (it accepts settings; nothing is sent).
    pub fn press_button(&mut self, now: Millis) {
        self.set_mode(Mode::Installation);
        if self.cfg.medium == Medium::Wireless {
            self.st.install_since = Some(now);
            self.st.next_tx = Some(now);
        }
    }

    /// Wireless: start the hourly SND_NR schedule (a device delivered in customer mode).
    pub fn start(&mut self, now: Millis) {
        if self.cfg.medium == Medium::Wireless && self.st.mode == Mode::Customer {
            self.st.next_tx = Some(self.next_periodic(now));
        }
    }

    /// The next bytes to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.tx.pop_front().map(|(_, b)| b)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// When [`MBusDevice::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.st.next_tx
    }

    /// Time passed: send what is due (wireless SND_IR / SND_NR / FAC slot).
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some(t) = self.st.next_tx.filter(|&t| t <= now) {
            self.st.next_tx = None;
            if self.st.fac.is_some() {
                self.fac_slot(t);
            } else {
                match self.st.mode {
                    Mode::Installation => self.send_install(t),
                    Mode::Customer => self.send_periodic(t),
                    Mode::Storage => {}
                }
            }
        }
    }

    /// Bytes received from the E-meter.
    pub fn handle_received(&mut self, now: Millis, bytes: &[u8]) {
        if self.cfg.medium == Medium::Wireless && !self.listening(now) {
            return; // the radio is off between windows (§2.2)
        }
        let msg = match message::parse(self.cfg.medium, Direction::ToDevice, bytes) {
            Ok(m) => m,
            Err(e) => return self.out.reject(self.cfg.medium, e),
        };
        if !self.addressed(&msg) {
            return;
        }
        if self.cfg.medium == Medium::Wireless && msg.kind != MessageKind::InstallConfirm {
            if self.st.mode != Mode::Customer {
                return; // not bound yet: only a CNF_IR means anything (§8.4.2.1)
            }
            self.heard_in_window(now);
        }
        let reply = match msg.kind {
            MessageKind::Normalisation => self.normalise(now),
            MessageKind::DataRequest => Some(self.meter_data(now, MessageKind::MeterData)),
            MessageKind::InstallConfirm => self.confirm_install(now),
            MessageKind::Control | MessageKind::ClockSync | MessageKind::Unencrypted => self.command(now, &msg),
            // Table 5 allows REQ_UD1 / REQ_SKE; DSMR does not use them: no data, no answer.
            _ => None,
        };
        if let Some(r) = reply {
            self.respond(r);
        }
    }

    fn listening(&self, now: Millis) -> bool {
        self.st.listen_until.is_some_and(|t| now <= t)
    }

    /// Whether a message is for this device: wired by primary address (§3.1.3, addresses
    /// above 250 ignored), wireless and long headers by Short ID (§3.2.4: the link address of
    /// the E-meter is ignored).
    fn addressed(&self, msg: &Message) -> bool {
        if let LinkAddress::Primary(a) = msg.link {
            if a != self.st.primary_address || a > 250 {
                return false;
            }
        }
        match msg.header.and_then(|h| h.short_id) {
            Some(s) => s == self.cfg.short_id,
            None => self.cfg.medium == Medium::Wired,
        }
    }

    fn set_mode(&mut self, mode: Mode) {
        if self.st.mode != mode {
            self.st.mode = mode;
            self.out.event(Event::Mode { channel: 0, mode });
        }
    }

    /// SND_NKE (§4.3.1, §4.4.1, §6.3.2): reset the readout list; wired answers E5, wireless
    /// ends the FAC.
    fn normalise(&mut self, now: Millis) -> Option<Vec<u8>> {
        self.reset_readout();
        match self.cfg.medium {
            Medium::Wired => Some(vec![0xE5]),
            Medium::Wireless => {
                self.end_fac(now);
                None
            }
        }
    }

    fn reset_readout(&mut self) {
        if self.st.selection.take().is_some() {
            self.out.event(Event::ReadoutReset { channel: 0 });
        }
    }

    /// CNF_IR (§4.4.7, §8.4.2.1): installation done, customer mode, hourly SND_NR from now on.
    fn confirm_install(&mut self, now: Millis) -> Option<Vec<u8>> {
        if self.st.mode == Mode::Installation {
            self.set_mode(Mode::Customer);
            self.st.install_since = None;
            self.out.event(Event::Bound { channel: 0, short_id: self.cfg.short_id });
            self.end_fac(now);
        }
        None
    }

    /// SND_UD: decrypt or accept in clear per §6.5, check the frame counter (§5.2), parse and
    /// carry out the commands, acknowledge.
    fn command(&mut self, now: Millis, msg: &Message) -> Option<Vec<u8>> {
        let plain = match self.open(msg) {
            Ok(p) => p,
            Err(e) => {
                self.out.reject(self.cfg.medium, e);
                return None;
            }
        };
        let ci = msg.ci.unwrap_or(0);
        let cmds = match app::parse_commands(ci, &plain) {
            Ok(c) => c,
            Err(e) => {
                self.out.reject(self.cfg.medium, e.rebased(msg.payload_offset));
                return None;
            }
        };
        if let Err(e) = self.allowed_in_clear(msg, &cmds).and_then(|()| self.fresh_keys(&cmds)) {
            self.out.reject(self.cfg.medium, e);
            return None;
        }
        for c in cmds {
            self.apply(now, c);
        }
        Some(self.ack(msg))
    }

    fn open(&mut self, msg: &Message) -> Result<Vec<u8>, DsmrError> {
        if !msg.encrypted() {
            return Ok(msg.payload.clone());
        }
        let (plain, fc) = msg.open(self.st.user_key.as_ref(), &self.cfg.short_id.0)?;
        let fc = fc.unwrap_or(0);
        if fc <= self.st.frame_counter {
            return Err(DsmrError::Replay { counter: fc, last: self.st.frame_counter });
        }
        self.st.frame_counter = fc; // §5.2: validated, ready for the next message
        Ok(plain)
    }

    /// §6.5 / §4.3.4 / §6.2.2: with a user key set, only set-key comes in clear; without one,
    /// everything may (and set-address only then).
    fn allowed_in_clear(&self, msg: &Message, cmds: &[Command]) -> Result<(), DsmrError> {
        let keyed = self.st.user_key.is_some();
        for c in cmds {
            match c {
                Command::SetAddress(_) if keyed => return Err(DsmrError::Unencrypted { what: "set new address (refused with a user key set, §6.2.2)" }),
                Command::SetKey(_) => {}
                _ if keyed && !msg.encrypted() => return Err(DsmrError::Unencrypted { what: "this command" }),
                _ => {}
            }
        }
        Ok(())
    }

    /// §6.5.1 key changes travel in clear without a frame counter: a recorded one replayed later
    /// would put an old key back. A key change to one of the last [`KEY_HISTORY`] keys other
    /// than the current one is refused (the current one again is harmless: the E-meter's retry).
    fn fresh_keys(&self, cmds: &[Command]) -> Result<(), DsmrError> {
        let h = &self.st.key_history;
        let old = |w: &[u8; 16]| h.iter().rev().skip(1).any(|k| k == w);
        match cmds.iter().any(|c| matches!(c, Command::SetKey(w) if old(w))) {
            true => Err(DsmrError::KeyReplay),
            false => Ok(()),
        }
    }

    fn apply(&mut self, now: Millis, c: Command) {
        match &c {
            Command::SetTime(t) => {
                let deviation = (t * 1000 - self.device_time(now)) / 1000;
                if deviation.abs() > 60 {
                    self.st.values.status |= 0x20; // §6.2.1 clock synchronisation error
                }
                self.st.clock_offset = t * 1000 - now;
                self.out.event(Event::ClockSet { channel: 0, time: *t, deviation });
            }
            Command::SetAddress(a) => {
                self.st.primary_address = *a;
                self.out.event(Event::AddressSet { channel: 0, address: *a });
                if self.st.mode != Mode::Customer && (1..=250).contains(a) {
                    self.set_mode(Mode::Customer);
                    self.out.event(Event::Bound { channel: 0, short_id: self.cfg.short_id });
                }
            }
            Command::ClearStatus(mask) => self.st.values.status &= !mask,
            Command::SetKey(wrapped) => {
                let k = mode15::unwrap_user_key(&self.cfg.default_key, wrapped);
                self.st.user_key = (k != [0u8; 16]).then_some(k); // a zero key unsets it (§6.2.2)
                if self.st.key_history.last() != Some(wrapped) {
                    self.st.key_history.push(*wrapped);
                    let n = self.st.key_history.len().saturating_sub(KEY_HISTORY);
                    self.st.key_history.drain(..n);
                }
                self.out.event(Event::KeySet { channel: 0 });
            }
            Command::SelectReadout(v) => self.st.selection = Some(v.clone()),
        }
        self.out.event(Event::CommandDone { channel: 0, command: c });
    }

    /// Wired E5; wireless ACK (C 00h, CI 8Ah, ACC copied from the SND_UD, no data; §4.4.3).
    fn ack(&mut self, msg: &Message) -> Vec<u8> {
        if self.cfg.medium == Medium::Wired {
            return vec![0xE5];
        }
        let acc = msg.header.map_or(self.st.access_number, |h| h.acc);
        self.build(MessageKind::Ack, acc, &[], false)
    }

    /// Meter data (RSP_UD wired CI 72h / wireless CI 7Ah; SND_NR; SND_IR): the readout
    /// records, encrypted with method 15 when a user key is set (§5.1).
    fn meter_data(&mut self, now: Millis, kind: MessageKind) -> Vec<u8> {
        let hour = self.device_time(now).div_euclid(HOUR) * 3600;
        self.st.values.timestamp = hour;
        let records = app::readout_records(&self.st.values, self.st.selection.as_deref());
        self.st.access_number = self.st.access_number.wrapping_add(1);
        self.build(kind, self.st.access_number, &records, true)
    }

    fn build(&mut self, kind: MessageKind, acc: u8, records: &[u8], data: bool) -> Vec<u8> {
        let medium = self.cfg.medium;
        let sid = self.cfg.short_id;
        let (link, long) = match medium {
            Medium::Wired => (LinkAddress::Primary(self.st.primary_address), true),
            Medium::Wireless => (LinkAddress::Radio(sid.0), false),
        };
        let header = Header { short_id: long.then_some(sid), acc, status: 0, cw: ConfigWord::default() };
        let mut m = Message::new(medium, kind, link, Some(header), Vec::new()).expect("a device message of Table 5/6");
        let key = if data { self.st.user_key } else { None };
        if key.is_some() {
            self.st.frame_counter += 1; // §5.2: the sender increments by exactly one
        }
        m.seal(records, key.as_ref(), &sid.0, self.st.frame_counter);
        m.encode().unwrap_or_default()
    }

    /// Send now (wired) or in the next FAC slot (wireless).
    fn respond(&mut self, bytes: Vec<u8>) {
        match self.cfg.medium {
            Medium::Wired => self.out.send(Medium::Wired, bytes),
            Medium::Wireless => {
                if let Some(f) = &mut self.st.fac {
                    f.pending = Some(bytes);
                }
            }
        }
    }

    fn transmit(&mut self, now: Millis, bytes: Vec<u8>) {
        self.out.send(self.cfg.medium, bytes);
        self.st.listen_until = Some(now + self.cfg.response_window_ms);
    }

    /// An E-meter frame in a listening window: the FAC starts (or goes on, §4.4).
    fn heard_in_window(&mut self, now: Millis) {
        match &mut self.st.fac {
            Some(f) => f.heard = true,
            None => {
                self.st.fac = Some(FacState { pending: None, idle: 0, heard: true });
                self.st.next_tx = Some(now + Millis::from(self.cfg.fac_delay_s) * 1000);
                self.out.event(Event::Fac { active: true });
            }
        }
    }

    /// One FAC slot: send the pending response (or an empty ACK to keep the cycle open), or
    /// end the FAC after [`FAC_TRANSMISSIONS`] slots without an E-meter frame.
    fn fac_slot(&mut self, now: Millis) {
        let Some(f) = self.st.fac.as_mut() else { return };
        f.idle = if f.heard { 0 } else { f.idle + 1 };
        f.heard = false;
        if f.idle >= FAC_TRANSMISSIONS {
            return self.end_fac(now);
        }
        let bytes = match f.pending.take() {
            Some(b) => b,
            None => {
                self.st.access_number = self.st.access_number.wrapping_add(1);
                self.build(MessageKind::Ack, self.st.access_number, &[], false)
            }
        };
        self.transmit(now, bytes);
        self.st.next_tx = Some(now + Millis::from(self.cfg.fac_delay_s) * 1000);
    }

    /// The FAC ends (time-out or SND_NKE): the readout list goes back to default (§6.3.2) and
    /// the regular schedule resumes.
    fn end_fac(&mut self, now: Millis) {
        if self.st.fac.take().is_some() {
            self.reset_readout();
            self.out.event(Event::Fac { active: false });
        }
        if self.cfg.medium == Medium::Wireless {
            self.st.next_tx = match self.st.mode {
                Mode::Customer => Some(self.next_periodic(now)),
                Mode::Installation => Some(self.next_install(now)),
                Mode::Storage => None,
            };
        }
    }

    /// SND_IR (§4.4.7): Short ID as sender, data optional (none sent), method 15 if a user key
    /// is set; every minute for an hour, then hourly (§3.2.5).
    fn send_install(&mut self, now: Millis) {
        let b = self.meter_data(now, MessageKind::Installation);
        self.transmit(now, b);
        self.st.next_tx = Some(self.next_install(now));
    }

    fn next_install(&self, now: Millis) -> Millis {
        let since = self.st.install_since.unwrap_or(now);
        if now + MINUTE < since + HOUR {
            now + MINUTE
        } else {
            now + HOUR
        }
    }

    /// SND_NR (§4.4.2): the hourly value, synchronous (S bit).
    fn send_periodic(&mut self, now: Millis) {
        let b = self.meter_data(now, MessageKind::PeriodicData);
        self.transmit(now, b);
        self.st.next_tx = Some(self.next_periodic(now + 1));
    }

    /// The next whole hour of the device clock plus the schedule offset (§3.2.5: inside the
    /// 10-minute window after the hour), in caller time.
    fn next_periodic(&self, now: Millis) -> Millis {
        let offset = Millis::from(self.cfg.schedule_offset_s.unwrap_or_else(|| {
            (fnv(&[&self.cfg.short_id.wire()]) % 540) as u32
        })) * 1000;
        let dev = self.device_time(now);
        let mut t = dev.div_euclid(HOUR) * HOUR + offset;
        if t <= dev {
            t += HOUR;
        }
        t - self.st.clock_offset
    }
}
