use std::fmt;

use crate::dlms::axdr::AxdrError;
use crate::dlms::security::CipherError;
use crate::error_class::ErrorClass;

/// A failure of APDUs. Offsets count in the buffer this stage was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApduError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// The first octet is no APDU tag this decoder knows (or one not allowed where it stands).
    UnknownTag {
        /// Where the tag is.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A CHOICE (or ENUMERATED) octet names no alternative of its type.
    BadChoice {
        /// Where the octet is.
        offset: usize,
        /// The octet.
        value: u8,
        /// The type whose alternative it should name.
        of: &'static str,
    },
    /// Bytes follow the end of the APDU.
    TrailingBytes {
        /// Where the first extra byte is.
        offset: usize,
    },
    /// A length that cannot be (indefinite BER length, a length field of more than 4 octets,
    /// a BER element longer than what encloses it).
    BadLength {
        /// Where the length is.
        offset: usize,
    },
    /// An ACSE (BER) element that is unknown, out of order, repeated, or of the wrong form.
    BerElement {
        /// Where the element's tag is.
        offset: usize,
        /// The tag.
        tag: u8,
    },
    /// A mandatory ACSE element is absent.
    MissingElement {
        /// Where the enclosing APDU ends.
        offset: usize,
        /// The element's name.
        what: &'static str,
    },
    /// A field holds a value outside its type: a boolean or OPTIONAL flag other than 0/1, an
    /// object identifier that is no DLMS context or mechanism, a conformance block of the
    /// wrong form, a date-time that is not 12 octets.
    BadValue {
        /// Where the field is.
        offset: usize,
        /// The field.
        what: &'static str,
    },
    /// The user-information holds an APDU that cannot stand there (an ACSE APDU).
    BadUserInformation {
        /// Where the inner APDU starts.
        offset: usize,
    },
    /// A Data item inside the APDU is malformed (the A-XDR stage's error).
    Data {
        /// Where the Data item starts.
        offset: usize,
        /// The A-XDR error, its offset counted from `offset`.
        error: AxdrError,
    },
    /// A ciphered APDU is malformed (the ciphering stage's error).
    Cipher {
        /// Where the ciphered APDU starts.
        offset: usize,
        /// The ciphering error, its offset counted from `offset`.
        error: CipherError,
    },
}

impl ApduError {
    /// Every code of this stage (`docs/errors.md`). `Data` and `Cipher` carry the A-XDR and
    /// ciphering stages' codes.
    pub const CODES: &'static [&'static str] = &[
        "apdu_truncated",
        "apdu_unknown_tag",
        "apdu_bad_choice",
        "apdu_trailing_bytes",
        "apdu_bad_length",
        "apdu_ber_element",
        "apdu_missing_element",
        "apdu_bad_value",
        "apdu_bad_user_information",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ApduError::Truncated { .. } => "apdu_truncated",
            ApduError::UnknownTag { .. } => "apdu_unknown_tag",
            ApduError::BadChoice { .. } => "apdu_bad_choice",
            ApduError::TrailingBytes { .. } => "apdu_trailing_bytes",
            ApduError::BadLength { .. } => "apdu_bad_length",
            ApduError::BerElement { .. } => "apdu_ber_element",
            ApduError::MissingElement { .. } => "apdu_missing_element",
            ApduError::BadValue { .. } => "apdu_bad_value",
            ApduError::BadUserInformation { .. } => "apdu_bad_user_information",
            ApduError::Data { error, .. } => error.code(),
            ApduError::Cipher { error, .. } => error.code(),
        }
    }

    /// Which Python exception the error becomes.
    pub fn class(&self) -> ErrorClass {
        match self {
            ApduError::Data { error, .. } => error.class(),
            ApduError::Cipher { error, .. } => error.class(),
            _ => ErrorClass::Decode,
        }
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            ApduError::Truncated { offset }
            | ApduError::UnknownTag { offset, .. }
            | ApduError::BadChoice { offset, .. }
            | ApduError::TrailingBytes { offset }
            | ApduError::BadLength { offset }
            | ApduError::BerElement { offset, .. }
            | ApduError::MissingElement { offset, .. }
            | ApduError::BadValue { offset, .. }
            | ApduError::BadUserInformation { offset } => Some(*offset),
            ApduError::Data { offset, error } => Some(offset + error.offset().unwrap_or(0)),
            ApduError::Cipher { offset, error } => Some(offset + error.offset().unwrap_or(0)),
        }
    }
}

impl fmt::Display for ApduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApduError::Truncated { .. } => f.write_str("input ends inside the APDU"),
            ApduError::UnknownTag { tag, .. } => write!(f, "unknown APDU tag {tag:02X}h"),
            ApduError::BadChoice { value, of, .. } => write!(f, "{value} is no alternative of {of}"),
            ApduError::TrailingBytes { .. } => f.write_str("bytes follow the end of the APDU"),
            ApduError::BadLength { .. } => f.write_str("impossible length"),
            ApduError::BerElement { tag, .. } => {
                write!(f, "unexpected ACSE element {tag:02X}h (unknown, repeated, out of order or malformed)")
            }
            ApduError::MissingElement { what, .. } => write!(f, "mandatory element {what} is absent"),
            ApduError::BadValue { what, .. } => write!(f, "invalid {what}"),
            ApduError::BadUserInformation { .. } => {
                f.write_str("user-information holds an APDU that cannot stand there")
            }
            ApduError::Data { error, .. } => write!(f, "Data in the APDU: {error}"),
            ApduError::Cipher { error, .. } => write!(f, "ciphered APDU: {error}"),
        }
    }
}

impl std::error::Error for ApduError {}
