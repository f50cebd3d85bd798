//! The bytes of one simulated telegram: the clear readout records of §6.3 (as Appendix B1.3
//! lays them out), mode-15 encryption (§5), and the wired (§4.3.2, RSP_UD CI 72h long header)
//! or wireless (§4.4.2, SND_NR CI 7Ah short header, format A) frame around them. Everything
//! that does not change between telegrams of a device is computed once ([`Template`]).

use aes::cipher::BlockCipherEncrypt;
use aes::Aes128Enc;

use crate::civil::civil_from_days;
use crate::dsmr::control::{c, ConfigWord};
use crate::dsmr::short_id::ShortId;
use crate::mbus::link::wmbus::crc16_en13757;

/// Longest frame the simulator makes (wireless, 4 encrypted blocks: 98 bytes).
pub const MAX_FRAME: usize = 128;

/// Offset of the 46 6D time stamp's 6 bytes in the plaintext (after 2F 2F, 01 FD 17 ST,
/// 0D 78 11 + 17 characters, 46 6D).
const TIME_AT: usize = 2 + 4 + 20 + 2;
/// Offset of the first reading's 4 BCD bytes (after the time stamp, 4C VIF).
const VALUE_AT: usize = TIME_AT + 6 + 2;

/// A device's constant telegram parts.
#[derive(Clone)]
pub struct Template {
    /// The plaintext with zeroed time and values, 2F fillers to whole blocks.
    plain: [u8; 64],
    /// Encrypted blocks (3 or 4).
    blocks: u8,
    /// The IV's first 8 bytes: M ‖ ID ‖ VER ‖ DEV (§5.2).
    iv8: [u8; 8],
    /// Wired: `68 L L 68 08 A 72 ShortID(8)`, ACC follows; wireless: `L 44 M A` + its CRC.
    head: [u8; 15],
    /// Bytes of `head` used.
    head_len: u8,
    /// The configuration word as sent (LE).
    cw: [u8; 2],
    /// Wireless (format A, §3.2) or wired (FT1.2).
    wireless: bool,
}

impl Template {
    /// The template of a device: Short ID, equipment identifier (17 characters), status,
    /// configuration mask, reading VIFs (one or two), medium, primary address (wired).
    pub fn new(id: &ShortId, equipment_id: &[u8; 17], mask: u8, vifs: &[u8], wireless: bool, primary: u8) -> Self {
        let mut p = [0x2F; 64];
        let mut n = 2;
        let mut put = |b: &[u8]| {
            p[n..n + b.len()].copy_from_slice(b);
            n += b.len();
        };
        put(&[0x01, 0xFD, 0x17, 0x00]); // §6.3.3 status (0)
        put(&[0x0D, 0x78, 0x11]); // §6.4.1 equipment identifier, last character first
        let mut eid = *equipment_id;
        eid.reverse();
        put(&eid);
        put(&[0x46, 0x6D, 0, 0, 0, 0, 0, 0]); // §6.4.3 time stamp, storage 1
        for &vif in vifs.iter().take(2) {
            put(&[0x4C, vif, 0, 0, 0, 0]); // §6.4.4-6.4.7 hourly value, 8 BCD, storage 1
        }
        put(&[0x01, 0xFD, 0x67, mask]); // §6.4.8 meter configuration
        // §5.1: at least two 2F fillers end the last block.
        let blocks = (n + 2).div_ceil(16) as u8;
        let (flags, medium_c) = if wireless { (ConfigWord::B | ConfigWord::S, c::SND_NR) } else { (0, c::RSP_UD) };
        let cw = ConfigWord::new(flags, Some(blocks)).0.to_le_bytes();
        let iv8 = id.0.bytes();
        let enc = usize::from(blocks) * 16;
        let mut head = [0u8; 15];
        let head_len = if wireless {
            // L counts C M A CI ACC ST CW(2) enc (04 FD 08 FC), no CRCs (§3.2, format A).
            head[0] = (9 + 5 + enc + 7) as u8;
            head[1] = medium_c;
            head[2..10].copy_from_slice(&iv8);
            let crc = crc16_en13757(&head[..10]).to_be_bytes();
            head[10..12].copy_from_slice(&crc);
            12
        } else {
            let l = (3 + 12 + enc + 7) as u8;
            head[..7].copy_from_slice(&[0x68, l, l, 0x68, medium_c, primary, 0x72]);
            head[7..15].copy_from_slice(&id.wire());
            15
        };
        Template { plain: p, blocks, iv8, head, head_len: head_len as u8, cw, wireless }
    }

    /// Write one telegram into `out`; returns its length. `time` = the 6 bytes of the type I
    /// time stamp, `values` = the readings as sent (8 BCD digits each).
    pub fn write(&self, cipher: &Aes128Enc, acc: u8, fc: u32, time: &[u8; 6], values: &[u64], out: &mut [u8; MAX_FRAME]) -> usize {
        let enc = usize::from(self.blocks) * 16;
        // Body after the link head: [CI ACC ST CW | ACC ST CW] enc 04 FD 08 FC.
        let mut body = [0u8; 5 + 64 + 7];
        let mut n = 0;
        if self.wireless {
            body[0] = 0x7A;
            n = 1;
        }
        body[n..n + 4].copy_from_slice(&[acc, 0x00, self.cw[0], self.cw[1]]);
        n += 4;
        let pt = &mut body[n..n + enc];
        pt.copy_from_slice(&self.plain[..enc]);
        pt[TIME_AT..TIME_AT + 6].copy_from_slice(time);
        for (i, &v) in values.iter().enumerate().take(2) {
            let at = VALUE_AT + 6 * i;
            pt[at..at + 4].copy_from_slice(&bcd8(v));
        }
        let fcb = fc.to_le_bytes();
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&self.iv8);
        iv[8..12].copy_from_slice(&fcb);
        iv[12..].copy_from_slice(&fcb);
        cbc_encrypt(cipher, iv, pt);
        n += enc;
        body[n..n + 7].copy_from_slice(&[0x04, 0xFD, 0x08, fcb[0], fcb[1], fcb[2], fcb[3]]);
        n += 7;
        let h = usize::from(self.head_len);
        out[..h].copy_from_slice(&self.head[..h]);
        if self.wireless {
            h + crc_blocks(&body[..n], &mut out[h..])
        } else {
            out[h..h + n].copy_from_slice(&body[..n]);
            // FT1.2 checksum over C A CI header and data (§3.1).
            let cs = out[4..h + n].iter().fold(0u8, |a, &b| a.wrapping_add(b));
            out[h + n] = cs;
            out[h + n + 1] = 0x16;
            h + n + 2
        }
    }
}

/// Format A: the data after block 1 in blocks of 16 bytes, each followed by its CRC (BE).
fn crc_blocks(data: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for chunk in data.chunks(16) {
        out[n..n + chunk.len()].copy_from_slice(chunk);
        n += chunk.len();
        out[n..n + 2].copy_from_slice(&crc16_en13757(chunk).to_be_bytes());
        n += 2;
    }
    n
}

/// AES-128-CBC in place (NIST SP 800-38A §6.2) with an encrypt-only key schedule.
#[inline]
fn cbc_encrypt(cipher: &Aes128Enc, iv: [u8; 16], buf: &mut [u8]) {
    let mut prev = aes::Block::from(iv);
    for chunk in buf.chunks_exact_mut(16) {
        for (p, b) in prev.iter_mut().zip(chunk.iter()) {
            *p ^= b;
        }
        cipher.encrypt_block(&mut prev);
        chunk.copy_from_slice(&prev);
    }
}

/// A value as 8 BCD digits, LSB first (values above 99,999,999 saturate).
#[inline]
pub fn bcd8(v: u64) -> [u8; 4] {
    let mut v = v.min(99_999_999) as u32;
    let mut out = [0u8; 4];
    for b in &mut out {
        let lo = (v % 10) as u8;
        let hi = ((v / 10) % 10) as u8;
        *b = (hi << 4) | lo;
        v /= 100;
    }
    out
}

/// Unix seconds (UTC) → the 6 bytes of EN 13757-3 type I as Appendix B1.3 sends its time
/// stamp: seconds, minutes, hours, a type G date (year − 2000), week 0; no day of week, no
/// daylight-saving or leap-year flags (B1.3: `00 00 0B 32 16 00` = 2009-06-18 11:00:00).
/// Years 2000–2127.
pub fn type_i_utc(unix: i64) -> [u8; 6] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let yy = (y - 2000).clamp(0, 127) as u8;
    [
        (secs % 60) as u8,
        ((secs / 60) % 60) as u8,
        (secs / 3600) as u8,
        d | ((yy & 0x07) << 5),
        m | ((yy >> 3) << 4),
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::address::Address;
    use crate::dsmr::control::Medium;
    use crate::dsmr::{message, Direction};
    use aes::cipher::KeyInit;

    fn hx(s: &str) -> Vec<u8> {
        crate::hex::parse_hex(s).unwrap()
    }

    // source: DSMR P2 Appendix B1.3 (RSP_UD of a gas meter) and the verified vector
    // dsmr-p2-v422-B13-iv-40 (security-notes §f): key 000102..0F, ID 23456789 'NET', gas,
    // ACC F6, frame counter 1, 2009-06-18 11:00:00, 391 litres, mask 05. The ciphertext was
    // made with IV byte 6 = 40h (erratum), so the device's version is 40h here.
    #[test]
    fn appendix_b13_byte_exact() {
        let id = ShortId(Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x40, 0x03));
        let t = Template::new(&id, b"XXXXX110123456789", 0x05, &[0x13], false, 1);
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        let mut out = [0u8; MAX_FRAME];
        let n = t.write(&Aes128Enc::new(&key.into()), 0xF6, 1, &type_i_utc(1_245_322_800), &[391], &mut out);
        let f = &out[..n];
        // L: the printed 3Fh does not count the bytes listed; 3 + 12 + 48 + 7 = 70 = 46h.
        assert_eq!(f[..7], hx("68 46 46 68 08 01 72")[..]);
        assert_eq!(f[7..19], hx("89674523 B438 40 03 F6 00 30 0F")[..]);
        let enc = hx("F180C53E0768C76AE6E24A98BDD5947F622732BF6372AA2AA9AF6D0F0C71FB597FFC6205A25F50842787A6F0C29D507B");
        assert_eq!(f[19..67], enc[..]);
        assert_eq!(f[67..74], hx("04FD08 01000000")[..]);
        let cs = f[4..74].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        assert_eq!((n, f[74], f[75]), (76, cs, 0x16));
        // The skeleton's parser takes it, and opens it to the B1.3 plaintext.
        let m = message::parse(Medium::Wired, Direction::FromDevice, f).unwrap();
        let (plain, fc) = m.open(Some(&key), &id.0).unwrap();
        let b13 = "2f2f01fd17000d78113938373635343332313031315858585858466d00000b3216004c139103000001fd67052f2f2f2f";
        assert_eq!((plain, fc), (hx(b13), Some(1)));
    }

    #[test]
    fn wireless_frame_is_format_a_snd_nr() {
        let id = ShortId(Address::new(0x38B4, [0x89, 0x67, 0x45, 0x23], 0x42, 0x03));
        let t = Template::new(&id, b"XXXXX110123456789", 0x05, &[0x13], true, 0);
        let key = [7u8; 16];
        let mut out = [0u8; MAX_FRAME];
        let n = t.write(&Aes128Enc::new(&key.into()), 0x10, 5, &type_i_utc(1_245_322_800), &[391], &mut out);
        let m = message::parse(Medium::Wireless, Direction::FromDevice, &out[..n]).unwrap();
        assert_eq!((m.c, m.ci, m.kind), (0x44, Some(0x7A), crate::dsmr::control::MessageKind::PeriodicData));
        let h = m.header.unwrap();
        // §4.4.2: B and S set, method 15, 3 blocks: CW AF30h (on air 30 AF).
        assert_eq!((h.acc, h.status, h.cw.0, h.short_id), (0x10, 0, 0xAF30, None));
        assert_eq!(m.link, message::LinkAddress::Radio(id.0));
        let (plain, fc) = m.open(Some(&key), &id.0).unwrap();
        assert_eq!(fc, Some(5));
        assert_eq!(plain[34..40], hx("4C13 91030000")[..]);
    }

    #[test]
    fn type_i_as_appendix_b13() {
        // source: DSMR P2 Appendix B1.3, time stamp 46 6D 00 00 0B 32 16 00 = 09.06.18 11:00:00
        assert_eq!(type_i_utc(1_245_322_800), [0x00, 0x00, 0x0B, 0x32, 0x16, 0x00]);
        assert_eq!(bcd8(391), [0x91, 0x03, 0x00, 0x00]);
        assert_eq!(bcd8(12_345_678), [0x78, 0x56, 0x34, 0x12]);
    }
}
