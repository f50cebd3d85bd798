//! DSMR P2 engines (issue 14 §5): arbitrary bytes, cut into frames and time steps, fed to a
//! bound E-meter and device of both media, in both directions: nothing panics, a device never
//! answers a frame §4.1 rejects, and a message the parser accepts re-encodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meterlink::address::Address;
use meterlink::dsmr::app::{DeviceValues, Reading, ReadingKind};
use meterlink::dsmr::control::Medium;
use meterlink::dsmr::engine::{DeviceConfig, EMeter, EMeterConfig, MBusDevice, Mode};
use meterlink::dsmr::message;
use meterlink::dsmr::short_id::ShortId;
use meterlink::dsmr::Direction;

const T0: i64 = 1_700_000_000_000;

fn pair(medium: Medium) -> (EMeter, MBusDevice) {
    let sid = ShortId(Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x42, 3));
    let values = DeviceValues {
        device_type: 3,
        equipment_id: "XXXXX110123456789".into(),
        status: 0,
        config_mask: 5,
        timestamp: 0,
        readings: vec![Reading { kind: ReadingKind::GasConverted, raw: 1, scaler: -3, unit: "m3", storage: 1, vib: vec![0x13] }],
        versions: Vec::new(),
        valve: None,
    };
    let key = Some([7u8; 16]);
    let mut d = MBusDevice::new(DeviceConfig::new(medium, sid, [1u8; 16]), Mode::Customer, values, key, 5, 0);
    let mut e = EMeter::new(EMeterConfig::default(), 0);
    e.register(T0, 1, medium, sid, 5).unwrap();
    e.set_key(1, key).unwrap();
    d.start(T0);
    (e, d)
}

fuzz_target!(|data: &[u8]| {
    for medium in [Medium::Wired, Medium::Wireless] {
        let (mut e, mut d) = pair(medium);
        let mut now = T0;
        let mut rest = data;
        while let Some((&ctl, tail)) = rest.split_first() {
            let n = usize::from(ctl & 0x3F).min(tail.len());
            let (frame, next) = tail.split_at(n);
            rest = next;
            now += i64::from(ctl >> 6) * 1_800_000;
            e.handle_timeout(now);
            d.handle_timeout(now);
            let to_device = ctl & 0x80 != 0;
            if to_device {
                while d.poll_transmit().is_some() {}
                d.handle_received(now, frame);
                if let Err(err) = message::parse(medium, Direction::ToDevice, frame) {
                    if err.code() == "dsmr_control" {
                        assert!(d.poll_transmit().is_none(), "answered a rejected combination");
                    }
                }
            } else {
                e.handle_received(now, medium, frame);
            }
            if let Ok(m) = message::parse(medium, if to_device { Direction::ToDevice } else { Direction::FromDevice }, frame) {
                let again = m.encode().expect("a parsed message encodes");
                let m2 = message::parse(medium, m.direction, &again).expect("re-encoded message parses");
                assert_eq!(m2.payload, m.payload);
                assert_eq!(m2.header, m.header);
            }
            while let Some(b) = d.poll_transmit() {
                e.handle_received(now, medium, &b);
            }
            while let Some((_, b)) = e.poll_transmit() {
                d.handle_received(now, &b);
            }
            while e.poll_event().is_some() {}
            while d.poll_event().is_some() {}
        }
    }
});
