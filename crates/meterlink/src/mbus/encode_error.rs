//! Why a telegram or a data record could not be built: one typed error for every encoder
//! layer (link, ELL, TPL, security, AFL, records), with a stable code per variant.
//!
//! A leaf module: the layer builders (`records::encode`, `security::config` users, the
//! [`Builder`](crate::mbus::encode::Builder)) import it, it imports only the decode layers' error types it wraps.

use std::fmt;

use crate::mbus::afl::AflError;
use crate::mbus::link::wmbus::FrameFormat;
use crate::mbus::security::SecurityError;
use crate::mbus::tpl::CiHeader;

/// Why a telegram (or a data record) could not be built.
///
/// Every variant carries what was wrong; [`EncodeError::code`] gives a stable snake_case code
/// and [`EncodeError::kind`] the coarse class (parameter, key, length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    // --- parameters: link, ELL, TPL --------------------------------------------------------
    /// An ELL was asked for on a wired link (the ELL exists only on wireless links).
    EllOnWiredLink,
    /// ELL encryption without a session number (only CI 8D/8F carry one).
    EllEncryptionWithoutSession,
    /// The TPL CI announces another header kind than the one given.
    CiHeaderMismatch {
        /// The TPL CI.
        ci: u8,
        /// The header kind the CI announces.
        announced: CiHeader,
        /// The header kind that was asked for.
        given: CiHeader,
    },
    /// The TPL CI is reserved.
    ReservedCi {
        /// The TPL CI.
        ci: u8,
    },
    // --- parameters: security -------------------------------------------------------------
    /// A security mode other than 0 without a short or long TPL header.
    ModeNeedsHeader {
        /// The security mode.
        mode: u8,
    },
    /// A configuration-field value wider than its field.
    FieldTooWide {
        /// The field, as the message names it ("content of message (CC)", "key ID").
        field: &'static str,
        /// Its width in bits.
        bits: u8,
    },
    /// An AFL was asked for with a mode that has none (0, 2, 3, 5, 15).
    AflNotUsed {
        /// The security mode.
        mode: u8,
    },
    /// Modes 7/8 without an AFL MAC.
    AflRequired {
        /// The security mode.
        mode: u8,
    },
    /// A counter-based mode (7–10) or DSMR mode 15 without its message / frame counter.
    MissingCounter {
        /// The security mode.
        mode: u8,
    },
    /// A security mode the encoder does not build.
    UnsupportedMode {
        /// The security mode.
        mode: u8,
    },
    /// An AEAD tag length the mode does not allow.
    TagLength {
        /// The security mode.
        mode: u8,
        /// The tag length asked for, in bytes.
        tag_len: u8,
    },
    /// An AFL authentication type (MCL AT) that is not a MAC.
    AflAuthType {
        /// The AT value.
        at: u8,
    },
    /// An AFL GMAC with the message counter in the TPL (the GMAC needs it in AFL.MCR).
    GmacNeedsCounterInAfl,
    /// The AEAD seal of modes 9/10 failed.
    Seal(SecurityError),
    /// Signing the AFL failed.
    AflSign(AflError),
    // --- parameters: records --------------------------------------------------------------
    /// A data record without a VIF.
    MissingVif,
    /// VIF bytes whose extension bits do not chain (every byte but the last needs 0x80).
    VifExtensionBits,
    /// A plain-text VIB (7C/FC) that does not read back as given (length byte, text, VIFEs).
    PlainTextVib,
    /// More than 10 VIFEs.
    TooManyVifes,
    /// An integer data field size that EN 13757-3 does not code.
    IntegerSize {
        /// The size asked for, in bytes.
        size: u8,
    },
    /// A BCD digit count that EN 13757-3 does not code.
    BcdDigits {
        /// The digit count asked for.
        digits: u8,
    },
    /// A text character outside Latin-1.
    NotLatin1 {
        /// The character.
        ch: char,
    },
    // --- keys -----------------------------------------------------------------------------
    /// The mode (`Some`) or the ELL encryption (`None`) needs a key and none was given.
    MissingKey {
        /// The security mode, `None` for the ELL encryption.
        mode: Option<u8>,
    },
    /// An AES mode (`Some`) or the ELL encryption (`None`) was given a DES key.
    NotAesKey {
        /// The security mode, `None` for the ELL encryption.
        mode: Option<u8>,
    },
    // --- lengths --------------------------------------------------------------------------
    /// The wired long frame exceeds its L field.
    WiredFrameTooLong {
        /// Bytes after the A field (CI and data).
        len: usize,
    },
    /// The wireless frame exceeds its L field.
    WirelessFrameTooLong {
        /// Frame length without CRCs (L C M A ...).
        len: usize,
        /// The frame format.
        format: FrameFormat,
    },
    /// More encrypted 16-byte blocks than the configuration field's N counts (15).
    TooManyBlocks {
        /// The security mode.
        mode: u8,
        /// The number of blocks.
        blocks: u8,
    },
    /// Modes 8–10 with clear data: the configuration field's L counts at most 254 bytes.
    EncryptedTooLong {
        /// The security mode.
        mode: u8,
        /// The number of bytes to encrypt.
        len: usize,
    },
    /// An integer that does not fit its data field.
    IntegerOverflow {
        /// The value.
        value: i64,
        /// The data field size in bytes.
        size: u8,
    },
    /// A number that does not fit its BCD digits.
    BcdOverflow {
        /// The value.
        value: i64,
        /// The digit count.
        digits: u8,
    },
    /// A text longer than an LVAR text holds (191 characters).
    TextTooLong {
        /// The number of characters.
        len: usize,
    },
    /// Storage, tariff and subunit need more than 10 DIFEs.
    TooManyDifes {
        /// The storage number.
        storage: u64,
        /// The tariff.
        tariff: u32,
        /// The subunit.
        subunit: u16,
    },
}

/// The coarse class of an [`EncodeError`] (the three variants of the former error type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeErrorKind {
    /// A parameter value is out of range or the combination is not possible.
    Invalid,
    /// The mode needs a key and none (or one of the wrong kind) was given.
    Key,
    /// The telegram does not fit the frame, the configuration field or the record coding.
    TooLong,
}

impl EncodeError {
    /// Every code of [`EncodeError::code`] (`docs/errors.md` lists them).
    pub const ALL_CODES: &'static [&'static str] = &[
        "encode_ell_on_wired_link",
        "encode_ell_needs_session",
        "encode_ci_header_mismatch",
        "encode_reserved_ci",
        "encode_mode_needs_header",
        "encode_field_too_wide",
        "encode_afl_not_used",
        "encode_afl_required",
        "encode_missing_counter",
        "encode_unsupported_mode",
        "encode_tag_length",
        "encode_afl_auth_type",
        "encode_gmac_needs_afl_counter",
        "encode_seal",
        "encode_afl_sign",
        "encode_missing_vif",
        "encode_vif_extension_bits",
        "encode_plain_text_vib",
        "encode_too_many_vifes",
        "encode_integer_size",
        "encode_bcd_digits",
        "encode_not_latin1",
        "encode_missing_key",
        "encode_not_aes_key",
        "encode_wired_frame_too_long",
        "encode_wireless_frame_too_long",
        "encode_too_many_blocks",
        "encode_encrypted_too_long",
        "encode_integer_overflow",
        "encode_bcd_overflow",
        "encode_text_too_long",
        "encode_too_many_difes",
    ];

    /// The coarse class: invalid parameter, key, or too long.
    pub fn kind(&self) -> EncodeErrorKind {
        use EncodeError::*;
        match self {
            MissingKey { .. } | NotAesKey { .. } => EncodeErrorKind::Key,
            WiredFrameTooLong { .. }
            | WirelessFrameTooLong { .. }
            | TooManyBlocks { .. }
            | EncryptedTooLong { .. }
            | IntegerOverflow { .. }
            | BcdOverflow { .. }
            | TextTooLong { .. }
            | TooManyDifes { .. } => EncodeErrorKind::TooLong,
            _ => EncodeErrorKind::Invalid,
        }
    }

    /// A stable snake_case code for the variant (for logs, metrics and Python).
    pub fn code(&self) -> &'static str {
        use EncodeError::*;
        match self {
            EllOnWiredLink => "encode_ell_on_wired_link",
            EllEncryptionWithoutSession => "encode_ell_needs_session",
            CiHeaderMismatch { .. } => "encode_ci_header_mismatch",
            ReservedCi { .. } => "encode_reserved_ci",
            ModeNeedsHeader { .. } => "encode_mode_needs_header",
            FieldTooWide { .. } => "encode_field_too_wide",
            AflNotUsed { .. } => "encode_afl_not_used",
            AflRequired { .. } => "encode_afl_required",
            MissingCounter { .. } => "encode_missing_counter",
            UnsupportedMode { .. } => "encode_unsupported_mode",
            TagLength { .. } => "encode_tag_length",
            AflAuthType { .. } => "encode_afl_auth_type",
            GmacNeedsCounterInAfl => "encode_gmac_needs_afl_counter",
            Seal(_) => "encode_seal",
            AflSign(_) => "encode_afl_sign",
            MissingVif => "encode_missing_vif",
            VifExtensionBits => "encode_vif_extension_bits",
            PlainTextVib => "encode_plain_text_vib",
            TooManyVifes => "encode_too_many_vifes",
            IntegerSize { .. } => "encode_integer_size",
            BcdDigits { .. } => "encode_bcd_digits",
            NotLatin1 { .. } => "encode_not_latin1",
            MissingKey { .. } => "encode_missing_key",
            NotAesKey { .. } => "encode_not_aes_key",
            WiredFrameTooLong { .. } => "encode_wired_frame_too_long",
            WirelessFrameTooLong { .. } => "encode_wireless_frame_too_long",
            TooManyBlocks { .. } => "encode_too_many_blocks",
            EncryptedTooLong { .. } => "encode_encrypted_too_long",
            IntegerOverflow { .. } => "encode_integer_overflow",
            BcdOverflow { .. } => "encode_bcd_overflow",
            TextTooLong { .. } => "encode_text_too_long",
            TooManyDifes { .. } => "encode_too_many_difes",
        }
    }
}

/// Who needs a key, as the messages name it.
struct KeyUser(Option<u8>);

impl fmt::Display for KeyUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("ELL encryption"),
            Some(15) => f.write_str("DSMR mode 15"),
            Some(m) => write!(f, "security mode {m}"),
        }
    }
}

/// What a block count belongs to, as the messages name it.
struct BlockUser(u8);

impl fmt::Display for BlockUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            2 | 3 => f.write_str("DES security mode"),
            m => KeyUser(Some(m)).fmt(f),
        }
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EncodeError::*;
        match self {
            EllOnWiredLink => f.write_str("the extended link layer (ELL) exists only on wireless links"),
            EllEncryptionWithoutSession => f.write_str("ELL encryption needs a session number (CI 8D/8F)"),
            CiHeaderMismatch { ci, announced, given } => write!(
                f,
                "CI 0x{ci:02X} announces a {announced:?} TPL header, but the header is {given:?}"
            ),
            ReservedCi { ci } => write!(f, "CI 0x{ci:02X} is reserved"),
            ModeNeedsHeader { mode } => write!(f, "security mode {mode} needs a short or long TPL header"),
            FieldTooWide { field, bits } => write!(f, "{field} is a {bits}-bit field"),
            AflNotUsed { mode } => write!(f, "security mode {mode} does not use an AFL"),
            AflRequired { mode } => write!(f, "security mode {mode} needs an AFL MAC"),
            MissingCounter { mode: 15 } => f.write_str("DSMR mode 15 needs the frame counter (message_counter)"),
            MissingCounter { mode } => write!(f, "security mode {mode} needs a message counter"),
            UnsupportedMode { mode } => write!(f, "security mode {mode} is not supported by the encoder"),
            TagLength { mode, tag_len } => write!(f, "security mode {mode} does not allow a {tag_len}-byte tag"),
            AflAuthType { at } => write!(f, "AFL authentication type {at} is not a MAC (3..7 CMAC, 8/9 GMAC)"),
            GmacNeedsCounterInAfl => f.write_str("an AFL GMAC needs the message counter in the AFL"),
            Seal(e) => e.fmt(f),
            AflSign(e) => e.fmt(f),
            MissingVif => f.write_str("a data record needs at least one VIF byte"),
            VifExtensionBits => f.write_str("VIF bytes: every byte but the last needs the extension bit 0x80"),
            PlainTextVib => f.write_str("a plain-text VIB (7C/FC) needs its length byte, that many text bytes and, after FC, VIFEs"),
            TooManyVifes => f.write_str("more than 10 VIFEs"),
            IntegerSize { size } => write!(f, "integer size {size} bytes: 1, 2, 3, 4, 6 or 8"),
            BcdDigits { digits } => write!(f, "BCD with {digits} digits: 2, 4, 6, 8 or 12"),
            NotLatin1 { ch } => write!(f, "text character {ch:?} is not Latin-1"),
            MissingKey { mode: Some(m @ (2 | 3)) } => write!(f, "security mode {m} needs a DES key"),
            MissingKey { mode } => write!(f, "{} needs a key", KeyUser(*mode)),
            NotAesKey { mode } => write!(f, "{} needs a 16-byte AES key, not a DES key", KeyUser(*mode)),
            WiredFrameTooLong { len } => {
                write!(f, "wired long frame holds at most 252 bytes after the A field, got {len}")
            }
            WirelessFrameTooLong { len, format } => {
                write!(f, "wireless frame of {len} bytes does not fit the L field (format {format:?})")
            }
            TooManyBlocks { mode, blocks } => write!(
                f,
                "{}: {blocks} encrypted 16-byte blocks, the configuration field holds at most 15",
                BlockUser(*mode)
            ),
            EncryptedTooLong { mode, len } => {
                write!(f, "security mode {mode} with clear data encrypts at most 254 bytes, got {len}")
            }
            IntegerOverflow { value, size } => write!(f, "{value} does not fit a {size}-byte signed integer"),
            BcdOverflow { value, digits } => write!(f, "{value} does not fit {digits} BCD digits"),
            TextTooLong { len } => write!(f, "text of {len} characters (at most 191)"),
            TooManyDifes { storage, tariff, subunit } => {
                write!(f, "storage {storage}, tariff {tariff}, subunit {subunit} need more than 10 DIFEs")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
