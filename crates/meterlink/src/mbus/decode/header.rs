//! Stage 4: the TPL header (EN 13757-7 7.5: CI, short or long header) or the EN 1434-3 fixed
//! data structure, and the meter's identity.

use super::telegram::Telegram;
use super::Ctx;
use crate::error::{Error, ErrorKind};
use crate::mbus::records::{Function, Record, RecordKind, Span, Unit, Value, VifInfo, VifTable};
use crate::mbus::tpl::{self, fixed, Address, CiHeader, CiInfo, HeaderKind, TplErrorReason, TplHeader};

/// What the header stage found, for the stages after it.
pub(super) struct Tpl {
    /// The CI's meaning on this link.
    pub info: &'static CiInfo,
    /// The parsed header.
    pub header: TplHeader,
    /// Offset of the data after the header in the TPDU.
    pub body_at: usize,
    /// The secondary address a wired master selected, standing in for a missing header address.
    pub selected: Option<Address>,
}

/// Parse the CI and the header it announces into `tg`. `tpdu` starts at the CI at frame offset
/// `base`. Returns None when the telegram is complete already (the fixed data structure).
pub(super) fn decode_header(tg: &mut Telegram, tpdu: &[u8], base: usize, ctx: &Ctx) -> Result<Option<Tpl>, Error> {
    let ci = tpdu[0];
    let after_ci = &tpdu[1..];
    // CI 73h is the EN 1434-3 fixed data structure on wired M-Bus, but a compact frame with a
    // long header in wireless M-Bus (OMS Vol. 2 Table 2).
    let info = if ci == 0x73 && ctx.link.is_some() { &tpl::ci::COMPACT_LONG_73 } else { tpl::ci_info(ci) };
    tg.ci = Some(ci);
    tg.ci_meaning = Some(info);
    if info.header == CiHeader::Fixed {
        decode_fixed(tg, info, after_ci, base + 1)?;
        return Ok(None);
    }
    let (header, hlen) =
        tpl::parse_header(info, after_ci).map_err(|e| Error::new(e.offset + base + 1, ErrorKind::Tpl(e.reason)))?;
    tg.header = header;
    // A wired master knows whom it selected: the secondary address from the options stands in
    // for the identity a short header lacks (wireless frames carry theirs in the A field).
    let selected = if ctx.link.is_none() && header.address.is_none() { ctx.opts.secondary_address } else { None };
    if let Some(addr) = header.address.or(selected) {
        tg.address = Some(addr);
    }
    let body_at = 1 + hlen;
    tg.payload_offset = base + body_at;
    Ok(Some(Tpl { info, header, body_at, selected }))
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

/// The EN 1434-3 fixed data structure (CI 73h/77h on wired M-Bus): header and two counters.
fn decode_fixed(tg: &mut Telegram, info: &CiInfo, after_ci: &[u8], base: usize) -> Result<(), Error> {
    let Some(f) = fixed::parse(after_ci, info.msb_first) else {
        let reason =
            TplErrorReason::Truncated { what: "fixed data structure", needed: fixed::LEN, available: after_ci.len() };
        return Err(Error::new(base, ErrorKind::Tpl(reason)));
    };
    tg.header = TplHeader { kind: HeaderKind::Short, address: None, access_number: f.access_number, status: f.status, config: 0 };
    tg.address = Some(Address { id: f.id, manufacturer: 0, version: 0, device_type: f.medium });
    tg.device_type_name_override = Some(fixed::medium_name(f.medium));
    super::protection::set_payload(&mut tg.payload, after_ci);
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
