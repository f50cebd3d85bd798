//! Shared helpers of the fuzz targets: a key lookup that offers one key for every meter,
//! reading every record of a telegram, length-prefixed frame sequences, and telegram builders
//! whose parameters come from the fuzz input (so that the MAC and decryption paths are
//! reached with frames that verify).
#![allow(dead_code)]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use meterlink::keys::{KeyLookup, KeyMaterial};
use meterlink::mbus::decode::LinkMode;
use meterlink::mbus::encode::{Builder, EllParams, Header, LinkParams, SecurityParams};
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink::mbus::records::{encode_record, Function, RecordValue};
use meterlink::mbus::tpl::Address;
use meterlink::Telegram;

/// Every link mode of the decoder.
pub const LINKS: [LinkMode; 6] = [
    LinkMode::Auto,
    LinkMode::Wired,
    LinkMode::Wireless,
    LinkMode::WirelessA,
    LinkMode::WirelessB,
    LinkMode::WirelessNoCrc,
];

/// The security modes the encoder builds (EN 13757-7 §7.5.8, DSMR P2 mode 15).
pub const MODES: [u8; 9] = [0, 2, 3, 5, 7, 8, 9, 10, 15];

/// One key for whichever meter the decoder asks about.
pub struct AnyKey(pub KeyMaterial);

impl KeyLookup for AnyKey {
    fn key_for(&self, _: u16, _: [u8; 4]) -> Option<&KeyMaterial> {
        Some(&self.0)
    }
}

/// The key of the input: AES-128 from 16 bytes, or DES from the first 8 when `des`.
pub fn key_material(bytes: &[u8; 16], des: bool) -> KeyMaterial {
    if des {
        KeyMaterial::from_bytes(&bytes[..8]).expect("8 bytes are a DES key")
    } else {
        KeyMaterial::Aes(*bytes)
    }
}

/// Read every record the way `decode_frame` does: the spans lie inside the payload (`get`
/// panics otherwise) and describing a record never panics.
pub fn read_records(tg: &Telegram) {
    for r in &tg.records {
        let _ = r.dib.get(&tg.payload);
        let _ = r.vib.get(&tg.payload);
        let _ = r.data.get(&tg.payload);
        let _ = meterlink::mbus::records::describe(r, &tg.payload);
    }
}

/// Split `data` into frames, each preceded by its length byte (a short last frame is kept).
pub fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let n = (n as usize).min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

/// The decoder's link mode for exactly the link the builder produced.
pub fn link_mode(link: &LinkParams) -> LinkMode {
    match link {
        LinkParams::Wired { .. } => LinkMode::Wired,
        LinkParams::Wireless { format: FrameFormat::A, .. } => LinkMode::WirelessA,
        LinkParams::Wireless { format: FrameFormat::B, .. } => LinkMode::WirelessB,
        LinkParams::Wireless { format: FrameFormat::NoCrc, .. } => LinkMode::WirelessNoCrc,
    }
}

fn address(u: &mut Unstructured) -> Result<Address> {
    Ok(Address::new(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?, u.arbitrary()?))
}

fn link(u: &mut Unstructured) -> Result<LinkParams> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => LinkParams::Wired { c: u.arbitrary()?, a: u.arbitrary()? },
        f => LinkParams::Wireless {
            c: u.arbitrary()?,
            address: address(u)?,
            format: [FrameFormat::A, FrameFormat::B, FrameFormat::NoCrc][f as usize - 1],
        },
    })
}

fn ell(u: &mut Unstructured) -> Result<Option<EllParams>> {
    if !u.ratio(1u8, 3)? {
        return Ok(None);
    }
    Ok(Some(EllParams {
        cc: u.arbitrary()?,
        acc: u.arbitrary()?,
        session: u.arbitrary()?,
        receiver: u.arbitrary()?,
        encrypt: u.arbitrary()?,
    }))
}

fn security(u: &mut Unstructured) -> Result<SecurityParams> {
    let tag_len = match u.int_in_range(0u8..=5)? {
        0 => None,
        1..=4 => Some([4u8, 8, 12, 16][u.int_in_range(0usize..=3)?]),
        _ => Some(u.arbitrary()?),
    };
    Ok(SecurityParams {
        mode: *u.choose(&MODES)?,
        bidirectional: u.arbitrary()?,
        accessibility: u.arbitrary()?,
        synchronous: u.arbitrary()?,
        content: u.int_in_range(0u8..=3)?,
        message_counter: if u.ratio(7u8, 8)? { Some(u.arbitrary()?) } else { None },
        counter_in_tpl: u.arbitrary()?,
        kdf: u.arbitrary()?,
        key_id: u.int_in_range(0u8..=15)?,
        key_version: u.arbitrary()?,
        tag_len,
        afl: u.arbitrary()?,
        afl_auth: if u.ratio(3u8, 4)? { 5 } else { u.int_in_range(0u8..=15)? },
    })
}

/// A builder with fuzz-chosen link, ELL, header and security parameters, keyed with `key`
/// (DES for modes 2/3). `ci` stays `None` unless `custom_ci`.
pub fn builder(u: &mut Unstructured, key: &[u8; 16], custom_ci: bool) -> Result<Builder> {
    let mut b = Builder::wired(0x08, 0, Address::default());
    b.link = link(u)?;
    b.ell = ell(u)?;
    b.header = match u.int_in_range(0u8..=4)? {
        0 => Header::None,
        1 | 2 => Header::Short,
        _ => Header::Long(address(u)?),
    };
    b.ci = if custom_ci && u.ratio(1u8, 8)? { Some(u.arbitrary()?) } else { None };
    b.access_number = u.arbitrary()?;
    b.status = u.arbitrary()?;
    b.security = security(u)?;
    b.key = if u.ratio(15u8, 16)? { Some(key_material(key, matches!(b.security.mode, 2 | 3))) } else { None };
    Ok(b)
}

fn value(u: &mut Unstructured) -> Result<RecordValue> {
    Ok(match u.int_in_range(0u8..=6)? {
        0 => RecordValue::None,
        1 => RecordValue::int(u.arbitrary()?),
        2 => RecordValue::Int { value: u.arbitrary()?, size: u.int_in_range(0u8..=9)? },
        3 => RecordValue::bcd(u.int_in_range(-99_999_999_999i64..=999_999_999_999)?).unwrap_or(RecordValue::None),
        4 => RecordValue::Bcd { value: u.arbitrary()?, digits: u.int_in_range(0u8..=13)? },
        5 => RecordValue::Real(f32::from_bits(u.arbitrary()?)),
        _ => {
            let n = u.int_in_range(0usize..=200)?;
            RecordValue::Text((0..n).map(|_| u.arbitrary::<u8>().map(char::from)).collect::<Result<String>>()?)
        }
    })
}

/// One record from fuzz-chosen DIB, VIB and value: `Ok(None)` when `encode_record` refuses it.
/// `text_vib`: a plain-text VIF (7C/FC) gets a well-formed VIB (`7C len text` or
/// `FC len text VIFE`, EN 13757-3 6.4.3); `encode_record` does not check that part of the VIB
/// (known, see `fuzz/artifacts/encode/`), so the round-trip property needs it well formed.
pub fn record(u: &mut Unstructured, text_vib: bool) -> Result<Option<Vec<u8>>> {
    let storage = if u.ratio(3u8, 4)? { u.int_in_range(0u64..=15)? } else { u.arbitrary()? };
    let tariff = if u.ratio(3u8, 4)? { u.int_in_range(0u32..=3)? } else { u.arbitrary()? };
    let subunit = if u.ratio(3u8, 4)? { u.int_in_range(0u16..=1)? } else { u.arbitrary()? };
    let function = *u.choose(&[Function::Instantaneous, Function::Maximum, Function::Minimum, Function::Error])?;
    let vif_len = u.int_in_range(0usize..=4)?;
    let mut vif = u.bytes(vif_len)?.to_vec();
    if text_vib && vif.first().is_some_and(|v| v & 0x7F == 0x7C) {
        let text: Vec<u8> = (0..u.int_in_range(1u8..=4)?).map(|_| u.int_in_range(b'A'..=b'z')).collect::<Result<_>>()?;
        let ext = vif[0] & 0x80 != 0;
        vif = [&[vif[0], text.len() as u8][..], &text, if ext { &[0x74][..] } else { &[][..] }].concat();
    }
    let v = value(u)?;
    Ok(encode_record(storage, tariff, subunit, function, &vif, &v).ok())
}

/// Up to `max` records (the refused ones left out) concatenated; `text_vib` as for [`record`].
pub fn records(u: &mut Unstructured, max: usize, text_vib: bool) -> Result<Vec<u8>> {
    let n = u.int_in_range(0..=max)?;
    let mut out = Vec::new();
    for _ in 0..n {
        if let Some(r) = record(u, text_vib)? {
            out.extend(r);
        }
    }
    Ok(out)
}

/// Fuzz-chosen damage to a frame: bit flips, byte changes, truncation or extension.
pub fn mutate(u: &mut Unstructured, frame: &mut Vec<u8>) -> Result<()> {
    let n = u.int_in_range(0u8..=3)?;
    for _ in 0..n {
        if frame.is_empty() {
            break;
        }
        let i = u.choose_index(frame.len())?;
        match u.int_in_range(0u8..=3)? {
            0 => frame[i] ^= 1 << u.int_in_range(0u8..=7)?,
            1 => frame[i] = u.arbitrary()?,
            2 => frame.truncate(i),
            _ => frame.insert(i, u.arbitrary()?),
        }
    }
    Ok(())
}

