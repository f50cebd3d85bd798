//! Lobaro wireless M-Bus bridge uplinks (Lobaro docs, "LoRaWAN Communication" of the wM-Bus
//! bridge firmware and the v1.x manual §5.2):
//! - ports 11–99 (payload format 0): port = 10·part + total, the parts concatenated in order
//!   are the telegram (without link-layer CRCs); consecutive LoRaWAN frame counters tell that
//!   no part is missing;
//! - port 101 (format 1) and 102 (format 2): a control byte (bit 0 first uplink of a message,
//!   bit 1 last), then the message bytes; the message is a 5-byte big-endian Unix time stamp,
//!   for port 102 a signed RSSI byte (dBm), then the telegram;
//! - port 1: the bridge's status, no telegram.
//!
//! Telegrams are reassembled per device; a gap in the frame counters drops the telegram in
//! progress and is reported as an error.

use super::lorawan::{Telegram, Uplink};
use super::{ParseError, Pending};

/// Feed one uplink; the telegrams it completes.
pub(crate) fn feed(p: &mut Pending, up: &Uplink, max_bytes: usize) -> Result<Vec<Telegram>, ParseError> {
    match up.f_port {
        1 => Ok(Vec::new()),
        11..=99 => split_by_port(p, up, max_bytes),
        101 | 102 => control_byte(p, up, max_bytes),
        port => Err(ParseError::new(format!("Lobaro: port {port} carries no wM-Bus data"))),
    }
}

/// Port 10·part + total.
fn split_by_port(p: &mut Pending, up: &Uplink, max_bytes: usize) -> Result<Vec<Telegram>, ParseError> {
    let (part, total) = (up.f_port / 10, up.f_port % 10);
    if total == 0 || part > total {
        return Err(ParseError::new(format!("Lobaro: port {} is not part/total", up.f_port)));
    }
    if part == 1 {
        p.parts.clear();
    } else if p.parts.last().is_some_and(|&(f, k, _)| f == up.f_cnt && k == part) {
        return Ok(Vec::new()); // the same uplink again
    } else if p.parts.last().is_none_or(|&(f, k, _)| f.wrapping_add(1) != up.f_cnt || k + 1 != part) {
        p.parts.clear();
        return Err(ParseError::new(format!("Lobaro {}: part {part}/{total} (fCnt {}) without its previous part", up.device, up.f_cnt)));
    }
    push(p, up, part, max_bytes)?;
    if part < total {
        return Ok(Vec::new());
    }
    let frame = take(p);
    Ok(vec![Telegram { frame, time_ms: None, rssi: None }])
}

/// Ports 101/102: control byte, then the message.
fn control_byte(p: &mut Pending, up: &Uplink, max_bytes: usize) -> Result<Vec<Telegram>, ParseError> {
    let (&ctrl, rest) = up.data.split_first().ok_or_else(|| ParseError::new("Lobaro: empty uplink"))?;
    let (first, last) = (ctrl & 1 != 0, ctrl & 2 != 0);
    let body = Uplink { data: rest.to_vec(), ..up.clone() };
    if first {
        p.parts.clear();
    } else if p.parts.last().is_some_and(|&(f, _, _)| f == up.f_cnt) {
        return Ok(Vec::new());
    } else if p.parts.last().is_none_or(|&(f, _, _)| f.wrapping_add(1) != up.f_cnt) {
        p.parts.clear();
        return Err(ParseError::new(format!("Lobaro {}: fCnt {} continues no message", up.device, up.f_cnt)));
    }
    push(p, &body, 0, max_bytes)?;
    if !last {
        return Ok(Vec::new());
    }
    message(&take(p), up.f_port == 102).map(|t| vec![t])
}

/// `time(5, BE) [rssi(1)] telegram`.
fn message(m: &[u8], with_rssi: bool) -> Result<Telegram, ParseError> {
    let head = if with_rssi { 6 } else { 5 };
    if m.len() <= head {
        return Err(ParseError::new(format!("Lobaro: message of {} bytes has no telegram", m.len())));
    }
    let secs = m[..5].iter().fold(0i64, |acc, &b| (acc << 8) | b as i64);
    let rssi = with_rssi.then(|| m[5] as i8 as f32);
    Ok(Telegram { frame: m[head..].to_vec(), time_ms: Some(secs * 1000), rssi })
}

fn push(p: &mut Pending, up: &Uplink, part: u32, max_bytes: usize) -> Result<(), ParseError> {
    let held: usize = p.parts.iter().map(|(_, _, d)| d.len()).sum();
    if held + up.data.len() > max_bytes {
        p.parts.clear();
        return Err(ParseError::new(format!("Lobaro {}: message longer than {max_bytes} bytes", up.device)));
    }
    p.parts.push((up.f_cnt, part, up.data.clone()));
    Ok(())
}

fn take(p: &mut Pending) -> Vec<u8> {
    std::mem::take(&mut p.parts).into_iter().flat_map(|(_, _, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::super::lorawan::tests::chirpstack_event;
    use super::super::samples::oms_n21;
    use super::super::{Parser, Shape};

    fn run(p: &mut Parser, port: u32, f_cnt: u32, data: &[u8]) -> Result<Vec<super::super::Parsed>, super::ParseError> {
        p.parse(Shape::Chirpstack, chirpstack_event(port, f_cnt, data).as_bytes(), "t", 1_000)
    }

    #[test]
    fn ports_part_of_total_reassemble() {
        // The 47-byte OMS N.2.1 telegram in three parts: ports 13, 23, 33 (Lobaro manual
        // §5.2.1: "A 101 byte wMBUS telegram will be send in three messages on LoRaWAN ports
        // 13, 23 and 33").
        let t = oms_n21();
        let mut p = Parser::default();
        assert!(run(&mut p, 13, 100, &t[..20]).unwrap().is_empty());
        assert!(run(&mut p, 23, 101, &t[20..40]).unwrap().is_empty());
        assert_eq!(p.pending_devices(), 1);
        let got = run(&mut p, 33, 102, &t[40..]).unwrap();
        assert_eq!(got.len(), 2, "one reception per gateway");
        assert_eq!(got[0].frame, t);
        assert_eq!(p.pending_devices(), 0);
        // Port 11: a whole telegram in one uplink.
        assert_eq!(run(&mut p, 11, 103, &t).unwrap()[0].frame, t);
    }

    #[test]
    fn a_missing_part_drops_the_telegram() {
        let t = oms_n21();
        let mut p = Parser::default();
        run(&mut p, 13, 100, &t[..20]).unwrap();
        let e = run(&mut p, 33, 102, &t[40..]).unwrap_err();
        assert!(e.reason.contains("without its previous part"), "{e}");
        assert_eq!(p.pending_devices(), 0);
    }

    #[test]
    fn port_101_example_from_the_docs() {
        // Lobaro's published example: '03005e53f31a0102030405060708090a0b0c0d0e0f' on port
        // 101 = first and last uplink, time 1582560026 (2020-02-24T16:00:26Z), telegram
        // 0102...0f; and the same split over fCnt 341/342 ('01005e53f31a0102030405',
        // '02060708090a0b0c0d0e0f').
        let mut p = Parser::default();
        let one = super::super::hex_decode("03005e53f31a0102030405060708090a0b0c0d0e0f").unwrap();
        let got = run(&mut p, 101, 7, &one).unwrap();
        assert_eq!(got[0].frame, (1..=15).collect::<Vec<u8>>());
        assert_eq!(got[0].received_at_ms, Some(1_582_560_026_000));
        let a = super::super::hex_decode("01005e53f31a0102030405").unwrap();
        let b = super::super::hex_decode("02060708090a0b0c0d0e0f").unwrap();
        assert!(run(&mut p, 101, 341, &a).unwrap().is_empty());
        assert_eq!(run(&mut p, 101, 342, &b).unwrap()[0].frame, (1..=15).collect::<Vec<u8>>());
    }

    #[test]
    fn port_102_adds_rssi() {
        let mut m = vec![0x03, 0x00, 0x5e, 0x53, 0xf3, 0x1a, (-87i8) as u8];
        m.extend(oms_n21());
        let got = run(&mut Parser::default(), 102, 9, &m).unwrap();
        assert_eq!((got[0].rssi, got[0].frame.clone()), (Some(-87.0), oms_n21()));
    }
}
