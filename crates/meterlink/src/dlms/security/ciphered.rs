//! The ciphered APDU forms and their tags (Green Book DLMS UA 1000-2 ed. 8 9.5 xDLMS-APDU
//! ASN.1; IEC 62056-5-3 8; tag values as in Gurux `Command` / `Gurux.DLMS.Net`
//! `Development/Enums/Command.cs`, which lists every one below but glo-unconfirmed-write-request
//! [54]: that one follows the ASN.1's rule, the service tag plus 32, as its ded- twin [86] = 22 + 64).
//!
//! - glo-/ded- service APDUs: `tag ‖ len ‖ SC ‖ IC ‖ payload`
//! - general-glo-ciphering / general-ded-ciphering: `tag ‖ system-title (octet string) ‖ len ‖
//!   SC ‖ IC ‖ payload`
//! - general-ciphering: `DD ‖ transaction-id ‖ originator-system-title ‖
//!   recipient-system-title ‖ date-time ‖ other-information` (octet strings) `‖ key-info
//!   OPTIONAL ‖ len ‖ SC ‖ IC ‖ payload`
//!
//! Lengths are A-XDR lengths (one byte below 0x80, else `0x8n` and n bytes).

use super::control::{read_header, SecurityControl, HEADER_LEN, TAG_LEN};
use super::error::CipherError;
use super::general::GeneralCiphering;

/// One ciphered APDU tag: its ASN.1 name, the tag of the APDU it protects (None for the
/// general forms), and whether it uses the dedicated key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipheredTag {
    /// The tag.
    pub tag: u8,
    /// The ASN.1 name (`glo-get-request`, `general-glo-ciphering`, ...).
    pub name: &'static str,
    /// The tag of the plain APDU inside (`0xC0` get-request for `0xC8`), for the service forms.
    pub plain: Option<u8>,
    /// The dedicated key protects it (ded- APDUs, general-ded-ciphering).
    pub dedicated: bool,
}

const fn t(tag: u8, name: &'static str, plain: u8, dedicated: bool) -> CipheredTag {
    CipheredTag { tag, name, plain: Some(plain), dedicated }
}

/// Every ciphered APDU tag (Green Book 9.5; Gurux `Command`).
pub const CIPHERED_TAGS: &[CipheredTag] = &[
    // Global ciphering of the SN and initiate APDUs: the service tag + 32.
    t(0x21, "glo-initiate-request", 0x01, false),
    t(0x25, "glo-read-request", 0x05, false),
    t(0x26, "glo-write-request", 0x06, false),
    t(0x28, "glo-initiate-response", 0x08, false),
    t(0x2C, "glo-read-response", 0x0C, false),
    t(0x2D, "glo-write-response", 0x0D, false),
    t(0x2E, "glo-confirmed-service-error", 0x0E, false),
    t(0x36, "glo-unconfirmed-write-request", 0x16, false),
    t(0x38, "glo-information-report-request", 0x18, false),
    // Dedicated ciphering of the same: the service tag + 64.
    t(0x41, "ded-initiate-request", 0x01, true),
    t(0x45, "ded-read-request", 0x05, true),
    t(0x46, "ded-write-request", 0x06, true),
    t(0x48, "ded-initiate-response", 0x08, true),
    t(0x4C, "ded-read-response", 0x0C, true),
    t(0x4D, "ded-write-response", 0x0D, true),
    t(0x4E, "ded-confirmed-service-error", 0x0E, true),
    t(0x56, "ded-unconfirmed-write-request", 0x16, true),
    t(0x58, "ded-information-report-request", 0x18, true),
    // Global ciphering of the LN APDUs: the service tag + 8.
    t(0xC8, "glo-get-request", 0xC0, false),
    t(0xC9, "glo-set-request", 0xC1, false),
    t(0xCA, "glo-event-notification-request", 0xC2, false),
    t(0xCB, "glo-action-request", 0xC3, false),
    t(0xCC, "glo-get-response", 0xC4, false),
    t(0xCD, "glo-set-response", 0xC5, false),
    t(0xCF, "glo-action-response", 0xC7, false),
    // Dedicated ciphering of the LN APDUs: the service tag + 16.
    t(0xD0, "ded-get-request", 0xC0, true),
    t(0xD1, "ded-set-request", 0xC1, true),
    t(0xD2, "ded-event-notification-request", 0xC2, true),
    t(0xD3, "ded-action-request", 0xC3, true),
    t(0xD4, "ded-get-response", 0xC4, true),
    t(0xD5, "ded-set-response", 0xC5, true),
    t(0xD7, "ded-action-response", 0xC7, true),
    // The general forms.
    CipheredTag { tag: GENERAL_GLO_CIPHERING, name: "general-glo-ciphering", plain: None, dedicated: false },
    CipheredTag { tag: GENERAL_DED_CIPHERING, name: "general-ded-ciphering", plain: None, dedicated: true },
    CipheredTag { tag: GENERAL_CIPHERING, name: "general-ciphering", plain: None, dedicated: false },
];

/// general-glo-ciphering [219].
pub const GENERAL_GLO_CIPHERING: u8 = 0xDB;
/// general-ded-ciphering [220].
pub const GENERAL_DED_CIPHERING: u8 = 0xDC;
/// general-ciphering [221].
pub const GENERAL_CIPHERING: u8 = 0xDD;

/// The table entry of `tag`, if it is a ciphered APDU's.
pub fn ciphered_tag(tag: u8) -> Option<&'static CipheredTag> {
    CIPHERED_TAGS.iter().find(|c| c.tag == tag)
}

/// True for the tag of every ciphered APDU (the APDU stage's dispatch).
pub fn is_ciphered_tag(tag: u8) -> bool {
    ciphered_tag(tag).is_some()
}

/// The ciphered tag protecting the plain APDU `plain` with the global (or dedicated) key:
/// `0xC0` → `0xC8` (glo-get-request), ...
pub fn tag_for_plain(plain: u8, dedicated: bool) -> Option<u8> {
    CIPHERED_TAGS.iter().find(|c| c.plain == Some(plain) && c.dedicated == dedicated).map(|c| c.tag)
}

/// A ciphered APDU as received: its security header and protected bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CipheredApdu {
    /// The APDU tag (0xDB general-glo-ciphering, 0xCC glo-get-response, ...).
    pub tag: u8,
    /// The sender's system title, when the APDU carries one (general-glo/ded-ciphering; the
    /// originator-system-title of general-ciphering). None when absent or empty.
    pub system_title: Option<[u8; 8]>,
    /// The security control byte.
    pub security_control: SecurityControl,
    /// The invocation counter.
    pub invocation_counter: u32,
    /// The protected bytes after the security header (ciphertext or plaintext, then the tag).
    pub payload: Vec<u8>,
    /// Offset of `payload` in the APDU.
    pub payload_offset: usize,
    /// What general-ciphering carries before its ciphered content (None for other forms).
    pub general: Option<GeneralCiphering>,
}

impl CipheredApdu {
    /// The ASN.1 name (`general-glo-ciphering`, `glo-get-response`, ...).
    pub fn type_name(&self) -> &'static str {
        ciphered_tag(self.tag).map_or("ciphered-apdu", |c| c.name)
    }

    /// The tag table entry.
    pub fn kind(&self) -> Option<&'static CipheredTag> {
        ciphered_tag(self.tag)
    }

    /// Protected by the dedicated key (ded- APDUs, general-ded-ciphering).
    pub fn dedicated(&self) -> bool {
        self.kind().is_some_and(|k| k.dedicated)
    }

    /// The authentication tag (the last 12 payload bytes), when authenticated.
    pub fn auth_tag(&self) -> Option<&[u8]> {
        let n = self.payload.len();
        (self.security_control.authenticated() && n >= TAG_LEN).then(|| &self.payload[n - TAG_LEN..])
    }

    /// The protected data without the tag: ciphertext, or the plaintext of authentication-only.
    pub fn data(&self) -> &[u8] {
        let n = self.payload.len();
        if self.security_control.authenticated() {
            &self.payload[..n.saturating_sub(TAG_LEN)]
        } else {
            &self.payload
        }
    }

    /// The system title for the IV: the APDU's own, else `known` (glo-/ded- APDUs take it
    /// from the association, the AARQ/AARE calling/responding AP title).
    pub fn iv_system_title(&self, known: Option<[u8; 8]>) -> Option<[u8; 8]> {
        self.system_title.or(known)
    }

    /// The encoded APDU (byte-exact for everything [`parse_ciphered`] accepts: lengths are
    /// written in their shortest A-XDR form, as every sender writes them).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 32);
        encode_ciphered(self, &mut out);
        out
    }
}

/// Append the A-XDR length `n` (IEC 61334-6: one byte below 128, else `0x80 | k` and `k`
/// big-endian bytes).
pub fn write_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let b = (n as u64).to_be_bytes();
        let skip = b.iter().take_while(|&&x| x == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

/// Read an A-XDR length at `*at`, advancing it (at most 4 length bytes).
pub fn read_len(buf: &[u8], at: &mut usize) -> Result<usize, CipherError> {
    let first = *buf.get(*at).ok_or(CipherError::Truncated { offset: *at })?;
    *at += 1;
    if first < 0x80 {
        return Ok(first as usize);
    }
    let k = (first & 0x7F) as usize;
    if k == 0 || k > 4 {
        return Err(CipherError::LengthMismatch { offset: *at - 1 });
    }
    let b = buf.get(*at..*at + k).ok_or(CipherError::Truncated { offset: buf.len() })?;
    *at += k;
    Ok(b.iter().fold(0usize, |n, &x| n << 8 | x as usize))
}

/// Read an A-XDR octet string (length, bytes) at `*at`, advancing it.
pub fn read_octets<'a>(buf: &'a [u8], at: &mut usize) -> Result<&'a [u8], CipherError> {
    let n = read_len(buf, at)?;
    let s = buf.get(*at..).and_then(|r| r.get(..n)).ok_or(CipherError::Truncated { offset: buf.len() })?;
    *at += n;
    Ok(s)
}

/// Append an A-XDR octet string.
pub fn write_octets(s: &[u8], out: &mut Vec<u8>) {
    write_len(s.len(), out);
    out.extend_from_slice(s);
}

/// A system title field: 8 bytes, or empty (None).
fn system_title(buf: &[u8], at: &mut usize) -> Result<Option<[u8; 8]>, CipherError> {
    let start = *at;
    let s = read_octets(buf, at)?;
    match s.len() {
        0 => Ok(None),
        8 => Ok(Some(s.try_into().expect("8 bytes"))),
        len => Err(CipherError::SystemTitleLength { offset: start, len }),
    }
}

/// Parse a ciphered APDU filling all of `buf` (tag first): its declared length must end
/// exactly where `buf` ends.
pub fn parse_ciphered(buf: &[u8]) -> Result<CipheredApdu, CipherError> {
    let (c, used) = parse_ciphered_prefix(buf)?;
    if used != buf.len() {
        return Err(CipherError::LengthMismatch { offset: used });
    }
    Ok(c)
}

/// Parse a ciphered APDU at the start of `buf`: the APDU and the number of bytes it takes.
pub fn parse_ciphered_prefix(buf: &[u8]) -> Result<(CipheredApdu, usize), CipherError> {
    let tag = *buf.first().ok_or(CipherError::Truncated { offset: 0 })?;
    ciphered_tag(tag).ok_or(CipherError::NotCiphered { tag })?;
    let mut at = 1;
    let (title, general) = match tag {
        GENERAL_GLO_CIPHERING | GENERAL_DED_CIPHERING => (system_title(buf, &mut at)?, None),
        GENERAL_CIPHERING => {
            let (g, title) = GeneralCiphering::parse(buf, &mut at)?;
            (title, Some(g))
        }
        _ => (None, None),
    };
    let content = read_octets(buf, &mut at)?;
    let start = at - content.len();
    if content.len() < HEADER_LEN {
        return Err(CipherError::Truncated { offset: at });
    }
    let (sc, ic) = read_header(content, 0)?;
    if sc.authenticated() && content.len() < HEADER_LEN + TAG_LEN {
        return Err(CipherError::Truncated { offset: at });
    }
    let c = CipheredApdu {
        tag,
        system_title: title,
        security_control: sc,
        invocation_counter: ic,
        payload: content[HEADER_LEN..].to_vec(),
        payload_offset: start + HEADER_LEN,
        general,
    };
    Ok((c, at))
}

/// Append the encoding of `c` (see [`CipheredApdu::to_bytes`]).
pub fn encode_ciphered(c: &CipheredApdu, out: &mut Vec<u8>) {
    out.push(c.tag);
    match c.tag {
        GENERAL_GLO_CIPHERING | GENERAL_DED_CIPHERING => write_octets(c.system_title.as_ref().map_or(&[][..], |s| &s[..]), out),
        GENERAL_CIPHERING => {
            let g = c.general.clone().unwrap_or_default();
            g.encode(c.system_title.as_ref(), out);
        }
        _ => {}
    }
    write_len(HEADER_LEN + c.payload.len(), out);
    out.push(c.security_control.0);
    out.extend_from_slice(&c.invocation_counter.to_be_bytes());
    out.extend_from_slice(&c.payload);
}
