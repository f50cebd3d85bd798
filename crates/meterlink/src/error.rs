//! The crate-level error: one variant per layer, each carrying that layer's own error type.
//! The Python layer maps [`ErrorKind`] onto `FrameError` / `DecodeError` / `SecurityError`.

use std::fmt;

use crate::mbus::link::FrameError;
use crate::mbus::records::RecordError;
use crate::mbus::tpl::TplError;

/// Which Python exception an error becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Link layer: framing, length, checksum, CRC.
    Frame,
    /// Transport/application layer: headers, records, unsupported content.
    Decode,
    /// Security: missing key (strict), wrong key, bad MAC, failed verification.
    Security,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    Frame(FrameError),
    /// A TPL error, offset relative to the frame as given.
    Tpl(TplError),
    /// A record error, offsets relative to the frame as given.
    Records(RecordError),
    /// Content this version cannot decode (offset in the frame).
    Unsupported { offset: usize, what: String },
    /// A security failure (offset in the frame where the protected part starts).
    Security { offset: usize, what: String },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Frame(_) => ErrorKind::Frame,
            Error::Tpl(_) | Error::Records(_) | Error::Unsupported { .. } => ErrorKind::Decode,
            Error::Security { .. } => ErrorKind::Security,
        }
    }

    /// Byte offset in the frame where the problem was found.
    pub fn offset(&self) -> usize {
        match self {
            Error::Frame(e) => e.offset,
            Error::Tpl(e) => e.offset,
            Error::Records(e) => e.offset(),
            Error::Unsupported { offset, .. } | Error::Security { offset, .. } => *offset,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Frame(e) => e.fmt(f),
            Error::Tpl(e) => e.fmt(f),
            Error::Records(e) => e.fmt(f),
            Error::Unsupported { offset, what } | Error::Security { offset, what } => {
                // Layer messages usually name their offset already; add it only where they don't.
                if what.contains("offset") {
                    f.write_str(what)
                } else {
                    write!(f, "{what} (at offset {offset})")
                }
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Frame(e)
    }
}
