//! DLMS/COSEM (IEC 62056-5-3, the Green Book DLMS UA 1000-2, the Blue Book DLMS UA 1000-1): the
//! third protocol family, over the shared [`crate::crypto`] leaf.
//!
//! Decoding runs in visible stages, one module each:
//! transport ([`hdlc`], [`wrapper`], [`mbus`], or the encrypted-[`p1`] framing) → APDU
//! ([`apdu`], BER for ACSE, A-XDR for xDLMS) → ciphering ([`security`]) → data ([`axdr`]) →
//! meaning ([`cosem`]: OBIS, units, dates; [`push`]: notification bodies as OBIS rows).
//! [`decode`] composes them. Each stage has its own typed error, gathered in [`DlmsError`].

pub mod apdu;
pub mod axdr;
pub mod cosem;
pub mod decode;
mod error;
pub mod hdlc;
pub mod mbus;
pub mod obis;
pub mod p1;
pub mod push;
pub mod security;
pub mod wrapper;

pub use error::{DlmsError, ALL_CODES};
pub use obis::{Obis, ObisRow, RowValue};
