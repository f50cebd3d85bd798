//! High-level security authentication (Green Book DLMS UA 1000-2 9.2.2.2.2 and 9.2.7.4,
//! IEC 62056-5-3 5.4): the processed challenges f(StoC), which the client returns in pass 3,
//! and f(CtoS), which the server returns in pass 4.
//!
//! | mechanism | f(StoC) (client) | f(CtoS) (server) |
//! |---|---|---|
//! | 2 manufacturer specific | not supported | not supported |
//! | 3 MD5 | MD5(StoC ‖ secret) | MD5(CtoS ‖ secret) |
//! | 4 SHA-1 | SHA-1(StoC ‖ secret) | SHA-1(CtoS ‖ secret) |
//! | 5 GMAC | SC ‖ IC ‖ GMAC(SC ‖ AK ‖ StoC), IV = client title ‖ IC | the same over CtoS with the server title |
//! | 6 SHA-256 | SHA-256(secret ‖ title-C ‖ title-S ‖ StoC ‖ CtoS) | SHA-256(secret ‖ title-S ‖ title-C ‖ CtoS ‖ StoC) |
//! | 7 ECDSA | not supported | not supported |
//!
//! GMAC tags are 12 bytes; SC is 0x10 (authentication only) with the suite id. Mechanism 6 is
//! the Green Book ed. 8 form (with both system titles and both challenges, as Gurux builds it);
//! [`f_hash`] computes the plain HASH(challenge ‖ secret) of any of the three hashes.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::crypto::aead::gcm_seal_detached;
use crate::crypto::mac::ct_eq;

use super::control::{iv, SecurityControl, TAG_LEN};
use super::error::CipherError;
use super::gcm::DlmsKeys;

/// Mechanism 2: manufacturer specific.
pub const MECHANISM_MANUFACTURER: u8 = 2;
/// Mechanism 3: MD5.
pub const MECHANISM_MD5: u8 = 3;
/// Mechanism 4: SHA-1.
pub const MECHANISM_SHA1: u8 = 4;
/// Mechanism 5: GMAC.
pub const MECHANISM_GMAC: u8 = 5;
/// Mechanism 6: SHA-256.
pub const MECHANISM_SHA256: u8 = 6;

/// One association's HLS parameters.
#[derive(Clone, Copy, Debug)]
pub struct Hls<'a> {
    /// The mechanism id (the last arc of the mechanism name, 2..=7).
    pub mechanism: u8,
    /// The HLS secret (mechanisms 3, 4, 6).
    pub secret: &'a [u8],
    /// The keys (mechanism 5: EK for GMAC, AK in the AAD).
    pub keys: Option<&'a DlmsKeys>,
    /// The security suite (mechanism 5: 0 or 1 with a 16-byte EK, 2 with a 32-byte one).
    pub suite: u8,
    /// The client's system title.
    pub client_system_title: [u8; 8],
    /// The server's system title.
    pub server_system_title: [u8; 8],
    /// The client's challenge CtoS (in the AARQ).
    pub ctos: &'a [u8],
    /// The server's challenge StoC (in the AARE).
    pub stoc: &'a [u8],
}

/// HASH(challenge ‖ secret) for mechanisms 3 (MD5), 4 (SHA-1) and 6 (SHA-256).
pub fn f_hash(mechanism: u8, challenge: &[u8], secret: &[u8]) -> Result<Vec<u8>, CipherError> {
    Ok(match mechanism {
        MECHANISM_MD5 => Md5::new().chain_update(challenge).chain_update(secret).finalize().to_vec(),
        MECHANISM_SHA1 => Sha1::new().chain_update(challenge).chain_update(secret).finalize().to_vec(),
        MECHANISM_SHA256 => Sha256::new().chain_update(challenge).chain_update(secret).finalize().to_vec(),
        m => return Err(CipherError::HlsMechanismUnsupported { mechanism: m }),
    })
}

/// Mechanism 5: `SC ‖ IC ‖ GMAC(EK, IV = title ‖ IC, SC ‖ AK ‖ challenge)` (12-byte tag).
pub fn f_gmac(
    keys: &DlmsKeys,
    suite: u8,
    system_title: &[u8; 8],
    invocation_counter: u32,
    challenge: &[u8],
) -> Result<Vec<u8>, CipherError> {
    let sc = SecurityControl::new(suite, true, false, false);
    if suite > 2 {
        return Err(CipherError::SuiteUnsupported { suite });
    }
    let ak = keys.ak.as_deref().ok_or(CipherError::MissingAuthenticationKey)?;
    if keys.ek.len() != sc.key_len() {
        return Err(CipherError::KeyLength { expected: sc.key_len(), got: keys.ek.len() });
    }
    let mut aad = Vec::with_capacity(1 + ak.len() + challenge.len());
    aad.push(sc.0);
    aad.extend_from_slice(ak);
    aad.extend_from_slice(challenge);
    let tag = gcm_seal_detached(&keys.ek, &iv(system_title, invocation_counter), &aad, &mut [], TAG_LEN)
        .map_err(|_| CipherError::KeyLength { expected: sc.key_len(), got: keys.ek.len() })?;
    let mut out = Vec::with_capacity(5 + TAG_LEN);
    out.push(sc.0);
    out.extend_from_slice(&invocation_counter.to_be_bytes());
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Mechanism 6 (Green Book ed. 8): SHA-256(secret ‖ own title ‖ peer title ‖ challenge
/// received ‖ challenge sent).
fn f_sha256(secret: &[u8], own: &[u8; 8], peer: &[u8; 8], received: &[u8], sent: &[u8]) -> Vec<u8> {
    Sha256::new().chain_update(secret).chain_update(own).chain_update(peer).chain_update(received).chain_update(sent).finalize().to_vec()
}

impl Hls<'_> {
    /// f(StoC): what the client sends in pass 3 (`invocation_counter`: the client's, for GMAC).
    pub fn f_stoc(&self, invocation_counter: u32) -> Result<Vec<u8>, CipherError> {
        match self.mechanism {
            MECHANISM_GMAC => {
                let keys = self.keys.ok_or(CipherError::KeyLength { expected: 16, got: 0 })?;
                f_gmac(keys, self.suite, &self.client_system_title, invocation_counter, self.stoc)
            }
            MECHANISM_SHA256 => {
                Ok(f_sha256(self.secret, &self.client_system_title, &self.server_system_title, self.stoc, self.ctos))
            }
            m => f_hash(m, self.stoc, self.secret),
        }
    }

    /// f(CtoS): what the server sends in pass 4 (`invocation_counter`: the server's, for GMAC).
    pub fn f_ctos(&self, invocation_counter: u32) -> Result<Vec<u8>, CipherError> {
        match self.mechanism {
            MECHANISM_GMAC => {
                let keys = self.keys.ok_or(CipherError::KeyLength { expected: 16, got: 0 })?;
                f_gmac(keys, self.suite, &self.server_system_title, invocation_counter, self.ctos)
            }
            MECHANISM_SHA256 => {
                Ok(f_sha256(self.secret, &self.server_system_title, &self.client_system_title, self.ctos, self.stoc))
            }
            m => f_hash(m, self.ctos, self.secret),
        }
    }

    /// Check the client's f(StoC) (a server's check of pass 3), in constant time.
    pub fn verify_f_stoc(&self, reply: &[u8]) -> Result<(), CipherError> {
        let expected = self.f_stoc(reply_counter(self.mechanism, reply))?;
        ct_eq(&expected, reply).then_some(()).ok_or(CipherError::HlsMismatch)
    }

    /// Check the server's f(CtoS) (a client's check of pass 4), in constant time.
    pub fn verify_f_ctos(&self, reply: &[u8]) -> Result<(), CipherError> {
        let expected = self.f_ctos(reply_counter(self.mechanism, reply))?;
        ct_eq(&expected, reply).then_some(()).ok_or(CipherError::HlsMismatch)
    }
}

/// The invocation counter a GMAC reply carries after its SC byte (0 when it is too short:
/// the comparison then fails on the length).
fn reply_counter(mechanism: u8, reply: &[u8]) -> u32 {
    match (mechanism, reply.get(1..5)) {
        (MECHANISM_GMAC, Some(b)) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        _ => 0,
    }
}
