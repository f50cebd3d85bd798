//! Security mode 8: AES-128-CTR encryption + AES-CMAC authentication (EN 13757-7 §9.4.6).
//! **Layout hypothesis — no public vector, no public ICB layout** (notes §c.4 [?]).
//!
//! Choices made here, so that the mode is usable and symmetric with modes 7/9/10:
//! ```text
//! Kenc, Kmac = KDF-A(MK, DC 00/01, MC, ID) when DD = 01, else persistent key for both
//! ICB = A(8) ‖ MC (4, big-endian) ‖ 00 00 00 00   (128-bit BE counter)
//!       A = M(2) ‖ ID(4) ‖ ver ‖ type of the long TPL header; 00×8 with a short header
//! MAC = the AFL AES-CMAC over the ciphertext TPDU, exactly as in mode 7 (required)
//! ```
//! Nothing is derived from bytes the MAC does not cover (issue 12): the AFL MAC covers the TPDU,
//! so a long header's address, but not the link layer's M and A fields. Taking them into the
//! counter block let a flipped link manufacturer, version or device type decrypt to other
//! values under a valid MAC; with a short header the counter block therefore holds only the
//! (authenticated) message counter.
//! The "dual MAC" (end-to-end MAC_1 + partner MAC_2) of CEN/TR 17167 F.4 is not modelled.
//! No 2F 2F verification bytes are required (integrity comes from the MAC). The configuration
//! field is parsed with the mode-10 shape (`config`).

use crate::crypto::block::aes;
use crate::crypto::ctr::ctr_apply;

use super::{Key, Address};

/// The initial counter block [?]: `A ‖ MC(BE) ‖ 00000000`, `A` the long header's address
/// (`Some`, covered by the MAC) or zeros (`None`: a short header, whose meter address is the
/// unauthenticated link address).
#[inline]
pub fn icb(addr: Option<&Address>, message_counter: u32) -> [u8; 16] {
    let mut n = [0u8; 16];
    if let Some(a) = addr {
        n[..8].copy_from_slice(&a.bytes());
    }
    n[8..12].copy_from_slice(&message_counter.to_be_bytes());
    n
}

/// Decrypt (or encrypt — CTR is symmetric) the mode-8 payload into `out` (cleared first).
///
/// * `kenc`: encryption key; `addr`: the long header's address, None for a short header (see
///   [`icb`]); `mc`: the message counter.
/// * `data`: the bytes after the TPL security header to the end of the TPDU; the first
///   `enc_len` are encrypted, the rest is clear and copied.
///
/// This does not authenticate anything: verify the AFL MAC first (`decrypt_tpl` does).
pub fn decrypt_mode8_into(
    kenc: &Key,
    addr: Option<&Address>,
    mc: u32,
    data: &[u8],
    enc_len: usize,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(data);
    let n = enc_len.min(out.len());
    ctr_apply(&aes(kenc), &icb(addr, mc), &mut out[..n]);
}

/// Encrypt for mode 8: returns `ciphertext ‖ clear_tail`; the caller computes the AFL MAC
/// over the resulting TPDU with Kmac.
pub fn encrypt_mode8(
    kenc: &Key,
    addr: Option<&Address>,
    mc: u32,
    plain: &[u8],
    clear_tail: &[u8],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(plain.len() + clear_tail.len());
    buf.extend_from_slice(plain);
    ctr_apply(&aes(kenc), &icb(addr, mc), &mut buf);
    buf.extend_from_slice(clear_tail);
    buf
}
