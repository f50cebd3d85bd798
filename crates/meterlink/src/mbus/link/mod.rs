//! Link layers: EN 13757-2 wired M-Bus (FT1.2) and EN 13757-4 wireless M-Bus.

pub mod splitter;
pub mod wired;
pub mod wmbus;

use std::fmt;

/// Why a frame was rejected by a link layer. `offset` is the byte offset in the frame as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub offset: usize,
    pub reason: FrameErrorReason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameErrorReason {
    Empty,
    /// The first byte is no FT1.2 start character (0xE5, 0x10, 0x68).
    BadStart(u8),
    /// The two L bytes of a long frame differ.
    LengthMismatch { l1: u8, l2: u8 },
    /// The second 0x68 of a long frame header is missing.
    BadSecondStart(u8),
    /// L too small for C, A, CI.
    LengthTooSmall(u8),
    /// The frame is shorter than its length field says.
    Truncated { expected: usize, got: usize },
    /// Bytes follow the stop byte.
    TrailingBytes { expected: usize, got: usize },
    BadChecksum { expected: u8, computed: u8 },
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
