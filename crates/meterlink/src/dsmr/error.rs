//! The DSMR P2 family's error: one typed error with stable snake_case codes, an error class
//! (which Python exception) and, where a byte is to blame, its offset in the input.

use std::fmt;

use super::mode15::Mode15Error;
use crate::error_class::ErrorClass;

/// Which side sends a message (DSMR P2 §4.1 Tables 5 and 6, "Initiator" / "Direction data").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// E-meter (M-Bus master / "other device") to M-Bus device.
    ToDevice,
    /// M-Bus device to E-meter.
    FromDevice,
}

/// A DSMR P2 failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DsmrError {
    /// The link frame does not parse (FT1.2 for wired, FT3 format A for wireless).
    Frame {
        /// What is wrong.
        reason: String,
        /// Where.
        offset: usize,
    },
    /// A C/CI combination (or frame type) that DSMR P2 §4.1 Tables 5/6 do not allow for this
    /// medium and direction: rejected before any further processing.
    Control {
        /// Direction the message came in.
        direction: Direction,
        /// The C field.
        c: u8,
        /// The CI field (None for frames without one).
        ci: Option<u8>,
        /// Offset of the C field.
        offset: usize,
    },
    /// The data header required by the CI (§4.2.1) is cut short.
    Header {
        /// Where the header was expected to end.
        offset: usize,
    },
    /// The configuration word breaks §4.2.6 / §5.1 (bits set that must be 0, missing B bit,
    /// an encryption method other than 0 or 15, blocks announced without encryption...).
    ConfigWord {
        /// The configuration word (on-air LE bytes read as u16).
        cw: u16,
        /// Which rule.
        rule: &'static str,
        /// Offset of the configuration word.
        offset: usize,
    },
    /// Mode-15 decryption failed (§5.1/§5.2: wrong key, missing fillers, no frame counter).
    Decrypt {
        /// The mode-15 failure (offsets relative to the encrypted data).
        error: Mode15Error,
        /// Offset of the encrypted data in the input.
        offset: usize,
    },
    /// An encrypted message needs a key the receiver does not have.
    NoKey,
    /// §5.2: the frame counter does not increase (replay).
    Replay {
        /// The received frame counter.
        counter: u32,
        /// The last validated frame counter.
        last: u32,
    },
    /// A set-new-key command (§6.5.1, sent in clear without a frame counter) carrying a user
    /// key the device used before: a replayed key change, refused (docs/decisions.md).
    KeyReplay,
    /// A message that must be encrypted came in clear (§6.5: with a user key set only set-key
    /// and REQ_UD2 are accepted unencrypted; §4.3.4 clock sync; §6.2.2 set address).
    Unencrypted {
        /// What came in clear.
        what: &'static str,
    },
    /// The application data (records, commands) are malformed.
    Application {
        /// What is wrong.
        reason: String,
        /// Where, relative to the application data.
        offset: usize,
    },
    /// A command or request the engine cannot carry out in its state (no such channel, device
    /// not bound, no key known...). Raised by engine calls, never by received bytes.
    State {
        /// What is wrong.
        reason: String,
    },
}

impl DsmrError {
    /// Every code, in the order of the variants.
    pub const CODES: &'static [&'static str] = &[
        "dsmr_frame",
        "dsmr_control",
        "dsmr_header",
        "dsmr_config_word",
        "dsmr_decrypt",
        "dsmr_no_key",
        "dsmr_replay",
        "dsmr_key_replay",
        "dsmr_unencrypted",
        "dsmr_application",
        "dsmr_state",
    ];

    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            DsmrError::Frame { .. } => "dsmr_frame",
            DsmrError::Control { .. } => "dsmr_control",
            DsmrError::Header { .. } => "dsmr_header",
            DsmrError::ConfigWord { .. } => "dsmr_config_word",
            DsmrError::Decrypt { .. } => "dsmr_decrypt",
            DsmrError::NoKey => "dsmr_no_key",
            DsmrError::Replay { .. } => "dsmr_replay",
            DsmrError::KeyReplay => "dsmr_key_replay",
            DsmrError::Unencrypted { .. } => "dsmr_unencrypted",
            DsmrError::Application { .. } => "dsmr_application",
            DsmrError::State { .. } => "dsmr_state",
        }
    }

    /// Which Python exception class the error maps to.
    pub fn class(&self) -> ErrorClass {
        match self {
            DsmrError::Frame { .. } => ErrorClass::Frame,
            DsmrError::Control { .. } | DsmrError::Header { .. } | DsmrError::Application { .. } => {
                ErrorClass::Decode
            }
            DsmrError::State { .. } => ErrorClass::Decode,
            DsmrError::ConfigWord { .. }
            | DsmrError::Decrypt { .. }
            | DsmrError::NoKey
            | DsmrError::Replay { .. }
            | DsmrError::KeyReplay
            | DsmrError::Unencrypted { .. } => ErrorClass::Security,
        }
    }

    /// The offset in the input, where one byte is to blame.
    pub fn offset(&self) -> Option<usize> {
        match self {
            DsmrError::Frame { offset, .. }
            | DsmrError::Control { offset, .. }
            | DsmrError::Header { offset }
            | DsmrError::ConfigWord { offset, .. }
            | DsmrError::Application { offset, .. } => Some(*offset),
            DsmrError::Decrypt { error, offset } => Some(offset + mode15_offset(error)),
            DsmrError::NoKey
            | DsmrError::Replay { .. }
            | DsmrError::KeyReplay
            | DsmrError::Unencrypted { .. }
            | DsmrError::State { .. } => None,
        }
    }

    /// The same error with its offset moved by `by` bytes (a stage's offsets onto the input).
    pub fn rebased(mut self, by: usize) -> Self {
        match &mut self {
            DsmrError::Frame { offset, .. }
            | DsmrError::Control { offset, .. }
            | DsmrError::Header { offset }
            | DsmrError::ConfigWord { offset, .. }
            | DsmrError::Decrypt { offset, .. }
            | DsmrError::Application { offset, .. } => *offset += by,
            _ => {}
        }
        self
    }
}

fn mode15_offset(e: &Mode15Error) -> usize {
    match *e {
        Mode15Error::BadEncryptedLength { offset, .. }
        | Mode15Error::MissingFrameCounter { offset }
        | Mode15Error::MissingVerificationBytes { offset }
        | Mode15Error::MissingFiller { offset } => offset,
    }
}

impl fmt::Display for DsmrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DsmrError::Frame { reason, .. } => write!(f, "DSMR P2 link frame: {reason}"),
            DsmrError::Control { direction, c, ci, .. } => {
                let dir = match direction {
                    Direction::ToDevice => "E-meter to device",
                    Direction::FromDevice => "device to E-meter",
                };
                match ci {
                    Some(ci) => write!(f, "DSMR P2 §4.1: C={c:02X}h CI={ci:02X}h is not allowed {dir}"),
                    None => write!(f, "DSMR P2 §4.1: C={c:02X}h (no CI) is not allowed {dir}"),
                }
            }
            DsmrError::Header { .. } => write!(f, "DSMR P2 §4.2.1: data header cut short"),
            DsmrError::ConfigWord { cw, rule, .. } => write!(f, "DSMR P2 configuration word {cw:04X}h: {rule}"),
            DsmrError::Decrypt { error, .. } => write!(f, "DSMR P2 {error}"),
            DsmrError::NoKey => write!(f, "DSMR P2: encrypted message and no user key"),
            DsmrError::Replay { counter, last } => {
                write!(f, "DSMR P2 §5.2: frame counter {counter} is not above the last validated {last} (replay)")
            }
            DsmrError::KeyReplay => write!(f, "DSMR P2 §6.5.1: a key change to a user key used before (replayed key change)"),
            DsmrError::Unencrypted { what } => write!(f, "DSMR P2 §6.5: {what} must be encrypted once a user key is set"),
            DsmrError::Application { reason, .. } => write!(f, "DSMR P2 application data: {reason}"),
            DsmrError::State { reason } => write!(f, "DSMR P2 engine: {reason}"),
        }
    }
}

impl std::error::Error for DsmrError {}
