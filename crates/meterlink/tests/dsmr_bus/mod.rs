//! An in-memory P2 bus with simulated time for the engine scenario and property tests: the
//! E-meter's frames reach every device of that medium, a device's frames reach the E-meter
//! (wired slaves do not hear each other: EN 13757-2 answers by current modulation).
#![allow(dead_code)]

use meterlink::dsmr::control::Medium;
use meterlink::dsmr::engine::{EMeter, Event, MBusDevice, Millis};

/// Decides whether a transmission is lost (index in the log, the transmission).
pub type LoseFn = Box<dyn FnMut(usize, &Sent) -> bool>;

/// One transmission on the bus.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: Millis,
    pub medium: Medium,
    /// None = the E-meter sent it; Some(i) = device i.
    pub from: Option<usize>,
    pub bytes: Vec<u8>,
    pub delivered: bool,
}

pub struct Bus {
    pub now: Millis,
    pub emeter: EMeter,
    pub devices: Vec<MBusDevice>,
    pub log: Vec<Sent>,
    pub em_events: Vec<Event>,
    pub dev_events: Vec<Vec<Event>>,
    /// Decides whether a transmission is lost (index in `log`, the transmission).
    pub lose: LoseFn,
}

impl Bus {
    pub fn new(now: Millis, emeter: EMeter, devices: Vec<MBusDevice>) -> Self {
        let n = devices.len();
        Bus { now, emeter, devices, log: Vec::new(), em_events: Vec::new(), dev_events: vec![Vec::new(); n], lose: Box::new(|_, _| false) }
    }

    fn collect_events(&mut self) {
        while let Some(e) = self.emeter.poll_event() {
            self.em_events.push(e);
        }
        for (i, d) in self.devices.iter_mut().enumerate() {
            while let Some(e) = d.poll_event() {
                self.dev_events[i].push(e);
            }
        }
    }

    /// Deliver everything sent until nobody has anything more to send at this instant.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some((medium, bytes)) = self.emeter.poll_transmit() {
                moved = true;
                let s = Sent { at: self.now, medium, from: None, bytes, delivered: true };
                let lost = (self.lose)(self.log.len(), &s);
                self.log.push(Sent { delivered: !lost, ..s.clone() });
                if !lost {
                    for d in self.devices.iter_mut().filter(|d| d.config().medium == medium) {
                        d.handle_received(self.now, &s.bytes);
                    }
                }
            }
            for i in 0..self.devices.len() {
                while let Some(bytes) = self.devices[i].poll_transmit() {
                    moved = true;
                    let medium = self.devices[i].config().medium;
                    let s = Sent { at: self.now, medium, from: Some(i), bytes, delivered: true };
                    let lost = (self.lose)(self.log.len(), &s);
                    self.log.push(Sent { delivered: !lost, ..s.clone() });
                    if !lost {
                        self.emeter.handle_received(self.now, medium, &s.bytes);
                    }
                }
            }
            self.collect_events();
            if !moved {
                return;
            }
        }
        panic!("the engines keep talking at one instant");
    }

    fn next_deadline(&self) -> Option<Millis> {
        let d = self.devices.iter().filter_map(|d| d.poll_timeout()).min();
        [self.emeter.poll_timeout(), d].into_iter().flatten().min()
    }

    /// Run the simulation up to time `t` (inclusive).
    pub fn run_until(&mut self, t: Millis) {
        self.pump();
        for _ in 0..1_000_000 {
            match self.next_deadline() {
                Some(n) if n <= t => {
                    self.now = self.now.max(n);
                    self.emeter.handle_timeout(self.now);
                    for d in &mut self.devices {
                        d.handle_timeout(self.now);
                    }
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
    }

    /// Run for `ms` more.
    pub fn run_for(&mut self, ms: Millis) {
        self.run_until(self.now + ms);
    }

    /// Inject bytes as if device `i` (or the E-meter, None) sent them now.
    pub fn inject(&mut self, from: Option<usize>, medium: Medium, bytes: &[u8]) {
        match from {
            None => {
                for d in self.devices.iter_mut().filter(|d| d.config().medium == medium) {
                    d.handle_received(self.now, bytes);
                }
            }
            Some(_) => self.emeter.handle_received(self.now, medium, bytes),
        }
        self.pump();
    }

    pub fn take_em_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.em_events)
    }

    pub fn take_dev_events(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.dev_events[i])
    }
}
