//! APDUs: ACSE (AARQ, AARE, RLRQ, RLRE; BER) and xDLMS (LN and SN services, notifications,
//! general-block-transfer, errors; A-XDR), decoded and encoded (IEC 62056-5-3, Green Book
//! DLMS UA 1000-2 9.5). Ciphered APDUs are recognised by their tag and handed to
//! [`crate::dlms::security::parse_ciphered`].

mod acse;
mod action;
mod ber;
mod block;
mod common;
mod cursor;
mod error;
mod errors;
mod get;
mod initiate;
mod notification;
mod set;
mod sn;
pub mod tags;
pub mod tree;

pub use acse::{
    system_title, Aare, Aarq, ApplicationContextName, MechanismName, Release, ResultSourceDiagnostic,
    ASSOCIATION_RESULTS, CONTEXT_NAMES, MECHANISM_NAMES, SERVICE_PROVIDER_DIAGNOSTICS, SERVICE_USER_DIAGNOSTICS,
};
pub use action::{ActionRequest, ActionResponse, ActionResponseItem};
pub use ber::BerTlv;
pub use block::GeneralBlockTransfer;
pub use common::{
    AttributeWithSelection, CosemDescriptor, DataBlockSa, GetDataResult, InvokeIdAndPriority, LongInvokeIdAndPriority,
    SelectiveAccess,
};
pub use error::ApduError;
pub use errors::{
    ActionResult, ConfirmedServiceError, DataAccessResult, ExceptionResponse, ExceptionServiceError, ACTION_RESULTS,
    CONFIRMED_SERVICES, DATA_ACCESS_RESULTS, INITIATE_ERRORS, SERVICE_ERRORS,
};
pub use get::{BlockResult, DataBlockG, GetRequest, GetResponse};
pub use initiate::{Conformance, InitiateRequest, InitiateResponse, CONFORMANCE_BITS};
pub use notification::{DataNotification, EventNotificationRequest, NotificationTime};
pub use set::{SetRequest, SetResponse};
pub use sn::{InformationReport, ReadResult, VariableAccess, VariablesAndData, WriteResult};

use super::axdr::Data;
use super::cosem::DateTime;
use super::security::ciphered::{encode_ciphered, parse_ciphered, CipheredApdu};
use ber::read_element;
use cursor::Reader;

/// One APDU, by its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Apdu {
    /// initiate-request (01h).
    InitiateRequest(InitiateRequest),
    /// initiate-response (08h).
    InitiateResponse(InitiateResponse),
    /// confirmed-service-error (0Eh).
    ConfirmedServiceError(ConfirmedServiceError),
    /// data-notification (0Fh).
    DataNotification(DataNotification),
    /// event-notification-request (C2h).
    EventNotificationRequest(EventNotificationRequest),
    /// get-request (C0h).
    GetRequest(GetRequest),
    /// get-response (C4h).
    GetResponse(GetResponse),
    /// set-request (C1h).
    SetRequest(SetRequest),
    /// set-response (C5h).
    SetResponse(SetResponse),
    /// action-request (C3h).
    ActionRequest(ActionRequest),
    /// action-response (C7h).
    ActionResponse(ActionResponse),
    /// exception-response (D8h).
    ExceptionResponse(ExceptionResponse),
    /// read-request (05h): the variables.
    ReadRequest(Vec<VariableAccess>),
    /// read-response (0Ch): one result per variable.
    ReadResponse(Vec<ReadResult>),
    /// write-request (06h).
    WriteRequest(VariablesAndData),
    /// write-response (0Dh): one result per variable.
    WriteResponse(Vec<WriteResult>),
    /// unconfirmed-write-request (16h).
    UnconfirmedWriteRequest(VariablesAndData),
    /// information-report-request (18h).
    InformationReportRequest(InformationReport),
    /// general-block-transfer (E0h).
    GeneralBlockTransfer(GeneralBlockTransfer),
    /// AARQ (60h).
    Aarq(Aarq),
    /// AARE (61h).
    Aare(Aare),
    /// RLRQ (62h).
    Rlrq(Release),
    /// RLRE (63h).
    Rlre(Release),
    /// A ciphered APDU (glo-/ded- service APDUs, general-glo/ded-ciphering, general-ciphering).
    Ciphered(CipheredApdu),
}

impl Apdu {
    /// The standard's ASN.1 name, lower case with hyphens (`data-notification`, `aare`,
    /// `glo-get-response`, `general-glo-ciphering`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Apdu::InitiateRequest(_) => "initiate-request",
            Apdu::InitiateResponse(_) => "initiate-response",
            Apdu::ConfirmedServiceError(_) => "confirmed-service-error",
            Apdu::DataNotification(_) => "data-notification",
            Apdu::EventNotificationRequest(_) => "event-notification-request",
            Apdu::GetRequest(_) => "get-request",
            Apdu::GetResponse(_) => "get-response",
            Apdu::SetRequest(_) => "set-request",
            Apdu::SetResponse(_) => "set-response",
            Apdu::ActionRequest(_) => "action-request",
            Apdu::ActionResponse(_) => "action-response",
            Apdu::ExceptionResponse(_) => "exception-response",
            Apdu::ReadRequest(_) => "read-request",
            Apdu::ReadResponse(_) => "read-response",
            Apdu::WriteRequest(_) => "write-request",
            Apdu::WriteResponse(_) => "write-response",
            Apdu::UnconfirmedWriteRequest(_) => "unconfirmed-write-request",
            Apdu::InformationReportRequest(_) => "information-report-request",
            Apdu::GeneralBlockTransfer(_) => "general-block-transfer",
            Apdu::Aarq(_) => "aarq",
            Apdu::Aare(_) => "aare",
            Apdu::Rlrq(_) => "rlrq",
            Apdu::Rlre(_) => "rlre",
            Apdu::Ciphered(c) => c.type_name(),
        }
    }

    /// The CHOICE alternative for the LN services (`get-request-normal`,
    /// `get-response-with-datablock`, ...); the type name for the others.
    pub fn choice_name(&self) -> &'static str {
        match self {
            Apdu::GetRequest(x) => x.choice_name(),
            Apdu::GetResponse(x) => x.choice_name(),
            Apdu::SetRequest(x) => x.choice_name(),
            Apdu::SetResponse(x) => x.choice_name(),
            Apdu::ActionRequest(x) => x.choice_name(),
            Apdu::ActionResponse(x) => x.choice_name(),
            other => other.type_name(),
        }
    }

    /// The one-octet invoke-id-and-priority of the LN request/response services.
    fn short_invoke(&self) -> Option<InvokeIdAndPriority> {
        match self {
            Apdu::GetRequest(x) => Some(x.invoke()),
            Apdu::GetResponse(x) => Some(x.invoke()),
            Apdu::SetRequest(x) => Some(x.invoke()),
            Apdu::SetResponse(x) => Some(x.invoke()),
            Apdu::ActionRequest(x) => Some(x.invoke()),
            Apdu::ActionResponse(x) => Some(x.invoke()),
            _ => None,
        }
    }

    /// The invoke-id (long-invoke-id for notifications), where the APDU has one.
    pub fn invoke_id(&self) -> Option<u32> {
        match self {
            Apdu::DataNotification(n) => Some(n.invoke.invoke_id()),
            _ => self.short_invoke().map(|i| i.invoke_id() as u32),
        }
    }

    /// The priority bit of the invoke-id: `Some(true)` for high.
    pub fn priority_high(&self) -> Option<bool> {
        match self {
            Apdu::DataNotification(n) => Some(n.invoke.high_priority()),
            _ => self.short_invoke().map(|i| i.high_priority()),
        }
    }

    /// The service-class bit of the invoke-id: `Some(true)` for confirmed.
    pub fn confirmed(&self) -> Option<bool> {
        match self {
            Apdu::DataNotification(n) => Some(n.invoke.confirmed()),
            _ => self.short_invoke().map(|i| i.confirmed()),
        }
    }

    /// The date-time the APDU carries (data-notification, event-notification).
    pub fn datetime(&self) -> Option<DateTime> {
        match self {
            Apdu::DataNotification(n) => n.time.datetime(),
            Apdu::EventNotificationRequest(e) => e.time,
            _ => None,
        }
    }

    /// The APDU's main Data value: a data-notification body, get-response-normal's data, an
    /// event's value, action-response-normal's return data, set-request-normal's value,
    /// action-request-normal's parameters, the data of a one-item read-response.
    pub fn value(&self) -> Option<&Data> {
        match self {
            Apdu::DataNotification(n) => Some(&n.body),
            Apdu::EventNotificationRequest(e) => Some(&e.value),
            Apdu::GetResponse(GetResponse::Normal { result, .. }) => result.data(),
            Apdu::SetRequest(SetRequest::Normal { value, .. }) => Some(value),
            Apdu::ActionRequest(ActionRequest::Normal { parameters, .. }) => parameters.as_ref(),
            Apdu::ActionResponse(ActionResponse::Normal { response, .. }) => {
                response.return_parameters.as_ref().and_then(GetDataResult::data)
            }
            Apdu::ReadResponse(v) => match v.as_slice() {
                [ReadResult::Data(d)] => Some(d),
                _ => None,
            },
            _ => None,
        }
    }

    /// The ciphered APDU, when this is one.
    pub fn ciphered(&self) -> Option<&CipheredApdu> {
        match self {
            Apdu::Ciphered(c) => Some(c),
            _ => None,
        }
    }

    /// The APDU's tag.
    pub fn tag(&self) -> u8 {
        use tags::*;
        match self {
            Apdu::InitiateRequest(_) => INITIATE_REQUEST,
            Apdu::InitiateResponse(_) => INITIATE_RESPONSE,
            Apdu::ConfirmedServiceError(_) => CONFIRMED_SERVICE_ERROR,
            Apdu::DataNotification(_) => DATA_NOTIFICATION,
            Apdu::EventNotificationRequest(_) => EVENT_NOTIFICATION_REQUEST,
            Apdu::GetRequest(_) => GET_REQUEST,
            Apdu::GetResponse(_) => GET_RESPONSE,
            Apdu::SetRequest(_) => SET_REQUEST,
            Apdu::SetResponse(_) => SET_RESPONSE,
            Apdu::ActionRequest(_) => ACTION_REQUEST,
            Apdu::ActionResponse(_) => ACTION_RESPONSE,
            Apdu::ExceptionResponse(_) => EXCEPTION_RESPONSE,
            Apdu::ReadRequest(_) => READ_REQUEST,
            Apdu::ReadResponse(_) => READ_RESPONSE,
            Apdu::WriteRequest(_) => WRITE_REQUEST,
            Apdu::WriteResponse(_) => WRITE_RESPONSE,
            Apdu::UnconfirmedWriteRequest(_) => UNCONFIRMED_WRITE_REQUEST,
            Apdu::InformationReportRequest(_) => INFORMATION_REPORT_REQUEST,
            Apdu::GeneralBlockTransfer(_) => GENERAL_BLOCK_TRANSFER,
            Apdu::Aarq(_) => AARQ,
            Apdu::Aare(_) => AARE,
            Apdu::Rlrq(_) => RLRQ,
            Apdu::Rlre(_) => RLRE,
            Apdu::Ciphered(c) => c.tag,
        }
    }
}

/// Decode one APDU filling all of `buf`.
pub fn decode_apdu(buf: &[u8]) -> Result<Apdu, ApduError> {
    decode_nested(buf, 0)
}

/// Decode one APDU filling all of `buf`, which starts at offset `base` of the input (an APDU
/// inside a user-information field); error offsets count from the input's start.
pub(crate) fn decode_nested(buf: &[u8], base: usize) -> Result<Apdu, ApduError> {
    let Some(&tag) = buf.first() else {
        return Err(ApduError::Truncated { offset: base });
    };
    if tags::is_ciphered(tag) {
        return decode_ciphered(buf, base);
    }
    let mut r = Reader::with_base(buf, base);
    let apdu = if (tags::AARQ..=tags::RLRE).contains(&tag) {
        decode_acse(&mut r)?
    } else {
        r.u8()?;
        decode_xdlms(tag, &mut r)?
    };
    r.finish()?;
    Ok(apdu)
}

/// A ciphered APDU: the ciphering stage parses it (its declared length must end the buffer).
fn decode_ciphered(buf: &[u8], base: usize) -> Result<Apdu, ApduError> {
    let c = parse_ciphered(buf).map_err(|error| ApduError::Cipher { offset: base, error })?;
    Ok(Apdu::Ciphered(c))
}

fn decode_acse(r: &mut Reader) -> Result<Apdu, ApduError> {
    let e = read_element(r)?;
    Ok(match e.tag {
        tags::AARQ => Apdu::Aarq(Aarq::read(e.content, e.content_at)?),
        tags::AARE => Apdu::Aare(Aare::read(e.content, e.content_at)?),
        tags::RLRQ => Apdu::Rlrq(Release::read(e.content, e.content_at)?),
        _ => Apdu::Rlre(Release::read(e.content, e.content_at)?),
    })
}

fn decode_xdlms(tag: u8, r: &mut Reader) -> Result<Apdu, ApduError> {
    use tags::*;
    Ok(match tag {
        INITIATE_REQUEST => Apdu::InitiateRequest(InitiateRequest::read(r)?),
        INITIATE_RESPONSE => Apdu::InitiateResponse(InitiateResponse::read(r)?),
        CONFIRMED_SERVICE_ERROR => Apdu::ConfirmedServiceError(ConfirmedServiceError::read(r)?),
        DATA_NOTIFICATION => Apdu::DataNotification(DataNotification::read(r)?),
        EVENT_NOTIFICATION_REQUEST => Apdu::EventNotificationRequest(EventNotificationRequest::read(r)?),
        GET_REQUEST => Apdu::GetRequest(GetRequest::read(r)?),
        GET_RESPONSE => Apdu::GetResponse(GetResponse::read(r)?),
        SET_REQUEST => Apdu::SetRequest(SetRequest::read(r)?),
        SET_RESPONSE => Apdu::SetResponse(SetResponse::read(r)?),
        ACTION_REQUEST => Apdu::ActionRequest(ActionRequest::read(r)?),
        ACTION_RESPONSE => Apdu::ActionResponse(ActionResponse::read(r)?),
        EXCEPTION_RESPONSE => Apdu::ExceptionResponse(ExceptionResponse::read(r)?),
        READ_REQUEST => Apdu::ReadRequest(r.seq(VariableAccess::read)?),
        READ_RESPONSE => Apdu::ReadResponse(r.seq(ReadResult::read)?),
        WRITE_REQUEST => Apdu::WriteRequest(VariablesAndData::read(r)?),
        WRITE_RESPONSE => Apdu::WriteResponse(r.seq(WriteResult::read)?),
        UNCONFIRMED_WRITE_REQUEST => Apdu::UnconfirmedWriteRequest(VariablesAndData::read(r)?),
        INFORMATION_REPORT_REQUEST => Apdu::InformationReportRequest(InformationReport::read(r)?),
        GENERAL_BLOCK_TRANSFER => Apdu::GeneralBlockTransfer(GeneralBlockTransfer::read(r)?),
        _ => return Err(ApduError::UnknownTag { offset: r.pos() - 1, tag }),
    })
}

/// Append the encoding of `apdu`.
pub fn encode_apdu(apdu: &Apdu, out: &mut Vec<u8>) -> Result<(), ApduError> {
    match apdu {
        Apdu::Aarq(a) => encode_acse(tags::AARQ, out, |c| a.write(c)),
        Apdu::Aare(a) => encode_acse(tags::AARE, out, |c| a.write(c)),
        Apdu::Rlrq(a) => encode_acse(tags::RLRQ, out, |c| a.write(c)),
        Apdu::Rlre(a) => encode_acse(tags::RLRE, out, |c| a.write(c)),
        Apdu::Ciphered(c) => {
            encode_ciphered(c, out);
            Ok(())
        }
        other => {
            out.push(other.tag());
            encode_xdlms(other, out);
            Ok(())
        }
    }
}

/// The encoding of `apdu` as a new vector.
pub fn encode_apdu_to_vec(apdu: &Apdu) -> Result<Vec<u8>, ApduError> {
    let mut out = Vec::new();
    encode_apdu(apdu, &mut out)?;
    Ok(out)
}

fn encode_acse(
    tag: u8,
    out: &mut Vec<u8>,
    content: impl FnOnce(&mut Vec<u8>) -> Result<(), ApduError>,
) -> Result<(), ApduError> {
    let mut c = Vec::new();
    content(&mut c)?;
    ber::put_tlv(out, tag, &c);
    Ok(())
}

fn encode_xdlms(apdu: &Apdu, out: &mut Vec<u8>) {
    use cursor::put_seq;
    match apdu {
        Apdu::InitiateRequest(x) => x.write(out),
        Apdu::InitiateResponse(x) => x.write(out),
        Apdu::ConfirmedServiceError(x) => x.write(out),
        Apdu::DataNotification(x) => x.write(out),
        Apdu::EventNotificationRequest(x) => x.write(out),
        Apdu::GetRequest(x) => x.write(out),
        Apdu::GetResponse(x) => x.write(out),
        Apdu::SetRequest(x) => x.write(out),
        Apdu::SetResponse(x) => x.write(out),
        Apdu::ActionRequest(x) => x.write(out),
        Apdu::ActionResponse(x) => x.write(out),
        Apdu::ExceptionResponse(x) => x.write(out),
        Apdu::ReadRequest(v) => put_seq(out, v, |o, x| x.write(o)),
        Apdu::ReadResponse(v) => put_seq(out, v, |o, x| x.write(o)),
        Apdu::WriteRequest(x) | Apdu::UnconfirmedWriteRequest(x) => x.write(out),
        Apdu::WriteResponse(v) => put_seq(out, v, |o, x| x.write(o)),
        Apdu::InformationReportRequest(x) => x.write(out),
        Apdu::GeneralBlockTransfer(x) => x.write(out),
        Apdu::Aarq(_) | Apdu::Aare(_) | Apdu::Rlrq(_) | Apdu::Rlre(_) | Apdu::Ciphered(_) => {}
    }
}
