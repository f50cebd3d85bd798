//! AES-128-CTR (NIST SP 800-38A §6.5) with a 128-bit big-endian counter.

use aes::cipher::{InnerIvInit, StreamCipher};

use super::block::Aes128;

/// In-place AES-128-CTR (128-bit big-endian counter starting at `icb`); encrypts or decrypts.
#[inline]
pub fn ctr_apply(cipher: &Aes128, icb: &[u8; 16], buf: &mut [u8]) {
    let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(cipher.clone(), icb.into());
    let mut c = ctr::Ctr128BE::<Aes128>::from_core(core);
    c.apply_keystream(buf);
}
