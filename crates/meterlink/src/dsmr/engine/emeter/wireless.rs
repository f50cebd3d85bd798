//! The wireless side of the E-meter (DSMR P2 §4.4, §8.4): it only ever answers a device's
//! transmission, inside the access window: CNF_IR to a registered device's SND_IR, and the
//! queued work of a channel as a frequent access cycle after its SND_NR, ended by SND_NKE.

use super::{Awaiting, EMeter, Task};
use crate::address::Address;
use crate::dsmr::control::{Medium, MessageKind};
use crate::dsmr::engine::{Event, Millis};
use crate::dsmr::message::{Header, LinkAddress, Message};
use crate::dsmr::short_id::ShortId;

impl EMeter {
    pub(super) fn wireless_received(&mut self, now: Millis, msg: &Message) {
        let LinkAddress::Radio(addr) = msg.link else { return };
        let sid = ShortId(addr); // §3.2.4: the device's A field is its identity
        let Some(ch) = self.channel_of(Medium::Wireless, &sid) else {
            if msg.kind == MessageKind::Installation && self.installing() && !self.detected.contains(&sid) {
                self.detected.push(sid);
                self.out.event(Event::DeviceFound { short_id: sid, primary_address: None });
            }
            return;
        };
        if msg.kind == MessageKind::Installation {
            return self.confirm(now, ch, sid, msg);
        }
        if !self.chan_mut(ch).bound {
            // §8.4.2.4: a device in customer mode registered by the CS is bound by its data.
            self.chan_mut(ch).bound = true;
            self.out.event(Event::Bound { channel: ch, short_id: sid });
        }
        if msg.kind != MessageKind::Ack {
            self.meter_data(now, ch, msg);
        }
        self.fac_step(now, ch, msg);
    }

    /// §8.4.2.1 (1): a registered device's SND_IR is always confirmed (CNF_IR, ACC copied).
    fn confirm(&mut self, now: Millis, ch: u8, sid: ShortId, msg: &Message) {
        let acc = msg.header.map_or(0, |h| h.acc);
        let header = Header { short_id: Some(sid), acc, status: 0, cw: Default::default() };
        let link = LinkAddress::Radio(Address::default());
        if let Some(Ok(b)) = Message::new(Medium::Wireless, MessageKind::InstallConfirm, link, Some(header), Vec::new()).map(|m| m.encode()) {
            self.out.send(Medium::Wireless, b);
        }
        let c = self.chan_mut(ch);
        c.last_seen = Some(now);
        if !c.bound {
            c.bound = true;
            self.out.event(Event::Bound { channel: ch, short_id: sid });
        }
    }

    /// One step of the E-meter's side of the FAC (§4.4.3): settle what the device's message
    /// answers, then send the next task, or SND_NKE when none is left.
    fn fac_step(&mut self, now: Millis, ch: u8, msg: &Message) {
        let retries = self.cfg.retries;
        let awaiting = self.chan_mut(ch).fac.take();
        match awaiting {
            None if self.chan_mut(ch).tasks.is_empty() => return,
            None | Some(Awaiting::Nothing) => {}
            Some(Awaiting::Ack { task, acc, tries, time }) => {
                let acked = msg.kind == MessageKind::Ack && msg.header.is_some_and(|h| h.acc == acc);
                if acked {
                    self.task_done(ch, task, time);
                } else if tries < retries {
                    self.chan_mut(ch).tasks.push_front(task); // lost: send it again
                    return self.send_next_try(now, ch, tries + 1);
                } else {
                    self.task_failed(ch, &task, time);
                }
            }
            Some(Awaiting::Data { tries }) => {
                if msg.kind != MessageKind::MeterData && tries < retries {
                    self.chan_mut(ch).tasks.push_front(Task::Request);
                    return self.send_next_try(now, ch, tries + 1);
                }
            }
            Some(_) => {}
        }
        self.send_next(now, ch);
    }

    fn send_next(&mut self, now: Millis, ch: u8) {
        self.send_next_try(now, ch, 0);
    }

    /// Send the next task as its `tries`-th retry (0 = first try).
    fn send_next_try(&mut self, now: Millis, ch: u8, tries: u8) {
        // Nothing left: SND_NKE ends the FAC.
        let Some((task, frame, acc)) = self.next_frame(now, ch, Some(Task::ResetReadout)) else { return };
        self.out.send(Medium::Wireless, frame);
        let fac = match task {
            // §6.3.2: SND_NKE resets the readout list and ends the FAC; nothing comes back.
            Task::ResetReadout => {
                let c = self.chan_mut(ch);
                if std::mem::take(&mut c.readout_changed) {
                    self.out.event(Event::ReadoutReset { channel: ch });
                }
                None
            }
            Task::Request => Some(Awaiting::Data { tries }),
            task => Some(Awaiting::Ack { task, acc, tries, time: now.div_euclid(1000) }),
        };
        self.chan_mut(ch).fac = fac;
    }
}
