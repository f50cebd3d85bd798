//! Trees of the ACSE APDUs (IEC 62056-5-3 Annexes B and C: AARQ, AARE, RLRQ, RLRE), the
//! xDLMS initiate request/response (conformance bits by name) and the ciphered APDUs (their
//! fields; the ciphering stage's tag table names them).

use super::super::*;
use super::{as_bytes, as_int, as_text, from_tree_at, hex, indexed, one, opt, Node, Obj, Out, TreeError};
use crate::dlms::security::ciphered::{CIPHERED_TAGS, GENERAL_CIPHERING};
use crate::dlms::security::{GeneralCiphering, KeyInfo, SecurityControl};

const RLRQ_REASONS: [(u8, &str); 3] = [(0, "normal"), (1, "urgent"), (30, "user-defined")];
const RLRE_REASONS: [(u8, &str); 3] = [(0, "normal"), (1, "not-finished"), (30, "user-defined")];

/// A BER element inside an explicit tag: hex text for an octet string (tag 04h, as AP titles
/// carry system titles), else `{"tag": int, "content": hex}`.
fn tlv_to(t: &Option<BerTlv>) -> Node {
    opt(t.as_ref(), |t| {
        if t.tag == 0x04 {
            return hex(&t.content);
        }
        let mut m = Out::empty();
        m.int("tag", t.tag).put("content", hex(&t.content));
        m.node()
    })
}

fn tlv_from(o: &Obj, k: &str) -> Result<Option<BerTlv>, TreeError> {
    let Some(n) = o.opt(k) else { return Ok(None) };
    if let Node::Map(_) = n {
        let t = Obj::of(n, &o.at(k))?;
        return Ok(Some(BerTlv { tag: t.int("tag")?, content: t.bytes("content")? }));
    }
    Ok(Some(BerTlv { tag: 0x04, content: as_bytes(n, &o.at(k))? }))
}

fn user_to(u: &Option<Box<Apdu>>) -> Node {
    opt(u.as_ref(), |a| a.to_tree())
}

fn user_from(o: &Obj) -> Result<Option<Box<Apdu>>, TreeError> {
    let Some(n) = o.opt("user_information") else { return Ok(None) };
    let a = from_tree_at(n, &o.at("user_information"))?;
    if matches!(a, Apdu::Aarq(_) | Apdu::Aare(_) | Apdu::Rlrq(_) | Apdu::Rlre(_)) {
        return Err(TreeError::WrongType { path: o.at("user_information"), expected: "an xDLMS APDU (not ACSE)" });
    }
    Ok(Some(Box::new(a)))
}

fn context_from(o: &Obj) -> Result<ApplicationContextName, TreeError> {
    Ok(match o.opt("application_context") {
        None => ApplicationContextName::default(),
        Some(_) => ApplicationContextName(o.indexed("application_context", &CONTEXT_NAMES)?),
    })
}

fn mechanism_from(o: &Obj) -> Result<Option<MechanismName>, TreeError> {
    o.opt("mechanism_name").map(|_| o.indexed("mechanism_name", &MECHANISM_NAMES).map(MechanismName)).transpose()
}

fn mechanism_to(m: Option<MechanismName>) -> Node {
    opt(m, |m| indexed(&MECHANISM_NAMES, m.0))
}

fn bits_to(b: &Option<Vec<u8>>) -> Node {
    opt(b.as_deref(), hex)
}

/// The fields of AARQ, AARE, RLRQ, RLRE.
pub(super) fn acse_to(a: &Apdu, m: &mut Out) {
    match a {
        Apdu::Aarq(x) => aarq_to(x, m),
        Apdu::Aare(x) => aare_to(x, m),
        Apdu::Rlrq(x) => release_to(x, &RLRQ_REASONS, m),
        Apdu::Rlre(x) => release_to(x, &RLRE_REASONS, m),
        _ => {}
    }
}

fn aarq_to(x: &Aarq, m: &mut Out) {
    m.put("protocol_version", bits_to(&x.protocol_version));
    m.put("application_context", indexed(&CONTEXT_NAMES, x.application_context.0));
    m.put("called_ap_title", tlv_to(&x.called_ap_title)).put("called_ae_qualifier", tlv_to(&x.called_ae_qualifier));
    m.put("called_ap_invocation_id", tlv_to(&x.called_ap_invocation_id));
    m.put("called_ae_invocation_id", tlv_to(&x.called_ae_invocation_id));
    m.put("calling_ap_title", tlv_to(&x.calling_ap_title)).put("calling_ae_qualifier", tlv_to(&x.calling_ae_qualifier));
    m.put("calling_ap_invocation_id", tlv_to(&x.calling_ap_invocation_id));
    m.put("calling_ae_invocation_id", tlv_to(&x.calling_ae_invocation_id));
    m.put("sender_acse_requirements", bits_to(&x.sender_acse_requirements));
    m.put("mechanism_name", mechanism_to(x.mechanism_name));
    m.put("calling_authentication_value", tlv_to(&x.calling_authentication_value));
    m.put("implementation_information", bits_to(&x.implementation_information));
    m.put("user_information", user_to(&x.user_information));
}

fn aarq_from(o: &Obj) -> Result<Aarq, TreeError> {
    Ok(Aarq {
        protocol_version: o.opt_bytes("protocol_version")?,
        application_context: context_from(o)?,
        called_ap_title: tlv_from(o, "called_ap_title")?,
        called_ae_qualifier: tlv_from(o, "called_ae_qualifier")?,
        called_ap_invocation_id: tlv_from(o, "called_ap_invocation_id")?,
        called_ae_invocation_id: tlv_from(o, "called_ae_invocation_id")?,
        calling_ap_title: tlv_from(o, "calling_ap_title")?,
        calling_ae_qualifier: tlv_from(o, "calling_ae_qualifier")?,
        calling_ap_invocation_id: tlv_from(o, "calling_ap_invocation_id")?,
        calling_ae_invocation_id: tlv_from(o, "calling_ae_invocation_id")?,
        sender_acse_requirements: o.opt_bytes("sender_acse_requirements")?,
        mechanism_name: mechanism_from(o)?,
        calling_authentication_value: tlv_from(o, "calling_authentication_value")?,
        implementation_information: o.opt_bytes("implementation_information")?,
        user_information: user_from(o)?,
    })
}

fn diagnostic_to(d: ResultSourceDiagnostic) -> Node {
    match d {
        ResultSourceDiagnostic::ServiceUser(v) => one("acse_service_user", indexed(&SERVICE_USER_DIAGNOSTICS, v)),
        ResultSourceDiagnostic::ServiceProvider(v) => one("acse_service_provider", indexed(&SERVICE_PROVIDER_DIAGNOSTICS, v)),
    }
}

fn diagnostic_from(o: &Obj) -> Result<ResultSourceDiagnostic, TreeError> {
    if !o.has("result_source_diagnostic") {
        return Ok(ResultSourceDiagnostic::default());
    }
    let d = o.obj("result_source_diagnostic")?;
    match d.choice()?.0 {
        "acse_service_user" => Ok(ResultSourceDiagnostic::ServiceUser(d.indexed("acse_service_user", &SERVICE_USER_DIAGNOSTICS)?)),
        "acse_service_provider" => {
            Ok(ResultSourceDiagnostic::ServiceProvider(d.indexed("acse_service_provider", &SERVICE_PROVIDER_DIAGNOSTICS)?))
        }
        k => Err(TreeError::Unknown { path: o.at("result_source_diagnostic"), value: k.into() }),
    }
}

fn aare_to(x: &Aare, m: &mut Out) {
    m.put("protocol_version", bits_to(&x.protocol_version));
    m.put("application_context", indexed(&CONTEXT_NAMES, x.application_context.0));
    m.put("result", indexed(&ASSOCIATION_RESULTS, x.result)).put("result_source_diagnostic", diagnostic_to(x.diagnostic));
    m.put("responding_ap_title", tlv_to(&x.responding_ap_title));
    m.put("responding_ae_qualifier", tlv_to(&x.responding_ae_qualifier));
    m.put("responding_ap_invocation_id", tlv_to(&x.responding_ap_invocation_id));
    m.put("responding_ae_invocation_id", tlv_to(&x.responding_ae_invocation_id));
    m.put("responder_acse_requirements", bits_to(&x.responder_acse_requirements));
    m.put("mechanism_name", mechanism_to(x.mechanism_name));
    m.put("responding_authentication_value", tlv_to(&x.responding_authentication_value));
    m.put("implementation_information", bits_to(&x.implementation_information));
    m.put("user_information", user_to(&x.user_information));
}

fn aare_from(o: &Obj) -> Result<Aare, TreeError> {
    Ok(Aare {
        protocol_version: o.opt_bytes("protocol_version")?,
        application_context: context_from(o)?,
        result: if o.has("result") { o.indexed("result", &ASSOCIATION_RESULTS)? } else { 0 },
        diagnostic: diagnostic_from(o)?,
        responding_ap_title: tlv_from(o, "responding_ap_title")?,
        responding_ae_qualifier: tlv_from(o, "responding_ae_qualifier")?,
        responding_ap_invocation_id: tlv_from(o, "responding_ap_invocation_id")?,
        responding_ae_invocation_id: tlv_from(o, "responding_ae_invocation_id")?,
        responder_acse_requirements: o.opt_bytes("responder_acse_requirements")?,
        mechanism_name: mechanism_from(o)?,
        responding_authentication_value: tlv_from(o, "responding_authentication_value")?,
        implementation_information: o.opt_bytes("implementation_information")?,
        user_information: user_from(o)?,
    })
}

fn release_to(x: &Release, reasons: &[(u8, &str)], m: &mut Out) {
    m.put("reason", opt(x.reason, |r| super::named(reasons, r))).put("user_information", user_to(&x.user_information));
}

fn release_from(o: &Obj, reasons: &[(u8, &str)]) -> Result<Release, TreeError> {
    let reason = o.opt("reason").map(|_| o.named("reason", reasons)).transpose()?;
    Ok(Release { reason, user_information: user_from(o)? })
}

/// The ACSE APDU named `t`, an initiate or ciphered APDU, or None.
pub(super) fn acse_from(t: &str, o: &Obj) -> Result<Option<Apdu>, TreeError> {
    Ok(Some(match t {
        "aarq" => Apdu::Aarq(aarq_from(o)?),
        "aare" => Apdu::Aare(aare_from(o)?),
        "rlrq" => Apdu::Rlrq(release_from(o, &RLRQ_REASONS)?),
        "rlre" => Apdu::Rlre(release_from(o, &RLRE_REASONS)?),
        "initiate-request" => Apdu::InitiateRequest(initiate_request_from(o)?),
        "initiate-response" => Apdu::InitiateResponse(initiate_response_from(o)?),
        _ => match CIPHERED_TAGS.iter().find(|c| c.name == t) {
            Some(c) => Apdu::Ciphered(ciphered_from(c.tag, o)?),
            None => return Ok(None),
        },
    }))
}

// ---- initiate ----

/// The fields of an initiate request/response or a ciphered APDU.
pub(super) fn other_to(a: &Apdu, m: &mut Out) {
    match a {
        Apdu::InitiateRequest(x) => {
            m.put("dedicated_key", opt(x.dedicated_key.as_deref(), hex));
            m.put("response_allowed", opt(x.response_allowed, Node::Bool));
            m.put("quality_of_service", opt(x.quality_of_service, |q| Node::Int(q.into())));
            m.int("dlms_version", x.dlms_version).put("conformance", conformance_to(x.conformance));
            m.int("max_pdu_size", x.max_pdu_size);
        }
        Apdu::InitiateResponse(x) => {
            m.put("quality_of_service", opt(x.quality_of_service, |q| Node::Int(q.into())));
            m.int("dlms_version", x.dlms_version).put("conformance", conformance_to(x.conformance));
            m.int("max_pdu_size", x.max_pdu_size).int("vaa_name", x.vaa_name);
        }
        Apdu::Ciphered(c) => ciphered_to(c, m),
        _ => {}
    }
}

fn conformance_to(c: Conformance) -> Node {
    Node::List(c.names().into_iter().map(|n| Node::Text(n.into())).collect())
}

/// The conformance block: a list of bit names, or the 24-bit number.
fn conformance_from(o: &Obj) -> Result<Conformance, TreeError> {
    let n = o.get("conformance")?;
    if let Node::Int(_) = n {
        let v: u32 = as_int(n, &o.at("conformance"))?;
        return if v < 1 << 24 { Ok(Conformance(v)) } else { Err(TreeError::OutOfRange { path: o.at("conformance") }) };
    }
    let names = o.list("conformance", |n, p| {
        let s = as_text(n, p)?;
        CONFORMANCE_BITS.iter().find(|b| **b == s).copied().ok_or_else(|| TreeError::Unknown { path: p.into(), value: s.into() })
    })?;
    Ok(Conformance::from_names(&names))
}

fn initiate_request_from(o: &Obj) -> Result<InitiateRequest, TreeError> {
    Ok(InitiateRequest {
        dedicated_key: o.opt_bytes("dedicated_key")?,
        response_allowed: o.opt_bool("response_allowed")?,
        quality_of_service: o.opt_int("quality_of_service")?,
        dlms_version: o.int_or("dlms_version", 6)?,
        conformance: conformance_from(o)?,
        max_pdu_size: o.int("max_pdu_size")?,
    })
}

fn initiate_response_from(o: &Obj) -> Result<InitiateResponse, TreeError> {
    Ok(InitiateResponse {
        quality_of_service: o.opt_int("quality_of_service")?,
        dlms_version: o.int_or("dlms_version", 6)?,
        conformance: conformance_from(o)?,
        max_pdu_size: o.int("max_pdu_size")?,
        vaa_name: o.int_or("vaa_name", 0x0007)?,
    })
}

// ---- ciphered ----

fn ciphered_to(c: &CipheredApdu, m: &mut Out) {
    if let Some(g) = &c.general {
        m.put("transaction_id", hex(&g.transaction_id));
    }
    m.put("system_title", opt(c.system_title.as_ref(), |t| hex(t)));
    if let Some(g) = &c.general {
        m.put("recipient_system_title", hex(&g.recipient_system_title)).put("date_time", hex(&g.date_time));
        m.put("other_information", hex(&g.other_information)).put("key_info", opt(g.key_info.as_ref(), key_info_to));
    }
    m.int("security_control", c.security_control.0).int("invocation_counter", c.invocation_counter);
    m.put("payload", hex(&c.payload));
}

fn key_info_to(k: &KeyInfo) -> Node {
    let mut m = Out::empty();
    let name = match k {
        KeyInfo::Identified { key_id } => {
            m.int("key_id", *key_id);
            "identified_key"
        }
        KeyInfo::Wrapped { kek_id, key_ciphered_data } => {
            m.int("kek_id", *kek_id).put("key_ciphered_data", hex(key_ciphered_data));
            "wrapped_key"
        }
        KeyInfo::Agreed { key_parameters, key_ciphered_data } => {
            m.put("key_parameters", hex(key_parameters)).put("key_ciphered_data", hex(key_ciphered_data));
            "agreed_key"
        }
    };
    one(name, m.node())
}

fn key_info_from(o: &Obj) -> Result<Option<KeyInfo>, TreeError> {
    if !o.has("key_info") {
        return Ok(None);
    }
    let k = o.obj("key_info")?;
    let (name, _) = k.choice()?;
    let f = k.obj(name)?;
    Ok(Some(match name {
        "identified_key" => KeyInfo::Identified { key_id: f.int("key_id")? },
        "wrapped_key" => KeyInfo::Wrapped { kek_id: f.int("kek_id")?, key_ciphered_data: f.bytes("key_ciphered_data")? },
        "agreed_key" => KeyInfo::Agreed { key_parameters: f.bytes("key_parameters")?, key_ciphered_data: f.bytes("key_ciphered_data")? },
        _ => return Err(TreeError::Unknown { path: o.at("key_info"), value: name.into() }),
    }))
}

fn ciphered_from(tag: u8, o: &Obj) -> Result<CipheredApdu, TreeError> {
    let general = if tag == GENERAL_CIPHERING {
        Some(GeneralCiphering {
            transaction_id: o.opt_bytes("transaction_id")?.unwrap_or_default(),
            recipient_system_title: o.opt_bytes("recipient_system_title")?.unwrap_or_default(),
            date_time: o.opt_bytes("date_time")?.unwrap_or_default(),
            other_information: o.opt_bytes("other_information")?.unwrap_or_default(),
            key_info: key_info_from(o)?,
        })
    } else {
        None
    };
    let system_title = match o.opt_bytes("system_title")? {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(_) if !matches!(tag, 0xDB..=0xDD) => {
            return Err(TreeError::WrongType { path: o.at("system_title"), expected: "null (only the general forms carry one)" })
        }
        Some(t) => Some(t.try_into().map_err(|_| TreeError::OutOfRange { path: o.at("system_title") })?),
    };
    let mut c = CipheredApdu {
        tag,
        system_title,
        security_control: SecurityControl(o.int("security_control")?),
        invocation_counter: o.int("invocation_counter")?,
        payload: o.bytes("payload")?,
        payload_offset: 0,
        general,
    };
    // Where the payload lies in the encoding (as parsing reports it).
    c.payload_offset = c.to_bytes().len() - c.payload.len();
    Ok(c)
}
