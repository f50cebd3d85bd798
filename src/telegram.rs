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
