//! A generator of realistic DSMR P2 traffic (issue 14 §5): many E-meters with one to four
//! M-Bus devices each, hourly values that increase plausibly, every telegram encrypted with
//! method 15 (§5) under a per-device user key — an archive for head-end load tests.
//!
//! - Wired E-meters (§4.3.2) poll each device once an hour; the device answers RSP_UD
//!   (C 08h, CI 72h, long header `ShortID ACC 00 CW`), at the E-meter's poll second, channels
//!   one second apart.
//! - Wireless devices (§4.4.2) send SND_NR (C 44h, CI 7Ah, short header, CW `B S 1111 NNNN`,
//!   A field `M ‖ ID ‖ VER ‖ DEV`, format A) at a random second of the 10-minute window after
//!   the hour (§3.2.5); `loss` of them never reach the E-meter (their frame counter is used).
//! - The records are the §6.3 default readout list laid out as Appendix B1.3: status
//!   `01 FD 17`, equipment identifier `0D 78 11`, time stamp `46 6D` (type I, UTC, on the
//!   hour), the hourly reading(s) `4C VIF` (storage 1) and `01 FD 67` configuration mask.
//! - Per device: the access number starts at a random value and steps by one per telegram
//!   (§4.2.4); the frame counter starts at a random value and steps by exactly one per
//!   message sent (§5.2); the user key is [`user_key`]`(seed, Short ID)`.
//!
//! Every random choice is a pure function of (seed, subject, hour, purpose)
//! ([`profile::draw`]): the same configuration gives the same bytes, in the same order.
//!
//! ```
//! use meterlink::dsmr::simulate::{SimConfig, Simulator};
//! let mut sim = Simulator::new(SimConfig { e_meters: 3, hours: 2, ..SimConfig::default() }).unwrap();
//! let mut n = 0;
//! sim.run(|t| {
//!     assert!(t.frame.len() > 60);
//!     n += 1;
//! });
//! assert_eq!(n, sim.devices().len() * 2);
//! ```

mod frame;
pub mod profile;

use std::io::{self, Write};

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes128Enc;

use self::frame::{type_i_utc, Template, MAX_FRAME};
use crate::civil::civil_from_days;
use self::profile::{draw, hourly_use, purpose, unit, DeviceKind, SUB};
use super::error::DsmrError;
use super::short_id::{ShortId, VERSION_42};
use crate::address::manufacturer_from_str;
use crate::crypto::Key;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Number of E-meters.
    pub e_meters: u32,
    /// Fewest and most M-Bus devices per E-meter (1–4; most E-meters have one, a gas meter).
    pub devices: (u8, u8),
    /// Hours of traffic.
    pub hours: u32,
    /// Start (Unix seconds UTC); rounded down to the hour. 2000–2099.
    pub start: i64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Share of E-meters whose P2 port is wireless (0–1).
    pub wireless: f64,
    /// Share of wireless telegrams lost on the air (0–1): not in the output, frame counter used.
    pub loss: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig { e_meters: 10, devices: (1, 4), hours: 24, start: 1_704_067_200, seed: 0, wireless: 0.5, loss: 0.0 }
    }
}

/// One device of the simulated fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct SimDevice {
    /// Index of its E-meter (0-based).
    pub e_meter: u32,
    /// M-Bus channel of the E-meter, 1–4.
    pub channel: u8,
    /// What it measures.
    pub kind: DeviceKind,
    /// Wireless (true) or wired.
    pub wireless: bool,
    /// Its Short ID (§4.2.2).
    pub short_id: ShortId,
    /// The 17-character equipment identifier (§6.4.1).
    pub equipment_id: String,
    /// Wired primary address (= channel); 0 for wireless.
    pub primary_address: u8,
}

/// One simulated telegram, handed to the callback of [`Simulator::run`].
#[derive(Clone, Copy, Debug)]
pub struct SimTelegram<'a> {
    /// When the E-meter receives it (Unix seconds UTC).
    pub time: i64,
    /// The E-meter (index).
    pub e_meter: u32,
    /// Its channel (1–4).
    pub channel: u8,
    /// The device (index into [`Simulator::devices`]).
    pub device: u32,
    /// The frame as on the wire (wired FT1.2, or wireless format A with CRCs).
    pub frame: &'a [u8],
    /// The time stamp inside (the whole hour, Unix seconds UTC).
    pub timestamp: i64,
    /// The readings inside, as sent (raw BCD values: litres, 10 L, 0.01 GJ, Wh).
    pub values: &'a [u64],
    /// The frame counter.
    pub frame_counter: u32,
    /// The access number.
    pub access_number: u8,
}

/// A device's state while simulating.
struct Device {
    info: SimDevice,
    key: Key,
    cipher: Aes128Enc,
    template: Template,
    scale: f64,
    fc: u32,
    acc: u8,
    /// Internal registers (raw units × [`SUB`]).
    regs: [u64; 2],
}

/// The simulator: build it from a [`SimConfig`], then [`Simulator::run`] (or
/// [`Simulator::next_hour`] hour by hour).
pub struct Simulator {
    cfg: SimConfig,
    devices: Vec<Device>,
    /// Next hour to simulate (0-based).
    hour: u32,
    /// Sort keys of one hour: offset << 32 | device.
    order: Vec<u64>,
}

/// The user key of a device (§6.5): AES-128 under a key derived from `seed`, of the Short
/// ID's 8 wire bytes ‖ `"DSMRUKEY"`. Deterministic, so a key file can be written for any
/// simulated fleet; distinct devices get unrelated keys.
pub fn user_key(seed: u64, id: &ShortId) -> Key {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&draw(seed, u64::MAX, 0, purpose::KEY).to_le_bytes());
    k[8..].copy_from_slice(&draw(seed, u64::MAX - 1, 0, purpose::KEY).to_le_bytes());
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.wire());
    b[8..].copy_from_slice(b"DSMRUKEY");
    let mut block = aes::Block::from(b);
    Aes128Enc::new(&k.into()).encrypt_block(&mut block);
    block.into()
}

/// The name of a simulated E-meter: 17 characters, `ESIM` and the index in 13 digits.
pub fn e_meter_id(index: u32) -> String {
    format!("ESIM{index:013}")
}

fn bad(reason: &str) -> DsmrError {
    DsmrError::State { reason: format!("simulate: {reason}") }
}

impl Simulator {
    /// Set up the fleet. Errors (`dsmr_state`) for a configuration out of range.
    pub fn new(cfg: SimConfig) -> Result<Self, DsmrError> {
        let (lo, hi) = cfg.devices;
        if !(1..=4).contains(&lo) || !(lo..=4).contains(&hi) {
            return Err(bad("devices per E-meter must be 1 <= min <= max <= 4"));
        }
        if cfg.e_meters > 25_000_000 {
            return Err(bad("at most 25,000,000 E-meters (8-digit identification numbers)"));
        }
        if !(0.0..=1.0).contains(&cfg.wireless) || !(0.0..=1.0).contains(&cfg.loss) {
            return Err(bad("wireless and loss are shares between 0 and 1"));
        }
        let start = cfg.start.div_euclid(3600) * 3600;
        let end = start + i64::from(cfg.hours) * 3600;
        if start < 946_684_800 || end > 4_102_444_800 {
            return Err(bad("the simulated time must lie in 2000-2099"));
        }
        let mut devices = Vec::new();
        for m in 0..cfg.e_meters {
            add_e_meter(&cfg, m, &mut devices);
        }
        Ok(Simulator { cfg: SimConfig { start, ..cfg }, devices, hour: 0, order: Vec::new() })
    }

    /// The configuration (start rounded to the hour).
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The devices of the fleet, in index order.
    pub fn devices(&self) -> Vec<SimDevice> {
        self.devices.iter().map(|d| d.info.clone()).collect()
    }

    /// Every device's Short ID and user key.
    pub fn keys(&self) -> Vec<(ShortId, Key)> {
        self.devices.iter().map(|d| (d.info.short_id, d.key)).collect()
    }

    /// The key file of the fleet, as the key store reads it (`crate::keys`, Python
    /// `meterlink.load_keys`): a header `manufacturer,id,key`, then one line per device.
    pub fn write_key_file(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "manufacturer,id,key")?;
        for d in &self.devices {
            let s = &d.info.short_id;
            write!(w, "{},{:08},", s.manufacturer(), s.id_number().unwrap_or(0))?;
            for b in d.key {
                write!(w, "{b:02X}")?;
            }
            writeln!(w)?;
        }
        Ok(())
    }

    /// Simulate the next hour: every telegram of the hour, in time order (ties by device
    /// index). Returns false when all hours are done.
    pub fn next_hour(&mut self, f: &mut impl FnMut(&SimTelegram<'_>)) -> bool {
        if self.hour >= self.cfg.hours {
            return false;
        }
        let h = u64::from(self.hour);
        let base = self.cfg.start + i64::from(self.hour) * 3600;
        self.schedule(h);
        let stamp = type_i_utc(base);
        let mut buf = [0u8; MAX_FRAME];
        let (seed, loss) = (self.cfg.seed, self.cfg.loss);
        for &key in &self.order {
            let i = (key & 0xFFFF_FFFF) as usize;
            let d = &mut self.devices[i];
            d.advance(seed, i as u64, h, base);
            let vals = d.values();
            let n_vals = d.info.kind.vifs().len();
            let len = d.template.write(&d.cipher, d.acc, d.fc, &stamp, &vals[..n_vals], &mut buf);
            let lost = d.info.wireless && loss > 0.0 && unit(draw(seed, i as u64, h, purpose::LOSS)) < loss;
            if !lost {
                f(&SimTelegram {
                    time: base + (key >> 32) as i64,
                    e_meter: d.info.e_meter,
                    channel: d.info.channel,
                    device: i as u32,
                    frame: &buf[..len],
                    timestamp: base,
                    values: &vals[..n_vals],
                    frame_counter: d.fc,
                    access_number: d.acc,
                });
            }
        }
        self.hour += 1;
        true
    }

    /// Simulate every (remaining) hour; returns the number of telegrams handed to `f`.
    pub fn run(&mut self, mut f: impl FnMut(&SimTelegram<'_>)) -> u64 {
        let mut n = 0u64;
        let mut count = |t: &SimTelegram<'_>| {
            n += 1;
            f(t);
        };
        while self.next_hour(&mut count) {}
        n
    }

    /// Simulate every (remaining) hour into a hex archive `meterlink bulk` reads: a header
    /// `timestamp;e_meter;channel;frame`, then one line per telegram
    /// (`2024-01-01T00:03:17Z;ESIM0000000000001;1;<hex>`). Returns the telegrams written.
    pub fn write_archive(&mut self, w: &mut impl Write) -> io::Result<u64> {
        writeln!(w, "timestamp;e_meter;channel;frame")?;
        let mut line = Vec::with_capacity(300);
        let mut err = None;
        let n = self.run(|t| {
            if err.is_some() {
                return;
            }
            line.clear();
            archive_line(t, &mut line);
            if let Err(e) = w.write_all(&line) {
                err = Some(e);
            }
        });
        err.map_or(Ok(n), Err)
    }

    /// The hour's send offsets, sorted: wired at the E-meter's poll second (channels one
    /// second apart), wireless at random seconds of the 10-minute window (§3.2.5).
    fn schedule(&mut self, h: u64) {
        let seed = self.cfg.seed;
        self.order.clear();
        self.order.extend(self.devices.iter().enumerate().map(|(i, d)| {
            let off = if d.info.wireless {
                draw(seed, i as u64, h, purpose::OFFSET) % 600
            } else {
                let poll = draw(seed, u64::from(d.info.e_meter) | 1 << 63, h, purpose::POLL) % 590;
                poll + u64::from(d.info.channel) - 1
            };
            off << 32 | i as u64
        }));
        self.order.sort_unstable();
    }
}

impl Device {
    /// Step to hour `h` (start `base`): the last hour's consumption is added (not for the
    /// first hour, which reports the initial reading), ACC and frame counter step by one.
    fn advance(&mut self, seed: u64, i: u64, h: u64, base: i64) {
        if h > 0 {
            let used = hourly_use(self.info.kind, self.scale, base - 3600, draw(seed, i, h, purpose::NOISE));
            self.regs[0] += used;
            // Heat: the circulated volume follows the energy (about 125 MJ per m3 at ΔT 30 K:
            // 80 litres per 0.01 GJ).
            self.regs[1] += used * 80;
        }
        self.acc = self.acc.wrapping_add(1);
        self.fc = self.fc.wrapping_add(1);
    }

    fn values(&self) -> [u64; 2] {
        [self.regs[0] / SUB, self.regs[1] / SUB]
    }
}

/// One archive line: ISO time, E-meter, channel, frame hex, newline.
fn archive_line(t: &SimTelegram<'_>, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let _ = write!(out, "{};{};{};", iso_utc(t.time), e_meter_id(t.e_meter), t.channel);
    for &b in t.frame {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.push(b'\n');
}

/// Unix seconds → `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_utc(t: i64) -> String {
    let (secs, days) = (t.rem_euclid(86_400), t.div_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Add E-meter `m`'s devices (channels 1..=n).
fn add_e_meter(cfg: &SimConfig, m: u32, out: &mut Vec<Device>) {
    let seed = cfg.seed;
    let subject = u64::from(m) | 1 << 63;
    let wireless = unit(draw(seed, subject, 0, purpose::SETUP)) < cfg.wireless;
    // Most E-meters have one device; each further one a third as likely.
    let (lo, hi) = cfg.devices;
    let mut n = lo;
    let u = unit(draw(seed, subject, 0, purpose::SETUP + 1));
    let mut p = 1.0 / 3.0;
    while n < hi && u < p {
        n += 1;
        p /= 3.0;
    }
    let id_offset = draw(seed, u64::MAX - 2, 0, purpose::SETUP) % 100_000_000;
    for ch in 1..=n {
        let g = u64::from(m) * 4 + u64::from(ch) - 1;
        out.push(new_device(seed, m, ch, g, wireless, id_offset));
    }
}

/// The device on channel `ch` of E-meter `m`; `g` = its global slot (unique ID).
fn new_device(seed: u64, m: u32, ch: u8, g: u64, wireless: bool, id_offset: u64) -> Device {
    let r = |k: u64| draw(seed, g, 0, purpose::SETUP + k);
    let u = unit(r(0));
    let kind = match ch {
        1 if u < 0.03 => DeviceKind::GasLarge,
        1 if u < 0.9 => DeviceKind::Gas,
        1 => DeviceKind::Water,
        _ if u < 0.45 => DeviceKind::Water,
        _ if u < 0.75 => DeviceKind::Heat,
        _ => DeviceKind::Electricity,
    };
    // 7,654,321 is prime to 10^8: slot -> identification number is one-to-one.
    let id = ((g * 7_654_321 + id_offset) % 100_000_000) as u32;
    let mans = kind.manufacturers();
    let man = mans[(r(1) % mans.len() as u64) as usize];
    let m_code = manufacturer_from_str(man).unwrap_or(0);
    // §6.4.1: 5-character meter code, then the 10-digit serial (its last 8 digits = the ID).
    let year = 10 + r(2) % 14;
    let eid = format!("{man}{:02X}{year:02}{:02}{id:08}", kind.device_type(), r(3) % 100);
    let eid_bytes: [u8; 17] = eid.as_bytes().try_into().unwrap_or([b'0'; 17]);
    let short_id = ShortId::new(id, m_code, VERSION_42, kind.device_type()).unwrap_or_default();
    let primary = if wireless { 0 } else { ch };
    let key = user_key(seed, &short_id);
    let template = Template::new(&short_id, &eid_bytes, kind.config_mask(), kind.vifs(), wireless, primary);
    let scale = 0.3 + 1.4 * unit(r(4));
    // Meters in service for 1-8 years.
    let years = 1.0 + 7.0 * unit(r(5));
    let initial = (kind.annual_raw() * scale * years * SUB as f64) as u64;
    Device {
        info: SimDevice { e_meter: m, channel: ch, kind, wireless, short_id, equipment_id: eid, primary_address: primary },
        key,
        cipher: Aes128Enc::new(&key.into()),
        template,
        scale,
        fc: (r(6) % 100_000) as u32,
        acc: r(7) as u8,
        regs: [initial, initial * 80],
    }
}
