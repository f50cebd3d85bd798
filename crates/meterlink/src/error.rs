//! The one error type of meterlink: where in the input (`offset`) and what went wrong (`kind`).
//!
//! Every layer keeps its own typed error ([`FrameErrorReason`], [`WmbusError`], [`EllError`],
//! [`AflError`], [`TplErrorReason`], [`RecordError`], [`SecurityError`], ...); [`ErrorKind`]
//! holds one of them unchanged, so nothing is flattened into text. Layer errors carry offsets
//! relative to the buffer their layer was given; [`Error::in_layer`] is the one place that
//! rebases them onto the input (the frame as given, or the reassembled TPDU).
//!
//! Each kind has a stable snake_case [`ErrorKind::code`] (listed with their meanings in
//! `docs/errors.md`) and an [`ErrorClass`] that says which Python exception it becomes.

use std::fmt;

use crate::dlms::DlmsError;
use crate::dsmr::DsmrError;
use crate::hex::{HexError, HexErrorReason};
use crate::keys::KeyError;
use crate::mbus::afl::AflError;
use crate::mbus::ell::EllError;
use crate::mbus::link::wmbus::WmbusError;
use crate::mbus::link::{FrameError, FrameErrorReason};
use crate::mbus::records::RecordError;
use crate::mbus::security::SecurityError;
use crate::mbus::tpl::{Address, TplError, TplErrorReason};

pub use crate::error_class::ErrorClass;

/// What went wrong: one layer's own typed error, or one of the pipeline's own failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// EN 13757-2 FT1.2 link layer.
    Frame(FrameErrorReason),
    /// EN 13757-4 wireless link layer (its offsets are frame offsets already).
    Wireless(WmbusError),
    /// EN 13757-7 extended link layer (offsets rebased onto the input).
    Ell(EllError),
    /// EN 13757-7 authentication and fragmentation layer (offsets rebased onto the input).
    Afl(AflError),
    /// A fragment of a fragmented AFL message was given to single-frame decoding.
    AflFragment {
        /// The fragment ID (FCL bits 7..0).
        fid: u8,
    },
    /// A frame given to the AFL reassembler carries no AFL.
    NoAfl,
    /// A TPL header or the fixed data structure is cut short or unsupported.
    Tpl(TplErrorReason),
    /// A CI value EN 13757-7 Table 2 marks as reserved.
    ReservedCi {
        /// The CI byte.
        ci: u8,
    },
    /// EN 13757-3 data records (offsets rebased onto the input).
    Record(RecordError),
    /// EN 13757-7 security services, DSMR mode 15 (offsets rebased onto the input).
    Security(SecurityError),
    /// The telegram is encrypted and no key is known for its meter (raised with `strict`).
    NoKey {
        /// The meter whose key is missing, where known.
        meter: Option<Address>,
    },
    /// The meter has a configured key, and its payload was not protected and verified by it.
    Unprotected {
        /// The meter.
        meter: Address,
        /// How the payload came.
        reason: Unprotected,
    },
    /// A verified telegram whose replay counter is not greater than the last one accepted for
    /// its meter and key ID ([`crate::replay::CounterStore`]).
    ReplayedCounter {
        /// The meter's manufacturer code.
        manufacturer: u16,
        /// The meter's identification number (wire order).
        id: [u8; 4],
        /// The key ID (configuration-field extension; 0 without one).
        key_id: u8,
        /// The telegram's counter.
        counter: u32,
        /// The last counter accepted for the meter and key ID.
        last: u32,
    },
    /// Hex text given as a frame is not hex.
    Hex(HexErrorReason),
    /// A key or meter identity given as an argument is malformed.
    Key(KeyError),
    /// DLMS/COSEM (its offsets are input offsets: [`crate::dlms::decode`] rebases them).
    Dlms(DlmsError),
    /// DSMR P2 control layer, commands and engines (its offsets are input offsets).
    Dsmr(DsmrError),
}

/// How a payload came that its meter's key did not protect ([`ErrorKind::Unprotected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unprotected {
    /// Clear data (2F 2F) under a header that announces encryption: decrypted by a receiver,
    /// or forged.
    ClearUnderEncryptedHeader,
    /// Security mode 0 (no encryption).
    ModeZero,
    /// No TPL header, so no security at all.
    NoHeader,
    /// A manufacturer-specific security mode whose data parse as clear records.
    ManufacturerMode,
}

impl Unprotected {
    const fn text(self) -> &'static str {
        match self {
            Unprotected::ClearUnderEncryptedHeader => "clear data under a header that announces encryption",
            Unprotected::ModeZero => "security mode 0",
            Unprotected::NoHeader => "no TPL header",
            Unprotected::ManufacturerMode => "clear records in a manufacturer-specific security mode",
        }
    }
}

/// A meterlink error: `kind` at byte `offset` of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the input where the problem was found (in the frame as given; for wireless
    /// frames with DLL CRCs, in the frame with the CRCs removed; for a reassembled AFL message,
    /// in its TPDU).
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl Error {
    /// An error at an input offset, for kinds that carry no offsets of their own.
    pub const fn new(offset: usize, kind: ErrorKind) -> Self {
        Error { offset, kind }
    }

    /// A layer's error, raised by a layer that was given the input from offset `base` on: the
    /// one place where layer-relative offsets become input offsets.
    pub fn in_layer(kind: ErrorKind, base: usize) -> Self {
        let kind = match kind {
            ErrorKind::Ell(e) => ErrorKind::Ell(rebase_ell(e, base)),
            ErrorKind::Afl(e) => ErrorKind::Afl(rebase_afl(e, base)),
            ErrorKind::Record(e) => ErrorKind::Record(e.shifted(base)),
            ErrorKind::Security(e) => ErrorKind::Security(e.shifted(base)),
            other => other,
        };
        let offset = match &kind {
            ErrorKind::Ell(e) => ell_offset(e),
            ErrorKind::Afl(e) => afl_offset(e),
            ErrorKind::Record(e) => Some(e.offset()),
            ErrorKind::Security(e) => e.offset(),
            _ => None,
        };
        Error { offset: offset.unwrap_or(base), kind }
    }

    /// The Python exception (and batch status) this error maps to.
    pub fn class(&self) -> ErrorClass {
        self.kind.class()
    }

    /// The stable snake_case code of the error (see `docs/errors.md`).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The offset, for errors that have a position in the input; None for malformed arguments
    /// and AFL fragment-sequence errors, which belong to no single byte (Python's `.offset`).
    pub fn position(&self) -> Option<usize> {
        self.kind.has_position().then_some(self.offset)
    }
}

impl ErrorKind {
    /// The Python exception (and batch status) this kind maps to.
    pub fn class(&self) -> ErrorClass {
        match self {
            ErrorKind::Frame(_) | ErrorKind::Wireless(_) | ErrorKind::Hex(_) => ErrorClass::Frame,
            ErrorKind::Ell(EllError::PayloadCrc { .. })
            | ErrorKind::Security(_)
            | ErrorKind::NoKey { .. }
            | ErrorKind::Unprotected { .. }
            | ErrorKind::ReplayedCounter { .. } => ErrorClass::Security,
            ErrorKind::Ell(_)
            | ErrorKind::Afl(_)
            | ErrorKind::AflFragment { .. }
            | ErrorKind::NoAfl
            | ErrorKind::Tpl(_)
            | ErrorKind::ReservedCi { .. }
            | ErrorKind::Record(_)
            | ErrorKind::Key(_) => ErrorClass::Decode,
            ErrorKind::Dlms(e) => e.class(),
            ErrorKind::Dsmr(e) => e.class(),
        }
    }

    /// The stable snake_case code: one per failure, never reused for another meaning.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Frame(r) => frame_code(r),
            ErrorKind::Wireless(e) => match e {
                WmbusError::Truncated { .. } => "wmbus_truncated",
                WmbusError::BadLength { .. } => "wmbus_length",
                WmbusError::BlockCrc { .. } => "wmbus_crc",
            },
            ErrorKind::Ell(e) => ell_code(e),
            ErrorKind::Afl(e) => afl_code(e),
            ErrorKind::AflFragment { .. } => "afl_fragment",
            ErrorKind::NoAfl => "afl_missing",
            ErrorKind::Tpl(TplErrorReason::Truncated { .. }) => "tpl_truncated",
            ErrorKind::Tpl(TplErrorReason::Unsupported { .. }) => "tpl_unsupported",
            ErrorKind::ReservedCi { .. } => "unsupported_ci",
            ErrorKind::Record(e) => match e {
                RecordError::Truncated { .. } => "record_truncated",
                RecordError::TooManyDifes { .. } => "record_too_many_difes",
                RecordError::TooManyVifes { .. } => "record_too_many_vifes",
                RecordError::Invalid { .. } => "record_invalid",
            },
            ErrorKind::Security(e) => security_code(e),
            ErrorKind::NoKey { .. } => "no_key",
            ErrorKind::Unprotected { .. } => "unprotected",
            ErrorKind::ReplayedCounter { .. } => "replayed_counter",
            ErrorKind::Hex(HexErrorReason::InvalidCharacter(_)) => "hex_character",
            ErrorKind::Hex(HexErrorReason::OddDigits) => "hex_odd_digits",
            ErrorKind::Key(e) => match e {
                KeyError::BadKeyLength(_) => "key_length",
                KeyError::BadKeyHex => "key_hex",
                KeyError::BadMeterId(_) => "key_meter_id",
                KeyError::BadManufacturer(_) => "key_manufacturer",
                KeyError::Duplicate { .. } => "key_duplicate",
                KeyError::Columns { .. } => "key_file_columns",
                KeyError::Header => "key_file_header",
            },
            ErrorKind::Dlms(e) => e.code(),
            ErrorKind::Dsmr(e) => e.code(),
        }
    }

    /// Whether the error belongs to a position in the input.
    fn has_position(&self) -> bool {
        match self {
            // A replay is the telegram as a whole, no byte of it is wrong.
            ErrorKind::Key(_) | ErrorKind::ReplayedCounter { .. } => false,
            ErrorKind::Dsmr(e) => e.offset().is_some(),
            ErrorKind::Afl(e) => !matches!(
                e,
                AflError::MissingFragments { .. }
                    | AflError::TooLong { .. }
                    | AflError::MessageLengthMismatch { .. }
                    | AflError::DuplicateMac { .. }
            ),
            _ => true,
        }
    }

    /// Whether the kind's own message names its offset (else [`Error`]'s `Display` adds it).
    fn names_offset(&self) -> bool {
        match self {
            ErrorKind::Frame(_) | ErrorKind::Tpl(_) | ErrorKind::Record(_) | ErrorKind::Hex(_) => true,
            // The wireless layer's messages stand alone (those without an offset never had one added).
            ErrorKind::Wireless(_) => true,
            ErrorKind::Ell(e) => ell_offset(e).is_some(),
            ErrorKind::Afl(e) => afl_offset(e).is_some(),
            ErrorKind::Security(e) => e.offset().is_some(),
            ErrorKind::Key(_) | ErrorKind::ReplayedCounter { .. } => true,
            ErrorKind::Dlms(_) | ErrorKind::Dsmr(_) => false,
            // Its message has always stood alone.
            ErrorKind::NoAfl => true,
            ErrorKind::AflFragment { .. }
            | ErrorKind::ReservedCi { .. }
            | ErrorKind::NoKey { .. }
            | ErrorKind::Unprotected { .. } => false,
        }
    }
}

fn frame_code(r: &FrameErrorReason) -> &'static str {
    match r {
        FrameErrorReason::Empty => "frame_empty",
        FrameErrorReason::BadStart(_) => "frame_start",
        FrameErrorReason::LengthMismatch { .. } => "frame_length_mismatch",
        FrameErrorReason::BadSecondStart(_) => "frame_second_start",
        FrameErrorReason::LengthTooSmall(_) => "frame_length",
        FrameErrorReason::Truncated { .. } => "frame_truncated",
        FrameErrorReason::TrailingBytes { .. } => "frame_trailing_bytes",
        FrameErrorReason::BadChecksum { .. } => "frame_checksum",
        FrameErrorReason::BadStop(_) => "frame_stop",
    }
}

fn ell_code(e: &EllError) -> &'static str {
    match e {
        EllError::NotEll { .. } => "ell_ci",
        EllError::Truncated { .. } => "ell_truncated",
        EllError::UnsupportedEllV => "ell_variable_unsupported",
        EllError::UnsupportedEncryption { .. } => "ell_encryption_reserved",
        EllError::PayloadCrc { .. } => "ell_payload_crc",
    }
}

fn afl_code(e: &AflError) -> &'static str {
    match e {
        AflError::NotAfl { .. } => "afl_ci",
        AflError::Truncated { .. } => "afl_truncated",
        AflError::LengthMismatch { .. } => "afl_length",
        AflError::MacLengthUnknown { .. } => "afl_mac_length",
        AflError::ReservedAuthType { .. } => "afl_auth_type",
        AflError::NoMac => "afl_no_mac",
        AflError::NoCounter => "afl_no_counter",
        AflError::MacMismatch { .. } => "afl_mac",
        AflError::MissingFragments { .. } => "afl_missing_fragments",
        AflError::TooLong { .. } => "afl_too_long",
        AflError::MessageLengthMismatch { .. } => "afl_message_length",
        AflError::DuplicateMac { .. } => "afl_duplicate_mac",
    }
}

fn security_code(e: &SecurityError) -> &'static str {
    match e {
        SecurityError::Truncated { .. } => "security_truncated",
        SecurityError::UnsupportedMode { .. } => "security_mode_unsupported",
        SecurityError::InvalidConfig { .. } => "security_config",
        SecurityError::BadEncryptedLength { .. } => "security_encrypted_length",
        SecurityError::UnsupportedKdf { .. } => "security_kdf_unsupported",
        SecurityError::MissingCounter => "security_no_counter",
        SecurityError::MissingMac { .. } => "security_no_mac",
        SecurityError::MissingVerificationBytes { .. } => "tpl_verification",
        SecurityError::MissingFiller { .. } => "dsmr_filler",
        SecurityError::MissingFrameCounter { .. } => "dsmr_frame_counter",
        SecurityError::AflMacMismatch => "afl_mac",
        SecurityError::TagMismatch { .. } => "aead_tag",
        SecurityError::BadTagLength { .. } => "security_tag_length",
    }
}

fn ell_offset(e: &EllError) -> Option<usize> {
    match *e {
        EllError::Truncated { offset, .. } | EllError::PayloadCrc { offset, .. } => Some(offset),
        EllError::NotEll { .. } | EllError::UnsupportedEllV | EllError::UnsupportedEncryption { .. } => None,
    }
}

fn rebase_ell(e: EllError, base: usize) -> EllError {
    match e {
        EllError::Truncated { offset, needed, available } => EllError::Truncated { offset: offset + base, needed, available },
        EllError::PayloadCrc { offset, expected, computed } => {
            EllError::PayloadCrc { offset: offset + base, expected, computed }
        }
        other => other,
    }
}

fn afl_offset(e: &AflError) -> Option<usize> {
    use AflError::*;
    match *e {
        Truncated { offset, .. }
        | LengthMismatch { offset, .. }
        | MacLengthUnknown { offset }
        | ReservedAuthType { offset, .. }
        | MacMismatch { offset } => Some(offset),
        NotAfl { .. } | NoMac | NoCounter | MissingFragments { .. } | TooLong { .. } | MessageLengthMismatch { .. } => None,
        DuplicateMac { .. } => None,
    }
}

fn rebase_afl(e: AflError, base: usize) -> AflError {
    use AflError::*;
    match e {
        Truncated { offset, needed, available } => Truncated { offset: offset + base, needed, available },
        LengthMismatch { offset, afll, fields } => LengthMismatch { offset: offset + base, afll, fields },
        MacLengthUnknown { offset } => MacLengthUnknown { offset: offset + base },
        ReservedAuthType { offset, at } => ReservedAuthType { offset: offset + base, at },
        MacMismatch { offset } => MacMismatch { offset: offset + base },
        other => other,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match &self.kind {
            ErrorKind::Frame(reason) => FrameError { offset: at, reason: *reason }.fmt(f)?,
            ErrorKind::Wireless(e) => e.fmt(f)?,
            ErrorKind::Ell(e) => e.fmt(f)?,
            ErrorKind::Afl(e) => e.fmt(f)?,
            ErrorKind::AflFragment { fid } => {
                write!(f, "AFL fragment {fid} of a fragmented message: reassemble the fragments first")?
            }
            ErrorKind::NoAfl => f.write_str("frame carries no AFL (CI 90h)")?,
            ErrorKind::Tpl(reason) => TplError { offset: at, reason: *reason }.fmt(f)?,
            ErrorKind::ReservedCi { ci } => write!(f, "reserved CI field 0x{ci:02X}")?,
            ErrorKind::Record(e) => e.fmt(f)?,
            ErrorKind::Security(e) => e.fmt(f)?,
            ErrorKind::NoKey { meter } => match meter {
                Some(a) => write!(
                    f,
                    "telegram is encrypted and no key is known for {} {}",
                    a.manufacturer_string(),
                    a.id_string()
                )?,
                None => f.write_str("telegram is encrypted and no key is known for this meter")?,
            },
            ErrorKind::Unprotected { meter, reason } => write!(
                f,
                "{} {} has a key, but this payload is not protected by it ({}); pass accept_unprotected to accept it",
                meter.manufacturer_string(),
                meter.id_string(),
                reason.text()
            )?,
            ErrorKind::ReplayedCounter { manufacturer, id, key_id, counter, last } => write!(
                f,
                "replayed counter: {} {} (key ID {key_id}) sent counter {counter}, not greater than the last accepted counter {last}",
                String::from_utf8_lossy(&crate::mbus::tpl::manufacturer_to_str(*manufacturer)),
                crate::mbus::tpl::id_to_string(*id),
            )?,
            ErrorKind::Hex(reason) => HexError { offset: at, reason: *reason }.fmt(f)?,
            ErrorKind::Key(e) => e.fmt(f)?,
            ErrorKind::Dlms(e) => e.fmt(f)?,
            ErrorKind::Dsmr(e) => e.fmt(f)?,
        }
        if self.kind.has_position() && !self.kind.names_offset() {
            write!(f, " (at offset {at})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<DsmrError> for Error {
    fn from(e: DsmrError) -> Self {
        Error { offset: e.offset().unwrap_or(0), kind: ErrorKind::Dsmr(e) }
    }
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error { offset: e.offset, kind: ErrorKind::Frame(e.reason) }
    }
}

impl From<WmbusError> for Error {
    fn from(e: WmbusError) -> Self {
        Error { offset: e.offset(), kind: ErrorKind::Wireless(e) }
    }
}

impl From<HexError> for Error {
    fn from(e: HexError) -> Self {
        Error { offset: e.offset, kind: ErrorKind::Hex(e.reason) }
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error { offset: 0, kind: ErrorKind::Key(e) }
    }
}

/// Every code of [`ErrorKind::code`], for documentation and tests (`docs/errors.md` lists these).
pub const ALL_CODES: &[&str] = &[
    "frame_empty",
    "frame_start",
    "frame_length_mismatch",
    "frame_second_start",
    "frame_length",
    "frame_truncated",
    "frame_trailing_bytes",
    "frame_checksum",
    "frame_stop",
    "wmbus_truncated",
    "wmbus_length",
    "wmbus_crc",
    "ell_ci",
    "ell_truncated",
    "ell_variable_unsupported",
    "ell_encryption_reserved",
    "ell_payload_crc",
    "afl_ci",
    "afl_truncated",
    "afl_length",
    "afl_mac_length",
    "afl_auth_type",
    "afl_no_mac",
    "afl_no_counter",
    "afl_mac",
    "afl_missing_fragments",
    "afl_too_long",
    "afl_message_length",
    "afl_duplicate_mac",
    "afl_fragment",
    "afl_missing",
    "tpl_truncated",
    "tpl_unsupported",
    "unsupported_ci",
    "record_truncated",
    "record_too_many_difes",
    "record_too_many_vifes",
    "record_invalid",
    "security_truncated",
    "security_mode_unsupported",
    "security_config",
    "security_encrypted_length",
    "security_kdf_unsupported",
    "security_no_counter",
    "security_no_mac",
    "tpl_verification",
    "dsmr_filler",
    "dsmr_frame_counter",
    "aead_tag",
    "security_tag_length",
    "no_key",
    "unprotected",
    "replayed_counter",
    "hex_character",
    "hex_odd_digits",
    "key_length",
    "key_hex",
    "key_meter_id",
    "key_manufacturer",
    // Robustness (issue 12): key files; archive lines (meterlink-arrow's line reader) and
    // archives (the Python readers), listed here so that the documentation test covers them.
    "key_duplicate",
    "key_file_columns",
    "key_file_header",
    "line_too_long",
    "archive_unreadable",
    "archive_no_frame_column",
];
