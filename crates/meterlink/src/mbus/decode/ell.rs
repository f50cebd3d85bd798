//! Stage 2: the extended link layer (EN 13757-4 13.2.7 ff.; AES-CTR and the payload CRC per
//! EN 13757-7 clause 8).

use std::borrow::Cow;

use super::protection::{no_key, set_payload};
use super::telegram::{DecryptedBy, ProtectionState, Telegram};
use super::Ctx;
use crate::error::{Error, ErrorKind};
use crate::keys::KeyMaterial;
use crate::mbus::ell::{self, Ell};
use crate::mbus::link::wmbus;
use crate::mbus::tpl::Address;

/// For ELL II/IV: does the payload CRC verify over the bytes as they are (unencrypted)?
fn payload_crc_ok(buf: &[u8], e: &Ell) -> bool {
    let at = e.crc_offset;
    e.sn.is_some()
        && buf.len() >= at + 2
        && u16::from_le_bytes([buf[at], buf[at + 1]]) == wmbus::crc16_en13757(&buf[at + 2..])
}

/// What follows the ELL: the bytes from the next CI on, and their offset in the frame.
pub(super) type Next<'b> = (Cow<'b, [u8]>, usize);

/// Peel off an ELL if the CI announces one. `buf` starts at the CI at frame offset `base`;
/// `link` is the transmitter's address (key lookup, IV).
/// Returns what follows (from the next CI) and its offset, or None when nothing follows or the
/// rest stays opaque (encrypted without a key).
pub(super) fn decode_ell<'b>(
    tg: &mut Telegram,
    buf: Cow<'b, [u8]>,
    base: usize,
    link: Address,
    ctx: &Ctx,
) -> Result<Option<Next<'b>>, Error> {
    if !ell::is_ell_ci(buf[0]) {
        return Ok(Some((buf, base)));
    }
    let key = ctx.keys.key_for(link.manufacturer, link.id).and_then(KeyMaterial::aes);
    let mut out = Vec::new();
    let e = ell::decrypt_ell_into(key, &link, &buf, &mut out)
        .map_err(|err| Error::in_layer(ErrorKind::Ell(err), base))?;
    tg.ell = Some(e);
    tg.ci = Some(e.ci);
    let rest: Cow<[u8]> = if e.is_encrypted() && key.is_none() && payload_crc_ok(&buf, &e) {
        // The payload CRC checks on the bytes as received: a receiver decrypted the ELL
        // already (a 1 in 65536 chance for ciphertext).
        tg.protection.state = ProtectionState::Decrypted(DecryptedBy::Receiver);
        Cow::Owned(buf[e.crc_offset + 2..].to_vec())
    } else if e.is_encrypted() {
        if key.is_none() {
            tg.protection.state = ProtectionState::Encrypted;
            if ctx.opts.strict {
                return Err(no_key(Some(link), base));
            }
            set_payload(&mut tg.payload, &buf[e.crc_offset..]);
            tg.payload_offset = base + e.crc_offset;
            return Ok(None);
        }
        tg.protection.state = ProtectionState::Decrypted(DecryptedBy::Meterlink);
        Cow::Owned(out)
    } else {
        Cow::Owned(buf[e.payload_offset..].to_vec())
    };
    if rest.is_empty() {
        return Ok(None);
    }
    Ok(Some((rest, base + e.payload_offset)))
}
