//! Commands from the E-meter to an M-Bus device (§6.2, §6.3.1, §6.5.1) as records.
//!
//! ```text
//! set time      (CI 6C)  TC=00 ‖ type I (UTC) ‖ 00 00 00              §6.2.1
//! set address            01 7A A                                      §6.2.2
//! clear status           01 FD 97 06 mask                             §6.2.3
//! set key                07 FD 19 <8 bytes> 47 FD 19 <8 bytes>        §6.5.1
//! select readout         08 <VIB> (one per item)                      §6.3.1
//! ```
//! `FD 97 06`: VIF FDh (second extension table), VIFE 97h = 17h "error flags" with the
//! extension bit, then VIFE 06h, EN 13757-3's object action "AND NOT" (clear the bits that are
//! set in the data): the status becomes `status & !mask`. The §6.2.3 mask 73h clears bits 0, 1,
//! 4, 5, 6 (application, temporary, clock and fraud errors) and keeps the permanent ones (2, 3).

use super::super::error::DsmrError;
use super::super::mode15;
use super::time::{decode_type_i, encode_type_i};
use super::{Command, RecordWalk};

/// The §6.2.1 "TC" byte: set time.
pub const TC_SET_TIME: u8 = 0x00;
/// VIB of the clear-status command (§6.2.3).
pub const VIB_CLEAR_STATUS: [u8; 3] = [0xFD, 0x97, 0x06];
/// VIB of the key transport records (§6.5.1).
pub const VIB_KEY: [u8; 2] = [0xFD, 0x19];

/// Append the records of one command.
pub(crate) fn encode_one(c: &Command, out: &mut Vec<u8>) {
    match c {
        Command::SetTime(t) => {
            out.push(TC_SET_TIME);
            out.extend_from_slice(&encode_type_i(*t, true));
            out.extend_from_slice(&[0, 0, 0]);
        }
        Command::SetAddress(a) => out.extend_from_slice(&[0x01, 0x7A, *a]),
        Command::ClearStatus(m) => out.extend_from_slice(&[0x01, 0xFD, 0x97, 0x06, *m]),
        Command::SetKey(w) => out.extend_from_slice(&mode15::key_transport_records(w)),
        Command::SelectReadout(vibs) => {
            for v in vibs {
                out.push(0x08);
                out.extend_from_slice(v);
            }
        }
    }
}

fn app_err(reason: impl Into<String>, offset: usize) -> DsmrError {
    DsmrError::Application { reason: reason.into(), offset }
}

/// §6.2.1: `[2F…] 00 <type I> 00 00 00 [2F…]`.
pub(crate) fn parse_set_time(data: &[u8]) -> Result<Vec<Command>, DsmrError> {
    let at = data.iter().position(|&b| b != 0x2F).ok_or_else(|| app_err("set time: no TC byte", data.len()))?;
    if data[at] != TC_SET_TIME {
        return Err(app_err(format!("set time: TC {:02X}h is not 00h", data[at]), at));
    }
    let body = data.get(at + 1..at + 10).ok_or_else(|| app_err("set time: cut short", data.len()))?;
    let ti: [u8; 6] = body[..6].try_into().expect("6 bytes");
    let (t, _) = decode_type_i(ti).ok_or_else(|| app_err("set time: invalid type I date", at + 1))?;
    if let Some(i) = body[6..].iter().position(|&b| b != 0) {
        return Err(app_err("set time: reserved bytes must be 00h", at + 7 + i));
    }
    if let Some(i) = data[at + 10..].iter().position(|&b| b != 0x2F) {
        return Err(app_err("set time: only 2F fillers may follow", at + 10 + i));
    }
    Ok(vec![Command::SetTime(t)])
}

/// The record forms (CI 51h, 5Ah, 5Bh): every record must be one of the commands; a frame
/// counter record `04 FD 08` (§5.2, present in clear messages too) is skipped.
pub(crate) fn parse_records_form(data: &[u8]) -> Result<Vec<Command>, DsmrError> {
    let walk = RecordWalk::new(data)?;
    let mut out: Vec<Command> = Vec::new();
    let mut key_low: Option<([u8; 8], usize)> = None;
    for r in &walk.records {
        let (dib, vib, val) = (r.dib, r.vib, r.value);
        match (dib, vib) {
            ([0x01], [0x7A]) => out.push(Command::SetAddress(val[0])),
            ([0x01], v) if v == VIB_CLEAR_STATUS => out.push(Command::ClearStatus(val[0])),
            ([0x07], v) if v == VIB_KEY && key_low.is_none() => key_low = Some((val.try_into().expect("8"), r.offset)),
            ([0x47], v) if v == VIB_KEY => {
                let Some((low, _)) = key_low.take() else {
                    return Err(app_err("set key: 47 FD 19 without a preceding 07 FD 19", r.offset));
                };
                out.push(Command::SetKey(wrapped_key(&low, val.try_into().expect("8"))));
            }
            ([0x08], v) => match out.last_mut() {
                Some(Command::SelectReadout(items)) => items.push(v.to_vec()),
                _ => out.push(Command::SelectReadout(vec![v.to_vec()])),
            },
            ([0x04], [0xFD, 0x08]) => {}
            _ => return Err(app_err(format!("record {} is no §6.2 command", r.head_hex()), r.offset)),
        }
    }
    match key_low {
        Some((_, at)) => Err(app_err("set key: 07 FD 19 without its 47 FD 19 half", at)),
        None => Ok(out),
    }
}

/// The wrapped key from the two §6.5.1 records (each half LSB first; the record with storage
/// 0 carries the low half, wrapped bytes 8..16).
fn wrapped_key(low: &[u8; 8], high: &[u8; 8]) -> [u8; 16] {
    let mut w = [0u8; 16];
    for i in 0..8 {
        w[15 - i] = low[i];
        w[7 - i] = high[i];
    }
    w
}
