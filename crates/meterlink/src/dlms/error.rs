//! The DLMS family's error: one stage's own typed error. Each stage error has a stable
//! snake_case `code()`, a `class()` (which Python exception), an `offset()` in the buffer that
//! stage was given, and lists its codes in a `CODES` constant.

use std::fmt;

use crate::error_class::ErrorClass;

use super::{apdu, axdr, hdlc, mbus, p1, security, wrapper};

/// A DLMS/COSEM failure, by stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DlmsError {
    /// HDLC framing (IEC 62056-46): flags, format, addresses, HCS/FCS, LLC.
    Hdlc(hdlc::HdlcError),
    /// TCP/UDP wrapper (IEC 62056-47).
    Wrapper(wrapper::WrapperError),
    /// DLMS over M-Bus segments.
    Mbus(mbus::MbusError),
    /// P1 text telegrams (DSMR 5 / Smarty / Austrian P1).
    P1(p1::P1Error),
    /// A-XDR data.
    Axdr(axdr::AxdrError),
    /// APDUs (ACSE BER, xDLMS A-XDR).
    Apdu(apdu::ApduError),
    /// Ciphering: security header, keys, tags, counters.
    Security(security::CipherError),
}

/// Every code of the DLMS family, stage by stage.
pub const ALL_CODES: &[&[&str]] = &[
    hdlc::HdlcError::CODES,
    wrapper::WrapperError::CODES,
    mbus::MbusError::CODES,
    p1::P1Error::CODES,
    axdr::AxdrError::CODES,
    apdu::ApduError::CODES,
    security::CipherError::CODES,
];

macro_rules! each_stage {
    ($self:expr, |$e:ident| $body:expr) => {
        match $self {
            DlmsError::Hdlc($e) => $body,
            DlmsError::Wrapper($e) => $body,
            DlmsError::Mbus($e) => $body,
            DlmsError::P1($e) => $body,
            DlmsError::Axdr($e) => $body,
            DlmsError::Apdu($e) => $body,
            DlmsError::Security($e) => $body,
        }
    };
}

impl DlmsError {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        each_stage!(self, |e| e.code())
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        each_stage!(self, |e| e.class())
    }

    /// The offset in the buffer the failing stage was given, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        each_stage!(self, |e| e.offset())
    }
}

impl fmt::Display for DlmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        each_stage!(self, |e| fmt::Display::fmt(e, f))
    }
}

impl std::error::Error for DlmsError {}

macro_rules! from_stage {
    ($($v:ident($t:ty)),*) => {$(
        impl From<$t> for DlmsError {
            fn from(e: $t) -> Self {
                DlmsError::$v(e)
            }
        }
    )*};
}

from_stage!(
    Hdlc(hdlc::HdlcError),
    Wrapper(wrapper::WrapperError),
    Mbus(mbus::MbusError),
    P1(p1::P1Error),
    Axdr(axdr::AxdrError),
    Apdu(apdu::ApduError),
    Security(security::CipherError)
);
