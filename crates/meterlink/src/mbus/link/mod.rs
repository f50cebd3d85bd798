//! Link layers: EN 13757-2 wired M-Bus (FT1.2) and EN 13757-4 wireless M-Bus.

pub mod splitter;
pub mod wired;
pub mod wmbus;

use std::fmt;

/// Why a frame was rejected by a link layer. `offset` is the byte offset in the frame as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// Byte offset in the frame where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub reason: FrameErrorReason,
}

/// What is wrong with a frame rejected by a link layer (see [`FrameError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameErrorReason {
    /// The frame holds no bytes at all.
    Empty,
    /// The first byte is no FT1.2 start character (0xE5, 0x10, 0x68).
    BadStart(u8),
    /// The two L bytes of a long frame differ.
    LengthMismatch {
        /// First L byte (frame offset 1).
        l1: u8,
        /// Second L byte (frame offset 2).
        l2: u8,
    },
    /// The second 0x68 of a long frame header is missing.
    BadSecondStart(u8),
    /// L too small for C, A, CI.
    LengthTooSmall(u8),
    /// The frame is shorter than its length field says.
    Truncated {
        /// Frame length in bytes that the start and length bytes call for.
        expected: usize,
        /// Bytes actually present.
        got: usize,
    },
    /// Bytes follow the stop byte.
    TrailingBytes {
        /// Length of the frame in bytes, stop byte included.
        expected: usize,
        /// Bytes given, trailing ones included.
        got: usize,
    },
    /// The checksum byte does not equal the sum (mod 256) of the bytes from C to the last data
    /// byte.
    BadChecksum {
        /// The checksum byte the frame carries.
        expected: u8,
        /// The checksum computed over the frame.
        computed: u8,
    },
    /// The last byte is not the stop character 0x16 (the byte found).
    BadStop(u8),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FrameErrorReason::*;
        match &self.reason {
            Empty => write!(f, "empty frame"),
            BadStart(b) => write!(f, "no frame start character at offset {} (0x{b:02X})", self.offset),
            LengthMismatch { l1, l2 } => write!(
                f,
                "long frame length bytes differ at offset {}: L1=0x{l1:02X}, L2=0x{l2:02X}",
                self.offset
            ),
            BadSecondStart(b) => write!(
                f,
                "long frame second start byte at offset {} is 0x{b:02X}, expected 0x68",
                self.offset
            ),
            LengthTooSmall(l) => {
                write!(f, "long frame L-field 0x{l:02X} at offset {} is below 3", self.offset)
            }
            Truncated { expected, got } => write!(
                f,
                "frame truncated: length field at offset {} needs {expected} bytes, got {got}",
                self.offset
            ),
            TrailingBytes { expected, got } => write!(
                f,
                "{} bytes after the stop byte at offset {} (frame is {expected} bytes, got {got})",
                got - expected,
                self.offset
            ),
            BadChecksum { expected, computed } => write!(
                f,
                "checksum mismatch at offset {}: frame says 0x{expected:02X}, computed 0x{computed:02X}",
                self.offset
            ),
            BadStop(b) => write!(f, "stop byte at offset {} is 0x{b:02X}, expected 0x16", self.offset),
        }
    }
}

impl std::error::Error for FrameError {}

#[cfg(test)]
mod vector_tests;
