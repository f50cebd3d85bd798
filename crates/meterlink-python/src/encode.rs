//! `encode()` and `encode_record()`: the Python face of [`meterlink::mbus::encode`].

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};


use super::{raise, to_pyerr, ARGUMENT_CODE};
use meterlink::mbus::encode::{self as core, Builder, EllParams, EncodeError, Header, LinkParams, RecordValue, SecurityParams};
use meterlink::keys::{parse_key_hex, parse_manufacturer, parse_meter_id, KeyMaterial};
use meterlink::mbus::link::wmbus::FrameFormat;
use meterlink::mbus::records::Function;
use meterlink::mbus::tpl::Address;

fn err(py: Python<'_>, msg: impl Into<String>) -> PyErr {
    raise(py, None, msg.into(), None, ARGUMENT_CODE)
}

fn enc_err(py: Python<'_>, e: EncodeError) -> PyErr {
    raise(py, None, e.to_string(), None, e.code())
}

/// bytes-like or hex text → bytes.
fn data_arg(py: Python<'_>, what: &str, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return meterlink::hex::parse_hex(&s.to_cow()?).map_err(|e| err(py, format!("{what}: {e}")));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    match pyo3::types::PyMemoryView::from(obj).and_then(|mv| mv.call_method0("tobytes")) {
        Ok(b) => Ok(b.cast_into::<PyBytes>()?.as_bytes().to_vec()),
        Err(_) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must be bytes-like or a hex str, not {}",
            obj.get_type().name()?
        ))),
    }
}

fn key_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<KeyMaterial> {
    let r = if let Ok(s) = obj.cast::<PyString>() {
        parse_key_hex(&s.to_cow()?)
    } else {
        KeyMaterial::from_bytes(&data_arg(py, "key", obj)?)
    };
    r.map_err(|e| to_pyerr(py, e.into()))
}

/// "KAM" → the 16-bit M-field value.
fn manufacturer_arg(py: Python<'_>, s: &str) -> PyResult<u16> {
    parse_manufacturer(s)
        .map_err(|e| to_pyerr(py, e.into()))
}

fn id_arg(py: Python<'_>, s: &str) -> PyResult<[u8; 4]> {
    parse_meter_id(s).map_err(|e| to_pyerr(py, e.into()))
}

/// Build a telegram: the frame bytes, encrypted and authenticated as the mode requires.
///
/// `records`: application data (bytes or hex), e.g. from `encode_record()`; the CBC modes
/// (2, 3, 5, 7, 15) add the 2F 2F verification bytes and 2F fillers themselves. `clear`: data sent
/// unencrypted after the encrypted part.
///
/// Link: `link="wired"` (FT1.2 long frame, `c` default 0x08 RSP_UD, primary address `a`) or
/// `"wireless"` (`c` default 0x44 SND_NR; `frame_format` "A", "B" or "none" for CRC-less frames;
/// the link address is the meter's unless `link_manufacturer`/`link_id`/`link_version`/
/// `link_device_type` say otherwise). Meter identity: `manufacturer`, `id` (as printed),
/// `version`, `device_type`.
///
/// ELL (wireless): `ell` = CI 0x8C/0x8D/0x8E/0x8F, `ell_cc`, `ell_access_number` (default
/// `access_number`), `ell_session` (SN, 0x8D/0x8F), `ell_receiver=(manufacturer, id, version,
/// device_type)` (0x8E/0x8F), `ell_encrypt` (AES-128-CTR with `key`, 0x8D/0x8F).
///
/// TPL: `header` "long", "short" or "none" (default: what `ci` announces, else long on wired and
/// short on wireless links); `ci` (default 0x72/0x7A/0x78), `access_number`, `status`.
///
/// Security: `mode` 0, 2, 3, 5, 7, 8, 9, 10 or 15 with `key` (16 bytes; 8 for DES; the master key
/// when `kdf` selects KDF-A); `message_counter` (modes 7-10, the DSMR frame counter for 15);
/// `counter_in` "tpl" or "afl" (default: AFL for 7/8, TPL for 9/10); `kdf`, `key_id`,
/// `key_version`; `tag_length` (mode 9: 12/16, mode 10: 4/8/12/16); `afl` (an AFL MAC also for
/// modes 9/10), `mac` "cmac"/"gmac" and `mac_length`; configuration bits `bidirectional`,
/// `accessibility`, `synchronous`, `content`.
///
/// Raises `MeterlinkError` for impossible combinations, missing keys or counters, and data that
/// does not fit the frame.
#[pyfunction]
#[pyo3(signature = (
    records=None, *, link="wired", c=None, a=1, manufacturer="KAM", id="12345678", version=1,
    device_type=7, link_manufacturer=None, link_id=None, link_version=None, link_device_type=None,
    frame_format="A", header=None, ci=None, access_number=0, status=0, mode=0, key=None,
    clear=None, message_counter=None, counter_in=None, kdf=true, key_id=0, key_version=None,
    tag_length=None, afl=None, mac="cmac", mac_length=8, bidirectional=false,
    accessibility=false, synchronous=false, content=0, ell=None, ell_cc=0,
    ell_access_number=None, ell_session=0, ell_encrypt=false, ell_receiver=None
))]
#[allow(clippy::too_many_arguments)]
pub fn encode<'py>(
    py: Python<'py>,
    records: Option<&Bound<'py, PyAny>>,
    link: &str,
    c: Option<u8>,
    a: u8,
    manufacturer: &str,
    id: &str,
    version: u8,
    device_type: u8,
    link_manufacturer: Option<&str>,
    link_id: Option<&str>,
    link_version: Option<u8>,
    link_device_type: Option<u8>,
    frame_format: &str,
    header: Option<&str>,
    ci: Option<u8>,
    access_number: u8,
    status: u8,
    mode: u8,
    key: Option<&Bound<'py, PyAny>>,
    clear: Option<&Bound<'py, PyAny>>,
    message_counter: Option<u32>,
    counter_in: Option<&str>,
    kdf: bool,
    key_id: u8,
    key_version: Option<u8>,
    tag_length: Option<u8>,
    afl: Option<bool>,
    mac: &str,
    mac_length: u8,
    bidirectional: bool,
    accessibility: bool,
    synchronous: bool,
    content: u8,
    ell: Option<u8>,
    ell_cc: u8,
    ell_access_number: Option<u8>,
    ell_session: u32,
    ell_encrypt: bool,
    ell_receiver: Option<(String, String, u8, u8)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let records = match records {
        Some(r) => data_arg(py, "records", r)?,
        None => Vec::new(),
    };
    let clear = match clear {
        Some(r) => data_arg(py, "clear", r)?,
        None => Vec::new(),
    };
    let m = manufacturer_arg(py, manufacturer)?;
    let meter = Address::new(m, id_arg(py, id)?, version, device_type);
    let (link_params, wired) = link_arg(py, link, c, a, frame_format, &meter, (link_manufacturer, link_id, link_version, link_device_type))?;
    let header = header_arg(py, header, ci, meter, wired)?;
    let counter_in_tpl = counter_in_arg(py, counter_in)?;
    let afl_auth = afl_auth_arg(py, mac, mac_length)?;
    let ell = ell_arg(py, ell, ell_cc, ell_access_number.unwrap_or(access_number), ell_session, ell_encrypt, ell_receiver)?;
    let key = match key {
        Some(k) if !k.is_none() => Some(key_arg(py, k)?),
        _ => None,
    };
    let b = Builder {
        link: link_params,
        ell,
        ci,
        header,
        access_number,
        status,
        security: SecurityParams {
            mode,
            bidirectional,
            accessibility,
            synchronous,
            content,
            message_counter,
            counter_in_tpl,
            kdf,
            key_id,
            key_version,
            tag_len: tag_length,
            afl,
            afl_auth,
        },
        key,
    };
    let frame = py.detach(|| b.encode(&records, &clear)).map_err(|e| enc_err(py, e))?;
    Ok(PyBytes::new(py, &frame))
}

/// The link layer of `encode()`: wired (C, A) or wireless (C, frame format, link address,
/// defaulting to the meter's identity).
#[allow(clippy::type_complexity)]
fn link_arg(
    py: Python<'_>,
    link: &str,
    c: Option<u8>,
    a: u8,
    frame_format: &str,
    meter: &Address,
    (link_manufacturer, link_id, link_version, link_device_type): (Option<&str>, Option<&str>, Option<u8>, Option<u8>),
) -> PyResult<(LinkParams, bool)> {
    let wired = match link {
        "wired" | "mbus" => true,
        "wireless" | "wmbus" => false,
        other => return Err(err(py, format!("link must be 'wired' or 'wireless', not {other:?}"))),
    };
    let link_params = if wired {
        if link_manufacturer.is_some() || link_id.is_some() || link_version.is_some() || link_device_type.is_some() {
            return Err(err(
                py,
                "link_manufacturer/link_id/link_version/link_device_type are for wireless links",
            ));
        }
        LinkParams::Wired {
            c: c.unwrap_or(0x08),
            a,
        }
    } else {
        let format = match frame_format {
            "A" | "a" => FrameFormat::A,
            "B" | "b" => FrameFormat::B,
            "none" => FrameFormat::NoCrc,
            other => {
                return Err(err(
                    py,
                    format!("frame_format must be 'A', 'B' or 'none', not {other:?}"),
                ))
            }
        };
        let address = Address::new(
            match link_manufacturer {
                Some(m) => manufacturer_arg(py, m)?,
                None => meter.manufacturer,
            },
            match link_id {
                Some(s) => id_arg(py, s)?,
                None => meter.id,
            },
            link_version.unwrap_or(meter.version),
            link_device_type.unwrap_or(meter.device_type),
        );
        LinkParams::Wireless {
            c: c.unwrap_or(0x44),
            address,
            format,
        }
    };
    Ok((link_params, wired))
}

/// The TPL header of `encode()`: as asked, else the one the CI announces, else long on wired
/// and short on wireless links.
fn header_arg(py: Python<'_>, header: Option<&str>, ci: Option<u8>, meter: Address, wired: bool) -> PyResult<Header> {
    Ok(match header {
        Some("long") => Header::Long(meter),
        Some("short") => Header::Short,
        Some("none") => Header::None,
        Some(other) => {
            return Err(err(
                py,
                format!("header must be 'none', 'short' or 'long', not {other:?}"),
            ))
        }
        None => match ci.map(|c| meterlink::mbus::tpl::ci_info(c).header) {
            Some(meterlink::mbus::tpl::CiHeader::Long) => Header::Long(meter),
            Some(meterlink::mbus::tpl::CiHeader::Short) => Header::Short,
            Some(_) => Header::None,
            None if wired => Header::Long(meter),
            None => Header::Short,
        },
    })
}

/// Where the message counter goes (modes 7–10): "tpl" or "afl".
fn counter_in_arg(py: Python<'_>, counter_in: Option<&str>) -> PyResult<Option<bool>> {
    Ok(match counter_in {
        None => None,
        Some("tpl") => Some(true),
        Some("afl") => Some(false),
        Some(other) => return Err(err(py, format!("counter_in must be 'tpl' or 'afl', not {other:?}"))),
    })
}

/// The AFL authentication type AT (EN 13757-7 Table 7) for a MAC kind and length.
fn afl_auth_arg(py: Python<'_>, mac: &str, mac_length: u8) -> PyResult<u8> {
    Ok(match (mac, mac_length) {
        ("cmac", 2) => 3,
        ("cmac", 4) => 4,
        ("cmac", 8) => 5,
        ("cmac", 12) => 6,
        ("cmac", 16) => 7,
        ("gmac", 12) => 8,
        ("gmac", 16) => 9,
        _ => {
            return Err(err(
                py,
                format!("mac must be 'cmac' (2, 4, 8, 12 or 16 bytes) or 'gmac' (12 or 16 bytes), not {mac:?} with {mac_length}"),
            ))
        }
    })
}

/// The ELL of `encode()` (CI 8Ch–8Fh), with its receiver address and session where the CI
/// has them.
fn ell_arg(
    py: Python<'_>,
    ell: Option<u8>,
    ell_cc: u8,
    acc: u8,
    ell_session: u32,
    ell_encrypt: bool,
    ell_receiver: Option<(String, String, u8, u8)>,
) -> PyResult<Option<EllParams>> {
    Ok(match ell {
        None => {
            if ell_encrypt || ell_receiver.is_some() {
                return Err(err(py, "ell_encrypt / ell_receiver need an ELL (ell=0x8C..0x8F)"));
            }
            None
        }
        Some(e @ 0x8C..=0x8F) => {
            let has_receiver = matches!(e, 0x8E | 0x8F);
            let receiver = match (&ell_receiver, has_receiver) {
                (Some((m2, id2, v2, t2)), true) => {
                    let m2 = manufacturer_arg(py, m2)?;
                    let i = id_arg(py, id2)?;
                    Some((m2, [i[0], i[1], i[2], i[3], *v2, *t2]))
                }
                (None, false) => None,
                (None, true) => return Err(err(py, format!("ELL CI 0x{e:02X} needs ell_receiver"))),
                (Some(_), false) => return Err(err(py, format!("ELL CI 0x{e:02X} has no receiver address"))),
            };
            let session = matches!(e, 0x8D | 0x8F).then_some(ell_session);
            if ell_encrypt && session.is_none() {
                return Err(err(py, "ELL encryption needs CI 0x8D or 0x8F (with a session number)"));
            }
            Some(EllParams {
                cc: ell_cc,
                acc,
                session,
                receiver,
                encrypt: ell_encrypt,
            })
        }
        Some(e) => return Err(err(py, format!("ell must be an ELL CI 0x8C..0x8F, not 0x{e:02X}"))),
    })
}

/// Encode one EN 13757-3 data record: DIF (+ DIFEs for storage, tariff, subunit), the VIF
/// (an int for one byte, or bytes/hex for VIF + VIFEs) and the data field.
///
/// `coding`: "int" (signed, `size` 1/2/3/4/6/8 bytes), "bcd" (`size` 2/4/6/8/12 digits),
/// "real" (32-bit float), "text" or "none"; by default from the value's type (int, float, str,
/// None), with the smallest size that holds the value. `function`: "instantaneous", "maximum",
/// "minimum" or "error".
#[pyfunction]
#[pyo3(signature = (vif, value=None, *, coding=None, size=None, storage=0, tariff=0, subunit=0, function="instantaneous"))]
#[allow(clippy::too_many_arguments)]
pub fn encode_record<'py>(
    py: Python<'py>,
    vif: &Bound<'py, PyAny>,
    value: Option<&Bound<'py, PyAny>>,
    coding: Option<&str>,
    size: Option<u8>,
    storage: u64,
    tariff: u32,
    subunit: u16,
    function: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let vif_bytes = match vif.extract::<u8>() {
        Ok(b) => vec![b],
        Err(_) if vif.cast::<pyo3::types::PyInt>().is_ok() => {
            return Err(err(
                py,
                "an int VIF is one byte (0..255); pass VIF + VIFEs as bytes or hex",
            ))
        }
        Err(_) => data_arg(py, "vif", vif)?,
    };
    let function = match function {
        "instantaneous" => Function::Instantaneous,
        "maximum" => Function::Maximum,
        "minimum" => Function::Minimum,
        "error" => Function::Error,
        other => {
            return Err(err(
                py,
                format!("function must be 'instantaneous', 'maximum', 'minimum' or 'error', not {other:?}"),
            ))
        }
    };
    let value = value.filter(|v| !v.is_none());
    let coding = match (coding, value) {
        (Some(c), _) => c,
        (None, None) => "none",
        (None, Some(v)) if v.cast::<PyString>().is_ok() => "text",
        (None, Some(v)) if v.cast::<pyo3::types::PyFloat>().is_ok() => "real",
        (None, Some(_)) => "int",
    };
    let need = || value.ok_or_else(|| err(py, format!("coding {coding:?} needs a value")));
    let rv = match coding {
        "none" => {
            if value.is_some() {
                return Err(err(py, "coding 'none' takes no value"));
            }
            RecordValue::None
        }
        "int" => {
            let v: i64 = need()?.extract()?;
            match size {
                Some(size) => RecordValue::Int { value: v, size },
                None => RecordValue::int(v),
            }
        }
        "bcd" => {
            let v: i64 = need()?.extract()?;
            match size {
                Some(digits) => RecordValue::Bcd { value: v, digits },
                None => RecordValue::bcd(v).ok_or_else(|| err(py, format!("{v} has more than 12 BCD digits")))?,
            }
        }
        "real" => RecordValue::Real(need()?.extract::<f64>()? as f32),
        "text" => RecordValue::Text(need()?.extract()?),
        other => {
            return Err(err(
                py,
                format!("coding must be 'int', 'bcd', 'real', 'text' or 'none', not {other:?}"),
            ))
        }
    };
    let rec = core::encode_record(storage, tariff, subunit, function, &vif_bytes, &rv).map_err(|e| enc_err(py, e))?;
    Ok(PyBytes::new(py, &rec))
}
