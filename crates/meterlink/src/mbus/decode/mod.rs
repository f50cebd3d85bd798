//! The decode pipeline, as visible stages:
//!
//! ```text
//! bytes ─ link ─> ELL ─> AFL ─> TPL header ─> protection ─> application
//!         link.rs  ell.rs afl.rs  header.rs    protection.rs application.rs
//! ```
//!
//! - `link`: EN 13757-2 FT1.2 or EN 13757-4 frame (CRCs checked) → [`LinkInfo`] + the TPDU;
//! - `ell`: EN 13757-7 extended link layer (CI 8Ch–8Fh), AES-CTR and the payload CRC;
//! - `afl`: EN 13757-7 clause 6 authentication and fragmentation layer (CI 90h);
//! - `header`: the TPL CI, short/long header (or the EN 1434-3 fixed structure), the meter's
//!   identity;
//! - `protection`: key choice (configured key, public default keys, "decrypted by the
//!   receiver") and decryption, giving one [`Protection`] value and the plaintext;
//! - `application`: records, compact frames, format frames, application errors, known
//!   manufacturer layouts, and the tail policy.
//!
//! Offsets in errors are byte offsets in the frame as given. For wireless frames that carried
//! DLL CRCs (formats A/B) they count in the frame with the CRCs removed.

mod afl;
mod application;
mod ell;
mod header;
mod link;
mod protection;
mod telegram;

pub use telegram::{
    binary_number, frame_format_name, record_quantity, Counters, DecryptedBy, FrameKind, Integrity, LinkCrc, LinkInfo,
    Protection, ProtectionState, Telegram, Undecoded,
};

use crate::error::Error;
use crate::keys::{KeyLookup, NoKeys};
use crate::mbus::afl::{Afl, AflMessage};
use crate::mbus::compact::FormatCache;
use crate::mbus::tpl::Address;

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
    /// Every accepted spelling, canonical names first (the CLI's and Python's `link=` choices).
    pub const NAMES: [&'static str; 6] = ["auto", "wired", "wireless", "wireless-a", "wireless-b", "wireless-nocrc"];

    /// Parse a `link=` argument (canonical names, plus the aliases mbus, wmbus, a, b, nocrc).
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
    /// Parse a `tail=` argument.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(TailPolicy::Auto),
            "strict" => Some(TailPolicy::Strict),
            "keep" => Some(TailPolicy::Keep),
            _ => None,
        }
    }
}

/// How to decode.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Which link layer the input uses.
    pub link: LinkMode,
    /// Raise a security error for an encrypted telegram without a key, instead of returning
    /// its header with no records.
    pub strict: bool,
    /// What to do with application data that ends in an incomplete record.
    pub tail: TailPolicy,
    /// Wired links: the secondary address of the meter the master selected. It stands in for
    /// the identity a short (or absent) TPL header lacks, to find the key and build the IV of
    /// an encrypted telegram, and is reported as the telegram's address. Ignored on wireless
    /// links and when the telegram has a long header (which carries its own identity).
    pub secondary_address: Option<Address>,
    /// Without a configured key, try the public default keys of the meter's manufacturer
    /// ([`crate::keys::default_keys`]); on by default.
    pub default_keys: bool,
    /// Wireless frames must verify as format A or B: never take the unchecked "CRCs removed"
    /// reading in `Auto`/`Wireless` link modes. Set for sources known to carry DLL CRCs (a batch
    /// whose frames verify); `strict` implies it.
    pub require_link_crc: bool,
    /// Accept a payload that its meter's configured key did not protect and verify (clear data
    /// under an encrypted header, security mode 0, no TPL header, clear manufacturer modes): for
    /// receivers that decrypt in the radio. Off by default: such a payload is a `SecurityError`
    /// (`unprotected`).
    pub accept_unprotected: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            link: LinkMode::default(),
            strict: false,
            tail: TailPolicy::default(),
            secondary_address: None,
            default_keys: true,
            require_link_crc: false,
            accept_unprotected: false,
        }
    }
}

/// What every stage of one decode may consult; `link` and `afl` are filled in as the layers
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
    let mut tg = Telegram::new(LinkInfo::Wired { c: 0, a: 0, kind: FrameKind::SingleCharacter });
    link::decode_frame(frame, &Ctx { opts, keys, formats, link: None, afl: None }, &mut tg)?;
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
    link::decode_frame(frame, &Ctx { opts, keys, formats: None, link: None, afl: None }, tg)
}

/// Decode a message reassembled from AFL fragments ([`crate::mbus::afl::AflReassembler`]):
/// `link` is the wireless link header of its fragments (`L C M(2) A(6)`, at least 10 bytes),
/// `msg` the reassembled AFL and TPDU. The MAC and decryption are checked as for a single frame.
/// Offsets in errors refer to the reassembled TPDU (0 = its CI).
pub fn decode_reassembled(
    link: &[u8],
    msg: &AflMessage,
    opts: &DecodeOptions,
    keys: &dyn KeyLookup,
) -> Result<Telegram, Error> {
    let mut tg = link::reassembled_link(link)?;
    let address = tg.link_address();
    tg.address = address;
    tg.afl = Some(msg.afl);
    if msg.tpdu.is_empty() {
        return Ok(tg);
    }
    let ctx = Ctx { opts, keys, formats: None, link: address, afl: Some(&msg.afl) };
    decode_tpl(&mut tg, &msg.tpdu, 0, &ctx)?;
    Ok(tg)
}

/// The stages from the CI on: header → protection → application. `tpdu` starts at the CI;
/// `base` is its offset in the frame.
fn decode_tpl(tg: &mut Telegram, tpdu: &[u8], base: usize, ctx: &Ctx) -> Result<(), Error> {
    let Some(tpl) = header::decode_header(tg, tpdu, base, ctx)? else {
        return Ok(());
    };
    if !application::is_secured_content(tg, &tpl, tpdu, base)? {
        return Ok(());
    }
    match protection::unprotect(tg, tpdu, &tpl, base, ctx)? {
        protection::Plain::Payload(p) => tg.payload = p,
        protection::Plain::Body => protection::set_payload(&mut tg.payload, &tpdu[tpl.body_at..]),
        protection::Plain::Done => return Ok(()),
    }
    application::decode_application(tg, &tpl, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::mbus::link::wired;
    use crate::mbus::records::{self, Unit, Value};

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
        assert!(tg.protection.encrypted() && !tg.protection.decrypted());
        assert_eq!(tg.protection.mode, Some(5));
        assert!(tg.records.is_empty());
        assert_eq!(tg.address.unwrap().id_string(), "55667788");
    }

    #[test]
    fn errors_carry_frame_offsets() {
        // Record 04 13 needs 4 data bytes; 2 are there. It starts at frame offset 19.
        let mut body = vec![0x78, 0x56, 0x34, 0x12, 0x93, 0x15, 0x33, 0x03, 0x2A, 0, 0, 0];
        body.extend_from_slice(&[0x04, 0x13, 0x12, 0x34]);
        let e = decode(&long(8, 1, 0x72, &body), &DecodeOptions::default()).unwrap_err();
        assert_eq!(e.class(), crate::error::ErrorClass::Decode);
        assert_eq!((e.offset(), e.code()), (19, "record_truncated"));
        // Long header cut short: TPL error at the first header byte (offset 7).
        let e = decode(&long(8, 1, 0x72, &body[..5]), &DecodeOptions::default()).unwrap_err();
        assert!(matches!(e, Error { offset: 7, kind: crate::error::ErrorKind::Tpl(_) }), "{e}");
        assert_eq!(e.to_string(), "long TPL header at offset 7 is truncated: needs 12 bytes, 5 present");
        let e = decode(&long(8, 1, 0x40, &[]), &DecodeOptions::default()).unwrap_err();
        assert_eq!((e.to_string().as_str(), e.code()), ("reserved CI field 0x40 (at offset 6)", "unsupported_ci"));
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
    }
}
