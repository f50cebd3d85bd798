//! Suite 0/1 (AES-GCM-128) and suite 2 (AES-GCM-256) payload protection (Green Book DLMS UA
//! 1000-2 9.2.7.2.4, IEC 62056-5-3 5.6): IV = system title ‖ invocation counter, 12-byte tag,
//!
//! - authenticated encryption (SC 0x30): AAD = SC ‖ AK, sent ciphertext ‖ tag;
//! - authentication only (SC 0x10): AAD = SC ‖ AK ‖ APDU, the APDU sent in clear, then the tag;
//! - encryption only (SC 0x20): the GCM keystream (CTR from `IV ‖ 00000002`), no tag.
//!
//! general-ciphering adds its header fields to the AAD ([`GeneralCiphering::aad_fields`]).
//! No plaintext is released unless the tag verifies.

use std::borrow::Cow;

use crate::crypto::aead::{gcm_keystream, gcm_open_detached, gcm_seal_detached, GcmKey};
use crate::crypto::keywrap;
use crate::crypto::mac::ct_eq;

use super::ciphered::{parse_ciphered, CipheredApdu};
use super::control::{iv, SecurityControl, TAG_LEN};
use super::error::CipherError;
use super::general::{GeneralCiphering, KeyInfo};

pub use crate::keys::DlmsKeys;


/// Which key protects a ciphered APDU (replay counters are kept per system title and key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// The global unicast encryption key.
    GlobalUnicast,
    /// The global broadcast encryption key.
    GlobalBroadcast,
    /// The dedicated key.
    Dedicated,
    /// A key transported wrapped in general-ciphering's key-info.
    Wrapped,
    /// A key agreed by ECDH (not supported).
    Agreed,
}

impl KeyKind {
    /// Lower-case name: `global-unicast`, `global-broadcast`, `dedicated`, `wrapped`, `agreed`.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::GlobalUnicast => "global-unicast",
            KeyKind::GlobalBroadcast => "global-broadcast",
            KeyKind::Dedicated => "dedicated",
            KeyKind::Wrapped => "wrapped",
            KeyKind::Agreed => "agreed",
        }
    }

    /// The kind named `name` (the inverse of [`KeyKind::name`]).
    pub fn from_name(name: &str) -> Option<KeyKind> {
        [KeyKind::GlobalUnicast, KeyKind::GlobalBroadcast, KeyKind::Dedicated, KeyKind::Wrapped, KeyKind::Agreed]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The key a ciphered APDU names: general-ciphering's key-info, else ded-/glo- by the tag
    /// and the key set bit of its security control byte.
    pub fn of(c: &CipheredApdu) -> KeyKind {
        match c.general.as_ref().and_then(|g| g.key_info.as_ref()) {
            Some(KeyInfo::Identified { key_id: 1 }) => KeyKind::GlobalBroadcast,
            Some(KeyInfo::Identified { .. }) => KeyKind::GlobalUnicast,
            Some(KeyInfo::Wrapped { .. }) => KeyKind::Wrapped,
            Some(KeyInfo::Agreed { .. }) => KeyKind::Agreed,
            None if c.dedicated() => KeyKind::Dedicated,
            None if c.security_control.broadcast() => KeyKind::GlobalBroadcast,
            None => KeyKind::GlobalUnicast,
        }
    }
}

/// The block-cipher key for `c` from `keys`, checked against the suite's key length.
fn content_key<'k>(c: &CipheredApdu, keys: &'k DlmsKeys) -> Result<Cow<'k, [u8]>, CipherError> {
    let sc = c.security_control;
    let key = match c.general.as_ref().and_then(|g| g.key_info.as_ref()) {
        Some(KeyInfo::Wrapped { key_ciphered_data, .. }) => Cow::Owned(unwrap_key(keys, key_ciphered_data)?),
        Some(KeyInfo::Agreed { .. }) => return Err(CipherError::KeyAgreementUnsupported),
        _ => Cow::Borrowed(match KeyKind::of(c) {
            KeyKind::Dedicated => keys.dedicated_key.as_deref().ok_or(CipherError::MissingDedicatedKey)?,
            KeyKind::GlobalBroadcast => keys.broadcast_ek.as_deref().unwrap_or(&keys.ek),
            _ => &keys.ek,
        }),
    };
    check_len(&key, sc.key_len())?;
    Ok(key)
}

fn check_len(key: &[u8], expected: usize) -> Result<(), CipherError> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(CipherError::KeyLength { expected, got: key.len() })
    }
}

/// Unwrap a transported key with the KEK (RFC 3394; AES-128 KEKs, suites 0 and 1).
fn unwrap_key(keys: &DlmsKeys, wrapped: &[u8]) -> Result<Vec<u8>, CipherError> {
    let kek = keys.kek.as_deref().ok_or(CipherError::MissingKek)?;
    let kek: &[u8; 16] = kek.try_into().map_err(|_| CipherError::KeyLength { expected: 16, got: kek.len() })?;
    keywrap::unwrap(kek, wrapped).map_err(|_| CipherError::KeyUnwrap)
}

/// Wrap `key` under the KEK (RFC 3394) for general-ciphering's wrapped-key.
pub fn wrap_key(kek: &[u8], key: &[u8]) -> Result<Vec<u8>, CipherError> {
    let k: &[u8; 16] = kek.try_into().map_err(|_| CipherError::KeyLength { expected: 16, got: kek.len() })?;
    keywrap::wrap(k, key).map_err(|_| CipherError::KeyLength { expected: 16, got: key.len() })
}

/// The AAD: `SC ‖ AK`, general-ciphering's fields, and the plaintext for authentication only.
fn aad(sc: SecurityControl, ak: &[u8], general: Option<(&GeneralCiphering, Option<&[u8; 8]>)>, clear: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(1 + ak.len() + clear.len() + 32);
    a.push(sc.0);
    a.extend_from_slice(ak);
    if let Some((g, originator)) = general {
        g.aad_fields(originator, &mut a);
    }
    if !sc.encrypted() {
        a.extend_from_slice(clear);
    }
    a
}

/// The authentication key, required when `sc` authenticates.
fn auth_key(sc: SecurityControl, keys: &DlmsKeys) -> Result<&[u8], CipherError> {
    if !sc.authenticated() {
        return Ok(&[]);
    }
    keys.ak.as_deref().ok_or(CipherError::MissingAuthenticationKey)
}

/// Verify and decrypt: the plaintext APDU, never released unless the tag verifies.
/// `system_title` is the sender's (the IV's): [`CipheredApdu::iv_system_title`].
pub fn decipher(c: &CipheredApdu, system_title: &[u8; 8], keys: &DlmsKeys) -> Result<Vec<u8>, CipherError> {
    let mut out = Vec::with_capacity(c.payload.len());
    decipher_into(c, system_title, keys, &mut out)?;
    Ok(out)
}

/// [`decipher`] into `out` (cleared first; empty on any error), for callers that reuse one
/// buffer across messages.
pub fn decipher_into(c: &CipheredApdu, system_title: &[u8; 8], keys: &DlmsKeys, out: &mut Vec<u8>) -> Result<(), CipherError> {
    out.clear();
    let r = open(c, system_title, keys, out);
    if r.is_err() {
        out.clear();
    }
    r
}

fn open(c: &CipheredApdu, system_title: &[u8; 8], keys: &DlmsKeys, out: &mut Vec<u8>) -> Result<(), CipherError> {
    let sc = c.security_control;
    sc.check_supported()?;
    let key = content_key(c, keys)?;
    let ak = auth_key(sc, keys)?;
    let iv = iv(system_title, c.invocation_counter);
    let data = c.data();
    out.extend_from_slice(data);
    if !sc.authenticated() {
        return gcm_keystream(&key, &iv, out).map_err(|_| CipherError::KeyLength { expected: sc.key_len(), got: key.len() });
    }
    let tag = c.auth_tag().ok_or(CipherError::Truncated { offset: c.payload_offset + c.payload.len() })?;
    let aad = aad(sc, ak, c.general.as_ref().map(|g| (g, c.system_title.as_ref())), data);
    if sc.encrypted() {
        return gcm_open_detached(&key, &iv, &aad, out, tag).map_err(|_| CipherError::TagMismatch);
    }
    let expected = gcm_seal_detached(&key, &iv, &aad, &mut [], TAG_LEN).map_err(|_| CipherError::TagMismatch)?;
    ct_eq(&expected, tag).then_some(()).ok_or(CipherError::TagMismatch)
}

/// Most keys a [`GcmCache`] keeps (the oldest is dropped first).
const CACHE_KEYS: usize = 8;

/// Prepared AES-GCM keys (key schedule and GHASH key) by key bytes, for deciphering many
/// messages under the same few keys ([`decipher_cached`]). Owned by one batch or thread;
/// `Debug` shows no key material.
#[derive(Clone, Default)]
pub struct GcmCache {
    entries: Vec<(Vec<u8>, GcmKey)>,
    next: usize,
    aad: Vec<u8>,
}

impl std::fmt::Debug for GcmCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GcmCache {{ keys: {} }}", self.entries.len())
    }
}

impl GcmCache {
    /// An empty cache.
    pub fn new() -> Self {
        GcmCache::default()
    }

    /// The prepared form of `key` (16 or 32 bytes), prepared on first use.
    fn get(&mut self, key: &[u8]) -> Option<&GcmKey> {
        if let Some(i) = self.entries.iter().position(|(k, _)| k == key) {
            return Some(&self.entries[i].1);
        }
        let prepared = GcmKey::new(key).ok()?;
        let i = if self.entries.len() < CACHE_KEYS {
            self.entries.push((key.to_vec(), prepared));
            self.entries.len() - 1
        } else {
            let i = self.next;
            self.next = (i + 1) % CACHE_KEYS;
            self.entries[i] = (key.to_vec(), prepared);
            i
        };
        Some(&self.entries[i].1)
    }
}

/// [`decipher_into`] with the key setup taken from `cache`: authenticated encryption (the
/// common case of pushes, 9.2.7.2.4) of glo-/ded- and general-glo/ded-ciphering APDUs uses
/// the prepared key; every other form goes through [`decipher_into`]. Same results.
pub fn decipher_cached(
    c: &CipheredApdu,
    system_title: &[u8; 8],
    keys: &DlmsKeys,
    cache: &mut GcmCache,
    out: &mut Vec<u8>,
) -> Result<(), CipherError> {
    let sc = c.security_control;
    let (Some(ak), Some(tag), None) = (keys.ak.as_deref(), c.auth_tag(), c.general.as_ref()) else {
        return decipher_into(c, system_title, keys, out);
    };
    if !sc.encrypted() || sc.check_supported().is_err() {
        return decipher_into(c, system_title, keys, out);
    }
    let key: &[u8] = if c.dedicated() {
        match keys.dedicated_key.as_deref() {
            Some(k) => k,
            None => return decipher_into(c, system_title, keys, out),
        }
    } else if sc.broadcast() {
        keys.broadcast_ek.as_deref().unwrap_or(&keys.ek)
    } else {
        &keys.ek
    };
    if key.len() != sc.key_len() {
        return decipher_into(c, system_title, keys, out);
    }
    let mut aad = std::mem::take(&mut cache.aad);
    aad.clear();
    aad.push(sc.0);
    aad.extend_from_slice(ak);
    out.clear();
    out.extend_from_slice(c.data());
    let r = match cache.get(key) {
        Some(k) => k.open_detached(&iv(system_title, c.invocation_counter), &aad, out, tag).map_err(|_| CipherError::TagMismatch),
        None => Err(CipherError::KeyLength { expected: sc.key_len(), got: key.len() }),
    };
    cache.aad = aad;
    if r.is_err() {
        out.clear();
    }
    r
}

/// What [`encipher`] builds: the form (tag), the security header, the sender's system title
/// (the IV's; carried in the APDU by the general forms) and general-ciphering's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    /// The ciphered APDU's tag (`0xC8` glo-get-request, `0xDB` general-glo-ciphering, ...).
    pub tag: u8,
    /// The security control byte.
    pub security_control: SecurityControl,
    /// The invocation counter.
    pub invocation_counter: u32,
    /// The sender's system title.
    pub system_title: [u8; 8],
    /// general-ciphering's fields (for tag 0xDD; the default when None).
    pub general: Option<GeneralCiphering>,
}

/// Protect `plaintext` (a whole plain APDU) as `p` says: the ciphered APDU, byte-exact as
/// the Green Book examples; [`decipher`] of its parse gives `plaintext` back.
pub fn encipher(p: &Protection, plaintext: &[u8], keys: &DlmsKeys) -> Result<Vec<u8>, CipherError> {
    let c = encipher_apdu(p, plaintext, keys)?;
    Ok(c.to_bytes())
}

/// [`encipher`], as the structure.
pub fn encipher_apdu(p: &Protection, plaintext: &[u8], keys: &DlmsKeys) -> Result<CipheredApdu, CipherError> {
    let sc = p.security_control;
    sc.check_supported()?;
    let carries_title = matches!(p.tag, 0xDB..=0xDD);
    let mut c = CipheredApdu {
        tag: p.tag,
        system_title: carries_title.then_some(p.system_title),
        security_control: sc,
        invocation_counter: p.invocation_counter,
        payload: Vec::new(),
        payload_offset: 0,
        general: (p.tag == 0xDD).then(|| p.general.clone().unwrap_or_default()),
    };
    if c.kind().is_none() {
        return Err(CipherError::NotCiphered { tag: p.tag });
    }
    let key = content_key(&c, keys)?;
    let ak = auth_key(sc, keys)?;
    let iv = iv(&p.system_title, p.invocation_counter);
    let general = c.general.as_ref().map(|g| (g, c.system_title.as_ref()));
    let mut buf = plaintext.to_vec();
    if !sc.authenticated() {
        gcm_keystream(&key, &iv, &mut buf).map_err(|_| CipherError::KeyLength { expected: sc.key_len(), got: key.len() })?;
    } else {
        let aad = aad(sc, ak, general, plaintext);
        let tag = if sc.encrypted() {
            gcm_seal_detached(&key, &iv, &aad, &mut buf, TAG_LEN)
        } else {
            gcm_seal_detached(&key, &iv, &aad, &mut [], TAG_LEN)
        }
        .map_err(|_| CipherError::KeyLength { expected: sc.key_len(), got: key.len() })?;
        buf.extend_from_slice(&tag);
    }
    c.payload = buf;
    // The payload offset as the encoding places it.
    let bytes = c.to_bytes();
    c.payload_offset = bytes.len() - c.payload.len();
    debug_assert_eq!(parse_ciphered(&bytes).as_ref(), Ok(&c));
    Ok(c)
}
