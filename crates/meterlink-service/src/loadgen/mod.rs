//! The load generator of issue 15 §5: realistic wM-Bus and DSMR P2 traffic for N meters heard
//! through G gateways, published to an MQTT broker as the gateways would (one topic per
//! gateway, the service's JSON shape with the gateway's own reception time and RSSI).
//!
//! - **wM-Bus meters** (`meters`): water meters `KAM 40000000 + m`, one telegram every
//!   `period_s` at a fixed phase per meter, three records (volume, type F date-time of the
//!   transmission, error flags), each under its own AES key. Even meters use security mode 7 with
//!   an AFL message counter (EN 13757-7 7.4.3; the counter the service checks for replays), odd
//!   meters mode 5 (no counter: deduplicated by frame hash). Volume rises every round, the
//!   access number steps by one (EN 13757-4 12.5.3).
//! - **DSMR P2 devices** (`dsmr_e_meters`): the wireless devices of that many E-meters from
//!   [`meterlink::dsmr::simulate`] (method 15, hourly, per-device user keys).
//! - **Gateways**: every radio telegram is heard by each gateway independently with probability
//!   `1 - loss`; each gateway's clock is off by a fixed amount in `±skew_ms`. A telegram no
//!   gateway heard is lost (counted, not published).
//!
//! Everything is a pure function of the configuration and `seed`: the same configuration gives
//! the same publications in the same order, so a test knows how many radio telegrams were heard
//! ([`Summary::heard`]) — the number of rows the service must store.

pub mod cli;
mod publish;

use std::collections::VecDeque;
use std::io;

use meterlink::address::{manufacturer_code, Address};
use meterlink::dsmr::simulate::{SimConfig, Simulator};
use meterlink::keys::KeyMaterial;
use meterlink::mbus::encode::Builder;
use meterlink::mbus::link::wmbus::FrameFormat;

pub use publish::{publish, PublishOptions};

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadConfig {
    /// wM-Bus meters.
    pub meters: u32,
    /// DSMR E-meters whose wireless devices transmit (0 = no DSMR traffic).
    pub dsmr_e_meters: u32,
    /// Gateways (receivers), at least 1.
    pub gateways: u32,
    /// Telegrams per wM-Bus meter.
    pub rounds: u32,
    /// Seconds between two telegrams of one wM-Bus meter.
    pub period_s: u32,
    /// Start (Unix seconds UTC).
    pub start: i64,
    /// Share of telegrams each gateway misses (0–1).
    pub loss: f64,
    /// Each gateway's clock is off by a fixed amount within ± this (ms).
    pub skew_ms: i64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig { meters: 1000, dsmr_e_meters: 0, gateways: 3, rounds: 4, period_s: 900, start: 1_767_225_600, loss: 0.1, skew_ms: 5000, seed: 1 }
    }
}

/// One gateway's reception of one radio telegram, as it publishes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Publication {
    /// The gateway (0-based); its topic is `<prefix>/gw-<n>`.
    pub gateway: u32,
    /// The radio telegram (0-based, in time order).
    pub radio: u64,
    /// The gateway's time stamp (Unix ms, skewed).
    pub time_ms: i64,
    /// `{"telegram": hex, "gateway": .., "time": ms, "rssi": dBm}`.
    pub payload: String,
}

/// What a run generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Radio telegrams sent by meters.
    pub radio: u64,
    /// Of those, heard by at least one gateway (= telegrams the head-end must store).
    pub heard: u64,
    /// Publications (receptions).
    pub publications: u64,
}

/// The gateway name of index `g`.
pub fn gateway_name(g: u32) -> String {
    format!("gw-{g:03}")
}

/// splitmix64: the one mixing function behind every random choice.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from (seed, subject, purpose).
fn unit(seed: u64, subject: u64, purpose: u64) -> f64 {
    (mix(mix(seed ^ purpose.wrapping_mul(0xA24B_AED4_963E_E407)) ^ subject) >> 11) as f64 / (1u64 << 53) as f64
}

/// A wM-Bus meter's AES key.
pub fn meter_key(seed: u64, m: u32) -> [u8; 16] {
    let a = mix(seed ^ 0x6B65_7973 ^ (u64::from(m) << 20));
    let b = mix(a);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_le_bytes());
    k[8..].copy_from_slice(&b.to_le_bytes());
    k
}

/// The wM-Bus meter's ID number (8 digits).
pub fn meter_id(m: u32) -> u32 {
    40_000_000 + m
}

fn bcd4(n: u32) -> [u8; 4] {
    let mut id = [0u8; 4];
    let mut v = n;
    for b in &mut id {
        *b = ((v % 10) as u8) | (((v / 10 % 10) as u8) << 4);
        v /= 100;
    }
    id
}

/// Type F date-time (EN 13757-3 Annex A: minute, hour, day | year bits 0–2, month | year
/// bits 3–6), of a Unix time (UTC; M-Bus dates carry no zone).
fn type_f(unix: i64) -> [u8; 4] {
    let (y, mo, d) = meterlink::civil::civil_from_days(unix.div_euclid(86_400));
    let sod = unix.rem_euclid(86_400);
    let yy = (y.rem_euclid(100)) as u8;
    [(sod / 60 % 60) as u8, (sod / 3600) as u8, d | (yy & 7) << 5, mo | (yy >> 3) << 4]
}

/// The `round`-th telegram of wM-Bus meter `m` (format A, with CRCs).
pub fn wmbus_frame(cfg: &LoadConfig, m: u32, round: u32, unix: i64) -> Vec<u8> {
    let addr = Address::new(manufacturer_code(b"KAM"), bcd4(meter_id(m)), 0x1B, 0x07);
    let mut b = Builder::wireless(0x44, addr, FrameFormat::A);
    let base = mix(cfg.seed ^ u64::from(m));
    if m % 2 == 0 {
        b.security.mode = 7;
        b.security.message_counter = Some((base as u32 & 0xFFFF) + round + 1);
    } else {
        b.security.mode = 5;
    }
    b.access_number = (base >> 16) as u8 ^ round as u8;
    b.key = Some(KeyMaterial::Aes(meter_key(cfg.seed, m)));
    let volume = (base >> 32) as u32 % 1_000_000 + round * (1 + m % 50);
    let mut rec = vec![0x0C, 0x13];
    rec.extend_from_slice(&bcd4(volume));
    rec.extend_from_slice(&[0x04, 0x6D]);
    rec.extend_from_slice(&type_f(unix));
    rec.extend_from_slice(&[0x02, 0xFD, 0x17, 0x00, 0x00]);
    b.encode(&rec, &[]).expect("the load generator's telegram encodes")
}

/// The generator: an iterator of [`Publication`]s in time order, an hour at a time.
pub struct Generator {
    cfg: LoadConfig,
    sim: Option<Simulator>,
    /// Start of the next hour to generate (Unix s).
    next_hour: i64,
    end: i64,
    out: VecDeque<Publication>,
    summary: Summary,
}

impl Generator {
    /// A generator for `cfg`.
    pub fn new(cfg: LoadConfig) -> io::Result<Self> {
        if cfg.gateways == 0 || !(0.0..1.0).contains(&cfg.loss) || cfg.period_s == 0 || cfg.skew_ms < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "need gateways ≥ 1, 0 ≤ loss < 1, period_s ≥ 1, skew_ms ≥ 0"));
        }
        let end = cfg.start + i64::from(cfg.rounds) * i64::from(cfg.period_s);
        let sim = if cfg.dsmr_e_meters > 0 {
            let hours = ((end - cfg.start + 3599) / 3600).max(1) as u32;
            let sc = SimConfig { e_meters: cfg.dsmr_e_meters, hours, start: cfg.start, seed: cfg.seed, wireless: 1.0, loss: 0.0, ..SimConfig::default() };
            Some(Simulator::new(sc).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?)
        } else {
            None
        };
        let next_hour = cfg.start;
        Ok(Generator { cfg, sim, next_hour, end, out: VecDeque::new(), summary: Summary::default() })
    }

    /// The counts so far (complete once the iterator is exhausted).
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The key file of every meter (`manufacturer,id,key`, as `meterlink` and the service read).
    pub fn write_key_file(&self, w: &mut impl io::Write) -> io::Result<()> {
        writeln!(w, "manufacturer,id,key")?;
        for m in 0..self.cfg.meters {
            let hex = meterlink::hex::to_hex_lower(&meter_key(self.cfg.seed, m));
            writeln!(w, "KAM,{:08},{hex}", meter_id(m))?;
        }
        if let Some(sim) = &self.sim {
            let mut buf = Vec::new();
            sim.write_key_file(&mut buf)?;
            // Skip the simulator's own header line.
            let text = String::from_utf8_lossy(&buf);
            for line in text.lines().skip(1) {
                writeln!(w, "{line}")?;
            }
        }
        Ok(())
    }

    /// The radio telegrams of the hour starting at `h` (Unix s), in time order: (ms, frame).
    fn hour(&mut self, h: i64) -> Vec<(i64, Vec<u8>)> {
        let mut radio = Vec::new();
        let period = i64::from(self.cfg.period_s);
        for m in 0..self.cfg.meters {
            // Meter m transmits at start + round·period + phase (phases spread over the period).
            let phase_ms = i64::from(m) * period * 1000 / i64::from(self.cfg.meters);
            let first = ((h - self.cfg.start) * 1000 - phase_ms).max(0);
            let mut round = (first + period * 1000 - 1) / (period * 1000);
            loop {
                let t_ms = self.cfg.start * 1000 + round * period * 1000 + phase_ms;
                if t_ms >= (h + 3600) * 1000 || round >= i64::from(self.cfg.rounds) {
                    break;
                }
                radio.push((t_ms, wmbus_frame(&self.cfg, m, round as u32, t_ms / 1000)));
                round += 1;
            }
        }
        if let Some(sim) = &mut self.sim {
            sim.next_hour(&mut |t| radio.push((t.time * 1000, t.frame.to_vec())));
        }
        radio.sort_by_key(|r| r.0);
        radio
    }

    /// Queue one radio telegram's publications.
    fn hear(&mut self, t_ms: i64, frame: &[u8]) {
        let k = self.summary.radio;
        self.summary.radio += 1;
        let hex = meterlink::hex::to_hex_lower(frame);
        let mut heard = false;
        for g in 0..self.cfg.gateways {
            let subject = k * u64::from(self.cfg.gateways) + u64::from(g);
            if unit(self.cfg.seed, subject, 1) < self.cfg.loss {
                continue;
            }
            heard = true;
            let skew = ((unit(self.cfg.seed, u64::from(g), 2) * 2.0 - 1.0) * self.cfg.skew_ms as f64) as i64;
            let rssi = -50.0 - (unit(self.cfg.seed, subject, 3) * 45.0).round();
            let time_ms = t_ms + skew;
            let name = gateway_name(g);
            let payload = format!(r#"{{"telegram":"{hex}","gateway":"{name}","time":{time_ms},"rssi":{rssi}}}"#);
            self.out.push_back(Publication { gateway: g, radio: k, time_ms, payload });
            self.summary.publications += 1;
        }
        self.summary.heard += u64::from(heard);
    }
}

impl Iterator for Generator {
    type Item = Publication;

    fn next(&mut self) -> Option<Publication> {
        while self.out.is_empty() {
            if self.next_hour >= self.end {
                return None;
            }
            let h = self.next_hour;
            self.next_hour += 3600;
            for (t, f) in self.hour(h) {
                self.hear(t, &f);
            }
        }
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_f_matches_the_standard_layout() {
        // 2024-03-15 10:42 UTC: year 24 = 0b0011000 → day byte 15 | 0 << 5, month byte 3 | 3 << 4.
        assert_eq!(type_f(1_710_499_320), [42, 10, 15, 0x33]);
    }

    #[test]
    fn type_f_reads_back_with_the_core_decoder() {
        let d = meterlink::mbus::records::DateTimeValue::decode_f(type_f(1_767_225_600 + 86_400 * 40 + 3_723));
        assert_eq!((d.year, d.month, d.day, d.hour, d.minute), (Some(2026), Some(2), Some(10), Some(1), Some(2)));
    }
}
