//! The DSMR P2 traffic simulator (issue 14 §5): determinism, telegrams that the M-Bus decoder
//! decrypts with the simulator's key file to the values it put in, and the invariants of the
//! traffic (time order, hourly time stamps, §3.2.5 window, §5.2 frame counters, monotonic
//! readings).

use std::collections::HashMap;

use meterlink::dsmr::simulate::{e_meter_id, iso_utc, user_key, SimConfig, SimTelegram, Simulator};
use meterlink::keys::KeyStore;
use meterlink::mbus::records::Value;
use meterlink::{decode_with_keys, DecodeOptions};

#[derive(Debug, Clone)]
struct Owned {
    time: i64,
    e_meter: u32,
    channel: u8,
    device: u32,
    frame: Vec<u8>,
    timestamp: i64,
    values: Vec<u64>,
    fc: u32,
    acc: u8,
}

fn own(t: &SimTelegram<'_>) -> Owned {
    Owned {
        time: t.time,
        e_meter: t.e_meter,
        channel: t.channel,
        device: t.device,
        frame: t.frame.to_vec(),
        timestamp: t.timestamp,
        values: t.values.to_vec(),
        fc: t.frame_counter,
        acc: t.access_number,
    }
}

fn run(cfg: SimConfig) -> (Simulator, Vec<Owned>) {
    let mut sim = Simulator::new(cfg).unwrap();
    let mut out = Vec::new();
    sim.run(|t| out.push(own(t)));
    (sim, out)
}

fn cfg(e_meters: u32, hours: u32, seed: u64) -> SimConfig {
    // 2024-01-15T00:00:00Z
    SimConfig { e_meters, hours, seed, start: 1_705_276_800, ..SimConfig::default() }
}

fn key_store(sim: &Simulator) -> KeyStore {
    let mut text = Vec::new();
    sim.write_key_file(&mut text).unwrap();
    let mut ks = KeyStore::new();
    assert_eq!(ks.load_csv(std::str::from_utf8(&text).unwrap()).unwrap(), sim.devices().len());
    ks
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (_, a) = run(cfg(40, 6, 7));
    let (_, b) = run(cfg(40, 6, 7));
    let (_, c) = run(cfg(40, 6, 8));
    let bytes = |v: &[Owned]| v.iter().map(|t| (t.time, t.frame.clone())).collect::<Vec<_>>();
    assert_eq!(bytes(&a), bytes(&b));
    assert_ne!(bytes(&a), bytes(&c));
    // Hour by hour gives the same as all at once.
    let mut sim = Simulator::new(cfg(40, 6, 7)).unwrap();
    let mut d = Vec::new();
    while sim.next_hour(&mut |t: &SimTelegram<'_>| d.push(own(t))) {}
    assert_eq!(bytes(&a), bytes(&d));
}

#[test]
fn telegrams_decode_with_the_key_file_to_the_generated_values() {
    let (sim, tgs) = run(cfg(30, 3, 1));
    let devices = sim.devices();
    let ks = key_store(&sim);
    let opts = DecodeOptions::default();
    let (mut wired, mut wireless) = (0, 0);
    for t in &tgs {
        let dev = &devices[t.device as usize];
        let tg = decode_with_keys(&t.frame, &opts, &ks).unwrap_or_else(|e| panic!("{e} {:02X?}", t.frame));
        assert!(tg.protection.decrypted(), "{:?}", tg.protection);
        assert_eq!(tg.protection.mode, Some(15));
        assert_eq!(tg.address.unwrap(), dev.short_id.0);
        assert_eq!(tg.counters().dsmr_frame_counter, Some(t.fc));
        assert_eq!(tg.access_number(), Some(t.acc));
        // Records: status, equipment id, time stamp, readings (storage 1), configuration.
        let mut numbers = Vec::new();
        let mut text = None;
        let mut stamp = None;
        for r in &tg.records {
            match &r.value {
                Value::Number { mantissa, .. } if r.storage == 1 => numbers.push(*mantissa as u64),
                Value::Text(s) => text = Some(s.to_string()),
                Value::DateTime(d) => stamp = d.to_iso(),
                _ => {}
            }
        }
        assert_eq!(numbers, t.values);
        assert_eq!(text.as_deref(), Some(dev.equipment_id.as_str()));
        assert_eq!(stamp.as_deref().map(|s| &s[..19]), Some(&iso_utc(t.timestamp)[..19]));
        if dev.wireless {
            wireless += 1;
            assert_eq!(t.frame[1], 0x44); // SND_NR
        } else {
            wired += 1;
            assert_eq!((t.frame[4], t.frame[5], t.frame[6]), (0x08, dev.primary_address, 0x72));
        }
    }
    assert!(wired > 0 && wireless > 0, "{wired} {wireless}");
    // A wrong key fails the 2F 2F check: the key file is what makes them decrypt.
    let t = &tgs[0];
    let dev = &devices[t.device as usize];
    let mut other = KeyStore::new();
    other.insert(Some(dev.short_id.0.manufacturer), dev.short_id.0.id, meterlink::keys::KeyMaterial::Aes([0x55; 16]));
    assert!(decode_with_keys(&t.frame, &opts, &other).map_or(true, |tg| !tg.protection.decrypted()));
    assert_eq!(user_key(1, &dev.short_id), sim.keys()[t.device as usize].1);
    assert_ne!(user_key(2, &dev.short_id), user_key(1, &dev.short_id));
}

#[test]
fn traffic_invariants() {
    let c = cfg(200, 30, 3);
    let start = c.start;
    let (sim, tgs) = run(c);
    let devices = sim.devices();
    assert_eq!(tgs.len(), devices.len() * 30);
    // 1-4 devices per E-meter, channels 1..n, mostly gas first.
    let mut per_meter: HashMap<u32, Vec<u8>> = HashMap::new();
    for d in &devices {
        per_meter.entry(d.e_meter).or_default().push(d.channel);
    }
    assert_eq!(per_meter.len(), 200);
    assert!(per_meter.values().all(|ch| (1..=4).contains(&ch.len()) && ch.iter().copied().eq(1..=ch.len() as u8)));
    let gas = devices.iter().filter(|d| d.channel == 1 && d.short_id.0.device_type == 3).count();
    assert!(gas > 150, "{gas}");
    let ids: std::collections::HashSet<_> = devices.iter().map(|d| d.short_id).collect();
    assert_eq!(ids.len(), devices.len());
    let mut last: HashMap<u32, &Owned> = HashMap::new();
    let mut prev_time = i64::MIN;
    for t in &tgs {
        assert!(t.time >= prev_time, "time order");
        prev_time = t.time;
        assert_eq!(t.timestamp % 3600, 0);
        assert!((0..600).contains(&(t.time - t.timestamp)), "§3.2.5 window");
        assert_eq!(e_meter_id(t.e_meter).len(), 17);
        assert_eq!(devices[t.device as usize].channel, t.channel);
        if let Some(p) = last.get(&t.device) {
            assert_eq!(t.timestamp, p.timestamp + 3600);
            assert_eq!(t.fc, p.fc + 1, "§5.2: +1 per message");
            assert_eq!(t.acc, p.acc.wrapping_add(1), "§4.2.4");
            assert!(t.values.iter().zip(&p.values).all(|(a, b)| a >= b), "never decreases");
        } else {
            assert_eq!(t.timestamp, start);
        }
        last.insert(t.device, t);
    }
    // Gas: plausible litres per hour (G4 at most 6 m3/h) and a winter day uses something.
    let mut day_use = Vec::new();
    for (i, d) in devices.iter().enumerate().filter(|(_, d)| d.short_id.0.device_type == 3) {
        let v: Vec<u64> = tgs.iter().filter(|t| t.device == i as u32).map(|t| t.values[0]).collect();
        let cap = if d.kind == meterlink::dsmr::simulate::profile::DeviceKind::GasLarge { 4000 } else { 6000 };
        assert!(v.windows(2).all(|w| w[1] - w[0] <= cap));
        day_use.push(v[24] - v[0]);
    }
    day_use.sort_unstable();
    let median = day_use[day_use.len() / 2];
    // January: about 1,200 m3/year × 1.9 (season) / 365 ≈ 6 m3 a day for a median household.
    assert!((1_500..15_000).contains(&median), "median January day {median} litres");
}

#[test]
fn lost_wireless_frames_leave_frame_counter_gaps() {
    let c = SimConfig { wireless: 1.0, loss: 0.3, ..cfg(50, 20, 5) };
    let (sim, tgs) = run(c);
    let n = sim.devices().len() * 20;
    assert!(tgs.len() < n * 8 / 10 && tgs.len() > n * 6 / 10, "{} of {n}", tgs.len());
    let mut last: HashMap<u32, u32> = HashMap::new();
    let mut gaps = 0;
    for t in &tgs {
        if let Some(&p) = last.get(&t.device) {
            assert!(t.fc > p);
            gaps += usize::from(t.fc > p + 1);
        }
        last.insert(t.device, t.fc);
    }
    assert!(gaps > 0);
}

#[test]
fn bad_configurations_are_refused() {
    for c in [
        SimConfig { devices: (0, 4), ..SimConfig::default() },
        SimConfig { devices: (3, 2), ..SimConfig::default() },
        SimConfig { devices: (1, 5), ..SimConfig::default() },
        SimConfig { wireless: 1.5, ..SimConfig::default() },
        SimConfig { start: 0, ..SimConfig::default() },
    ] {
        assert_eq!(Simulator::new(c).err().map(|e| e.code()), Some("dsmr_state"));
    }
}

#[test]
fn archive_lines() {
    let mut sim = Simulator::new(cfg(3, 2, 9)).unwrap();
    let mut out = Vec::new();
    let n = sim.write_archive(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp;e_meter;channel;frame");
    assert_eq!(lines.len() as u64, n + 1);
    let f: Vec<&str> = lines[1].split(';').collect();
    assert!(f[0].starts_with("2024-01-15T00:0") && f[0].ends_with('Z'), "{}", f[0]);
    assert!(f[1].starts_with("ESIM") && f[3].len() > 120);
}

/// Throughput (not a test of speed: nothing is asserted on time). Run with
/// `cargo test --release -p meterlink --test dsmr_simulate -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    use std::time::Instant;
    let c = SimConfig { e_meters: 20_000, hours: 48, ..cfg(0, 0, 1) };
    let t0 = Instant::now();
    let mut sim = Simulator::new(c.clone()).unwrap();
    let setup = t0.elapsed();
    let t1 = Instant::now();
    let mut bytes = 0usize;
    let n = sim.run(|t| bytes += t.frame.len());
    let gen = t1.elapsed().as_secs_f64();
    let mut sim = Simulator::new(c).unwrap();
    let t2 = Instant::now();
    let m = sim.write_archive(&mut std::io::sink()).unwrap();
    let hex = t2.elapsed().as_secs_f64();
    println!(
        "{} devices (set-up {:.0} ms); frames: {n} in {gen:.2} s = {:.0}/s ({} bytes); hex archive lines: {m} in {hex:.2} s = {:.0}/s",
        sim.devices().len(),
        setup.as_secs_f64() * 1e3,
        n as f64 / gen,
        bytes,
        m as f64 / hex
    );
}

#[test]
fn the_dsmr_layers_read_what_the_simulator_wrote() {
    use meterlink::dsmr::{app, control::Medium, message, p3, Direction};
    let (sim, tgs) = run(cfg(25, 2, 4));
    let devices = sim.devices();
    let keys = sim.keys();
    for t in &tgs {
        let dev = &devices[t.device as usize];
        let key = keys[t.device as usize].1;
        let medium = if dev.wireless { Medium::Wireless } else { Medium::Wired };
        let m = message::parse(medium, Direction::FromDevice, &t.frame).unwrap();
        let (plain, fc) = m.open(Some(&key), &dev.short_id.0).unwrap();
        assert_eq!(fc, Some(t.fc));
        let data = app::parse_data(dev.short_id.0.device_type, &plain).unwrap();
        assert_eq!(data.equipment_id.as_deref(), Some(dev.equipment_id.as_str()));
        assert_eq!((data.status, data.timestamp), (Some(0), Some(t.timestamp)));
        assert_eq!(data.readings.iter().map(|r| r.raw as u64).collect::<Vec<_>>(), t.values);
        assert!(data.other.is_empty(), "{:?}", data.other);
        let view = p3::p3_view(&t.frame, dev.channel, Some(&key)).unwrap();
        assert_eq!(view.client_setup.access_number, t.acc);
        assert_eq!(view.last.as_ref().map(|(r, at)| (r.raw as u64, *at)), Some((t.values[0], t.timestamp)));
    }
}
