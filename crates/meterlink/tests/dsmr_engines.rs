//! DSMR P2 engine scenarios (issue 14 §5): an EMeter and MBusDevices against each other on an
//! in-memory bus with simulated time. Expectations come from the standard: the message flows of
//! §4.3/§4.4, Figure 6 (wired installation), Figure 11 (wireless local binding, steps 1–11),
//! §8.4.2.3 (remote binding), §6.5.1 + Appendix B1.1 (key change, byte-exact), §6.2.1 (clock),
//! §6.3 (readout list), §6.2.3 (status), §5.2 (replay), §4.1 (unknown C/CI), §9 (DSMR 4.0).

mod dsmr_bus;

use dsmr_bus::Bus;
use meterlink::address::manufacturer_from_str;
use meterlink::dsmr::app::{Command, DeviceValues, Reading, ReadingKind};
use meterlink::dsmr::control::{Medium, MessageKind};
use meterlink::dsmr::engine::{DeviceConfig, EMeter, EMeterConfig, Event, MBusDevice, Millis, Mode, Task};
use meterlink::dsmr::mode15;
use meterlink::dsmr::short_id::ShortId;

// Appendix B: default key 00 11 .. FF, user key 00 01 .. 0F, 'NET', ID 23456789, 4.2, gas.
const DEFAULT_KEY: [u8; 16] = mode15::DEFAULT_KEY_EXAMPLE;
const USER_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// 2009-06-18 10:30:00 UTC (Appendix B1.3's reading is stamped 09-06-18 11:00:00).
const T0: Millis = 1_245_321_000_000;
const HOUR: Millis = 3_600_000;
const MIN: Millis = 60_000;

fn sid(id: u32, version: u8) -> ShortId {
    ShortId::new(id, manufacturer_from_str("NET").unwrap(), version, 0x03).unwrap()
}

/// The Appendix B1.3 gas meter: status 0, 'XXXXX110123456789', G4 converted 391 litres, config 05.
fn gas_values(equipment_id: &str) -> DeviceValues {
    DeviceValues {
        device_type: 0x03,
        equipment_id: equipment_id.into(),
        status: 0,
        config_mask: 0x05,
        timestamp: 0,
        readings: vec![Reading { kind: ReadingKind::GasConverted, raw: 391, scaler: -3, unit: "m3", storage: 1, vib: vec![0x13] }],
        versions: vec![(0x0D, "met=PCBx1.x2\r\ncom=M-Bus module supplier\r\n".into()), (0x0E, "met=FW123.4.5\r\n".into())],
        valve: None,
    }
}

fn device(medium: Medium, id: u32, mode: Mode, user_key: Option<[u8; 16]>, address: u8) -> MBusDevice {
    let s = sid(id, 0x42);
    let eq = format!("XXXXX1101{id:08}");
    MBusDevice::new(DeviceConfig::new(medium, s, DEFAULT_KEY), mode, gas_values(&eq), user_key, address, 0xF5)
}

fn wrapped() -> [u8; 16] {
    mode15::wrap_user_key(&DEFAULT_KEY, &USER_KEY)
}

fn has(events: &[Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(f)
}

fn readings(events: &[Event]) -> Vec<&Event> {
    events.iter().filter(|e| matches!(e, Event::Reading { .. })).collect()
}

/// Figure 6: the installer opens the M-Bus cover; the E-meter scans, finds the unencrypted gas
/// meter at address 0, gives it address 1, and binds it on channel 1.
fn wired_installed() -> Bus {
    let dev = device(Medium::Wired, 23456789, Mode::Installation, None, 0);
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0x10), vec![dev]);
    bus.emeter.cover_opened(T0);
    bus.run_for(MIN);
    bus
}

#[test]
fn wired_installation_figure_6() {
    let mut bus = wired_installed();
    let frames: Vec<String> = bus.log.iter().take(6).map(|s| hex(&s.bytes)).collect();
    // SND_NKE to 0 (§4.3.1) → E5; REQ_UD2 to 0 (§4.3.2) → RSP_UD; set address 1 (§6.2.2) → E5.
    assert_eq!(frames[0], "1040004016");
    assert_eq!(frames[1], "e5");
    assert_eq!(frames[2], "105b005b16");
    assert!(frames[3].starts_with("68") && frames[3][8..14].eq("080072"), "{}", frames[3]);
    assert_eq!(frames[4], "68060668530051017a012016"); // CS = 53+00+51+7A+01 = 20h
    assert_eq!(frames[5], "e5");
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::DeviceFound { primary_address: Some(0), .. })));
    assert!(has(&em, |e| matches!(e, Event::Bound { channel: 1, .. })));
    let ch = bus.emeter.channel(1).unwrap();
    assert_eq!((ch.primary_address, ch.bound, ch.short_id), (1, true, sid(23456789, 0x42)));
    assert_eq!(bus.devices[0].state().primary_address, 1);
    assert_eq!(bus.devices[0].state().mode, Mode::Customer);
    // The P3 view shows the device (Appendix A): identification number and equipment id.
    assert_eq!(ch.view.client_setup.identification_number, 23456789);
    assert_eq!(ch.view.equipment_id.as_deref(), Some("XXXXX110123456789"));
    // Cover closed: installation mode ends, the scan stops.
    bus.emeter.cover_closed(bus.now);
    let n = bus.log.len();
    bus.run_for(5 * MIN);
    assert_eq!(bus.log.len(), n, "no scan after the cover is back");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn wired_key_exchange_is_appendix_b1_1_and_administration_follows() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.take_em_events();
    bus.take_dev_events(0);
    let n = bus.log.len();
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(MIN);
    // Appendix B1.1 byte-exact, with the checksum erratum: the text prints 4Eh, the bytes sum
    // to 8Eh (security-notes §f); address 1 as in the example.
    assert_eq!(
        hex(&bus.log[n].bytes),
        "6819196853015107fd1903e0eed1f68e9b8f47fd195e1372754ab79f278e16"
    );
    assert_eq!(bus.devices[0].state().user_key, Some(USER_KEY));
    assert_eq!(bus.emeter.channel(1).unwrap().user_key, Some(USER_KEY));
    let dev = bus.take_dev_events(0);
    let em = bus.take_em_events();
    assert!(has(&dev, |e| matches!(e, Event::KeySet { .. })));
    assert!(has(&em, |e| matches!(e, Event::KeySet { channel: 1 })));
    // §8.1 administration: REQ_UD2 (frame counter), clock (6Ch, encrypted), readout list with
    // versions and configuration, REQ_UD2, SND_NKE restores the list.
    assert!(has(&dev, |e| matches!(e, Event::ClockSet { .. })));
    assert!(has(&dev, |e| matches!(e, Event::CommandDone { command: Command::SelectReadout(_), .. })));
    assert!(has(&dev, |e| matches!(e, Event::ReadoutReset { .. })));
    let with_versions = em.iter().any(|e| match e {
        Event::Reading { data: Some(d), .. } => d.versions.iter().any(|(v, t)| *v == 0x0E && t == "met=FW123.4.5\r\n"),
        _ => false,
    });
    assert!(with_versions, "{em:?}");
    // Every message after the key transfer is method 15: CW high byte 0F in long frames.
    for s in &bus.log[n + 2..] {
        if s.bytes[0] == 0x68 && s.bytes[6] != 0x51 {
            let cw_at = if s.bytes[6] == 0x5A { 9 } else { 17 };
            assert_eq!(s.bytes[cw_at + 1], 0x0F, "{}", hex(&s.bytes));
        }
    }
    // Both ends agree on the frame counter.
    assert_eq!(bus.emeter.channel(1).unwrap().counter, Some(bus.devices[0].state().frame_counter));
}

#[test]
fn wired_hourly_poll_replay_and_unknown_ci() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(MIN);
    bus.emeter.start_polling(bus.now);
    bus.take_em_events();
    bus.devices[0].values_mut().readings[0].raw = 1391;
    bus.run_for(HOUR);
    let em = bus.take_em_events();
    let r = readings(&em);
    assert_eq!(r.len(), 1, "{em:?}");
    let Event::Reading { data: Some(d), frame_counter: Some(_), kind: MessageKind::MeterData, .. } = r[0] else { panic!("{r:?}") };
    assert_eq!(d.readings[0].raw, 1391);
    // §5.2: the same RSP_UD again is a replay.
    let last = bus.log.iter().rev().find(|s| s.from == Some(0) && s.bytes[0] == 0x68).unwrap().bytes.clone();
    // An attacker answers the next REQ_UD2 in the device's place (its own answer is lost).
    bus.lose = Box::new(|_, s| s.from == Some(0));
    bus.emeter.command(bus.now, 1, Task::Request).unwrap();
    bus.pump();
    bus.inject(Some(0), Medium::Wired, &last);
    bus.lose = Box::new(|_, _| false);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Rejected { error, .. } if error.code() == "dsmr_replay")), "{em:?}");
    // §4.1: SND_UD with CI 72h to a device is not in Table 5: rejected, no answer.
    let n = bus.log.len();
    let bad = meterlink::mbus::link::wired::build_long(0x53, 1, 0x72, &[0; 12]).unwrap();
    bus.inject(None, Medium::Wired, &bad);
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::Rejected { error, .. } if error.code() == "dsmr_control")));
    assert!(bus.log[n..].iter().all(|s| s.from != Some(0)), "no answer to a rejected message");
}

#[test]
fn replayed_command_and_clear_commands_after_key_are_refused() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(MIN);
    bus.take_dev_events(0);
    // Replay the E-meter's encrypted clock command (CI 6Ch) to the device: §5.2 replay.
    let clock = bus.log.iter().find(|s| s.from.is_none() && s.bytes.len() > 6 && s.bytes[6] == 0x6C).unwrap().bytes.clone();
    bus.inject(None, Medium::Wired, &clock);
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::Rejected { error, .. } if error.code() == "dsmr_replay")), "{dev:?}");
    // §6.2.2: set address in clear once a user key is set: refused, the address stays.
    let set = meterlink::mbus::link::wired::build_long(0x53, 1, 0x51, &[0x01, 0x7A, 0x09]).unwrap();
    bus.inject(None, Medium::Wired, &set);
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::Rejected { error, .. } if error.code() == "dsmr_unencrypted")));
    assert_eq!(bus.devices[0].state().primary_address, 1);
}

#[test]
fn clock_deviation_sets_status_bit_5_and_clear_status_clears_it() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.devices[0].set_clock(bus.now, bus.now - 5 * MIN); // 5 minutes slow
    bus.emeter.command(bus.now, 1, Task::Clock).unwrap();
    bus.run_for(MIN);
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::ClockSet { deviation, .. } if (299..=301).contains(deviation))), "{dev:?}");
    assert_eq!(bus.devices[0].state().values.status & 0x20, 0x20, "§6.2.1 clock synchronisation error");
    assert!((bus.devices[0].device_time(bus.now) - bus.now).abs() < 1000);
    // §6.2.3: clear with mask 73h (non-permanent errors).
    bus.devices[0].values_mut().status |= 0x08; // a permanent error stays
    bus.emeter.command(bus.now, 1, Task::ClearStatus(0x73)).unwrap();
    bus.run_for(MIN);
    assert_eq!(bus.devices[0].state().values.status, 0x08);
}

/// Figure 11 steps 1–11: a wireless gas meter delivered with a user key the E-meter does not
/// know; manual selection at the E-meter; CNF_IR; hourly SND_NR; the key from the CS; clock;
/// readout list.
#[test]
fn wireless_local_binding_figure_11() {
    let factory_key = [0x5A; 16];
    let dev = device(Medium::Wireless, 12345678, Mode::Storage, Some(factory_key), 0);
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0x20), vec![dev]);
    let s = sid(12345678, 0x42);
    bus.devices[0].press_button(T0); // 1
    bus.emeter.cover_opened(T0); // 2
    bus.run_for(3 * MIN + 1000); // 3, 4: SND_IR every minute
    let irs = bus.log.iter().filter(|x| x.from == Some(0)).count();
    assert_eq!(irs, 4, "SND_IR at 0, 1, 2, 3 minutes");
    let radio: Vec<_> = bus.log.iter().filter(|x| x.medium == Medium::Wireless).collect();
    assert!(radio.iter().all(|x| x.bytes[1] == 0x46), "only SND_IR on the radio so far");
    assert_eq!(bus.emeter.detected(), &[s]);
    let ch = bus.emeter.select(bus.now, s).unwrap(); // 5
    assert_eq!(ch, 1);
    bus.run_for(MIN); // 6: next SND_IR → CNF_IR
    let cnf = bus.log.iter().find(|x| x.from.is_none() && x.medium == Medium::Wireless).unwrap();
    assert_eq!(cnf.bytes[1], 0x06, "CNF_IR");
    assert!(has(&bus.take_dev_events(0), |e| matches!(e, Event::Bound { .. })));
    assert_eq!(bus.devices[0].state().mode, Mode::Customer);
    bus.emeter.cover_closed(bus.now); // 7
    bus.run_for(HOUR); // 8: SND_NR, encrypted with a key the E-meter does not have
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Reading { channel: 1, kind: MessageKind::PeriodicData, data: None, .. })), "{em:?}");
    // 9: the CS sends the keys; the E-meter sends the new key in the next FAC; 10 clock; 11 readout.
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(HOUR);
    assert_eq!(bus.devices[0].state().user_key, Some(USER_KEY));
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::Fac { active: true })));
    assert!(has(&dev, |e| matches!(e, Event::KeySet { .. })));
    assert!(has(&dev, |e| matches!(e, Event::ClockSet { .. })));
    assert!(has(&dev, |e| matches!(e, Event::Fac { active: false })));
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Reading { data: Some(d), .. } if d.config_mask == Some(5))), "{em:?}");
    // From now on the hourly SND_NR decrypts.
    bus.run_for(HOUR);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Reading { kind: MessageKind::PeriodicData, data: Some(_), .. })), "{em:?}");
    assert_eq!(bus.emeter.channel(1).unwrap().counter, Some(bus.devices[0].state().frame_counter));
    // The P3 view carries the hourly value (Appendix A).
    assert!(bus.emeter.channel(1).unwrap().view.last.is_some());
}

/// §8.4.2.3: the CS writes the Short ID (P3) before the device is heard; the first SND_IR gets
/// its CNF_IR without any selection at the E-meter, even outside installation mode.
#[test]
fn wireless_remote_binding_via_cs() {
    let dev = device(Medium::Wireless, 22222222, Mode::Storage, None, 0);
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0x30), vec![dev]);
    bus.emeter.register(T0, 2, Medium::Wireless, sid(22222222, 0x42), 0).unwrap();
    bus.devices[0].press_button(T0 + 10_000);
    bus.run_for(MIN);
    assert_eq!(bus.devices[0].state().mode, Mode::Customer);
    assert!(has(&bus.take_em_events(), |e| matches!(e, Event::Bound { channel: 2, .. })));
    // Unencrypted device (no user key): §4.4.2 CW A0 00h... its data read in clear.
    bus.run_for(HOUR);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Reading { channel: 2, data: Some(_), .. })), "{em:?}");
}

/// §8.4.2.2 step 4: after 60 minutes without CNF_IR the SND_IR go hourly; the button brings
/// back one a minute.
#[test]
fn snd_ir_schedule() {
    let dev = device(Medium::Wireless, 33333333, Mode::Storage, None, 0);
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0), vec![dev]);
    bus.devices[0].press_button(T0);
    bus.run_until(T0 + 3 * HOUR);
    let times: Vec<Millis> = bus.log.iter().map(|s| s.at - T0).collect();
    assert_eq!(times.len(), 60 + 2, "{times:?}");
    assert_eq!(&times[58..], &[58 * MIN, 59 * MIN, 59 * MIN + HOUR, 59 * MIN + 2 * HOUR]);
    bus.devices[0].press_button(bus.now);
    bus.run_for(2 * MIN);
    assert_eq!(bus.log.len(), 62 + 3);
}

/// §5.2 with a lost frame: the device missed the E-meter's command; the E-meter's counter ran
/// ahead, so it reads the counter again (REQ_UD2) and the next command gets through.
#[test]
fn wired_lost_command_resynchronises_the_frame_counter() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(MIN);
    // Lose every frame to the device for the next command (all three tries).
    let start = bus.log.len();
    bus.lose = Box::new(move |i, s| i >= start && i < start + 3 && s.from.is_none());
    bus.emeter.command(bus.now, 1, Task::ClearStatus(0x73)).unwrap();
    bus.run_for(MIN);
    assert!(has(&bus.take_em_events(), |e| matches!(e, Event::CommandFailed { channel: 1, .. })));
    bus.emeter.command(bus.now, 1, Task::ClearStatus(0x73)).unwrap();
    bus.run_for(MIN);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::CommandDone { command: Command::ClearStatus(0x73), .. })), "{em:?}");
}

/// §9.1: a DSMR 4.0 gas meter (version 40h) with a valve status block: the 4.2 E-meter binds
/// it, reads it, and reports (then ignores) the valve data.
#[test]
fn dsmr_40_device_with_valve_block() {
    let s = sid(40404040, 0x40);
    let mut values = gas_values("XXXXX110140404040");
    values.valve = Some(0x01);
    let dev = MBusDevice::new(DeviceConfig::new(Medium::Wired, s, DEFAULT_KEY), Mode::Customer, values, None, 7, 0);
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0), vec![dev]);
    bus.emeter.register(T0, 1, Medium::Wired, s, 7).unwrap();
    bus.run_for(MIN);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::Bound { channel: 1, .. })));
    assert!(has(&em, |e| matches!(e, Event::Reading { data: Some(d), .. } if d.valve == Some(1))), "{em:?}");
    assert_eq!(bus.emeter.channel(1).unwrap().view.client_setup.version, 0x40);
}

/// Wired scan with a device already at an unregistered address, two devices, and the scan's
/// end at four devices (§8.3.1).
#[test]
fn wired_scan_finds_preconfigured_devices_and_stops_at_four() {
    let devs: Vec<MBusDevice> = (0..4).map(|i| device(Medium::Wired, 50000000 + i, Mode::Customer, None, 10 + i as u8)).collect();
    let mut bus = Bus::new(T0, EMeter::new(EMeterConfig::default(), 0), devs);
    bus.emeter.cover_opened(T0);
    bus.run_for(2 * MIN);
    let bound: Vec<u8> = bus.emeter.channels().filter(|c| c.bound).map(|c| c.primary_address).collect();
    assert_eq!(bound, vec![10, 11, 12, 13]);
    assert!(!bus.emeter.installing(), "four devices end installation mode");
}

/// §6.5.1 sends key changes in clear without a frame counter: a recorded key change replayed
/// after a newer one would put the old key back. The device refuses it (`dsmr_key_replay`).
#[test]
fn replayed_key_change_is_refused() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.run_for(MIN);
    let first = bus.log.iter().find(|s| s.from.is_none() && s.bytes.len() > 6 && s.bytes[6] == 0x51 && s.bytes[7] == 0x07).unwrap().bytes.clone();
    let k2 = [0x42u8; 16];
    bus.emeter.transfer_key(bus.now, 1, k2, mode15::wrap_user_key(&DEFAULT_KEY, &k2)).unwrap();
    bus.run_for(MIN);
    assert_eq!(bus.devices[0].state().user_key, Some(k2));
    bus.take_dev_events(0);
    bus.inject(None, Medium::Wired, &first);
    let dev = bus.take_dev_events(0);
    assert!(has(&dev, |e| matches!(e, Event::Rejected { error, .. } if error.code() == "dsmr_key_replay")), "{dev:?}");
    assert_eq!(bus.devices[0].state().user_key, Some(k2));
}

/// An E5h proves nothing (no identity): when the device's next meter data shows it does not
/// use the new key, the E-meter keeps the old one and reports the key change failed.
#[test]
fn key_change_acknowledged_but_not_applied_is_rolled_back() {
    let mut bus = wired_installed();
    bus.emeter.cover_closed(bus.now);
    bus.run_for(1000); // the scan step in progress ends
    // The key change never reaches the device, and a forged E5 answers in its place.
    let start = bus.log.len();
    bus.lose = Box::new(move |i, _| i == start);
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrapped()).unwrap();
    bus.pump();
    bus.lose = Box::new(|_, _| false);
    bus.inject(Some(0), Medium::Wired, &[0xE5]);
    bus.run_for(MIN);
    let em = bus.take_em_events();
    assert!(has(&em, |e| matches!(e, Event::CommandFailed { command: Command::SetKey(_), .. })), "{em:?}");
    assert_eq!(bus.emeter.channel(1).unwrap().user_key, None);
    assert_eq!(bus.devices[0].state().user_key, None);
}
