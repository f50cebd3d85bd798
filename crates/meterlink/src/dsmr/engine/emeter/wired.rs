//! The wired side of the E-meter (DSMR P2 §4.3, §8.3): one transaction at a time on the bus;
//! channel work first, the installation scan when the bus is free ("suspended for any other
//! data transfer", §8.3.1).

use std::collections::VecDeque;

use super::{Awaiting, ChannelState, EMeter, Pending, Task};
use crate::dsmr::app::{self, Command};
use crate::dsmr::control::{Medium, MessageKind};
use crate::dsmr::engine::{Event, Millis};
use crate::dsmr::message::{LinkAddress, Message};
use crate::dsmr::p3::ChannelView;
use crate::dsmr::short_id::ShortId;
use crate::mbus::link::wired as ft12;

impl EMeter {
    /// Start the next wired transaction if the bus is free.
    pub(super) fn run(&mut self, now: Millis) {
        if self.wired.is_some() {
            return;
        }
        let next = self.channels().find(|c| c.medium == Medium::Wired && !c.tasks.is_empty()).map(|c| c.channel);
        if let Some(ch) = next {
            return self.start_task(now, ch);
        }
        if let Some(addr) = self.scan.pop_front() {
            self.start_scan(now, addr);
        }
    }

    fn start_task(&mut self, now: Millis, ch: u8) {
        let Some((task, frame, acc)) = self.next_frame(now, ch, None) else {
            return self.run(now); // every task failed: the bus is free for the next one
        };
        let awaiting = match task {
            Task::Request => Awaiting::Data { tries: 0 },
            task => Awaiting::Ack { task, acc, tries: 0, time: now.div_euclid(1000) },
        };
        self.send_wired(now, ch, awaiting, frame);
    }

    fn send_wired(&mut self, now: Millis, channel: u8, awaiting: Awaiting, frame: Vec<u8>) {
        self.out.send(Medium::Wired, frame.clone());
        self.wired = Some(Pending { channel, awaiting, deadline: now + self.cfg.response_timeout_ms, frame });
    }

    /// §8.3.1: queue one scan cycle: address 0 (SND_NKE then REQ_UD2) and every unused address.
    pub(super) fn queue_scan(&mut self) {
        if !self.scan.is_empty() {
            return;
        }
        if self.free_channel().is_none() {
            return self.end_installation();
        }
        let used: Vec<u8> = self.channels().filter(|c| c.medium == Medium::Wired).map(|c| c.primary_address).collect();
        self.scan = std::iter::once(0).chain((1..=250).filter(|a| !used.contains(a))).collect::<VecDeque<u8>>();
    }

    fn start_scan(&mut self, now: Millis, addr: u8) {
        let (c, awaiting) = if addr == 0 {
            (0x40, Awaiting::ScanNke) // §4.3.1: SND_NKE finds devices at address 0
        } else {
            (0x5B, Awaiting::ScanData { address: addr })
        };
        self.send_wired(now, 0, awaiting, ft12::build_short(c, addr).to_vec());
    }

    /// No (usable) answer in time: retry, or give up.
    pub(super) fn wired_timeout(&mut self, now: Millis) {
        let Some(p) = self.wired.take() else { return };
        let retry = |tries: u8| tries < self.cfg.retries;
        match p.awaiting {
            Awaiting::Ack { task, acc, tries, time } if retry(tries) => {
                self.send_wired(now, p.channel, Awaiting::Ack { task, acc, tries: tries + 1, time }, p.frame);
            }
            Awaiting::Data { tries } if retry(tries) => {
                self.send_wired(now, p.channel, Awaiting::Data { tries: tries + 1 }, p.frame);
            }
            Awaiting::Ack { task, time, .. } => self.task_failed(p.channel, &task, time),
            // Scan steps have no retries: no answer = no device there.
            _ => {}
        }
    }

    /// §5.2: a command without answer may have been refused for a stale frame counter: the next
    /// encrypted command reads the counter first (REQ_UD2).
    pub(super) fn task_failed(&mut self, ch: u8, task: &Task, time: i64) {
        if let Some(c) = self.channels[usize::from(ch) - 1].as_mut() {
            c.counter = None;
        }
        if let Some((command, _)) = Self::task_records(time * 1000, task) {
            self.out.event(Event::CommandFailed { channel: ch, command });
        }
    }

    pub(super) fn wired_received(&mut self, now: Millis, msg: &Message) {
        let Some(p) = self.wired.take() else { return }; // nobody asked: a slave never talks first
        match (msg.kind, p.awaiting) {
            (MessageKind::Ack, Awaiting::Ack { task, time, .. }) => self.task_done(p.channel, task, time),
            (MessageKind::Ack, Awaiting::ScanNke) => {
                self.send_wired(now, 0, Awaiting::ScanData { address: 0 }, ft12::build_short(0x5B, 0).to_vec());
            }
            (MessageKind::Ack, Awaiting::ScanAddress { address, short_id }) => self.scan_bind(now, short_id, address, None),
            (MessageKind::MeterData, Awaiting::Data { .. }) => self.polled(now, p.channel, msg),
            (MessageKind::MeterData, Awaiting::ScanData { address }) => self.scanned(now, address, msg),
            (_, awaiting) => {
                // Not the answer expected: count it as none.
                self.wired = Some(Pending { awaiting, ..p });
                self.wired_timeout(now);
            }
        }
    }

    /// A polled channel answered: check it is the registered device, bind, read its data.
    fn polled(&mut self, now: Millis, ch: u8, msg: &Message) {
        let Some(c) = self.channel(ch) else { return };
        let sid = msg.header.and_then(|h| h.short_id);
        if sid != Some(c.short_id) {
            return self.out.reject(Medium::Wired, crate::dsmr::DsmrError::State {
                reason: format!("channel {ch}: address {} answered as {:?}", c.primary_address, sid.map(|s| s.to_string())),
            });
        }
        if !c.bound {
            let short_id = c.short_id;
            self.chan_mut(ch).bound = true;
            self.out.event(Event::Bound { channel: ch, short_id });
        }
        self.meter_data(now, ch, msg);
    }

    /// A scanned address answered (§8.3.1): a new device at 0 gets a free address first; one
    /// at an unregistered address is registered as it is.
    fn scanned(&mut self, now: Millis, address: u8, msg: &Message) {
        let Some(sid) = msg.header.and_then(|h| h.short_id) else { return };
        self.out.event(Event::DeviceFound { short_id: sid, primary_address: Some(address) });
        if self.channel_of(Medium::Wired, &sid).is_some() || self.free_channel().is_none() {
            return;
        }
        if address != 0 {
            return self.scan_bind(now, sid, address, Some(msg));
        }
        let used: Vec<u8> = self.channels().filter(|c| c.medium == Medium::Wired).map(|c| c.primary_address).collect();
        let Some(new) = (1..=250u8).find(|a| !used.contains(a)) else { return };
        let body = app::encode_commands(&[Command::SetAddress(new)]);
        let Some(m) = Message::new(Medium::Wired, MessageKind::Unencrypted, LinkAddress::Primary(0), None, body) else { return };
        let Ok(frame) = m.encode() else { return };
        self.send_wired(now, 0, Awaiting::ScanAddress { address: new, short_id: sid }, frame);
    }

    /// Register a scanned device on the first free channel; bound at once when it answered at
    /// its own address, else after the poll at its new address.
    fn scan_bind(&mut self, now: Millis, sid: ShortId, address: u8, data: Option<&Message>) {
        let Some(ch) = self.free_channel() else { return };
        self.channels[usize::from(ch) - 1] = Some(ChannelState {
            channel: ch,
            medium: Medium::Wired,
            short_id: sid,
            primary_address: address,
            bound: false,
            user_key: None,
            counter: None,
            tasks: VecDeque::new(),
            fac: None,
            readout_changed: false,
            unconfirmed_key: None,
            sync_tried: false,
            view: ChannelView::new(ch),
            last_seen: None,
        });
        self.scan.retain(|&a| a != address);
        match data {
            Some(m) => self.polled(now, ch, m),
            None => self.chan_mut(ch).tasks.push_back(Task::Request),
        }
        if self.free_channel().is_none() {
            self.end_installation(); // §8.3.1: four devices end the scan
        }
    }
}
