//! The error classes (a leaf, so that every family's stage errors can name theirs without
//! depending on the crate-wide [`crate::error::Error`]).

/// Which Python exception an error becomes (`FrameError`, `DecodeError`, `SecurityError`, all
/// subclasses of `MeterlinkError`), and which batch status a failed row gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Link layer and input: framing, length, checksum, CRC, hex text.
    Frame,
    /// Transport/application layer: headers, records, unsupported content, bad arguments.
    Decode,
    /// Security: missing key (strict), wrong key, bad MAC, failed verification.
    Security,
}

impl ErrorClass {
    /// The Python exception class name.
    pub const fn exception_name(self) -> &'static str {
        match self {
            ErrorClass::Frame => "FrameError",
            ErrorClass::Decode => "DecodeError",
            ErrorClass::Security => "SecurityError",
        }
    }
}
