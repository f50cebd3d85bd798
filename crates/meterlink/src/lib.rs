//! meterlink: decode, decrypt, verify and build smart-meter telegrams, in plain Rust.
//!
//! This is the core crate of meterlink: it depends on std and RustCrypto only. Bulk decoding
//! into Arrow lives in `meterlink-arrow`, the Python bindings in `meterlink-python`.
//!
//! Protocol families, each over the shared leaf modules:
//! - [`mbus`]: wired M-Bus (EN 13757-2), wireless M-Bus (EN 13757-4), the EN 13757-7 transport
//!   and security services (ELL, AFL, TPL, security modes) and the EN 13757-3 application layer
//! - [`dsmr`]: DSMR P2 (mode 15 now; commands, key exchange, installation later)
//! - [`crypto`]: the shared primitives (AES, CBC, CTR, CMAC, GMAC, AEAD, DES, KDF-A, key wrap)
//! - [`address`]: the meter address (manufacturer, ID, version, device type) every family uses
//! - [`keys`]: key material and key stores, shared by every family
//! - [`hex`]: the one hex parser
//! - [`error`]: the one error type, with stable codes
//!
//! ```
//! use meterlink::{decode, DecodeOptions};
//! let frame = meterlink::hex::parse_hex(
//!     "68 20 20 68 08 FD 72 78563412 9315 33 03 2A 00 0000 0C14 27048502 046D 32371F15 02FD17 0000 89 16",
//! ).unwrap();
//! let tg = decode(&frame, &DecodeOptions::default()).unwrap();
//! assert_eq!(tg.address.unwrap().id_string(), "12345678");
//! assert_eq!(tg.records.len(), 3);
//! ```

#![warn(missing_docs)]

pub mod address;
pub mod civil;
pub mod crypto;
pub mod dlms;
pub mod dsmr;
pub mod error;
pub mod error_class;
pub mod hex;
pub mod keys;
pub mod mbus;
pub mod replay;

#[cfg(test)]
mod test_vectors;

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExample;

pub use error::Error;
pub use mbus::decode::{decode, decode_full, decode_into, decode_reassembled, decode_with_keys, DecodeOptions, LinkMode, Telegram};
