//! IMST Wireless M-Bus Range Extender uplinks (IMST user manual, "Transport Protocol
//! Details" and "Upload of captured Wireless M-Bus Packets"; port numbers as in IMST's
//! published TTN payload decoder):
//! - port 0x44 (68): segmented wM-Bus data; each uplink starts with a segment control byte,
//!   bit 7 = last segment, bits 0–6 = segment number (0 for a new transmission, +1 per
//!   segment, wrapping 127 → 0; a repeated segment number is a retransmission to ignore);
//! - port 0x04: the same data in one uplink without a control byte;
//! - ports 0x03/0x43: status, no telegram.
//!
//! The reassembled data is a sequence of packets, each a 32-bit little-endian Unix time of
//! reception, then the wM-Bus packet from its L-field (L bytes follow, no CRCs).

use super::lorawan::{Telegram, Uplink};
use super::{ParseError, Pending};

/// Feed one uplink; the telegrams it completes.
pub(crate) fn feed(p: &mut Pending, up: &Uplink, max_bytes: usize) -> Result<Vec<Telegram>, ParseError> {
    match up.f_port {
        0x03 | 0x43 => Ok(Vec::new()),
        0x04 => packets(&up.data),
        0x44 => segment(p, up, max_bytes),
        port => Err(ParseError::new(format!("IMST: port {port} carries no wM-Bus data"))),
    }
}

fn segment(p: &mut Pending, up: &Uplink, max_bytes: usize) -> Result<Vec<Telegram>, ParseError> {
    let (&ctrl, rest) = up.data.split_first().ok_or_else(|| ParseError::new("IMST: empty uplink"))?;
    let (last, seq) = (ctrl & 0x80 != 0, (ctrl & 0x7f) as u32);
    if seq == 0 {
        p.parts.clear();
    } else {
        match p.parts.last() {
            Some(&(_, s, _)) if s == seq => return Ok(Vec::new()),
            Some(&(_, s, _)) if (s + 1) & 0x7f == seq => {}
            _ => {
                p.parts.clear();
                return Err(ParseError::new(format!("IMST {}: segment {seq} without its previous segment", up.device)));
            }
        }
    }
    let held: usize = p.parts.iter().map(|(_, _, d)| d.len()).sum();
    if held + rest.len() > max_bytes {
        p.parts.clear();
        return Err(ParseError::new(format!("IMST {}: transmission longer than {max_bytes} bytes", up.device)));
    }
    p.parts.push((up.f_cnt, seq, rest.to_vec()));
    if !last {
        return Ok(Vec::new());
    }
    let data: Vec<u8> = std::mem::take(&mut p.parts).into_iter().flat_map(|(_, _, d)| d).collect();
    packets(&data)
}

/// `time(4, LE) L packet(L)`, repeated.
fn packets(mut d: &[u8]) -> Result<Vec<Telegram>, ParseError> {
    let mut out = Vec::new();
    while !d.is_empty() {
        if d.len() < 5 {
            return Err(ParseError::new(format!("IMST: {} trailing bytes", d.len())));
        }
        let secs = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64;
        let l = d[4] as usize;
        let frame = d.get(4..5 + l).ok_or_else(|| ParseError::new(format!("IMST: packet of L = {l} cut short")))?;
        out.push(Telegram { frame: frame.to_vec(), time_ms: Some(secs * 1000), rssi: None });
        d = &d[5 + l..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::lorawan::tests::tts_uplink;
    use super::super::samples::oms_n21;
    use super::super::{Parser, Shape};

    #[test]
    fn segments_reassemble_into_time_stamped_packets() {
        // Two packets (OMS N.2.1 twice, times 1582560026 and +60 s) in three segments, the
        // second one retransmitted.
        let mut data = Vec::new();
        for t in [1_582_560_026u32, 1_582_560_086] {
            data.extend(t.to_le_bytes());
            data.extend(oms_n21());
        }
        let (a, b, c) = (&data[..40], &data[40..80], &data[80..]);
        let seg = |ctrl: u8, d: &[u8]| [&[ctrl][..], d].concat();
        let mut p = Parser::default();
        let mut run = |f_cnt: u32, payload: Vec<u8>| p.parse(Shape::Imst, tts_uplink(0x44, f_cnt, &payload).as_bytes(), "t", 5);
        assert!(run(1, seg(0x00, a)).unwrap().is_empty());
        assert!(run(2, seg(0x01, b)).unwrap().is_empty());
        assert!(run(3, seg(0x01, b)).unwrap().is_empty());
        let got = run(4, seg(0x82, c)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].frame, oms_n21());
        assert_eq!(got[0].received_at_ms, Some(1_582_560_026_000));
        assert_eq!(got[1].received_at_ms, Some(1_582_560_086_000));
        assert_eq!(got[0].gateway.as_deref(), Some("0004A30B001C0530/gtw1"));
    }

    #[test]
    fn a_lost_segment_is_reported() {
        let mut p = Parser::default();
        p.parse(Shape::Imst, tts_uplink(0x44, 1, &[0x00, 1, 2]).as_bytes(), "t", 5).unwrap();
        let e = p.parse(Shape::Imst, tts_uplink(0x44, 3, &[0x82, 3]).as_bytes(), "t", 5).unwrap_err();
        assert!(e.reason.contains("without its previous segment"), "{e}");
    }
}
