//! Stage 1: the link layer. EN 13757-2 FT1.2 frames (checksum, stop byte) or EN 13757-4
//! wireless frames (block CRCs of formats A/B), then on to the ELL / AFL / TPL stages.

use std::borrow::Cow;

use super::telegram::{FrameKind, LinkInfo, Telegram};
use super::{afl, ell, Ctx, LinkMode};
use crate::error::Error;
use crate::mbus::link::wired::{self, WiredFrame};
use crate::mbus::link::wmbus::{self, FormatHint, FrameFormat};
use crate::mbus::link::{FrameError, FrameErrorReason};
use crate::mbus::tpl::Address;
use crate::error::ErrorKind;

/// Offset of the CI after the wireless link header `L C M(2) A(6)` (CRCs removed).
const WIRELESS_CI_OFFSET: usize = 10;

/// Decode `frame` into `tg` (which the link stage resets before filling it in).
pub(super) fn decode_frame(frame: &[u8], ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let detect = if ctx.opts.require_link_crc || ctx.opts.strict { FormatHint::Crc } else { FormatHint::Auto };
    let hint = match ctx.opts.link {
        LinkMode::Wired => return decode_wired(frame, ctx, tg),
        LinkMode::Auto if looks_wired(frame) => {
            return match decode_wired(frame, ctx, tg) {
                // Not FT1.2-shaped after all (a wireless frame with L = 68h whose next bytes
                // happen to look like a long-frame header): try wireless, and if that fails too,
                // report the wired error. An FT1.2 frame with a damaged L is not retried. (The
                // FT1.2 marks are counted only here, on the error path: a good wired frame is
                // not checksummed twice.)
                Err(
                    e @ Error {
                        kind: ErrorKind::Frame(FrameErrorReason::LengthMismatch { .. } | FrameErrorReason::BadSecondStart(_)),
                        ..
                    },
                ) if frame.len() > 5 && !ft12_shaped(frame) => decode_wireless(frame, detect, ctx, tg).map_err(|_| e),
                other => other,
            };
        }
        // An FT1.2 long frame with one field damaged is still FT1.2: its error is reported, it
        // is never read as a wireless frame (EN 13757-2 5.4: start, L, L, start, ..., CS, stop).
        LinkMode::Auto if ft12_shaped(frame) => return decode_wired(frame, ctx, tg),
        LinkMode::Auto | LinkMode::Wireless => detect,
        LinkMode::WirelessA => FormatHint::A,
        LinkMode::WirelessB => FormatHint::B,
        LinkMode::WirelessNoCrc => FormatHint::NoCrc,
    };
    decode_wireless(frame, hint, ctx, tg)
}

fn looks_wired(frame: &[u8]) -> bool {
    match frame {
        [wired::SINGLE_ACK] => true,
        [wired::START_SHORT, _, _, _, _] => true,
        [wired::START_LONG, l1, l2, b3, ..] => l1 == l2 || *b3 == wired::START_LONG,
        _ => false,
    }
}

/// At least four of the six marks of an FT1.2 long frame: start 68h, L1 = L2, second start 68h,
/// the length L + 6, the checksum, stop 16h. One damaged byte leaves five; a wireless frame
/// shows more than one only by chance (about 1 in 65536 for two).
fn ft12_shaped(frame: &[u8]) -> bool {
    let [b0, l1, l2, b3, ..] = *frame else { return false };
    let n = frame.len();
    if n < 9 {
        return false;
    }
    let body = |l: u8| (n == usize::from(l) + 6).then(|| &frame[4..n - 2]);
    let checksum_ok = body(l1).or_else(|| body(l2)).is_some_and(|b| {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x)) == frame[n - 2]
    });
    let marks = [
        b0 == wired::START_LONG,
        l1 == l2,
        b3 == wired::START_LONG,
        n == usize::from(l1) + 6 || n == usize::from(l2) + 6,
        checksum_ok,
        frame[n - 1] == wired::STOP,
    ];
    marks.iter().filter(|m| **m).count() >= 4
}

fn frame_kind(f: &WiredFrame) -> FrameKind {
    match f {
        WiredFrame::Ack => FrameKind::SingleCharacter,
        WiredFrame::Short { .. } => FrameKind::Short,
        WiredFrame::Long { data: [], .. } => FrameKind::Control,
        WiredFrame::Long { .. } => FrameKind::Long,
    }
}

fn decode_wired(frame: &[u8], ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let parsed = wired::parse(frame)?;
    let kind = frame_kind(&parsed);
    match parsed {
        WiredFrame::Ack => tg.reset(LinkInfo::Wired { c: 0, a: 0, kind }),
        WiredFrame::Short { c, a } => tg.reset(LinkInfo::Wired { c: c.0, a, kind }),
        WiredFrame::Long { c, a, .. } => {
            tg.reset(LinkInfo::Wired { c: c.0, a, kind });
            let tpdu = &frame[wired::LONG_CI_OFFSET..frame.len() - 2];
            afl::decode_afl_tpl(tg, Cow::Borrowed(tpdu), wired::LONG_CI_OFFSET, ctx)?;
        }
    }
    Ok(())
}

fn decode_wireless(frame: &[u8], hint: FormatHint, ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let wf = wmbus::parse_wmbus(frame, hint)?;
    let link = Address { id: wf.id, manufacturer: wf.m, version: wf.version, device_type: wf.device_type };
    tg.reset(LinkInfo::Wireless { c: wf.c, format: wf.format, address: link, trailing: wf.trailing });
    tg.address = Some(link);
    let buf: Cow<[u8]> = wf.data;
    if buf.is_empty() {
        return Ok(());
    }
    let ctx = Ctx { link: Some(link), ..*ctx };
    let Some((buf, base)) = ell::decode_ell(tg, buf, WIRELESS_CI_OFFSET, link, &ctx)? else {
        return Ok(());
    };
    afl::decode_afl_tpl(tg, buf, base, &ctx)
}

/// The telegram of a reassembled AFL message: its link header `L C M(2) A(6)` (10 bytes).
pub(super) fn reassembled_link(link: &[u8]) -> Result<Telegram, Error> {
    if link.len() < WIRELESS_CI_OFFSET {
        return Err(FrameError {
            offset: link.len(),
            reason: FrameErrorReason::Truncated { expected: WIRELESS_CI_OFFSET, got: link.len() },
        }
        .into());
    }
    let address = Address {
        id: [link[4], link[5], link[6], link[7]],
        manufacturer: u16::from_le_bytes([link[2], link[3]]),
        version: link[8],
        device_type: link[9],
    };
    Ok(Telegram::new(LinkInfo::Wireless { c: link[1], format: FrameFormat::NoCrc, address, trailing: 0 }))
}
