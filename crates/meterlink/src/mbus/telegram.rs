//! The decode pipeline: link layer → ELL → AFL → TPL header → security → records.
//!
//! Offsets in errors are byte offsets in the frame as given. For wireless frames that carried
//! DLL CRCs (formats A/B) they count in the frame with the CRCs removed.

use std::borrow::Cow;

use crate::mbus::afl::{self, Afl};
use crate::mbus::compact::{self, FormatCache};
use crate::mbus::ell::{self, Ell};
use crate::error::Error;
use crate::keys::{self, KeyLookup, KeyMaterial, NoKeys};
use crate::mbus::link::wired::{self, WiredFrame};
use crate::mbus::link::wmbus::{self, FormatHint, FrameFormat};
use crate::mbus::link::{FrameError, FrameErrorReason};
use crate::mbus::records::{self, Function, Record, RecordKind, Span, Unit, Value, VifInfo, VifTable};
use crate::mbus::security::{self, SecurityError};
use crate::mbus::tpl::{self, fixed, Address, CiHeader, CiInfo, CiPayload, HeaderKind, TplError, TplHeader};

/// Which link layer the input uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Tell wired FT1.2 from wireless frames (with or without DLL CRCs) by their structure.
    #[default]
    Auto,
    /// EN 13757-2 FT1.2 only.
    Wired,
    /// EN 13757-4 wireless, frame format A, B or CRCs already removed (detected).
    Wireless,
    /// Wireless, frame format A with CRCs.
    WirelessA,
    /// Wireless, frame format B with CRCs.
    WirelessB,
    /// Wireless, DLL CRCs already removed by the receiver.
    WirelessNoCrc,
}

impl LinkMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(LinkMode::Auto),
            "wired" | "mbus" => Some(LinkMode::Wired),
            "wireless" | "wmbus" => Some(LinkMode::Wireless),
            "wireless-a" | "a" => Some(LinkMode::WirelessA),
            "wireless-b" | "b" => Some(LinkMode::WirelessB),
            "wireless-nocrc" | "nocrc" => Some(LinkMode::WirelessNoCrc),
            _ => None,
        }
    }
}

/// What to do when the application data ends in bytes that are not a complete data record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TailPolicy {
    /// Wired frames: `Strict`. Wireless telegrams: `Keep`. Real wM-Bus meters append
    /// manufacturer bytes without announcing them by DIF 0F (seen in telegrams of several
    /// makes), while on wired M-Bus an unparseable tail is a malformed frame (EN 13757-3; libmbus
    /// rejects it the same way).
    #[default]
    Auto,
    /// The telegram is rejected with a `DecodeError` naming the record and its offset.
    Strict,
    /// The records before the tail are returned; the tail is reported in
    /// [`Telegram::undecoded`] with its offset and the reason.
    Keep,
}

impl TailPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(TailPolicy::Auto),
            "strict" => Some(TailPolicy::Strict),
            "keep" => Some(TailPolicy::Keep),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    pub link: LinkMode,
    /// Raise a security error for an encrypted telegram without a key, instead of returning
    /// its header with no records.
    pub strict: bool,
    pub tail: TailPolicy,
    /// Wired links: the secondary address of the meter the master selected. It stands in for
    /// the identity a short (or absent) TPL header lacks, to find the key and build the IV of
    /// an encrypted telegram, and is reported as the telegram's address. Ignored on wireless
    /// links and when the telegram has a long header (which carries its own identity).
    pub secondary_address: Option<Address>,
    /// Without a configured key, try the public default keys of the meter's manufacturer
    /// ([`crate::keys::default_keys`]); on by default.
    pub default_keys: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            link: LinkMode::default(),
            strict: false,
            tail: TailPolicy::default(),
            secondary_address: None,
            default_keys: true,
        }
    }
}

/// Application data at the end of a telegram that did not decode as records (see [`TailPolicy`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undecoded {
    /// Offset of the first undecoded byte in the frame (and `start` in the payload).
    pub offset: usize,
    pub start: usize,
    pub reason: String,
}

/// The link layer a telegram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkInfo {
    /// Wired FT1.2. `frame_kind` is "long frame", "control frame", "short frame" or "single character".
    Wired { c: u8, a: u8, frame_kind: &'static str },
    /// Wireless M-Bus: C field, frame format, the link (transmitter) address, bytes after the
    /// L-delimited frame that were ignored (RSSI etc.).
    Wireless { c: u8, format: FrameFormat, address: Address, trailing: usize },
}

/// Who decrypted the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decryption {
    /// Not encrypted, or encrypted and not decrypted.
    None,
    /// meterlink decrypted and verified it with the key.
    Verified,
    /// The receiver forwarded it already decrypted (header says encrypted, payload starts 2F2F).
    ByReceiver,
    /// meterlink decrypted and verified it with a public default key ([`crate::keys::default_keys`]).
    DefaultKey,
}

impl Decryption {
    /// Who decrypted the telegram, as reported (`decrypted_by`); None when nobody did.
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            Decryption::None => None,
            Decryption::Verified => Some("meterlink"),
            Decryption::ByReceiver => Some("receiver"),
            Decryption::DefaultKey => Some("default key"),
        }
    }
}

/// A decoded telegram. Records point into `payload` by [`Span`].
#[derive(Clone, Debug)]
pub struct Telegram {
    pub link: LinkInfo,
    /// CI of the transport layer (None for frames without one: short frames, ACK).
    pub ci: Option<u8>,
    /// What the CI means on this link.
    pub ci_meaning: Option<&'static CiInfo>,
    pub header: TplHeader,
    /// The meter's identity: long TPL header if present, else the link-layer address.
    pub address: Option<Address>,
    /// Device-type name, where the frame type has its own table (the fixed structure's media).
    pub device_type_name_override: Option<&'static str>,
    pub ell: Option<Ell>,
    pub afl: Option<Afl>,
    pub security_mode: Option<u8>,
    /// The security configuration, where the TPL was decrypted.
    pub security: Option<security::SecurityConfig>,
    pub encrypted: bool,
    pub decrypted: bool,
    pub decryption: Decryption,
    pub application_error: Option<String>,
    /// Application data (plaintext) the records' spans refer to.
    pub payload: Vec<u8>,
    /// Offset of `payload[0]` in the frame as given (for diagnostics).
    pub payload_offset: usize,
    pub records: Vec<Record>,
    /// A tail of the application data that did not decode as records (wireless, see [`TailPolicy`]).
    pub undecoded: Option<Undecoded>,
    /// For an expanded compact frame: the format signature it was expanded with; for a format
    /// frame the cache learnt from: the signature it announced.
    pub compact_signature: Option<u16>,
}

impl Telegram {
    pub fn new(link: LinkInfo) -> Self {
        Telegram {
            link,
            ci: None,
            ci_meaning: None,
            header: TplHeader::NONE,
            address: None,
            device_type_name_override: None,
            ell: None,
            afl: None,
            security_mode: None,
            security: None,
            encrypted: false,
            decrypted: false,
            decryption: Decryption::None,
            application_error: None,
            payload: Vec::new(),
            payload_offset: 0,
            records: Vec::new(),
            undecoded: None,
            compact_signature: None,
        }
    }

    /// Become `Telegram::new(link)` again, keeping the payload and record allocations.
    fn reset(&mut self, link: LinkInfo) {
        let (mut payload, mut records) = (std::mem::take(&mut self.payload), std::mem::take(&mut self.records));
        payload.clear();
        records.clear();
        *self = Telegram { payload, records, ..Telegram::new(link) };
    }

    pub fn access_number(&self) -> Option<u8> {
        match (self.header.kind, self.ell) {
            (HeaderKind::None, Some(e)) => Some(e.acc),
            (HeaderKind::None, None) => None,
            _ => Some(self.header.access_number),
        }
    }

    pub fn status(&self) -> Option<u8> {
        (self.header.kind != HeaderKind::None).then_some(self.header.status)
    }

    pub fn device_type_name(&self) -> Option<&'static str> {
        self.device_type_name_override
            .or_else(|| self.address.map(|a| tpl::device_type_name(a.device_type)))
    }

    pub fn ci_info(&self) -> Option<&'static CiInfo> {
        self.ci_meaning.or_else(|| self.ci.map(tpl::ci_info))
    }

    /// The wireless link (transmitter) address, if the telegram came over the air.
    pub fn link_address(&self) -> Option<Address> {
        match self.link {
            LinkInfo::Wireless { address, .. } => Some(address),
            LinkInfo::Wired { .. } => None,
        }
    }
}

fn looks_wired(frame: &[u8]) -> bool {
    match frame {
        [wired::SINGLE_ACK] => true,
        [wired::START_SHORT, _, _, _, _] => true,
        [wired::START_LONG, l1, l2, b3, ..] => l1 == l2 || *b3 == wired::START_LONG,
        _ => false,
    }
}

/// Decode one frame without keys (encrypted payloads stay opaque).
pub fn decode(frame: &[u8], opts: &DecodeOptions) -> Result<Telegram, Error> {
    decode_with_keys(frame, opts, &NoKeys)
}

/// Decode one frame, decrypting with the key `keys` has for the meter.
pub fn decode_with_keys(frame: &[u8], opts: &DecodeOptions, keys: &dyn KeyLookup) -> Result<Telegram, Error> {
    decode_full(frame, opts, keys, None)
}

/// Decode one frame with keys and a compact-frame format cache: full frames teach the cache
/// their format, compact frames are expanded from it (see [`crate::mbus::compact`]).
pub fn decode_full(
    frame: &[u8],
    opts: &DecodeOptions,
    keys: &dyn KeyLookup,
    formats: Option<&FormatCache>,
) -> Result<Telegram, Error> {
    let mut tg = Telegram::new(LinkInfo::Wired { c: 0, a: 0, frame_kind: "" });
    decode_ctx(frame, &Ctx { opts, keys, formats, link: None, afl: None }, &mut tg)?;
    // parse_records reserves by payload size; a kept telegram should not hold much more.
    if tg.records.capacity() > 2 * tg.records.len() + 4 {
        tg.records.shrink_to_fit();
    }
    Ok(tg)
}

/// [`decode_with_keys`] into `tg`, reusing the capacity of its `payload` and `records` (the
/// bulk decoder runs all frames of a worker through one `Telegram`). On success `tg` holds the
/// decoded telegram; on error its contents are unspecified.
pub fn decode_into(frame: &[u8], opts: &DecodeOptions, keys: &dyn KeyLookup, tg: &mut Telegram) -> Result<(), Error> {
    decode_ctx(frame, &Ctx { opts, keys, formats: None, link: None, afl: None }, tg)
}

/// Decode `frame` into `tg` (which every layer resets before filling it in).
fn decode_ctx(frame: &[u8], ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let hint = match ctx.opts.link {
        LinkMode::Wired => return decode_wired(frame, ctx, tg),
        LinkMode::Auto if looks_wired(frame) => {
            return match decode_wired(frame, ctx, tg) {
                // Not FT1.2-shaped after all (a wireless frame with L = 68h whose next bytes
                // happen to look like a long-frame header): try wireless, and if that fails too,
                // report the wired error.
                Err(
                    e @ Error::Frame(FrameError {
                        reason: FrameErrorReason::LengthMismatch { .. } | FrameErrorReason::BadSecondStart(_),
                        ..
                    }),
                ) if frame.len() > 5 => decode_wireless(frame, FormatHint::Auto, ctx, tg).map_err(|_| e),
                other => other,
            };
        }
        LinkMode::Auto | LinkMode::Wireless => FormatHint::Auto,
        LinkMode::WirelessA => FormatHint::A,
        LinkMode::WirelessB => FormatHint::B,
        LinkMode::WirelessNoCrc => FormatHint::NoCrc,
    };
    decode_wireless(frame, hint, ctx, tg)
}

/// Decode a message reassembled from AFL fragments ([`crate::mbus::afl::AflReassembler`]): `link`
/// is the wireless link header of its fragments (`L C M(2) A(6)`, at least 10 bytes), `msg`
/// the reassembled AFL and TPDU. The MAC and decryption are checked as for a single frame.
pub fn decode_reassembled(
    link: &[u8],
    msg: &afl::AflMessage,
    opts: &DecodeOptions,
    keys: &dyn KeyLookup,
) -> Result<Telegram, Error> {
    if link.len() < 10 {
        return Err(Error::Frame(FrameError {
            offset: link.len(),
            reason: FrameErrorReason::Truncated { expected: 10, got: link.len() },
        }));
    }
    let address = Address {
        id: [link[4], link[5], link[6], link[7]],
        manufacturer: u16::from_le_bytes([link[2], link[3]]),
        version: link[8],
        device_type: link[9],
    };
    let mut tg = Telegram::new(LinkInfo::Wireless { c: link[1], format: FrameFormat::NoCrc, address, trailing: 0 });
    tg.address = Some(address);
    tg.afl = Some(msg.afl);
    if msg.tpdu.is_empty() {
        return Ok(tg);
    }
    let ctx = Ctx { opts, keys, formats: None, link: Some(address), afl: Some(&msg.afl) };
    // Offsets refer to the reassembled TPDU (0 = its CI).
    decode_tpl(&mut tg, &msg.tpdu, 0, &ctx)?;
    Ok(tg)
}

fn decode_wired(frame: &[u8], ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let parsed = wired::parse(frame)?;
    let frame_kind = parsed.kind_name();
    match parsed {
        WiredFrame::Ack => tg.reset(LinkInfo::Wired { c: 0, a: 0, frame_kind }),
        WiredFrame::Short { c, a } => tg.reset(LinkInfo::Wired { c: c.0, a, frame_kind }),
        WiredFrame::Long { c, a, .. } => {
            tg.reset(LinkInfo::Wired { c: c.0, a, frame_kind });
            let tpdu = &frame[wired::LONG_CI_OFFSET..frame.len() - 2];
            decode_afl_tpl(tg, Cow::Borrowed(tpdu), wired::LONG_CI_OFFSET, ctx)?;
        }
    }
    Ok(())
}

fn security_error(e: SecurityError, base: usize) -> Error {
    let e = e.shifted(base);
    Error::Security { offset: e.offset().unwrap_or(base), what: e.to_string() }
}

/// For ELL II/IV: does the payload CRC verify over the bytes as they are (unencrypted)?
fn ell_payload_crc_ok(buf: &[u8], e: &Ell) -> bool {
    let at = e.crc_offset;
    e.sn.is_some()
        && buf.len() >= at + 2
        && u16::from_le_bytes([buf[at], buf[at + 1]]) == wmbus::crc16_en13757(&buf[at + 2..])
}

fn no_key(addr: Option<Address>, base: usize) -> Error {
    let who = addr.map(|a| format!("{} {}", a.manufacturer_string(), a.id_string())).unwrap_or_else(|| "this meter".into());
    Error::Security { offset: base, what: format!("telegram is encrypted and no key is known for {who}") }
}

fn decode_wireless(frame: &[u8], hint: FormatHint, ctx: &Ctx, tg: &mut Telegram) -> Result<(), Error> {
    let (opts, keys) = (ctx.opts, ctx.keys);
    let wf = wmbus::parse_wmbus(frame, hint).map_err(|e| {
        Error::Frame(FrameError { offset: e.offset(), reason: FrameErrorReason::Wireless(e.to_string()) })
    })?;
    let link = Address { id: wf.id, manufacturer: wf.m, version: wf.version, device_type: wf.device_type };
    tg.reset(LinkInfo::Wireless { c: wf.c, format: wf.format, address: link, trailing: wf.trailing });
    tg.address = Some(link);
    let mut buf: Cow<[u8]> = wf.data;
    // Offset of buf[0] in the (CRC-free) frame: after L C M(2) A(6).
    let mut base = 10;
    if buf.is_empty() {
        return Ok(());
    }

    // Extended link layer (EN 13757-4 13.2.7 ff.; AES-CTR per EN 13757-7).
    if ell::is_ell_ci(buf[0]) {
        let key = keys.key_for(link.manufacturer, link.id).and_then(KeyMaterial::aes);
        let mut out = Vec::new();
        let e = ell::decrypt_ell_into(key, &link, &buf, &mut out).map_err(|err| {
            use crate::mbus::ell::EllError::*;
            match err {
                PayloadCrc { offset, .. } => Error::Security { offset: base + offset, what: err.to_string() },
                Truncated { offset, .. } => Error::Unsupported { offset: base + offset, what: err.to_string() },
                _ => Error::Unsupported { offset: base, what: err.to_string() },
            }
        })?;
        tg.ell = Some(e);
        tg.ci = Some(e.ci);
        if e.is_encrypted() && key.is_none() && ell_payload_crc_ok(&buf, &e) {
            // The payload CRC checks on the bytes as received: a receiver decrypted the ELL
            // already (a 1 in 65536 chance for ciphertext).
            tg.encrypted = true;
            tg.decrypted = true;
            tg.decryption = Decryption::ByReceiver;
            buf = Cow::Owned(buf[e.crc_offset + 2..].to_vec());
        } else if e.is_encrypted() {
            tg.encrypted = true;
            if key.is_none() {
                if opts.strict {
                    return Err(no_key(Some(link), base));
                }
                set_payload(&mut tg.payload, &buf[e.crc_offset..]);
                tg.payload_offset = base + e.crc_offset;
                return Ok(());
            }
            tg.decrypted = true;
            tg.decryption = Decryption::Verified;
            buf = Cow::Owned(out);
        } else {
            buf = Cow::Owned(buf[e.payload_offset..].to_vec());
        }
        base += e.payload_offset;
        if buf.is_empty() {
            return Ok(());
        }
    }

    decode_afl_tpl(tg, buf, base, &Ctx { link: Some(link), ..*ctx })
}

/// The authentication and fragmentation layer (EN 13757-7 clause 6), if the CI announces one,
/// then the TPL. `buf` starts at a CI at frame offset `base`.
fn decode_afl_tpl(
    tg: &mut Telegram,
    mut buf: Cow<[u8]>,
    mut base: usize,
    ctx: &Ctx,
) -> Result<(), Error> {
    let mut afl_hdr = None;
    if buf[0] == 0x90 {
        let a = afl::parse_afl(&buf).map_err(|err| Error::Unsupported { offset: base, what: err.to_string() })?;
        if a.is_fragmented() {
            return Err(Error::Unsupported {
                offset: base,
                what: format!("AFL fragment {} of a fragmented message: reassemble the fragments first", a.fid()),
            });
        }
        base += a.len;
        buf = Cow::Owned(buf[a.len..].to_vec());
        afl_hdr = Some(a);
        tg.afl = afl_hdr;
        if buf.is_empty() {
            return Ok(());
        }
    }
    decode_tpl(tg, &buf, base, &Ctx { afl: afl_hdr.as_ref(), ..*ctx })
}

/// Security modes 1 and 16..31 (EN 13757-7 9.4.2): manufacturer specific.
fn is_manufacturer_mode(mode: u8) -> bool {
    mode == 1 || mode >= 16
}

fn parses_completely(body: &[u8], msb_first: bool) -> bool {
    let mut scratch = Vec::new();
    records::parse_records(body, msb_first, &mut scratch).is_ok()
}

/// What every layer of one decode may consult; `link` and `afl` are filled in as the layers
/// are peeled off.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    opts: &'a DecodeOptions,
    keys: &'a dyn KeyLookup,
    formats: Option<&'a FormatCache>,
    /// The link-layer identity (wireless A field), used for short headers.
    link: Option<Address>,
    afl: Option<&'a Afl>,
}

/// Replace the payload's bytes, keeping its allocation.
fn set_payload(payload: &mut Vec<u8>, bytes: &[u8]) {
    payload.clear();
    payload.extend_from_slice(bytes);
}

/// Decode everything from the CI on. `tpdu` starts at the CI; `base` is its offset in the frame.
fn decode_tpl(tg: &mut Telegram, tpdu: &[u8], base: usize, ctx: &Ctx) -> Result<(), Error> {
    let ci = tpdu[0];
    let after_ci = &tpdu[1..];
    // CI 73h is the EN 1434-3 fixed data structure on wired M-Bus, but a compact frame with a
    // long header in wireless M-Bus (OMS Vol. 2 Table 2).
    let info = if ci == 0x73 && ctx.link.is_some() { &tpl::ci::COMPACT_LONG_73 } else { tpl::ci_info(ci) };
    tg.ci = Some(ci);
    tg.ci_meaning = Some(info);
    let shift = |e: TplError| Error::Tpl(TplError { offset: e.offset + base + 1, ..e });

    if info.header == CiHeader::Fixed {
        return decode_fixed(tg, info, after_ci, base + 1);
    }
    let (header, hlen) = tpl::parse_header(info, after_ci).map_err(shift)?;
    tg.header = header;
    // A wired master knows whom it selected: the secondary address from the options stands in
    // for the identity a short header lacks (wireless frames carry theirs in the A field).
    let selected = if ctx.link.is_none() && header.address.is_none() { ctx.opts.secondary_address } else { None };
    if let Some(addr) = header.address.or(selected) {
        tg.address = Some(addr);
    }
    let body_at = 1 + hlen;
    let body = &tpdu[body_at..];
    tg.payload_offset = base + body_at;

    match info.payload {
        CiPayload::ApplicationError => {
            tg.application_error = Some(tpl::application_error_text(body));
            return Ok(());
        }
        CiPayload::Records | CiPayload::Command => {}
        // Compact frames and format frames are secured like full frames; their records need the
        // format cache, so the (decrypted) payload is kept for it.
        CiPayload::CompactRecords | CiPayload::FormatFrame => {}
        CiPayload::Reserved => {
            return Err(Error::Unsupported { offset: base, what: format!("reserved CI field 0x{ci:02X}") })
        }
        _ => {
            // Recognised, decoded by later layers (DLMS, compact frames...); keep the bytes.
            set_payload(&mut tg.payload, body);
            return Ok(());
        }
    }

    let mut payload: Option<Vec<u8>> = None;
    if header.kind != HeaderKind::None {
        let mode = header.security_mode();
        tg.security_mode = Some(mode);
        let cfg_offset = if header.kind == HeaderKind::Long { 11 } else { 3 };
        // The configuration field and its extension, split into their bits (EN 13757-7 7.5.8).
        let cfg = security::parse_config(tpdu, cfg_offset).ok();
        tg.security = cfg;
        if mode != 0 {
            tg.encrypted = true;
            let link = ctx.link.or(selected).unwrap_or_default();
            // The key of the identity that protects the TPL, else of the link address.
            let ident = header.address.or(ctx.link).or(selected);
            let key = ident
                .and_then(|a| ctx.keys.key_for(a.manufacturer, a.id))
                .or_else(|| ctx.link.and_then(|a| ctx.keys.key_for(a.manufacturer, a.id)))
                .filter(|_| !is_manufacturer_mode(mode));
            // Where the (possibly already decrypted) data starts after CFG and its extension.
            let data_at = cfg.map_or(body_at + 2, |c| c.payload_offset).min(tpdu.len());
            let clear_2f2f = matches!(mode, 2 | 3 | 5 | 7 | 15) && tpdu[data_at..].starts_with(&[0x2F, 0x2F]);
            // No key configured: try the public default keys of the manufacturer; one that
            // passes verification decrypts, one that fails is no error (it was only a guess).
            let by_default = if key.is_none() && ctx.opts.default_keys && !clear_2f2f && !is_manufacturer_mode(mode) {
                ident.and_then(|a| {
                    keys::default_keys(a.manufacturer).find_map(|dk| {
                        let mut out = Vec::with_capacity(tpdu.len());
                        security::decrypt_tpl(dk, tpdu, cfg_offset, &link, ctx.afl, &mut out).ok().map(|c| (c, out))
                    })
                })
            } else {
                None
            };
            match key {
                None if by_default.is_some() => {}
                Some(k) => {
                    let mut kb = [0u8; 16];
                    match k {
                        KeyMaterial::Aes(a) => kb = *a,
                        KeyMaterial::Des(d) => kb[..8].copy_from_slice(d),
                    }
                    let mut out = std::mem::take(&mut tg.payload);
                    let r = match cfg {
                        // The configuration parsed above (the same bytes), not parsed again.
                        Some(c) => security::decrypt_tpl_parsed(&kb, tpdu, c, &link, ctx.afl, &mut out),
                        None => security::decrypt_tpl(&kb, tpdu, cfg_offset, &link, ctx.afl, &mut out),
                    };
                    match r {
                        Ok(c) => {
                            tg.security = Some(c);
                            tg.decrypted = true;
                            tg.decryption = Decryption::Verified;
                            tg.payload_offset = base + c.payload_offset;
                            payload = Some(out);
                        }
                        // A receiver that decrypts in the radio forwards clear data under an
                        // "encrypted" header: keep it, flagged as decrypted by the receiver.
                        Err(_) if clear_2f2f => {}
                        Err(e) => return Err(security_error(e, base)),
                    }
                }
                None if clear_2f2f => {}
                // Modes 1 and 16..31 are manufacturer specific: nothing can decrypt them, and
                // legacy wired meters fill the (then "signature") field with such values while
                // sending clear records. The payload is decoded if it parses completely as
                // records; otherwise it stays opaque (EN 13757-7 9.4.2: reported, kept).
                None if is_manufacturer_mode(mode) && parses_completely(body, info.msb_first) => {
                    tg.encrypted = false;
                    set_payload(&mut tg.payload, body);
                    records::parse_records(&tg.payload, info.msb_first, &mut tg.records)
                        .map_err(|e| Error::Records(e.shifted(tg.payload_offset)))?;
                    return Ok(());
                }
                None if ctx.opts.strict => return Err(no_key(ident, base + cfg_offset)),
                None => {
                    set_payload(&mut tg.payload, body);
                    return Ok(());
                }
            }
            if let Some((c, out)) = by_default {
                tg.security = Some(c);
                tg.decrypted = true;
                tg.decryption = Decryption::DefaultKey;
                tg.payload_offset = base + c.payload_offset;
                payload = Some(out);
            }
            if payload.is_none() {
                tg.decrypted = true;
                tg.decryption = Decryption::ByReceiver;
                tg.security = cfg;
                tg.payload_offset = base + data_at;
                payload = Some(tpdu[data_at..].to_vec());
            }
        }
    }
    match payload {
        Some(p) => tg.payload = p,
        None => set_payload(&mut tg.payload, body),
    }
    match info.payload {
        CiPayload::Records | CiPayload::Command => {}
        CiPayload::CompactRecords => {
            // Decrypted payloads begin with the 2F2F verification bytes of modes 5/7.
            let at = if tg.decrypted && tg.payload.starts_with(&[0x2F, 0x2F]) { 2 } else { 0 };
            let expanded = compact::expand(ctx.formats, &tg.payload[at..]).map_err(|e| e.to_string());
            match expanded {
                Ok(full) => {
                    tg.compact_signature = Some(u16::from_le_bytes([tg.payload[at], tg.payload[at + 1]]));
                    // Records now point into the expanded buffer (offsets no longer map 1:1
                    // onto the frame).
                    tg.payload = full;
                }
                Err(reason) => {
                    tg.undecoded = Some(Undecoded { offset: tg.payload_offset, start: 0, reason });
                    return Ok(());
                }
            }
        }
        CiPayload::FormatFrame => {
            // A format frame only teaches the cache the format of later compact frames.
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
            return Ok(());
        }
        _ => return Ok(()),
    }
    if let Err(e) = records::parse_records(&tg.payload, info.msb_first, &mut tg.records) {
        let keep = match ctx.opts.tail {
            TailPolicy::Strict => false,
            TailPolicy::Keep => true,
            TailPolicy::Auto => ctx.link.is_some(),
        };
        // The records before the failing one are complete; the failing one starts at the end
        // of the last good record (idle fillers in between are skipped by the parser).
        let start = tg.records.last().map_or(0, |r| (r.data.start + u32::from(r.data.len)) as usize);
        let e = e.shifted(tg.payload_offset);
        if !keep {
            return Err(Error::Records(e));
        }
        tg.undecoded = Some(Undecoded { offset: tg.payload_offset + start, start, reason: e.to_string() });
    }
    if let (Some(cache), CiPayload::Records, None) = (ctx.formats, info.payload, &tg.undecoded) {
        cache.learn(&tg.records, &tg.payload);
    }
    // Values known meter families carry in manufacturer-specific data, as extra records.
    if let Some(addr) = tg.address {
        let extra = crate::mbus::manufacturer::decode_records(addr, &tg.payload, &tg.records);
        tg.records.extend(extra);
    }
    Ok(())
}

fn fixed_unit(s: Option<&str>) -> Unit {
    match s {
        Some("Wh") => Unit::Wh,
        Some("J") => Unit::J,
        Some("W") => Unit::W,
        Some("J/h") => Unit::JPerH,
        Some("m^3") => Unit::M3,
        Some("m^3/h") => Unit::M3PerH,
        Some("°C") => Unit::DegC,
        Some("HCA") => Unit::Hca,
        _ => Unit::None,
    }
}

fn decode_fixed(tg: &mut Telegram, info: &CiInfo, after_ci: &[u8], base: usize) -> Result<(), Error> {
    let Some(f) = fixed::parse(after_ci, info.msb_first) else {
        return Err(Error::Tpl(TplError {
            offset: base,
            reason: tpl::TplErrorReason::Truncated {
                what: "fixed data structure",
                needed: fixed::LEN,
                available: after_ci.len(),
            },
        }));
    };
    tg.header = TplHeader {
        kind: HeaderKind::Short,
        address: None,
        access_number: f.access_number,
        status: f.status,
        config: 0,
    };
    tg.address = Some(Address { id: f.id, manufacturer: 0, version: 0, device_type: f.medium });
    tg.device_type_name_override = Some(fixed::medium_name(f.medium));
    set_payload(&mut tg.payload, after_ci);
    tg.payload_offset = base;
    for c in &f.counters {
        let u = fixed::unit(c.unit_code);
        let value = match c.value {
            Some(m) => Value::Number { mantissa: m, exponent: u.exponent },
            None => Value::InvalidBcd(Span { start: c.offset as u32, len: 4 }),
        };
        tg.records.push(Record {
            kind: RecordKind::Data,
            dib: Span { start: c.offset as u32, len: 0 },
            vib: Span { start: c.offset as u32, len: 0 },
            data: Span { start: c.offset as u32, len: 4 },
            function: Function::Instantaneous,
            storage: u64::from(c.historic),
            tariff: 0,
            subunit: 0,
            vif: VifInfo::new(u.quantity, fixed_unit(u.unit), u.exponent, VifTable::NoVib, c.unit_code),
            value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mbus::link::splitter::{Piece, Splitter};
    use proptest::prelude::*;

    fn long(c: u8, a: u8, ci: u8, body: &[u8]) -> Vec<u8> {
        wired::build_long(c, a, ci, body).unwrap()
    }

    fn check(tg: &Telegram) {
        for r in &tg.records {
            let _ = (r.dib.get(&tg.payload), r.vib.get(&tg.payload), r.data.get(&tg.payload));
            let _ = records::describe(r, &tg.payload);
        }
    }

    #[test]
    fn fixed_structure_records() {
        // EN 1434-3 fixed structure, built from the layout (see tests/vectors/wired-frames.json).
        let f = long(8, 1, 0x73, &[0x93, 0x92, 0x91, 0x90, 0x10, 0, 0x05, 0x69, 0x31, 0x65, 0, 0, 0x69, 0, 0, 0]);
        let tg = decode(&f, &DecodeOptions::default()).unwrap();
        assert_eq!(tg.device_type_name(), Some("Heat"));
        assert_eq!(tg.records.len(), 2);
        assert_eq!(tg.records[0].value, Value::Number { mantissa: 6531, exponent: 3 });
        assert_eq!(tg.records[0].vif.unit, Unit::Wh);
        assert_eq!(tg.records[1].value, Value::Number { mantissa: 69, exponent: -3 });
        assert!(decode(&long(8, 1, 0x73, &[0; 15]), &DecodeOptions::default()).is_err());
    }

    #[test]
    fn encrypted_without_key_keeps_header_and_no_records() {
        // OMS Vol.2 N.5.4 (mode 5): no key → encrypted, header intact, no records.
        let h = "682C2C6808FD7288776655934455080004100500DFE2A782146D1513581CD2F83F39040CFD10785634120C78443322112616";
        let f: Vec<u8> = (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap()).collect();
        let tg = decode(&f, &DecodeOptions::default()).unwrap();
        assert!(tg.encrypted && !tg.decrypted);
        assert_eq!(tg.security_mode, Some(5));
        assert!(tg.records.is_empty());
        assert_eq!(tg.address.unwrap().id_string(), "55667788");
    }

    #[test]
    fn errors_carry_frame_offsets() {
        // Record 04 13 needs 4 data bytes; 2 are there. It starts at frame offset 19.
        let mut body = vec![0x78, 0x56, 0x34, 0x12, 0x93, 0x15, 0x33, 0x03, 0x2A, 0, 0, 0];
        body.extend_from_slice(&[0x04, 0x13, 0x12, 0x34]);
        let e = decode(&long(8, 1, 0x72, &body), &DecodeOptions::default()).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Decode);
        assert_eq!(e.offset(), 19);
        // Long header cut short: TPL error at the first header byte (offset 7).
        let e = decode(&long(8, 1, 0x72, &body[..5]), &DecodeOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Tpl(TplError { offset: 7, .. })), "{e}");
        let e = decode(&long(8, 1, 0x40, &[]), &DecodeOptions::default()).unwrap_err();
        assert!(e.to_string().contains("reserved CI"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            for link in [LinkMode::Auto, LinkMode::Wired, LinkMode::Wireless] {
                if let Ok(tg) = decode(&data, &DecodeOptions { link, ..Default::default() }) { check(&tg) }
            }
        }

        #[test]
        fn well_framed_payloads_never_panic(
            ci in prop::sample::select(vec![0x72u8, 0x76, 0x78, 0x7A, 0x73, 0x77, 0x70, 0x51, 0x5A, 0x6F]),
            body in proptest::collection::vec(any::<u8>(), 0..249),
        ) {
            if let Ok(tg) = decode(&long(8, 1, ci, &body), &DecodeOptions::default()) { check(&tg) }
        }

        #[test]
        fn splitter_accounts_for_every_byte(
            data in proptest::collection::vec(prop::sample::select(vec![0x68u8, 0x10, 0x16, 0xE5, 0x03, 0x08, 0x00, 0x5B, 0x01]), 0..400),
            chunk in 1usize..20,
        ) {
            let mut s = Splitter::new();
            let mut total = 0u64;
            let mut pieces = vec![];
            for c in data.chunks(chunk) {
                s.push(c);
                while let Some(p) = s.next_piece() { pieces.push(p) }
            }
            s.finish();
            while let Some(p) = s.next_piece() { pieces.push(p) }
            for p in pieces {
                match p {
                    Piece::Frame { bytes, .. } => { wired::parse(&bytes).unwrap(); total += bytes.len() as u64 }
                    Piece::Skipped { len, .. } => total += len,
                }
            }
            prop_assert_eq!(total, data.len() as u64);
        }
    }
}
