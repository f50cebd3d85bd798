//! Key derivation function A (EN 13757-7:2018/2025 §9.6.2): one AES-CMAC block.
//!
//! ```text
//! K = AES-CMAC(MK, DC || C(4, LE) || ID(4) || 07 07 07 07 07 07 07)     (exactly one block)
//! ```
//! * DC 0x00 / 0x01 (meter → partner, Kenc / Kmac): [V] CEN/TR 17167 F.3, sensostar, mode 10.
//! * DC 0x10 / 0x11 (partner → meter, Lenc / Lmac): [S] (exmbus `crypto.ex`, quoted text), no vector.
//! * C = message counter: the TPL counter if the TPL has one, else the AFL MCR [V for AFL].
//! * ID = the meter's identification number as on air: TPL long-header ID if present, else the
//!   DLL ID; partner → meter messages always use the meter's ID.

use super::mac::CmacState;
use super::Key;

/// Derivation constant of KDF-A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DerivationConstant {
    /// Kenc: encryption key for messages from the meter.
    MeterEnc = 0x00,
    /// Kmac: MAC key for messages from the meter.
    MeterMac = 0x01,
    /// Lenc: encryption key for messages to the meter.
    PartnerEnc = 0x10,
    /// Lmac: MAC key for messages to the meter.
    PartnerMac = 0x11,
}

#[inline]
fn kdf_block(dc: DerivationConstant, counter: u32, id: &[u8; 4]) -> [u8; 16] {
    let c = counter.to_le_bytes();
    [
        dc as u8, c[0], c[1], c[2], c[3], id[0], id[1], id[2], id[3], 7, 7, 7, 7, 7, 7, 7,
    ]
}

/// KDF-A: derive one key from master key `mk`, derivation constant `dc`, message counter
/// `counter` (the numeric value; it is serialised LE) and the meter `id` (4 bytes as on air).
pub fn kdf_a(mk: &Key, dc: DerivationConstant, counter: u32, id: &[u8; 4]) -> Key {
    let mut s = CmacState::new(mk);
    s.update(&kdf_block(dc, counter, id));
    s.finalize()
}

/// KDF-A for both keys of one direction with a single master-key schedule:
/// returns `(enc, mac)` = `(Kenc, Kmac)` when `to_meter` is false, `(Lenc, Lmac)` otherwise.
pub fn kdf_a_pair(mk: &Key, counter: u32, id: &[u8; 4], to_meter: bool) -> (Key, Key) {
    let base = CmacState::new(mk);
    let (dce, dcm) = if to_meter {
        (
            DerivationConstant::PartnerEnc,
            DerivationConstant::PartnerMac,
        )
    } else {
        (DerivationConstant::MeterEnc, DerivationConstant::MeterMac)
    };
    let mut a = base.clone();
    a.update(&kdf_block(dce, counter, id));
    let mut b = base;
    b.update(&kdf_block(dcm, counter, id));
    (a.finalize(), b.finalize())
}
