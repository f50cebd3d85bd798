//! Unit tests of DLMS over M-Bus; the Austrian vectors are in `tests/dlms_transport.rs`.

use super::*;

fn apdu(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn segments_round_trip_for_every_count() {
    for (n, size) in [(0, 5), (1, 5), (5, 5), (6, 5), (600, 250), (80, 4)] {
        let a = apdu(n);
        let frames = encode_segments(&a, 0x53, 0xFF, 0x01, 0x67, size).unwrap();
        let (info, got) = reassemble(&frames).unwrap();
        assert_eq!(got, a);
        assert_eq!(info.segments, n.div_ceil(size).max(1));
        assert_eq!((info.control, info.address, info.ci, info.stsap, info.dtsap), (0x53, 0xFF, if info.segments == 1 { 0x10 } else { 0 }, Some(1), Some(0x67)));
        // One frame at a time gives the same.
        let mut r = MbusDlmsReassembler::default();
        let mut pos = 0;
        let mut out = None;
        while pos < frames.len() {
            let len = wired::frame_len(&frames[pos..]).unwrap();
            assert!(out.is_none());
            out = r.push(&frames[pos..pos + len]).unwrap();
            pos += len;
        }
        assert_eq!(out.unwrap(), (info, a));
        assert_eq!(r.pending(), 0);
    }
    assert_eq!(encode_segments(&[1], 0x53, 0xFF, 1, 0x67, 251).unwrap_err(), MbusError::Encode);
}

#[test]
fn structural_errors() {
    let frames = encode_segments(&apdu(12), 0x53, 0xFF, 0x01, 0x67, 5).unwrap();
    let f = 5 + 2 + 9; // one frame of 5 segment bytes
    let code = |b: &[u8]| reassemble(b).unwrap_err();
    assert_eq!(code(&[]), MbusError::Truncated { offset: 0 });
    assert_eq!(code(&frames[..2 * f]), MbusError::Incomplete { offset: 2 * f });
    assert_eq!(code(&frames[..2 * f + 3]).code(), "dlms_mbus_truncated");
    // Frames 0, 2: the second is out of sequence.
    let mut skip = frames[..f].to_vec();
    skip.extend_from_slice(&frames[2 * f..]);
    assert_eq!(code(&skip), MbusError::Sequence { offset: f + 6 });
    let mut trailing = frames.clone();
    trailing.push(0xE5);
    assert_eq!(code(&trailing), MbusError::Trailing { offset: frames.len() });
    let mut cs = frames.clone();
    cs[f - 2] ^= 1;
    assert_eq!(code(&cs), MbusError::Checksum { offset: f - 2 });
    let other = wired::build_long(0x08, 1, 0x72, &[0; 12]).unwrap();
    assert_eq!(code(&other), MbusError::Ci { offset: 6, ci: 0x72 });
    assert_eq!(code(&wired::build_short(0x5B, 1)).code(), "dlms_mbus_frame");
}

#[test]
fn single_frames_with_tpl_headers() {
    // CI 0x7D: short TPL header (ACC 0x2A, STS 0, CFG 0000), then the APDU.
    let mut data = vec![0x2A, 0x00, 0x00, 0x00];
    data.extend_from_slice(&[0x0F, 0, 0, 0, 1, 0]);
    let frame = wired::build_long(0x08, 5, 0x7D, &data).unwrap();
    let (info, a) = reassemble(&frame).unwrap();
    assert_eq!(a, [0x0F, 0, 0, 0, 1, 0]);
    assert_eq!((info.ci, info.address, info.segments, info.tpl.unwrap().access_number), (0x7D, 5, 1, 0x2A));
    // TPL encryption (mode 5 in the configuration field) is refused.
    data[3] = 0x05;
    let frame = wired::build_long(0x08, 5, 0x7D, &data).unwrap();
    assert_eq!(reassemble(&frame).unwrap_err().code(), "dlms_mbus_tpl");
    let frame = wired::build_long(0x08, 5, 0x7C, &[0; 5]).unwrap();
    assert_eq!(reassemble(&frame).unwrap_err().code(), "dlms_mbus_tpl");
}

#[test]
fn reassembler_is_bounded_and_restarts() {
    let frames = encode_segments(&apdu(10), 0x53, 0xFF, 0x01, 0x67, 5).unwrap();
    let (first, second) = frames.split_at(16);
    let mut r = MbusDlmsReassembler::new(100, 2);
    for ch in 0..3 {
        assert_eq!(r.push_from(ch, first).unwrap(), None);
    }
    assert_eq!((r.pending(), r.evicted()), (2, 1));
    // Channel 0 was evicted (oldest): its second segment is out of sequence.
    assert_eq!(r.push_from(0, second).unwrap_err().code(), "dlms_mbus_sequence");
    assert_eq!(r.push_from(2, second).unwrap().unwrap().1, apdu(10));
    // A new segment 0 restarts a meter's APDU.
    assert_eq!(r.push_from(1, first).unwrap(), None);
    assert_eq!(r.push_from(1, second).unwrap().unwrap().1, apdu(10));
    let mut small = MbusDlmsReassembler::new(7, 2);
    assert_eq!(small.push(first).unwrap(), None);
    assert_eq!(small.push(second).unwrap_err().code(), "dlms_mbus_overflow");
}
