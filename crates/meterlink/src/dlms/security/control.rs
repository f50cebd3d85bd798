//! The security control byte and the security header (Green Book DLMS UA 1000-2 9.2.7.2.4,
//! IEC 62056-5-3 5.6): `SH = SC ‖ IC`, the invocation counter big-endian.

use super::error::CipherError;

/// The security control byte (Green Book 9.2.7.2.4.1): suite (bits 3..0), authentication (4),
/// encryption (5), broadcast key (6), compression (7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SecurityControl(pub u8);

impl SecurityControl {
    /// Authentication bit (A).
    pub const AUTHENTICATED: u8 = 0x10;
    /// Encryption bit (E).
    pub const ENCRYPTED: u8 = 0x20;
    /// Key set bit: broadcast key (else unicast).
    pub const BROADCAST: u8 = 0x40;
    /// Compression bit.
    pub const COMPRESSED: u8 = 0x80;

    /// From its parts: suite id (0..=15), A, E, broadcast key set.
    pub const fn new(suite: u8, authenticated: bool, encrypted: bool, broadcast: bool) -> Self {
        let mut b = suite & 0x0F;
        if authenticated {
            b |= Self::AUTHENTICATED;
        }
        if encrypted {
            b |= Self::ENCRYPTED;
        }
        if broadcast {
            b |= Self::BROADCAST;
        }
        SecurityControl(b)
    }

    /// The security suite id.
    pub fn suite(self) -> u8 {
        self.0 & 0x0F
    }
    /// Authenticated (a tag is present).
    pub fn authenticated(self) -> bool {
        self.0 & Self::AUTHENTICATED != 0
    }
    /// Encrypted.
    pub fn encrypted(self) -> bool {
        self.0 & Self::ENCRYPTED != 0
    }
    /// Broadcast key (else unicast).
    pub fn broadcast(self) -> bool {
        self.0 & Self::BROADCAST != 0
    }
    /// Compressed (not supported).
    pub fn compressed(self) -> bool {
        self.0 & Self::COMPRESSED != 0
    }

    /// The key set as text: `"broadcast"` or `"unicast"`.
    pub fn key_set(self) -> &'static str {
        if self.broadcast() {
            "broadcast"
        } else {
            "unicast"
        }
    }

    /// The protection as text: `"auth+enc"`, `"auth-only"`, `"enc-only"` or `"none"`.
    pub fn mode(self) -> &'static str {
        match (self.authenticated(), self.encrypted()) {
            (true, true) => "auth+enc",
            (true, false) => "auth-only",
            (false, true) => "enc-only",
            (false, false) => "none",
        }
    }

    /// What this stage can apply or remove: suites 0 and 1 (AES-GCM-128) and 2 (AES-GCM-256),
    /// no compression, at least one of A and E.
    pub fn check_supported(self) -> Result<(), CipherError> {
        if self.compressed() {
            return Err(CipherError::CompressionUnsupported);
        }
        if self.suite() > 2 {
            return Err(CipherError::SuiteUnsupported { suite: self.suite() });
        }
        if !self.authenticated() && !self.encrypted() {
            return Err(CipherError::NoProtection);
        }
        Ok(())
    }

    /// The length of the block-cipher keys of the suite (Green Book 9.2.3.3): 16 for suites 0
    /// and 1 (AES-128), 32 for suite 2 (AES-256).
    pub fn key_len(self) -> usize {
        if self.suite() == 2 {
            32
        } else {
            16
        }
    }
}

/// The length of the authentication tag (Green Book 9.2.7.2.4.3: GCM tags are truncated to
/// 96 bits).
pub const TAG_LEN: usize = 12;

/// The security header length: SC (1) and IC (4).
pub const HEADER_LEN: usize = 5;

/// Read `SC ‖ IC` at `at` of `buf`.
pub fn read_header(buf: &[u8], at: usize) -> Result<(SecurityControl, u32), CipherError> {
    let h = buf.get(at..at + HEADER_LEN).ok_or(CipherError::Truncated { offset: buf.len().max(at) })?;
    Ok((SecurityControl(h[0]), u32::from_be_bytes([h[1], h[2], h[3], h[4]])))
}

/// The GCM IV: system title ‖ invocation counter (Green Book 9.2.7.2.4.2).
pub fn iv(system_title: &[u8; 8], invocation_counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[..8].copy_from_slice(system_title);
    iv[8..].copy_from_slice(&invocation_counter.to_be_bytes());
    iv
}
