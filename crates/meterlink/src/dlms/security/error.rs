use std::fmt;

use crate::error_class::ErrorClass;

/// A failure of ciphering. Offsets count in the buffer this stage was given (the ciphered
/// APDU, tag first). No variant holds key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CipherError {
    /// The input ends before the structure does.
    Truncated {
        /// Where the missing bytes would start.
        offset: usize,
    },
    /// The APDU's length field does not end where the input ends (bytes follow the APDU).
    LengthMismatch {
        /// Where the first byte after the APDU sits.
        offset: usize,
    },
    /// The first byte is not the tag of a ciphered APDU.
    NotCiphered {
        /// The tag found.
        tag: u8,
    },
    /// A system title that is neither 8 bytes long nor (where allowed) empty.
    SystemTitleLength {
        /// Where the system title's length byte sits.
        offset: usize,
        /// Its length.
        len: usize,
    },
    /// The key-info of a general-ciphering APDU is malformed (unknown choice or key id).
    KeyInfo {
        /// Where the offending byte sits.
        offset: usize,
    },
    /// The security control byte asks for compression (not supported).
    CompressionUnsupported,
    /// A security suite other than 0, 1 and 2, or a suite-1/2 feature beyond AES-GCM.
    SuiteUnsupported {
        /// The suite id (bits 3..0 of the security control byte).
        suite: u8,
    },
    /// The security control byte asks for neither authentication nor encryption: nothing can
    /// be verified.
    NoProtection,
    /// Key agreement (ECDH, the agreed-key of general-ciphering) is not supported.
    KeyAgreementUnsupported,
    /// A key has the wrong length for the security suite.
    KeyLength {
        /// The length the suite needs.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The APDU is authenticated but no authentication key was given.
    MissingAuthenticationKey,
    /// A ded- APDU or general-ded-ciphering, but no dedicated key was given.
    MissingDedicatedKey,
    /// A wrapped key, but no key-encryption (master) key was given.
    MissingKek,
    /// The wrapped key does not unwrap under the key-encryption key (RFC 3394 integrity check).
    KeyUnwrap,
    /// The authentication tag does not verify: wrong key, or modified data.
    TagMismatch,
    /// The HLS authentication mechanism is not supported.
    HlsMechanismUnsupported {
        /// The mechanism id.
        mechanism: u8,
    },
    /// The peer's HLS reply f(StoC) / f(CtoS) does not match the expected one.
    HlsMismatch,
    /// A ciphered APDU whose invocation counter is not greater than the last one accepted for
    /// its system title and key (Green Book 9.2.7.2.4.2 / replay protection).
    ReplayedCounter {
        /// The sender's system title.
        system_title: [u8; 8],
        /// Which key the counter belongs to (`global-unicast`, `global-broadcast`, ...).
        key: &'static str,
        /// The counter received.
        counter: u32,
        /// The last accepted counter.
        last: u32,
    },
}

impl CipherError {
    /// Every code of this stage (`docs/errors.md`).
    pub const CODES: &'static [&'static str] = &[
        "cipher_truncated",
        "cipher_length_mismatch",
        "cipher_not_ciphered",
        "cipher_system_title_length",
        "cipher_key_info",
        "cipher_compression_unsupported",
        "cipher_suite_unsupported",
        "cipher_no_protection",
        "cipher_key_agreement_unsupported",
        "cipher_key_length",
        "cipher_missing_authentication_key",
        "cipher_missing_dedicated_key",
        "cipher_missing_kek",
        "cipher_key_unwrap",
        "cipher_tag_mismatch",
        "cipher_hls_mechanism_unsupported",
        "cipher_hls_mismatch",
        "cipher_replayed_counter",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        use CipherError::*;
        match self {
            Truncated { .. } => "cipher_truncated",
            LengthMismatch { .. } => "cipher_length_mismatch",
            NotCiphered { .. } => "cipher_not_ciphered",
            SystemTitleLength { .. } => "cipher_system_title_length",
            KeyInfo { .. } => "cipher_key_info",
            CompressionUnsupported => "cipher_compression_unsupported",
            SuiteUnsupported { .. } => "cipher_suite_unsupported",
            NoProtection => "cipher_no_protection",
            KeyAgreementUnsupported => "cipher_key_agreement_unsupported",
            KeyLength { .. } => "cipher_key_length",
            MissingAuthenticationKey => "cipher_missing_authentication_key",
            MissingDedicatedKey => "cipher_missing_dedicated_key",
            MissingKek => "cipher_missing_kek",
            KeyUnwrap => "cipher_key_unwrap",
            TagMismatch => "cipher_tag_mismatch",
            HlsMechanismUnsupported { .. } => "cipher_hls_mechanism_unsupported",
            HlsMismatch => "cipher_hls_mismatch",
            ReplayedCounter { .. } => "cipher_replayed_counter",
        }
    }

    /// Which Python exception the error becomes: malformed structure is a `DecodeError`,
    /// everything about keys, tags and counters a `SecurityError`.
    pub fn class(&self) -> ErrorClass {
        use CipherError::*;
        match self {
            Truncated { .. } | LengthMismatch { .. } | NotCiphered { .. } | SystemTitleLength { .. } | KeyInfo { .. } => {
                ErrorClass::Decode
            }
            _ => ErrorClass::Security,
        }
    }

    /// The offset in the stage's buffer, where the error has one.
    pub fn offset(&self) -> Option<usize> {
        use CipherError::*;
        match self {
            Truncated { offset } | LengthMismatch { offset } | SystemTitleLength { offset, .. } | KeyInfo { offset } => {
                Some(*offset)
            }
            NotCiphered { .. } => Some(0),
            _ => None,
        }
    }
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CipherError::*;
        match self {
            Truncated { .. } => f.write_str("ciphered APDU ends early"),
            LengthMismatch { .. } => f.write_str("bytes follow the ciphered APDU's declared length"),
            NotCiphered { tag } => write!(f, "tag 0x{tag:02X} is not a ciphered APDU"),
            SystemTitleLength { len, .. } => write!(f, "system title of {len} bytes (8 expected)"),
            KeyInfo { .. } => f.write_str("malformed key-info of general-ciphering"),
            CompressionUnsupported => f.write_str("compressed ciphered APDU (compression is not supported)"),
            SuiteUnsupported { suite } => write!(f, "security suite {suite} not supported here"),
            NoProtection => f.write_str("security control asks for neither authentication nor encryption"),
            KeyAgreementUnsupported => f.write_str("key agreement (agreed-key, ECDH) not supported"),
            KeyLength { expected, got } => write!(f, "key of {got} bytes, the security suite needs {expected}"),
            MissingAuthenticationKey => f.write_str("authenticated APDU but no authentication key"),
            MissingDedicatedKey => f.write_str("dedicated ciphering but no dedicated key"),
            MissingKek => f.write_str("wrapped key but no key-encryption key"),
            KeyUnwrap => f.write_str("wrapped key does not unwrap: wrong key-encryption key or modified data"),
            TagMismatch => f.write_str("authentication tag does not verify: wrong key or modified data"),
            HlsMechanismUnsupported { mechanism } => write!(f, "HLS mechanism {mechanism} not supported"),
            HlsMismatch => f.write_str("HLS reply does not verify"),
            ReplayedCounter { system_title, key, counter, last } => {
                for b in system_title {
                    write!(f, "{b:02X}")?;
                }
                write!(f, " ({key} key) sent invocation counter {counter}, not greater than the last accepted counter {last}")
            }
        }
    }
}

impl std::error::Error for CipherError {}
