//! Result and error types of xDLMS (Green Book 9.5): Data-Access-Result and Action-Result
//! enumerations (name tables), exception-response, confirmed-service-error.

use super::cursor::Reader;
use super::ApduError;

/// Data-Access-Result names by value (Green Book, xDLMS ASN.1).
pub const DATA_ACCESS_RESULTS: &[(u8, &str)] = &[
    (0, "success"),
    (1, "hardware-fault"),
    (2, "temporary-failure"),
    (3, "read-write-denied"),
    (4, "object-undefined"),
    (9, "object-class-inconsistent"),
    (11, "object-unavailable"),
    (12, "type-unmatched"),
    (13, "scope-of-access-violated"),
    (14, "data-block-unavailable"),
    (15, "long-get-aborted"),
    (16, "no-long-get-in-progress"),
    (17, "long-set-aborted"),
    (18, "no-long-set-in-progress"),
    (19, "data-block-number-invalid"),
    (250, "other-reason"),
];

/// Action-Result names by value.
pub const ACTION_RESULTS: &[(u8, &str)] = &[
    (0, "success"),
    (1, "hardware-fault"),
    (2, "temporary-failure"),
    (3, "read-write-denied"),
    (4, "object-undefined"),
    (9, "object-class-inconsistent"),
    (11, "object-unavailable"),
    (12, "type-unmatched"),
    (13, "scope-of-access-violated"),
    (14, "data-block-unavailable"),
    (15, "long-action-aborted"),
    (16, "no-long-action-in-progress"),
    (250, "other-reason"),
];

/// The services of confirmed-service-error (ConfirmedServiceError CHOICE) by tag.
pub const CONFIRMED_SERVICES: &[&str] = &[
    "",
    "initiate-error",
    "get-status",
    "get-name-list",
    "get-variable-attribute",
    "read",
    "write",
    "get-data-set-attribute",
    "get-ti-attribute",
    "change-scope",
    "start",
    "stop",
    "resume",
    "make-usable",
    "initiate-load",
    "load-segment",
    "terminate-load",
    "initiate-up-load",
    "up-load-segment",
    "terminate-up-load",
];

/// The ServiceError CHOICE alternatives by tag.
pub const SERVICE_ERRORS: &[&str] = &[
    "application-reference",
    "hardware-resource",
    "vde-state-error",
    "service",
    "definition",
    "access",
    "initiate",
    "load-data-set",
    "change-scope",
    "task",
    "other",
];

/// The `initiate` ServiceError values (an AARE's refusal of the initiate-request).
pub const INITIATE_ERRORS: &[&str] =
    &["other", "dlms-version-too-low", "incompatible-conformance", "pdu-size-too-short", "refused-by-the-vde-handler"];

fn lookup(table: &[(u8, &'static str)], v: u8) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == v).map(|(_, n)| *n)
}

/// A Data-Access-Result value (unknown values kept as sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataAccessResult(pub u8);

impl DataAccessResult {
    /// The standard's name, when the value has one.
    pub fn name(self) -> Option<&'static str> {
        lookup(DATA_ACCESS_RESULTS, self.0)
    }
}

/// An Action-Result value (unknown values kept as sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionResult(pub u8);

impl ActionResult {
    /// The standard's name, when the value has one.
    pub fn name(self) -> Option<&'static str> {
        lookup(ACTION_RESULTS, self.0)
    }
}

/// The service-error of an exception-response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExceptionServiceError {
    /// \[1\] operation-not-possible.
    OperationNotPossible,
    /// \[2\] service-not-supported.
    ServiceNotSupported,
    /// \[3\] other-reason.
    OtherReason,
    /// \[4\] pdu-too-long.
    PduTooLong,
    /// \[5\] deciphering-error.
    DecipheringError,
    /// \[6\] invocation-counter-error, with the server's expected counter.
    InvocationCounterError(u32),
}

/// Exception-Response (tag D8h): state-error (1 service-not-allowed, 2 service-unknown) and
/// service-error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExceptionResponse {
    /// state-error.
    pub state_error: u8,
    /// service-error.
    pub service_error: ExceptionServiceError,
}

impl ExceptionResponse {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (at, state_error) = r.choice()?;
        if !(1..=2).contains(&state_error) {
            return Err(ApduError::BadChoice { offset: at, value: state_error, of: "state-error" });
        }
        use ExceptionServiceError::*;
        let service_error = match r.choice()? {
            (_, 1) => OperationNotPossible,
            (_, 2) => ServiceNotSupported,
            (_, 3) => OtherReason,
            (_, 4) => PduTooLong,
            (_, 5) => DecipheringError,
            (_, 6) => InvocationCounterError(r.u32()?),
            (offset, value) => return Err(ApduError::BadChoice { offset, value, of: "service-error" }),
        };
        Ok(ExceptionResponse { state_error, service_error })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        use ExceptionServiceError::*;
        out.push(self.state_error);
        match self.service_error {
            OperationNotPossible => out.push(1),
            ServiceNotSupported => out.push(2),
            OtherReason => out.push(3),
            PduTooLong => out.push(4),
            DecipheringError => out.push(5),
            InvocationCounterError(c) => {
                out.push(6);
                out.extend_from_slice(&c.to_be_bytes());
            }
        }
    }

    /// The state-error's name.
    pub fn state_error_name(&self) -> &'static str {
        if self.state_error == 1 {
            "service-not-allowed"
        } else {
            "service-unknown"
        }
    }
}

/// ConfirmedServiceError (tag 0Eh): the service that failed, the ServiceError alternative
/// and its enumerated value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConfirmedServiceError {
    /// The service (1 initiate-error, 5 read, 6 write, ...; [`CONFIRMED_SERVICES`]).
    pub service: u8,
    /// The ServiceError alternative (6 initiate, 5 access, ...; [`SERVICE_ERRORS`]).
    pub kind: u8,
    /// The enumerated value within that alternative.
    pub value: u8,
}

impl ConfirmedServiceError {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, ApduError> {
        let (at, service) = r.choice()?;
        if service == 0 || service as usize >= CONFIRMED_SERVICES.len() {
            return Err(ApduError::BadChoice { offset: at, value: service, of: "ConfirmedServiceError" });
        }
        let (at, kind) = r.choice()?;
        if kind as usize >= SERVICE_ERRORS.len() {
            return Err(ApduError::BadChoice { offset: at, value: kind, of: "ServiceError" });
        }
        Ok(ConfirmedServiceError { service, kind, value: r.u8()? })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.service, self.kind, self.value]);
    }

    /// The service's name (`initiate-error`, `read`, ...).
    pub fn service_name(&self) -> &'static str {
        CONFIRMED_SERVICES.get(self.service as usize).copied().unwrap_or("")
    }

    /// The ServiceError alternative's name (`initiate`, `access`, ...).
    pub fn kind_name(&self) -> &'static str {
        SERVICE_ERRORS.get(self.kind as usize).copied().unwrap_or("")
    }
}
