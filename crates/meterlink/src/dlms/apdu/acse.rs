//! ACSE APDUs (IEC 62056-5-3 7.2 / Annexes B and C, ISO/IEC 8650-1 as DLMS uses it): AARQ
//! (60h), AARE (61h), RLRQ (62h), RLRE (63h), BER-encoded; the user-information holds an xDLMS
//! APDU (initiate-request/response, confirmed-service-error, or a ciphered initiate).

use super::ber::{explicit, explicit_of, put_explicit, put_tlv, read_elements, small_int, BerTlv, Element};
use super::{decode_nested, encode_apdu, Apdu, ApduError};

/// The OID prefix of the DLMS application context names (joint-iso-ccitt(2) country(16)
/// country-name(756) identified-organization(5) DLMS-UA(8) application-context(1)).
const CONTEXT_PREFIX: [u8; 6] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x01];
/// The OID prefix of the authentication mechanism names (... authentication-mechanism(2)).
const MECHANISM_PREFIX: [u8; 6] = [0x60, 0x85, 0x74, 0x05, 0x08, 0x02];

/// Application context names by id.
pub const CONTEXT_NAMES: [&str; 5] = [
    "",
    "logical-name-referencing-no-ciphering",
    "short-name-referencing-no-ciphering",
    "logical-name-referencing-with-ciphering",
    "short-name-referencing-with-ciphering",
];

/// Authentication mechanism names by id.
pub const MECHANISM_NAMES: [&str; 8] =
    ["lowest", "low", "high", "high-md5", "high-sha1", "high-gmac", "high-sha256", "high-ecdsa"];

/// Association-result names by value.
pub const ASSOCIATION_RESULTS: [&str; 3] = ["accepted", "rejected-permanent", "rejected-transient"];

/// acse-service-user diagnostic names by value.
pub const SERVICE_USER_DIAGNOSTICS: [&str; 15] = [
    "null",
    "no-reason-given",
    "application-context-name-not-supported",
    "calling-ap-title-not-recognized",
    "calling-ap-invocation-identifier-not-recognized",
    "calling-ae-qualifier-not-recognized",
    "calling-ae-invocation-identifier-not-recognized",
    "called-ap-title-not-recognized",
    "called-ap-invocation-identifier-not-recognized",
    "called-ae-qualifier-not-recognized",
    "called-ae-invocation-identifier-not-recognized",
    "authentication-mechanism-name-not-recognised",
    "authentication-mechanism-name-required",
    "authentication-failure",
    "authentication-required",
];

/// acse-service-provider diagnostic names by value.
pub const SERVICE_PROVIDER_DIAGNOSTICS: [&str; 3] = ["null", "no-reason-given", "no-common-acse-version"];

/// An application-context-name: the last arc of the DLMS OID (1 LN, 2 SN, 3 LN ciphered,
/// 4 SN ciphered). The default is 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApplicationContextName(pub u8);

impl Default for ApplicationContextName {
    fn default() -> Self {
        ApplicationContextName(1)
    }
}

impl ApplicationContextName {
    /// Logical-name referencing (else short names).
    pub fn logical_names(self) -> bool {
        self.0 % 2 == 1
    }
    /// A ciphered context.
    pub fn ciphered(self) -> bool {
        self.0 >= 3
    }
    /// The name, for ids 1–4.
    pub fn name(self) -> Option<&'static str> {
        CONTEXT_NAMES.get(self.0 as usize).filter(|n| !n.is_empty()).copied()
    }
}

/// A mechanism-name: the last arc of the DLMS OID (0 lowest, 1 LLS, 2–7 HLS).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MechanismName(pub u8);

impl MechanismName {
    /// The name (`low`, `high-gmac`, ...).
    pub fn name(self) -> Option<&'static str> {
        MECHANISM_NAMES.get(self.0 as usize).copied()
    }
}

/// result-source-diagnostic (default: acse-service-user null).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultSourceDiagnostic {
    /// \[1\] acse-service-user.
    ServiceUser(u8),
    /// \[2\] acse-service-provider.
    ServiceProvider(u8),
}

impl Default for ResultSourceDiagnostic {
    fn default() -> Self {
        ResultSourceDiagnostic::ServiceUser(0)
    }
}

impl ResultSourceDiagnostic {
    /// The diagnostic's name.
    pub fn name(self) -> Option<&'static str> {
        match self {
            ResultSourceDiagnostic::ServiceUser(v) => SERVICE_USER_DIAGNOSTICS.get(v as usize).copied(),
            ResultSourceDiagnostic::ServiceProvider(v) => SERVICE_PROVIDER_DIAGNOSTICS.get(v as usize).copied(),
        }
    }
}

/// AARQ (A-ASSOCIATE request).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Aarq {
    /// \[0\] protocol-version bit string content (unused-bits octet first; DEFAULT version1).
    pub protocol_version: Option<Vec<u8>>,
    /// \[1\] application-context-name.
    pub application_context: ApplicationContextName,
    /// \[2\] called-AP-title (the element inside the EXPLICIT tag).
    pub called_ap_title: Option<BerTlv>,
    /// \[3\] called-AE-qualifier.
    pub called_ae_qualifier: Option<BerTlv>,
    /// \[4\] called-AP-invocation-id.
    pub called_ap_invocation_id: Option<BerTlv>,
    /// \[5\] called-AE-invocation-id.
    pub called_ae_invocation_id: Option<BerTlv>,
    /// \[6\] calling-AP-title (an octet string `04`: the client's system title).
    pub calling_ap_title: Option<BerTlv>,
    /// \[7\] calling-AE-qualifier (an octet string: the client's certificate, or an integer).
    pub calling_ae_qualifier: Option<BerTlv>,
    /// \[8\] calling-AP-invocation-id.
    pub calling_ap_invocation_id: Option<BerTlv>,
    /// \[9\] calling-AE-invocation-id.
    pub calling_ae_invocation_id: Option<BerTlv>,
    /// \[10\] sender-acse-requirements bit string content (`07 80`: authentication).
    pub sender_acse_requirements: Option<Vec<u8>>,
    /// \[11\] mechanism-name.
    pub mechanism_name: Option<MechanismName>,
    /// \[12\] calling-authentication-value (`80` charstring: the LLS password or HLS challenge).
    pub calling_authentication_value: Option<BerTlv>,
    /// \[29\] implementation-information.
    pub implementation_information: Option<Vec<u8>>,
    /// \[30\] user-information: the xDLMS APDU it carries.
    pub user_information: Option<Box<Apdu>>,
}

/// AARE (A-ASSOCIATE response).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Aare {
    /// \[0\] protocol-version bit string content.
    pub protocol_version: Option<Vec<u8>>,
    /// \[1\] application-context-name.
    pub application_context: ApplicationContextName,
    /// \[2\] result ([`ASSOCIATION_RESULTS`]).
    pub result: u8,
    /// \[3\] result-source-diagnostic.
    pub diagnostic: ResultSourceDiagnostic,
    /// \[4\] responding-AP-title (an octet string `04`: the server's system title).
    pub responding_ap_title: Option<BerTlv>,
    /// \[5\] responding-AE-qualifier.
    pub responding_ae_qualifier: Option<BerTlv>,
    /// \[6\] responding-AP-invocation-id.
    pub responding_ap_invocation_id: Option<BerTlv>,
    /// \[7\] responding-AE-invocation-id.
    pub responding_ae_invocation_id: Option<BerTlv>,
    /// \[8\] responder-acse-requirements bit string content.
    pub responder_acse_requirements: Option<Vec<u8>>,
    /// \[9\] mechanism-name.
    pub mechanism_name: Option<MechanismName>,
    /// \[10\] responding-authentication-value (the HLS server challenge).
    pub responding_authentication_value: Option<BerTlv>,
    /// \[29\] implementation-information.
    pub implementation_information: Option<Vec<u8>>,
    /// \[30\] user-information: the xDLMS APDU it carries.
    pub user_information: Option<Box<Apdu>>,
}

/// RLRQ (A-RELEASE request) or RLRE (A-RELEASE response): reason and user-information.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Release {
    /// \[0\] reason (RLRQ: 0 normal, 1 urgent, 30 user-defined; RLRE: 0 normal, 1 not-finished,
    /// 30 user-defined).
    pub reason: Option<u8>,
    /// \[30\] user-information: the xDLMS APDU it carries.
    pub user_information: Option<Box<Apdu>>,
}

/// The system title in an AP-title (an octet string of 8 octets).
pub fn system_title(t: &Option<BerTlv>) -> Option<[u8; 8]> {
    t.as_ref().filter(|t| t.tag == 0x04).and_then(|t| t.content.as_slice().try_into().ok())
}

/// Checks that elements come in the order of `tags`, each at most once; the index of each.
fn ordered(elements: &[Element], tags: &[u8]) -> Result<Vec<usize>, ApduError> {
    let mut last = None;
    let mut idx = Vec::with_capacity(elements.len());
    for e in elements {
        let i = tags.iter().position(|&t| t == e.tag).ok_or(ApduError::BerElement { offset: e.at, tag: e.tag })?;
        if last.is_some_and(|l| i <= l) {
            return Err(ApduError::BerElement { offset: e.at, tag: e.tag });
        }
        last = Some(i);
        idx.push(i);
    }
    Ok(idx)
}

fn tlv(e: &Element) -> Result<BerTlv, ApduError> {
    let i = explicit(e)?;
    Ok(BerTlv { tag: i.tag, content: i.content.to_vec() })
}

/// An OBJECT IDENTIFIER `06 07 <prefix> id`: the id.
fn oid_id(content: &[u8], at: usize, prefix: &[u8; 6], what: &'static str) -> Result<u8, ApduError> {
    match content {
        [p @ .., id] if p == prefix => Ok(*id),
        _ => Err(ApduError::BadValue { offset: at, what }),
    }
}

fn context_name(e: &Element) -> Result<ApplicationContextName, ApduError> {
    let i = explicit_of(e, 0x06)?;
    Ok(ApplicationContextName(oid_id(i.content, i.at, &CONTEXT_PREFIX, "application-context-name")?))
}

fn bit_string(e: &Element) -> Result<Vec<u8>, ApduError> {
    match e.content {
        [unused, ..] if *unused <= 7 => Ok(e.content.to_vec()),
        _ => Err(ApduError::BadValue { offset: e.at, what: "bit string" }),
    }
}

fn user_information(e: &Element) -> Result<Box<Apdu>, ApduError> {
    let i = explicit_of(e, 0x04)?;
    let apdu = decode_nested(i.content, i.content_at)?;
    if matches!(apdu, Apdu::Aarq(_) | Apdu::Aare(_) | Apdu::Rlrq(_) | Apdu::Rlre(_)) {
        return Err(ApduError::BadUserInformation { offset: i.content_at });
    }
    Ok(Box::new(apdu))
}

const AARQ_TAGS: [u8; 15] = [0x80, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0x8A, 0x8B, 0xAC, 0x9D, 0xBE];
const AARE_TAGS: [u8; 13] = [0x80, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0x88, 0x89, 0xAA, 0x9D, 0xBE];
const RELEASE_TAGS: [u8; 2] = [0x80, 0xBE];

impl Aarq {
    /// Decode the content of an AARQ (after `60 len`), which starts at `base`.
    pub(crate) fn read(content: &[u8], base: usize) -> Result<Self, ApduError> {
        let elements = read_elements(content, base)?;
        let mut a = Aarq::default();
        let mut context = None;
        for (e, i) in elements.iter().zip(ordered(&elements, &AARQ_TAGS)?) {
            match i {
                0 => a.protocol_version = Some(bit_string(e)?),
                1 => context = Some(context_name(e)?),
                2 => a.called_ap_title = Some(tlv(e)?),
                3 => a.called_ae_qualifier = Some(tlv(e)?),
                4 => a.called_ap_invocation_id = Some(tlv(e)?),
                5 => a.called_ae_invocation_id = Some(tlv(e)?),
                6 => a.calling_ap_title = Some(tlv(e)?),
                7 => a.calling_ae_qualifier = Some(tlv(e)?),
                8 => a.calling_ap_invocation_id = Some(tlv(e)?),
                9 => a.calling_ae_invocation_id = Some(tlv(e)?),
                10 => a.sender_acse_requirements = Some(bit_string(e)?),
                11 => a.mechanism_name = Some(MechanismName(oid_id(e.content, e.at, &MECHANISM_PREFIX, "mechanism-name")?)),
                12 => a.calling_authentication_value = Some(tlv(e)?),
                13 => a.implementation_information = Some(e.content.to_vec()),
                _ => a.user_information = Some(user_information(e)?),
            }
        }
        a.application_context = context
            .ok_or(ApduError::MissingElement { offset: base + content.len(), what: "application-context-name" })?;
        Ok(a)
    }

    /// Append the content (without `60 len`).
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), ApduError> {
        if let Some(v) = &self.protocol_version {
            put_tlv(out, 0x80, v);
        }
        put_context(out, self.application_context);
        let explicit = [
            (0xA2, &self.called_ap_title),
            (0xA3, &self.called_ae_qualifier),
            (0xA4, &self.called_ap_invocation_id),
            (0xA5, &self.called_ae_invocation_id),
            (0xA6, &self.calling_ap_title),
            (0xA7, &self.calling_ae_qualifier),
            (0xA8, &self.calling_ap_invocation_id),
            (0xA9, &self.calling_ae_invocation_id),
        ];
        for (tag, t) in explicit {
            if let Some(t) = t {
                put_explicit(out, tag, t);
            }
        }
        if let Some(v) = &self.sender_acse_requirements {
            put_tlv(out, 0x8A, v);
        }
        if let Some(m) = self.mechanism_name {
            put_tlv(out, 0x8B, &[&MECHANISM_PREFIX[..], &[m.0]].concat());
        }
        if let Some(v) = &self.calling_authentication_value {
            put_explicit(out, 0xAC, v);
        }
        put_tail(out, &self.implementation_information, &self.user_information)
    }
}

fn put_context(out: &mut Vec<u8>, c: ApplicationContextName) {
    put_explicit(out, 0xA1, &BerTlv { tag: 0x06, content: [&CONTEXT_PREFIX[..], &[c.0]].concat() });
}

/// implementation-information and user-information.
fn put_tail(out: &mut Vec<u8>, info: &Option<Vec<u8>>, user: &Option<Box<Apdu>>) -> Result<(), ApduError> {
    if let Some(v) = info {
        put_tlv(out, 0x9D, v);
    }
    if let Some(u) = user {
        let mut inner = Vec::new();
        encode_apdu(u, &mut inner)?;
        put_explicit(out, 0xBE, &BerTlv { tag: 0x04, content: inner });
    }
    Ok(())
}

impl Aare {
    /// Decode the content of an AARE (after `61 len`), which starts at `base`.
    pub(crate) fn read(content: &[u8], base: usize) -> Result<Self, ApduError> {
        let elements = read_elements(content, base)?;
        let end = base + content.len();
        let (mut context, mut result, mut diagnostic) = (None, None, None);
        let mut a = Aare::default();
        for (e, i) in elements.iter().zip(ordered(&elements, &AARE_TAGS)?) {
            match i {
                0 => a.protocol_version = Some(bit_string(e)?),
                1 => context = Some(context_name(e)?),
                2 => result = Some(small_int(&explicit_of(e, 0x02)?, "association-result")?),
                3 => diagnostic = Some(read_diagnostic(e)?),
                4 => a.responding_ap_title = Some(tlv(e)?),
                5 => a.responding_ae_qualifier = Some(tlv(e)?),
                6 => a.responding_ap_invocation_id = Some(tlv(e)?),
                7 => a.responding_ae_invocation_id = Some(tlv(e)?),
                8 => a.responder_acse_requirements = Some(bit_string(e)?),
                9 => a.mechanism_name = Some(MechanismName(oid_id(e.content, e.at, &MECHANISM_PREFIX, "mechanism-name")?)),
                10 => a.responding_authentication_value = Some(tlv(e)?),
                11 => a.implementation_information = Some(e.content.to_vec()),
                _ => a.user_information = Some(user_information(e)?),
            }
        }
        a.application_context =
            context.ok_or(ApduError::MissingElement { offset: end, what: "application-context-name" })?;
        a.result = result.ok_or(ApduError::MissingElement { offset: end, what: "result" })?;
        a.diagnostic = diagnostic.ok_or(ApduError::MissingElement { offset: end, what: "result-source-diagnostic" })?;
        Ok(a)
    }

    /// Append the content (without `61 len`).
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), ApduError> {
        if let Some(v) = &self.protocol_version {
            put_tlv(out, 0x80, v);
        }
        put_context(out, self.application_context);
        put_explicit(out, 0xA2, &BerTlv { tag: 0x02, content: vec![self.result] });
        let (tag, v) = match self.diagnostic {
            ResultSourceDiagnostic::ServiceUser(v) => (0xA1, v),
            ResultSourceDiagnostic::ServiceProvider(v) => (0xA2, v),
        };
        let mut d = Vec::with_capacity(5);
        put_explicit(&mut d, tag, &BerTlv { tag: 0x02, content: vec![v] });
        put_tlv(out, 0xA3, &d);
        let explicit = [
            (0xA4, &self.responding_ap_title),
            (0xA5, &self.responding_ae_qualifier),
            (0xA6, &self.responding_ap_invocation_id),
            (0xA7, &self.responding_ae_invocation_id),
        ];
        for (tag, t) in explicit {
            if let Some(t) = t {
                put_explicit(out, tag, t);
            }
        }
        if let Some(v) = &self.responder_acse_requirements {
            put_tlv(out, 0x88, v);
        }
        if let Some(m) = self.mechanism_name {
            put_tlv(out, 0x89, &[&MECHANISM_PREFIX[..], &[m.0]].concat());
        }
        if let Some(v) = &self.responding_authentication_value {
            put_explicit(out, 0xAA, v);
        }
        put_tail(out, &self.implementation_information, &self.user_information)
    }
}

/// `A3 { A1|A2 { 02 01 v } }`.
fn read_diagnostic(e: &Element) -> Result<ResultSourceDiagnostic, ApduError> {
    let choice = explicit(e)?;
    let v = small_int(&explicit_of(&choice, 0x02)?, "result-source-diagnostic")?;
    match choice.tag {
        0xA1 => Ok(ResultSourceDiagnostic::ServiceUser(v)),
        0xA2 => Ok(ResultSourceDiagnostic::ServiceProvider(v)),
        tag => Err(ApduError::BerElement { offset: choice.at, tag }),
    }
}

impl Release {
    /// Decode the content of an RLRQ or RLRE (after the tag and length), which starts at `base`.
    pub(crate) fn read(content: &[u8], base: usize) -> Result<Self, ApduError> {
        let elements = read_elements(content, base)?;
        let mut a = Release::default();
        for (e, i) in elements.iter().zip(ordered(&elements, &RELEASE_TAGS)?) {
            match i {
                0 => a.reason = Some(small_int(e, "release reason")?),
                _ => a.user_information = Some(user_information(e)?),
            }
        }
        Ok(a)
    }

    /// Append the content.
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), ApduError> {
        if let Some(r) = self.reason {
            put_tlv(out, 0x80, &[r]);
        }
        put_tail(out, &None, &self.user_information)
    }
}
