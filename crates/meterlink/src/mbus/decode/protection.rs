//! Stage 5: protection. The TPL security mode and configuration field (EN 13757-7 7.5.8), the
//! choice of key — the configured key, else the manufacturer's public default keys, else data a
//! receiver forwarded already decrypted — and decryption with its verification, giving one
//! [`Protection`](super::Protection) value and the plaintext.

use super::header::Tpl;
use super::telegram::{DecryptedBy, ProtectionState, Telegram};
use super::Ctx;
use crate::error::{Error, ErrorKind, Unprotected};
use crate::keys::{self, KeyMaterial};
use crate::mbus::records;
use crate::mbus::security::{self, SecurityConfig};
use crate::mbus::tpl::{Address, HeaderKind};

/// The plaintext the protection stage hands on.
pub(super) enum Plain {
    /// Decrypted (or forwarded decrypted) application data.
    Payload(Vec<u8>),
    /// The data after the header, as it is (not encrypted).
    Body,
    /// Nothing more to decode: the payload stays opaque, or was decoded here.
    Done,
}

/// Replace the payload's bytes, keeping its allocation.
pub(super) fn set_payload(payload: &mut Vec<u8>, bytes: &[u8]) {
    payload.clear();
    payload.extend_from_slice(bytes);
}

/// The `no_key` error (raised with `strict`).
pub(super) fn no_key(meter: Option<Address>, offset: usize) -> Error {
    Error::new(offset, ErrorKind::NoKey { meter })
}

/// Security modes 1 and 16..31 (EN 13757-7 9.4.2): manufacturer specific.
fn is_manufacturer_mode(mode: u8) -> bool {
    mode == 1 || mode >= 16
}

/// The inputs of key choice and decryption for one TPDU.
struct Secured<'t> {
    tpdu: &'t [u8],
    mode: u8,
    cfg: Option<SecurityConfig>,
    cfg_offset: usize,
    /// The address that goes into IVs and KDF inputs for short headers (link, else selected).
    link: Address,
    /// The identity whose key protects the TPL (long header, else link, else selected).
    ident: Option<Address>,
    /// Where the (possibly already decrypted) data starts after CFG and its extension.
    data_at: usize,
    /// The data after the configuration field starts with 2F 2F: clear data.
    clear_2f2f: bool,
}

/// Decide the telegram's protection and produce its plaintext. `tpdu` starts at the CI at
/// frame offset `base`.
pub(super) fn unprotect(tg: &mut Telegram, tpdu: &[u8], tpl: &Tpl, base: usize, ctx: &Ctx) -> Result<Plain, Error> {
    let header = tpl.header;
    let ident = header.address.or(ctx.link).or(tpl.selected);
    let body_offset = base + tpl.body_at;
    let has_body = tpdu.len() > tpl.body_at;
    if header.kind == HeaderKind::None {
        require_key_protection(tg, ident, ctx, has_body, (Unprotected::NoHeader, body_offset))?;
        return Ok(Plain::Body);
    }
    let mode = header.security_mode();
    let cfg_offset = if header.kind == HeaderKind::Long { 11 } else { 3 };
    // The configuration field and its extension, split into their bits (EN 13757-7 7.5.8).
    let cfg = security::parse_config(tpdu, cfg_offset).ok();
    tg.protection.mode = Some(mode);
    tg.protection.config = cfg;
    if mode == 0 {
        require_key_protection(tg, ident, ctx, has_body, (Unprotected::ModeZero, body_offset))?;
        return Ok(Plain::Body);
    }
    // Encrypted; an ELL that was decrypted already keeps its verdict until the TPL is.
    if !tg.protection.decrypted() {
        tg.protection.state = ProtectionState::Encrypted;
    }
    let data_at = cfg.map_or(tpl.body_at + 2, |c| c.payload_offset).min(tpdu.len());
    let s = Secured {
        tpdu,
        mode,
        cfg,
        cfg_offset,
        link: ctx.link.or(tpl.selected).unwrap_or_default(),
        ident,
        data_at,
        clear_2f2f: matches!(mode, 2 | 3 | 5 | 7 | 15) && tpdu[data_at..].starts_with(&[0x2F, 0x2F]),
    };
    if let Some(key) = configured_key(&s, ctx) {
        return match decrypt(tg, &s, key, ctx) {
            Ok(plain) => Ok(decrypted(tg, plain, DecryptedBy::Meterlink, base)),
            // A receiver that decrypts in the radio forwards clear data under an "encrypted"
            // header: kept, flagged as decrypted by the receiver, only when the caller accepts
            // unprotected payloads for keyed meters (else anyone could forge it).
            Err(_) if s.clear_2f2f && accepts_unprotected(ctx, s.ident) => Ok(by_receiver(tg, &s, base)),
            Err(_) if s.clear_2f2f => {
                let meter = s.ident.or(ctx.link).unwrap_or_default();
                Err(Error::new(base + s.data_at, ErrorKind::Unprotected { meter, reason: Unprotected::ClearUnderEncryptedHeader }))
            }
            Err(e) => Err(Error::in_layer(ErrorKind::Security(e), base)),
        };
    }
    if let Some(plain) = try_default_keys(&s, ctx) {
        return Ok(decrypted(tg, plain, DecryptedBy::DefaultKey, base));
    }
    if s.clear_2f2f {
        return Ok(by_receiver(tg, &s, base));
    }
    without_key(tg, &s, tpl, base, ctx)
}

/// The configured key of the identity that protects the TPL, else of the link address; none
/// for manufacturer-specific modes, which nothing here can decrypt.
fn configured_key<'k>(s: &Secured, ctx: &Ctx<'k>) -> Option<&'k KeyMaterial> {
    if is_manufacturer_mode(s.mode) {
        return None;
    }
    meter_key(s.ident, ctx).map(|(_, k)| k)
}

/// The meter that has a configured key, and the key: the identity that protects the TPL,
/// else the link address.
/// Whether the caller accepts unprotected payloads: for every meter (the call's option) or
/// for this keyed meter (its key entry).
fn accepts_unprotected(ctx: &Ctx, ident: Option<Address>) -> bool {
    ctx.opts.accept_unprotected
        || meter_key(ident, ctx).is_some_and(|(a, _)| ctx.keys.accepts_unprotected(a.manufacturer, a.id))
}

fn meter_key<'k>(ident: Option<Address>, ctx: &Ctx<'k>) -> Option<(Address, &'k KeyMaterial)> {
    let key_of = |a: Address| ctx.keys.key_for(a.manufacturer, a.id).map(|k| (a, k));
    ident.and_then(key_of).or_else(|| ctx.link.and_then(key_of))
}

/// Decrypt and verify with `key`, into the telegram's payload allocation.
fn decrypt(
    tg: &mut Telegram,
    s: &Secured,
    key: &KeyMaterial,
    ctx: &Ctx,
) -> Result<(SecurityConfig, Vec<u8>), security::SecurityError> {
    let mut kb = [0u8; 16];
    match key {
        KeyMaterial::Aes(a) => kb = *a,
        KeyMaterial::Des(d) => kb[..8].copy_from_slice(d),
    }
    let mut out = std::mem::take(&mut tg.payload);
    let c = match s.cfg {
        // The configuration parsed by the caller (the same bytes), not parsed again.
        Some(c) => security::decrypt_tpl_parsed(&kb, s.tpdu, c, &s.link, ctx.afl, &mut out)?,
        None => security::decrypt_tpl(&kb, s.tpdu, s.cfg_offset, &s.link, ctx.afl, &mut out)?,
    };
    Ok((c, out))
}

/// No key configured: try the public default keys of the manufacturer; one that passes
/// verification decrypts, one that fails is no error (it was only a guess).
fn try_default_keys(s: &Secured, ctx: &Ctx) -> Option<(SecurityConfig, Vec<u8>)> {
    if !ctx.opts.default_keys || s.clear_2f2f || is_manufacturer_mode(s.mode) {
        return None;
    }
    s.ident.and_then(|a| {
        keys::default_keys(a.manufacturer).find_map(|dk| {
            let mut out = Vec::with_capacity(s.tpdu.len());
            security::decrypt_tpl(dk, s.tpdu, s.cfg_offset, &s.link, ctx.afl, &mut out).ok().map(|c| (c, out))
        })
    })
}

fn decrypted(tg: &mut Telegram, (c, out): (SecurityConfig, Vec<u8>), by: DecryptedBy, base: usize) -> Plain {
    tg.protection.config = Some(c);
    tg.protection.state = ProtectionState::Decrypted(by);
    tg.payload_offset = base + c.payload_offset;
    Plain::Payload(out)
}

fn by_receiver(tg: &mut Telegram, s: &Secured, base: usize) -> Plain {
    tg.protection.state = ProtectionState::Decrypted(DecryptedBy::Receiver);
    tg.payload_offset = base + s.data_at;
    Plain::Payload(s.tpdu[s.data_at..].to_vec())
}

/// Encrypted, no key could decrypt it.
fn without_key(tg: &mut Telegram, s: &Secured, tpl: &Tpl, base: usize, ctx: &Ctx) -> Result<Plain, Error> {
    let body = &s.tpdu[tpl.body_at..];
    // Modes 1 and 16..31 are manufacturer specific: nothing can decrypt them, and legacy wired
    // meters fill the (then "signature") field with such values while sending clear records.
    // The payload is decoded if it parses completely as records; otherwise it stays opaque
    // (EN 13757-7 9.4.2: reported, kept).
    if is_manufacturer_mode(s.mode) && parses_completely(body, tpl.info.msb_first) {
        let at = (Unprotected::ManufacturerMode, base + tpl.body_at);
        require_key_protection(tg, s.ident, ctx, !body.is_empty(), at)?;
        if !tg.protection.decrypted() {
            tg.protection.state = ProtectionState::Clear;
        }
        set_payload(&mut tg.payload, body);
        records::parse_records(&tg.payload, tpl.info.msb_first, &mut tg.records)
            .map_err(|e| Error::in_layer(ErrorKind::Record(e), tg.payload_offset))?;
        return Ok(Plain::Done);
    }
    if ctx.opts.strict {
        return Err(no_key(s.ident, base + s.cfg_offset));
    }
    set_payload(&mut tg.payload, body);
    Ok(Plain::Done)
}

/// The protection policy: a meter with a configured key must have its payload protected and
/// verified by that key (here, or by the ELL before); otherwise the payload is an `unprotected`
/// error, unless the caller accepts unprotected payloads. Payloads of meters without a key,
/// and telegrams without application data, pass.
fn require_key_protection(
    tg: &Telegram,
    ident: Option<Address>,
    ctx: &Ctx,
    has_body: bool,
    (reason, offset): (Unprotected, usize),
) -> Result<(), Error> {
    if !has_body || accepts_unprotected(ctx, ident) {
        return Ok(());
    }
    if matches!(tg.protection.state, ProtectionState::Decrypted(DecryptedBy::Meterlink | DecryptedBy::DefaultKey)) {
        return Ok(());
    }
    match meter_key(ident, ctx) {
        Some((meter, _)) => Err(Error::new(offset, ErrorKind::Unprotected { meter, reason })),
        None => Ok(()),
    }
}

fn parses_completely(body: &[u8], msb_first: bool) -> bool {
    let mut scratch = Vec::new();
    records::parse_records(body, msb_first, &mut scratch).is_ok()
}
