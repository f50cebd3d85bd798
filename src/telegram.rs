//! The decode pipeline: link layer → (ELL/AFL) → TPL header → security → records.

use crate::error::Error;
use crate::link::wired::{self, WiredFrame};
use crate::records::{self, Function, Record, RecordKind, Span, Unit, Value, VifInfo, VifTable};
use crate::tpl::{self, fixed, Address, CiHeader, CiInfo, CiPayload, HeaderKind, TplError, TplHeader};

/// Which link layer the input uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Tell wired FT1.2 from wireless frames (with or without DLL CRCs) by their structure.
    #[default]
    Auto,
    /// EN 13757-2 FT1.2 only.
    Wired,
    /// EN 13757-4 wireless, any frame format.
    Wireless,
}

impl LinkMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(LinkMode::Auto),
            "wired" | "mbus" => Some(LinkMode::Wired),
            "wireless" | "wmbus" => Some(LinkMode::Wireless),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeOptions {
    pub link: LinkMode,
}

/// The link layer a telegram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkInfo {
    /// Wired FT1.2. `frame_kind` is "long frame", "control frame", "short frame" or "single character".
    Wired { c: u8, a: u8, frame_kind: &'static str },
}

/// A decoded telegram. Records point into `payload` by [`Span`].
#[derive(Clone, Debug)]
pub struct Telegram {
    pub link: LinkInfo,
    /// CI of the transport layer (None for frames without one: short frames, ACK).
    pub ci: Option<u8>,
    pub header: TplHeader,
    /// The meter's identity: long TPL header if present, else the link-layer address.
    pub address: Option<Address>,
    /// Device-type name, where the frame type has its own table (the fixed structure's media).
    pub device_type_name_override: Option<&'static str>,
    pub security_mode: Option<u8>,
    pub encrypted: bool,
    pub decrypted: bool,
    pub application_error: Option<String>,
    /// Application data (plaintext) the records' spans refer to.
    pub payload: Vec<u8>,
    /// Offset of `payload[0]` in the frame as given (for diagnostics).
    pub payload_offset: usize,
    pub records: Vec<Record>,
}

impl Telegram {
    fn new(link: LinkInfo) -> Self {
        Telegram {
            link,
            ci: None,
            header: TplHeader::NONE,
            address: None,
            device_type_name_override: None,
            security_mode: None,
            encrypted: false,
            decrypted: false,
            application_error: None,
            payload: Vec::new(),
            payload_offset: 0,
            records: Vec::new(),
        }
    }

    pub fn access_number(&self) -> Option<u8> {
        (self.header.kind != HeaderKind::None).then_some(self.header.access_number)
    }

    pub fn status(&self) -> Option<u8> {
        (self.header.kind != HeaderKind::None).then_some(self.header.status)
    }

    pub fn device_type_name(&self) -> Option<&'static str> {
        self.device_type_name_override
            .or_else(|| self.address.map(|a| tpl::device_type_name(a.device_type)))
    }

    pub fn ci_info(&self) -> Option<&'static CiInfo> {
        self.ci.map(tpl::ci_info)
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

/// Decode one frame.
pub fn decode(frame: &[u8], opts: &DecodeOptions) -> Result<Telegram, Error> {
    let wired = match opts.link {
        LinkMode::Wired => true,
        LinkMode::Wireless => false,
        LinkMode::Auto => looks_wired(frame),
    };
    if wired {
        decode_wired(frame)
    } else {
        Err(Error::Unsupported { offset: 0, what: "wireless M-Bus frames are not supported yet".into() })
    }
}

fn decode_wired(frame: &[u8]) -> Result<Telegram, Error> {
    let parsed = wired::parse(frame)?;
    let frame_kind = parsed.kind_name();
    match parsed {
        WiredFrame::Ack => Ok(Telegram::new(LinkInfo::Wired { c: 0, a: 0, frame_kind })),
        WiredFrame::Short { c, a } => Ok(Telegram::new(LinkInfo::Wired { c: c.0, a, frame_kind })),
        WiredFrame::Long { c, a, ci, data } => {
            let mut tg = Telegram::new(LinkInfo::Wired { c: c.0, a, frame_kind });
            decode_tpl(&mut tg, ci, data, wired::LONG_CI_OFFSET + 1)?;
            Ok(tg)
        }
    }
}

/// Decode everything from the CI on. `after_ci` are the bytes after the CI; `base` is their
/// offset in the frame.
fn decode_tpl(tg: &mut Telegram, ci: u8, after_ci: &[u8], base: usize) -> Result<(), Error> {
    let info = tpl::ci_info(ci);
    tg.ci = Some(ci);
    let shift = |e: TplError| Error::Tpl(TplError { offset: e.offset + base, ..e });

    if info.header == CiHeader::Fixed {
        return decode_fixed(tg, info, after_ci, base);
    }
    let (header, hlen) = tpl::parse_header(info, after_ci).map_err(shift)?;
    tg.header = header;
    if let Some(addr) = header.address {
        tg.address = Some(addr);
    }
    let body = &after_ci[hlen..];
    tg.payload_offset = base + hlen;

    match info.payload {
        CiPayload::ApplicationError => {
            tg.application_error = Some(tpl::application_error_text(body));
            return Ok(());
        }
        CiPayload::Records | CiPayload::Command => {}
        CiPayload::Reserved => {
            return Err(Error::Unsupported {
                offset: base - 1,
                what: format!("reserved CI field 0x{ci:02X}"),
            })
        }
        _ => {
            // Recognised, decoded by later layers (ELL/AFL/DLMS/compact frames); keep the bytes.
            tg.payload = body.to_vec();
            return Ok(());
        }
    }

    if header.kind != HeaderKind::None {
        let mode = header.security_mode();
        tg.security_mode = Some(mode);
        if mode != 0 {
            tg.encrypted = true;
            // Decryption is the security layer's job; without it the payload stays opaque unless
            // a receiver already decrypted it (it then starts with the 2F2F verification bytes).
            if !body.starts_with(&[0x2F, 0x2F]) {
                tg.payload = body.to_vec();
                return Ok(());
            }
            tg.decrypted = true;
        }
    }
    tg.payload = body.to_vec();
    records::parse_records(&tg.payload, info.msb_first, &mut tg.records)
        .map_err(|e| Error::Records(e.shifted(tg.payload_offset)))?;
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
    tg.payload = after_ci.to_vec();
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
    use crate::link::splitter::{Piece, Splitter};
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
                if let Ok(tg) = decode(&data, &DecodeOptions { link }) { check(&tg) }
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
