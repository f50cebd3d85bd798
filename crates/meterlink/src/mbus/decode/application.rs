//! Stage 6: the application layer. What the CI says the payload is (EN 13757-7 Table 2):
//! data records (EN 13757-3), compact frames and format frames (the format cache), an
//! application error, or content decoded elsewhere; then known manufacturer layouts and the
//! tail policy for data that does not end on a record boundary.

use super::header::Tpl;
use super::protection::set_payload;
use super::telegram::{Telegram, Undecoded};
use super::{Ctx, TailPolicy};
use crate::error::{Error, ErrorKind};
use crate::mbus::tpl::{self, CiPayload};
use crate::mbus::{compact, manufacturer, records};

/// Before the protection stage: is the payload content that goes on to protection and
/// decoding (records, commands, compact and format frames)? Application errors and content
/// decoded by later layers end here; a reserved CI is an error.
pub(super) fn is_secured_content(tg: &mut Telegram, tpl: &Tpl, tpdu: &[u8], base: usize) -> Result<bool, Error> {
    let body = &tpdu[tpl.body_at..];
    match tpl.info.payload {
        CiPayload::ApplicationError => {
            tg.application_error = Some(tpl::application_error_text(body));
            Ok(false)
        }
        // Compact frames and format frames are secured like full frames; their records need
        // the format cache, so the (decrypted) payload is kept for it.
        CiPayload::Records | CiPayload::Command | CiPayload::CompactRecords | CiPayload::FormatFrame => Ok(true),
        CiPayload::Reserved => Err(Error::new(base, ErrorKind::ReservedCi { ci: tpdu[0] })),
        _ => {
            // Recognised, decoded by later layers (DLMS...); keep the bytes.
            set_payload(&mut tg.payload, body);
            Ok(false)
        }
    }
}

/// Decode the (plaintext) payload in `tg.payload` as the CI says.
pub(super) fn decode_application(tg: &mut Telegram, tpl: &Tpl, ctx: &Ctx) -> Result<(), Error> {
    match tpl.info.payload {
        CiPayload::Records | CiPayload::Command => {}
        CiPayload::CompactRecords => {
            if !expand_compact(tg, ctx) {
                return Ok(());
            }
        }
        CiPayload::FormatFrame => {
            learn_format(tg, ctx);
            return Ok(());
        }
        _ => return Ok(()),
    }
    decode_records(tg, tpl, ctx)?;
    if let (Some(cache), CiPayload::Records, None) = (ctx.formats, tpl.info.payload, &tg.undecoded) {
        cache.learn(&tg.records, &tg.payload);
    }
    // Values known meter families carry in manufacturer-specific data, as extra records.
    if let Some(addr) = tg.address {
        let extra = manufacturer::decode_records(addr, &tg.payload, &tg.records);
        tg.records.extend(extra);
    }
    Ok(())
}

/// A compact frame: expand its data with the format its signature names. False (and the
/// payload reported undecoded) when the format is unknown or does not fit.
fn expand_compact(tg: &mut Telegram, ctx: &Ctx) -> bool {
    // Decrypted payloads begin with the 2F2F verification bytes of modes 5/7.
    let at = if tg.protection.decrypted() && tg.payload.starts_with(&[0x2F, 0x2F]) { 2 } else { 0 };
    match compact::expand(ctx.formats, &tg.payload[at..]) {
        Ok(full) => {
            tg.compact_signature = Some(u16::from_le_bytes([tg.payload[at], tg.payload[at + 1]]));
            // Records now point into the expanded buffer (offsets no longer map 1:1 onto the frame).
            tg.payload = full;
            true
        }
        Err(e) => {
            tg.undecoded = Some(Undecoded { offset: tg.payload_offset, start: 0, reason: e.to_string() });
            false
        }
    }
}

/// A format frame only teaches the cache the format of later compact frames.
fn learn_format(tg: &mut Telegram, ctx: &Ctx) {
    let learnt = ctx.formats.and_then(|cache| cache.learn_format_frame(&tg.payload));
    tg.compact_signature = learnt;
    if learnt.is_none() {
        let reason = if ctx.formats.is_some() {
            "format frame: no DIB/VIB sequence matching its format signature"
        } else {
            "format frame: pass a format cache to learn from it"
        };
        tg.undecoded = Some(Undecoded { offset: tg.payload_offset, start: 0, reason: reason.to_string() });
    }
}

/// The data records, with the tail policy for data that does not end on a record boundary.
fn decode_records(tg: &mut Telegram, tpl: &Tpl, ctx: &Ctx) -> Result<(), Error> {
    let Err(e) = records::parse_records(&tg.payload, tpl.info.msb_first, &mut tg.records) else {
        return Ok(());
    };
    let keep = match ctx.opts.tail {
        TailPolicy::Strict => false,
        TailPolicy::Keep => true,
        TailPolicy::Auto => ctx.link.is_some(),
    };
    if !keep {
        return Err(Error::in_layer(ErrorKind::Record(e), tg.payload_offset));
    }
    // The records before the failing one are complete; the failing one starts at the end of
    // the last good record (idle fillers in between are skipped by the parser).
    let start = tg.records.last().map_or(0, |r| (r.data.start + u32::from(r.data.len)) as usize);
    let reason = e.shifted(tg.payload_offset).to_string();
    tg.undecoded = Some(Undecoded { offset: tg.payload_offset + start, start, reason });
    Ok(())
}
